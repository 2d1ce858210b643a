"""A cell as a Graphviz diagram in the essay's visual language, drawn from its equations.

Learned layers (gates) are yellow boxes labelled σ or tanh; pointwise operations are pink
circles (×, +, tanh, 1−); lines merge where inputs are concatenated; the cell state's line
runs straight along the top. The drawing is
made from the same equations ``tl.symbolic.equations`` reads off the step that runs, so it
cannot drift from the code.

>>> import tinygrad_lstm as tl
>>> dot = tl.symbolic.diagram(tl.cells.LSTM(8, 16))
>>> dot.startswith("digraph") and dot.count('fillcolor="#ffe68c"') == 4
True
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import sympy

from tinygrad_lstm.cells.base import Cell
from tinygrad_lstm.symbolic.functions import reduction, sigmoid, transposed
from tinygrad_lstm.symbolic.printer import (
    STATE_SYMBOLS,
    Affine,
    _name,
    context_symbol,
    equations,
)

YELLOW = "#ffe68c"  # the essay's neural-network layers
PINK = "#f7c6d9"  # the essay's pointwise operations
EDGE = "#444444"


def _plain(symbol: Any) -> str:
    """A symbol's LaTeX name as readable text for a DOT label, whatever identifier it came
    from: \\tilde{C}_{t-1} -> C̃_t-1, h_{a,t-1} -> h_a,t-1, \\_p -> _p, \\gamma -> γ."""
    text = re.sub(r"\\text\{([^{}]*)\}", r"\1", str(symbol))
    text = re.sub(r"\\tilde\{([^{}]*)\}", lambda m: m.group(1) + "\u0303", text)
    text = text.replace(r"\_", "_").replace(r"\gamma", "γ").replace(r"\beta", "β")
    return re.sub(r"[{}^\\\"]", "", text)


class _Drawing:
    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self.eqs = {eq.lhs: eq.rhs for eq in equations(cell)}
        self.lines: list[str] = []
        self.ids: dict[Any, str] = {}
        self.count = 0
        self.top: list[str] = []  # the cell state's input and output: its line is kept straight

    def _new(self, label: str, kind: str) -> str:
        self.count += 1
        node = f"n{self.count}"
        style = {
            "gate": f'shape=box, style="rounded,filled", fillcolor="{YELLOW}", fontsize=16',
            "op": f'shape=circle, style=filled, fillcolor="{PINK}", width=0.45, fixedsize=true',
            "io": "shape=plaintext, fontsize=14",
            "join": "shape=point, width=0.06",
        }[kind]
        self.lines.append(f'  {node} [label="{label}", {style}];')
        return node

    def _edge(self, a: str, b: str, label: str = "") -> None:
        extra = f', xlabel="{label}", fontsize=11' if label else ""
        if a in self.top or b in self.top:  # keep the cell state's line straight
            extra += ", weight=8"
        self.lines.append(f'  {a} -> {b} [color="{EDGE}"{extra}];')

    def node(self, expr: Any) -> str:
        if expr in self.ids:
            return self.ids[expr]
        out = self._node(expr)
        self.ids[expr] = out
        return out

    def _node(self, e: Any) -> str:
        if isinstance(e, sympy.Symbol):
            if e in self.eqs:  # a named result: draw its definition, label the line leaving it
                return self.node(self.eqs[e])
            node = self._new(_plain(e), "io")
            if str(e).startswith("C_"):
                self.top.append(node)
            return node
        if isinstance(e, sigmoid | sympy.tanh) and isinstance(e.args[0], Affine | sympy.Add) \
                and self._has_affine(e.args[0]):
            return self._gate("σ" if isinstance(e, sigmoid) else "tanh", e.args[0])
        if isinstance(e, Affine):
            return self._gate("W", e)
        if isinstance(e, sympy.tanh):
            return self._op("tanh", [e.args[0]])
        if isinstance(e, sympy.Mul):
            factors = [a for a in e.args if not a.is_number]
            if len(factors) == 1 and e.args[0] == -1:
                return self._op("−", factors)
            return self._op("×", factors)
        if isinstance(e, sympy.Add):
            terms = list(e.args)
            if len(terms) == 2 and terms[0] == 1:
                return self._op("1−", [terms[1].args[-1]])
            return self._op("+", [t for t in terms if not t.is_number])
        if isinstance(e, sigmoid):
            return self._op("σ", [e.args[0]])
        if isinstance(e, sympy.Piecewise):  # a where the mask is set, else b
            (a, mask), (b, _) = e.args
            return self._op("where", [mask, a, b])
        if isinstance(e, reduction):
            return self._op(e.op, [e.args[1]])
        if isinstance(e, transposed):
            return self._op("T", [e.args[0]])
        if isinstance(e, sympy.Max) and 0 in e.args:  # max(u, 0): the essay's relu
            return self._op("relu", [a for a in e.args if a != 0])
        label = type(e).__name__.lower().strip("_")
        return self._op(label, [a for a in e.args if isinstance(a, sympy.Expr)
                                and not a.is_number])

    @staticmethod
    def _has_affine(e: Any) -> bool:
        return isinstance(e, Affine) or any(isinstance(a, Affine) for a in e.args)

    def _gate(self, label: str, arg: Any) -> str:
        affine = arg if isinstance(arg, Affine) else next(a for a in arg.args
                                                           if isinstance(a, Affine))
        extras = [] if arg is affine else [a for a in arg.args if a is not affine]
        inputs = list(affine.args[3:])
        box = self._new(label, "gate")
        sources = [self.node(i) for i in inputs] + [self.node(x) for x in extras]
        if len(inputs) > 1:  # lines merge: the concatenation [h_{t-1}, x_t]
            join = self._new("", "join")
            for s in sources[:len(inputs)]:
                self._edge(s, join)
            self._edge(join, box)
            sources = sources[len(inputs):]
        for s in sources:
            self._edge(s, box)
        return box

    def _op(self, label: str, args: list[Any]) -> str:
        node = self._new(label, "op")
        for a in args:
            self._edge(self.node(a), node, self._label(a))
        return node

    def _label(self, expr: Any) -> str:
        return _plain(expr) if isinstance(expr, sympy.Symbol) and expr in self.eqs else ""

    def draw(self) -> str:
        # The inputs share the first column and the outputs the last; an invisible edge
        # inside each column stacks the cell state above the rest (in a left-to-right layout
        # Graphviz draws such edges top to bottom), so its line runs along the top.
        order = sorted(self.cell.state, key=lambda s: s != "c")
        inputs = [self.node(_name(STATE_SYMBOLS.get(s, s), "t-1")) for s in order]
        inputs += [self.node(context_symbol(n)) for n in self.cell.context]
        inputs.append(self.node(sympy.Symbol("x_{t}")))
        outputs = []
        for state in order:
            symbol = _name(STATE_SYMBOLS.get(state, state), "t")
            source = self.node(symbol)
            out = self._new(_plain(symbol), "io")
            if state == "c":
                self.top.append(out)
            self._edge(source, out)
            outputs.append(out)
        header = [f"digraph {type(self.cell).__name__} {{", "  rankdir=LR;",
                  '  node [fontname="Helvetica"]; edge [arrowsize=0.6];',
                  f'  label="{type(self.cell).__name__}"; labelloc=t;']
        columns = [f"  {{rank={rank}; {' -> '.join(nodes)} [style=invis];}}"
                   for rank, nodes in (("min", inputs), ("max", outputs)) if len(nodes) > 1]
        columns += [f"  {{rank={rank}; {nodes[0]}}}" for rank, nodes in
                    (("min", inputs), ("max", outputs)) if len(nodes) == 1]
        return "\n".join(header + self.lines + columns + ["}"]) + "\n"


def diagram(cell: Cell) -> str:
    """Graphviz DOT source drawing ``cell`` in the essay's visual language."""
    if not isinstance(cell, Cell):
        raise TypeError(f"diagram: expected a tl.Cell, got {type(cell).__name__}")
    return _Drawing(cell).draw()


def render_svg(dot: str) -> str | None:
    """SVG from DOT with Graphviz's ``dot`` program, or None when it is not installed."""
    program = shutil.which("dot")
    if program is None:
        return None
    done = subprocess.run([program, "-Tsvg"], input=dot, capture_output=True, text=True,
                          timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.strip()}")
    return done.stdout
