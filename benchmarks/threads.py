"""Which BLAS thread policy should training use? Wall and CPU time of the candidates, interleaved.

    python benchmarks/threads.py [--repeats 7] [--steps 3] [--size T,B,I,H ...] [--json PATH]

Candidates (threadpoolctl sets each; they take turns, so load from other processes hits all):

* ``default``: BLAS's own choice, one thread per core (what a fresh process gets).
* ``one``: one BLAS thread everywhere.
* ``split``: one thread in the time loop's small per-step products, every core for the big GEMMs
  (the input projection hoisted over all steps and the weight gradients summed over all steps).
  The runner has no hook for this, so it is timed on a hand-written NumPy LSTM (stacked gates,
  hoisted projection, hand-derived BPTT) whose big GEMMs are wrapped in a limits switch.

Workloads: a training step of ``tl.nn.Recurrent(tl.cells.LSTM)`` + linear readout + MSE + Adam
(what ``tinygrad-lstm train`` runs) and the NumPy LSTM's forward + backward, at the README's
adding-task size (T, B, I, H) = (100, 32, 2, 64) and a larger (50, 64, 128, 256). It prints the
median seconds per step (wall and CPU) per candidate and each candidate's wall time relative to
``one``, with the machine's load average before and after: the numbers mean little without it.

Measured 2026-11-30 on a shared 2-core machine under other engineers' test runs (load average
13-20; medians of 7 samples x 3 steps at the small size, 3 x 1 at the large), wall s/step:

    workload  T,B,I,H          default    one    split
    tl        100,32,2,64        5.86    0.210      -
    numpy     100,32,2,64        2.96    0.155    0.391
    tl        50,64,128,256      7.15    0.876      -
    numpy     50,64,128,256      3.62    0.625    0.969

An earlier full run, as the load rose from 2.7 to 10, gave default/one ratios of 1.08 (tl) and
0.92 (numpy) at the small size, 3.95 (tl) and 6.34 (numpy) at the large, and split/one ratios
of 2.00 and 1.12 (that run switched threads with a fresh threadpool_limits, about 1 ms a
switch; a cached controller takes about 7 us); a single sample at load 2.3 had the default and
the split 20% ahead of one thread on the large NumPy LSTM, but the tl step 7x slower with the
default. One thread everywhere is the policy (``tinygrad_lstm/threads.py``); switching threads
around the big GEMMs never paid for itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tinygrad_lstm as tl  # noqa: E402

SIZES = ((100, 32, 2, 64), (50, 64, 128, 256))
CORES = os.cpu_count() or 1


def tl_step(T: int, B: int, In: int, H: int) -> Callable[[Callable[[], Any]], None]:
    """One training step of the framework's LSTM (the big-GEMM switch does not apply)."""
    rng = np.random.default_rng(0)
    tl.manual_seed(0)
    rnn = tl.nn.Recurrent(tl.cells.LSTM(In, H))
    head = tl.nn.Linear(H, 1)
    opt = tl.optim.Adam(rnn.parameters() + head.parameters(), lr=1e-3)
    x = tl.Tensor(rng.standard_normal((T, B, In)).astype(np.float32))
    y = tl.Tensor(rng.standard_normal((B, 1)).astype(np.float32))

    def step(big: Callable[[], Any]) -> None:
        out, state = rnn(x)
        loss = tl.nn.mse_loss(head(state[-1][0]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def numpy_step(T: int, B: int, In: int, H: int) -> Callable[[Callable[[], Any]], None]:
    """A hand-written LSTM, forward and backward; ``big()`` wraps the GEMMs over all steps."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    Wx = (rng.standard_normal((In, 4 * H)) * 0.1).astype(f32)
    Wh = (rng.standard_normal((H, 4 * H)) * 0.1).astype(f32)
    b = np.zeros(4 * H, f32)
    X = rng.standard_normal((T * B, In)).astype(f32)
    w = rng.standard_normal((T, B, H)).astype(f32)

    def sigmoid(a: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-a))

    def step(big: Callable[[], Any]) -> None:
        with big():
            pre = (X @ Wx + b).reshape(T, B, 4 * H)  # all steps' input projections, one GEMM
        hs = np.zeros((T + 1, B, H), f32)
        cs = np.zeros((T + 1, B, H), f32)
        acts = np.empty((T, B, 4 * H), f32)
        for t in range(T):
            a = pre[t] + hs[t] @ Wh
            acts[t, :, :3 * H] = sigmoid(a[:, :3 * H])
            acts[t, :, 3 * H:] = np.tanh(a[:, 3 * H:])
            i, f, o, g = np.split(acts[t], 4, axis=1)
            cs[t + 1] = f * cs[t] + i * g
            hs[t + 1] = o * np.tanh(cs[t + 1])
        dA = np.empty_like(acts)
        dh_next = np.zeros((B, H), f32)
        dc_next = np.zeros((B, H), f32)
        for t in range(T - 1, -1, -1):
            i, f, o, g = np.split(acts[t], 4, axis=1)
            tc = np.tanh(cs[t + 1])
            dh = w[t] + dh_next  # h_t feeds the loss and step t+1
            dc = dc_next + dh * o * (1 - tc * tc)  # through h_t = o tanh(c_t)
            dA[t] = np.concatenate([dc * g * i * (1 - i), dc * cs[t] * f * (1 - f),
                                    dh * tc * o * (1 - o), dc * i * (1 - g * g)], axis=1)
            dc_next = dc * f  # c_t = f c_{t-1} + ...
            dh_next = dA[t] @ Wh.T  # a_t = ... + h_{t-1} W_h
        flat = dA.reshape(T * B, 4 * H)
        with big():
            hs[:-1].reshape(T * B, H).T @ flat  # dW_h summed over steps
            X.T @ flat  # dW_x

    return step


def candidates() -> dict[str, tuple[int, Callable[[], Any]]]:
    """name -> (BLAS threads for the run, context for the big GEMMs)."""
    # one controller, found once: a fresh threadpool_limits scans the loaded libraries each time
    blas = ThreadpoolController().select(user_api="blas")

    def nothing() -> Any:
        return contextlib.nullcontext()

    def all_cores() -> Any:
        return blas.limit(limits=CORES)

    return {"default": (CORES, nothing), "one": (1, nothing), "split": (1, all_cores)}


def measure(step: Callable[[Callable[[], Any]], None], names: list[str], steps: int,
            repeats: int) -> dict[str, dict[str, float]]:
    cands = candidates()
    for name in names:  # warm up each
        threads, big = cands[name]
        with threadpool_limits(limits=threads, user_api="blas"):
            step(big)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(repeats):
        for name in names:  # take turns: drift and other people's load hit every candidate
            threads, big = cands[name]
            with threadpool_limits(limits=threads, user_api="blas"):
                w0, c0 = time.perf_counter(), time.process_time()
                for _ in range(steps):
                    step(big)
                wall[name].append((time.perf_counter() - w0) / steps)
                cpu[name].append((time.process_time() - c0) / steps)
    return {n: {"wall_s": statistics.median(wall[n]), "cpu_s": statistics.median(cpu[n]),
                "wall_samples": wall[n]} for n in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=3, help="steps per timed sample")
    parser.add_argument("--size", action="append", metavar="T,B,I,H",
                        help="a size to time (repeatable; default: both sizes above)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split(",")) for s in args.size] if args.size else SIZES
    load_before = os.getloadavg()
    print(f"{CORES} cores; load average before {load_before[0]:.2f} (1 min); "
          f"{args.repeats} interleaved samples of {args.steps} steps, medians")
    print(f"{'workload':10s} {'T,B,I,H':16s} {'candidate':9s} {'wall s/step':>11s} "
          f"{'cpu s/step':>10s} {'wall vs one':>11s}")
    results = []
    for T, B, In, H in sizes:
        for workload, make, names in (("tl", tl_step, ["default", "one"]),
                                      ("numpy", numpy_step, ["default", "one", "split"])):
            found = measure(make(T, B, In, H), names, args.steps, args.repeats)
            for name in names:
                r = found[name]
                print(f"{workload:10s} {f'{T},{B},{In},{H}':16s} {name:9s} {r['wall_s']:11.4f} "
                      f"{r['cpu_s']:10.4f} {r['wall_s'] / found['one']['wall_s']:10.2f}x")
                results.append({"workload": workload, "size": [T, B, In, H], "candidate": name,
                                **r})
    load_after = os.getloadavg()
    print(f"load average after {load_after[0]:.2f} (1 min)")
    if args.json:
        Path(args.json).write_text(json.dumps({"cores": CORES, "load_before": load_before,
                                               "load_after": load_after,
                                               "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
