"""Compiled layers on CuPy against NumPy: run when a CUDA device and CuPy are present.

Everything here skips, saying why, on a machine without them (``scripts/gpu-check`` runs this
file and the GPU benchmark in one go).
"""

from __future__ import annotations

import numpy as np
import pytest

import backends
import tinygrad_lstm as tl

REASON = backends.why_not("cupy")
pytestmark = pytest.mark.skipif(REASON is not None, reason=str(REASON))


def _run(name: str, backend: str, compile: bool, dtype: str, lengths=None,
         recurrent_dropout: float = 0.0):
    tl.manual_seed(0)
    if name.startswith("nn."):  # PyTorch's modules: their stacked tensors go in whole
        rnn = getattr(tl.nn, name[3:])(5, 6, num_layers=2, bidirectional=True, dtype=dtype,
                                       compile=compile, recurrent_dropout=recurrent_dropout)
    else:
        rnn = tl.nn.Recurrent(tl.cells.create(name, 5, 6, dtype=dtype), num_layers=2,
                              bidirectional=True, compile=compile,
                              recurrent_dropout=recurrent_dropout)
    rnn.to(backend)
    x = np.random.default_rng(1).standard_normal((7, 3, 5))
    xs = tl.Tensor(x, dtype=dtype, backend=backend, requires_grad=True)
    out, state = rnn(xs, lengths=lengths)
    w = tl.Tensor(np.random.default_rng(2).standard_normal(out.shape), dtype=dtype,
                  backend=backend)
    # the last layer's two directions (concatenated): their nodes, before backward frees them
    layers = [p._node.prim.name for p in out._node.parents]
    last = state[-1][0]  # a final state of the last layer (tl.nn's: of the first; any will do)
    loss = (out * w).sum() + (last * last).sum()
    loss.backward()
    grads = {n: p.grad.numpy() for n, p in rnn.named_parameters()}
    grads["input"] = xs.grad.numpy()
    return out.numpy(), grads, layers


@pytest.mark.parametrize("recurrent_dropout", [0.0, 0.3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["lstm", "peephole", "torch-gru", "rnn", "gru",
                                  "depth-gated-lstm", "nn.LSTM", "nn.GRU"])
def test_cupy_compiled_and_tape_match_numpy(name: str, dtype: str,
                                            recurrent_dropout: float) -> None:
    tol = dict(rtol=1e-9, atol=1e-10) if dtype == "float64" else dict(rtol=1e-3, atol=1e-4)
    ref_out, ref_grads, _ = _run(name, "numpy", False, dtype, lengths=[7, 2, 5],
                                 recurrent_dropout=recurrent_dropout)
    for compile in (True, False):
        out, grads, layers = _run(name, "cupy", compile, dtype, lengths=[7, 2, 5],
                                  recurrent_dropout=recurrent_dropout)
        if compile:  # one node per layer and direction (the essay GRU's kernels in phases)
            assert layers == ["recurrent_layer"] * 2
        np.testing.assert_allclose(out, ref_out, **tol)
        for key in ref_grads:
            np.testing.assert_allclose(grads[key], ref_grads[key], err_msg=key, **tol)
