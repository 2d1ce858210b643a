"""NumPy's own BLAS, called from compiled code: the GEMM of a whole time loop run in Numba.

A compiled layer's time loop runs in one Numba call (``emit_numba``'s ``run_forward`` and
``run_backward``): per step a recurrent GEMM and a fused kernel, with no Python in between. Its
GEMMs call ``cblas_sgemm`` / ``cblas_dgemm`` of the OpenBLAS that NumPy itself loaded (its wheels
bundle one, ``scipy_openblas64_``), through the function's address passed in at run time, so:

- each small GEMM costs what NumPy's ``dot`` costs minus NumPy's own dispatch (Numba's
  ``np.dot`` would go through SciPy's BLAS, measured 17-20 µs against NumPy's 10-12 µs for
  (16, 64) x (64, 256));
- ``threadpoolctl`` limits (``tl.set_num_threads``) apply, as it is the same library;
- the address is an argument, not a constant in the machine code, so Numba's on-disk cache
  stays valid across processes.

The forward's GEMMs read each recurrent weight transposed, C-ordered (``transposed``: OpenBLAS's
``omatcopy``, a tiled transposing copy, where NumPy copies a transpose element by element).

Where NumPy's BLAS is not an ILP64 OpenBLAS exposing these symbols (a NumPy built against MKL or
Accelerate), ``gemm_address`` returns None and the layer keeps its Python time loop, with the
same results.
"""

from __future__ import annotations

import ctypes
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

#: CBLAS's enum values (cblas.h): row-major storage, no transpose
CBLAS_ROW_MAJOR = 101
CBLAS_NO_TRANS = 111
CBLAS_TRANS = 112
#: symbol names of an ILP64 CBLAS GEMM (64-bit integers), NumPy's wheels first
_SYMBOLS = {"float32": ("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
            "float64": ("scipy_cblas_dgemm64_", "cblas_dgemm64_")}
#: OpenBLAS's out-of-place transposing copy (an extension of CBLAS), ILP64
_OMATCOPY = {"float32": ("scipy_cblas_somatcopy64_", "cblas_somatcopy64_"),
             "float64": ("scipy_cblas_domatcopy64_", "cblas_domatcopy64_")}


def _numpy_blas_files() -> list[str]:
    """The OpenBLAS libraries this process loaded from NumPy's own installation."""
    from threadpoolctl import threadpool_info

    root = Path(np.__file__).resolve().parent.parent
    out = []
    for info in threadpool_info():
        path = Path(info.get("filepath", "")).resolve()
        if info.get("internal_api") == "openblas" and path.is_relative_to(root) and \
                path.relative_to(root).parts[0].startswith("numpy"):
            out.append(str(path))
    return out


def _address(names: tuple[str, ...]) -> int | None:
    """The address of the first of ``names`` that NumPy's OpenBLAS exports, or None."""
    for path in _numpy_blas_files():
        lib = ctypes.CDLL(path)  # the library NumPy loaded: dlopen returns the same handle
        for name in names:
            fn = getattr(lib, name, None)
            if fn is not None:
                return ctypes.cast(fn, ctypes.c_void_p).value
    return None


@cache
def gemm_address(dtype: Any) -> int | None:
    """The address of NumPy's BLAS ``cblas_?gemm`` (ILP64) for ``dtype`` (float32 or float64),
    or None where NumPy's BLAS does not expose one (then the layer loops in Python)."""
    return _address(_SYMBOLS.get(np.dtype(dtype).name, ()))


def _real(dtype: Any) -> Any:
    return ctypes.c_float if np.dtype(dtype) == np.float32 else ctypes.c_double


@cache
def _cblas_gemm(dtype: Any) -> Any:
    """NumPy's ``cblas_?gemm`` for ``dtype`` as a ctypes function, or None."""
    address = gemm_address(dtype)
    if address is None:
        return None
    real = _real(dtype)
    i32, i64, ptr = ctypes.c_int32, ctypes.c_int64, ctypes.c_void_p
    return ctypes.CFUNCTYPE(None, i32, i32, i32, i64, i64, i64, real, ptr, i64, ptr, i64, real,
                            ptr, i64)(address)


@cache
def _cblas_omatcopy(dtype: Any) -> Any:
    """NumPy's OpenBLAS ``cblas_?omatcopy`` for ``dtype`` as a ctypes function, or None."""
    address = _address(_OMATCOPY.get(np.dtype(dtype).name, ()))
    if address is None:
        return None
    i32, i64, ptr = ctypes.c_int32, ctypes.c_int64, ctypes.c_void_p
    return ctypes.CFUNCTYPE(None, i32, i32, i64, i64, _real(dtype), ptr, i64, ptr, i64)(address)


def transposed(a: np.ndarray) -> np.ndarray:
    """``a.T`` as a new C-contiguous array, for a C-contiguous 2-D NumPy array ``a``.

    NumPy copies a transpose element by element down the source's columns: 34 ms for a
    (4096, 1024) float32 matrix here, twenty times a plain copy (1.7 ms). OpenBLAS's
    ``omatcopy`` copies it in tiles (4 ms); this uses it where NumPy's OpenBLAS has it (float32
    and float64), else NumPy's copy.
    """
    fn = _cblas_omatcopy(a.dtype) if a.dtype in (np.float32, np.float64) else None
    rows, cols = a.shape
    if fn is None or not a.flags.c_contiguous or rows <= 1 or cols <= 1:
        return a.T.copy(order="C")
    out = np.empty((cols, rows), a.dtype)
    fn(CBLAS_ROW_MAJOR, CBLAS_TRANS, rows, cols, 1.0, a.ctypes.data, cols, out.ctypes.data, rows)
    return out


def _row_stride(a: np.ndarray) -> int | None:
    """The row stride of a 2-D array in elements, if BLAS can read it in place (unit column
    stride, rows at least a row apart), else None."""
    size = a.itemsize
    rows, cols = a.shape
    if rows <= 1:  # its row stride is never used; BLAS asks for one of at least a row
        return max(cols, 1) if a.strides[1] == size or cols <= 1 else None
    if (a.strides[1] != size and cols > 1) or a.strides[0] % size:
        return None
    ld = a.strides[0] // size
    return ld if ld >= max(cols, 1) else None


def matmul(a: np.ndarray, b: np.ndarray, transpose_a: bool = False) -> np.ndarray:
    """``op(a) b`` (C-contiguous), ``op(a)`` = ``a^T`` if ``transpose_a`` else ``a``, for 2-D
    NumPy arrays of one float dtype, read in place.

    ``a`` may be a column block of a wider matrix (some gates' columns of dZ, (T B, n H)):
    NumPy copies such a block before its GEMM (``dot(a.T, b)`` costs twice the GEMM at the
    medium size, ``dot(a, b)`` a tenth more); BLAS reads it with its row stride (``lda``).
    Where both operands are C-contiguous, or BLAS cannot read one in place, or NumPy's BLAS has
    no CBLAS symbol, this is ``np.dot`` (which reads a contiguous ``a^T`` in place too, and
    costs about 2 µs a call where this ctypes call costs about 15).
    """
    if a.flags.c_contiguous and b.flags.c_contiguous:
        return np.dot(a.T if transpose_a else a, b)
    gemm_fn = _cblas_gemm(a.dtype) if a.dtype == b.dtype and a.dtype in (
        np.float32, np.float64) else None
    lda, ldb = _row_stride(a), _row_stride(b)
    k, m = a.shape if transpose_a else a.shape[::-1]
    n = b.shape[1]
    if gemm_fn is None or lda is None or ldb is None or b.shape[0] != k or 0 in (k, m, n):
        return np.dot(a.T if transpose_a else a, b)
    c = np.empty((m, n), a.dtype)
    gemm_fn(CBLAS_ROW_MAJOR, CBLAS_TRANS if transpose_a else CBLAS_NO_TRANS, CBLAS_NO_TRANS,
            m, n, k, 1.0, a.ctypes.data, max(lda, 1), b.ctypes.data, max(ldb, 1), 0.0,
            c.ctypes.data, max(n, 1))
    return c


@intrinsic
def gemm(typingctx: Any, address: Any, trans_b: Any, m: Any, n: Any, k: Any, a: Any, lda: Any,
         b: Any, ldb: Any, c: Any, ldc: Any, beta: Any) -> Any:
    """In Numba: C = A op(B) + beta C, row-major, by the ``cblas_?gemm`` at ``address`` (an
    int); op(B) is B, or B^T where ``trans_b`` is true (a boolean literal).

    A is m x k with row stride ``lda``; B is k x n (n x k if transposed) with row stride
    ``ldb``; C is m x n with row stride ``ldc`` (elements); ``a``, ``b``, ``c`` are arrays of one
    float dtype whose data pointer is the matrix's first element (a C-contiguous array, or a
    column block of one)."""
    arrays = (a, b, c)
    if not all(isinstance(t, types.Array) for t in arrays) or \
            len({t.dtype for t in arrays}) != 1 or a.dtype not in (types.float32, types.float64):
        return None
    if not isinstance(trans_b, types.BooleanLiteral):
        return None
    op_b = CBLAS_TRANS if trans_b.literal_value else CBLAS_NO_TRANS
    sig = types.void(address, trans_b, m, n, k, a, lda, b, ldb, c, ldc, beta)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        tys = signature.args[:1] + signature.args[2:]
        args = args[:1] + args[2:]
        real = context.get_value_type(tys[4].dtype)
        i32, i64 = ir.IntType(32), ir.IntType(64)
        ptr = real.as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, real, ptr, i64,
                                               ptr, i64, real, ptr, i64])
        fn = builder.inttoptr(context.cast(builder, args[0], tys[0], types.int64),
                              fnty.as_pointer())

        def int64(pos: int) -> Any:
            return context.cast(builder, args[pos], tys[pos], types.int64)

        def data(pos: int) -> Any:
            return context.make_array(tys[pos])(context, builder, args[pos]).data

        builder.call(fn, [ir.Constant(i32, CBLAS_ROW_MAJOR), ir.Constant(i32, CBLAS_NO_TRANS),
                          ir.Constant(i32, op_b), int64(1), int64(2), int64(3),
                          ir.Constant(real, 1.0), data(4), int64(5), data(6), int64(7),
                          context.cast(builder, args[10], tys[10], tys[4].dtype), data(8),
                          int64(9)])
        return context.get_dummy_value()

    return sig, codegen
