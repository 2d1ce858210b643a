"""The timing harness the benchmark scripts share: calibrated loops, columns taking turns."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

Step = Callable[[], Any]


def run_loop(step: Step, number: int, sync: Callable[[], None]) -> float:
    """Seconds per iteration over ``number`` back-to-back iterations."""
    sync()
    start = time.perf_counter()
    for _ in range(number):
        step()
    sync()
    return (time.perf_counter() - start) / number


def calibrate(step: Step, sync: Callable[[], None], target_s: float) -> int:
    """Warm up, then pick a loop count so that one repeat lasts about ``target_s``."""
    for _ in range(3):
        step()
    number = 1
    while True:
        per_iter = run_loop(step, number, sync)
        if per_iter * number >= target_s / 4 or number >= 1 << 20:
            return max(1, round(target_s / max(per_iter, 1e-9)))
        number *= 4


def time_round_robin(steps: dict[str, Step], sync: Callable[[], None], repeats: int,
                      target_s: float) -> dict[str, dict[str, Any]]:
    numbers = {name: calibrate(step, sync, target_s) for name, step in steps.items()}
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():  # take turns: drift and noise hit every column
            samples[name].append(run_loop(step, numbers[name], sync))
    return {name: {"number": numbers[name], "samples_s_per_iter": samples[name],
                   "median_s_per_iter": statistics.median(samples[name])}
            for name in steps}
