"""Losses: values against NumPy by hand, gradients by gradcheck, stability, masks, errors."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.nn.losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss

RNG = np.random.default_rng(1234)


def _np_log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _np_ce(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-position cross-entropy, classes on the last axis: -log softmax at the target."""
    logp = _np_log_softmax(logits)
    return -np.take_along_axis(logp, target[..., None], axis=-1)[..., 0]


def _np_bce(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))


def _f64(x: np.ndarray, requires_grad: bool = False) -> tl.Tensor:
    return tl.Tensor(x, dtype=tl.float64, requires_grad=requires_grad)


# --- mse_loss --------------------------------------------------------------------------------

def test_mse_hand_values(backend: str) -> None:
    pred = tl.Tensor([[1.0, 2.0], [3.0, 5.0]])
    target = np.array([[1.0, 0.0], [0.0, 1.0]])
    # squared errors 0, 4, 9, 16
    assert mse_loss(pred, target).item() == pytest.approx(29 / 4)
    assert mse_loss(pred, target, reduction="sum").item() == pytest.approx(29.0)
    np.testing.assert_allclose(mse_loss(pred, target, reduction="none").numpy(),
                               [[0, 4], [9, 16]])
    assert pred.backend.name == backend


def test_mse_mask_averages_over_kept_entries(backend: str) -> None:
    pred = RNG.normal(size=(4, 3, 2))
    target = RNG.normal(size=(4, 3, 2))
    mask = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)
    sq = (pred - target) ** 2
    expected = sq[mask].sum() / (mask.sum() * 2)  # every kept step has D = 2 entries
    got = mse_loss(_f64(pred), _f64(target), mask=mask)
    assert got.item() == pytest.approx(expected, rel=1e-12)
    got_sum = mse_loss(_f64(pred), target, mask=mask.astype(np.int64), reduction="sum")
    assert got_sum.item() == pytest.approx(sq[mask].sum(), rel=1e-12)
    none = mse_loss(_f64(pred), target, mask=mask, reduction="none").numpy()
    np.testing.assert_allclose(none, sq * mask[..., None], rtol=1e-12)


def test_mse_gradcheck(backend: str) -> None:
    pred = _f64(RNG.normal(size=(3, 2, 2)), requires_grad=True)
    target = _f64(RNG.normal(size=(3, 2, 2)), requires_grad=True)
    mask = np.array([[1, 0], [1, 1], [0, 1]], dtype=bool)
    assert tl.gradcheck(lambda p, t: mse_loss(p, t, mask=mask), pred, target)
    assert tl.gradcheck(lambda p: mse_loss(p, target.detach()), pred)


# --- cross_entropy ---------------------------------------------------------------------------

def test_cross_entropy_hand_values(backend: str) -> None:
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    target = np.array([0, 2])
    by_hand = [-(2.0 - np.log(np.exp(2.0) + np.exp(1.0) + 1.0)), np.log(3.0)]
    loss = cross_entropy(_f64(logits), target, reduction="none")
    np.testing.assert_allclose(loss.numpy(), by_hand, rtol=1e-12)
    assert cross_entropy(_f64(logits), target).item() == pytest.approx(np.mean(by_hand))
    assert cross_entropy(_f64(logits), target, reduction="sum").item() == \
        pytest.approx(np.sum(by_hand))


def test_cross_entropy_sequence_mask(backend: str) -> None:
    T, B, C = 5, 3, 4
    logits = RNG.normal(size=(T, B, C))
    lengths = np.array([5, 3, 1])
    mask = np.arange(T)[:, None] < lengths[None, :]  # (T, B)
    target = RNG.integers(0, C, size=(T, B))
    target[~mask] = -100  # padding value: ignored under the mask
    per_step = _np_ce(logits, np.where(mask, target, 0))
    got = cross_entropy(_f64(logits), target, mask=mask)
    assert got.item() == pytest.approx(per_step[mask].mean(), rel=1e-12)
    got_sum = cross_entropy(_f64(logits), target, mask=mask, reduction="sum")
    assert got_sum.item() == pytest.approx(per_step[mask].sum(), rel=1e-12)
    none = cross_entropy(_f64(logits), target, mask=mask, reduction="none").numpy()
    np.testing.assert_allclose(none, np.where(mask, per_step, 0), rtol=1e-12)


def test_cross_entropy_mask_gradient_is_zero_on_padding(backend: str) -> None:
    logits = _f64(RNG.normal(size=(3, 2, 4)), requires_grad=True)
    mask = np.array([[1, 1], [1, 0], [0, 0]], dtype=bool)
    cross_entropy(logits, np.zeros((3, 2), dtype=np.int64), mask=mask).backward()
    grad = logits.grad.numpy()
    assert np.all(grad[~mask] == 0)
    assert np.all(np.abs(grad[mask]).sum(axis=-1) > 0)


def test_cross_entropy_padding_garbage_does_not_leak(backend: str) -> None:
    logits = RNG.normal(size=(2, 2, 3))
    logits[1, 1] = np.nan  # e.g. uninitialised padding
    mask = np.array([[1, 1], [1, 0]], dtype=bool)
    target = np.array([[0, 1], [2, 0]])
    got = cross_entropy(_f64(logits), target, mask=mask).item()
    expected = _np_ce(logits, target)[mask].mean()
    assert got == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_axis(backend: str) -> None:
    logits = RNG.normal(size=(2, 5, 3))  # (B, C, T), PyTorch's layout for sequences
    target = RNG.integers(0, 5, size=(2, 3))
    expected = _np_ce(np.moveaxis(logits, 1, -1), target).mean()
    assert cross_entropy(_f64(logits), target, axis=1).item() == pytest.approx(expected)


def test_cross_entropy_gradcheck(backend: str) -> None:
    logits = _f64(RNG.normal(size=(3, 2, 4)), requires_grad=True)
    target = RNG.integers(0, 4, size=(3, 2))
    mask = np.array([[1, 0], [1, 1], [0, 1]])
    assert tl.gradcheck(lambda z: cross_entropy(z, target, mask=mask), logits)
    assert tl.gradcheck(lambda z: cross_entropy(z, target, reduction="sum"), logits)
    assert tl.gradcheck(lambda z: cross_entropy(z, target.T, axis=0), _f64(
        RNG.normal(size=(4, 2, 3)), requires_grad=True))


def test_cross_entropy_gradient_is_softmax_minus_onehot(backend: str) -> None:
    x = RNG.normal(size=(4, 5))
    target = np.array([0, 4, 2, 2])
    logits = _f64(x, requires_grad=True)
    cross_entropy(logits, target, reduction="sum").backward()
    softmax = np.exp(_np_log_softmax(x))
    np.testing.assert_allclose(logits.grad.numpy(), softmax - np.eye(5)[target], atol=1e-12)


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_cross_entropy_extreme_logits_float32(backend: str, scale: float) -> None:
    x = np.array([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.5]], dtype=np.float32) * scale
    logits = tl.Tensor(x, requires_grad=True)
    target = np.array([0, 0])
    loss = cross_entropy(logits, target, reduction="none")
    assert loss.dtype == np.float32
    # the target is the top class (loss 0) or 2e4 below the top (loss 2e4)
    expected = [0.0, 2e4] if scale > 0 else [2e4, 0.0]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-6, atol=1e-6)
    loss.sum().backward()
    grad = logits.grad.numpy()
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad.sum(axis=-1), 0, atol=1e-6)  # softmax - onehot sums to 0


def test_cross_entropy_minus_inf_logit_of_other_class(backend: str) -> None:
    logits = tl.Tensor([[0.0, -np.inf, 0.0]], requires_grad=True)
    loss = cross_entropy(logits, np.array([0]))
    assert loss.item() == pytest.approx(np.log(2))
    loss.backward()
    np.testing.assert_allclose(logits.grad.numpy(), [[-0.5, 0.0, 0.5]])


def test_cross_entropy_against_torch() -> None:
    torch = pytest.importorskip("torch")
    logits = RNG.normal(size=(6, 3, 5))
    target = RNG.integers(0, 5, size=(6, 3))
    mask = RNG.random((6, 3)) > 0.4
    ours = _f64(logits, requires_grad=True)
    cross_entropy(ours, target, mask=mask).backward()
    theirs = torch.tensor(logits, requires_grad=True)
    keep = torch.tensor(mask)
    torch.nn.functional.cross_entropy(theirs[keep], torch.tensor(target)[keep]).backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=1e-14)


# --- binary_cross_entropy_with_logits --------------------------------------------------------

def test_bce_hand_values(backend: str) -> None:
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    y = np.array([0.0, 1.0, 0.3, 1.0, 0.0])
    p = 1 / (1 + np.exp(-x))
    by_hand = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    got = binary_cross_entropy_with_logits(_f64(x), y, reduction="none")
    np.testing.assert_allclose(got.numpy(), by_hand, rtol=1e-12)
    assert binary_cross_entropy_with_logits(_f64(x), y).item() == pytest.approx(by_hand.mean())


def test_bce_gradient_at_zero_is_sigmoid_minus_target(backend: str) -> None:
    x = _f64(np.zeros(3), requires_grad=True)
    y = np.array([0.0, 0.25, 1.0])
    binary_cross_entropy_with_logits(x, y, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.5 - y, atol=1e-15)


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_bce_extreme_logits_float32(backend: str, scale: float) -> None:
    x = tl.Tensor(np.array([1.0, 1.0, -1.0, -1.0]) * scale, requires_grad=True)
    y = np.array([1.0, 0.0, 1.0, 0.0])
    loss = binary_cross_entropy_with_logits(x, y, reduction="none")
    wrong = [0.0, 1e4, 1e4, 0.0] if scale > 0 else [1e4, 0.0, 0.0, 1e4]
    np.testing.assert_allclose(loss.numpy(), wrong, atol=1e-6)
    loss.sum().backward()
    sig = 1.0 if scale > 0 else 0.0
    np.testing.assert_allclose(x.grad.numpy(), [sig - 1, sig, 1 - sig - 1, 1 - sig],
                               atol=1e-6)


def test_bce_mask_and_gradcheck(backend: str) -> None:
    x = RNG.normal(size=(4, 2, 3))
    y = RNG.random((4, 2, 3))
    mask = np.array([[1, 1], [1, 0], [0, 1], [0, 0]], dtype=bool)
    got = binary_cross_entropy_with_logits(_f64(x), y, mask=mask).item()
    assert got == pytest.approx(_np_bce(x, y)[mask].mean(), rel=1e-12)
    assert tl.gradcheck(lambda z: binary_cross_entropy_with_logits(z, y, mask=mask),
                        _f64(x, requires_grad=True))


def test_bce_against_torch() -> None:
    torch = pytest.importorskip("torch")
    x = RNG.normal(size=(5, 4)) * 10
    y = RNG.random((5, 4))
    ours = binary_cross_entropy_with_logits(_f64(x), y).item()
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(x),
                                                                  torch.tensor(y)).item()
    assert ours == pytest.approx(theirs, rel=1e-12)


# --- validation ------------------------------------------------------------------------------

def test_shape_mismatch_names_loss_and_shapes() -> None:
    with pytest.raises(tl.ShapeError, match=r"mse_loss.*\(2, 3\).*\(3, 2\)"):
        mse_loss(tl.Tensor(np.zeros((2, 3))), np.zeros((3, 2)))
    with pytest.raises(tl.ShapeError, match=r"binary_cross_entropy_with_logits.*\(4,\)"):
        binary_cross_entropy_with_logits(tl.Tensor(np.zeros(4)), np.zeros((4, 1)))
    with pytest.raises(tl.ShapeError, match=r"cross_entropy.*\(3, 2, 5\).*\(3, 2\).*\(3, 2, 1\)"):
        cross_entropy(tl.Tensor(np.zeros((3, 2, 5))), np.zeros((3, 2, 1), dtype=int))


def test_target_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"cross_entropy: target 5 at position \(1,\).*5 classes"):
        cross_entropy(tl.Tensor(np.zeros((2, 5))), np.array([0, 5]))
    with pytest.raises(ValueError, match=r"target -1"):
        cross_entropy(tl.Tensor(np.zeros((2, 5))), np.array([-1, 0]))
    # ...unless masked out
    cross_entropy(tl.Tensor(np.zeros((2, 5))), np.array([-1, 0]), mask=np.array([0, 1]))


def test_target_dtype() -> None:
    with pytest.raises(tl.DTypeError, match=r"cross_entropy.*float64"):
        cross_entropy(tl.Tensor(np.zeros((2, 5))), np.array([0.0, 1.0]))
    with pytest.raises(tl.DTypeError, match=r"cross_entropy.*Tensor"):
        cross_entropy(tl.Tensor(np.zeros((2, 5))), tl.Tensor([0, 1]))
    with pytest.raises(tl.DTypeError, match=r"mse_loss.*float64.*float32"):
        mse_loss(tl.Tensor(np.zeros(2)), tl.Tensor(np.zeros(2), dtype=tl.float64))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits.*\[0, 1\]"):
        binary_cross_entropy_with_logits(tl.Tensor(np.zeros(2)), np.array([0.0, 2.0]))


def test_mask_errors() -> None:
    logits = tl.Tensor(np.zeros((3, 2, 4)))
    target = np.zeros((3, 2), dtype=int)
    with pytest.raises(ValueError, match=r"cross_entropy: the mask keeps no entries"):
        cross_entropy(logits, target, mask=np.zeros((3, 2), dtype=bool))
    assert cross_entropy(logits, target, mask=np.zeros((3, 2)), reduction="sum").item() == 0
    with pytest.raises(tl.ShapeError, match=r"cross_entropy: mask has shape \(2, 3\)"):
        cross_entropy(logits, target, mask=np.ones((2, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"mse_loss: mask of dtype int64 must hold only 0 and 1"):
        mse_loss(tl.Tensor(np.zeros((3, 2))), np.zeros((3, 2)), mask=np.full((3,), 2))
    # an empty batch is not an error (issue 10): the mean of nothing is nan, as in PyTorch
    empty = tl.Tensor(np.zeros((0, 2)), requires_grad=True)
    loss = mse_loss(empty, np.zeros((0, 2)))
    assert np.isnan(loss.item())
    loss.backward()
    assert empty.grad.shape == (0, 2)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"mse_loss: reduction must be one of"):
        mse_loss(tl.Tensor(np.zeros(2)), np.zeros(2), reduction="avg")
    with pytest.raises(TypeError, match=r"cross_entropy: logits must be a Tensor"):
        cross_entropy(np.zeros((2, 3)), np.array([0, 1]))
    with pytest.raises(tl.ShapeError, match=r"cross_entropy: axis 2 is out of range"):
        cross_entropy(tl.Tensor(np.zeros((2, 3))), np.array([0, 1]), axis=2)
