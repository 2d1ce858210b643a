"""The project's exception types. Each is a subclass of the built-in a user would expect."""

from __future__ import annotations

from backends.base import BackendUnavailable

__all__ = [
    "BackendMismatchError", "BackendUnavailable", "DataDependentError", "DTypeError",
    "GradcheckError", "GraphFreedError", "ShapeError",
]


class ShapeError(ValueError):
    """An operation got shapes it cannot combine; the message names the op and the shapes."""


class DTypeError(TypeError):
    """A dtype the operation does not accept; the message names the op and the dtype."""


class BackendMismatchError(ValueError):
    """An operation mixed tensors living on two backends; the message names both."""


class GraphFreedError(RuntimeError):
    """backward() reached a part of the graph an earlier backward() already freed."""


class GradcheckError(RuntimeError):
    """An analytic gradient disagrees with central differences; the message says where."""


class DataDependentError(RuntimeError):
    """A step read the values of a tensor that depends on its inputs or parameters
    (``numpy()``, ``item()``, ``float()``, ``tolist()``, printing it) while it was traced into
    equations: what it does depends on its data, so no one graph stands for it (the compiler
    then keeps the tape path, which runs it on the real values). Constants may be read."""
