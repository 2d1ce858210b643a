"""Chrono initialisation (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?").

A keep gate's bias starts at log(u), u ~ U(1, t_max - 1) per unit; an admit gate's at -log(u)
with the same u. Checked on every zoo cell that declares such gates, on PyTorch's layout, by
what it does to the memory (a keep gate of σ(log u) = u / (1 + u)), from the CLI, and for each
wrong use (one line naming the option)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lstm as tl

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
F64 = np.float64
T_MAX = 100
# the zoo's cells with a gate that keeps or admits the state, and the sign of each
CHRONO = {
    "lstm": {"f": 1, "i": -1}, "peephole": {"f": 1, "i": -1}, "peephole-full": {"f": 1, "i": -1},
    "cifg": {"f": 1}, "layernorm-lstm": {"f": 1, "i": -1}, "depth-gated-lstm": {"f": 1, "i": -1},
    "gru": {"z": -1}, "torch-gru": {"z": 1}, "mgu": {"f": -1}, "mut1": {"z": -1},
    "mut2": {"z": -1}, "mut3": {"z": -1},
    # Greff et al.'s variants: the LSTM's f and i where the variant has them
    "greff-nig": {"f": 1}, "greff-nfg": {"i": -1}, "greff-cifg": {"i": -1},
    **{f"greff-{v}": {"f": 1, "i": -1} for v in ("nog", "niaf", "noaf", "np", "fgr")},
}


def _biases(cell: tl.Cell) -> dict[str, np.ndarray]:
    """Each gate's starting bias (a layer-normalised cell's shift β plays that part)."""
    params = {n: p.numpy() for n, p in cell.named_parameters()}
    out = {n[2:]: v for n, v in params.items() if n.startswith("b_")}
    out.update({n[5:]: v for n, v in params.items() if n.startswith("beta_")})
    return out


def test_every_cell_with_a_memory_gate_is_in_the_table() -> None:
    """A new zoo cell that declares chrono gates must be added to CHRONO (and so tested)."""
    declared = {name for name in tl.cells.available()
                if tl.cells.resolve(name).cls.chrono_gates}
    assert declared == set(CHRONO)


@pytest.mark.parametrize("name", sorted(CHRONO))
def test_chrono_biases_follow_the_paper(name: str) -> None:
    tl.manual_seed(0)
    H = 400  # noqa: N806 - enough units for the distribution checks below
    cell = tl.cells.resolve(name).build(H, H, init="chrono", t_max=T_MAX, dtype=F64)
    biases = _biases(cell)
    signs = CHRONO[name]
    draw = np.abs(biases[next(iter(signs))])
    for gate, sign in signs.items():
        # one u per unit, shared: an admit gate's bias is minus the keep gate's
        np.testing.assert_array_equal(biases[gate], sign * draw)
    u = np.exp(draw)
    assert u.min() >= 1 - 1e-12 and u.max() <= T_MAX - 1 + 1e-9
    # U(1, t_max - 1): mean t_max / 2, sd (t_max - 2) / sqrt(12) / sqrt(H); within 5 sd
    assert abs(u.mean() - T_MAX / 2) < 5 * (T_MAX - 2) / np.sqrt(12 * H), u.mean()
    # the other gates keep the default start (uniform in ±1/√H, or 0 for a shift β)
    for gate, b in biases.items():
        if gate not in signs:
            assert np.abs(b).max() <= 1 / np.sqrt(H) + 1e-12, gate


@pytest.mark.parametrize("make, rows", [
    (lambda: tl.nn.LSTM(3, 300, init="chrono", t_max=T_MAX), {"i": (0, -1), "f": (1, 1)}),
    (lambda: tl.nn.GRU(3, 300, init="chrono", t_max=T_MAX), {"z": (1, 1)}),
    (lambda: tl.nn.LSTMCell(3, 300, init="chrono", t_max=T_MAX), {"i": (0, -1), "f": (1, 1)}),
    (lambda: tl.nn.GRUCell(3, 300, init="chrono", t_max=T_MAX), {"z": (1, 1)}),
], ids=["nn.LSTM", "nn.GRU", "nn.LSTMCell", "nn.GRUCell"])
def test_chrono_in_pytorchs_layout(make, rows) -> None:
    """PyTorch's two biases: the chrono value lies in b_ih, b_hh is zero on those rows."""
    tl.manual_seed(1)
    module = make()
    params = {n.rsplit("_l0", 1)[0]: p.numpy() for n, p in module.named_parameters()}
    H = 300  # noqa: N806
    draw = None
    for _, (row, sign) in rows.items():
        at = slice(row * H, (row + 1) * H)
        np.testing.assert_array_equal(params["bias_hh"][at], 0.0)
        value = sign * params["bias_ih"][at]
        draw = value if draw is None else draw
        np.testing.assert_array_equal(value, draw)
        assert 0 <= value.min() and value.max() <= np.log(T_MAX - 1) + 1e-6


@pytest.mark.parametrize("name", ["lstm", "torch-gru"])
def test_a_chrono_keep_gate_remembers_for_about_u_steps(name: str) -> None:
    """With every weight zero, the keep gate is σ(log u) = u / (1 + u): the state decays by
    that factor per step, a characteristic forgetting time of 1 + u steps (the paper's point)."""
    tl.manual_seed(2)
    cell = tl.cells.resolve(name).build(2, 8, init="chrono", t_max=T_MAX, dtype=F64)
    for n, p in cell.named_parameters():
        if n.startswith("W_"):
            p.data[...] = 0.0
    u = np.exp(np.abs(_biases(cell)["f" if name == "lstm" else "z"]))
    keep = u / (1 + u)
    x = tl.Tensor(np.zeros((1, 2)), dtype=F64)
    state = tuple(tl.Tensor(np.ones((1, 8)), dtype=F64) for _ in cell.state)
    new = cell.run_step(x, state)
    if name == "lstm":  # C_1 = f C_0 + i tanh(b_C), i = 1 - f
        b_c = _biases(cell)["C"]
        np.testing.assert_allclose(new[1].numpy()[0], keep + (1 - keep) * np.tanh(b_c),
                                   rtol=1e-12)
    else:  # h_1 = z h_0 + (1 - z) tanh(b_in + r b_hn)
        b = _biases(cell)
        r = 1 / (1 + np.exp(-b["r"]))
        n = np.tanh(b["in"] + r * b["hn"])
        np.testing.assert_allclose(new[0].numpy()[0], keep + (1 - keep) * n, rtol=1e-12)


def test_chrono_is_reproducible_from_the_seed() -> None:
    tl.manual_seed(5)
    a = _biases(tl.cells.LSTM(2, 16, init="chrono", t_max=50))["f"]
    tl.manual_seed(5)
    b = _biases(tl.cells.LSTM(2, 16, init="chrono", t_max=50))["f"]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make, error, message", [
    (lambda: tl.cells.LSTM(3, 4, init="chrono"), ValueError,
     "LSTM: init='chrono' needs t_max, the longest dependency in steps"),
    (lambda: tl.cells.LSTM(3, 4, t_max=10), ValueError,
     "LSTM: t_max is for init='chrono' only, got init='uniform'"),
    (lambda: tl.cells.LSTM(3, 4, init="chrono", t_max=1.5), ValueError,
     "LSTM: t_max must be a finite number >= 2, got 1.5"),
    (lambda: tl.cells.LSTM(3, 4, init="chrono", t_max=float("nan")), ValueError,
     "LSTM: t_max must be a finite number >= 2, got nan"),
    (lambda: tl.cells.LSTM(3, 4, init="chrono", t_max=True), ValueError,
     "LSTM: t_max must be a finite number >= 2, got True"),
    (lambda: tl.cells.LSTM(3, 4, init="chrono", t_max=10, forget_bias=1.0), ValueError,
     "LSTM: init='chrono' sets the forget gate's bias itself; drop forget_bias"),
    (lambda: tl.cells.GRU(3, 4, init="chrono", t_max=10, gate_bias={"z": -2.0}), ValueError,
     "GRU: init='chrono' sets the biases of ['z'] itself; drop them from gate_bias"),
    (lambda: tl.cells.RNN(3, 4, init="chrono", t_max=10), ValueError,
     "RNN: init='chrono' needs gates that keep or admit the state (chrono_gates), and this "
     "cell declares none"),
    (lambda: tl.nn.RNN(3, 4, init="chrono", t_max=10), ValueError,
     "RNNCell: init='chrono' needs gates that keep or admit the state (chrono_gates), and "
     "this cell declares none"),
    (lambda: tl.cells.LSTM(3, 4, init="chrono", t_max=10, bias=False).parameters(), ValueError,
     "LSTM: init='chrono' sets the biases of the gates ['f', 'i'], and this cell has none "
     "with a bias"),
], ids=["no t_max", "t_max alone", "t_max < 2", "nan", "bool", "forget_bias", "gate_bias",
        "rnn", "nn.RNN", "no bias"])
def test_chrono_misuse_is_one_clear_line(make, error, message) -> None:
    with pytest.raises(error) as info:
        make()
    assert str(info.value) == message


@pytest.mark.slow
def test_chrono_from_the_command_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tinygrad_lstm", "train", "--cell", "lstm", "--cell-option",
         "init=chrono", "--cell-option", "t_max=40", "--task", "adding2016", "--seq-len", "20",
         "--hidden", "8", "--batch-size", "4", "--steps", "2", "--eval-every", "2",
         "--eval-size", "8", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["cell_options"] == {"init": "chrono", "t_max": 40.0}
    model = tl.train.SequenceModel(tl.cells.LSTM(2, 8), 1, 1, per_step=False)
    tl.load(model, tmp_path / "run" / "checkpoint.npz")
    b_f = dict(model.named_parameters())["rnn.l0.b_f"].numpy()
    # two Adam steps of lr 1e-3 move a bias by at most about 2e-3
    assert 0 - 3e-3 <= b_f.min() and b_f.max() <= np.log(39) + 3e-3
    assert np.ptp(b_f) > 0.5  # drawn per unit, not a constant
