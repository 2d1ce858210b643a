"""The compiled time loop: NumPy's BLAS called from Numba by address, 2^-n from its bits, and
the loop in one Numba call against the same kernels driven step by step from Python."""

from __future__ import annotations

import platform
import re

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.compile import kernels

numba = pytest.importorskip("numba")

from tinygrad_lstm.compile import blas, emit_numba, llvm_ops  # noqa: E402  (they import numba)


def _address(dtype: str) -> int:
    address = blas.gemm_address(dtype)
    if address is None:
        pytest.skip("this NumPy's BLAS exposes no ILP64 cblas_?gemm: the loop runs in Python")
    return address


@numba.njit
def _gemm_blocks(address, trans_b, a, w, c, lo, width):  # C = A[:, lo:lo + width] op(W)
    if trans_b:
        blas.gemm(address, True, a.shape[0], w.shape[0], width, a[:, lo:], a.shape[1], w,
                  w.shape[1], c, c.shape[1], 0.0)
    else:
        blas.gemm(address, False, a.shape[0], w.shape[1], width, a[:, lo:], a.shape[1], w,
                  w.shape[1], c, c.shape[1], 1.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gemm_by_address_matches_numpy(dtype: str) -> None:
    address = _address(dtype)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 11)).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-13, atol=1e-13)
    # a column block of A (row stride 11) times W^T: the forward's product
    w = rng.standard_normal((6, 4)).astype(dtype)
    c = np.full((5, 6), np.nan, dtype)  # beta = 0 must not read C
    _gemm_blocks(address, True, a, w, c, 3, 4)
    np.testing.assert_allclose(c, a[:, 3:7] @ w.T, **tol)
    # ... times W, accumulated into C (beta = 1): the backward's product
    w = rng.standard_normal((4, 6)).astype(dtype)
    c0 = rng.standard_normal((5, 6)).astype(dtype)
    c = c0.copy()
    _gemm_blocks(address, False, a, w, c, 7, 4)
    np.testing.assert_allclose(c, c0 + a[:, 7:11] @ w, **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", ["contiguous", "column block", "every other row", "one column",
                                  "one row", "one row, reversed", "rows reversed",
                                  "transposed view", "no rows", "no columns"])
def test_matmul_reads_blocks_in_place_and_matches_numpy(dtype: str, case: str) -> None:
    """``blas.matmul``: op(a) b for the weight gradients (a^T b, a a column block of dZ) and
    dx (a b); where BLAS cannot read an operand in place it is NumPy's dot."""
    rng = np.random.default_rng(1)
    wide = rng.standard_normal((12, 9)).astype(dtype)
    a = {"contiguous": wide, "column block": wide[:, 2:7], "every other row": wide[::2, 1:5],
         "one column": wide[:, 4:5], "one row": wide[3:4, 2:8],
         "one row, reversed": wide[3:2:-1, 2:8], "rows reversed": wide[::-1, 1:6],
         "transposed view": wide.T,
         "no rows": wide[:0], "no columns": wide[:, :0]}[case]
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-13, atol=1e-13)
    exact = a.astype(np.float64)
    for transpose, rows in ((True, a.shape[0]), (False, a.shape[1])):
        b = rng.standard_normal((rows, 3)).astype(dtype)[:, ::-1].copy()
        out = blas.matmul(a, b, transpose_a=transpose)
        want = (exact.T if transpose else exact) @ b.astype(np.float64)
        assert out.shape == want.shape and out.dtype == a.dtype and out.flags.c_contiguous
        np.testing.assert_allclose(out, want, **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("shape", [(256, 64), (64, 256), (37, 5), (1, 7), (7, 1), (0, 3), (3, 0)])
def test_transposed_is_an_exact_c_ordered_copy(dtype: str, shape: tuple[int, int]) -> None:
    """``blas.transposed``: a.T, C-contiguous, a new array, every entry as it was (OpenBLAS's
    omatcopy for floats where NumPy's BLAS has it, NumPy's copy otherwise)."""
    a = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    for src in (a, a[:, ::-1]):  # a strided input takes NumPy's copy
        out = blas.transposed(src)
        assert out.flags.c_contiguous and out.dtype == src.dtype
        assert not np.shares_memory(out, src)
        np.testing.assert_array_equal(out, src.T)


@numba.njit
def _pow2(n):
    out = np.empty_like(n)
    for k in range(n.size):
        out[k] = llvm_ops.pow2_neg(n[k])
    return out


@pytest.mark.parametrize(("dtype", "top"), [("float32", 126), ("float64", 1022)])
def test_pow2_neg_is_exact_over_its_range(dtype: str, top: int) -> None:
    n = np.arange(top + 1).astype(dtype)
    np.testing.assert_array_equal(_pow2(n), np.ldexp(np.ones(top + 1, dtype), -np.arange(
        top + 1)))


def _layer(name: str, dtype: str, reverse: bool, recurrent_dropout: float = 0.0
           ) -> tuple[np.ndarray, ...]:
    tl.manual_seed(0)
    cell = tl.cells.create(name, 4, 4, dtype=dtype)  # input = hidden: MUT1 reads x_t itself
    rnn = tl.nn.Recurrent(cell, bidirectional=reverse, recurrent_dropout=recurrent_dropout)
    x = tl.Tensor(np.random.default_rng(1).standard_normal((6, 3, 4)), dtype=dtype,
                  requires_grad=True)
    out, state = rnn(x, lengths=[6, 2, 4])
    loss = (out * out).sum() + (state[0][-1] * 0.5).sum()
    loss.backward()
    return (out.numpy(), x.grad.numpy(), *(p.grad.numpy() for p in rnn.parameters()))


@pytest.mark.parametrize("recurrent_dropout", [0.0, 0.3])
@pytest.mark.parametrize("name", ["lstm", "gru", "torch-gru", "mut1", "peephole"])
def test_compiled_loop_matches_python_loop(name: str, recurrent_dropout: float,
                                           monkeypatch) -> None:
    dtype = "float64"
    _address(dtype)
    cell = tl.cells.create(name, 4, 4, dtype=dtype)
    compiled = kernels.for_cell(cell)
    assert not isinstance(compiled, str), compiled
    assert compiled.run_forward is not None and compiled.run_backward is not None
    assert "time loop: one Numba call per layer" in tl.cells.explain(cell)
    one_call = _layer(name, dtype, reverse=True, recurrent_dropout=recurrent_dropout)
    monkeypatch.setattr(compiled, "run_forward", None)  # the step-by-step Python loop
    monkeypatch.setattr(compiled, "run_backward", None)
    stepped = _layer(name, dtype, reverse=True, recurrent_dropout=recurrent_dropout)
    for u, v in zip(one_call, stepped, strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-13)


def test_saved_buffers_kept_for_a_few_shapes_only() -> None:
    from tinygrad_lstm.compile import layer

    rnn = tl.nn.Recurrent(tl.cells.LSTM(3, 4))
    for steps in range(1, 3 * layer.SPARE_SHAPES):  # a new sequence length every call
        out, _ = rnn(tl.Tensor(np.ones((steps, 2, 3)), requires_grad=True))
        out.sum().backward()
    pool = layer._workspace.__dict__.get("spare", {})
    assert 0 < len(pool) <= layer.SPARE_SHAPES
    assert all(len(bufs) <= 2 for bufs in pool.values())


#: single-precision arithmetic, packed (…ps, on xmm or ymm) and scalar (…ss). A vectorised loop
#: over j keeps a scalar copy for its last entries: measured, a vectorised kernel's packed count
#: is 1/4 to 1 times its scalar count (the RNN's backward 7/29), a scalar kernel's 0-2 of 40-80
_ARITH = r"\bv?(?:add|sub|mul|div|fmadd\w*|fnmadd\w*|fmsub\w*|fnmsub\w*)"
_PACKED, _SCALAR = re.compile(_ARITH + r"ps\b"), re.compile(_ARITH + r"ss\b")


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="reads x86-64 assembly")
@pytest.mark.parametrize("name", ["lstm", "peephole", "torch-gru", "gru", "rnn"])
def test_float32_kernels_vectorise(name: str, monkeypatch) -> None:
    """LLVM drops a loop to scalar code without a word (too many run-time alias checks, a
    dependence it cannot resolve): the kernels then run several times slower, with the same
    results. Each kernel here is compiled afresh (code loaded from Numba's cache has no
    assembly to read), the way the runner compiles it, and its assembly must hold packed
    arithmetic. The Peephole LSTM's kernels, and the LSTM's forward, need the raised alias-check
    budget (``emit_numba.vectorising``)."""
    cell = tl.cells.create(name, 3, 8)
    compiled = kernels.for_cell(cell)
    assert not isinstance(compiled, str), compiled
    text = emit_numba.source(compiled.derivation, compiled.dtype)
    module: dict = {}
    exec(compile(text.replace("cache=True", "cache=False"), f"<{name} kernels>", "exec"), module)
    names = ["forward", "backward", *(f"forward_{p}" for p in range(compiled.graph.phases)),
             *(f"backward_{p}" for p in range(1, compiled.graph.phases + 1))]
    monkeypatch.setattr(compiled, "forward", module["forward"])
    monkeypatch.setattr(compiled, "backward", module["backward"])
    monkeypatch.setattr(compiled, "phases", tuple(module[f"forward_{p}"]
                                                  for p in range(compiled.graph.phases)))
    monkeypatch.setattr(compiled, "phase_backward", {
        p: module[f"backward_{p}"] for p in range(1, compiled.graph.phases + 1)})
    monkeypatch.setattr(compiled, "run_forward", None)  # the kernels alone: quicker to build
    monkeypatch.setattr(compiled, "run_backward", None)
    monkeypatch.setattr(compiled, "called", set())
    out, _ = tl.nn.Recurrent(cell)(tl.Tensor(np.ones((2, 4, 3)), dtype="float32",
                                             requires_grad=True))
    out.sum().backward()
    for kernel in names:
        dispatcher = module[kernel]
        assert len(dispatcher.signatures) == 1, f"{name}: {kernel} was not called once"
        asm = dispatcher.inspect_asm(dispatcher.signatures[0])
        packed, scalar = len(_PACKED.findall(asm)), len(_SCALAR.findall(asm))
        assert packed >= 4 and 8 * packed >= scalar, \
            f"{name}: {kernel} did not vectorise ({packed} packed, {scalar} scalar operations)"
