# SPDX-License-Identifier: MIT
"""bazel_tools asks for this extension's repository (for bazel mod
tidy); offline, an empty one will do."""

def _repo_impl(rctx):
    rctx.file("BUILD.bazel", "")

_repo = repository_rule(implementation = _repo_impl)

def _impl(mctx):
    _repo(name = "buildozer_binary")

buildozer_binary = module_extension(implementation = _impl)
