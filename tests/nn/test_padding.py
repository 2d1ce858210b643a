"""Padding is never read: NaN or inf in the padded steps reach no output and no gradient.

Each check runs the same model twice, once with NaN/inf in the padding and once with finite
noise there; every output and gradient must be finite and identical, which holds only if the
padded entries are selected away before anything reads them (PyTorch's packed path never reads
them at all).
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.nn.losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss

LENGTHS = [4, 2, 1]


def _padded(fill: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Random values, with the steps past each sequence's length set to ``fill``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    pad = np.arange(shape[0])[:, None] >= np.array(LENGTHS)[None, :]
    noise = np.random.default_rng(99).standard_normal(shape)
    x[pad] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}.get(fill, 0) if fill != "noise" \
        else noise[pad]
    return x


def _run(rnn: tl.nn.Recurrent, x: np.ndarray, batch_first: bool) -> dict[str, np.ndarray]:
    rnn.zero_grad()
    tl.manual_seed(3)  # the same dropout masks in both runs
    data = x.transpose(1, 0, 2) if batch_first else x
    xt = tl.Tensor(data, dtype="float64", requires_grad=True)
    out, finals = rnn(xt, lengths=LENGTHS)
    loss = (out * out).sum()
    for layer in finals:
        for s in layer:
            loss = loss + s.sum()
    loss.backward()
    grads = {n: p.grad.numpy().copy() for n, p in rnn.named_parameters()}
    grads["out"] = out.numpy().copy()
    keep = (np.arange(x.shape[0])[:, None] < np.array(LENGTHS)[None, :])[:, :, None]
    g = xt.grad.numpy()
    grads["x (valid steps)"] = np.where(keep, g.transpose(1, 0, 2) if batch_first else g, 0)
    return grads


@pytest.mark.parametrize("cell", ["lstm", "gru", "peephole"])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("fill", ["nan", "inf", "-inf"])
def test_padding_reaches_no_gradient(cell: str, fused: bool, fill: str) -> None:
    tl.manual_seed(1)
    batch_first = cell == "gru"
    rnn = tl.nn.Recurrent(tl.cells.create(cell, 3, 4, dtype="float64"), num_layers=2,
                          bidirectional=True, batch_first=batch_first, dropout=0.3,
                          input_dropout=0.2, recurrent_dropout=0.2, fused=fused)
    bad = _run(rnn, _padded(fill, (4, 3, 3)), batch_first)
    good = _run(rnn, _padded("noise", (4, 3, 3)), batch_first)
    for name, value in bad.items():
        assert np.isfinite(value).all(), f"{cell}: {fill} in the padding reached {name}"
        np.testing.assert_allclose(value, good[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_padding_under_a_torch_shaped_module() -> None:
    tl.manual_seed(2)
    lstm = tl.nn.LSTM(3, 4, num_layers=2, dtype="float64")
    x = tl.Tensor(_padded("nan", (4, 3, 3)), dtype="float64")
    out, _ = lstm(x, lengths=LENGTHS)
    out.sum().backward()
    assert all(np.isfinite(p.grad.numpy()).all() for p in lstm.parameters())


def _masked_loss_grads(loss: str, fill: str) -> list[np.ndarray]:
    """NaN/inf at the masked positions of the loss's input and of its target."""
    logits = tl.Tensor(_padded(fill, (4, 3, 5)), dtype="float64", requires_grad=True)
    mask = np.arange(4)[:, None] < np.array(LENGTHS)[None, :]
    if loss == "cross_entropy":
        target = np.where(mask, np.arange(12).reshape(4, 3) % 5, -7)  # padding: out of range
        value = cross_entropy(logits, target, mask=mask)
    elif loss == "mse":
        value = mse_loss(logits, _padded(fill, (4, 3, 5), seed=1), mask=mask)
    else:
        target = np.abs(np.tanh(_padded(fill, (4, 3, 5), seed=1)))
        target[~mask] = np.nan if fill == "nan" else 7.0  # not a probability: never read
        value = binary_cross_entropy_with_logits(logits, target, mask=mask)
    value.backward()
    return [value.numpy(), logits.grad.numpy()]


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "bce"])
@pytest.mark.parametrize("fill", ["nan", "inf"])
def test_masked_losses_never_read_padding(loss: str, fill: str) -> None:
    bad = _masked_loss_grads(loss, fill)
    good = _masked_loss_grads(loss, "noise")
    for a, b in zip(bad, good, strict=True):
        assert np.isfinite(a).all(), f"{loss}: {fill} in the masked entries leaked"
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_padded_lstm_matches_pytorchs_packed_path() -> None:
    """PyTorch's packed sequences never read padding: NaN there, the same outputs, final states
    and input gradients from both (weights copied through the PyTorch layout)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    ours = tl.nn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype="float64")
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in net.state_dict().items()},
                         layout="torch")
    x = _padded("nan", (4, 3, 3))
    w = np.random.default_rng(5).standard_normal((4, 3, 8))
    xt = tl.Tensor(x, dtype="float64", requires_grad=True)
    out, (h, c) = ours(xt, lengths=LENGTHS)
    ((out * tl.Tensor(w, dtype="float64")).sum() + h.sum() + (c * c).sum()).backward()
    xs = torch.tensor(x, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xs, torch.tensor(LENGTHS),
                                                     enforce_sorted=False)
    out_p, (h_t, c_t) = net(packed)
    out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_p, total_length=4)
    ((out_t * torch.tensor(w)).sum() + h_t.sum() + (c_t * c_t).sum()).backward()
    keep = (np.arange(4)[:, None] < np.array(LENGTHS)[None, :])[:, :, None]
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.numpy(), h_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c.numpy(), c_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.where(keep, xt.grad.numpy(), 0),
                               np.where(keep, xs.grad.numpy(), 0), rtol=1e-10, atol=1e-12)
