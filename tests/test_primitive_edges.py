"""Every primitive at its edges, driven by the ``EDGES`` table of ``primitive_specs``: 0-d
inputs, size-0 dims and the boundary values 0, -0, ±1, ±inf, nan.

Without PyTorch: forwards against NumPy, gradients of 0-d inputs against central differences,
gradients of empty inputs zero and shaped like the inputs. With PyTorch (the oracle): values and
gradients equal to PyTorch's for incoming gradients 1, -inf and nan, nan where it has nan.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from primitive_specs import EDGE_KINDS, EDGES, REFUSES, Edge

import tinygrad_lstm as tl

EDGE_PARAMS = [pytest.param(edge, id=edge.id) for edge in EDGES]
SEEDS = (1.0, -np.inf, np.nan)


def _run(edge: Edge, arrays: list[np.ndarray], seed: float) -> tuple[np.ndarray, list[Any]]:
    xs = [tl.Tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's, on inf and nan: expected
        out = edge.call(*xs)
        out.backward(np.full(out.shape, seed))
    return out, [x.grad for x in xs]


def test_every_primitive_has_every_edge() -> None:
    have = {(edge.prim, edge.kind) for edge in EDGES} | set(REFUSES)
    missing = {(p, k) for p in tl.PRIMITIVES for k in EDGE_KINDS} - have
    assert not missing, f"no edge case (or declared refusal) for {sorted(missing)}"
    assert not {(e.prim, e.kind) for e in EDGES} & set(REFUSES)
    assert {e.kind for e in EDGES} <= set(EDGE_KINDS)


@pytest.mark.parametrize("key", sorted(REFUSES), ids=lambda k: "-".join(k))
def test_refusals_are_one_clear_line(key: tuple[str, str]) -> None:
    call, message = REFUSES[key]
    with pytest.raises(tl.ShapeError, match=message):
        call()


@pytest.mark.parametrize("edge", EDGE_PARAMS)
def test_edge_records_its_primitive_and_forward_matches_numpy(edge: Edge, backend: str) -> None:
    arrays = edge.inputs(np.random.default_rng(0))
    out, grads = _run(edge, arrays, 1.0)
    assert out._node is not None and out._node.prim.name == edge.prim
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.asarray(edge.ref(*arrays))
    assert out.shape == expected.shape and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-300, equal_nan=True)
    for x, g in zip(arrays, grads, strict=True):
        assert g is not None and g.shape == x.shape and g.dtype == np.float64
        # an array, never NumPy's immutable 0-d scalar: in-place sums must reach it
        assert g.backend.is_array(g.data) and g.data.shape == x.shape


@pytest.mark.parametrize("edge", [e for e in EDGE_PARAMS if e.values[0].kind == "0-d"])
def test_0d_gradients_against_central_differences(edge: Edge, backend: str) -> None:
    arrays = edge.inputs(np.random.default_rng(1))
    xs = [tl.Tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    assert tl.gradcheck(edge.call, *xs, eps=edge.eps)


@pytest.mark.parametrize("edge", [e for e in EDGE_PARAMS if e.values[0].kind == "empty"])
def test_empty_gradients(edge: Edge, backend: str) -> None:
    """An empty output passes zeros of each input's shape back (the example: an empty batch
    through a matmul gives its weight a zero gradient); one with entries, the true gradient."""
    arrays = edge.inputs(np.random.default_rng(2))
    out, grads = _run(edge, arrays, 1.0)
    if out.numel() == 0:
        for x, g in zip(arrays, grads, strict=True):
            np.testing.assert_array_equal(g.numpy(), np.zeros(x.shape))
    else:
        xs = [tl.Tensor(a, dtype="float64", requires_grad=True) for a in arrays]
        assert tl.gradcheck(edge.call, *xs, eps=edge.eps)


@pytest.mark.parametrize("seed", SEEDS, ids=["g=1", "g=-inf", "g=nan"])
@pytest.mark.parametrize("edge", EDGE_PARAMS)
def test_edge_matches_pytorch(edge: Edge, seed: float) -> None:
    torch = pytest.importorskip("torch")
    arrays = edge.inputs(np.random.default_rng(3))
    with tl.use_backend("numpy"):
        out, grads = _run(edge, arrays, seed)
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    expected = edge.torch(*ts)
    expected.backward(torch.full(expected.shape, seed, dtype=torch.float64))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-300,
                               equal_nan=True, err_msg=f"{edge.id}: forward")
    for i, (g, t) in enumerate(zip(grads, ts, strict=True)):
        want = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-12, atol=1e-300, equal_nan=True,
                                   err_msg=f"{edge.id}: gradient of input {i}, g={seed}")
