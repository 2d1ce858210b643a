"""A compiled layer: one tape node (the ``recurrent_layer`` primitive) per layer and direction.

Forward: the hoisted input GEMM for all steps (biases inside), then per step one
``dot(s, W_s^T, out=...)`` per state the gates read and one fused kernel (for a step in phases,
such as the GRU's, a kernel making r ⊙ h and its product first). Backward: per step one
fused kernel and one ``dot(dZ_t, W_s)`` per such state, then dW_s, dW_x and dX as single GEMMs
over all T·B rows, and db as a column sum (in the compiled time loop: step by step, while dZ_t
is in cache).

Inputs of the node, in order: the sequence xs (T, B, I), the initial states (B, H) each, the
stacked input weights W_x (G_x·H, I) of the G_x gates reading x_t (no zero block for an h-only
gate such as the GRU's hn), the stacked biases b (G·H,), one stacked weight per product
(``Graph.products``: a state or a computed value the gates read; its gates' blocks, (n·H, H);
the forward's GEMMs read its transpose, made once per call), and the per-column
parameters (H,), then the context inputs (T, B, H) (``Cell.context``: the layer below's states
at each step). Gates are stacked by level; a gate that does not read an argument has a zero
block there. Outputs: the sequence (T, B, H), the final states, then the states ``seqs`` after
every step (T, B, H) each, for a layer above that reads them."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_lstm.compile.blas import matmul, transposed
from tinygrad_lstm.primitives import Primitive
from tinygrad_lstm.tape import _mode
from tinygrad_lstm.tensor import Tensor, apply

if TYPE_CHECKING:
    from tinygrad_lstm.cells.base import Cell
    from tinygrad_lstm.compile.kernels import Compiled


class _Saved:
    """What the forward keeps for the backward: the states before and after every step
    (``hist[k][t + r]`` is state k before step t, r = 1 in reverse), the computed values gates
    read (``us``), the saved values (``sv``) and the input rows."""

    __slots__ = ("hist", "us", "sv", "x2", "stacked", "k", "end")

    def __init__(self) -> None:
        self.stacked: list[Any] = []  # W_x, b and each W_s as the node's forward stacked them
        self.hist: Any = None
        self.us: Any = None
        self.sv: Any = None
        self.x2: Any = None
        self.k: Any = None  # the context inputs as the kernels read them (T, n, B, H)
        self.end = 0  # where the node's inputs after the gate blocks start

    def __del__(self) -> None:
        # the node is gone: its buffers serve the next call (only this object held them)
        try:
            for buf in (self.hist, self.us, self.sv):
                _give(buf)
        except (TypeError, AttributeError):  # at interpreter exit the module may be torn down
            pass


_workspace = threading.local()
#: the largest scratch buffer kept between calls (bytes): above it the GEMMs dwarf page faults
SCRATCH_KEEP_BYTES = 64 << 20


def _scratch(xp: Any, role: str, shape: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialised buffer for a temporary the node neither returns nor saves, kept per
    thread and reused by the next call of the same shape: a fresh 26 MB array (medium size)
    costs a page fault per 4 KiB page on every call. NumPy only (CuPy pools its memory)."""
    if xp is not np:
        return xp.empty(shape, dtype)
    pool = _workspace.__dict__.setdefault("pool", {})
    buf = pool.get(role)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = np.empty(shape, dtype)
        pool[role] = buf if buf.nbytes <= SCRATCH_KEEP_BYTES else None
    return buf


def _take(xp: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialised buffer for what a node saves (states, saved values): one a node
    released (``_give``) if one of this shape is spare, else a new one. A fresh 33 MB array
    (the saved values at medium size) costs a page fault per 4 KiB page on every call."""
    if xp is not np:
        return xp.empty(shape, dtype)
    spare = _workspace.__dict__.setdefault("spare", {}).get((shape, np.dtype(dtype)))
    return spare.pop() if spare else np.empty(shape, dtype)


#: how many shapes of saved buffers are kept per thread (the most recent ones): sequences of
#: many lengths must not each keep theirs
SPARE_SHAPES = 8


def _give(buf: Any) -> None:
    """Keep ``buf`` (nothing else refers to it) for ``_take``: at most two per shape (a
    training loop holds the last step's node while it runs the next), ``SPARE_SHAPES``
    shapes."""
    if type(buf) is not np.ndarray or buf.nbytes > SCRATCH_KEEP_BYTES:
        return
    pool = _workspace.__dict__.setdefault("spare", {})
    key = (buf.shape, buf.dtype)
    spare = pool.pop(key, [])  # back in at the end: the dict's order is the shapes' recency
    if len(spare) < 2:
        spare.append(buf)
    pool[key] = spare
    while len(pool) > SPARE_SHAPES:
        del pool[next(iter(pool))]


_NO_CONTEXT = nullcontext()


def _first_call(kernels: Compiled, name: str) -> Any:
    """A context for calling kernels: on the first call of ``name`` (when Numba compiles)
    LLVM's vectoriser gets the budget our kernels need (``emit_numba.vectorising``)."""
    if name in kernels.called:
        return _NO_CONTEXT
    from tinygrad_lstm.compile.emit_numba import vectorising

    kernels.called.add(name)
    return vectorising()


def _dot_t(xp: Any, a: Any, b: Any) -> Any:
    """a^T b, contiguous. For ``a`` a column block of dZ (rows strided), NumPy copies it to
    transpose it (twice the GEMM's time at medium size): on NumPy, BLAS reads it in place
    (``blas.matmul``); elsewhere (b^T a)^T runs on the view."""
    if xp is np:
        return matmul(a, b, transpose_a=True)
    if a.flags.c_contiguous:
        return xp.dot(a.T, b)
    return xp.ascontiguousarray(xp.dot(b.T, a).T)


def _mask_arrays(xp: Any, hmask: Any, n_states: int, B: int, H: int, dtype: Any
                 ) -> tuple[Any, Any, bool]:
    """The recurrent-dropout arguments of the time loops: the mask (B, H), a buffer for the
    masked state (n_states, B, H), and whether there is a mask (empty arrays when not, so
    that the compiled loops keep one signature)."""
    if hmask is None:
        return xp.empty((0, 0), dtype), xp.empty((n_states, 0, 0), dtype), False
    return xp.ascontiguousarray(hmask, dtype), xp.empty((n_states, B, H), dtype), True


def _masked_state(xp: Any, S: Any, hm: Any, valid_t: Any) -> Any:
    """The state a step reads under recurrent dropout: state 0 times the mask where the step is
    valid (a padded step carries the unmasked state on)."""
    out = S.copy()
    out[0] = xp.where(valid_t[:, None], S[0] * hm, S[0])
    return out


def _context(xp: Any, arrays: tuple[Any, ...], dtype: Any) -> Any:
    """The context inputs (T, B, H) each as one array (T, n, B, H): what the kernels read."""
    if len(arrays) == 1:
        return xp.ascontiguousarray(arrays[0], dtype)[:, None]
    return xp.ascontiguousarray(xp.stack(arrays, axis=1), dtype)


def _layer_forward(xp: Any, xs: Any, *arrays: Any, kernels: Compiled, n_states: int,
                   n_products: int, reverse: bool, valid: Any, saved: _Saved,
                   need_dx: bool = True, hmask: Any = None, seqs: tuple[int, ...] = (),
                   padded: bool = True) -> tuple[Any, ...]:
    T, B, In = xs.shape
    init = arrays[:n_states]
    Wx, b = arrays[n_states], arrays[n_states + 1]
    Ws = arrays[n_states + 2: n_states + 2 + n_products]
    H = init[0].shape[1]
    dtype = kernels.dtype
    g = kernels.graph
    at = n_states + 2 + n_products  # where the per-column parameters start, then the context
    extra = arrays[at:at + len(g.params)]
    params = xp.stack(extra) if extra else xp.zeros((0, H), dtype)  # one pointer: (n, H)
    layout = kernels.layout
    xc = xp.ascontiguousarray(xs)
    x2 = xc.reshape(T * B, In)
    X = [xc] if g.reads_x else []  # x_t read directly by the step (MUT1's tanh(x))
    if g.context:  # the layer below's states, read by the step (the depth-gated LSTM's)
        saved.k = _context(xp, arrays[at + len(g.params):], dtype)
        X.append(saved.k)
    xi, ni = kernels.x_columns
    b2 = b.reshape(len(g.gates), H)
    WxT = Wx.T  # BLAS reads the transpose in place
    if x2.dtype == dtype and WxT.dtype == dtype:  # dot(out=) takes only its own dtype
        P = xp.dot(x2, WxT, out=_scratch(xp, "P", (T * B, Wx.shape[0]), dtype))
    else:
        P = xp.dot(x2, WxT)
    if xp is np:  # the Numba kernels add every gate's bias (G, H) themselves: no pass over P
        bz = xp.ascontiguousarray(b2, dtype)
    else:  # the CUDA kernels read the biases of gates outside the input GEMM: (n, H)
        bz = xp.ascontiguousarray(b2[ni])
        P += b2[xi].reshape(-1)
    P = P.reshape(T, B, Wx.shape[0])  # -1 cannot be inferred when B = 0
    # each W_s^T (H, n H), C-contiguous: BLAS runs A B faster than A B^T for a few rows of A
    WTs = [transposed(xp.ascontiguousarray(W, dtype)) if xp is np else
           xp.ascontiguousarray(W.T, dtype) for W in Ws]
    hist = _take(xp, (T + 1, n_states, B, H), dtype)  # hist[t + r]: the state before step t
    us = _take(xp, (T, len(g.computed), B, H), dtype)
    r = 1 if reverse else 0
    for k in range(n_states):
        hist[T * r, k] = init[k]
    sv = _take(xp, (T, len(kernels.saved), B, H), dtype)
    y = xp.empty((T, B, H), dtype)
    prods = [xp.zeros((B, (hi - lo) * H), dtype) for _, _, lo, hi, _, _ in layout]
    steps = T
    hm, Sm, masked = _mask_arrays(xp, hmask, n_states, B, H, dtype)
    if xp is np and kernels.run_forward is not None and B > 0 and P.dtype == dtype:
        # the whole loop in one Numba call
        with _first_call(kernels, "run_forward"):
            kernels.run_forward(kernels.gemm, P, bz, *prods, *WTs, valid, *X, hist, params, us,
                                sv, y, hm, Sm, masked, reverse)
        steps = 0
    phases = kernels.phases
    forward = kernels.forward
    with _first_call(kernels, "forward") if xp is np and steps else _NO_CONTEXT:
        for n in range(steps):
            t = T - 1 - n if reverse else n
            prev = hist[t + r] if not masked else _masked_state(xp, hist[t + r], hm, valid[t])
            for i, (kind, k, _, _, _, _) in enumerate(layout):
                if kind == "s":
                    xp.dot(prev[k], WTs[i], out=prods[i])
            for p, phase in enumerate(phases):
                phase(P[t], bz, *prods, valid[t], *[a[t] for a in X], prev, params, us[t])
                for i, (kind, k, _, _, level, _) in enumerate(layout):
                    if kind == "u" and level == p:
                        xp.dot(us[t, k], WTs[i], out=prods[i])
            forward(P[t], bz, *prods, valid[t], *[a[t] for a in X], prev, params, hist[t + 1 - r],
                    sv[t], y[t])
    saved.hist, saved.us, saved.sv, saved.x2 = hist, us, sv, x2
    finals = [hist[T * (1 - r), k].copy() for k in range(n_states)]
    # the states after every step, for a layer above that reads them (its context)
    per_step = [hist[1 - r:T + 1 - r, k].copy() for k in seqs]
    return (y, *finals, *per_step)


def _layer_vjp(xp: Any, gs: tuple[Any, ...], outs: tuple[Any, ...], xs: Any, *arrays: Any,
               kernels: Compiled, n_states: int, n_products: int, reverse: bool, valid: Any,
               saved: _Saved, need_dx: bool = True, hmask: Any = None,
               seqs: tuple[int, ...] = (), padded: bool = True) -> tuple[Any, ...]:
    if saved.sv is None:
        raise RuntimeError("recurrent_layer: its saved values are gone")
    T, B, In = xs.shape
    init = arrays[:n_states]
    Wx = arrays[n_states]
    Ws = [xp.ascontiguousarray(W) for W in arrays[n_states + 2: n_states + 2 + n_products]]
    g = kernels.graph
    at = n_states + 2 + n_products  # where the per-column parameters start, then the context
    extra = arrays[at:at + len(g.params)]
    H = init[0].shape[1]
    dtype = kernels.dtype
    params = xp.stack(extra) if extra else xp.zeros((0, H), dtype)
    layout, G = kernels.layout, len(g.gates)
    hist, us, sv = saved.hist, saved.us, saved.sv
    gy = xp.zeros((T, B, H), dtype) if gs[0] is None else xp.ascontiguousarray(gs[0], dtype)
    dsp = xp.zeros((n_states, B, H), dtype)  # the pointwise carry of each state's adjoint
    for k, g_ in enumerate(gs[1:1 + n_states]):
        if g_ is not None:
            dsp[k] = g_
    # the gradients of the per-step states a layer above read: added to their adjoints
    has_gs = any(g_ is not None for g_ in gs[1 + n_states:])
    GS = xp.zeros((T, n_states, B, H) if has_gs else (0, n_states, 0, 0), dtype)
    for k, g_ in zip(seqs, gs[1 + n_states:], strict=True):
        if g_ is not None:
            GS[:, k] += g_
    dK = xp.empty_like(saved.k) if g.context else None
    ctx = (saved.k, dK) if g.context else ()
    dsg = xp.zeros((n_states, B, H), dtype)  # the recurrent GEMM's part
    gu = xp.zeros((len(g.computed), B, H), dtype)
    dz = _scratch(xp, "dz", (T, B, G * H), dtype)
    dp = xp.zeros(params.shape, dtype)
    xc = saved.x2.reshape(T, B, In)
    dxd = xp.empty((T, B, In), dtype) if g.reads_x else None  # x_t's direct part
    r = 1 if reverse else 0
    levels = [(p, kernels.phase_backward.get(p, kernels.backward))
              for p in range(g.phases, -1, -1)]
    steps = T
    hm, Sm, masked = _mask_arrays(xp, hmask, n_states, B, H, dtype)
    db = None  # the bias gradient: summed step by step in the compiled loop, else afterwards
    # the compiled loop takes outside gradients of the per-step states where the layer above
    # can read them (a stack of context cells); any other case loops in Python
    gs_args = (GS, has_gs) if g.context else ()
    if xp is np and kernels.run_backward is not None and B > 0 and (gs_args or not has_gs):
        db = xp.zeros(G * H, dtype)
        with _first_call(kernels, "run_backward"):
            kernels.run_backward(kernels.gemm, valid, gy, dsp, dsg, gu, hist, params, sv, dz,
                                 dp, db, *Ws, *((xc, dxd) if dxd is not None else ()), *ctx,
                                 *gs_args, hm, Sm, masked, reverse)
        steps = 0
    with _first_call(kernels, "backward") if xp is np and steps else _NO_CONTEXT:
        for n in range(steps - 1, -1, -1):
            t = T - 1 - n if reverse else n
            if has_gs:
                dsp += GS[t]
            prev = hist[t + r] if not masked else _masked_state(xp, hist[t + r], hm, valid[t])
            for p, kernel in levels:
                kernel(valid[t], gy[t], dsp, dsg, gu, prev, params, sv[t], dz[t], dp,
                       *((xc[t], dxd[t]) if dxd is not None else ()), *(a[t] for a in ctx))
                for i, (kind, k, lo, hi, _, first) in enumerate(layout):
                    if kind == "u" and first == p and p > 0:
                        xp.dot(dz[t][:, lo * H:hi * H], Ws[i], out=gu[k])
            for i, (kind, k, lo, hi, _, _) in enumerate(layout):
                if kind == "s":
                    xp.dot(dz[t][:, lo * H:hi * H], Ws[i], out=dsg[k])
            if masked:  # adjoints of h_{t-1} * m: times m for h_{t-1}, on the valid rows
                keep = valid[t][:, None]
                dsp[0] = xp.where(keep, dsp[0] * hm, dsp[0])
                dsg[0] = xp.where(keep, dsg[0] * hm, dsg[0])
    dinit = [dsp[k] + dsg[k] for k in range(n_states)]
    dz2 = dz.reshape(T * B, G * H)
    x2 = saved.x2
    if padded:  # padding may hold NaN: 0 * NaN is NaN
        x2 = xp.where(valid.reshape(T * B, 1), x2, 0)
    xi, _ = kernels.x_columns
    runs: list[list[int]] = []  # the x-reading gates as runs of adjacent columns of dz
    for k in xi:
        if runs and runs[-1][-1] == k - 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    cols = [dz2[:, run[0] * H:(run[-1] + 1) * H] for run in runs]
    dWx = _dot_t(xp, cols[0], x2) if len(cols) == 1 else \
        xp.concatenate([_dot_t(xp, c, x2) for c in cols]) if cols else xp.zeros(Wx.shape, dtype)
    if db is None:
        db = dz2.sum(axis=0)
    dWs = []
    for kind, k, lo, hi, _, _ in layout:
        rows = hist[r:T + r, k] if kind == "s" else us[:, k]
        if masked and kind == "s" and k == 0:  # the GEMM read h_{t-1} * m
            rows = rows * hm
        dWs.append(_dot_t(xp, dz2[:, lo * H:hi * H], rows.reshape(T * B, H)))
    dx = None
    if need_dx:
        dx = xp.zeros((T * B, In), dtype) if not cols else None
        first = 0
        for c in cols:  # one GEMM per run of x-reading columns (one run for the stock cells)
            w = Wx[first:first + c.shape[1]]
            part = matmul(c, w) if xp is np else xp.dot(c, w)
            first += c.shape[1]
            dx = part if dx is None else xp.add(dx, part, out=dx)
        dx = dx.reshape(T, B, In)
    if dx is not None and dxd is not None:
        dx += dxd
    grads = (dx, *dinit, dWx, db, *dWs, *(dp[k] for k in range(len(extra))),
             *(dK[:, i] for i in range(len(g.context))))
    if _mode.anomaly:
        names = ("input", *(f"state {s}" for s in g.states), "W_x", "b",
                 *(f"W_{name}" for _, name, _, _, _ in g.products()),
                 *(f"parameter {q}" for q in g.params), *(f"context {k}" for k in g.context))
        for name, grad in zip(names, grads, strict=True):
            if grad is not None and not bool(xp.all(xp.isfinite(grad))):
                raise FloatingPointError(f"recurrent_layer: the gradient of its {name} holds "
                                         f"NaN or Inf (shape {grad.shape})")
    return grads


def _layer_symbolic(*args: Any, **params: Any) -> Any:
    raise NotImplementedError("recurrent_layer: a compiled layer prints as its cell: "
                              "tl.symbolic.equations(cell)")


def _stacked_forward(xp: Any, xs: Any, *arrays: Any, stacks: tuple[Any, ...], n_states: int,
                     saved: _Saved, **params: Any) -> tuple[Any, ...]:
    """The node's inputs are the gates' own weight blocks and biases: they are stacked here,
    in NumPy, rather than by concat nodes on the tape (at the small size those nodes and their
    VJPs cost more than a tenth of the layer's time). ``stacks``: per stacked array (W_x, b,
    each W_s), the block shape and per block whether it is an input (else zeros), or None
    where the stacked array is itself the input (a cell that stores it, ``tl.nn.LSTMCell``)."""
    dtype = params["kernels"].dtype
    pos = n_states
    stacked = []
    for shape, present in stacks:
        if present is None:  # the cell stores this stack as one tensor: it is the input
            stacked.append(arrays[pos])
            pos += 1
            continue
        parts = []
        for here in present:
            parts.append(arrays[pos] if here else xp.zeros(shape, dtype))
            pos += bool(here)
        stacked.append(parts[0] if len(parts) == 1 else
                       xp.concatenate(parts) if parts else xp.zeros((0, *shape[1:]), dtype))
    saved.stacked, saved.end = stacked, pos
    return _layer_forward(xp, xs, *arrays[:n_states], *stacked, *arrays[pos:],
                          n_states=n_states, saved=saved, **params)


def _stacked_vjp(xp: Any, gs: tuple[Any, ...], outs: tuple[Any, ...], xs: Any, *arrays: Any,
                 stacks: tuple[Any, ...], n_states: int, saved: _Saved, **params: Any
                 ) -> tuple[Any, ...]:
    """``_layer_vjp`` on the stacked arrays, its gradients split back into blocks (views)."""
    extra = arrays[saved.end:]
    grads = _layer_vjp(xp, gs, outs, xs, *arrays[:n_states], *saved.stacked, *extra,
                       n_states=n_states, saved=saved, **params)
    out = list(grads[:1 + n_states])
    for (shape, present), grad in zip(stacks, grads[1 + n_states:], strict=False):
        rows = shape[0]
        out += [grad] if present is None else \
            [grad[k * rows:(k + 1) * rows] for k, here in enumerate(present) if here]
    return (*out, *grads[1 + n_states + len(stacks):])


#: the sequence primitive: a whole layer (one direction) of a compiled cell, one tape node
RECURRENT_LAYER = Primitive(
    "recurrent_layer", None, _stacked_forward, _stacked_vjp, _layer_symbolic,
    "a compiled cell over a sequence: the input GEMM, then per step a GEMM and a fused kernel",
    multiple=True, fresh_grads=True)


def _layer_plan(cell: Cell, kernels: Compiled
                ) -> tuple[list[tuple[str, ...]], tuple[tuple[Any, tuple[bool, ...] | None], ...]]:
    """The node's parameter inputs, each as the names ``cell.stacked_parameters`` takes (one
    gate block; or a whole stack, W_x, b or a W_s, where the cell stores it as one tensor:
    ``cell.stores_stacked``), and the stacks' description for ``_stacked_forward``. A block
    without a parameter (a gate that does not read that argument) is zeros there. Made once
    per cell and kernels (a cell's gates are fixed once it is built): the walk over the gates
    costs more than a tenth of a call at T1 B1 H1."""
    memo = cell.__dict__.get("_layer_plan")
    if memo is not None and memo[0] is kernels:
        return memo[1], memo[2]
    g = kernels.graph
    H, In = cell.hidden_size, cell.input_size
    specs = [cell.gates[name] for name in g.gates]
    x_arg = cell._args[0]
    x_specs = [specs[k] for k in kernels.x_columns[0]]
    groups: list[tuple[list[str | None], tuple[int, ...]]] = [
        ([s.weights[s.sources.index(x_arg)] for s in x_specs], (H, In)),
        ([s.bias or None for s in specs], (H,))]
    for kind, name, lo, hi, _ in g.products():
        names: list[str | None] = []
        for spec in specs[lo:hi]:
            if kind == "s":
                arg = cell._args[1 + g.states.index(name)]
                names.append(spec.weights[spec.sources.index(arg)] if arg in spec.sources
                             else None)
            else:
                pairs = next(p for n, _, p in g.computed if n == name)
                hit = [pos for gate, pos in pairs if gate == spec.name]
                names.append(spec.weights[hit[0]] if hit else None)
        groups.append((names, (H, H)))
    fetch: list[tuple[str, ...]] = []
    stacks: list[tuple[Any, tuple[bool, ...] | None]] = []
    for names, shape in groups:
        whole = [n for n in names if n is not None]
        if len(whole) > 1 and len(whole) == len(names) and cell.stores_stacked(whole):
            fetch.append(tuple(whole))  # the cell's own tensor (and no slices of it)
            stacks.append((shape, None))
        else:
            fetch += [(n,) for n in whole]
            stacks.append((shape, tuple(n is not None for n in names)))
    object.__setattr__(cell, "_layer_plan", (kernels, fetch, tuple(stacks)))
    return fetch, tuple(stacks)


def run_layer(cell: Cell, kernels: Compiled, xs: Tensor, state: tuple[Tensor, ...],
              valid: np.ndarray | None, reverse: bool, h_mask: Tensor | None = None,
              context: tuple[Tensor, ...] = (), seqs: tuple[int, ...] = ()
              ) -> tuple[Tensor, tuple[Tensor, ...], dict[int, Tensor]]:
    """``cell`` over ``xs`` (T, B, I) from ``state``: (outputs (T, B, H), final state, the
    states ``seqs`` (indices into ``cell.state``) after every step, (T, B, H) each).
    ``h_mask`` (B, H): recurrent dropout's mask, by which every step's h_{t-1} is multiplied.
    ``context``: one (T, B, H) sequence per ``cell.context`` input (the layer below's states)."""
    g = kernels.graph
    T, B, In = xs.shape
    params = cell._parameters
    fetch, stacks = _layer_plan(cell, kernels)
    block = cell.stacked_parameters  # a cell may keep its gate blocks in its own layout
    inputs = [block(names) for names in fetch]
    extra = [params[name] for name in g.params]
    mask = np.ones((T, B), dtype=bool) if valid is None else \
        np.arange(T)[:, None] < valid[None, :]
    mask = xs.backend.xp.asarray(mask)
    outs = apply(RECURRENT_LAYER, xs, *state, *inputs, *extra, *context, kernels=kernels,
                 n_states=len(g.states), n_products=len(stacks) - 2, reverse=reverse,
                 valid=mask, saved=_Saved(), need_dx=xs.requires_grad, stacks=stacks,
                 hmask=None if h_mask is None else h_mask.data, seqs=tuple(seqs),
                 padded=valid is not None)
    n = len(g.states)
    return outs[0], tuple(outs[1:1 + n]), dict(zip(seqs, outs[1 + n:], strict=True))
