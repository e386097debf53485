"""A tiny package whose bytecode plain CPython does not keep stable."""
from .consts import SEPARATORS, join

__all__ = ["SEPARATORS", "join"]
