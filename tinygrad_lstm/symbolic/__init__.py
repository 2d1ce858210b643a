"""Symbolic views of the code that runs: a cell's equations, Jacobians and diagram.

``tl.symbolic.equations(cell)`` and ``tl.symbolic.latex(cell)`` trace the same ``step`` that
runs (``printer.py``); ``tl.symbolic.jacobian`` derives Jacobians from those equations
(``calculus.py``); ``tl.symbolic.diagram`` draws the cell in the essay's style
(``drawing.py``). SymPy is imported on first use, not with ``tinygrad_lstm``.
"""

from __future__ import annotations

from typing import Any

_PRINTER_NAMES = ("Affine", "SymbolicError", "equations", "latex", "latex_expr")


def __getattr__(name: str) -> Any:
    # Lazy: importing tinygrad_lstm must not import SymPy (the engine does not need it).
    if name in _PRINTER_NAMES:
        from tinygrad_lstm.symbolic import printer

        return getattr(printer, name)
    if name == "jacobian":
        from tinygrad_lstm.symbolic.calculus import jacobian

        return jacobian
    if name in ("diagram", "render_svg"):
        from tinygrad_lstm.symbolic import drawing

        return getattr(drawing, name)
    raise AttributeError(f"module 'tinygrad_lstm.symbolic' has no attribute {name!r}")
