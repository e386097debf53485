# SPDX-License-Identifier: MIT
"""pycompile_repro_precompiler: pycompile-repro-bazel as rules_python's
precompiler.

rules_python runs the `precompiler` of its exec tools toolchain
(`py_exec_tools_toolchain`) once per source in a `PyCompile` action, and
takes the action's execution requirements from the target's
`testing.ExecutionInfo` provider.  This rule gives both: an executable that
runs pycompile-repro-bazel (installed on every machine that runs the
actions), and the requirements that make Bazel run it as a persistent,
multiplexed, sandbox-aware, cancellable JSON worker.
"""

# Where `make install` put the program, and its version (both rewritten
# at install time).
DEFAULT_PATH = "/usr/bin/pycompile-repro-bazel"
DEFAULT_STAMP = "pycompile-repro 0.2.0"

# What rules_python's own precompiler asks for, too.
EXECUTION_REQUIREMENTS = {
    "supports-workers": "1",
    "supports-multiplex-workers": "1",
    "requires-worker-protocol": "json",
    "supports-multiplex-sandboxing": "1",
    "supports-worker-cancellation": "1",
}

def _impl(ctx):
    path = ctx.attr.path
    if not path.startswith("/"):
        fail("path must be absolute (actions have no PATH): %r" % path)
    if "\n" in ctx.attr.stamp:
        fail("stamp must be one line")

    # The program lives outside the workspace, so it is not an input of
    # the actions: this script is, and its stamp line stands for the
    # program in the actions' cache keys.
    exe = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.write(
        output = exe,
        content = "#!/bin/sh\n# %s\nexec '%s' \"$@\"\n" % (
            ctx.attr.stamp,
            path.replace("'", "'\\''"),
        ),
        is_executable = True,
    )
    requirements = dict(EXECUTION_REQUIREMENTS) if ctx.attr.worker else {}
    requirements.update(ctx.attr.execution_requirements)
    return [
        DefaultInfo(
            executable = exe,
            files = depset([exe]),
            runfiles = ctx.runfiles(files = [exe]),
        ),
        testing.ExecutionInfo(requirements = requirements),
    ]

pycompile_repro_precompiler = rule(
    implementation = _impl,
    executable = True,
    doc = """pycompile-repro-bazel as the precompiler of rules_python's
`py_exec_tools_toolchain(precompiler = ...)`.  Each .pyc is byte for byte
what `pycompile-repro` writes for the same source, level and invalidation
mode, whatever else the worker compiled before.""",
    attrs = {
        "execution_requirements": attr.string_dict(
            doc = "Added to (or overriding) the worker requirements.",
        ),
        "path": attr.string(
            default = DEFAULT_PATH,
            doc = "Absolute path of pycompile-repro-bazel on the " +
                  "machines that run the actions.",
        ),
        "stamp": attr.string(
            default = DEFAULT_STAMP,
            doc = "A line that stands for the program in the cache keys " +
                  "of the PyCompile actions: change it when the program " +
                  "or its CPython versions change and cached .pyc must " +
                  "not be reused (e.g. the output of " +
                  "`pycompile-repro-bazel --version`).",
        ),
        "worker": attr.bool(
            default = True,
            doc = "Ask for a persistent worker (False: one process per " +
                  "action).",
        ),
    },
)
