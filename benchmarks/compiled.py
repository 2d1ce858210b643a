"""The cell compiler against the BLAS bound: one recurrent layer, forward + backward, float32.

What is measured
    One iteration runs a layer over x (T, B, I) from zero state, ``loss = sum(out * w)``, and
    backpropagates to every parameter (not to x). Columns, interleaved repeat by repeat in one
    process, single-threaded (``threadpoolctl`` limits BLAS to one thread), CPU time
    (``time.process_time``), medians over the repeats:

    ``lstm``      ``tl.nn.Recurrent(tl.cells.LSTM)``, compiled (the default)
    ``nn.LSTM``   ``tl.nn.LSTM``: PyTorch's module, parameters and names, compiled
    ``peephole``  ``UserPeephole`` below: a peephole LSTM written as a user would, compiled
    ``gru``       ``tl.nn.Recurrent(tl.cells.TorchGRU)`` (the cell of ``tl.nn.GRU``), compiled
    ``tape``      the stock LSTM with ``compile=False``: the tape path
    ``numpy``     the hand-written NumPy LSTM of ``benchmarks/lstm.py``
    ``torch``     ``torch.nn.LSTM`` (optional: skipped with a note without torch)
    ``jax``       ``jax.jit(jax.grad(lax.scan))`` (optional: skipped with a note without jax)
    ``per call``  the stock LSTM at T1 B1 I1 H1, compiled: what one call costs whatever the shape
                  (the module, the tape, the loss, launching the node), over the GEMM-only time
                  of each shape: the part of the LSTM's ratio no kernel can remove

    ``ratio`` divides each column by the GEMM-only time of its own cell, measured next to it
    in every repeat (the median of those ratios): the input GEMM over all T·B rows, one
    recurrent product per step, one product by W_h per step backward, dW_h and dW_x as single
    GEMMs (G = 4 gates; 3 for the GRU). Targets
    (issue 11): stock LSTM <= 1.25 / 1.12 / 1.06 at small / medium / large; the peephole cell
    and the GRU within 5% of the LSTM's ratio.

    Compile time: a fresh process builds and runs a tiny compiled LSTM, once with an empty
    kernel cache (cold) and once more with the same cache (warm); the same run with
    ``compile=False`` is subtracted, so the figures are what compiling adds (CPU seconds).

Usage::

    python benchmarks/compiled.py [--sizes small medium large] [--repeats 5] [--target-ms 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lstm as lstm_bench  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import tinygrad_lstm as tl  # noqa: E402

SIZES = {"small": (50, 16, 64, 64), "medium": (100, 64, 256, 256),
         "large": (50, 128, 512, 1024)}
Step = Callable[[], Any]


class UserPeephole(tl.Cell):
    """A peephole LSTM as a user writes it: f and i see C_{t-1}, o sees C_t."""

    state = ("h", "c")

    def step(self, x: tl.Tensor, h: tl.Tensor, c: tl.Tensor) -> tuple[tl.Tensor, tl.Tensor]:
        H = (self.hidden_size,)
        f = (self.gate("f", h, x) + c * self.param("p_f", H)).sigmoid()
        i = (self.gate("i", h, x) + c * self.param("p_i", H)).sigmoid()
        c = f * c + i * self.gate("C", h, x).tanh()
        o = (self.gate("o", h, x) + c * self.param("p_o", H)).sigmoid()
        return o * c.tanh(), c


def _module_step(rnn: tl.nn.Recurrent | tl.nn.LSTM, p: Any) -> Step:
    x = tl.Tensor(p.x, dtype=p.dtype)
    w = tl.Tensor(p.w, dtype=p.dtype)

    def step() -> Any:
        rnn.zero_grad()
        out, _ = rnn(x)
        loss = (out * w).sum()
        loss.backward()
        return loss

    return step


def _gemm_step(p: Any, gates: int) -> Step:
    """Only the GEMMs a layer of ``gates`` gates needs, forward and backward."""
    T, B, In, H = p.steps, p.batch, p.inputs, p.hidden
    rng = np.random.default_rng(0)
    G = gates * H
    X2 = p.x.reshape(T * B, In)
    WxT = rng.standard_normal((In, G)).astype(p.dtype)
    WhT = rng.standard_normal((H, G)).astype(p.dtype)
    Wh = np.ascontiguousarray(WhT.T)
    hs = rng.standard_normal((T + 1, B, H)).astype(p.dtype)
    dz = rng.standard_normal((T, B, G)).astype(p.dtype)
    zh = np.empty((B, G), p.dtype)
    dh = np.empty((B, H), p.dtype)

    def step() -> Any:
        P = np.dot(X2, WxT)
        for t in range(T):
            np.dot(hs[t], WhT, out=zh)
        for t in range(T - 1, -1, -1):
            np.dot(dz[t], Wh, out=dh)
        dz2 = dz.reshape(T * B, G)
        return P, np.dot(dz2.T, hs[:T].reshape(T * B, H)), np.dot(dz2.T, X2)

    return step


def _jax_step(p: Any, notes: list[str]) -> Step | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        notes.append("jax: not installed; its column is skipped")
        return None
    H = p.hidden

    def loss(params: Any, x: Any, w: Any) -> Any:
        Wx, Wh, b = params

        def cell(carry: Any, xw: Any) -> Any:
            h, c = carry
            z = xw[0] @ Wx.T + h @ Wh.T + b
            i, f, g, o = (jax.nn.sigmoid(z[:, :H]), jax.nn.sigmoid(z[:, H:2 * H]),
                          jnp.tanh(z[:, 2 * H:3 * H]), jax.nn.sigmoid(z[:, 3 * H:]))
            c = f * c + i * g
            h = o * jnp.tanh(c)
            return (h, c), (h * xw[1]).sum()

        zeros = jnp.zeros((x.shape[1], H), x.dtype)
        _, parts = jax.lax.scan(cell, (zeros, zeros), (x, w))
        return parts.sum()

    grad = jax.jit(jax.grad(loss))
    params = (jnp.asarray(p.weight_ih), jnp.asarray(p.weight_hh), jnp.asarray(p.bias))
    x, w = jnp.asarray(p.x), jnp.asarray(p.w)

    def step() -> Any:
        return jax.block_until_ready(grad(params, x, w))

    return step


def columns(size: tuple[int, int, int, int], notes: list[str], torch: Any
            ) -> tuple[dict[str, Step], dict[str, int]]:
    """Every column's step and its number of gates (for its GEMM bound)."""
    p = lstm_bench.make_problem(size, np.float32)
    T, B, In, H = size
    tl.manual_seed(0)
    stock = tl.nn.Recurrent(tl.cells.LSTM(In, H))
    stock.load_state_dict(lstm_bench._native_state(p))
    tape = tl.nn.Recurrent(tl.cells.LSTM(In, H), compile=False)
    tape.load_state_dict(lstm_bench._native_state(p))
    torch_shaped = tl.nn.LSTM(In, H)
    torch_shaped.load_state_dict({"weight_ih_l0": p.weight_ih, "weight_hh_l0": p.weight_hh,
                                  "bias_ih_l0": p.bias, "bias_hh_l0": np.zeros_like(p.bias)})
    steps: dict[str, Step] = {
        "lstm": _module_step(stock, p),
        "nn.LSTM": _module_step(torch_shaped, p),
        "peephole": _module_step(tl.nn.Recurrent(UserPeephole(In, H)), p),
        "gru": _module_step(tl.nn.Recurrent(tl.cells.TorchGRU(In, H)), p),
        "tape": _module_step(tape, p),
        "numpy": lstm_bench._handwritten(p, tl.get_backend()).step,
    }
    gates = {"lstm": 4, "nn.LSTM": 4, "peephole": 4, "gru": 3, "tape": 4, "numpy": 4,
             "torch": 4, "jax": 4}
    if torch is not None:
        steps["torch"] = lstm_bench._torch_lstm(p, torch).step
    jax_step = _jax_step(p, notes)
    if jax_step is not None:
        steps["jax"] = jax_step
    tiny = lstm_bench.make_problem((1, 1, 1, 1), np.float32)
    steps["per call"] = _module_step(tl.nn.Recurrent(tl.cells.LSTM(1, 1)), tiny)
    gates["per call"] = 4
    steps["gemm4"] = _gemm_step(p, 4)
    steps["gemm3"] = _gemm_step(p, 3)
    for name in ("lstm", "peephole", "gru"):
        cell = {"lstm": tl.cells.LSTM, "peephole": UserPeephole, "gru": tl.cells.TorchGRU}[name]
        line = tl.cells.explain(cell(In, H)).splitlines()[0]
        if "tape path" in line:
            notes.append(f"{name}: {line}")
    return steps, gates


def _time(steps: dict[str, Step], refs: dict[str, str], repeats: int, target_s: float
          ) -> tuple[dict[str, float], dict[str, float]]:
    """(median CPU seconds per iteration, median ratio to its reference) per column.

    Each repeat runs every column next to its reference (``refs[name]``, a GEMM-only step),
    in alternating order, and records their ratio: the machine's speed drifts (a shared VM),
    and a ratio of two runs a few milliseconds apart cancels most of the drift."""
    numbers = {}
    for name, step in steps.items():
        step()  # warm-up (and the first compile, if any)
        start = time.process_time()
        step()
        per = max(time.process_time() - start, 1e-4)
        numbers[name] = max(1, round(target_s / per))

    def run(name: str) -> float:
        start = time.process_time()
        for _ in range(numbers[name]):
            steps[name]()
        return (time.process_time() - start) / numbers[name]

    samples: dict[str, list[float]] = {name: [] for name in steps}
    ratios: dict[str, list[float]] = {name: [] for name in refs}
    for k in range(repeats):
        for name in steps:
            if name in refs:
                pair = (name, refs[name]) if k % 2 else (refs[name], name)
                times = {n: run(n) for n in pair}
                ratios[name].append(times[name] / times[refs[name]])
                samples[name].append(times[name])
            elif name not in refs.values():
                samples[name].append(run(name))
        for ref in dict.fromkeys(refs.values()):
            samples[ref].append(run(ref))
    return ({name: statistics.median(s) for name, s in samples.items()},
            {name: statistics.median(r) for name, r in ratios.items()})


def compile_times() -> dict[str, float]:
    """CPU seconds a fresh process spends compiling a tiny LSTM, cold and warm cache."""
    code = ("import time, numpy as np, tinygrad_lstm as tl\n"
            "rnn = tl.nn.Recurrent(tl.cells.LSTM(3, 4), compile={flag})\n"
            "out, _ = rnn(tl.Tensor(np.ones((2, 1, 3)), requires_grad=True))\n"
            "out.sum().backward()\n"
            "print(time.process_time())\n")
    root = str(Path(__file__).resolve().parents[1])

    def run(flag: bool, cache: str) -> float:
        env = dict(os.environ, TINYGRAD_LSTM_CACHE_DIR=cache)
        done = subprocess.run([sys.executable, "-c", code.format(flag=flag)], cwd=root, env=env,
                              capture_output=True, text=True, check=True)
        return float(done.stdout.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory() as cache:
        base = run(False, cache)
        cold = run(True, cache)
        warm = run(True, cache)
    return {"cold_s": cold - base, "warm_s": warm - base, "tape_process_s": base}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target-ms", type=float, default=200.0)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)
    notes: list[str] = []
    torch = None
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(1)
        except ImportError:
            notes.append("torch: not installed; its column is skipped")
    print(f"load average before: {os.getloadavg()}")
    times = compile_times()
    print(f"compile time (CPU s, a tiny LSTM, over a compile=False process of "
          f"{times['tape_process_s']:.2f} s): cold {times['cold_s']:.2f}, warm "
          f"{times['warm_s']:.2f}")
    table: dict[str, dict[str, float]] = {}
    with threadpool_limits(limits=1):
        for size_name in args.sizes:
            steps, gates = columns(SIZES[size_name], notes, torch)
            refs = {name: f"gemm{gates[name]}" for name in steps if not name.startswith("gemm")}
            medians, table[size_name] = _time(steps, refs, args.repeats, args.target_ms / 1000)
            table[size_name]["gemm4 ms"] = medians["gemm4"] * 1e3
            print(f"  {size_name} done: "
                  + ", ".join(f"{k} {v:.3g}" for k, v in table[size_name].items()), flush=True)
    names = [n for n in ("lstm", "nn.LSTM", "peephole", "gru", "tape", "numpy", "torch", "jax",
                         "per call") if any(n in row for row in table.values())]
    print("\nratio to the GEMM-only time (single thread, CPU time, medians of the paired ratios of "
          f"{args.repeats} repeats)")
    print(f"{'column':<10}" + "".join(f"{s:>10}" for s in table))
    for name in [*names, "gemm4 ms"]:
        print(f"{name:<10}" + "".join(f"{table[s].get(name, float('nan')):>10.3f}"
                                      for s in table))
    for note in dict.fromkeys(notes):
        print(f"note: {note}")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
