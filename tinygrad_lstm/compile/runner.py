"""A compiled layer: one tape node (the ``recurrent_layer`` primitive) per layer and direction.

Forward: the hoisted input GEMM for all steps (biases inside), then per step one
``dot(s, W_s^T, out=zh)`` per state the gates read and one fused kernel. Backward: per step one
fused kernel and one ``dot(dZ_t, W_s)`` per such state, then dW_s, dW_x and dX as single GEMMs
over all T·B rows and db as one column sum.

Inputs of the node, in order: the sequence xs (T, B, I), the initial states (B, H) each, the
stacked input weights W_x (G·H, I), the stacked biases b (G·H,), one stacked recurrent weight
W_s (G·H, H) per state some gate reads, and the per-column parameters (H,). Gates are stacked in
the cell's order; a gate that does not read an argument has a zero block there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_lstm.primitives import Primitive
from tinygrad_lstm.tape import _mode
from tinygrad_lstm.tensor import Tensor, apply, concat, zeros

if TYPE_CHECKING:
    from tinygrad_lstm.cells.base import Cell
    from tinygrad_lstm.compile.kernels import Compiled


class _Saved:
    """What the forward keeps for the backward: the states before and after every step
    (``hist[k][t + r]`` is state k before step t, r = 1 in reverse) and the saved values."""

    __slots__ = ("hist", "sv", "x2")

    def __init__(self) -> None:
        self.hist: list[Any] = []
        self.sv: Any = None
        self.x2: Any = None


def _layer_forward(xp: Any, xs: Any, *arrays: Any, kernels: Compiled, n_states: int,
                   n_recurrent: int, reverse: bool, valid: Any, saved: _Saved,
                   need_dx: bool = True) -> tuple[Any, ...]:
    T, B, In = xs.shape
    init = arrays[:n_states]
    Wx, b = arrays[n_states], arrays[n_states + 1]
    Ws = arrays[n_states + 2: n_states + 2 + n_recurrent]
    params = [xp.ascontiguousarray(p) for p in arrays[n_states + 2 + n_recurrent:]]
    H = init[0].shape[1]
    dtype = kernels.dtype
    x2 = xp.ascontiguousarray(xs).reshape(T * B, In)
    P = xp.dot(x2, xp.ascontiguousarray(Wx.T))
    P += b
    P = P.reshape(T, B, -1)
    WsT = [xp.ascontiguousarray(W.T) for W in Ws]
    hist = [xp.empty((T + 1, B, H), dtype) for _ in range(n_states)]
    r = 1 if reverse else 0
    for k in range(n_states):
        hist[k][T * r] = init[k]
    sv = xp.empty((T, len(kernels.derivation.saved), B, H), dtype)
    y = xp.empty((T, B, H), dtype)
    zh = xp.zeros((B, P.shape[2]), dtype)
    recurrent = kernels_recurrent(kernels)
    forward = kernels.forward
    for n in range(T):
        t = T - 1 - n if reverse else n
        prev = [h[t + r] for h in hist]
        for i, k in enumerate(recurrent):
            if i == 0:
                xp.dot(prev[k], WsT[i], out=zh)
            else:
                zh += xp.dot(prev[k], WsT[i])
        forward(P[t], zh, valid[t], *prev, *params, *[h[t + 1 - r] for h in hist], sv[t], y[t])
    saved.hist, saved.sv, saved.x2 = hist, sv, x2
    finals = [h[T * (1 - r)].copy() for h in hist]
    return (y, *finals)


def kernels_recurrent(kernels: Compiled) -> list[int]:
    """The positions (in the cell's state) of the states some gate reads, in order."""
    g = kernels.graph
    read = {s for srcs in g.sources.values() for s in srcs}
    return [k for k, s in enumerate(g.states) if s in read]


def _layer_vjp(xp: Any, gs: tuple[Any, ...], outs: tuple[Any, ...], xs: Any, *arrays: Any,
               kernels: Compiled, n_states: int, n_recurrent: int, reverse: bool, valid: Any,
               saved: _Saved, need_dx: bool = True) -> tuple[Any, ...]:
    if saved.sv is None:
        raise RuntimeError("recurrent_layer: its saved values are gone")
    T, B, In = xs.shape
    init = arrays[:n_states]
    Wx = arrays[n_states]
    Ws = [xp.ascontiguousarray(W) for W in arrays[n_states + 2: n_states + 2 + n_recurrent]]
    params = [xp.ascontiguousarray(p) for p in arrays[n_states + 2 + n_recurrent:]]
    H = init[0].shape[1]
    dtype = kernels.dtype
    hist, sv = saved.hist, saved.sv
    gy = xp.zeros((T, B, H), dtype) if gs[0] is None else xp.ascontiguousarray(gs[0], dtype)
    dsp = [xp.zeros((B, H), dtype) if g is None else xp.array(g, dtype=dtype, order="C")
           for g in gs[1:]]
    dsg = [xp.zeros((B, H), dtype) for _ in range(n_states)]
    dz = xp.empty((T, B, Wx.shape[0]), dtype)
    dp = [xp.zeros(p.shape, dtype) for p in params]
    recurrent = kernels_recurrent(kernels)
    r = 1 if reverse else 0
    backward = kernels.backward
    for n in range(T - 1, -1, -1):
        t = T - 1 - n if reverse else n
        backward(valid[t], gy[t], *dsp, *dsg, *[h[t + r] for h in hist], *params, sv[t],
                 dz[t], *dp)
        for i, k in enumerate(recurrent):
            xp.dot(dz[t], Ws[i], out=dsg[k])
    dinit = [a + b for a, b in zip(dsp, dsg, strict=True)]
    dz2 = dz.reshape(T * B, -1)
    x2 = saved.x2
    if not bool(valid.all()):  # padding may hold NaN: 0 * NaN is NaN
        x2 = xp.where(valid.reshape(T * B, 1), x2, 0)
    dWx = xp.dot(dz2.T, x2)
    db = dz2.sum(axis=0)
    dWs = []
    for k in recurrent:
        prev = hist[k][r:T + r].reshape(T * B, H)
        dWs.append(xp.dot(dz2.T, prev))
    dx = xp.dot(dz2, Wx).reshape(T, B, In) if need_dx else None
    grads = (dx, *dinit, dWx, db, *dWs, *dp)
    if _mode.anomaly:
        for name, g in zip(("input", *(f"state {k}" for k in range(n_states)), "W_x", "b",
                            *(f"W_{k}" for k in recurrent), *(f"param {k}" for k in
                                                             range(len(dp)))),
                           grads, strict=True):
            if g is not None and not bool(xp.all(xp.isfinite(g))):
                raise FloatingPointError(f"recurrent_layer: the gradient of its {name} holds "
                                         f"NaN or Inf (shape {g.shape})")
    return grads


def _layer_symbolic(*args: Any, **params: Any) -> Any:
    raise NotImplementedError("recurrent_layer: a compiled layer prints as its cell: "
                              "tl.symbolic.equations(cell)")


#: the sequence primitive: a whole layer (one direction) of a compiled cell, one tape node
RECURRENT_LAYER = Primitive(
    "recurrent_layer", None, _layer_forward, _layer_vjp, _layer_symbolic,
    "a compiled cell over a sequence: the input GEMM, then per step a GEMM and a fused kernel",
    multiple=True)


def _stack(blocks: list[Tensor | None], shape: tuple[int, ...], dtype: Any) -> Tensor:
    full = [b if b is not None else zeros(shape, dtype=dtype) for b in blocks]
    return full[0] if len(full) == 1 else concat(full, axis=0)


def run_layer(cell: Cell, kernels: Compiled, xs: Tensor, state: tuple[Tensor, ...],
              valid: np.ndarray | None, reverse: bool) -> tuple[Tensor, tuple[Tensor, ...]]:
    """``cell`` over ``xs`` (T, B, I) from ``state``: (outputs (T, B, H), final state)."""
    g = kernels.graph
    T, B, In = xs.shape
    H = cell.hidden_size
    params = cell._parameters
    dtype = cell.dtype
    specs = [cell.gates[name] for name in g.gates]
    x_arg = cell._args[0]

    def block(spec: Any, arg: str) -> Tensor | None:
        return params[spec.weights[spec.sources.index(arg)]] if arg in spec.sources else None

    Wx = _stack([block(s, x_arg) for s in specs], (H, In), dtype)
    b = _stack([params[s.bias] if s.bias else None for s in specs], (H,), dtype)
    recurrent = kernels_recurrent(kernels)
    Ws = [_stack([block(s, cell._args[1 + k]) for s in specs], (H, H), dtype)
          for k in recurrent]
    extra = [params[name] for name in g.params]
    mask = np.ones((T, B), dtype=bool) if valid is None else \
        np.arange(T)[:, None] < valid[None, :]
    mask = xs.backend.xp.asarray(mask)
    outs = apply(RECURRENT_LAYER, xs, *state, Wx, b, *Ws, *extra, kernels=kernels,
                 n_states=len(g.states), n_recurrent=len(recurrent), reverse=reverse,
                 valid=mask, saved=_Saved(), need_dx=xs.requires_grad)
    return outs[0], tuple(outs[1:])
