"""A private module (dh_pycompile_repro /usr/share/reprotool)."""
NAMES = {"a", "b", "(", "_"}
