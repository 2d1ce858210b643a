"""Which backend new tensors live on: ``set_backend``, ``use_backend``, ``get_backend``.

The first call to ``get_backend()`` reads the environment variable ``TINYGRAD_LSTM_BACKEND``
(default ``numpy``). Model code never names a backend: switching is one call, or one variable.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import backends
from backends.base import Backend

ENV_VAR = "TINYGRAD_LSTM_BACKEND"


class _State(threading.local):
    backend: Backend | None = None


_state = _State()


def _lookup(name: str | Backend) -> Backend:
    if isinstance(name, Backend):
        return name
    return backends.get(name)


def get_backend() -> Backend:
    """The backend new tensors are created on (``TINYGRAD_LSTM_BACKEND`` or ``numpy``).

    >>> import tinygrad_lstm as tl
    >>> tl.get_backend().name
    'numpy'
    """
    backend = _state.backend
    if backend is None:
        name = os.environ.get(ENV_VAR, "").strip() or "numpy"
        try:
            backend = _lookup(name)
        except ValueError as err:
            raise ValueError(f"{ENV_VAR}={name!r}: {err}") from None
        _state.backend = backend
    return backend


def set_backend(name: str | Backend) -> Backend:
    """Make ``name`` the backend for new tensors; returns it. Raises if it cannot run here."""
    backend = _lookup(name)
    _state.backend = backend
    return backend


@contextmanager
def use_backend(name: str | Backend) -> Iterator[Backend]:
    """Within the block, new tensors live on ``name``; the previous backend comes back after.

    >>> import tinygrad_lstm as tl
    >>> with tl.use_backend("numpy") as b:
    ...     print(b.name)
    numpy
    """
    previous = _state.backend
    backend = set_backend(name)
    try:
        yield backend
    finally:
        _state.backend = previous


def backends_available() -> list[str]:
    """Names of the backends that can run on this machine."""
    return backends.available()
