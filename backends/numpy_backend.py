"""The CPU backend: NumPy is the ``xp`` namespace, plus one faster NumPy form of sigmoid, and
glibc's allocator asked to keep the memory a training step frees for the next step."""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any

import numpy as np

from backends.base import Backend

#: the switch that leaves glibc's allocator as it is (see ``keep_freed_memory``)
MALLOC_SWITCH = "TINYGRAD_LSTM_MALLOC"
_GLIBC_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
              "MALLOC_MMAP_MAX_")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
_KEEP_BYTES = 64 << 20  # up to 64 MiB of freed memory stays in the process
_HEAP_BELOW = 32 << 20  # arrays under 32 MiB (glibc's own upper bound for this) from the heap
_malloc_kept: bool | None = None


def keep_freed_memory() -> bool:
    """Ask glibc (once per process) to keep the memory a training step frees for the next step.

    Each backward pass frees the arrays of a whole graph at once. By default glibc then hands
    the freed top of its heap back to the operating system, and serves large arrays by mmap,
    so the next step page-faults the same memory in again. Whether a process falls into that
    depends on its allocation history: measured on the LSTM benchmark's small size, the same
    code ran 10-20% slower in the processes that did. Keeping up to 64 MiB of freed memory,
    and taking arrays under 32 MiB from the heap, removes it; the cost is that up to 64 MiB
    freed stays in the process (as in the caching allocators of other frameworks).

    Process-wide, Linux with glibc only. Skipped when ``TINYGRAD_LSTM_MALLOC=default``, or when
    glibc's own ``MALLOC_*_`` environment variables already say what to do. Returns whether
    the setting is in force.
    """
    global _malloc_kept
    if _malloc_kept is None:
        _malloc_kept = False
        if (sys.platform.startswith("linux") and os.environ.get(MALLOC_SWITCH) != "default"
                and not any(name in os.environ for name in _GLIBC_ENV)):
            try:
                mallopt = ctypes.CDLL(None).mallopt  # glibc; musl and others have none
            except (OSError, AttributeError):
                return False
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            mallopt.restype = ctypes.c_int
            _malloc_kept = bool(mallopt(_M_MMAP_THRESHOLD, _HEAP_BELOW)
                                and mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))
    return _malloc_kept


def _sigmoid_passes(xp: Any, x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^-x) in three in-place passes instead of the table's five.

    For x < -88 (float32) e^-x overflows to inf and 1 / (1 + inf) = 0, which is σ(x) rounded:
    the overflow is the right answer, so its warning is silenced, nothing else (1 + t and its
    reciprocal cannot overflow).
    """
    t = np.exp(np.negative(x))
    if not t.shape:  # 0-d: NumPy gives an immutable scalar, nothing to write into
        return np.asarray(1 / (1 + t))
    t += 1
    return np.reciprocal(t, out=t)


if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
    # NumPy 2's errstate as a decorator keeps its state per call (thread-safe) and costs half
    # what a with-block does: this kernel runs three times per LSTM step
    _sigmoid = np.errstate(over="ignore")(_sigmoid_passes)
else:  # NumPy 1's decorator shares one saved state between calls: a with-block per call
    def _sigmoid(xp: Any, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return _sigmoid_passes(xp, x)


class NumpyBackend(Backend):
    """NumPy on the CPU. Needs nothing beyond NumPy itself."""

    name = "numpy"
    xp = np
    kernels = {"sigmoid": _sigmoid}

    def __init__(self) -> None:
        super().__init__()
        keep_freed_memory()
