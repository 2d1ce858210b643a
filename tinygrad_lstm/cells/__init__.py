"""The cell zoo: every cell of the essay and of the papers it cites, built from primitives.

>>> import tinygrad_lstm as tl
>>> "lstm" in tl.cells.available()
True
>>> tl.cells.create("gru", 3, 8).hidden_size
8
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinygrad_lstm.cells.base import Cell, GateSpec
from tinygrad_lstm.cells.gru import GRU, MGU, MUT1, MUT2, MUT3, TorchGRU
from tinygrad_lstm.cells.lstm import (
    CIFG,
    GREFF_VARIANTS,
    LSTM,
    DepthGatedLSTM,
    LayerNormLSTM,
    PeepholeLSTM,
    greff_variant,
)
from tinygrad_lstm.cells.rnn import RNN, ClockworkRNN

__all__ = [
    "CIFG", "GREFF_VARIANTS", "GRU", "LSTM", "MGU", "MUT1", "MUT2", "MUT3", "RNN", "Cell",
    "ClockworkRNN", "DepthGatedLSTM", "GateSpec", "LayerNormLSTM", "PeepholeLSTM", "TorchGRU",
    "available", "create", "explain", "greff_variant",
]


def _greff(name: str) -> Callable[..., Cell]:
    def make(input_size: int, hidden_size: int, **options: Any) -> Cell:
        return greff_variant(name, input_size, hidden_size, **options)

    return make


_REGISTRY: dict[str, tuple[Callable[..., Cell], str]] = {
    "rnn": (RNN, RNN.description),
    "rnn-relu": (lambda i, h, **o: RNN(i, h, nonlinearity="relu", **o),
                 "vanilla RNN with relu: h_t = relu(W·[h_{t-1}, x_t] + b)"),
    "lstm": (LSTM, LSTM.description),
    "peephole": (PeepholeLSTM, PeepholeLSTM.description),
    "peephole-full": (lambda i, h, **o: PeepholeLSTM(i, h, full_peepholes=True, **o),
                      "peephole LSTM with full matrices over [C, h, x], as the essay draws them"),
    "cifg": (CIFG, CIFG.description),
    "gru": (GRU, GRU.description),
    "torch-gru": (TorchGRU, TorchGRU.description),
    "mgu": (MGU, MGU.description),
    "mut1": (MUT1, MUT1.description),
    "mut2": (MUT2, MUT2.description),
    "mut3": (MUT3, MUT3.description),
    "layernorm-lstm": (LayerNormLSTM, LayerNormLSTM.description),
    "clockwork": (ClockworkRNN, ClockworkRNN.description),
    "depth-gated-lstm": (DepthGatedLSTM, DepthGatedLSTM.description),
}
_GREFF_DESCRIPTIONS = {
    "NIG": "no input gate (i = 1)", "NFG": "no forget gate (f = 1)",
    "NOG": "no output gate (o = 1)", "NIAF": "no input activation (no tanh on C̃)",
    "NOAF": "no output activation (h = o ⊙ C)", "NP": "no peepholes",
    "CIFG": "coupled input and forget gate (f = 1 - i)",
    "FGR": "full gate recurrence (gates read i, f, o of the previous step)",
}
for _name in GREFF_VARIANTS:
    _REGISTRY[f"greff-{_name.lower()}"] = (
        _greff(_name), f"Greff 2015 {_name}: peephole LSTM with {_GREFF_DESCRIPTIONS[_name]}")


def available() -> dict[str, str]:
    """Every built-in cell by name, with a one-line description."""
    return {name: description for name, (_, description) in _REGISTRY.items()}


def create(name: str, input_size: int, hidden_size: int, **options: Any) -> Cell:
    """A built-in cell by its name in ``available()``."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown cell {name!r}; available: {', '.join(_REGISTRY)}")
    try:
        return _REGISTRY[name][0](input_size, hidden_size, **options)
    except TypeError as err:  # an option the cell does not have
        raise TypeError(f"cell {name!r}: {err}") from None


def explain(cell: Cell) -> str:
    """Whether ``cell`` runs as compiled kernels in a sequence, or on the tape, and why
    (``tinygrad_lstm.compile.explain``)."""
    from tinygrad_lstm.compile import explain as _explain

    return _explain(cell)
