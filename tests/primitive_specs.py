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
class Tolerance:
    """How close a result must be to its reference (``np.testing.assert_allclose``'s)."""

    rtol: float
    atol: float

    def check(self, got: Any, want: Any) -> None:
        np.testing.assert_allclose(got, want, rtol=self.rtol, atol=self.atol)


@dataclass(frozen=True)
class Case:
    prim: str
    shapes: tuple[tuple[int, ...], ...]
    call: Callable[..., Any]  # the public API, on Tensors
    ref: Callable[..., np.ndarray]  # the same math, directly in NumPy
    domain: str = "real"  # real: N(0, 1); positive: U(0.5, 2); nonzero: ±U(0.5, 2)
    label: str = ""
    eps: float = 1e-6  # central-difference step; larger only for functions linear in the input
    # how close each check must come, per case (a case that needs looser bounds says so here)
    forward64: Tolerance = Tolerance(rtol=1e-12, atol=1e-12)  # float64 against the NumPy ref
    forward32: Tolerance = Tolerance(rtol=2e-5, atol=2e-6)  # float32 against float64 math
    symbolic: Tolerance = Tolerance(rtol=1e-10, atol=1e-12)  # the lambdified rule vs forward

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


# --- edges: 0-d inputs, size-0 dims, boundary values ------------------------------------------
#
# Every primitive has, for each kind in ``EDGE_KINDS``, at least one ``Edge`` or a ``REFUSES``
# entry (the one-line error it gives, where PyTorch refuses too); ``test_primitive_edges``
# fails until a new primitive has them. ``torch`` is the same math in PyTorch, the oracle for
# values and gradients (at 0, -0, ±1, ±inf, nan, with incoming gradients 1, -inf and nan);
# ``ref`` the forward in NumPy, for machines without PyTorch.

EDGE_KINDS = ("0-d", "empty", "boundary")
BOUNDARY_VALUES = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan])


@dataclass(frozen=True)
class Edge:
    prim: str
    kind: str  # one of EDGE_KINDS
    shapes: tuple[tuple[int, ...], ...]
    call: Callable[..., Any]  # the public API, on Tensors
    torch: Callable[..., Any]  # the same math on torch tensors (imported only by the test)
    ref: Callable[..., np.ndarray]  # the forward, directly in NumPy
    label: str = ""
    values: tuple[Any, ...] = ()  # given inputs (nested lists), instead of generated ones
    eps: float = 1e-6  # central-difference step (as in Case)

    @property
    def id(self) -> str:
        shapes = "_".join("x".join(map(str, s)) or "scalar" for s in self.shapes)
        return f"{self.prim}-{self.kind}-{self.label or shapes}"

    def inputs(self, rng: np.random.Generator) -> list[np.ndarray]:
        """Random values in [0.5, 2) (every primitive's domain) for 0-d and empty edges; for
        boundary edges every combination of the boundary values where the shapes allow it
        (k inputs of 7^k entries each), else the values cycled, shifted per input."""
        if self.values:
            return [np.array(v, dtype=np.float64) for v in self.values]
        if self.kind != "boundary":
            return [rng.uniform(0.5, 2.0, s) for s in self.shapes]
        k, n = len(self.shapes), len(BOUNDARY_VALUES)
        out = []
        for i, shape in enumerate(self.shapes):
            size = int(np.prod(shape, dtype=np.int64))
            if k == 1 and len(shape) == 2 and shape[0] == n ** shape[1]:  # rows: all m-tuples
                m = shape[1]
                columns = [np.tile(np.repeat(BOUNDARY_VALUES, n ** (m - 1 - j)), n ** j)
                           for j in range(m)]
                out.append(np.stack(columns, axis=1))
                continue
            if size == n ** k:  # the full grid: input i varies with stride n^(k-1-i)
                flat = np.tile(np.repeat(BOUNDARY_VALUES, n ** (k - 1 - i)), n ** i)
            else:
                flat = np.resize(np.roll(BOUNDARY_VALUES, i), size)
            out.append(flat.reshape(shape).astype(np.float64))
        return out


def _edge(prim: str, kind: str, shapes: tuple[tuple[int, ...], ...], call: Callable[..., Any],
          torch: Callable[..., Any] | None = None, ref: Callable[..., Any] | None = None,
          label: str = "", values: tuple[Any, ...] = ()) -> Edge:
    """``torch`` and ``ref`` default to ``call``: most of the API reads the same in all three."""
    return Edge(prim, kind, shapes, call, torch or call, ref or call, label, values)


def _torch() -> Any:
    import torch

    return torch


_GRID2 = ((49,), (49,))  # two inputs: every pair of boundary values
_ROW_MASK = np.arange(49) % 2 == 0
_EMPTY_MASK = np.zeros((0, 3), dtype=bool)


def _unary_edges(prim: str, call: Callable[..., Any], torch: Callable[..., Any] | None = None,
                 ref: Callable[..., Any] | None = None, label: str = "") -> list[Edge]:
    return [_edge(prim, kind, (shape,), call, torch, ref, label)
            for kind, shape in (("0-d", ()), ("empty", (0, 3)), ("boundary", (7,)))]


def _binary_edges(prim: str, call: Callable[..., Any], torch: Callable[..., Any] | None = None,
                  ref: Callable[..., Any] | None = None) -> list[Edge]:
    return [_edge(prim, "0-d", ((), ()), call, torch, ref),
            _edge(prim, "0-d", ((), (3,)), call, torch, ref, label="0d-broadcast"),
            _edge(prim, "empty", ((0, 3), (3,)), call, torch, ref),
            _edge(prim, "boundary", _GRID2, call, torch, ref)]


def _pow_edges(exponent: float) -> list[Edge]:
    def call(x: Any) -> Any:
        return x ** exponent

    def ref(x: np.ndarray) -> np.ndarray:
        # NumPy's x ** ±0.5 is C's pow; PyTorch (and tinygrad_lstm) take sqrt: -0 keeps its sign
        return {0.5: np.sqrt, -0.5: lambda v: 1 / np.sqrt(v)}.get(exponent, call)(x)

    return _unary_edges("pow", call, lambda x: x.pow(exponent), ref, label=f"exp{exponent:g}")


def _shifted_log_softmax(x: np.ndarray) -> np.ndarray:
    """log softmax over the last axis, shifted by the row's maximum first (so an inf entry
    gives nan, as x - max does, and not the naive formula's inf - inf in another place)."""
    m = np.max(x, axis=-1, keepdims=True)
    return (x - m) - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def _rowwise_max(x: Any) -> Any:
    """PyTorch's max() of each row: its backward shares the gradient among the ties, and a nan
    maximum's among the nan entries (``tl``'s max over an axis does both; ``amax`` neither)."""
    if len(x) == 0:
        return x.amax(1)
    return _torch().stack([row.max() for row in x])


EDGES: list[Edge] = [
    *_binary_edges("add", lambda a, b: a + b),
    *_binary_edges("sub", lambda a, b: a - b),
    *_binary_edges("mul", lambda a, b: a * b),
    *_binary_edges("div", lambda a, b: a / b),
    *_binary_edges("maximum", tl.maximum, lambda a, b: _torch().maximum(a, b), np.maximum),
    _edge("where", "0-d", ((), ()), lambda a, b: tl.where(np.array(True), a, b),
          lambda a, b: _torch().where(_torch().tensor(True), a, b),
          lambda a, b: np.where(True, a, b)),
    _edge("where", "empty", ((0, 3), (3,)), lambda a, b: tl.where(_EMPTY_MASK, a, b),
          lambda a, b: _torch().where(_torch().tensor(_EMPTY_MASK), a, b),
          lambda a, b: np.where(_EMPTY_MASK, a, b)),
    _edge("where", "boundary", _GRID2, lambda a, b: tl.where(_ROW_MASK, a, b),
          lambda a, b: _torch().where(_torch().tensor(_ROW_MASK), a, b),
          lambda a, b: np.where(_ROW_MASK, a, b)),
    *_unary_edges("neg", lambda x: -x),
    *[edge for e in (0, 0.5, -0.5, 1, 2, 3, -1, -2, 1.5) for edge in _pow_edges(e)],
    *_unary_edges("exp", lambda x: x.exp(), ref=np.exp),
    *_unary_edges("log", lambda x: x.log(), ref=np.log),
    *_unary_edges("sigmoid", lambda x: x.sigmoid(), ref=_sigmoid),
    *_unary_edges("tanh", lambda x: x.tanh(), ref=np.tanh),
    *_unary_edges("relu", lambda x: x.relu(),
                  ref=lambda x: np.where((x > 0) | np.isnan(x), x, 0.0)),
    *[Edge("astype", e.kind, e.shapes, e.call, e.torch, e.ref, eps=1e-2)  # linear: exact
      for e in _unary_edges("astype", lambda x: x.to("float32").to("float64"),
                            lambda x: x.float().double(),
                            lambda x: x.astype(np.float32).astype(float))],
    _edge("matmul", "empty", ((0, 3), (3, 4)), lambda a, b: a @ b, label="empty-batch"),
    _edge("matmul", "empty", ((3, 0), (0, 4)), lambda a, b: a @ b, label="empty-inner"),
    _edge("matmul", "empty", ((2, 0, 3), (3, 4)), lambda a, b: a @ b, label="empty-stack"),
    _edge("matmul", "boundary", ((7, 1), (1, 7)), lambda a, b: a @ b, label="outer"),
    _edge("matmul", "boundary", ((1, 7), (7, 1)), lambda a, b: a @ b, label="inner"),
    _edge("addmm", "0-d", ((), (3,), (3,)), lambda c, a, b: tl.addmm(c, a, b),
          lambda c, a, b: c + a @ b, lambda c, a, b: c + a @ b),
    _edge("addmm", "empty", ((4,), (0, 3), (3, 4)), lambda c, a, b: tl.addmm(c, a, b),
          lambda c, a, b: c + a @ b, lambda c, a, b: c + a @ b),
    _edge("addmm", "boundary", ((7,), (7, 1), (1, 7)), lambda c, a, b: tl.addmm(c, a, b),
          lambda c, a, b: c + a @ b, lambda c, a, b: c + a @ b),
    _edge("addmm_split", "0-d", ((), (2, 3), (3, 4)),
          lambda c, a, b: tl.tensor.apply(tl.PRIMITIVES["addmm_split"], c, a, b,
                                          sizes=(1, 3))[1],
          lambda c, a, b: (c + a @ b)[:, 1:], lambda c, a, b: (c + a @ b)[:, 1:]),
    _edge("addmm_split", "empty", ((4,), (0, 3), (3, 4)),
          lambda c, a, b: tl.tensor.apply(tl.PRIMITIVES["addmm_split"], c, a, b,
                                          sizes=(1, 3))[1],
          lambda c, a, b: (c + a @ b)[:, 1:], lambda c, a, b: (c + a @ b)[:, 1:]),
    _edge("addmm_split", "boundary", ((7,), (7, 1), (1, 7)),
          lambda c, a, b: tl.tensor.apply(tl.PRIMITIVES["addmm_split"], c, a, b,
                                          sizes=(3, 4))[1],
          lambda c, a, b: (c + a @ b)[:, 3:], lambda c, a, b: (c + a @ b)[:, 3:]),
    _edge("transpose", "0-d", ((),), lambda x: x.transpose(), lambda x: x.permute(()),
          np.transpose),
    _edge("transpose", "empty", ((0, 3),), lambda x: x.T),
    _edge("transpose", "boundary", ((7, 1),), lambda x: x.T),
    _edge("reshape", "0-d", ((),), lambda x: x.reshape(1, 1)),
    _edge("reshape", "empty", ((0, 3),), lambda x: x.reshape(3, 0)),
    _edge("reshape", "boundary", ((7,),), lambda x: x.reshape(7, 1)),
    _edge("concat", "empty", ((0, 3), (2, 3)), lambda a, b: tl.concat([a, b], axis=0),
          lambda a, b: _torch().cat([a, b], 0), lambda a, b: np.concatenate([a, b], 0)),
    _edge("concat", "boundary", ((7,), (7,)), lambda a, b: tl.concat([a, b], axis=0),
          lambda a, b: _torch().cat([a, b], 0), lambda a, b: np.concatenate([a, b], 0)),
    _edge("stack", "0-d", ((), ()), lambda a, b: tl.stack([a, b]),
          lambda a, b: _torch().stack([a, b]), lambda a, b: np.stack([a, b])),
    _edge("stack", "empty", ((0, 3), (0, 3)), lambda a, b: tl.stack([a, b], axis=1),
          lambda a, b: _torch().stack([a, b], 1), lambda a, b: np.stack([a, b], 1)),
    _edge("stack", "boundary", ((7,), (7,)), lambda a, b: tl.stack([a, b]),
          lambda a, b: _torch().stack([a, b]), lambda a, b: np.stack([a, b])),
    _edge("split", "empty", ((0, 4),), lambda x: x.split([1, 3], axis=1)[1],
          lambda x: x.split([1, 3], dim=1)[1], lambda x: x[:, 1:]),
    _edge("split", "empty", ((2, 3),), lambda x: x.split([0, 3], axis=1)[0],
          lambda x: x.split([0, 3], dim=1)[0], lambda x: x[:, :0], label="empty-piece"),
    _edge("split", "boundary", ((7,),), lambda x: x.split([3, 4], axis=0)[1],
          lambda x: x.split([3, 4], dim=0)[1], lambda x: x[3:]),
    _edge("getitem", "0-d", ((),), lambda x: x[()]),
    _edge("getitem", "0-d", ((),), lambda x: x[None], label="newaxis"),
    _edge("getitem", "0-d", ((3,),), lambda x: x[1], label="to-0d"),
    _edge("getitem", "empty", ((0, 3),), lambda x: x[:, 1]),
    _edge("getitem", "empty", ((3, 4),), lambda x: x[2:2], label="empty-slice"),
    _edge("getitem", "boundary", ((7,),), lambda x: x[2:]),
    _edge("sum", "0-d", ((),), lambda x: x.sum()),
    _edge("sum", "0-d", ((),), lambda x: x.sum(axis=0), lambda x: x.sum(0),
          lambda x: x.sum(), label="axis0"),
    _edge("sum", "empty", ((0, 3),), lambda x: x.sum()),
    _edge("sum", "empty", ((0, 3),), lambda x: x.sum(axis=1), lambda x: x.sum(1),
          label="axis1"),
    _edge("sum", "boundary", ((7,),), lambda x: x.sum()),
    _edge("mean", "0-d", ((),), lambda x: x.mean()),
    _edge("mean", "empty", ((0, 3),), lambda x: x.mean(axis=1), lambda x: x.mean(1),
          label="axis1"),
    _edge("mean", "empty", ((0, 3),), lambda x: x.mean(axis=0), lambda x: x.mean(0),
          lambda x: np.full(3, np.nan), label="nan-axis0"),
    _edge("mean", "empty", ((0, 3),), lambda x: x.mean(), ref=lambda x: np.float64(np.nan),
          label="nan"),
    _edge("mean", "boundary", ((49, 2),), lambda x: x.mean(axis=1), lambda x: x.mean(1),
          lambda x: x.mean(axis=1)),
    _edge("max", "0-d", ((),), lambda x: x.max()),
    _edge("max", "empty", ((0, 3),), lambda x: x.max(axis=1), _rowwise_max,
          lambda x: x.max(axis=1)),
    _edge("max", "boundary", ((49, 2),), lambda x: x.max(axis=1), _rowwise_max,
          lambda x: x.max(axis=1), label="pairs"),
    _edge("max", "boundary", ((7,),), lambda x: x.max(), label="all"),
    _edge("max", "boundary", ((2, 3),), lambda x: x.max(), label="ties",
          values=([[1.0, 3.0, 3.0], [-np.inf, 3.0, 0.0]],)),
    _edge("max", "boundary", ((4,),), lambda x: x.max(), label="two-nans",
          values=([np.nan, 1.0, np.nan, np.inf],)),
    _edge("take", "0-d", ((),), lambda x: x.index_select(0, [0]),
          lambda x: x.index_select(0, _torch().tensor([0])), lambda x: x),
    _edge("take", "empty", ((0, 3),), lambda x: x.index_select(1, [2, 0]),
          lambda x: x.index_select(1, _torch().tensor([2, 0])), lambda x: x[:, [2, 0]]),
    _edge("take", "boundary", ((7,),), lambda x: x.index_select(0, [6, 0, 3, 3]),
          lambda x: x.index_select(0, _torch().tensor([6, 0, 3, 3])), lambda x: x[[6, 0, 3, 3]]),
    _edge("gather", "0-d", ((),), lambda x: x.gather(0, np.array([0, 0])),
          lambda x: x.gather(0, _torch().tensor([0, 0])), lambda x: np.full(2, x)),
    _edge("gather", "empty", ((0, 3),), lambda x: x.gather(1, np.zeros((0, 2), np.int64)),
          lambda x: x.gather(1, _torch().zeros((0, 2), dtype=_torch().int64)),
          lambda x: np.zeros((0, 2))),
    _edge("gather", "boundary", ((7,),), lambda x: x.gather(0, np.array([6, 0, 3, 3])),
          lambda x: x.gather(0, _torch().tensor([6, 0, 3, 3])), lambda x: x[[6, 0, 3, 3]]),
    _edge("log_softmax", "0-d", ((),), lambda x: x.log_softmax(),
          lambda x: _torch().log_softmax(x, 0), lambda x: x - x),
    _edge("log_softmax", "empty", ((0, 3),), lambda x: x.log_softmax(),
          lambda x: _torch().log_softmax(x, -1), lambda x: x),
    _edge("log_softmax", "empty", ((0, 3),), lambda x: x.log_softmax(axis=0),
          lambda x: _torch().log_softmax(x, 0), lambda x: x, label="empty-axis"),
    _edge("log_softmax", "boundary", ((49, 2),), lambda x: x.log_softmax(),
          lambda x: _torch().log_softmax(x, -1), _shifted_log_softmax),
]

# (primitive, kind) -> the error it raises, where PyTorch refuses the same input
REFUSES: dict[tuple[str, str], tuple[Callable[[], Any], str]] = {
    ("matmul", "0-d"): (lambda: tl.Tensor(2.0) @ tl.Tensor(3.0),
                        r"^matmul: needs tensors with at least one dim"),
    ("concat", "0-d"): (lambda: tl.concat([tl.Tensor(2.0), tl.Tensor(3.0)], axis=0),
                        r"^concat: cannot join 0-d tensors$"),
    ("split", "0-d"): (lambda: tl.Tensor(2.0).split(1), r"^split: cannot split a 0-d tensor$"),
}
