"""The generated CUDA kernels, run on the CPU: a test double for ``emit_cuda.load``.

No GPU has been available to this project, so the CUDA source the compiler emits for CuPy would
otherwise only ever be compiled (``nvcc`` in ``test_compile.py``), never run. Here the same
source is compiled as C++ by the host compiler, with a few definitions standing in for CUDA's
(``__global__`` is a plain function, ``blockIdx``/``threadIdx`` are globals that a launcher
steps through every thread of the grid in turn, ``atomicAdd`` a plain add), and each kernel is
called through ctypes on NumPy arrays with the arguments ``emit_cuda.load``'s launchers take.
What this checks: the emitted arithmetic, indexing and argument conventions, and the runner's
CuPy-side path around them. What it cannot: anything of the GPU itself (the launch geometry,
NVRTC, memory, concurrency of the ``atomicAdd``).
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

SHIM = """
#include <cmath>
using std::exp; using std::tanh; using std::log; using std::fabs;
struct tl_dim { long long x; };
static tl_dim blockIdx, threadIdx;
static const tl_dim blockDim = {256};
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
static inline float atomicAdd(float* p, float v) { float o = *p; *p = o + v; return o; }
static inline double atomicAdd(double* p, double v) { double o = *p; *p = o + v; return o; }
"""

_KERNEL = re.compile(r'extern "C" __global__ void (\w+)\((.*?)\) \{')


def compiler() -> str | None:
    """The host C++ compiler, or None."""
    return shutil.which("g++") or shutil.which("c++")


def build(text: str, folder: Path) -> dict[str, Any]:
    """Compile the kernels of ``text`` for the CPU: {kernel name: launcher(*arrays, B, H)}."""
    launchers = []
    for name, params in _KERNEL.findall(text):
        names = [p.split()[-1] for p in params.split(", ")]
        launchers.append(
            f'extern "C" void {name}_launch({params}, long long total) {{\n'
            f"    for (long long n = 0; n < total; ++n) {{\n"
            f"        blockIdx.x = n / blockDim.x; threadIdx.x = n % blockDim.x;\n"
            f"        {name}({', '.join(names)});\n    }}\n}}\n")
    code = SHIM + text + "\n" + "\n".join(launchers)
    digest = hashlib.sha256(code.encode()).hexdigest()[:16]
    source, library = folder / f"k{digest}.cpp", folder / f"k{digest}.so"
    if not library.exists():
        source.write_text(code)
        subprocess.run([compiler() or "g++", "-O1", "-shared", "-fPIC", "-o", str(library),
                        str(source)], check=True, capture_output=True, text=True)
    lib = ctypes.CDLL(str(library))
    out = {}
    for name, params in _KERNEL.findall(text):
        fn = getattr(lib, f"{name}_launch")
        kinds = ["int" if p.startswith("const int") else "ptr" for p in params.split(", ")]
        out[name] = _launcher(fn, kinds)
    return out


def _launcher(fn: Any, kinds: list[str]) -> Any:
    def launch(*arrays: Any) -> None:
        args: list[Any] = []
        for kind, a in zip(kinds, arrays, strict=True):
            if kind == "int":
                args.append(ctypes.c_int(int(a)))
            else:
                assert isinstance(a, np.ndarray) and a.flags.c_contiguous, \
                    "a CUDA kernel reads its arrays as C-contiguous"
                args.append(ctypes.c_void_p(a.ctypes.data))
        B, H = int(arrays[-2]), int(arrays[-1])
        fn(*args, ctypes.c_longlong(B * H))

    return launch


def loader(folder: Path) -> Any:
    """A stand-in for ``emit_cuda.load(text, name, phases)``: the same kernel table, its
    launchers on the CPU (B and H read off the arrays as ``load``'s are)."""
    from tinygrad_lstm.compile import emit_cuda

    def load(text: str, name: str, phases: int = 0) -> dict[str, Any]:
        kernels = build(text, folder)

        def launcher(kernel: str, shape_of: Any) -> Any:
            def launch(*arrays: Any) -> None:
                kernels[f"{name}_{kernel}"](*arrays, *shape_of(arrays))

            return launch

        return emit_cuda.kernel_table(launcher, phases)

    return load


class NotNumpy:
    """NumPy under another name: the runner takes its CuPy-side branches (``xp is not np``)
    while the arrays stay NumPy's."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)
