"""The primitives' symbolic rules that are more than one expression (the table in
``primitives.py`` holds the rest). Each takes SymPy expressions (object arrays of SymPy
scalars, or a plain scalar) and returns the same kind; see ``primitives.py`` for the
conventions. SymPy is imported on first use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _sympy() -> Any:
    import sympy

    return sympy


def _elementwise(fn: Callable[..., Any], *xs: Any) -> Any:
    """Apply a scalar SymPy function entry by entry, with NumPy broadcasting."""
    if not any(isinstance(x, np.ndarray) for x in xs):
        return fn(*xs)
    return np.frompyfunc(fn, len(xs), 1)(*xs)


def _functions() -> Any:
    from tinygrad_lstm.symbolic import functions

    return functions


def _whole(*xs: Any) -> bool:
    """No input is an object array: SymPy scalars standing for whole vectors or matrices."""
    return not any(isinstance(x, np.ndarray) for x in xs)


def _sym_sigmoid(x: Any) -> Any:
    return _elementwise(_functions().sigmoid, x)


def _sym_relu(x: Any) -> Any:
    return _elementwise(lambda v: _sympy().Max(v, 0), x)


def _sym_max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    if _whole(x):
        return _functions().reduction(_functions().MAX, x)
    arr = np.asarray(x, dtype=object)
    top = np.frompyfunc(lambda a, b: _sympy().Max(a, b), 2, 1)
    axes = range(arr.ndim) if axis is None else np.atleast_1d(axis)
    out = arr
    for ax in sorted((a % arr.ndim for a in axes), reverse=True):
        out = top.reduce(out, axis=ax, keepdims=keepdims)
    return out


def _sym_log_softmax(x: Any, axis: int = -1) -> Any:
    # log softmax(x) = x - log(sum(exp(x))); the shift by max(x) is numerics, not mathematics.
    sp = _sympy()
    if _whole(x):
        return x - sp.log(_functions().reduction(_functions().SUM, sp.exp(x)))
    total = _elementwise(sp.exp, x).sum(axis=axis, keepdims=True)
    return x - _elementwise(sp.log, total)


def _sym_reduce(name: str, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    if _whole(x):
        return _functions().reduction(_sympy().Symbol(name), x)
    return getattr(np, name)(x, axis=axis, keepdims=keepdims)


def _sym_matmul(a: Any, b: Any) -> Any:
    return _functions().matmul(a, b) if _whole(a, b) else a @ b


def _sym_addmm(c: Any, a: Any, b: Any, index: Any = (), bt: Any = None) -> Any:
    part = np.asarray(c)[index] if isinstance(c, np.ndarray) else c  # a slice is layout
    return part + _sym_matmul(a, b)


def _sym_join(stacked: bool, *xs: Any, axis: int = 0) -> Any:
    if _whole(*xs):
        return _functions().concatenation(_sympy().true if stacked else _sympy().false, *xs)
    return (np.stack if stacked else np.concatenate)(xs, axis=axis)


def _sym_layout(x: Any, index: Any = (), shape: Any = None) -> Any:
    """reshape (``shape``) or basic indexing (``index``); for a whole vector, layout only."""
    if _whole(x):
        return x
    return np.reshape(x, shape) if shape is not None else x[index]


def _sym_maximum(a: Any, b: Any) -> Any:
    return _elementwise(lambda u, v: _sympy().Max(u, v), a, b)


def _sym_where(a: Any, b: Any, cond: Any) -> Any:
    if _whole(a, b, cond):  # cond a SymPy condition: the printer's mask m_t, a compiler input
        return _sympy().Piecewise((a, cond), (b, True))
    return np.where(np.asarray(cond, dtype=bool), a, b)

