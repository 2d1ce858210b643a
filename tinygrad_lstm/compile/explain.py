"""Which path a cell takes in a sequence, and why: ``tl.cells.explain(cell)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_lstm.compile.kernels import for_cell

if TYPE_CHECKING:
    from tinygrad_lstm.cells.base import Cell


def explain(cell: Cell) -> str:
    """A few lines: compiled (its gates, the values saved per step, the kernel cache key) or
    the tape path and the reason.

    >>> import tinygrad_lstm as tl
    >>> print(tl.cells.explain(tl.cells.LSTM(3, 4)).splitlines()[0])
    LSTM: compiled (float32 Numba kernels, one tape node per layer)
    """
    name = type(cell).__name__
    result = for_cell(cell, warn=False)
    if isinstance(result, str):
        reason = result.removeprefix(f"{name}: ")
        return f"{name}: tape path: {reason}"
    g = result.graph
    saved = ", ".join(result.saved) or "nothing"
    context = ", ".join(f"{k} (the {s} of the layer below)" for k, s in cell.context.items())
    lines = [
        f"{name}: compiled ({result.dtype.name} Numba kernels, one tape node per layer)",
        f"  gates {', '.join(g.gates)} (one GEMM for x over all steps, one per step for "
        f"{', '.join(name for _, name, _, _, _ in g.products()) or 'nothing'})",
        f"  state {', '.join(g.states)}; per-column parameters: {', '.join(g.params) or 'none'}",
        *([f"  context {context}: read by the kernels at each step (zeros in the first layer)"]
          if g.context else []),
        "  time loop: " + ("one Numba call per layer, its GEMMs by NumPy's own BLAS"
                           if result.run_forward is not None else
                           "Python, per step (NumPy's BLAS has no ILP64 cblas GEMM to call)"),
        f"  saved per step for the backward: {saved} ({len(result.saved)} x H per row)",
        f"  kernel cache key {result.key}",
    ]
    if g.phases:
        made = "; ".join(f"{name} = {_expanded(result, name)} read by "
                         f"{', '.join(dict.fromkeys(gate for gate, _ in pairs))}"
                         for name, _, pairs in g.computed)
        lines.insert(2, f"  {g.phases + 1} kernels per step forward and backward: {made}")
    return "\n".join(lines)


def _expanded(result: Any, name: str) -> Any:
    """A computed value written in the leaves (z, states, parameters), not in node numbers."""
    d = result.derivation
    expr = d.computed[name]
    for v, e in reversed(d.forward):
        expr = expr.xreplace({v: e})
    return expr
