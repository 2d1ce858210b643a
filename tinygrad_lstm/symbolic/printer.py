"""A cell's equations, read off the graph of the step that runs, printed as the essay prints them.

The step runs once on real tensors while the tape records it. Walking that graph gives one
SymPy expression per tensor, at the level of vectors: a gate is W_g·[inputs] + b_g, a product
of two vectors is ⊙, and the order of terms is the order the code wrote them. The tensors that
get a name, and so an equation of their own, are the gates' activations (f_t, i_t, C̃_t, o_t;
z_t, r_t, h̃_t) and the new state (C_t, h_t), in the order the step computed them.

>>> import tinygrad_lstm as tl
>>> for eq in tl.symbolic.equations(tl.cells.GRU(3, 4)):
...     print(tl.symbolic.latex_expr(eq.lhs), "=", tl.symbolic.latex_expr(eq.rhs))
z_t = \\sigma\\left(W_z \\left[h_{t-1}, x_t\\right] + b_z\\right)
r_t = \\sigma\\left(W_r \\left[h_{t-1}, x_t\\right] + b_r\\right)
\\tilde{h}_t = \\tanh\\left(W_h \\left[r_t \\odot h_{t-1}, x_t\\right] + b_h\\right)
h_t = \\left(1 - z_t\\right) \\odot h_{t-1} + z_t \\odot \\tilde{h}_t
"""

from __future__ import annotations

import re
from typing import Any

import sympy
from sympy.printing.latex import LatexPrinter

from tinygrad_lstm.cells.base import Cell
from tinygrad_lstm.cells.step import StepFrame
from tinygrad_lstm.primitives import Primitive
from tinygrad_lstm.symbolic.functions import sigmoid, transposed
from tinygrad_lstm.symbolic.names import (  # noqa: F401 - the printer's names, re-exported
    STATE_SYMBOLS,
    _name,
    _param_symbol,
    context_symbol,
    latex_name,
    signed,
    split_coefficient,
)
from tinygrad_lstm.tape import recording, tracing
from tinygrad_lstm.tensor import Tensor, zeros

#: a constant array a step hands a primitive (Clockwork's tick mask), at the vector level
MASK = sympy.Symbol("m_t")


class SymbolicError(ValueError):
    """A cell's step could not be printed; the message names the cell and the operation."""


class Affine(sympy.Function):
    """W_g·[inputs] + b_g, a gate: the essay's yellow box.

    args: (gate, has_bias, blocks, *inputs); ``blocks`` names each input's block of W_g.
    """

    @property
    def gate(self) -> str:
        return str(self.args[0])

    def _latex(self, printer: Any, exp: Any = None) -> str:
        gate, has_bias, blocks, *inputs = self.args
        if getattr(printer, "expanded", False):  # one block per input, as PyTorch documents
            terms = []
            for block, i in zip(blocks, inputs, strict=True):
                text = printer._print(i)
                if isinstance(i, sympy.Add | sympy.Mul):
                    text = rf"\left({text}\right)"
                terms.append(f"{printer._print(block)} {text}")
            return " + ".join(terms) + (f" + {latex_name(f'b_{gate}')}" if has_bias else "")
        weight = latex_name(f"W_{gate}")
        if len(inputs) == 1:
            text = printer._print(inputs[0])
            if isinstance(inputs[0], sympy.Add | sympy.Mul):
                text = rf"\left({text}\right)"
            body = f"{weight} {text}"
        else:
            body = (weight + r" \left[" + ", ".join(printer._print(i) for i in inputs)
                    + r"\right]")
        return body + (f" + {latex_name(f'b_{gate}')}" if has_bias else "")


class _Printer(LatexPrinter):
    """SymPy's LaTeX, plus ⊙ for elementwise products, the code's term order, σ and tanh as
    the essay writes them."""

    def __init__(self) -> None:
        super().__init__({"order": "none"})

    def _print_Mul(self, expr: Any) -> str:
        coefficient, others = split_coefficient(expr)
        body = (r" \odot " if len(others) > 1 else " ").join(self._factor(a) for a in others)
        return signed(self._print, coefficient, body)

    def _factor(self, expr: Any) -> str:
        text = self._print(expr)
        is_sum = isinstance(expr, sympy.Add) or isinstance(expr, Affine) and expr.args[1]
        return rf"\left({text}\right)" if is_sum else text

    def _print_Add(self, expr: Any, order: Any = None) -> str:
        out = ""
        for k, term in enumerate(expr.args):
            text = self._print(term)
            if k and not text.startswith("-"):
                out += " + "
            elif k:
                out += " - "
                text = text[1:]
            out += text
        return out

    def _print_Pow(self, expr: Any) -> str:
        base, exp = expr.args
        if exp == -1:
            return rf"\frac{{1}}{{{self._print(base)}}}"
        return super()._print_Pow(expr)

    def _print_Max(self, expr: Any, exp: Any = None) -> str:
        # relu(u) = max(u, 0), written with the number last
        args = sorted(expr.args, key=lambda a: a.is_number)
        body = r"\max\left(" + ", ".join(self._print(a) for a in args) + r"\right)"
        return body if exp is None else rf"{body}^{{{exp}}}"

    def _print_Piecewise(self, expr: Any) -> str:
        (a, cond), (b, _) = expr.args
        return (rf"\begin{{cases}} {self._print(a)} & \text{{if }} {self._print(cond)} \\ "
                rf"{self._print(b)} & \text{{otherwise}} \end{{cases}}")

    def _print_matmul(self, expr: Any, exp: Any = None) -> str:
        # rows in the code (h W^T), written W h as in the essay
        a, b = expr.args
        if isinstance(b, transposed):
            a, b = b.args[0], a
        return " ".join(rf"\left({self._print(x)}\right)"
                        if isinstance(x, sympy.Add | sympy.Mul) else self._print(x)
                        for x in (a, b))

    def _print_transposed(self, expr: Any, exp: Any = None) -> str:
        return self._print(expr.args[0])  # only matrices are transposed in a step

    def _print_reduction(self, expr: Any, exp: Any = None) -> str:
        return rf"\operatorname{{{expr.op}}}\left({self._print(expr.args[1])}\right)"

    def _print_concatenation(self, expr: Any, exp: Any = None) -> str:
        return r"\left[" + ", ".join(self._print(a) for a in expr.args[1:]) + r"\right]"

    def _print_tanh(self, expr: Any, exp: Any = None) -> str:
        power = f"^{{{exp}}}" if exp is not None else ""
        return rf"\tanh{power}\left({self._print(expr.args[0])}\right)"


class _ExpandedPrinter(_Printer):
    """The same, with each gate written block by block: W_{f,h} h_{t-1} + W_{f,x} x_t + b_f."""

    expanded = True


_PRINTER = _Printer()
_EXPANDED = _ExpandedPrinter()


def latex_expr(expr: Any, expanded: bool = False) -> str:
    """One expression in the essay's notation (``expanded``: gates block by block)."""
    return tidy((_EXPANDED if expanded else _PRINTER).doprint(expr))


def tidy(text: str) -> str:
    """Write one-character subscripts without braces, as the essay does: f_t, W_f, C_{t-1}."""
    return re.sub(r"_\{([A-Za-z0-9])\}", r"_\1", text)


# --- the walk ----------------------------------------------------------------------------------

def _number(value: Any) -> Any:
    v = float(value)
    # all 53 bits: the printed equations evaluate to what the cell computes (eps = 1e-5)
    return sympy.Integer(int(v)) if v.is_integer() else sympy.Float(v)


def _apply_rule(prim: Primitive, args: list[Any], params: dict[str, Any], index: int) -> Any:
    """The vector-level meaning of one primitive: its record's own symbolic rule, evaluated on
    whole vectors with SymPy's evaluation off (so terms keep the order the code wrote them)."""
    # a constant array parameter (a mask) is a symbol at the vector level
    params = {k: MASK if getattr(v, "ndim", 0) else v for k, v in params.items()}
    try:
        with sympy.evaluate(False):
            out = prim.symbolic(*args, **params)
    except Exception as err:  # noqa: BLE001 - any failure is reported as this primitive's
        raise SymbolicError(f"the symbolic rule of the primitive {prim.name!r} cannot take "
                            f"{', '.join(map(str, args))}: {err}") from None
    out = out[index] if prim.multiple else out
    if isinstance(out, sympy.Mul) and any(a == 1 for a in out.args):  # 1 ⊙ x is x
        kept = [a for a in out.args if a != 1]
        out = kept[0] if len(kept) == 1 else sympy.Mul(*kept, evaluate=False)
    return out


_ACTIVATION: dict[Primitive, bool] = {}


def _is_activation(prim: Primitive) -> bool:
    """Does the primitive's rule apply σ, tanh or max(·, 0) to its one input? Its outputs are
    the tensors that get a name (f_t, C̃_t) when they read exactly one gate."""
    known = _ACTIVATION.get(prim)
    if known is None:
        u = sympy.Symbol("u")
        try:
            out = None if prim.multiple or prim.arity != 1 else prim.symbolic(u)
        except Exception:  # noqa: BLE001 - a rule that needs parameters is no activation
            out = None
        known = isinstance(out, sigmoid | sympy.tanh) or (
            isinstance(out, sympy.Max) and u in out.args and 0 in out.args)
        _ACTIVATION[prim] = known
    return known


class _Trace:
    def __init__(self, cell: Cell) -> None:
        cell._ensure_built()
        self.cell = cell
        self.values: dict[int, Any] = {}
        self.gates: dict[int, Any] = {}
        batch = 1
        # the leaves live where the cell's parameters do (a step multiplying a state by a
        # parameter, the peephole LSTM's, would otherwise mix backends)
        backend = cell._parameter_backend()
        x = zeros((batch, cell.input_size), dtype=cell.dtype, requires_grad=True,
                  backend=backend)
        state = tuple(zeros((batch, cell.state_size(s)), dtype=cell.dtype, requires_grad=True,
                            backend=backend) for s in cell.state)
        context = tuple(zeros((batch, cell.state_size(s)), dtype=cell.dtype,
                              requires_grad=True, backend=backend)
                        for s in cell.context.values())
        self.values[id(x)] = sympy.Symbol("x_{t}")
        for s, t in zip(cell.state, state, strict=True):
            self.values[id(t)] = _name(STATE_SYMBOLS.get(s, s), "t-1")
        for s, t in zip(cell.context, context, strict=True):
            self.values[id(t)] = context_symbol(s)
        for name, p in cell.named_parameters():
            self.values[id(p)] = sympy.Symbol(_param_symbol(name))
        with recording() as made, tracing("tl.symbolic"):  # one set of equations for all data
            self.new = cell.run_step(x, state, context, strategy=self)
        self.order = {id(t): k for k, t in enumerate(made)}

    def gate(self, frame: StepFrame, name: str, inputs: tuple[Tensor, ...]) -> Tensor:
        """The step's gate strategy: the plain value, remembered as a gate's output."""
        out = frame.cell.plain_gate(frame, name, inputs)
        self.gates[id(out)] = (frame.cell.gates[name], inputs)
        return out

    def gates_inside(self, tensor: Tensor, stop: set[int]) -> set[int]:
        """The gates whose output feeds ``tensor`` without passing a named tensor."""
        found, todo, seen = set(), [tensor], set()
        while todo:
            t = todo.pop()
            if id(t) in seen:
                continue
            seen.add(id(t))
            if id(t) in self.gates:
                found.add(id(t))
                continue
            if id(t) in stop or t._node is None or t._node.parents is None:
                continue
            todo.extend(p for p in t._node.parents if isinstance(p, Tensor))
        return found

    def value(self, tensor: Tensor) -> Any:
        stack = [tensor]
        while stack:
            t = stack[-1]
            if id(t) in self.values:
                stack.pop()
                continue
            if id(t) in self.gates:
                spec, inputs = self.gates[id(t)]
                missing = [i for i in inputs if id(i) not in self.values]
                if missing:
                    stack.extend(missing)
                    continue
                blocks = sympy.Tuple(*[sympy.Symbol(_param_symbol(w)) for w in spec.weights])
                self.values[id(t)] = Affine(sympy.Symbol(spec.name),
                                            sympy.true if spec.bias else sympy.false, blocks,
                                            *[self.values[id(i)] for i in inputs])
                stack.pop()
                continue
            node = t._node
            if node is None:
                if t.requires_grad:
                    raise SymbolicError(f"{type(self.cell).__name__}: a learned tensor of shape "
                                        f"{t.shape} is not a parameter of the cell")
                values = t.numpy().ravel()
                # a constant made inside the step: a number, or a fixed matrix such as a mask
                self.values[id(t)] = _number(values[0]) if (values == values[0]).all() else \
                    sympy.Symbol("M")
                stack.pop()
                continue
            parents = [p for p in node.parents if isinstance(p, Tensor)]
            missing = [p for p in parents if id(p) not in self.values]
            if missing:
                stack.extend(missing)
                continue
            args = [self.values[id(p)] if isinstance(p, Tensor) else _number(p)
                    for p in node.parents]
            try:
                self.values[id(t)] = _apply_rule(node.prim, args, node.params, node.index)
            except SymbolicError as err:
                raise SymbolicError(f"{type(self.cell).__name__}: {err}") from None
            stack.pop()
        return self.values[id(tensor)]


def equations(cell: Cell) -> list[sympy.Eq]:
    """The cell's update as named equations, in the order the step computes them.

    Names: a gate's activation is g_t (f_t, i_t, o_t, z_t, r_t), or h̃_t / C̃_t when the gate
    shares its name with a state (a candidate value); the new state is C_t, h_t, ...
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"equations: expected a tl.Cell, got {type(cell).__name__}")
    trace = _Trace(cell)
    states = {STATE_SYMBOLS.get(s, s) for s in cell.state}
    named: dict[int, tuple[Any, Tensor]] = {}
    for s, t in zip(cell.state, trace.new, strict=True):
        named.setdefault(id(t), (_name(STATE_SYMBOLS.get(s, s), "t"), t))
    candidates = [t for t in _made(trace) if t._node is not None
                  and _is_activation(t._node.prim) and id(t) not in named]
    stop = set(named)
    for t in candidates:
        inside = trace.gates_inside(t, stop)
        if len(inside) == 1:
            spec = trace.gates[inside.pop()][0]
            gate = STATE_SYMBOLS.get(spec.name, spec.name)
            symbol = _name(gate, "t", tilde=gate in states)
            if symbol not in {n for n, _ in named.values()}:
                named[id(t)] = (symbol, t)
                stop.add(id(t))
    ordered = sorted(named.values(), key=lambda item: trace.order.get(id(item[1]), -1))
    # compute each named tensor's expression with the other named tensors as symbols
    result = []
    for symbol, tensor in ordered:
        rhs = trace.value(tensor)
        trace.values[id(tensor)] = symbol
        if rhs != symbol:
            result.append(sympy.Eq(symbol, rhs, evaluate=False))
    return result


def _made(trace: _Trace) -> list[Tensor]:
    found: dict[int, Tensor] = {}
    todo = list(trace.new)
    while todo:
        t = todo.pop()
        if id(t) in found:
            continue
        found[id(t)] = t
        if t._node is not None and t._node.parents is not None:
            todo.extend(p for p in t._node.parents if isinstance(p, Tensor))
    return sorted(found.values(), key=lambda t: trace.order.get(id(t), -1))


def latex(cell: Cell, expanded: bool = False) -> str:
    """The cell's equations as one aligned LaTeX block; ``expanded=True`` writes every gate
    block by block (W_{f,h} h_{t-1} + W_{f,x} x_t + b_f, as PyTorch documents its cells).

    >>> import tinygrad_lstm as tl
    >>> print(tl.symbolic.latex(tl.cells.LSTM(8, 16)))
    \\begin{aligned}
    f_t &= \\sigma\\left(W_f \\left[h_{t-1}, x_t\\right] + b_f\\right) \\\\
    i_t &= \\sigma\\left(W_i \\left[h_{t-1}, x_t\\right] + b_i\\right) \\\\
    \\tilde{C}_t &= \\tanh\\left(W_C \\left[h_{t-1}, x_t\\right] + b_C\\right) \\\\
    C_t &= f_t \\odot C_{t-1} + i_t \\odot \\tilde{C}_t \\\\
    o_t &= \\sigma\\left(W_o \\left[h_{t-1}, x_t\\right] + b_o\\right) \\\\
    h_t &= o_t \\odot \\tanh\\left(C_t\\right)
    \\end{aligned}
    """
    rows = [f"{latex_expr(eq.lhs)} &= {latex_expr(eq.rhs, expanded)}" for eq in equations(cell)]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"
