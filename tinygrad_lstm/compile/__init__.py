"""The cell compiler: a cell's own equations become its kernels.

Trace a cell's ``step`` once (``trace``), derive its forward and backward from the primitives'
symbolic rules (``derive``), emit one fused forward and one fused backward Numba kernel
(``emit_numba``; CUDA source for CuPy in ``emit_cuda``), and run a whole layer as one tape node
(``runner``; its arrays' side is ``layer``). ``tl.nn.Recurrent`` uses it by default;
``compile=False`` on the module, or ``set_enabled(False)`` / ``TINYGRAD_LSTM_COMPILE=0`` for the
process, keep the tape path.

>>> import tinygrad_lstm as tl
>>> tl.compile.explain(tl.cells.LayerNormLSTM(3, 4)).split(":")[:2]
['LayerNormLSTM', ' tape path']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_lstm.compile.explain import explain
from tinygrad_lstm.compile.kernels import for_cell, is_enabled, set_enabled
from tinygrad_lstm.compile.trace import NotCompilable

if TYPE_CHECKING:
    import numpy as np

    from tinygrad_lstm.cells.base import Cell
    from tinygrad_lstm.tensor import Tensor

__all__ = ["NotCompilable", "explain", "for_cell", "is_enabled", "run_compiled", "set_enabled"]


def run_compiled(cell: Cell, xs: Tensor, state: tuple[Tensor, ...], valid: np.ndarray | None,
                 reverse: bool, h_mask: Tensor | None = None, context: tuple[Tensor, ...] = (),
                 seqs: tuple[int, ...] = ()) -> tuple[Any, Any, Any] | None:
    """The runner's hook: ``(outputs, final state, {k: state k after every step})`` of
    ``cell`` over ``xs`` run compiled, or None when this layer takes the tape path.
    ``h_mask`` (B, H): recurrent dropout's mask on h_{t-1}; ``context``: one (T, B, H)
    sequence per ``cell.context`` input; ``seqs``: the states a layer above reads."""
    backend = xs.backend.name
    if backend not in ("numpy", "cupy") or xs.dtype != cell.dtype or \
            any(t.dtype != cell.dtype or t.backend.name != backend for t in (*state, *context)):
        return None
    if not is_enabled():
        return None
    kernels = for_cell(cell, backend=backend)
    if isinstance(kernels, str):
        return None
    from tinygrad_lstm.compile.runner import run_layer

    if h_mask is not None and (h_mask.backend.name != backend or h_mask.dtype != cell.dtype):
        return None
    return run_layer(cell, kernels, xs, state, valid, reverse, h_mask, context, seqs)
