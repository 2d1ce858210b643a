"""BLAS threads: ``set_num_threads`` / ``get_num_threads`` (PyTorch's names), and the policy
training runs use, all through threadpoolctl (the library scikit-learn uses for the same).

A recurrent net's per-step products are small ((B, H) @ (H, 4H)); on a busy machine BLAS threads
spin waiting for each other around every one of them, and a training step can take ten times
longer than with one thread. ``benchmarks/threads.py`` measures the candidates (BLAS's default,
one thread everywhere, one thread in the time loop and all cores for the big GEMMs) and the
policy below is what it found: training runs (``tl.train``, the ``train`` and ``demo``
commands) use ``TRAINING_THREADS`` BLAS threads unless told otherwise, by
``tl.set_num_threads(n)``, by ``--threads N`` on the command line, or by the usual
environment variables (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``),
which are left to rule when set. Outside training runs nothing is changed unless asked.

>>> import tinygrad_lstm as tl
>>> before = tl.get_num_threads()
>>> tl.set_num_threads(1); tl.get_num_threads()
1
>>> tl.set_num_threads(before)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from threadpoolctl import threadpool_info, threadpool_limits

from tinygrad_lstm.checks import check_int

#: BLAS threads of a training run when nobody said otherwise (see benchmarks/threads.py)
TRAINING_THREADS = 1
_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_requested: int | None = None


def set_num_threads(n: int) -> None:
    """Use ``n`` BLAS threads from now on, in this process (``torch.set_num_threads``).

    Raises ``ValueError`` unless ``n`` is a positive int. Training runs keep this number instead
    of their default policy.
    """
    global _requested
    n = check_int("set_num_threads", "n", n)
    threadpool_limits(limits=n, user_api="blas")
    _requested = n


def get_num_threads() -> int:
    """The BLAS threads NumPy's linear algebra uses now (the largest over the BLAS libraries
    loaded; 1 when none reports)."""
    counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(counts, default=1)


def chosen_by_user() -> bool:
    """True when ``set_num_threads`` or an environment variable fixed the thread count."""
    return _requested is not None or any(os.environ.get(name) for name in _ENV)


@contextlib.contextmanager
def training_threads() -> Iterator[int]:
    """Within: the BLAS threads of a training run (``TRAINING_THREADS`` unless the user chose);
    yields that number. The previous limits come back on exit."""
    if chosen_by_user():
        yield get_num_threads()
        return
    with threadpool_limits(limits=TRAINING_THREADS, user_api="blas"):
        yield get_num_threads()
