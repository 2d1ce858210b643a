"""The CUDA kernels the compiler emits for CuPy, run on the CPU (``cuda_on_cpu``), inside the
runner's CuPy-side path, against the NumPy path (Numba kernels): values and gradients of a
layer, for every cell of the zoo that compiles, both dtypes, padding, both directions and
recurrent dropout. Skips without a host C++ compiler."""

from __future__ import annotations

import numpy as np
import pytest
from cuda_on_cpu import NotNumpy, compiler, loader
from test_compile import COMPILED, _TwoRuns

import tinygrad_lstm as tl
from tinygrad_lstm.compile import emit_cuda, kernels, runner
from tinygrad_lstm.compile.trace import trace

pytest.importorskip("numba")
pytestmark = pytest.mark.skipif(compiler() is None, reason="no host C++ compiler (g++)")


def _layer_inputs(cell: tl.Cell, reverse: bool, dropout: bool, monkeypatch
                  ) -> list[tuple[list, dict]]:
    """Each recurrent_layer node's input arrays and parameters, as the NumPy path makes them:
    one layer, or two for a cell reading the layer below (the lower one hands its per-step
    states up, the upper one reads them)."""
    seen: list = []
    real = runner.apply

    def spy(prim, *inputs, **params):
        seen.append(([t.data if isinstance(t, tl.Tensor) else t for t in inputs], params))
        return real(prim, *inputs, **params)

    monkeypatch.setattr(runner, "apply", spy)
    tl.manual_seed(3)
    rnn = tl.nn.Recurrent(cell, bidirectional=reverse, recurrent_dropout=0.3 * dropout,
                          num_layers=2 if cell.context else 1)
    x = np.random.default_rng(1).standard_normal((6, 3, cell.input_size))
    rnn(tl.Tensor(x, dtype=cell.dtype, requires_grad=True), lengths=[6, 2, 4])
    monkeypatch.setattr(runner, "apply", real)
    return seen


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> object:
    """One folder of compiled kernels for the module: a kernel is built once per source."""
    return tmp_path_factory.mktemp("cuda_on_cpu")


@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", [*sorted(COMPILED), "two-runs", "nn.LSTMCell", "nn.GRUCell"])
def test_cuda_kernels_match_numba_kernels(name: str, dtype: str, dropout: bool, built,
                                          monkeypatch) -> None:
    # input = hidden: MUT1 reads x_t itself; "two-runs": dW_x and dx in two GEMMs each;
    # tl.nn's cells: PyTorch's stacked tensors go into the node whole
    if name == "two-runs":
        cell = _TwoRuns(4, 4, dtype=dtype)
    elif name.startswith("nn."):
        cell = getattr(tl.nn, name[3:])(4, 4, dtype=dtype)
    else:
        cell = tl.cells.create(name, 4, 4, dtype=dtype)
    monkeypatch.setattr(kernels, "_by_key", {})  # the CPU stand-ins never reach the real cache
    monkeypatch.setattr(emit_cuda, "load", loader(built))
    try:
        cuda = kernels.compile_graph(trace(cell), cell.dtype, backend="cupy")
    except kernels.NotCompilable as err:
        pytest.skip(f"not emitted for CUDA: {err}")
    nodes = _layer_inputs(cell, reverse=name in ("lstm", "gru", "depth-gated-lstm",
                                                 "nn.LSTMCell"),
                          dropout=dropout, monkeypatch=monkeypatch)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-4, atol=2e-5)
    for arrays, params in nodes:
        mine = dict(params, saved=runner._Saved())
        theirs = dict(params, saved=runner._Saved(), kernels=cuda)
        want = runner._stacked_forward(np, *arrays, **mine)
        got = runner._stacked_forward(NotNumpy(), *arrays, **theirs)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, **tol)
        rng = np.random.default_rng(7)
        gs = tuple(rng.standard_normal(w.shape).astype(dtype) for w in want)
        want_g = runner._stacked_vjp(np, gs, want, *arrays, **mine)
        got_g = runner._stacked_vjp(NotNumpy(), gs, got, *arrays, **theirs)
        assert len(got_g) == len(want_g)
        for k, (a, b) in enumerate(zip(got_g, want_g, strict=True)):
            assert (a is None) == (b is None), k
            if a is not None:
                np.testing.assert_allclose(a, b, err_msg=f"gradient {k}", **tol)
    if name.startswith("nn."):  # weight_ih at least went in whole: no stack is rebuilt
        assert all(p["stacks"][0][1] is None for _, p in nodes)
    # a cell reading the layer below: both nodes, the lower one handing its c upwards
    assert [p["seqs"] for _, p in nodes] == ([(1,), (1,), (), ()] if cell.context else
                                            [()] * len(nodes))
