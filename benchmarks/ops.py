"""Per-op overhead of the tape: tinygrad_lstm against hand-written NumPy and PyTorch eager.

What is measured
    One *iteration* is a full forward pass, ``loss.sum()``, and ``backward()`` to every leaf, on
    tiny arrays where the arithmetic costs next to nothing, so the figures are dominated by
    per-operation bookkeeping (Python dispatch, graph recording, the backward walk):

    ``elementwise``  50 ops on a (16, 16) float32 tensor, cycling ``h * a``, ``h + b``,
                     ``tanh(h)``, ``sigmoid(h)``; gradients to ``x``, ``a`` and ``b``.
    ``matmul-tanh``  10 layers of ``h = tanh(h @ W_i)`` with ``h`` (16, 32) and ``W_i``
                     (32, 32); gradients to ``x`` and every ``W_i``.

    The same math runs three ways, in the same process, interleaved repeat by repeat:

    ``ours``   tinygrad_lstm ``Tensor`` ops on the chosen backend, recorded on the tape.
    ``numpy``  the same forward written directly against the backend's array module (NumPy,
               or CuPy with ``--backend cupy``) with a hand-written backward: no graph, no
               wrappers. Its sigmoid uses the engine's overflow-free formula, so both do the
               same array work and the difference is pure engine overhead.
    ``torch``  PyTorch eager autograd on the CPU, ``torch.set_num_threads(1)``; the column is
               skipped (with a note) when ``import torch`` fails. torch is not a dependency.

    Before timing, the gradients of the three are checked against each other.

How it is timed
    ``time.perf_counter``; a warm-up, then a loop count chosen so one repeat lasts about
    ``--target-ms``; the figure is the median over ``--repeats`` repeats (machines are shared and
    noisy), and the implementations take turns within each repeat so drift hits all of them.
    The backend's ``synchronize()`` runs before each clock read (it matters for CuPy only).
    Python's garbage collector stays on, as it is in a training loop.

How to read it
    ``us/op`` is the median iteration time divided by the number of tensor ops in the iteration
    (forward ops including the final sum; each op's backward is counted with it).
    ``ours/numpy`` is the price of the tape over the bare array calls: 1.0 would be free; at these
    sizes it is roughly (engine overhead + array work) / array work. ``ours/torch`` below 1.0 means
    a tracked op costs less than a PyTorch eager op on the CPU. Ratios come from medians taken in
    this run only; never compare figures across machines or runs.

Usage (from the repository root; no install needed)::

    python benchmarks/ops.py [--repeats N] [--backend numpy|cupy] [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

if importlib.util.find_spec("tinygrad_lstm") is None:  # run from a checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _timing import time_round_robin as _time_round_robin  # noqa: E402 - shared, beside this file

import tinygrad_lstm as tl  # noqa: E402

ELEMENTWISE_OPS = 50
ELEMENTWISE_SHAPE = (16, 16)
MATMUL_LAYERS = 10
MATMUL_BATCH, MATMUL_WIDTH = 16, 32
SEED = 0
RTOL, ATOL = 1e-4, 1e-5

MUL, ADD, TANH, SIGMOID = range(4)
_CYCLE = (MUL, ADD, TANH, SIGMOID)

Step = Callable[[], Sequence[Any]]  # one forward + backward; returns the leaves' gradients


# --- workloads -------------------------------------------------------------------------------

@dataclass
class Workload:
    """One benchmark: host data, the op count of one iteration, and a step per implementation."""

    name: str
    description: str
    ops: int  # tensor ops per iteration (forward, including the final sum)
    data: dict[str, Any]
    builders: dict[str, Callable[..., Step]] = field(default_factory=dict)


def _np_sigmoid(xp: Any, x: Any) -> Any:
    """The engine's overflow-free sigmoid, written out (same five array passes)."""
    e = xp.exp(-xp.abs(x))
    r = 1 / (1 + e)
    return xp.where(x >= 0, r, e * r)


def _elementwise_workload() -> Workload:
    rng = np.random.default_rng(SEED)
    f32 = np.float32
    data = {
        "x": rng.standard_normal(ELEMENTWISE_SHAPE).astype(f32),
        "a": rng.uniform(0.5, 1.5, ELEMENTWISE_SHAPE).astype(f32),
        "b": (0.1 * rng.standard_normal(ELEMENTWISE_SHAPE)).astype(f32),
    }
    codes = [_CYCLE[i % len(_CYCLE)] for i in range(ELEMENTWISE_OPS)]

    def ours(backend: Any, xp: Any) -> Step:
        X, A, B = (tl.Tensor(data[k], requires_grad=True, backend=backend) for k in "xab")
        fns: list[Callable[[Any], Any]] = [
            {MUL: lambda h: h * A, ADD: lambda h: h + B,
             TANH: lambda h: h.tanh(), SIGMOID: lambda h: h.sigmoid()}[c] for c in codes]

        def step() -> Sequence[Any]:
            X.grad = A.grad = B.grad = None
            h = X
            for fn in fns:
                h = fn(h)
            h.sum().backward()
            return X.grad.data, A.grad.data, B.grad.data

        return step

    def handwritten(backend: Any, xp: Any) -> Step:
        x, a, b = (xp.asarray(data[k]) for k in "xab")

        def step() -> Sequence[Any]:
            h = x
            saved: list[Any] = []
            for c in codes:
                if c == MUL:
                    saved.append(h)
                    h = h * a
                elif c == ADD:
                    saved.append(None)
                    h = h + b
                elif c == TANH:
                    h = xp.tanh(h)
                    saved.append(h)
                else:
                    h = _np_sigmoid(xp, h)
                    saved.append(h)
            h.sum()
            g = xp.ones_like(h)
            ga = xp.zeros_like(a)
            gb = xp.zeros_like(b)
            for c, s in zip(reversed(codes), reversed(saved), strict=True):
                if c == MUL:
                    ga += g * s
                    g = g * a
                elif c == ADD:
                    gb += g
                elif c == TANH:
                    g = g * (1 - s * s)
                else:
                    g = g * s * (1 - s)
            return g, ga, gb

        return step

    def torch_eager(torch: Any) -> Step:
        X, A, B = (torch.tensor(data[k], requires_grad=True) for k in "xab")
        fns: list[Callable[[Any], Any]] = [
            {MUL: lambda h: h * A, ADD: lambda h: h + B,
             TANH: lambda h: h.tanh(), SIGMOID: lambda h: h.sigmoid()}[c] for c in codes]

        def step() -> Sequence[Any]:
            X.grad = A.grad = B.grad = None
            h = X
            for fn in fns:
                h = fn(h)
            h.sum().backward()
            return X.grad, A.grad, B.grad

        return step

    return Workload(
        "elementwise",
        f"{ELEMENTWISE_OPS} x (mul|add|tanh|sigmoid) on {ELEMENTWISE_SHAPE} float32, then sum",
        ELEMENTWISE_OPS + 1, data,
        {"ours": ours, "numpy": handwritten, "torch": torch_eager})


def _matmul_workload() -> Workload:
    rng = np.random.default_rng(SEED + 1)
    f32 = np.float32
    scale = 1.0 / np.sqrt(MATMUL_WIDTH)
    data = {
        "x": rng.standard_normal((MATMUL_BATCH, MATMUL_WIDTH)).astype(f32),
        "Ws": [(scale * rng.standard_normal((MATMUL_WIDTH, MATMUL_WIDTH))).astype(f32)
               for _ in range(MATMUL_LAYERS)],
    }

    def ours(backend: Any, xp: Any) -> Step:
        X = tl.Tensor(data["x"], requires_grad=True, backend=backend)
        Ws = [tl.Tensor(w, requires_grad=True, backend=backend) for w in data["Ws"]]

        def step() -> Sequence[Any]:
            X.grad = None
            for W in Ws:
                W.grad = None
            h = X
            for W in Ws:
                h = (h @ W).tanh()
            h.sum().backward()
            return [X.grad.data] + [W.grad.data for W in Ws]

        return step

    def handwritten(backend: Any, xp: Any) -> Step:
        x = xp.asarray(data["x"])
        Ws = [xp.asarray(w) for w in data["Ws"]]

        def step() -> Sequence[Any]:
            hs = [x]
            for W in Ws:
                hs.append(xp.tanh(hs[-1] @ W))
            hs[-1].sum()
            g = xp.ones_like(hs[-1])
            gWs: list[Any] = [None] * len(Ws)
            for i in reversed(range(len(Ws))):
                out = hs[i + 1]
                g = g * (1 - out * out)
                gWs[i] = hs[i].T @ g
                g = g @ Ws[i].T
            return [g] + gWs

        return step

    def torch_eager(torch: Any) -> Step:
        X = torch.tensor(data["x"], requires_grad=True)
        Ws = [torch.tensor(w, requires_grad=True) for w in data["Ws"]]

        def step() -> Sequence[Any]:
            X.grad = None
            for W in Ws:
                W.grad = None
            h = X
            for W in Ws:
                h = (h @ W).tanh()
            h.sum().backward()
            return [X.grad] + [W.grad for W in Ws]

        return step

    return Workload(
        "matmul-tanh",
        f"{MATMUL_LAYERS} x tanh(h @ W), h ({MATMUL_BATCH}, {MATMUL_WIDTH}), "
        f"W ({MATMUL_WIDTH}, {MATMUL_WIDTH}) float32, then sum",
        2 * MATMUL_LAYERS + 1, data,
        {"ours": ours, "numpy": handwritten, "torch": torch_eager})


# --- timing ----------------------------------------------------------------------------------

def _to_numpy(array: Any, backend: Any) -> np.ndarray:
    if hasattr(array, "detach"):  # a torch tensor
        return array.detach().numpy()
    return backend.to_numpy(array)


def _check_agree(workload: Workload, steps: dict[str, Step], backend: Any) -> None:
    """All implementations must produce the same gradients, or the timings mean nothing."""
    results = {name: [_to_numpy(g, backend) for g in step()] for name, step in steps.items()}
    reference = results["numpy"]
    for name, grads in results.items():
        ok = len(grads) == len(reference) and all(
            g.shape == r.shape and np.allclose(g, r, rtol=RTOL, atol=ATOL)
            for g, r in zip(grads, reference, strict=False))
        if not ok:
            raise SystemExit(f"{workload.name}: the gradients of '{name}' differ from the "
                             "hand-written NumPy ones; not timing an incorrect computation")


# --- running and reporting -------------------------------------------------------------------

def _import_torch(notes: list[str]) -> Any:
    try:
        import torch
    except Exception as err:  # not installed, or a broken install
        notes.append(f"torch column skipped: `import torch` failed ({type(err).__name__}: "
                     f"{err}); pip install torch to get it")
        return None
    torch.set_num_threads(1)
    notes.append(f"torch {torch.__version__} eager on the CPU with torch.set_num_threads(1)")
    return torch


def run(repeats: int = 21, backend_name: str = "numpy", target_ms: float = 40.0,
        use_torch: bool = True) -> dict[str, Any]:
    """Run every workload; return the results (what ``--json`` writes)."""
    with tl.use_backend(backend_name) as backend:  # the previous backend comes back after
        return _run(repeats, backend, target_ms, use_torch)


def _run(repeats: int, backend: Any, target_ms: float, use_torch: bool) -> dict[str, Any]:
    notes: list[str] = []
    xp = backend.xp
    torch = _import_torch(notes) if use_torch else None
    if torch is None and not use_torch:
        notes.append("torch column skipped: --no-torch")
    if backend.name != "numpy":
        notes.append(f"'numpy' column uses {xp.__name__} (the backend's array module); "
                     "the torch column stays on the CPU, a different device")
    notes.append("NumPy's BLAS thread count is left as is; 16x32x32 matmuls are far below the "
                 "size at which BLAS splits work across threads")
    sync = backend.synchronize
    results: list[dict[str, Any]] = []
    for workload in (_elementwise_workload(), _matmul_workload()):
        steps: dict[str, Step] = {
            "ours": workload.builders["ours"](backend, xp),
            "numpy": workload.builders["numpy"](backend, xp),
        }
        if torch is not None:
            steps["torch"] = workload.builders["torch"](torch)
        _check_agree(workload, steps, backend)
        timings = _time_round_robin(steps, sync, repeats, target_ms / 1000.0)
        for t in timings.values():
            t["us_per_op"] = t["median_s_per_iter"] * 1e6 / workload.ops
        ratios = {f"ours/{name}": timings["ours"]["median_s_per_iter"]
                  / timings[name]["median_s_per_iter"] for name in timings if name != "ours"}
        paired = {f"ours/{name}": _paired(timings["ours"]["samples_s_per_iter"],
                                          timings[name]["samples_s_per_iter"])
                  for name in timings if name != "ours"}
        results.append({"name": workload.name, "description": workload.description,
                        "ops": workload.ops, "timings": timings, "ratios": ratios,
                        "paired_ratios": paired})
    return {
        "meta": {
            "backend": backend.name, "repeats": repeats, "target_ms": target_ms,
            "python": platform.python_version(), "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None),
            "tinygrad_lstm": getattr(tl, "__version__", None),
            "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "timer": "time.perf_counter, median over repeats",
        },
        "notes": notes,
        "benchmarks": results,
    }


def _paired(ours: Sequence[float], other: Sequence[float]) -> dict[str, Any]:
    """Repeat-by-repeat ratios (the columns ran back to back): quartiles and a verdict.

    ``less`` when even the upper quartile is below 1, ``more`` when even the lower quartile is
    above 1, otherwise ``tie`` (the difference is within the run's noise); ``few`` under 5 repeats.
    """
    ratios = [a / b for a, b in zip(ours, other, strict=True)]
    if len(ratios) >= 2:
        q1, q2, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    else:
        q1 = q2 = q3 = ratios[0]
    if len(ratios) < 5:
        verdict = "few"
    else:
        verdict = "less" if q3 < 1 else "more" if q1 > 1 else "tie"
    return {"q1": q1, "median": q2, "q3": q3, "verdict": verdict, "ratios": ratios}


def _spread(samples: Sequence[float]) -> float | None:
    """Interquartile range relative to the median (a noise figure for one cell)."""
    if len(samples) < 4:
        return None
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return (q3 - q1) / statistics.median(samples)


def format_table(report: dict[str, Any]) -> str:
    meta = report["meta"]
    has_torch = meta["torch"] is not None
    head = ["benchmark", "ops", "ours us/op", "numpy us/op"]
    head += ["torch us/op"] if has_torch else []
    head += ["ours/numpy"] + (["ours/torch"] if has_torch else [])
    rows: list[list[str]] = []
    spreads: list[float | None] = []
    for bench in report["benchmarks"]:
        t = bench["timings"]
        row = [bench["name"], str(bench["ops"]), f"{t['ours']['us_per_op']:.2f}",
               f"{t['numpy']['us_per_op']:.2f}"]
        if has_torch:
            row.append(f"{t['torch']['us_per_op']:.2f}")
        row.append(f"{bench['ratios']['ours/numpy']:.2f}x")
        if has_torch:
            row.append(f"{bench['ratios']['ours/torch']:.2f}x")
        rows.append(row)
        spreads += [_spread(c["samples_s_per_iter"]) for c in t.values()]
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    out = [f"tinygrad_lstm per-op overhead, forward+backward, backend={meta['backend']}, "
           f"median of {meta['repeats']} repeats (python {meta['python']}, numpy "
           f"{meta['numpy']}, {meta['cpu_count']} CPUs)", ""]
    out += [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    out.append("")
    for bench in report["benchmarks"]:
        t = bench["timings"]
        per_iter = ", ".join(f"{name} {c['median_s_per_iter'] * 1e6:.0f}"
                             for name, c in t.items())
        out.append(f"{bench['name']}: {bench['description']}; us per iteration: {per_iter}")
    if None in spreads:
        out.append("noise: not estimated (fewer than 4 repeats)")
    else:
        out.append(f"noise: largest interquartile range of a cell = "
                   f"{max(s for s in spreads if s is not None):.0%} of its median")
    if has_torch:
        words = {"less": "yes", "more": "no", "tie": "tie (within noise)",
                 "few": "too few repeats to say"}
        out.append("tracked ops cost less per op than PyTorch eager on the CPU? "
                   "(repeat-by-repeat ours/torch: median [quartiles])")
        for bench in report["benchmarks"]:
            p = bench["paired_ratios"]["ours/torch"]
            out.append(f"  {bench['name']}: {words[p['verdict']]}, {p['median']:.2f} "
                       f"[{p['q1']:.2f}, {p['q3']:.2f}]")
    out += [f"note: {n}" for n in report["notes"]]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21,
                        help="timed repeats per implementation; the median is reported "
                             "(default 21)")
    parser.add_argument("--backend", default="numpy", choices=["numpy", "cupy"],
                        help="tinygrad_lstm backend (default numpy)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    parser.add_argument("--target-ms", type=float, default=40.0,
                        help="approximate length of one repeat in milliseconds (default 40)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    try:
        report = run(args.repeats, args.backend, args.target_ms, not args.no_torch)
    except tl.BackendUnavailable as err:
        print(f"backend '{args.backend}' cannot run here: {err}", file=sys.stderr)
        return 2
    print(format_table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
