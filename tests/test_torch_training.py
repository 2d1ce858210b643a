"""Training parity with PyTorch: same weights, same recipe, same trajectory.

``tl.nn.LSTM`` / ``GRU`` / ``RNN`` hold PyTorch's parameters (two biases each receiving the full
gradient), so 50 steps of Adam with ``clip_grad_norm_`` from identical weights give PyTorch's
losses and parameters to float32 rounding: layers, directions, relu, and the LSTM's projection.
Before the parameters were PyTorch's (one summed bias), the bias moved half as fast and the
runs parted within a few steps: ``test_single_bias_would_diverge`` keeps that difference
visible.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import optim

torch = pytest.importorskip("torch")

T, B, IN, H, OUT = 6, 3, 3, 5, 2
STEPS = 50
CONFIGS = [
    ("LSTM", {"num_layers": 1}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"num_layers": 2, "proj_size": 3}),
    ("GRU", {"num_layers": 2, "bidirectional": True}),
    ("RNN", {"num_layers": 2, "nonlinearity": "tanh", "bidirectional": True}),
    ("RNN", {"num_layers": 1, "nonlinearity": "relu"}),
]


def _ids(config: tuple) -> str:
    kind, opts = config
    return kind + "-" + "-".join(f"{k}={v}" for k, v in opts.items())


class _Ours(tl.nn.Module):
    def __init__(self, kind: str, opts: dict) -> None:
        super().__init__()
        self.rnn = getattr(tl.nn, kind)(IN, H, **opts)
        width = (opts.get("proj_size") or H) * (2 if opts.get("bidirectional") else 1)
        self.head = tl.nn.Linear(width, OUT)

    def forward(self, x: tl.Tensor) -> tl.Tensor:
        out, _ = self.rnn(x)
        return self.head(out)


class _Theirs(torch.nn.Module):
    def __init__(self, kind: str, opts: dict) -> None:
        super().__init__()
        self.rnn = getattr(torch.nn, kind)(IN, H, **opts)
        width = (opts.get("proj_size") or H) * (2 if opts.get("bidirectional") else 1)
        self.head = torch.nn.Linear(width, OUT)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


def _train(kind: str, opts: dict, freeze_bias_hh: bool = False) -> tuple[list, list, dict, dict]:
    torch.set_num_threads(1)  # tiny tensors: more threads only contend with the other tests
    torch.manual_seed(0)
    theirs = _Theirs(kind, opts)
    ours = _Ours(kind, opts)
    sd = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    assert list(sd) == [name for name, _ in ours.named_parameters()]  # same names, same order
    ours.load_state_dict(sd)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, B, IN)).astype(np.float32)
    y = rng.standard_normal((T, B, OUT)).astype(np.float32)
    t_opt = torch.optim.Adam(theirs.parameters(), lr=0.02)
    o_opt = optim.Adam(ours.parameters(), lr=0.02)
    if freeze_bias_hh:
        o_opt = optim.Adam([p for n, p in ours.named_parameters() if "bias_hh" not in n],
                           lr=0.02)
    t_losses, o_losses = [], []
    for _ in range(STEPS):
        t_opt.zero_grad()
        loss = torch.nn.functional.mse_loss(theirs(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.5)
        t_opt.step()
        t_losses.append(loss.item())

        o_opt.zero_grad()
        mine = tl.nn.mse_loss(ours(tl.Tensor(x)), y)
        mine.backward()
        optim.clip_grad_norm_(ours.parameters(), 0.5)
        o_opt.step()
        o_losses.append(mine.item())
    final_t = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    return t_losses, o_losses, final_t, ours.state_dict()


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_adam_with_clipping_follows_pytorch(config: tuple) -> None:
    kind, opts = config
    t_losses, o_losses, t_params, o_params = _train(kind, opts)
    assert t_losses[-1] < 0.8 * t_losses[0]  # it trained: the comparison is not of a still run
    np.testing.assert_allclose(o_losses, t_losses, rtol=1e-4, atol=1e-5)
    assert list(o_params) == list(t_params)
    for key, value in t_params.items():
        np.testing.assert_allclose(o_params[key], value, rtol=1e-4, atol=2e-5, err_msg=key)


def test_single_bias_would_diverge() -> None:
    """The same run with bias_hh frozen (one bias learning, as before) parts from PyTorch: the
    comparison above can fail."""
    t_losses, o_losses, _, _ = _train("LSTM", {"num_layers": 1}, freeze_bias_hh=True)
    assert not np.allclose(o_losses, t_losses, rtol=2e-5, atol=1e-6)
