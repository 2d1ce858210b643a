"""The primitives' forwards and VJPs that are more than one expression (the table in
``primitives.py`` holds the one-liners, and says what ``xp``, ``g``, ``out`` and the inputs
are). Written once for every backend: ``xp`` is the backend's array namespace."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_lstm.cotangents import Product, SliceGrad
from tinygrad_lstm.primitive_rules import _sympy, _whole

# --- forwards that are more than one expression ----------------------------------------------

def _sigmoid(xp: Any, x: Any) -> Any:
    e = xp.exp(-xp.abs(x))  # in (0, 1]: exp never overflows, whatever the sign of x
    r = 1 / (1 + e)
    return xp.where(x >= 0, r, e * r)  # e * r = e^x / (1 + e^x) for x < 0


def _log_softmax(xp: Any, x: Any, axis: int | None = -1) -> Any:
    # axis None: a 0-d x (its only entry is the whole axis); an empty x has nothing to shift
    if x.size == 0:
        return x.copy()
    shifted = x - x.max(axis=axis, keepdims=True)  # largest entry 0: exp cannot overflow
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


# --- VJPs that are more than one expression --------------------------------------------------

def _sigmoid_vjp(xp: Any, g: Any, out: Any, x: Any) -> tuple[Any]:
    d = out * out  # σ' = σ (1 - σ) = σ - σ², built in one fresh array
    if not d.shape:  # 0-d: NumPy gives an immutable scalar, nothing to write into
        return (g * (out - d),)
    xp.subtract(out, d, out=d)
    d *= g
    return (d,)


def _tanh_vjp(xp: Any, g: Any, out: Any, x: Any) -> tuple[Any]:
    d = out * out  # tanh' = 1 - tanh², built in one fresh array
    if not d.shape:  # 0-d: NumPy gives an immutable scalar, nothing to write into
        return (g * (1 - d),)
    xp.subtract(1, d, out=d)
    d *= g
    return (d,)


def _matmul(xp: Any, a: Any, b: Any) -> Any:
    # For matrices, dot hands transposed (F-ordered) operands to BLAS as they are; NumPy's
    # matmul runs them two to three times slower. The VJPs below multiply by transposes.
    if a.ndim == 2 and b.ndim == 2:
        return xp.dot(a, b)
    return xp.matmul(a, b)


def _matmul_vjp(xp: Any, g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    if a.ndim == 2 and b.ndim == 2:  # out = a b  =>  da = g b^T, db = a^T g (deferred)
        return Product(g, b.T), Product(a.T, g)
    if a.ndim == 1 and b.ndim == 1:  # an inner product
        return g * b, g * a
    # 1-D operands are promoted to matrices as matmul does: a (K,) -> (1, K), b (K,) -> (K, 1).
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = g
    if a.ndim == 1:
        g2 = xp.expand_dims(g2, -2)
    if b.ndim == 1:
        g2 = xp.expand_dims(g2, -1)
    ga = _matmul(xp, g2, xp.swapaxes(b2, -1, -2))  # out = a @ b  =>  da = g b^T
    gb = _matmul(xp, xp.swapaxes(a2, -1, -2), g2)  # db = a^T g
    if a.ndim == 1:
        ga = ga[..., 0, :]
    if b.ndim == 1:
        gb = gb[..., 0]
    return ga, gb  # leading (batch) dims that were broadcast are summed by the tape


def _addmm(xp: Any, c: Any, a: Any, b: Any, index: Any = (), bt: Any = None) -> Any:
    out = _matmul(xp, a, b)
    part = c[index]
    if part.dtype == out.dtype and part.shape == out.shape[out.ndim - part.ndim:] \
            and out.shape:  # a 0-d product is an immutable NumPy scalar
        out += part  # the product is fresh: add into it (a GEMM with beta = 1)
        return out
    return out + part


def _addmm_vjp(xp: Any, g: Any, out: Any, c: Any, a: Any, b: Any, index: Any = (),
               bt: Any = None) -> tuple[Any, Any, Any]:
    # index () is all of c, which may broadcast (a bias): the tape sums g back to its shape.
    # Otherwise c[index] has the product's shape (checked by tensor.addmm): a slice of c.
    gc = g if index == () else SliceGrad(index, g)
    if bt is not None:  # b^T in C order, given by the caller: BLAS multiplies it faster
        return gc, Product(g, bt), Product(a.T, g)
    return (gc, *_matmul_vjp(xp, g, out, a, b))


def _addmm_split(xp: Any, c: Any, a: Any, b: Any, index: Any = (), bt: Any = None,
                 sizes: tuple[int, ...] = ()) -> tuple[Any, ...]:
    out = _addmm(xp, c, a, b, index)
    return _split(xp, out, sizes, out.ndim - 1)


def _addmm_split_vjp(xp: Any, gs: tuple[Any, ...], outs: tuple[Any, ...], c: Any, a: Any,
                     b: Any, index: Any = (), bt: Any = None,
                     sizes: tuple[int, ...] = ()) -> tuple[Any, Any, Any]:
    (g,) = _split_vjp(xp, gs, outs, None, sizes, outs[0].ndim - 1)
    return _addmm_vjp(xp, g, None, c, a, b, index, bt)


def _transpose_vjp(xp: Any, g: Any, out: Any, x: Any, axes: Any = None) -> tuple[Any]:
    if axes is None:
        return (xp.transpose(g),)
    return (xp.transpose(g, tuple(np.argsort(axes))),)


def _concat_vjp(xp: Any, g: Any, out: Any, *xs: Any, axis: int = 0) -> tuple[Any, ...]:
    grads, start = [], 0
    index = [slice(None)] * g.ndim
    for x in xs:
        index[axis] = slice(start, start + x.shape[axis])
        grads.append(g[tuple(index)])
        start += x.shape[axis]
    return tuple(grads)


def _stack_vjp(xp: Any, g: Any, out: Any, *xs: Any, axis: int = 0) -> tuple[Any, ...]:
    lead = (slice(None),) * axis
    return tuple(g[lead + (k,)] for k in range(len(xs)))


_SPLIT_INDEX: dict[tuple[tuple[int, ...], int], list[tuple[slice, ...]]] = {}


def _split(xp: Any, x: Any, sizes: tuple[int, ...] = (), axis: int = 0) -> tuple[Any, ...]:
    index = _SPLIT_INDEX.get((sizes, axis))
    if index is None:  # the pieces' indices, made once per (sizes, axis): it runs every step
        lead, index, start = (slice(None),) * axis, [], 0
        for n in sizes:
            index.append((*lead, slice(start, start + n)))
            start += n
        if len(_SPLIT_INDEX) < 1024:
            _SPLIT_INDEX[(sizes, axis)] = index
    return tuple([x[i] for i in index])


def _split_vjp(xp: Any, gs: tuple[Any, ...], outs: tuple[Any, ...], x: Any,
               sizes: tuple[int, ...] = (), axis: int = 0) -> tuple[Any]:
    # one concatenation for all the pieces; a piece no gradient reached contributes zeros
    return (xp.concatenate([xp.zeros_like(o) if g is None else g
                            for g, o in zip(gs, outs, strict=True)], axis=axis),)


def _sym_split(x: Any, sizes: tuple[int, ...] = (), axis: int = 0) -> tuple[Any, ...]:
    if _whole(x):  # the pieces of a whole vector: layout, each written as the whole
        return tuple(x for _ in sizes)
    return tuple(np.split(np.asarray(x, dtype=object), np.cumsum(sizes)[:-1], axis=axis))


def _getitem_vjp(xp: Any, g: Any, out: Any, x: Any, index: Any = ()) -> tuple[Any]:
    # basic indexing only (checked by Tensor.__getitem__): no entry is selected twice
    return (SliceGrad(index, g),)


def _restore_axes(xp: Any, g: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """Give a reduced gradient back the reduced axes as size 1, ready to broadcast against x."""
    if keepdims or axis is None and g.ndim == x.ndim:
        return g
    if axis is None:
        return g.reshape((1,) * x.ndim)
    return xp.expand_dims(g, axis)


def _sum_vjp(xp: Any, g: Any, out: Any, x: Any, axis: Any = None,
             keepdims: bool = False) -> tuple[Any]:
    return (xp.broadcast_to(_restore_axes(xp, g, x, axis, keepdims), x.shape),)


def _count(x: Any, axis: Any) -> int:
    """How many entries of ``x`` each result of a reduction over ``axis`` gathers."""
    if axis is None:
        return int(x.size)
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([x.shape[a] for a in axes], dtype=np.int64))


def _mean(xp: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    if _count(x, axis) == 0:  # the mean of nothing is nan, as in PyTorch (and no warning)
        return x.sum(axis=axis, keepdims=keepdims) * np.nan
    return x.mean(axis=axis, keepdims=keepdims)


def _mean_vjp(xp: Any, g: Any, out: Any, x: Any, axis: Any = None,
              keepdims: bool = False) -> tuple[Any]:
    count = max(_count(x, axis), 1)  # 0 only for an empty x: its gradient is empty too
    return (xp.broadcast_to(_restore_axes(xp, g, x, axis, keepdims) / count, x.shape),)


def _max_vjp(xp: Any, g: Any, out: Any, x: Any, axis: Any = None,
             keepdims: bool = False) -> tuple[Any]:
    # The gradient goes to the entries equal to the maximum, shared evenly among ties; where
    # the maximum is nan, to the nan entries (PyTorch's max(): NaN propagates, so they are it).
    top = _restore_axes(xp, out, x, axis, keepdims)
    hit = (x == top) | (xp.isnan(x) & xp.isnan(top))
    ties = hit.sum(axis=axis, keepdims=True)
    share = _restore_axes(xp, g, x, axis, keepdims) / xp.maximum(ties, 1).astype(x.dtype)
    return (xp.where(hit, share, 0),)


def _log_softmax_vjp(xp: Any, g: Any, out: Any, x: Any, axis: int = -1) -> tuple[Any]:
    return (g - xp.exp(out) * g.sum(axis=axis, keepdims=True),)  # exp(out) = softmax(x)


def _maximum_vjp(xp: Any, g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    # Selected, never multiplied by a mask (an inf g times a 0 mask would be nan). Ties split
    # the gradient in half; where a or b is nan both get all of it; as PyTorch does.
    shared = xp.where(a == b, 0.5 * g, g)
    return xp.where(a < b, 0, shared), xp.where(b < a, 0, shared)


def _pow(xp: Any, x: Any, exponent: float) -> Any:
    # 1/2 and -1/2 by sqrt, as PyTorch does: the sign of zero survives (sqrt(-0) = -0, and
    # the VJP of sqrt at -0 is -inf), where C's pow gives +0 and +inf.
    if exponent == 0.5:
        return xp.sqrt(x)
    if exponent == -0.5:
        return 1 / xp.sqrt(x)
    return x ** exponent


def _pow_vjp(xp: Any, g: Any, out: Any, x: Any, exponent: float = 1.0) -> tuple[Any]:
    if exponent == 0:  # x^0 = 1 is constant: 0 even at x = 0, inf, nan (not 0 * 0^-1 = nan)
        return (xp.zeros_like(x),)
    return (g * (exponent * _pow(xp, x, exponent - 1)),)


def _relu_vjp(xp: Any, g: Any, out: Any, x: Any) -> tuple[Any]:
    # select, not g * (out > 0): an inf g must give 0 where x < 0; a nan x passes g on
    return (xp.where(out <= 0, 0, g),)


def _where_vjp(xp: Any, g: Any, out: Any, a: Any, b: Any, cond: Any = None) -> tuple[Any, Any]:
    return xp.where(cond, g, 0), xp.where(cond, 0, g)



# --- indexing by integer arrays (embedding, index_select, gather) ----------------------------

def _gather_index(xp: Any, indices: Any, axis: int) -> tuple[Any, ...]:
    """The fancy index of PyTorch's gather: ``indices`` along ``axis``, and along every other
    dim d the position itself (an ``arange`` shaped to broadcast), so entry k of the result is
    ``x[k_0, ..., indices[k], ..., k_{n-1}]``."""
    index = []
    for d, n in enumerate(indices.shape):
        if d == axis:
            index.append(indices)
        else:
            shape = [1] * indices.ndim
            shape[d] = n
            index.append(xp.arange(n).reshape(shape))
    return tuple(index)


def _sym_take(x: Any, indices: Any = None, axis: int = 0, padding_idx: Any = None) -> Any:
    if not isinstance(x, np.ndarray):  # one SymPy symbol for a whole matrix: the lookup, named
        return _sympy().Function("take")(x)
    return np.take(x, indices, axis=axis)


def _sym_gather(x: Any, indices: Any = None, axis: int = 0) -> Any:
    if not isinstance(x, np.ndarray):
        return _sympy().Function("gather")(x)
    return x[_gather_index(np, indices, axis)]


def _take_vjp(xp: Any, g: Any, out: Any, x: Any, indices: Any = None, axis: int = 0,
              padding_idx: Any = None) -> tuple[Any]:
    # out = take(x, indices, axis) reads a slice of x once per time its index appears, so that
    # slice's gradient is the sum of those g: a scatter-add (repeated indices accumulate).
    if padding_idx is not None:  # PyTorch's Embedding: the padding row receives no gradient
        hit = (indices == padding_idx).reshape(
            (1,) * axis + indices.shape + (1,) * (x.ndim - axis - 1))
        g = xp.where(hit, 0, g)
    gx = xp.zeros_like(x)
    xp.add.at(gx, (slice(None),) * axis + (indices,), g)
    return (gx,)


def _gather_vjp(xp: Any, g: Any, out: Any, x: Any, indices: Any = None,
                axis: int = 0) -> tuple[Any]:
    gx = xp.zeros_like(x)  # the transpose of a gather is a scatter-add, as for take
    xp.add.at(gx, _gather_index(xp, indices, axis), g)
    return (gx,)


