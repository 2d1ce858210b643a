"""One LSTM layer, forward + backward: the planned path against hand-written NumPy and PyTorch.

What is measured
    One *iteration* runs one LSTM layer over a sequence x of shape (T, B, I) from zero state,
    takes ``loss = sum(out * w)`` with fixed random weights ``w`` of shape (T, B, H), and
    backpropagates to every parameter (not to x). float32. Sizes (T, B, I, H): ``large`` =
    (100, 64, 256, 256), where the matmuls dominate, and ``small`` = (50, 16, 64, 64), where the
    per-op bookkeeping of the tape shows. Columns, all in one process, interleaved repeat by
    repeat:

    ``fused``    ``tl.nn.Recurrent(tl.cells.LSTM(I, H))``: the planned path (x blocks of every
                 gate hoisted into one GEMM before the loop; per step one stacked recurrent
                 product added into that step's slice and cut into the gates, one
                 ``addmm_split``; see ``tinygrad_lstm/cells/plan.py``).
    ``plain``    the same module and weights with ``fused=False``: each gate on its own,
                 W·[h, x] over the concatenation, as the essay writes it.
    ``coupled``  ``CoupledLSTM`` below, a custom cell written as a user would (3 gates: f, C̃, o;
                 the input gate is 1 - f), inside ``tl.nn.Recurrent`` (fused): what a custom
                 cell costs. It does 3/4 of the stock LSTM's matmul work, so it should be
                 faster than ``fused``, or at most 10% slower.
    ``numpy``    a hand-written NumPy LSTM (``_handwritten``): stacked gate weights, the input
                 projection for all steps as one GEMM before the loop, a hand-derived BPTT
                 backward, the weight gradients as one GEMM over all steps. It calls the
                 engine's own sigmoid (the backend's kernel, if any), so both do the same
                 elementwise work. With ``--backend cupy`` it runs on CuPy.
    ``torch``    ``torch.nn.LSTM`` (PyTorch's native CPU kernels and autograd), same weights;
                 skipped with a note when ``import torch`` fails (torch is not a dependency).

    Before timing, the gradients are checked: in float64 at a tiny size, ``numpy``, ``fused``,
    ``plain`` and ``torch`` must agree to 1e-9 (and ``coupled`` fused with ``coupled`` plain);
    then in float32 at every timed size, to a relative error of 1e-4 in each gradient.

How it is timed
    ``time.perf_counter``; a warm-up, then a loop count chosen so one repeat lasts about
    ``--target-ms``; the figure is the median over ``--repeats`` repeats, the columns taking
    turns within each repeat so drift hits all of them. The backend's ``synchronize()`` runs
    before each clock read. Python's garbage collector stays on, as in a training loop.

Threads
    By default NumPy's BLAS (OpenBLAS here) keeps its own thread count, read at start-up and
    printed, and ``torch.set_num_threads`` is set to the same number; ``--threads N`` sets both
    (OpenBLAS through ctypes). NumPy's elementwise ops are single-threaded whatever that count;
    PyTorch's may use the threads too, so at the small size the torch column is not a
    like-for-like engine comparison. On a shared machine a multi-threaded GEMM waits for its
    slowest thread: any other busy process slows every column a lot, and unevenly. The load
    average before and after is printed; ``--threads 1`` is steadier.

How to read it
    ``ms/iter`` is the median time of one forward + backward. Ratios compare medians from this
    run only; the repeat-by-repeat quartiles in brackets show the noise. ``fused/numpy`` is the
    price of the framework over the hand-written code (targets: 1.3x at ``large``, 2x at
    ``small``); ``coupled/fused`` the price of a custom cell (target: at most 1.10x);
    ``plain/fused`` what the plan saves; ``fused/torch`` where we stand against PyTorch.

Usage (from the repository root; no install needed)::

    python benchmarks/lstm.py [--repeats N] [--backend numpy|cupy] [--sizes large small T,B,I,H]
                              [--threads N] [--json PATH] [--no-torch]
    python benchmarks/lstm.py --sizes small --profile fused   # cProfile, top 15 by tottime
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import importlib.util
import io
import json
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

if importlib.util.find_spec("tinygrad_lstm") is None:  # run from a checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _timing import run_loop as _run_loop  # noqa: E402
from _timing import time_round_robin as _time_round_robin  # noqa: E402

import tinygrad_lstm as tl  # noqa: E402

SIZES: dict[str, tuple[int, int, int, int]] = {
    "large": (100, 64, 256, 256),
    "small": (50, 16, 64, 64),
}
#: fused/numpy targets per named size; coupled/fused target everywhere
NUMPY_TARGETS = {"large": 1.3, "small": 2.0}
COUPLED_TARGET = 1.10
CHECK_SIZE = (7, 3, 5, 4)  # the float64 check: tiny, every path, tight tolerance
CHECK_ATOL64 = 1e-9
CHECK_RTOL32 = 1e-4
SEED = 0
TORCH_GATES = ("i", "f", "C", "o")  # PyTorch's gate order (i, f, g, o) in our gate names
COLUMNS = ("fused", "plain", "coupled", "numpy", "torch")

Step = Callable[[], Any]  # one forward + backward; returns the loss


# A custom cell written as a user would, with no hint to the plan: coupled input and forget
# gates (i = 1 - f), so 3 gates where the stock LSTM has 4.
class CoupledLSTM(tl.Cell):
    state = ("h", "c")

    def step(self, x, h, c):
        f = self.gate("f", h, x).sigmoid()
        c_tilde = self.gate("C", h, x).tanh()
        c = f * c + (1 - f) * c_tilde
        o = self.gate("o", h, x).sigmoid()
        return o * c.tanh(), c


# --- the problem and the implementations -------------------------------------------------------

@dataclass
class Problem:
    """Host data for one size: input, loss weights, and LSTM weights in PyTorch's layout."""

    steps: int
    batch: int
    inputs: int
    hidden: int
    dtype: np.dtype
    x: np.ndarray  # (T, B, I)
    w: np.ndarray  # (T, B, H): loss = sum(out * w)
    weight_ih: np.ndarray  # (4H, I), gates i, f, g, o
    weight_hh: np.ndarray  # (4H, H)
    bias: np.ndarray  # (4H,): b_ih + b_hh (PyTorch's two biases, summed)

    @property
    def label(self) -> str:
        return f"T={self.steps} B={self.batch} I={self.inputs} H={self.hidden}"


def make_problem(size: tuple[int, int, int, int], dtype: Any, seed: int = SEED) -> Problem:
    T, B, In, H = size
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)  # PyTorch's init range
    dt = np.dtype(dtype)
    return Problem(T, B, In, H, dt,
                   rng.standard_normal((T, B, In)).astype(dt),
                   rng.standard_normal((T, B, H)).astype(dt),
                   rng.uniform(-k, k, (4 * H, In)).astype(dt),
                   rng.uniform(-k, k, (4 * H, H)).astype(dt),
                   rng.uniform(-k, k, 4 * H).astype(dt))


@dataclass
class Impl:
    """One column: ``step`` runs an iteration; ``grads`` reads the last one's gradients in
    PyTorch's layout ({"weight_ih", "weight_hh", "bias"}, gates i, f, g, o), or our native names
    (``coupled``, which has no PyTorch counterpart)."""

    step: Step
    grads: Callable[[], dict[str, np.ndarray]]


def _native_state(p: Problem) -> dict[str, np.ndarray]:
    """The problem's weights under tl.cells.LSTM's parameter names, inside Recurrent (l0.*)."""
    H = p.hidden
    out = {}
    for k, g in enumerate(TORCH_GATES):
        rows = slice(k * H, (k + 1) * H)
        out[f"l0.W_{g}_x"] = p.weight_ih[rows]
        out[f"l0.W_{g}_h"] = p.weight_hh[rows]
        out[f"l0.b_{g}"] = p.bias[rows]
    return out


def _ours(p: Problem, backend: Any, fused: bool) -> Impl:
    rnn = tl.nn.Recurrent(tl.cells.LSTM(p.inputs, p.hidden, dtype=p.dtype), fused=fused)
    rnn.to(backend)
    rnn.load_state_dict(_native_state(p))
    x = tl.Tensor(p.x, dtype=p.dtype, backend=backend)
    w = tl.Tensor(p.w, dtype=p.dtype, backend=backend)
    params = dict(rnn.named_parameters())

    def step() -> Any:
        rnn.zero_grad()
        out, _ = rnn(x)
        loss = (out * w).sum()
        loss.backward()
        return loss

    def grads() -> dict[str, np.ndarray]:
        def get(name: str) -> np.ndarray:
            return params[name].grad.numpy()

        return {"weight_ih": np.concatenate([get(f"l0.W_{g}_x") for g in TORCH_GATES]),
                "weight_hh": np.concatenate([get(f"l0.W_{g}_h") for g in TORCH_GATES]),
                "bias": np.concatenate([get(f"l0.b_{g}") for g in TORCH_GATES])}

    return Impl(step, grads)


def _coupled(p: Problem, backend: Any, fused: bool = True) -> Impl:
    tl.manual_seed(SEED)  # the same weights for the fused and the plain coupled cell
    rnn = tl.nn.Recurrent(CoupledLSTM(p.inputs, p.hidden, dtype=p.dtype), fused=fused)
    rnn.to(backend)
    x = tl.Tensor(p.x, dtype=p.dtype, backend=backend)
    w = tl.Tensor(p.w, dtype=p.dtype, backend=backend)

    def step() -> Any:
        rnn.zero_grad()
        out, _ = rnn(x)
        loss = (out * w).sum()
        loss.backward()
        return loss

    def grads() -> dict[str, np.ndarray]:
        return {name: q.grad.numpy() for name, q in rnn.named_parameters()}

    return Impl(step, grads)


def _engine_sigmoid(backend: Any) -> Callable[[Any, Any], Any]:
    """The sigmoid the engine runs on ``backend``: its kernel if it has one, else the table's
    overflow-free form. The hand-written column calls it too, so both do the same array work
    and the difference is the framework."""
    return backend.kernels.get("sigmoid", tl.PRIMITIVES["sigmoid"].forward)


def _handwritten(p: Problem, backend: Any) -> Impl:
    """The LSTM in NumPy as one would write it by hand, with a hand-derived BPTT backward.

    Gates are stacked in the order i, f, o, g so the three sigmoids are one call on 3H
    columns. Forward steps are numbered F1..F7; each backward line names the step it inverts.
    """
    T, B, In, H = p.steps, p.batch, p.inputs, p.hidden
    dt = p.dtype
    xp = backend.xp
    sigmoid = _engine_sigmoid(backend)
    order = np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]  # PyTorch's i, f, g, o -> i, f, o, g
    back = np.argsort(order)
    Wx = xp.asarray(np.ascontiguousarray(p.weight_ih[order].T))  # (I, 4H)
    Wh = xp.asarray(np.ascontiguousarray(p.weight_hh[order].T))  # (H, 4H)
    WhT = xp.asarray(np.ascontiguousarray(p.weight_hh[order]))  # (4H, H), for dh
    b = xp.asarray(p.bias[order])
    X = xp.asarray(p.x).reshape(T * B, In)
    w = xp.asarray(p.w)
    out: dict[str, Any] = {}

    def step() -> Any:
        # ---- forward
        pre_x = (X @ Wx + b).reshape(T, B, 4 * H)  # F1: x_t W_x + b for every t, one GEMM
        hs = xp.zeros((T + 1, B, H), dtype=dt)  # hs[t + 1] = h_t; hs[0] = h_0 = 0
        cs = xp.zeros((T + 1, B, H), dtype=dt)  # cs[t + 1] = c_t
        acts = xp.empty((T, B, 4 * H), dtype=dt)  # [i, f, o, g] after their nonlinearities
        tcs = xp.empty((T, B, H), dtype=dt)  # tanh(c_t)
        for t in range(T):
            a = pre_x[t] + hs[t] @ Wh  # F2: a = x_t W_x + b + h_{t-1} W_h
            acts[t, :, :3 * H] = sigmoid(xp, a[:, :3 * H])  # F3: i, f, o = σ(a_i, a_f, a_o)
            acts[t, :, 3 * H:] = xp.tanh(a[:, 3 * H:])  # F3: g = tanh(a_g)
            i, f = acts[t, :, :H], acts[t, :, H:2 * H]
            o, g = acts[t, :, 2 * H:3 * H], acts[t, :, 3 * H:]
            cs[t + 1] = f * cs[t] + i * g  # F4: c_t = f c_{t-1} + i g
            tcs[t] = xp.tanh(cs[t + 1])  # F5: tanh(c_t)
            hs[t + 1] = o * tcs[t]  # F6: h_t = o tanh(c_t)
        loss = (hs[1:] * w).sum()  # F7: loss = Σ h_t w_t

        # ---- backward
        dA = xp.empty((T, B, 4 * H), dtype=dt)  # dloss/da_t, columns i, f, o, g
        dh_next = xp.zeros((B, H), dtype=dt)  # dloss/dh_t through step t+1 (F2 of t+1)
        dc_next = xp.zeros((B, H), dtype=dt)  # dloss/dc_t through step t+1 (F4 of t+1)
        for t in range(T - 1, -1, -1):
            i, f = acts[t, :, :H], acts[t, :, H:2 * H]
            o, g = acts[t, :, 2 * H:3 * H], acts[t, :, 3 * H:]
            tc = tcs[t]
            dh = w[t] + dh_next  # F7 (dloss/dh_t = w_t) plus F2 of step t+1
            do = dh * tc  # F6: dh_t/do = tanh(c_t)
            dc = dc_next + dh * o * (1 - tc * tc)  # F6 through F5: dh_t/dc_t = o (1 - tanh²)
            dA[t, :, :H] = dc * g * i * (1 - i)  # F4 (dc_t/di = g), then F3 (σ' = i (1 - i))
            dA[t, :, H:2 * H] = dc * cs[t] * f * (1 - f)  # F4 (dc_t/df = c_{t-1}), then F3
            dA[t, :, 2 * H:3 * H] = do * o * (1 - o)  # F3: σ'
            dA[t, :, 3 * H:] = dc * i * (1 - g * g)  # F4 (dc_t/dg = i), then F3 (tanh')
            dc_next = dc * f  # F4: dc_t/dc_{t-1} = f
            dh_next = dA[t] @ WhT  # F2: da_t/dh_{t-1} = W_h
        flat = dA.reshape(T * B, 4 * H)
        out["dWh"] = hs[:-1].reshape(T * B, H).T @ flat  # F2: Σ_t h_{t-1}^T da_t, one GEMM
        out["dWx"] = X.T @ flat  # F1: Σ_t x_t^T da_t
        out["db"] = flat.sum(axis=0)  # F1: Σ_t da_t
        return loss

    def grads() -> dict[str, np.ndarray]:
        def host(a: Any) -> np.ndarray:
            return a.get() if hasattr(a, "get") else np.asarray(a)

        return {"weight_ih": host(out["dWx"]).T[back], "weight_hh": host(out["dWh"]).T[back],
                "bias": host(out["db"])[back]}

    return Impl(step, grads)


def _torch_lstm(p: Problem, torch: Any) -> Impl:
    tdt = torch.float64 if p.dtype == np.float64 else torch.float32
    net = torch.nn.LSTM(p.inputs, p.hidden, dtype=tdt)
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.from_numpy(p.weight_ih))
        net.weight_hh_l0.copy_(torch.from_numpy(p.weight_hh))
        net.bias_ih_l0.copy_(torch.from_numpy(p.bias))
        net.bias_hh_l0.zero_()
    x = torch.from_numpy(p.x)
    w = torch.from_numpy(p.w)

    def step() -> Any:
        net.zero_grad(set_to_none=True)
        out, _ = net(x)
        loss = (out * w).sum()
        loss.backward()
        return loss

    def grads() -> dict[str, np.ndarray]:
        b_ih, b_hh = net.bias_ih_l0.grad.numpy(), net.bias_hh_l0.grad.numpy()
        if not np.allclose(b_ih, b_hh, rtol=1e-5, atol=1e-6):  # both enter the same sum
            raise SystemExit("torch: bias_ih and bias_hh gradients differ; unexpected")
        return {"weight_ih": net.weight_ih_l0.grad.numpy().copy(),
                "weight_hh": net.weight_hh_l0.grad.numpy().copy(), "bias": b_ih.copy()}

    return Impl(step, grads)


def build(p: Problem, backend: Any, torch: Any) -> dict[str, Impl]:
    impls = {
        "fused": _ours(p, backend, fused=True),
        "plain": _ours(p, backend, fused=False),
        "coupled": _coupled(p, backend),
        "numpy": _handwritten(p, backend),
    }
    if torch is not None:
        impls["torch"] = _torch_lstm(p, torch)
    return impls


# --- checking ----------------------------------------------------------------------------------

def _worst(ours: dict[str, np.ndarray], ref: dict[str, np.ndarray], relative: bool) -> float:
    """The largest error over the gradients: max |a - b|, or ||a - b|| / ||b|| per tensor."""
    if set(ours) != set(ref):
        return float("inf")
    worst = 0.0
    for key, r in ref.items():
        a = np.asarray(ours[key], dtype=np.float64)
        r = np.asarray(r, dtype=np.float64)
        if a.shape != r.shape:
            return float("inf")
        err = np.linalg.norm(a - r) / max(np.linalg.norm(r), 1e-30) if relative \
            else np.max(np.abs(a - r))
        worst = max(worst, float(err))
    return worst


def check(p: Problem, backend: Any, torch: Any, tight: bool) -> dict[str, float]:
    """Run every column once; its gradients must match the hand-written ones (and the fused
    coupled cell its plain path). ``tight``: float64, absolute 1e-9; else relative 1e-4."""
    limit = CHECK_ATOL64 if tight else CHECK_RTOL32
    impls = build(p, backend, torch)
    impls["coupled-plain"] = _coupled(p, backend, fused=False)
    grads, losses = {}, {}
    for name, impl in impls.items():
        losses[name] = _scalar(impl.step(), backend)
        grads[name] = impl.grads()
    errors = {}
    for name in impls:
        if name in ("numpy", "coupled-plain"):
            continue
        ref = "coupled-plain" if name == "coupled" else "numpy"
        errors[name] = _worst(grads[name], grads[ref], relative=not tight)
        loss_error = abs(losses[name] - losses[ref]) / max(abs(losses[ref]), 1.0)
        if not (errors[name] <= limit and loss_error <= limit):
            kind = "max abs" if tight else "relative"
            raise SystemExit(f"{p.label} {p.dtype}: '{name}' differs from '{ref}' (gradients: "
                             f"{kind} error {errors[name]:.2e}, loss: {loss_error:.2e}, "
                             f"limit {limit:.0e}); not timing an incorrect computation")
    return errors


def _scalar(loss: Any, backend: Any) -> float:
    """A loss from any column (our Tensor, a backend array, a torch tensor) as a float."""
    if isinstance(loss, tl.Tensor):
        return loss.item()
    if hasattr(loss, "detach"):  # torch
        return float(loss.detach())
    return float(backend.to_numpy(loss))


# --- timing ------------------------------------------------------------------------------------

def _paired(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Repeat-by-repeat ratios a/b (the columns ran back to back): median and quartiles."""
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    if len(ratios) >= 2:
        q1, q2, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    else:
        q1 = q2 = q3 = ratios[0]
    return {"q1": q1, "median": q2, "q3": q3, "ratios": ratios}


# --- threads -----------------------------------------------------------------------------------

_OPENBLAS_NAMES = (("scipy_openblas_", "64_"), ("openblas_", "64_"), ("openblas_", ""))


def _openblas() -> tuple[Any, str, str] | None:
    """NumPy's OpenBLAS (the library loaded in this process) and its symbol prefix/suffix."""
    try:
        with open("/proc/self/maps") as maps:
            libs = sorted({line.split()[-1] for line in maps
                           if "openblas" in line.lower() and line.split()[-1].startswith("/")})
        for path in libs:
            lib = ctypes.CDLL(path)
            for prefix, suffix in _OPENBLAS_NAMES:
                if hasattr(lib, f"{prefix}get_num_threads{suffix}"):
                    return lib, prefix, suffix
    except OSError:  # no /proc (not Linux), or the library would not load
        pass
    return None


def blas_threads(set_to: int | None = None) -> tuple[int | None, str]:
    """NumPy's BLAS thread count (after setting it to ``set_to``), and how it was found."""
    found = _openblas()
    if found is not None:
        lib, prefix, suffix = found
        if set_to is not None:
            setter = getattr(lib, f"{prefix}set_num_threads{suffix}")
            setter.argtypes = [ctypes.c_int]
            setter(set_to)
        getter = getattr(lib, f"{prefix}get_num_threads{suffix}")
        getter.restype = ctypes.c_int
        return int(getter()), f"OpenBLAS {prefix}get_num_threads{suffix}()"
    try:
        from threadpoolctl import threadpool_info  # optional

        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                if set_to is not None:
                    return None, "unknown: cannot set it (not OpenBLAS)"
                return int(pool["num_threads"]), f"threadpoolctl ({pool.get('internal_api')})"
    except Exception:  # not installed
        pass
    return None, "unknown (no OpenBLAS found, no threadpoolctl)"


def _import_torch(notes: list[str], threads: int | None) -> Any:
    try:
        import torch
    except Exception as err:  # not installed, or a broken install
        notes.append(f"torch column skipped: `import torch` failed ({type(err).__name__}: "
                     f"{err}); pip install torch to get it")
        return None
    if threads:
        torch.set_num_threads(threads)
    notes.append(f"torch {torch.__version__}, torch.nn.LSTM on the CPU, "
                 f"torch.set_num_threads({torch.get_num_threads()})")
    return torch


# --- running and reporting ---------------------------------------------------------------------

def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on this platform
        return None


def parse_size(text: str) -> tuple[str, tuple[int, int, int, int]]:
    if text in SIZES:
        return text, SIZES[text]
    try:
        size = tuple(int(n) for n in text.split(","))
    except ValueError:
        size = ()
    if len(size) != 4 or min(size) < 1:
        raise argparse.ArgumentTypeError(f"size {text!r}: use one of {', '.join(SIZES)} or "
                                         "T,B,I,H (four positive ints)")
    return text, size  # type: ignore[return-value]


def run(sizes: Sequence[tuple[str, tuple[int, int, int, int]]], repeats: int = 11,
        backend_name: str = "numpy", target_ms: float = 200.0, use_torch: bool = True,
        threads: int | None = None) -> dict[str, Any]:
    """Check, then time every column at every size; return the results (what --json writes).

    ``threads``: NumPy's BLAS and torch both use this many (default: BLAS as it is, torch
    matched to it)."""
    with tl.use_backend(backend_name) as backend:
        return _run(sizes, repeats, backend, target_ms, use_torch, threads)


def _run(sizes: Sequence[tuple[str, tuple[int, int, int, int]]], repeats: int, backend: Any,
         target_ms: float, use_torch: bool, set_threads: int | None) -> dict[str, Any]:
    notes: list[str] = []
    load_before = _load()
    threads, how = blas_threads(set_threads)
    notes.append(f"NumPy BLAS threads: {threads if threads else '?'} "
                 f"({'set with --threads, ' if set_threads else ''}read via {how}); "
                 "NumPy elementwise ops are single-threaded")
    torch = None
    if use_torch:
        torch = _import_torch(notes, set_threads or threads)
    else:
        notes.append("torch column skipped: --no-torch")
    if backend.name != "numpy":
        notes.append(f"'numpy' column uses {backend.xp.__name__} (the backend's array module); "
                     "the torch column stays on the CPU, a different device")
    tiny = make_problem(CHECK_SIZE, np.float64)
    checks = {"float64 " + tiny.label: check(tiny, backend, torch, tight=True)}
    results = []
    for name, size in sizes:
        p = make_problem(size, np.float32)
        checks["float32 " + p.label] = check(p, backend, torch, tight=False)
        impls = build(p, backend, torch)
        timings = _time_round_robin({k: v.step for k, v in impls.items()}, backend.synchronize,
                                    repeats, target_ms / 1000.0)
        pairs = [("fused", "numpy"), ("coupled", "fused"), ("plain", "fused"),
                 ("fused", "torch")]
        ratios = {}
        for a, b in pairs:
            if a in timings and b in timings:
                ratios[f"{a}/{b}"] = {
                    "of_medians": timings[a]["median_s_per_iter"]
                    / timings[b]["median_s_per_iter"],
                    **_paired(timings[a]["samples_s_per_iter"],
                              timings[b]["samples_s_per_iter"])}
        targets = {"coupled/fused": COUPLED_TARGET}
        if name in NUMPY_TARGETS:
            targets["fused/numpy"] = NUMPY_TARGETS[name]
        results.append({"name": name, "size": dict(zip("TBIH", size, strict=True)),
                        "timings": timings, "ratios": ratios, "targets": targets})
    load_after = _load()
    if load_before is not None and load_after is not None:
        notes.append(f"load average (1 min) {load_before:.2f} before, {load_after:.2f} after, "
                     f"on {os.cpu_count()} CPUs; the benchmark itself keeps one or two busy: "
                     "much more means other work competed and the figures are suspect")
    return {
        "meta": {
            "backend": backend.name, "repeats": repeats, "target_ms": target_ms,
            "load_average_1min": [load_before, load_after], "dtype": "float32",
            "python": platform.python_version(), "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None),
            "torch_threads": torch.get_num_threads() if torch is not None else None,
            "blas_threads": threads, "tinygrad_lstm": getattr(tl, "__version__", None),
            "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "timer": "time.perf_counter, median over repeats",
        },
        "checks": checks,
        "notes": notes,
        "benchmarks": results,
    }


def format_report(report: dict[str, Any]) -> str:
    meta = report["meta"]
    out = [f"tinygrad_lstm LSTM layer, forward+backward, {meta['dtype']}, backend="
           f"{meta['backend']}, median of {meta['repeats']} repeats (python {meta['python']}, "
           f"numpy {meta['numpy']}, {meta['cpu_count']} CPUs)", ""]
    for label, errors in report["checks"].items():
        kind = "max abs error" if label.startswith("float64") else "relative error"
        shown = ", ".join(f"{k} {v:.1e}" for k, v in errors.items())
        out.append(f"gradient check {label} ({kind}; vs numpy, coupled vs its plain path): "
                   f"{shown}")
    for bench in report["benchmarks"]:
        t = bench["timings"]
        s = bench["size"]
        out += ["", f"{bench['name']}: T={s['T']} B={s['B']} I={s['I']} H={s['H']}"]
        base = t["numpy"]["median_s_per_iter"]
        out.append(f"  {'column':<8} {'ms/iter':>9} {'x numpy':>8} {'loops':>6}")
        for col in COLUMNS:
            if col in t:
                c = t[col]
                out.append(f"  {col:<8} {c['median_s_per_iter'] * 1e3:9.2f} "
                           f"{c['median_s_per_iter'] / base:7.2f}x {c['number']:6d}")
        for key, r in bench["ratios"].items():
            line = (f"  {key:<14} {r['of_medians']:5.2f}x  "
                    f"[repeat-by-repeat {r['median']:.2f}, quartiles {r['q1']:.2f}-"
                    f"{r['q3']:.2f}]")
            target = bench["targets"].get(key)
            if target is not None:
                verdict = "met" if r["of_medians"] <= target else "MISSED"
                line += f"  target <= {target:.2f}x: {verdict}"
            out.append(line)
    out.append("")
    out += [f"note: {n}" for n in report["notes"]]
    return "\n".join(out)


def profile(name: str, size: tuple[int, int, int, int], backend_name: str, iterations: int,
            top: int = 15, set_threads: int | None = None) -> str:
    """cProfile ``iterations`` iterations of one column; the top functions by own time."""
    threads, _ = blas_threads(set_threads)
    with tl.use_backend(backend_name) as backend:
        p = make_problem(size, np.float32)
        torch = _import_torch([], threads) if name == "torch" else None
        impls = build(p, backend, torch)
        if name not in impls:
            raise SystemExit(f"--profile {name}: no such column here ({', '.join(impls)})")
        step = impls[name].step
        for _ in range(2):
            step()
        plain = _run_loop(step, iterations, backend.synchronize)
        prof = cProfile.Profile()
        start = time.perf_counter()
        prof.enable()
        for _ in range(iterations):
            step()
        prof.disable()
        wall = time.perf_counter() - start
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    head = (f"cProfile of '{name}' at T={size[0]} B={size[1]} I={size[2]} H={size[3]}, "
            f"{iterations} iterations: {plain * 1e3:.2f} ms/iter without the profiler, "
            f"{wall / iterations * 1e3:.2f} ms/iter under it (total {stats.total_tt:.3f} s); "
            f"BLAS threads {threads if threads else '?'}, load average {_load()}")
    return head + "\n" + buf.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11,
                        help="timed repeats per column; the median is reported (default 11)")
    parser.add_argument("--backend", default="numpy", choices=["numpy", "cupy"],
                        help="tinygrad_lstm backend (default numpy)")
    parser.add_argument("--sizes", nargs="+", type=parse_size, metavar="SIZE",
                        default=[parse_size("large"), parse_size("small")],
                        help="large, small, or T,B,I,H (default: large small)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    parser.add_argument("--target-ms", type=float, default=200.0,
                        help="approximate length of one repeat of one column in milliseconds "
                             "(default 200)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="NumPy's BLAS (OpenBLAS, set through ctypes) and torch both use N "
                             "threads (default: BLAS as it is, torch matched to it); 1 is "
                             "steadier on a shared machine")
    parser.add_argument("--profile", choices=COLUMNS, metavar="COLUMN",
                        help=f"instead of timing, cProfile one column ({', '.join(COLUMNS)}) "
                             "at the first size and print the top 15 functions by own time")
    parser.add_argument("--profile-iterations", type=int, default=20, metavar="N",
                        help="iterations to profile (default 20)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    try:
        if args.profile:
            print(profile(args.profile, args.sizes[0][1], args.backend,
                          args.profile_iterations, set_threads=args.threads))
            return 0
        report = run(args.sizes, args.repeats, args.backend, args.target_ms, not args.no_torch,
                     args.threads)
    except tl.BackendUnavailable as err:
        print(f"backend '{args.backend}' cannot run here: {err}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
