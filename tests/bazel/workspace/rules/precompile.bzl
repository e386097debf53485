# SPDX-License-Identifier: MIT
"""rules_python's precompile step, reduced to what the test needs.

`py_precompiled` issues one `PyCompile` action per source exactly as
rules_python 1.x does (python/private/precompile.bzl): the precompiler
comes from an exec tools toolchain, its execution requirements from the
target's `testing.ExecutionInfo`, the request arguments always go through
a multiline @param file, the environment is PYTHONHASHSEED=0,
PYTHONNOUSERSITE=1, PYTHONSAFEPATH=1, and the output is
`__pycache__/STEM.TAG.pyc` beside the source.  rules_python itself is not
in Debian with precompiling, so the test plugs pycompile-repro's
precompiler into this the way a rules_python user plugs it into
`py_exec_tools_toolchain`.
"""

ExecToolsInfo = provider(fields = ["precompiler"])

def _toolchain_impl(ctx):
    return [platform_common.ToolchainInfo(
        exec_tools = ExecToolsInfo(precompiler = ctx.attr.precompiler),
    )]

py_exec_tools_toolchain = rule(
    implementation = _toolchain_impl,
    attrs = {"precompiler": attr.label(allow_files = True, cfg = "exec")},
)

_TOOLCHAIN = "//rules:exec_tools_toolchain_type"

def _precompile(ctx, src):
    precompiler = ctx.toolchains[_TOOLCHAIN].exec_tools.precompiler
    stem = src.basename[:-(len(src.extension) + 1)]
    pyc = ctx.actions.declare_file(
        "__pycache__/{}.{}.pyc".format(stem, ctx.attr.pyc_tag),
        sibling = src,
    )
    requirements = {}
    if testing.ExecutionInfo in precompiler:
        requirements.update(precompiler[testing.ExecutionInfo].requirements)
    startup_args = ctx.actions.args()
    request_args = ctx.actions.args()
    request_args.use_param_file("@%s", use_always = True)
    request_args.set_param_file_format("multiline")
    request_args.add("--invalidation_mode", ctx.attr.invalidation_mode)
    request_args.add("--src", src)
    request_args.add("--src_name", src.short_path)
    request_args.add("--pyc", pyc)
    request_args.add("--optimize", ctx.attr.optimize)
    request_args.add("--python_version", ctx.attr.python_version)
    ctx.actions.run(
        executable = precompiler[DefaultInfo].files_to_run,
        arguments = [startup_args, request_args],
        inputs = [src],
        outputs = [pyc],
        mnemonic = "PyCompile",
        progress_message = "Python precompiling %{input} into %{output}",
        env = {
            "PYTHONHASHSEED": "0",
            "PYTHONNOUSERSITE": "1",
            "PYTHONSAFEPATH": "1",
        },
        execution_requirements = requirements,
        toolchain = _TOOLCHAIN,
    )
    return pyc

def _impl(ctx):
    pycs = [_precompile(ctx, src) for src in ctx.files.srcs]
    return [DefaultInfo(files = depset(pycs))]

py_precompiled = rule(
    implementation = _impl,
    attrs = {
        "invalidation_mode": attr.string(default = "checked_hash"),
        "optimize": attr.int(default = 0),
        "pyc_tag": attr.string(mandatory = True),
        "python_version": attr.string(mandatory = True),
        "srcs": attr.label_list(allow_files = [".py"]),
    },
    toolchains = [_TOOLCHAIN],
)
