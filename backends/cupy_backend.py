"""The GPU backend: CuPy is the ``xp`` namespace; fused CUDA kernels live here.

CuPy is imported when this backend is first asked for, never at package import. When it cannot
run, ``CupyBackend()`` raises ``BackendUnavailable`` with one reason: CuPy not installed, no CUDA
device, or a driver older than the CUDA runtime CuPy was built for.
"""

from __future__ import annotations

import ctypes.util
import os
from typing import Any

import numpy as np

from backends.base import Backend, BackendUnavailable

# Fused kernels as complete CUDA C sources, so they can be compiled by nvcc in the tests on a
# machine with no GPU, and loaded through cupy.RawModule on one that has it.
# sigmoid: NumPy needs five passes over memory for the overflow-free form (abs, exp, add, divide,
# where); the kernel does it in one read and one write.
SIGMOID_SOURCE = r"""
#define TL_SIGMOID(NAME, T, EXP, ABS)                                            \
extern "C" __global__ void NAME(const T* x, T* y, long long n) {                 \
    long long i = (long long)blockDim.x * blockIdx.x + threadIdx.x;             \
    long long stride = (long long)blockDim.x * gridDim.x;                       \
    for (; i < n; i += stride) {                                                \
        T v = x[i];                                                             \
        T e = EXP(-ABS(v));                 /* in (0, 1]: never overflows */    \
        T r = (T)1 / ((T)1 + e);                                                \
        y[i] = v >= (T)0 ? r : e * r;                                           \
    }                                                                           \
}
TL_SIGMOID(tl_sigmoid_f32, float, expf, fabsf)
TL_SIGMOID(tl_sigmoid_f64, double, exp, fabs)
"""

_THREADS = 256


def _import_cupy() -> Any:
    try:
        import cupy
    except ImportError as err:
        raise BackendUnavailable(
            "cupy backend: CuPy is not installed (pip install 'tinygrad-lstm[gpu]' for CUDA 12, "
            f"'tinygrad-lstm[gpu-cuda13]' for CUDA 13): {err}") from None
    except Exception as err:  # a broken install raises all sorts at import time
        raise BackendUnavailable(f"cupy backend: importing CuPy failed: {err}") from None
    return cupy


def nvidia_driver_present() -> bool:
    """True when this machine has an NVIDIA driver: its kernel module is loaded (Linux) or its
    user-space library (libcuda, which only the driver installs) can be found."""
    if os.path.exists("/proc/driver/nvidia/version"):
        return True
    return any(ctypes.util.find_library(name) for name in ("cuda", "nvcuda"))


def explain_device_error(error: str, driver_present: bool) -> str:
    """One line for CUDA's answer to "how many devices?": the CUDA runtime reports a missing
    driver as an insufficient one, so whether a driver exists is checked separately."""
    if not driver_present:
        return ("cupy backend: no NVIDIA driver or GPU found (CuPy is installed; use the numpy "
                "backend here)")
    if "insufficient" in error.lower():
        return ("cupy backend: the NVIDIA driver is too old for the CUDA runtime CuPy was "
                f"built with: {error}")
    return f"cupy backend: no usable CUDA device: {error}"


def _check_device(cupy: Any) -> None:
    runtime = cupy.cuda.runtime
    try:
        count = runtime.getDeviceCount()
    except runtime.CUDARuntimeError as err:
        raise BackendUnavailable(explain_device_error(str(err), nvidia_driver_present())
                                 ) from None
    if count == 0:
        raise BackendUnavailable(explain_device_error("CuPy is installed but no CUDA device was "
                                                      "found", nvidia_driver_present()))
    try:
        driver, built_for = runtime.driverGetVersion(), runtime.runtimeGetVersion()
    except runtime.CUDARuntimeError as err:
        raise BackendUnavailable(f"cupy backend: cannot query the CUDA driver: {err}") from None
    why = driver_too_old(driver, built_for)
    if why:
        raise BackendUnavailable(why)


def driver_too_old(driver: int, runtime: int) -> str | None:
    """Why a driver supporting CUDA ``driver`` cannot run CuPy's CUDA ``runtime`` (versions as
    CUDA reports them, 1000 major + 10 minor), or None. Within one major version a newer
    runtime runs on an older driver (CUDA's minor version compatibility; CuPy compiles its
    kernels to cubin for that reason), so only the major versions are compared: a 12.4
    driver runs a CuPy built with CUDA 12.8."""
    if driver // 1000 >= runtime // 1000:
        return None
    return (f"cupy backend: the NVIDIA driver is too old: it supports CUDA {driver // 1000}."
            f"{driver % 1000 // 10}, CuPy needs CUDA {runtime // 1000}.x (built with "
            f"{runtime // 1000}.{runtime % 1000 // 10})")


class CupyBackend(Backend):
    """CuPy on the current CUDA device."""

    name = "cupy"

    def __init__(self) -> None:
        cupy = _import_cupy()
        _check_device(cupy)
        self.xp = cupy
        self._module = None
        self.kernels = {"sigmoid": self._sigmoid}

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        return self.xp.asarray(data, dtype=dtype)

    def to_numpy(self, array: Any) -> np.ndarray:
        if isinstance(array, self.xp.ndarray):
            return self.xp.asnumpy(array)
        return np.asarray(array)

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()

    def _kernel(self, name: str) -> Any:
        if self._module is None:
            self._module = self.xp.RawModule(code=SIGMOID_SOURCE)
        return self._module.get_function(name)

    def _sigmoid(self, xp: Any, x: Any) -> Any:
        """The ``sigmoid`` primitive's forward as one fused kernel (same values as the xp form)."""
        names = {np.dtype(np.float32): "tl_sigmoid_f32", np.dtype(np.float64): "tl_sigmoid_f64"}
        name = names.get(np.dtype(x.dtype))
        if name is None:
            raise TypeError(f"sigmoid: the cupy kernel takes float32 or float64, got {x.dtype}")
        y = xp.empty(x.shape, x.dtype)  # C-ordered, x's shape (0-d stays 0-d)
        x = xp.ascontiguousarray(x)  # 1-d for a 0-d x, as in NumPy: the same n values
        n = x.size
        if n:
            blocks = min((n + _THREADS - 1) // _THREADS, 65535)
            self._kernel(name)((blocks,), (_THREADS,), (x, y, np.int64(n)))
        return y
