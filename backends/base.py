"""The ``Backend`` interface: an ``xp`` array namespace plus what differs between devices."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np


class BackendUnavailable(RuntimeError):  # noqa: N818 - reads as a state, like TimeoutError
    """A backend is registered but cannot run here; the message says why."""


def _registered(name: str) -> Backend:
    import backends

    return backends.get(name)


class Backend:
    """An array namespace and the few things that differ per device.

    Everything mathematical goes through ``xp`` (NumPy's API, which CuPy mirrors), so primitives
    are written once. A backend adds only: moving data in and out (``asarray``, ``to_numpy``),
    random numbers (``rng``), and optional fused kernels (``kernels``: primitive name -> a
    replacement ``forward(xp, *inputs, **params)`` computing the same values).
    """

    name: str = "abstract"
    xp: ModuleType
    kernels: dict[str, Any] = {}

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """A copy or an unpickled backend is this process's instance of that name: tensors
        and primitives compare backends by identity, so ``copy.deepcopy(model)`` must not
        give the copy's tensors a second NumPy backend."""
        return _registered, (self.name,)

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        """Host data (NumPy array, list, scalar) or an array of this backend -> this backend."""
        return self.xp.asarray(data, dtype=dtype)

    def to_numpy(self, array: Any) -> np.ndarray:
        """A NumPy copy (or view, on the CPU) of ``array``."""
        return np.asarray(array)

    def is_array(self, obj: Any) -> bool:
        """Whether ``obj`` is an array native to this backend."""
        return isinstance(obj, self.xp.ndarray)

    def rng(self, seed: int | None = None) -> Any:
        """A random generator living on this backend (``xp.random.default_rng``)."""
        return self.xp.random.default_rng(seed)

    def synchronize(self) -> None:
        """Wait for queued device work (a no-op on the CPU); for benchmarks."""

    def __repr__(self) -> str:
        return f"<backend {self.name}>"
