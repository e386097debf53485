# SPDX-License-Identifier: MIT
"""pycompile_repro_precompiler: pycompile-repro-bazel as rules_python's
precompiler.

rules_python runs the `precompiler` of its exec tools toolchain
(`py_exec_tools_toolchain`) once per source in a `PyCompile` action, and
takes the action's execution requirements from the target's
`testing.ExecutionInfo` provider.  This rule gives both: an executable that
runs pycompile-repro-bazel (installed on the machines that run the
actions), and the requirements that make Bazel run it as a persistent,
multiplexed, sandbox-aware, cancellable JSON worker.
"""

# Where `make install` put the program (rewritten at install time).
DEFAULT_PATH = "/usr/bin/pycompile-repro-bazel"

# What rules_python's own precompiler asks for, too.
EXECUTION_REQUIREMENTS = {
    "supports-workers": "1",
    "supports-multiplex-workers": "1",
    "requires-worker-protocol": "json",
    "supports-multiplex-sandboxing": "1",
    "supports-worker-cancellation": "1",
}

def _impl(ctx):
    exe = ctx.actions.declare_file(ctx.label.name)
    runfiles = ctx.runfiles(files = [exe])
    if ctx.attr.binary:
        binary = ctx.executable.binary
        ctx.actions.symlink(output = exe, target_file = binary, is_executable = True)
        runfiles = runfiles.merge(ctx.attr.binary[DefaultInfo].default_runfiles)
    else:
        # The program lives outside the workspace: a two-line script runs
        # it (actions have no PATH, so the path is absolute).
        if not ctx.attr.path.startswith("/"):
            fail("path must be absolute: %r" % ctx.attr.path)
        ctx.actions.write(
            output = exe,
            content = "#!/bin/sh\nexec '%s' \"$@\"\n" % ctx.attr.path.replace("'", "'\\''"),
            is_executable = True,
        )
    requirements = dict(EXECUTION_REQUIREMENTS)
    if not ctx.attr.worker:
        requirements = {}
    requirements.update(ctx.attr.execution_requirements)
    return [
        DefaultInfo(executable = exe, files = depset([exe]), runfiles = runfiles),
        testing.ExecutionInfo(requirements = requirements),
    ]

pycompile_repro_precompiler = rule(
    implementation = _impl,
    executable = True,
    doc = """pycompile-repro-bazel as a precompiler for rules_python's
`py_exec_tools_toolchain(precompiler = ...)`.  Each .pyc is byte for byte
what `pycompile-repro` writes for the same source, level and invalidation
mode, whatever else the worker compiled before.""",
    attrs = {
        "binary": attr.label(
            executable = True,
            cfg = "exec",
            allow_files = True,
            doc = "The program as a target (built or vendored in the " +
                  "workspace); overrides `path`.",
        ),
        "execution_requirements": attr.string_dict(
            doc = "Added to (or overriding) the worker requirements.",
        ),
        "path": attr.string(
            default = DEFAULT_PATH,
            doc = "Absolute path of an installed pycompile-repro-bazel.",
        ),
        "worker": attr.bool(
            default = True,
            doc = "Ask for a persistent worker (False: one process per " +
                  "action).",
        ),
    },
)
