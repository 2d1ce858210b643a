"""A strict array backend for the tests: NumPy's values behind a wall, as CuPy's are.

``StrictArray`` wraps an ndarray and refuses every implicit conversion to NumPy: ``__array__``
raises, NumPy functions and ufuncs called on it raise (``__array_function__`` and
``__array_ufunc__``), and it is not an ``np.ndarray``. Only its own namespace (``StrictBackend.xp``:
NumPy's functions, unwrapping and re-wrapping) and ``StrictBackend.to_numpy`` reach the values.
Reductions give 0-d arrays, never NumPy scalars, as CuPy's do. So engine code that calls ``np.``
on a backend array, tests ``isinstance(x, np.ndarray)`` or converts implicitly fails here, on
the CPU, instead of on a user's GPU.

Registered as backend ``strict`` by ``conftest.py``; ``test_strict_backend.py`` runs the core of
the engine on it (tape, primitives, cells, optimisers, a short training).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from backends.base import Backend


class StrictConversionError(TypeError):
    """A backend array was handed to NumPy (the engine should have asked its backend)."""


def _unwrap(obj: Any) -> Any:
    if isinstance(obj, StrictArray):
        return obj._a
    if isinstance(obj, list | tuple):
        return type(obj)(_unwrap(o) for o in obj)
    return obj


def _wrap(obj: Any) -> Any:
    if isinstance(obj, np.ndarray | np.generic):
        return StrictArray(np.asarray(obj))
    if isinstance(obj, tuple):
        return tuple(_wrap(o) for o in obj)
    if isinstance(obj, list):
        return [_wrap(o) for o in obj]
    return obj


def _call(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    out = kwargs.get("out")
    result = fn(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})
    if out is not None:  # written in place: hand back the caller's array, as NumPy does
        return out
    return _wrap(result)


class _Function:
    """A NumPy function (or ufunc, with its methods ``at``, ``reduce``) on strict arrays."""

    def __init__(self, fn: Any) -> None:
        self._fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._fn, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._fn, name)
        return _Function(attr) if callable(attr) else attr


class _Namespace:
    """NumPy's namespace, taking and giving strict arrays (the backend's ``xp``)."""

    ndarray: type
    __name__ = "strict"

    def __getattr__(self, name: str) -> Any:
        attr = getattr(np, name)
        if isinstance(attr, type) or not callable(attr):  # dtypes, constants: as they are
            return attr
        return _Function(attr)

    @property
    def random(self) -> Any:
        return _Generators()


class _Generators:
    def default_rng(self, seed: Any = None) -> Any:
        return _Function(np.random.default_rng(seed))


_BINARY = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
           "xor", "lt", "le", "gt", "ge", "eq", "ne")


class StrictArray:
    """An ndarray that NumPy may not see into (see the module's docstring)."""

    __slots__ = ("_a",)
    __array_ufunc__ = None  # np.exp(x), ndarray + x: refused (the reflected operator runs)
    __hash__ = None  # type: ignore[assignment]  # as ndarray: elementwise ==, not hashable

    def __init__(self, a: np.ndarray) -> None:
        self._a = a

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise StrictConversionError(
            "strict backend: implicit conversion to a NumPy array is not allowed; use "
            "the backend's to_numpy()")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        raise StrictConversionError(
            f"strict backend: numpy.{func.__name__} called on a backend array; use the "
            "backend's xp namespace")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # __array_interface__ and the like: NumPy's back doors
            raise AttributeError(name)
        attr = getattr(self._a, name)
        return _Function(attr) if callable(attr) else _wrap(attr)

    # the protocol Python does not route through __getattr__
    def __getitem__(self, index: Any) -> Any:
        return _wrap(self._a[_unwrap(index)])

    def __setitem__(self, index: Any, value: Any) -> None:
        self._a[_unwrap(index)] = _unwrap(value)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        return (_wrap(row) for row in self._a)

    def __bool__(self) -> bool:
        return bool(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __index__(self) -> int:
        return operator.index(self._a)

    def __neg__(self) -> StrictArray:
        return StrictArray(-self._a)

    def __pos__(self) -> StrictArray:
        return self

    def __abs__(self) -> StrictArray:
        return StrictArray(abs(self._a))

    def __invert__(self) -> StrictArray:
        return StrictArray(~self._a)

    def __repr__(self) -> str:
        return f"StrictArray({self._a!r})"


def _binary(name: str) -> Any:
    op = getattr(operator, f"__{name}__")

    def forward(self: StrictArray, other: Any) -> Any:
        return _wrap(op(self._a, _unwrap(other)))

    def reflected(self: StrictArray, other: Any) -> Any:
        return _wrap(op(_unwrap(other), self._a))

    def inplace(self: StrictArray, other: Any) -> StrictArray:
        getattr(operator, f"__i{name}__")(self._a, _unwrap(other))
        return self

    return forward, reflected, inplace


for _name in _BINARY:  # the arithmetic operators, each in its three forms
    _fwd, _refl, _inpl = _binary(_name)
    setattr(StrictArray, f"__{_name}__", _fwd)
    if _name not in ("lt", "le", "gt", "ge", "eq", "ne"):
        setattr(StrictArray, f"__r{_name}__", _refl)
        setattr(StrictArray, f"__i{_name}__", _inpl)

_Namespace.ndarray = StrictArray


class StrictBackend(Backend):
    """NumPy's values behind ``StrictArray``: the engine must go through this backend."""

    name = "strict"
    xp: Any = _Namespace()
    kernels: dict[str, Any] = {}

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        if isinstance(data, StrictArray):
            return data if dtype is None else data.astype(dtype)
        return StrictArray(np.asarray(data, dtype=dtype))

    def to_numpy(self, array: Any) -> np.ndarray:
        if isinstance(array, StrictArray):
            return array._a.copy()
        return np.asarray(array)

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, StrictArray)
