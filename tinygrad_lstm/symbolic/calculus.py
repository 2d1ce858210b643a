"""Jacobians between state variables, derived from the same equations the printer reads off.

Vector calculus on the printed equations: d(a ⊙ b) = diag(b) da + diag(a) db, dσ(u) =
diag(σ ⊙ (1 - σ)) du, d tanh(u) = diag(1 - tanh²) du, and a gate W_g·[inputs] + b_g contributes
its block W_{g,k} for each input k. Named intermediates (f_t, r_t, ...) are differentiated
through their own equations (the chain rule), and written by their names.

>>> import tinygrad_lstm as tl
>>> tl.symbolic.latex_expr(tl.symbolic.jacobian(tl.cells.LSTM(8, 16), "c", wrt="c_prev"))
'\\\\operatorname{diag}\\\\left(f_t\\\\right)'
>>> tl.symbolic.latex_expr(tl.symbolic.jacobian(tl.cells.RNN(8, 16), "h", wrt="h_prev"))
'\\\\operatorname{diag}\\\\left(1 - h_t^{2}\\\\right) W_{h,h}'
"""

from __future__ import annotations

from typing import Any

import sympy

from tinygrad_lstm.cells.base import Cell
from tinygrad_lstm.symbolic.functions import MEAN, matmul, reduction, sigmoid, transposed
from tinygrad_lstm.symbolic.printer import (
    STATE_SYMBOLS,
    Affine,
    SymbolicError,
    _name,
    equations,
    signed,
    split_coefficient,
)

ZERO = sympy.Integer(0)


class Diag(sympy.Function):
    """diag(v): the elementwise product by v, as a matrix."""

    def _sympystr(self, printer: Any) -> str:
        return f"diag({printer._print(self.args[0])})"

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return rf"\operatorname{{diag}}\left({printer._print(self.args[0])}\right)"


class Chain(sympy.Function):
    """A product of matrices, left to right."""

    def _sympystr(self, printer: Any) -> str:
        return " ".join(f"({printer._print(a)})" if isinstance(a, Total) else printer._print(a)
                        for a in self.args)

    def _latex(self, printer: Any, exp: Any = None) -> str:
        # the scalar factors _chain put first; a matrix such as W ⊙ M stays one factor
        coefficient = sympy.Mul(*[split_coefficient(a)[0] for a in self.args if a.is_number])
        others = [a for a in self.args if not a.is_number]
        body = " ".join(rf"\left({printer._print(a)}\right)"
                        if isinstance(a, Total | sympy.Add | sympy.Mul) else printer._print(a)
                        for a in others)
        return signed(printer._print, coefficient, body)


class Total(sympy.Function):
    """A sum of matrices."""

    def _sympystr(self, printer: Any) -> str:
        return " + ".join(printer._print(a) for a in self.args)

    def _latex(self, printer: Any, exp: Any = None) -> str:
        out = printer._print(self.args[0])
        for a in self.args[1:]:
            text = printer._print(a)
            out += f" - {text[1:]}" if text.startswith("-") else f" + {text}"
        return out


IDENTITY = sympy.Symbol("I")


class Positive(sympy.Function):
    """1[v > 0], the slope of relu."""

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return rf"\mathbb{{1}}\left[{printer._print(self.args[0])} > 0\right]"


class Averaging(sympy.Function):
    """(1/n) 1 1^T: the Jacobian of a mean over features, broadcast back to every feature.

    Its argument is the symbol n (the width), so that SymPy does not take it for a number."""

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return r"\tfrac{1}{n} \mathbf{1} \mathbf{1}^{\top}"


def _is_relu(e: Any) -> bool:
    """max(u, 0), the rule of relu."""
    return isinstance(e, sympy.Max) and len(e.args) == 2 and 0 in e.args


def _relu_input(e: Any) -> Any:
    return next(a for a in e.args if a != 0)


def _chain(*factors: Any) -> Any:
    if any(f == ZERO for f in factors):
        return ZERO
    flat: list[Any] = []
    for f in factors:
        flat.extend(f.args if isinstance(f, Chain) else [f])
    scale = sympy.Mul(*[f for f in flat if f.is_number])  # scalars commute: put them first
    kept = [f for f in flat if not f.is_number and f != IDENTITY]
    if scale != 1:
        kept.insert(0, scale)
    if not kept:
        return IDENTITY
    return kept[0] if len(kept) == 1 else Chain(*kept)


def _total(*terms: Any) -> Any:
    kept = [t for t in terms if t != ZERO]
    if not kept:
        return ZERO
    return kept[0] if len(kept) == 1 else Total(*kept)


def _diag(v: Any) -> Any:
    if v == 1:
        return IDENTITY
    return v if v.is_number else Diag(v)  # a number is a scalar multiple, not a diag


class _Derivative:
    def __init__(self, cell: Cell, wrt: sympy.Symbol) -> None:
        self.cell = cell
        self.wrt = wrt
        self.named = {eq.lhs: eq.rhs for eq in equations(cell)}
        self.cache: dict[Any, Any] = {}

    def depends(self, expr: Any, seen: frozenset = frozenset()) -> bool:
        for s in expr.free_symbols:
            if s == self.wrt:
                return True
            if s in self.named and s not in seen and self.depends(self.named[s], seen | {s}):
                return True
        return False

    def d(self, expr: Any) -> Any:
        if expr in self.cache:
            return self.cache[expr]
        out = self._d(expr)
        self.cache[expr] = out
        return out

    def _d(self, e: Any) -> Any:
        if e == self.wrt:
            return IDENTITY
        if not self.depends(e):
            return ZERO
        if isinstance(e, sympy.Symbol):  # a named intermediate: differentiate its equation
            rhs = self.named[e]
            if isinstance(rhs, sigmoid):
                return _chain(_diag(sympy.Mul(e, 1 - e, evaluate=False)), self.d(rhs.args[0]))
            if isinstance(rhs, sympy.tanh):
                return _chain(_diag(1 - e ** 2), self.d(rhs.args[0]))
            if _is_relu(rhs):
                return _chain(Diag(Positive(e)), self.d(_relu_input(rhs)))
            return self.d(rhs)
        if isinstance(e, sympy.Add):
            return _total(*[self.d(a) for a in e.args])
        if isinstance(e, sympy.Mul):
            args = list(e.args)
            terms = []
            for k, a in enumerate(args):
                da = self.d(a)
                if da == ZERO:
                    continue
                others = args[:k] + args[k + 1:]
                numbers = [o for o in others if o.is_number]
                vectors = [o for o in others if not o.is_number]
                scale = sympy.Mul(*numbers) if numbers else sympy.Integer(1)
                vec = vectors[0] if len(vectors) == 1 else (
                    sympy.Mul(*vectors, evaluate=False) if vectors else sympy.Integer(1))
                factor = _diag(vec) if scale == 1 else _diag(sympy.Mul(scale, vec,
                                                                        evaluate=False))
                terms.append(_chain(factor, da))
            return _total(*terms)
        if isinstance(e, sigmoid):
            s = e
            return _chain(_diag(sympy.Mul(s, 1 - s, evaluate=False)), self.d(e.args[0]))
        if isinstance(e, sympy.tanh):
            return _chain(_diag(1 - e ** 2), self.d(e.args[0]))
        if _is_relu(e):
            u = _relu_input(e)
            return _chain(Diag(Positive(u)), self.d(u))
        if isinstance(e, sympy.Pow) and e.args[1].is_number:
            base, p = e.args
            return _chain(_diag(sympy.Mul(p, sympy.Pow(base, p - 1), evaluate=False)),
                          self.d(base))
        if isinstance(e, Affine):
            _, _, blocks, *inputs = e.args
            return _total(*[_chain(block, self.d(i)) for block, i in zip(blocks, inputs,
                                                                          strict=True)])
        if isinstance(e, reduction) and e.args[0] == MEAN:
            return _chain(Averaging(sympy.Symbol("n")), self.d(e.args[1]))
        if isinstance(e, sympy.Piecewise):  # a where m else b = m ⊙ a + (1 - m) ⊙ b, 0/1 mask m
            (a, m), (b, _) = e.args
            return _total(_chain(Diag(m), self.d(a)), _chain(Diag(1 - m), self.d(b)))
        if isinstance(e, matmul):
            a, b = e.args
            if isinstance(b, transposed) and not self.depends(b):
                return _chain(b.args[0], self.d(a))
        raise SymbolicError(f"{type(self.cell).__name__}: jacobian: no rule for "
                            f"{type(e).__name__} on the way from {self.wrt}")


def _symbol(cell: Cell, name: str, role: str) -> sympy.Symbol:
    base, prev = (name[:-5], True) if name.endswith("_prev") else (name, False)
    if base == "x" and not prev and role == "wrt":
        return sympy.Symbol("x_{t}")
    if base not in cell.state:
        what = "the input x is not a state" if base == "x" and not prev else \
            f"{type(cell).__name__} has no state {base!r}"
        raise ValueError(f"jacobian: {what} (the states of {type(cell).__name__} are "
                         f"{cell.state}; the output is a new state such as "
                         f"{cell.state[0]!r}, wrt a previous state such as "
                         f"'{cell.state[0]}_prev' or 'x'), got {name!r} for the {role}")
    if prev == (role == "output"):
        raise ValueError(f"jacobian: the {role} must be "
                         + ("a new state such as 'c'" if role == "output" else
                            "a previous state such as 'c_prev', or 'x'") + f", got {name!r}")
    return _name(STATE_SYMBOLS.get(base, base), "t-1" if prev else "t")


def jacobian(cell: Cell, output: str, wrt: str) -> Any:
    """∂ output / ∂ wrt for one step of ``cell``, e.g. ``jacobian(lstm, "c", wrt="c_prev")``.

    ``output`` names a state (``"h"``, ``"c"``); ``wrt`` a previous state (``"c_prev"``) or
    ``"x"``. The result prints with ``tl.symbolic.latex_expr``.
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"jacobian: expected a tl.Cell, got {type(cell).__name__}")
    target = _symbol(cell, output, "output")
    source = _symbol(cell, wrt, "wrt")
    return _Derivative(cell, source).d(target)
