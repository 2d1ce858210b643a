"""Generated documentation: one page per cell, made from the code that runs.

``tinygrad-lstm docs --out docs/cells`` writes ``index.md`` and a page per built-in cell with its
equations (read off the graph of its step), the Jacobians of its state (derived from those
equations), its diagram (Graphviz DOT, drawn from them) and a runnable snippet. A test
regenerates the pages and fails when the committed ones are stale.
"""

from __future__ import annotations

import os
from pathlib import Path

from tinygrad_lstm import cells
from tinygrad_lstm.symbolic.calculus import jacobian
from tinygrad_lstm.symbolic.drawing import diagram, render_svg
from tinygrad_lstm.symbolic.printer import STATE_SYMBOLS, SymbolicError, latex, latex_expr

#: What a Jacobian between consecutive states means for long-term dependencies.
MEANING = (
    "Across a gap of k steps the gradient is multiplied by k such Jacobians. A diagonal of gate "
    "values that the network can hold near 1 lets it pass unchanged (the essay's conveyor "
    "belt); a weight matrix scaled by a squashing function's slope at every step makes it "
    "shrink or grow geometrically, which is why plain RNNs fail to learn long gaps.")


#: Jacobians longer than this (in LaTeX characters) are described, not printed.
LONGEST = 3000


def _title(name: str) -> str:
    return name.replace("-", " ")


def page_name(spec: cells.CellSpec) -> str:
    """The file stem of a cell's page: its zoo name, or its class name."""
    return spec.name if spec.name in cells.available() else spec.cls.__name__


def cell_page(name: str | type[cells.Cell] | cells.CellSpec) -> str:
    """The Markdown page of a cell: a zoo name, ``"module:Class"`` or a ``Cell`` subclass
    (``tl.cells.resolve`` takes the same), built at input and hidden size 4."""
    spec = cells.resolve(name)
    cell = spec.build(4, 4)
    name = page_name(spec)
    if spec.name in cells.available():
        make = ["", f'cell = tl.cells.create("{name}", input_size=4, hidden_size=4)']
    else:
        module, _, cls = spec.name.partition(":")
        make = [f"from {module} import {cls.partition('.')[0]}", "",
                f"cell = {cls}(input_size=4, hidden_size=4)"]
    lines = [f"# {_title(name)}", "", spec.description or "A custom cell.", "",
             f"Class `{type(cell).__module__}.{type(cell).__name__}`; state "
             f"{', '.join(f'`{s}`' for s in cell.state)}.", "", "## Equations", "",
             "Read off the graph of `step`, the code that runs:", "", "$$",
             latex(cell), "$$", "",
             "Block by block, with one weight matrix per input (as PyTorch documents its "
             "cells):", "", "$$", latex(cell, expanded=True), "$$", "", "## Jacobians", ""]
    for state in cell.state:
        symbol = STATE_SYMBOLS.get(state, state)
        try:
            text = latex_expr(jacobian(cell, state, f"{state}_prev"))
        except SymbolicError as err:
            text = None
            reason = str(err)
        if text is None:
            lines += [f"- $\\partial {symbol}_t / \\partial {symbol}_{{t-1}}$: not derived "
                      f"({reason}).", ""]
        elif len(text) > LONGEST:
            lines += [f"- $\\partial {symbol}_t / \\partial {symbol}_{{t-1}}$ is derived, but "
                      f"it is {len(text):,} characters of LaTeX, too long to show usefully; "
                      f'`tl.symbolic.jacobian(cell, "{state}", wrt="{state}_prev")` returns '
                      "it.", ""]
        else:
            lines += [f"$$\\frac{{\\partial {symbol}_t}}{{\\partial {symbol}_{{t-1}}}} = "
                      f"{text}$$", ""]
    lines += [MEANING, "", "## Diagram", "",
              "Yellow boxes are learned layers, pink circles pointwise operations, drawn from "
              "the equations above:", "", f"![{name}]({name}.svg)", "",
              "Its Graphviz source (`tl.symbolic.diagram(cell)`):", "", "```dot",
              diagram(cell).rstrip(), "```", "", "## Run it", "", "```python", "import numpy as np",
              "import tinygrad_lstm as tl", *make,
              "rnn = tl.nn.Recurrent(cell)",
              "out, state = rnn(tl.Tensor(np.random.randn(5, 2, 4)))  # (T, B, features)",
              "print(out.shape)                                        # (5, 2, 4)",
              "print(tl.symbolic.latex(cell))", "```", ""]
    return "\n".join(lines)


def index_page() -> str:
    rows = ["# The cell zoo", "",
            "Every page is generated from the code that runs by `tinygrad-lstm docs`.", "",
            "| cell | what it is |", "|---|---|"]
    rows += [f"| [{_title(n)}]({n}.md) | {d} |" for n, d in cells.available().items()]
    return "\n".join(rows) + "\n"


def pages() -> dict[str, str]:
    """File name -> content of every generated page."""
    out = {"index.md": index_page()}
    out.update({f"{name}.md": cell_page(name) for name in cells.available()})
    return out


def write(folder: str | os.PathLike, svg: bool = True) -> list[Path]:
    """Write the pages into ``folder`` (created if needed); returns the files written.

    With ``svg`` the diagrams are rendered too, when Graphviz's ``dot`` is installed (the
    pages refer to ``NAME.svg`` either way, and carry the DOT source).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"docs: {folder} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in pages().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    if svg:
        for name in cells.available():
            path = _write_svg(folder, cells.resolve(name))
            if path is None:  # no Graphviz here: the DOT source on the page still works
                break
            written.append(path)
    return written


def _write_svg(folder: Path, spec: cells.CellSpec) -> Path | None:
    drawing = render_svg(diagram(spec.build(4, 4)))
    if drawing is None:
        return None
    path = folder / f"{page_name(spec)}.svg"
    path.write_text(drawing, encoding="utf-8")
    return path


def write_cells(folder: str | os.PathLike, specs: list[cells.CellSpec],
                svg: bool = True) -> list[Path]:
    """Write the pages of the given cells (e.g. custom ones: ``tinygrad-lstm docs --cell
    module:Class``) into ``folder`` as ``NAME.md`` (and ``NAME.svg`` with Graphviz)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"docs: {folder} is a file, not a folder")
    pages_text = {page_name(spec): cell_page(spec) for spec in specs}  # before any file is made
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in specs:
        name = page_name(spec)
        path = folder / f"{name}.md"
        path.write_text(pages_text[name], encoding="utf-8")
        written.append(path)
        if svg:
            drawn = _write_svg(folder, spec)
            if drawn is not None:
                written.append(drawn)
    return written
