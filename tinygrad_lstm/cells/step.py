"""How a running step reaches its gates: the step frame and the gate strategy.

A cell's ``step(x, *state)`` calls ``self.gate(name, *inputs)`` and nothing else of the
machinery, so the code that runs a step (the sequence runner, the compiler's tracer, the
symbolic printer) must tell ``gate`` how to answer without the cell's signature changing.
``Cell.run_step(x, state, context, strategy=...)`` hands that over as a ``StepFrame``: the
tensors bound to the step's arguments and the ``GateStrategy`` in charge. The frame lives in a
``contextvars.ContextVar`` for the length of one ``step`` call, never on the cell, so two
threads (or two asyncio tasks) running one model each see only their own frame, and a step run
inside another step (a cell that calls a sub-cell) restores the outer frame when it returns.

A strategy answers ``gate(frame, name, inputs)`` with the gate's value, or None to let the cell
compute W·[inputs] + b itself (the plain path):

* ``tinygrad_lstm.cells.plan.StepPlan``: the stacked and hoisted GEMMs of a sequence;
* the compiler's tracer: a leaf per gate, from which the fused kernel is derived;
* the symbolic printer: the plain value, remembered so the equations can name it.

>>> import numpy as np, tinygrad_lstm as tl
>>> class Halved:                       # a strategy that halves every gate
...     def gate(self, frame, name, inputs):
...         return frame.cell.plain_gate(frame, name, inputs) * 0.5
>>> cell = tl.cells.RNN(2, 3)                # h_t = tanh(W·[h_{t-1}, x_t] + b)
>>> x = tl.Tensor(np.ones((1, 2)), dtype="float64")
>>> cell.to("float64")
RNN(input_size=2, hidden_size=3)
>>> plain, _ = cell(x)                      # builds the cell, then one plain step
>>> halved = cell.run_step(x, cell.init_state(1), strategy=Halved())[0]
>>> bool(np.allclose(np.arctanh(halved.numpy()) * 2, np.arctanh(plain.numpy())))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tinygrad_lstm.cells.base import Cell
    from tinygrad_lstm.tensor import Tensor

__all__ = ["GateStrategy", "StepFrame", "frame_of"]


class GateStrategy(Protocol):
    """Answers a cell's gates while one step runs (see the module's docstring)."""

    def gate(self, frame: StepFrame, name: str, inputs: tuple[Tensor, ...]) -> Tensor | None:
        """The value of gate ``name`` on ``inputs``, or None for the plain path."""
        ...


class StepFrame:
    """One running step: its cell, the tensors bound to its arguments (x, the state, the
    context, in the order of ``step``'s parameters) and the strategy answering its gates."""

    __slots__ = ("cell", "current", "strategy")

    def __init__(self, cell: Cell, current: Sequence[Tensor],
                 strategy: GateStrategy | None = None) -> None:
        self.cell = cell
        self.current = current
        self.strategy = strategy


_FRAME: ContextVar[StepFrame | None] = ContextVar("tinygrad_lstm_step_frame", default=None)


def frame_of(cell: Cell) -> StepFrame:
    """The frame of ``cell``'s running step in this thread, or an empty one (no arguments, no
    strategy) when ``gate`` is called outside ``run_step``."""
    frame = _FRAME.get()
    if frame is None or frame.cell is not cell:
        return StepFrame(cell, ())
    return frame


def run(cell: Cell, current: Sequence[Any], strategy: GateStrategy | None) -> Any:
    """Call ``cell.step(*current)`` with its frame active in this context only."""
    token = _FRAME.set(StepFrame(cell, current, strategy))
    try:
        return cell.step(*current)
    finally:
        _FRAME.reset(token)
