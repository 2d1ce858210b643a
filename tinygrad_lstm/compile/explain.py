"""Which path a cell takes in a sequence, and why: ``tl.cells.explain(cell)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_lstm.compile.kernels import for_cell

if TYPE_CHECKING:
    from tinygrad_lstm.cells.base import Cell
    from tinygrad_lstm.module import Module
    from tinygrad_lstm.nn.recurrent import Recurrent


def explain(cell: Cell | Module) -> str:
    """A few lines: compiled (its gates, the values saved per step, the kernel cache key) or
    the tape path and the reason. ``cell`` is a ``tl.Cell``, or a module that runs cells in
    layers (``tl.nn.Recurrent``, ``tl.nn.LSTM``, ...): then each distinct cell of its layers,
    or why the module keeps the tape path (``compile=False``). Raises ``TypeError`` for
    anything else.

    >>> import tinygrad_lstm as tl
    >>> print(tl.cells.explain(tl.cells.LSTM(3, 4)).splitlines()[0])
    LSTM: compiled (float32 Numba kernels, one tape node per layer)
    >>> print(tl.cells.explain(tl.nn.LSTM(3, 4, compile=False)))
    LSTM (1 layer of LSTMCell): tape path: the module was built with compile=False
    """
    from tinygrad_lstm.cells.base import Cell
    from tinygrad_lstm.nn.recurrent import Recurrent

    if isinstance(cell, Recurrent):
        return _explain_module(cell)
    if not isinstance(cell, Cell):
        raise TypeError("explain: takes a tl.Cell or a module that runs cells (tl.nn.Recurrent, "
                        f"tl.nn.LSTM, ...), got {type(cell).__name__}")
    name = type(cell).__name__
    cell._ensure_built()
    where = cell._parameter_backend()
    backend = "numpy" if where is None else where.name
    if backend not in ("numpy", "cupy"):
        return (f"{name}: tape path: its parameters live on the {backend!r} backend; the "
                "compiler emits kernels for 'numpy' and 'cupy'")
    result = for_cell(cell, warn=False, backend=backend)
    if isinstance(result, str):
        reason = result.removeprefix(f"{name}: ")
        return f"{name}: tape path: {reason}"
    g = result.graph
    saved = ", ".join(result.saved) or "nothing"
    context = ", ".join(f"{k} (the {s} of the layer below)" for k, s in cell.context.items())
    kind = "Numba" if backend == "numpy" else "CUDA"
    lines = [
        f"{name}: compiled ({result.dtype.name} {kind} kernels, one tape node per layer)",
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


def _explain_module(module: Recurrent) -> str:
    """``explain`` of each distinct cell of a module's layers (layer 0 reads x, the others
    the layer below: a cell reading x_t directly may compile in one and not the other)."""
    cells = list(module.cells)
    layers = module.num_layers
    head = (f"{type(module).__name__} ({layers} layer{'s' * (layers != 1)}"
            f"{' x 2 directions' * (module.directions == 2)} of {type(cells[0]).__name__})")
    if not (module.compile and module.fused):
        flag = "compile=False" if not module.compile else "fused=False"
        return f"{head}: tape path: the module was built with {flag}"
    texts = {}
    for k, c in enumerate(cells):
        texts.setdefault(explain(c), []).append(k // module.directions)
    if len(texts) == 1:
        return f"{head}:\n" + next(iter(texts))
    return f"{head}:\n" + "\n".join(
        f"layers {', '.join(map(str, dict.fromkeys(ks)))}: {text}" for text, ks in texts.items())


def _expanded(result: Any, name: str) -> Any:
    """A computed value written in the leaves (z, states, parameters), not in node numbers."""
    d = result.derivation
    expr = d.computed[name]
    for v, e in reversed(d.forward):
        expr = expr.xreplace({v: e})
    return expr
