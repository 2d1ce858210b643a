"""A sweep over the public API and the CLI with wrong input, as a new user would type it.

Every case must fail early with the project's message naming the function or class and the
argument, and the expected type of error; none may surface as a NumPy or attribute error from
deep inside.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lstm as tl

ROOT = Path(__file__).resolve().parent.parent


def x3() -> tl.Tensor:
    return tl.Tensor(np.zeros((5, 2, 3)))


class GrowingCell(tl.Cell):
    """A user's mistake: the step returns a wider state than it got."""

    state = ("h",)

    def step(self, x: tl.Tensor, h: tl.Tensor) -> tuple[tl.Tensor]:
        return (tl.concat([h, self.gate("a", h, x).tanh()], axis=-1),)


class ArrayStateCell(tl.Cell):
    """A user's mistake: the step returns a NumPy array as its state."""

    state = ("h",)

    def step(self, x: tl.Tensor, h: tl.Tensor) -> tuple[object]:
        return (self.gate("a", h, x).tanh().detach().numpy(),)


def lstm_runner() -> tl.nn.Recurrent:
    return tl.nn.Recurrent(tl.cells.LSTM(3, 4))


CASES = [
    # tensors and the engine
    ("Tensor(None)", lambda: tl.Tensor(None), TypeError, r"^Tensor: data of dtype object"),
    ("Tensor(dict)", lambda: tl.Tensor({"a": 1}), TypeError, r"^Tensor: .*not numeric"),
    ("Tensor(backend=5)", lambda: tl.Tensor([1.0], backend=5), TypeError,
     r"backend name must be a str, got int"),
    ("Tensor(backend='gpu')", lambda: tl.Tensor([1.0], backend="gpu"), ValueError,
     r"unknown backend 'gpu'; available: .*numpy"),
    ("zeros(-1)", lambda: tl.zeros(-1), ValueError, r"^zeros: shape must be non-negative ints"),
    ("addmm(misaligned)", lambda: tl.addmm(tl.zeros((2, 3)), tl.zeros((2, 4)), tl.zeros((5, 3))),
     tl.ShapeError, r"^addmm: shapes \(2, 4\) and \(5, 3\) do not align"),
    ("addmm(index, wrong slice)",
     lambda: tl.addmm(tl.zeros((4, 2, 5)), tl.zeros((2, 4)), tl.zeros((4, 3)), index=1),
     tl.ShapeError, r"^addmm: c\[1\] has shape \(2, 5\), the product .* has shape \(2, 3\)"),
    ("addmm(no broadcast)", lambda: tl.addmm(tl.zeros((4,)), tl.zeros((2, 4)), tl.zeros((4, 3))),
     tl.ShapeError, r"^addmm: cannot combine shapes \(4,\) and \(2, 4\) and \(4, 3\)"),
    ("set_backend(3)", lambda: tl.set_backend(3), TypeError, r"backend name must be a str"),
    ("gradcheck(3)", lambda: tl.gradcheck(3, tl.Tensor([1.0])), TypeError,
     r"^gradcheck: fn must be callable, got int"),
    ("gradcheck(no tensors)", lambda: tl.gradcheck(lambda: 1), TypeError,
     r"^gradcheck: give at least one Tensor"),
    ("manual_seed(-1)", lambda: tl.manual_seed(-1), ValueError, r"^manual_seed: seed must be"),
    # cells
    ("LSTM(3, '4')", lambda: tl.cells.LSTM(3, "4"), ValueError,
     r"^LSTM: hidden_size must be a positive int, got '4'"),
    ("LSTM(init=)", lambda: tl.cells.LSTM(3, 4, init="xavier"), ValueError,
     r"^LSTM: init must be one of \('uniform', 'orthogonal', 'chrono'\), got 'xavier'"),
    ("LSTM(dtype=int32)", lambda: tl.cells.LSTM(3, 4, dtype="int32"), TypeError,
     r"^LSTM: dtype int32 is not supported"),
    ("LSTM(forget_bias='a')", lambda: tl.cells.LSTM(3, 4, forget_bias="a"), TypeError,
     r"^LSTM: forget_bias must be a real number, got str 'a'"),
    ("LSTM(forget_bias=nan)", lambda: tl.cells.LSTM(3, 4, forget_bias=float("nan")),
     ValueError, r"^LSTM: forget_bias must be finite, got nan$"),
    ("LSTM(gate_bias=3)", lambda: tl.cells.LSTM(3, 4, gate_bias=3), TypeError,
     r"^LSTM: gate_bias must be a dict of gate name -> number"),
    ("GRU(gate_bias z=inf)", lambda: tl.cells.GRU(3, 4, gate_bias={"z": float("inf")}),
     ValueError, r"^GRU: gate_bias\['z'\] must be finite, got inf$"),
    ("GRU(gate_bias z='a')", lambda: tl.cells.GRU(3, 4, gate_bias={"z": "a"}), TypeError,
     r"^GRU: gate_bias\['z'\] must be a real number, got str 'a'$"),
    ("cell(x, state=5)", lambda: tl.cells.LSTM(3, 4)(tl.Tensor(np.zeros((2, 3))), state=5),
     ValueError, r"^LSTM: state must be a tuple of 2 tensors \('h', 'c'\)"),
    ("cell(ndarray)", lambda: tl.cells.LSTM(3, 4)(np.zeros((2, 3))), TypeError,
     r"^LSTM: input must be a tl.Tensor, got numpy.ndarray \(wrap it: tl.Tensor\(x\)\)$"),
    ("cell(list)", lambda: tl.cells.LSTM(3, 4)([[0.0] * 3]), TypeError,
     r"^LSTM: input must be a tl.Tensor, got list$"),
    ("cell(3-D x)", lambda: tl.cells.LSTM(3, 4)(tl.Tensor(np.zeros((1, 2, 3)))), ValueError,
     r"^LSTM: input must be one step's x of shape \(batch, 3\), got shape \(1, 2, 3\)$"),
    ("nn.LSTMCell(3-D x)", lambda: tl.nn.LSTMCell(3, 4)(tl.Tensor(np.zeros((1, 2, 3)))),
     ValueError, r"^LSTMCell: input must be \(batch, 3\) or \(3,\), got shape \(1, 2, 3\)$"),
    ("nn.LSTM(4-D x)", lambda: tl.nn.LSTM(4, 5)(tl.Tensor(np.zeros((5, 3, 4, 1)))), ValueError,
     r"^LSTM: input must be 3-D \(or 2-D unbatched\), got shape \(5, 3, 4, 1\)$"),
    ("step returns an array", lambda: tl.nn.Recurrent(ArrayStateCell(2, 4))(
        tl.Tensor(np.ones((5, 2, 2)))), TypeError,
     r"^ArrayStateCell.step returned state 'h' as ndarray; a step returns tl.Tensors$"),
    ("step grows its state", lambda: tl.nn.Recurrent(GrowingCell(2, 4))(
        tl.Tensor(np.ones((5, 2, 2)))), ValueError,
     r"^GrowingCell.step returned state 'h' as \(1, 8\); it came in as \(1, 4\)"),
    ("cells.create(option)", lambda: tl.cells.create("lstm", 3, 4, colour="red"), TypeError,
     r"^cell 'lstm': .*unexpected keyword argument 'colour'"),
    ("cells.create(name)", lambda: tl.cells.create("elman", 3, 4), ValueError,
     r"^unknown cell 'elman'; available: rnn"),
    # the runner and the shortcuts
    ("Recurrent('lstm')", lambda: tl.nn.Recurrent("lstm"), TypeError,
     r"^Recurrent: cell must be a tl.Cell, got str"),
    ("Recurrent(num_layers=0)", lambda: tl.nn.Recurrent(tl.cells.LSTM(3, 4), num_layers=0),
     ValueError, r"^Recurrent: num_layers must be a positive int, got 0"),
    ("Recurrent(dropout=nan)",
     lambda: tl.nn.Recurrent(tl.cells.LSTM(3, 4), dropout=float("nan")), ValueError,
     r"^Recurrent: dropout must be a probability in \[0, 1\), got nan"),
    ("rnn(lengths='ab')", lambda: lstm_runner()(x3(), lengths="ab"), ValueError,
     r"^Recurrent: lengths must have one entry per sequence \(2\)"),
    ("rnn(lengths=[0, 5])", lambda: lstm_runner()(x3(), lengths=[0, 5]), ValueError,
     r"^Recurrent: lengths\[0\] = 0: every sequence needs at least one step"),
    ("rnn(state=PyTorch's stacked hx)", lambda: tl.nn.Recurrent(tl.cells.LSTM(3, 4), num_layers=2)(
        x3(), state=(tl.Tensor(np.zeros((2, 2, 4))), tl.Tensor(np.zeros((2, 2, 4))))), ValueError,
     r"^Recurrent: state is one tuple per layer and direction, \[\(h, c\), \.\.\.\] of \(B, H\)"),
    ("rnn(state=Tensor)", lambda: lstm_runner()(x3(), state=tl.Tensor(np.zeros((2, 4)))),
     ValueError, r"^Recurrent: state must be a list of 1 tuples"),
    ("rnn(2-D x)", lambda: lstm_runner()(tl.Tensor(np.zeros((5, 3)))), ValueError,
     r"^Recurrent: input must be 3-D \(T, B, features\), got shape \(5, 3\)"),
    ("rnn(4-D x)", lambda: lstm_runner()(tl.Tensor(np.zeros((5, 3, 4, 1)))), ValueError,
     r"^Recurrent: input must be 3-D \(T, B, features\), got shape \(5, 3, 4, 1\)$"),
    ("nn.LSTM(3, 0)", lambda: tl.nn.LSTM(3, 0), ValueError,
     r"^LSTM: hidden_size must be a positive int, got 0"),
    ("nn.RNN(nonlinearity='sin')", lambda: tl.nn.RNN(3, 4, nonlinearity="sin"), ValueError,
     r"^RNN: nonlinearity must be 'tanh' or 'relu', got 'sin'"),
    ("Linear(0, 2)", lambda: tl.nn.Linear(0, 2), ValueError,
     r"^Linear: in_features must be a positive int, got 0"),
    # losses and optimisers
    ("mse_loss(shapes)", lambda: tl.nn.mse_loss(tl.Tensor(np.zeros((2, 3))), np.zeros((3, 2))),
     ValueError, r"^mse_loss: input has shape \(2, 3\) but target has shape \(3, 2\)"),
    ("cross_entropy(float target)",
     lambda: tl.nn.cross_entropy(tl.Tensor(np.zeros((2, 3))), np.array([0.5, 1.0])), TypeError,
     r"^cross_entropy: target must hold integer class indices, got dtype float64"),
    ("cross_entropy(range)",
     lambda: tl.nn.cross_entropy(tl.Tensor(np.zeros((2, 3))), np.array([0, 3])), ValueError,
     r"^cross_entropy: target 3 at position \(1,\) is out of range for 3 classes"),
    ("Adam(lr=-1)", lambda: tl.optim.Adam(tl.nn.Linear(2, 2).parameters(), lr=-1), ValueError,
     r"^Adam: lr must be >= 0.0, got -1.0"),
    ("Adam(Tensor)", lambda: tl.optim.Adam(tl.Tensor([1.0])), TypeError,
     r"^Adam: params must be an iterable of Parameters"),
    ("clip_grad_norm_(nan)",
     lambda: tl.optim.clip_grad_norm_(tl.nn.Linear(2, 2).parameters(), float("nan")),
     ValueError, r"^clip_grad_norm_: max_norm must be a number >= 0.0, got nan$"),
    # checkpoints
    ("save('model', ...)", lambda: tl.save("model", "m.npz"), TypeError,
     r"^save: module must be a tl.nn.Module, got str"),
    ("save(..., 5)", lambda: tl.save(tl.nn.Linear(2, 2), 5), TypeError,
     r"^save: path must be a str or a path, got int"),
    ("load(missing)", lambda: tl.load(tl.nn.Linear(2, 2), "no/such/file.npz"),
     tl.CheckpointError, r"no such checkpoint file"),
    ("load(folder)", lambda: tl.load(tl.nn.Linear(2, 2), str(ROOT)), tl.CheckpointError,
     r"is a folder, not a checkpoint file"),
    # tasks and training
    ("tasks.create(length=0)", lambda: tl.tasks.create("adding", length=0), ValueError,
     r"^AddingProblem: length must be an int >= 11, got 0"),
    ("tasks.create(gap='x')", lambda: tl.tasks.create("france", gap="x"), ValueError,
     r"^FranceTask: gap must be a non-negative int, got 'x'"),
    ("tasks.create(option)", lambda: tl.tasks.create("france", length=3), TypeError,
     r"^task 'france': .*unexpected keyword argument 'length'"),
    ("task.batch(0)", lambda: tl.tasks.create("france").batch(0), ValueError,
     r"^FranceTask: batch_size must be a positive int, got 0"),
    ("TrainConfig(batch_size=0)",
     lambda: tl.train.TrainConfig(batch_size=0).validate(), ValueError,
     r"^TrainConfig: batch_size must be a positive int, got 0"),
]


@pytest.mark.parametrize("call, error, message",
                         [pytest.param(c, e, m, id=name) for name, c, e, m in CASES])
def test_public_api_refuses_bad_input_clearly(call, error, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


CLI_CASES = [
    (("train", "--batch-size", "0"), "argument --batch-size: must be a positive int, got 0"),
    (("train", "--layers", "0"), "argument --layers: must be a positive int, got 0"),
    (("train", "--eval-every", "-5"), "argument --eval-every: must be a positive int, got -5"),
    (("train", "--steps", "abc"), "argument --steps: invalid int value: 'abc'"),
    (("train", "--seq-len", "-1"), "argument --seq-len: must be a positive int, got -1"),
    (("train", "--clip", "0"), "argument --clip: must be a finite number > 0.0, got 0"),
    (("train", "--lr", "inf"), "argument --lr: must be a finite number >= 0.0, got inf"),
    (("train", "--optimizer", "rmsprop"), "argument --optimizer: invalid choice: 'rmsprop'"),
    (("train", "--backend", "tpu"), "argument --backend: invalid choice: 'tpu'"),
    (("train", "--seed", "-1"), "argument --seed: must be a non-negative int, got -1"),
    (("train", "--task", "france", "--seq-len", "5", "--out", "x"),
     "--seq-len does not apply to the 'france' task (use --gap; --seq-len is for adding, "
     "adding2016, copy, temporal-order)"),
    (("demo", "--gap", "-3"), "argument --gap: must be a non-negative int, got -3"),
    (("demo", "--hidden", "0"), "argument --hidden: must be a positive int, got 0"),
]


@pytest.mark.slow
def test_cli_flags_refuse_bad_values_in_one_line(tmp_path) -> None:
    for args, message in CLI_CASES:
        out = subprocess.run([sys.executable, "-m", "tinygrad_lstm", *args], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60,
                             env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        last = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ""
        assert out.returncode == 2, (args, out.stderr)
        assert message in last and "error" in last, (args, last)
    assert not any(tmp_path.iterdir())  # nothing was created by any refused command
