"""The compiled layer's node on arrays: its forward (``layer_forward``) and its VJP
(``layer_vjp``), given the gate weights already stacked (``runner`` puts them on the tape).

Forward: the hoisted input GEMM for all steps (biases inside), then per step one
``dot(s, W_s^T, out=...)`` per state the gates read and one fused kernel (for a step in phases,
such as the GRU's, a kernel making r ⊙ h and its product first); with Numba and NumPy's BLAS
the whole time loop is one generated Numba call. Backward: per step one fused kernel and one
``dot(dZ_t, W_s)`` per such state, then dW_s, dW_x and dX as single GEMMs over all T·B rows,
and db as a column sum (in the compiled time loop: step by step, while dZ_t is in cache).

Buffers: what a node saves is reused by the next call of the same shape once the node is gone
(``_take``/``_give``), and temporaries are per-thread scratch (``_scratch``): a fresh array of
tens of MB costs a page fault per 4 KiB page on every call."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_lstm.compile.blas import matmul, transposed
from tinygrad_lstm.tape import _mode

if TYPE_CHECKING:
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


def layer_forward(xp: Any, xs: Any, *arrays: Any, kernels: Compiled, n_states: int,
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


def layer_vjp(xp: Any, gs: tuple[Any, ...], outs: tuple[Any, ...], xs: Any, *arrays: Any,
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
