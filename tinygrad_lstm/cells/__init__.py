"""The cell zoo: every cell of the essay and of the papers it cites, built from primitives.

>>> import tinygrad_lstm as tl
>>> "lstm" in tl.cells.available()
True
>>> tl.cells.create("gru", 3, 8).hidden_size
8
>>> spec = tl.cells.resolve("lstm")      # also "module:Class" or a Cell subclass
>>> spec.build(3, 8, forget_bias=1.0).forget_bias
1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from tinygrad_lstm.cells.registry import (
    CellSpec,
    CellSpecError,
    available,
    get,
    names,
    register,
    resolve,
    unregister,
)
from tinygrad_lstm.cells.rnn import RNN, ClockworkRNN

if TYPE_CHECKING:
    from tinygrad_lstm.module import Module

__all__ = [
    "CIFG", "GREFF_VARIANTS", "GRU", "LSTM", "MGU", "MUT1", "MUT2", "MUT3", "RNN", "Cell",
    "CellSpec", "CellSpecError", "ClockworkRNN", "DepthGatedLSTM", "GateSpec", "LayerNormLSTM",
    "PeepholeLSTM", "TorchGRU", "available", "create", "explain", "get", "greff_variant", "names",
    "register", "resolve", "unregister",
]


def create(name: str, input_size: int, hidden_size: int, **options: Any) -> Cell:
    """A built-in cell by its name in ``available()`` (``resolve`` takes custom cells too)."""
    if name not in available():
        raise ValueError(f"unknown cell {name!r}; available: {', '.join(available())}")
    spec = resolve(name)
    try:
        return spec.cls(input_size, hidden_size, **{**spec.preset, **options})
    except TypeError as err:  # an option the cell does not have
        raise TypeError(f"cell {name!r}: {err}") from None


def explain(cell: Cell | Module) -> str:
    """Whether ``cell`` (or the cells of a module such as ``tl.nn.LSTM``) runs as compiled
    kernels in a sequence, or on the tape, and why (``tinygrad_lstm.compile.explain``)."""
    from tinygrad_lstm.compile import explain as _explain

    return _explain(cell)
