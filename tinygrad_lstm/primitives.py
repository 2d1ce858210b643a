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

Where things are: this file holds the record type and the table, one entry per primitive with
its forward, VJP and rule side by side (one-liners inline); forwards and VJPs of more than one
expression are in ``primitive_functions.py``, symbolic rules of more than one expression in
``primitive_rules.py``.

Adding a primitive: add a record to ``PRIMITIVES`` (and a ``Tensor`` method that calls
``apply``), then a spec to ``tests/primitive_specs.py``; a test fails until both tables agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_lstm.primitive_functions import (
    _addmm,
    _addmm_split,
    _addmm_split_vjp,
    _addmm_vjp,
    _concat_vjp,
    _gather_index,
    _gather_vjp,
    _getitem_vjp,
    _log_softmax,
    _log_softmax_vjp,
    _matmul,
    _matmul_vjp,
    _max_vjp,
    _maximum_vjp,
    _mean,
    _mean_vjp,
    _pow,
    _pow_vjp,
    _relu_vjp,
    _sigmoid,
    _sigmoid_vjp,
    _split,
    _split_vjp,
    _stack_vjp,
    _sum_vjp,
    _sym_gather,
    _sym_split,
    _sym_take,
    _take_vjp,
    _tanh_vjp,
    _transpose_vjp,
    _where_vjp,
)
from tinygrad_lstm.primitive_rules import (
    _elementwise,
    _functions,
    _sym_addmm,
    _sym_join,
    _sym_layout,
    _sym_log_softmax,
    _sym_matmul,
    _sym_max,
    _sym_maximum,
    _sym_reduce,
    _sym_relu,
    _sym_sigmoid,
    _sym_where,
    _sympy,
    _whole,
)


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
    # True when every gradient the VJP returns is an array it made for this call (or a view of
    # one, no two overlapping) and keeps no reference to: the tape adds into it in place and
    # hands it to a leaf without a copy (the compiled layer's weight blocks)
    fresh_grads: bool = False

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


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
