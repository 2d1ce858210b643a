"""The primitive table: every differentiable operation, one record each.

Vocabulary, used the same way in every record:

    xp      the backend's array namespace (``numpy`` or ``cupy``); primitives never import either
    g       the incoming gradient d(loss)/d(out), shaped like ``out``
    out     the primitive's result, as ``forward`` returned it
    x, a, b the inputs (backend arrays), in order; ``params`` are keyword-only constants

A record holds, side by side:

    forward(xp, *inputs, **params) -> out
    vjp(xp, g, out, *inputs, **params) -> one gradient per input (None: nothing flows there)
    symbolic(*inputs, **params) -> the output as SymPy

VJPs may return a gradient in the broadcast shape of ``out``: the tape sums it back to the
input's shape (``cotangents.unbroadcast``), in one place, for every edge. getitem and
matmul return their gradients in lazy forms (``cotangents.SliceGrad``, ``Product``) that add
themselves up cheaply; ``cotangents.py`` says how. VJPs are
written from ``out`` where the math allows (tanh: ``g * (1 - out**2)``).

Symbolic rules take SymPy expressions and return the same kind: either NumPy object arrays of
SymPy scalars (entry by entry, with NumPy's exact shape semantics; ``tests/test_primitives``
checks each rule so by ``sympy.lambdify`` against ``forward``), or plain SymPy scalars. A plain
scalar is one entry for an elementwise primitive (the cell compiler derives its kernels so), and
a whole vector or matrix for the others (``tl.symbolic`` prints a step so: matmul, transpose,
the reductions and concatenations then return ``tinygrad_lstm.symbolic.functions``' vector-level
forms, and layout (reshape, getitem, split, astype) is invisible). These rules are the only
ones: the printer, the Jacobians and the compiler all evaluate them. SymPy is imported lazily,
on first use of a rule, so importing the engine stays fast.

Adding a primitive: add a record to ``PRIMITIVES`` (and a ``Tensor`` method that calls
``apply``), then a spec to ``tests/primitive_specs.py``; a test fails until both tables agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_lstm.cotangents import Product, SliceGrad


@dataclass(frozen=True)
class Primitive:
    """One differentiable operation: its forward, its VJP and its symbolic rule."""

    name: str
    arity: int | None  # number of array inputs; None for variadic (concat)
    forward: Callable[..., Any]
    vjp: Callable[..., tuple[Any, ...]]
    symbolic: Callable[..., Any]
    doc: str
    # True for a primitive with several outputs (split): ``forward`` returns a tuple of arrays,
    # ``vjp(xp, gs, outs, *inputs)`` takes a tuple of gradients (None for an output no gradient
    # reached) and the tuple of outputs, and ``symbolic`` returns a tuple
    multiple: bool = False

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


# --- symbolic helpers ------------------------------------------------------------------------

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


# --- the table -------------------------------------------------------------------------------

def _p(name: str, arity: int | None, forward: Callable[..., Any], vjp: Callable[..., Any],
       symbolic: Callable[..., Any], doc: str, multiple: bool = False) -> Primitive:
    return Primitive(name, arity, forward, vjp, symbolic, doc, multiple)


PRIMITIVES: dict[str, Primitive] = {p.name: p for p in [
    # elementwise, two inputs (broadcasting)
    _p("add", 2,
       lambda xp, a, b: a + b,
       lambda xp, g, out, a, b: (g, g),
       lambda a, b: a + b,
       "a + b"),
    _p("sub", 2,
       lambda xp, a, b: a - b,
       lambda xp, g, out, a, b: (g, -g),
       lambda a, b: a - b,
       "a - b"),
    _p("mul", 2,
       lambda xp, a, b: a * b,
       lambda xp, g, out, a, b: (g * b, g * a),
       lambda a, b: a * b,
       "elementwise (Hadamard) product a ⊙ b"),
    _p("div", 2,
       lambda xp, a, b: a / b,
       lambda xp, g, out, a, b: (g / b, -g * out / b),  # d(a/b)/db = -a/b^2 = -out/b
       lambda a, b: a / b,
       "a / b elementwise"),
    _p("maximum", 2,
       lambda xp, a, b: xp.maximum(a, b),
       _maximum_vjp,
       _sym_maximum,
       "elementwise max(a, b); ties share the gradient"),
    _p("where", 2,
       lambda xp, a, b, cond=None: xp.where(cond, a, b),
       _where_vjp,
       _sym_where,
       "a where cond else b; cond is a constant boolean array"),
    # elementwise, one input
    _p("neg", 1,
       lambda xp, x: -x,
       lambda xp, g, out, x: (-g,),
       lambda x: -x,
       "-x"),
    _p("pow", 1,
       lambda xp, x, exponent=1.0: _pow(xp, x, exponent),
       _pow_vjp,
       lambda x, exponent=1.0: x ** exponent,
       "x ** exponent for a constant exponent"),
    _p("exp", 1,
       lambda xp, x: xp.exp(x),
       lambda xp, g, out, x: (g * out,),
       lambda x: _elementwise(_sympy().exp, x),
       "e ** x"),
    _p("log", 1,
       lambda xp, x: xp.log(x),
       lambda xp, g, out, x: (g / x,),
       lambda x: _elementwise(_sympy().log, x),
       "natural logarithm"),
    _p("sigmoid", 1,
       _sigmoid,
       _sigmoid_vjp,
       _sym_sigmoid,
       "logistic σ(x) = 1 / (1 + e^-x), overflow-free"),
    _p("tanh", 1,
       lambda xp, x: xp.tanh(x),
       _tanh_vjp,
       lambda x: _elementwise(_sympy().tanh, x),
       "hyperbolic tangent"),
    _p("relu", 1,
       lambda xp, x: xp.maximum(x, 0),
       _relu_vjp,
       _sym_relu,
       "max(x, 0)"),
    _p("astype", 1,
       lambda xp, x, dtype=None: x.astype(dtype),
       lambda xp, g, out, x, dtype=None: (g.astype(x.dtype),),
       lambda x, dtype=None: x,
       "the same values in another float dtype (float32 <-> float64)"),
    # linear algebra and shape
    _p("matmul", 2,
       _matmul,
       _matmul_vjp,
       _sym_matmul,
       "matrix product; leading dims batch and broadcast"),
    _p("addmm", 3,
       _addmm,
       _addmm_vjp,
       _sym_addmm,
       "c[index] + a @ b: a matrix product added to (a slice of) c in one step; bt, when "
       "given, is b^T in C order (a constant the backward pass multiplies by)"),
    _p("addmm_split", 3,
       _addmm_split,
       _addmm_split_vjp,
       lambda c, a, b, index=(), bt=None, sizes=(): _sym_split(
           _sym_addmm(c, a, b, index), sizes, -1),
       "addmm cut along its last axis into pieces of the given sizes: one step's gates",
       multiple=True),
    _p("transpose", 1,
       lambda xp, x, axes=None: xp.transpose(x, axes),
       _transpose_vjp,
       lambda x, axes=None: _functions().transposed(x) if _whole(x) else np.transpose(x, axes),
       "permute axes (reverse them when axes is None)"),
    _p("reshape", 1,
       lambda xp, x, shape=(): x.reshape(shape),
       lambda xp, g, out, x, shape=(): (g.reshape(x.shape),),
       lambda x, shape=(): _sym_layout(x, shape=shape),
       "same entries, new shape (C order)"),
    _p("concat", None,
       lambda xp, *xs, axis=0: xp.concatenate(xs, axis=axis),
       _concat_vjp,
       lambda *xs, axis=0: _sym_join(False, *xs, axis=axis),
       "join along an existing axis: [h, x]"),
    _p("stack", None,
       lambda xp, *xs, axis=0: xp.stack(xs, axis=axis),
       _stack_vjp,
       lambda *xs, axis=0: _sym_join(True, *xs, axis=axis),
       "join same-shaped arrays along a new axis (a sequence of steps)"),
    _p("split", 1,
       _split,
       _split_vjp,
       _sym_split,
       "cut along an axis into pieces of given sizes: stacked gates into f, i, C, o",
       multiple=True),
    _p("getitem", 1,
       lambda xp, x, index=(): x[index],
       _getitem_vjp,
       lambda x, index=(): _sym_layout(x, index=index),
       "basic indexing: ints, slices, None, Ellipsis"),
    # reductions
    _p("sum", 1,
       lambda xp, x, axis=None, keepdims=False: x.sum(axis=axis, keepdims=keepdims),
       _sum_vjp,
       lambda x, axis=None, keepdims=False: _sym_reduce("sum", x, axis, keepdims),
       "sum over axes"),
    _p("mean", 1,
       _mean,
       _mean_vjp,
       lambda x, axis=None, keepdims=False: _sym_reduce("mean", x, axis, keepdims),
       "mean over axes"),
    _p("max", 1,
       lambda xp, x, axis=None, keepdims=False: x.max(axis=axis, keepdims=keepdims),
       _max_vjp,
       _sym_max,
       "maximum over axes; ties share the gradient"),
    _p("log_softmax", 1,
       _log_softmax,
       _log_softmax_vjp,
       _sym_log_softmax,
       "x - log(sum(exp(x))) along an axis, shifted by max(x) so it never overflows"),
    # indexing by constant integer arrays; the VJPs scatter-add
    _p("take", 1,
       lambda xp, x, indices=None, axis=0, padding_idx=None: xp.take(x, indices, axis=axis),
       _take_vjp,
       _sym_take,
       "slices of x along an axis at integer indices (embedding lookup, index_select); "
       "padding_idx, when given, is an index whose slice gets no gradient"),
    _p("gather", 1,
       lambda xp, x, indices=None, axis=0: x[_gather_index(xp, indices, axis)],
       _gather_vjp,
       _sym_gather,
       "PyTorch's gather: out[k] = x[k with its axis entry replaced by indices[k]]"),
]}
