"""Dtype at module boundaries: a tensor of another dtype than the module's parameters is
refused with a DTypeError naming the module, the argument and both dtypes; casting a module
converts everything it owns, cells and their clones included."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lstm as tl

F32, F64 = "float32", "float64"


def _t(shape: tuple[int, ...], dtype: str) -> tl.Tensor:
    return tl.Tensor(np.random.default_rng(0).standard_normal(shape), dtype=dtype)


def _refused(call, *words: str) -> None:
    with pytest.raises(tl.DTypeError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for w in words:
        assert w in message, (w, message)


@pytest.mark.parametrize("own, other", [(F32, F64), (F64, F32)])
def test_every_module_refuses_another_dtype(own: str, other: str) -> None:
    lstm = tl.nn.LSTM(3, 4, dtype=own)
    x, xo = _t((2, 1, 3), own), _t((2, 1, 3), other)
    _refused(lambda: lstm(xo), "LSTM", "input", own, other)
    h, c = _t((1, 1, 4), own), _t((1, 1, 4), own)
    _refused(lambda: lstm(x, (_t((1, 1, 4), other), c)), "LSTM", "h_0", own, other)
    _refused(lambda: lstm(x, (h, _t((1, 1, 4), other))), "LSTM", "c_0", own, other)
    _refused(lambda: tl.nn.GRU(3, 4, dtype=own)(xo), "GRU", "input", own, other)
    _refused(lambda: tl.nn.RNN(3, 4, dtype=own)(xo), "RNN", "input", own, other)
    rnn = tl.nn.Recurrent(tl.cells.PeepholeLSTM(3, 4, dtype=own))
    _refused(lambda: rnn(xo), "Recurrent", "input", own, other)
    state = [(_t((1, 4), own), _t((1, 4), other))]
    _refused(lambda: rnn(x, state), "Recurrent", "state 'c'", own, other)
    cell = tl.cells.GRU(3, 4, dtype=own)
    _refused(lambda: cell(_t((1, 3), other)), "GRU", "input", own, other)
    _refused(lambda: cell(_t((1, 3), own), (_t((1, 4), other),)), "GRU", "state 'h'", own,
             other)
    _refused(lambda: tl.nn.Linear(3, 2, dtype=own)(_t((5, 3), other)), "Linear", "input",
             own, other)


def test_torch_refuses_too() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises((RuntimeError, ValueError), match="dtype"):
        torch.nn.LSTM(3, 4)(torch.zeros((2, 1, 3), dtype=torch.float64))


@pytest.mark.parametrize("cast", ["to", "double"])
def test_casting_converts_cells_and_their_clones(cast: str) -> None:
    rnn = tl.nn.Recurrent(tl.cells.LSTM(3, 4), num_layers=2, bidirectional=True)
    rnn = rnn.to(F64) if cast == "to" else rnn.double()
    assert all(p.dtype == np.float64 for p in rnn.parameters())
    assert all(c.dtype == np.float64 for c in rnn.cells)
    out, state = rnn(_t((3, 2, 3), F64))  # zero states made by the cells: float64 too
    assert out.dtype == np.float64
    assert all(s.dtype == np.float64 for layer in state for s in layer)
    clone = rnn.cells[2].clone()
    assert clone.dtype == np.float64
    assert all(p.dtype == np.float64 for p in clone.parameters())
    _refused(lambda: rnn(_t((3, 2, 3), F32)), "Recurrent", "input", F32, F64)
    lstm = tl.nn.LSTM(3, 4, num_layers=2, dtype=F64).float()
    out, (h, c) = lstm(_t((3, 2, 3), F32))
    assert out.dtype == h.dtype == c.dtype == np.float32


def test_to_names_a_bad_target() -> None:
    with pytest.raises(ValueError, match="neither a backend"):
        tl.nn.LSTM(3, 4).to("float16-ish")
