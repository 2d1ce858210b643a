"""What a training run shows while it runs: a live bar on a terminal, plain lines elsewhere.

On a terminal (with tqdm installed) a progress bar; in a pipe or a log file a line per
evaluation and, between evaluations, a heartbeat at most every ``HEARTBEAT_S`` seconds
(``TINYGRAD_LSTM_HEARTBEAT_S`` overrides it) with the step, steps per second, the running loss
and the time left, so a slow run is never silent for minutes.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

HEARTBEAT_S = 30.0
HEARTBEAT_ENV = "TINYGRAD_LSTM_HEARTBEAT_S"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def heartbeat_interval() -> float:
    """``HEARTBEAT_S``, or the environment's override when it is a positive number."""
    try:
        value = float(os.environ.get(HEARTBEAT_ENV, ""))
    except ValueError:
        return HEARTBEAT_S
    return value if 0 < value <= HEARTBEAT_S else HEARTBEAT_S


class PlainBar:
    """The progress shown without a terminal: a line per evaluation and a heartbeat."""

    def __init__(self, total: int, initial: int, label: str, enabled: bool) -> None:
        self.total, self.n, self.label, self.enabled = total, initial, label, enabled
        self.interval = heartbeat_interval()
        self._start = self._last = time.perf_counter()
        self._start_step = initial
        self._losses: list[float] = []

    def update(self, n: int, loss: float | None = None) -> None:
        self.n += n
        if loss is not None:
            self._losses.append(loss)
        now = time.perf_counter()
        if self.enabled and now - self._last >= self.interval:
            self._last = now
            rate = (self.n - self._start_step) / max(now - self._start, 1e-9)
            shown = (f", loss {sum(self._losses) / len(self._losses):.4g}"
                     if self._losses else "")
            eta = _duration((self.total - self.n) / rate) if rate > 0 else "?"
            print(f"{self.label}: step {self.n}/{self.total}, {rate:.3g} steps/s{shown}, "
                  f"ETA {eta}", flush=True)
            self._losses = []

    def set_postfix(self, **values: str) -> None:
        if self.enabled:
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            print(f"{self.label}: step {self.n}/{self.total}, {shown}", flush=True)
            self._last = time.perf_counter()

    def close(self) -> None:
        pass


class _TqdmBar:
    """tqdm's bar, taking (and ignoring) the loss the plain bar reports."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def update(self, n: int, loss: float | None = None) -> None:
        self.bar.update(n)

    def set_postfix(self, **values: str) -> None:
        self.bar.set_postfix(**values)

    def close(self) -> None:
        self.bar.close()


def progress_bar(total: int, initial: int, label: str, enabled: bool) -> Any:
    """A live bar on a terminal; a line per evaluation and heartbeats in a pipe or a log."""
    if enabled and sys.stderr.isatty():
        try:
            from tqdm.auto import tqdm
        except ImportError:
            pass
        else:
            return _TqdmBar(tqdm(total=total, initial=initial, desc=label, unit="step",
                                 leave=True, dynamic_ncols=True))
    return PlainBar(total, initial, label, enabled)
