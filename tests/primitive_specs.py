"""The spec table: how to call each primitive through the public API, and the same math in NumPy.

One ``Case`` per (primitive, shapes, params). The tests in ``test_primitives.py`` run every case
on every available backend: forward against the NumPy reference, gradients against central
differences, the symbolic rule against the forward. ``test_tables_agree`` fails when a primitive
has no case here, or a case names a primitive the table lacks.

The references are written directly in NumPy from the definitions, independently of
``primitives.py`` (no shared code): a bug in a forward cannot hide in its own reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import tinygrad_lstm as tl


@dataclass(frozen=True)
class Case:
    prim: str
    shapes: tuple[tuple[int, ...], ...]
    call: Callable[..., Any]  # the public API, on Tensors
    ref: Callable[..., np.ndarray]  # the same math, directly in NumPy
    domain: str = "real"  # real: N(0, 1); positive: U(0.5, 2); nonzero: ±U(0.5, 2)
    label: str = ""
    eps: float = 1e-6  # central-difference step; larger only for functions linear in the input

    @property
    def id(self) -> str:
        shapes = "_".join("x".join(map(str, s)) or "scalar" for s in self.shapes)
        return f"{self.prim}-{self.label or shapes}"

    def inputs(self, rng: np.random.Generator) -> list[np.ndarray]:
        out = []
        for i, shape in enumerate(self.shapes):
            if self.domain == "positive" or self.domain == "nonzero" and i == 1:
                x = rng.uniform(0.5, 2.0, shape)
                if self.domain == "nonzero":
                    x = x * rng.choice([-1.0, 1.0], shape)
            else:
                x = rng.standard_normal(shape)
            out.append(np.asarray(x, dtype=np.float64))
        return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


_MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False,
                                                                           False]])

_TOKENS = np.array([[0, 3, 3], [4, 0, 3]])  # (batch 2, time 3) into a (5, 3) table
_ROWS = np.array([[3, 3, 0], [1, 2, 1], [0, 0, 0]])


def _gather_ref(x: np.ndarray, index: np.ndarray, dim: int) -> np.ndarray:
    """torch.gather by its definition, one entry at a time."""
    out = np.empty(index.shape)
    for pos in np.ndindex(*index.shape):
        source = list(pos)
        source[dim] = index[pos]
        out[pos] = x[tuple(source)]
    return out


CASES: list[Case] = [
    # elementwise binary, with broadcasting and Python scalars
    Case("add", ((3, 4), (3, 4)), lambda a, b: a + b, lambda a, b: a + b),
    Case("add", ((3, 4), (4,)), lambda a, b: a + b, lambda a, b: a + b),
    Case("add", ((3, 1), (1, 4)), lambda a, b: a + b, lambda a, b: a + b),
    Case("add", ((2, 3),), lambda a: 2.5 + a, lambda a: 2.5 + a, label="scalar-left"),
    Case("sub", ((3, 4), (3, 4)), lambda a, b: a - b, lambda a, b: a - b),
    Case("sub", ((2, 3, 4), (3, 1)), lambda a, b: a - b, lambda a, b: a - b),
    Case("sub", ((2, 3),), lambda a: 1 - a, lambda a: 1 - a, label="one-minus"),
    Case("mul", ((3, 4), (3, 4)), lambda a, b: a * b, lambda a, b: a * b),
    Case("mul", ((4,), (3, 4)), lambda a, b: a * b, lambda a, b: a * b),
    Case("mul", ((2, 3),), lambda a: a * 3, lambda a: a * 3, label="scalar-right"),
    Case("div", ((3, 4), (3, 4)), lambda a, b: a / b, lambda a, b: a / b, domain="nonzero"),
    Case("div", ((3, 4), (1, 4)), lambda a, b: a / b, lambda a, b: a / b, domain="nonzero"),
    Case("div", ((2, 3),), lambda a: 2.0 / a, lambda a: 2.0 / a, domain="positive",
         label="scalar-over"),
    Case("maximum", ((3, 4), (3, 4)), tl.maximum, np.maximum),
    Case("maximum", ((3, 4), (4,)), tl.maximum, np.maximum),
    Case("where", ((3, 4), (3, 4)), lambda a, b: tl.where(_MASK, a, b),
         lambda a, b: np.where(_MASK, a, b)),
    Case("where", ((3, 4), (1, 4)), lambda a, b: tl.where(_MASK, a, b),
         lambda a, b: np.where(_MASK, a, b)),
    # elementwise unary
    Case("neg", ((3, 4),), lambda x: -x, lambda x: -x),
    Case("pow", ((3, 4),), lambda x: x ** 2, lambda x: x ** 2, label="square"),
    Case("pow", ((3, 4),), lambda x: x ** 3, lambda x: x ** 3, label="cube"),
    Case("pow", ((3, 4),), lambda x: x ** 0.5, np.sqrt, domain="positive", label="sqrt"),
    Case("pow", ((3, 4),), lambda x: x ** -1.5, lambda x: x ** -1.5, domain="positive",
         label="negative"),
    Case("exp", ((3, 4),), lambda x: x.exp(), np.exp),
    Case("log", ((3, 4),), lambda x: x.log(), np.log, domain="positive"),
    Case("sigmoid", ((3, 4),), lambda x: x.sigmoid(), _sigmoid),
    Case("sigmoid", ((2, 3, 4),), lambda x: x.sigmoid(), _sigmoid),
    Case("tanh", ((3, 4),), lambda x: x.tanh(), np.tanh),
    Case("relu", ((3, 4),), lambda x: x.relu(), lambda x: np.where(x > 0, x, 0.0)),
    # float32 in the middle: a linear map, so a large step is exact and float32 rounding small
    Case("astype", ((3, 4),), lambda x: x.to("float32").to("float64"),
         lambda x: x.astype(np.float32).astype(np.float64),
         label="round-trip", eps=1e-2),
    # linear algebra and shape
    Case("matmul", ((3, 4), (4, 2)), lambda a, b: a @ b, lambda a, b: a @ b),
    Case("matmul", ((2, 3, 4), (4, 2)), lambda a, b: a @ b, lambda a, b: a @ b),
    Case("matmul", ((2, 3, 4), (2, 4, 2)), lambda a, b: a @ b, lambda a, b: a @ b),
    Case("matmul", ((1, 3, 4), (2, 4, 2)), lambda a, b: a @ b, lambda a, b: a @ b,
         label="batch-broadcast"),
    Case("matmul", ((4,), (4, 3)), lambda a, b: a @ b, lambda a, b: a @ b),
    Case("matmul", ((3, 4), (4,)), lambda a, b: a @ b, lambda a, b: a @ b),
    Case("matmul", ((4,), (4,)), lambda a, b: a @ b, lambda a, b: a @ b),
    Case("addmm", ((3, 2), (3, 4), (4, 2)), lambda c, a, b: tl.addmm(c, a, b),
         lambda c, a, b: c + np.einsum("ik,kj->ij", a, b)),
    Case("addmm", ((2,), (3, 4), (4, 2)), lambda c, a, b: tl.addmm(c, a, b),
         lambda c, a, b: c[None, :] + np.einsum("ik,kj->ij", a, b), label="bias-broadcast"),
    Case("addmm", ((5, 3, 6), (3, 4), (4, 2)),
         lambda c, a, b: tl.addmm(c, a, b, index=(1, slice(None), slice(2, 4))),
         lambda c, a, b: c[1, :, 2:4] + np.einsum("ik,kj->ij", a, b), label="step-slice"),
    Case("addmm", ((5, 3, 2), (3, 4), (4, 2)), lambda c, a, b: tl.addmm(c, a, b, index=4),
         lambda c, a, b: c[4] + np.einsum("ik,kj->ij", a, b), label="step"),
    Case("addmm", ((2, 3, 2), (2, 3, 4), (4, 2)), lambda c, a, b: tl.addmm(c, a, b),
         lambda c, a, b: c + np.einsum("bik,kj->bij", a, b), label="batched"),
    Case("addmm_split", ((5, 3, 6), (3, 4), (4, 6)),
         lambda c, a, b: tl.tensor.apply(tl.PRIMITIVES["addmm_split"], c, a, b, index=2,
                                         sizes=(2, 3, 1))[1],
         lambda c, a, b: (c[2] + np.einsum("ik,kj->ij", a, b))[:, 2:5], label="step-middle"),
    Case("addmm_split", ((4,), (3, 5), (5, 4)),
         lambda c, a, b: tl.tensor.apply(tl.PRIMITIVES["addmm_split"], c, a, b,
                                         sizes=(2, 2))[0],
         lambda c, a, b: (c[None, :] + np.einsum("ik,kj->ij", a, b))[:, :2], label="bias-first"),
    # split has several outputs; a case checks one (the others get no gradient: zeros)
    Case("split", ((3, 6),), lambda x: x.split([2, 3, 1], axis=1)[1], lambda x: x[:, 2:5],
         label="middle"),
    Case("split", ((4, 3),), lambda x: x.chunk(2, axis=0)[0], lambda x: x[:2], label="rows"),
    Case("split", ((2, 3, 4),), lambda x: x.split(3, axis=-1)[-1], lambda x: x[..., 3:],
         label="ragged-last"),
    Case("transpose", ((3, 4),), lambda x: x.T, lambda x: x.T),
    Case("transpose", ((2, 3, 4),), lambda x: x.transpose(1, 2, 0),
         lambda x: np.transpose(x, (1, 2, 0))),
    Case("reshape", ((3, 4),), lambda x: x.reshape(2, 6), lambda x: x.reshape(2, 6)),
    Case("reshape", ((2, 3, 4),), lambda x: x.reshape(-1, 4), lambda x: x.reshape(-1, 4)),
    Case("concat", ((3, 2), (3, 4)), lambda a, b: tl.concat([a, b], axis=1),
         lambda a, b: np.concatenate([a, b], axis=1)),
    Case("concat", ((1, 3), (2, 3), (1, 3)), lambda a, b, c: tl.concat([a, b, c], axis=0),
         lambda a, b, c: np.concatenate([a, b, c], axis=0)),
    Case("stack", ((3, 2), (3, 2)), lambda a, b: tl.stack([a, b]),
         lambda a, b: np.stack([a, b])),
    Case("stack", ((2, 3), (2, 3), (2, 3)), lambda a, b, c: tl.stack([a, b, c], axis=-1),
         lambda a, b, c: np.stack([a, b, c], axis=-1), label="last-axis"),
    Case("getitem", ((3, 4),), lambda x: x[1], lambda x: x[1], label="row"),
    Case("getitem", ((3, 4),), lambda x: x[:, 1:3], lambda x: x[:, 1:3], label="slice"),
    Case("getitem", ((2, 3, 4),), lambda x: x[..., ::2], lambda x: x[..., ::2],
         label="ellipsis-step"),
    Case("getitem", ((3, 4),), lambda x: x[None, -1, 2:], lambda x: x[None, -1, 2:],
         label="newaxis"),
    # reductions
    Case("sum", ((3, 4),), lambda x: x.sum(), np.sum),
    Case("sum", ((2, 3, 4),), lambda x: x.sum(axis=1), lambda x: x.sum(axis=1), label="axis1"),
    Case("sum", ((2, 3, 4),), lambda x: x.sum(axis=(0, 2), keepdims=True),
         lambda x: x.sum(axis=(0, 2), keepdims=True), label="axes-keepdims"),
    Case("mean", ((3, 4),), lambda x: x.mean(), np.mean),
    Case("mean", ((2, 3, 4),), lambda x: x.mean(axis=-1, keepdims=True),
         lambda x: x.mean(axis=-1, keepdims=True), label="last-keepdims"),
    Case("max", ((3, 4),), lambda x: x.max(), np.max),
    Case("max", ((2, 3, 4),), lambda x: x.max(axis=1), lambda x: x.max(axis=1), label="axis1"),
    Case("log_softmax", ((3, 5),), lambda x: x.log_softmax(), lambda x: _log_softmax(x, -1)),
    Case("log_softmax", ((4, 3, 2),), lambda x: x.log_softmax(axis=0),
         lambda x: _log_softmax(x, 0), label="axis0"),
    # integer-array indexing; repeated indices must accumulate their gradients
    Case("take", ((5, 3),), lambda w: tl.nn.embedding(_TOKENS, w),
         lambda w: w[_TOKENS], label="embedding-repeats"),
    Case("take", ((2, 5, 3),), lambda x: x.index_select(1, [4, 0, 4, 4]),
         lambda x: x[:, [4, 0, 4, 4]], label="index-select-middle"),
    Case("take", ((6,),), lambda x: x.index_select(0, np.array([5, 5, 1])),
         lambda x: x[[5, 5, 1]], label="vector"),
    Case("gather", ((3, 4),), lambda x: x.gather(1, _ROWS), lambda x: _gather_ref(x, _ROWS, 1),
         label="dim1-repeats"),
    Case("gather", ((4, 3),), lambda x: x.gather(0, _ROWS.T[:2]),
         lambda x: _gather_ref(x, _ROWS.T[:2], 0), label="dim0-smaller"),
    Case("gather", ((2, 3, 4),), lambda x: x.topk(2, dim=-1)[0],
         lambda x: -np.sort(-x, axis=-1)[..., :2], label="topk"),
]
