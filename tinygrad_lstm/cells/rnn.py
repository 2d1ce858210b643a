"""Plain recurrent cells: the vanilla (Elman) RNN and the Clockwork RNN."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_lstm.cells.base import Cell
from tinygrad_lstm.tensor import Tensor, where


class RNN(Cell):
    """The vanilla RNN of the essay: h_t = tanh(W·[h_{t-1}, x_t] + b) (or relu).

    Its Jacobian ∂h_t/∂h_{t-1} = diag(1 - h_t²) W_h shrinks (or grows) geometrically with the
    gap, which is why it cannot learn long-term dependencies.
    """

    state = ("h",)
    description = "vanilla RNN: h_t = tanh(W·[h_{t-1}, x_t] + b); nonlinearity tanh or relu"

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh",
                 **options: Any) -> None:
        super().__init__(input_size, hidden_size, **options)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity

    def step(self, x: Tensor, h: Tensor) -> tuple[Tensor]:
        a = self.gate("h", h, x)
        return (a.tanh() if self.nonlinearity == "tanh" else a.relu(),)


class ClockworkRNN(Cell):
    """Clockwork RNN (Koutník et al. 2014): hidden units in modules that tick at their periods.

    The hidden state is split into ``len(periods)`` equal modules, sorted by period. At step t
    (counted per sequence from 0) module i updates only if t mod T_i = 0, and keeps its value
    otherwise. The recurrent matrix is block upper-triangular: a module reads itself and the
    slower modules, never the faster ones. State: ("h", "t"), t being the step counter.
    """

    state = ("h", "t")
    description = "Clockwork RNN: modules with periods 2^k, block-triangular recurrence"

    def __init__(self, input_size: int, hidden_size: int,
                 periods: Sequence[int] = (1, 2, 4, 8), **options: Any) -> None:
        super().__init__(input_size, hidden_size, **options)
        periods = tuple(int(p) for p in periods)
        if not periods or any(p < 1 for p in periods) or list(periods) != sorted(periods):
            raise ValueError(f"ClockworkRNN: periods must be positive and increasing, got "
                             f"{periods}")
        if hidden_size % len(periods):
            raise ValueError(f"ClockworkRNN: hidden_size={hidden_size} does not split into "
                             f"{len(periods)} equal modules")
        self.periods = periods
        size = hidden_size // len(periods)
        module = np.repeat(np.arange(len(periods)), size)
        # row i (a unit of module m_i) reads column j iff module m_j is as slow or slower
        self._recurrence_mask = (module[None, :] >= module[:, None]).astype(np.float64)
        self._unit_period = np.array(periods)[module]

    def state_size(self, name: str) -> int:
        return 1 if name == "t" else self.hidden_size

    def step(self, x: Tensor, h: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        W_h = self.param("W_h_h", (self.hidden_size, self.hidden_size))
        mask = Tensor(self._recurrence_mask, dtype=W_h.dtype, backend=W_h.backend)
        candidate = (self.gate("h", x) + h @ (W_h * mask).T).tanh()
        xp = t.backend.xp  # the tick mask is computed where t lives: no copy to the host
        period = xp.asarray(self._unit_period[None, :])
        ticks = t.data[:, :1].astype(np.int64) % period == 0
        return where(ticks, candidate, h), t + 1
