"""SymPy functions that SymPy lacks: the logistic sigmoid, printed as σ."""

from __future__ import annotations

from typing import Any

import sympy


class sigmoid(sympy.Function):  # noqa: N801 - SymPy functions are lower-case, like sympy.tanh
    """The logistic function σ(x) = 1 / (1 + e^{-x}); prints as ``\\sigma`` in LaTeX.

    >>> x = sympy.Symbol("x")
    >>> sympy.latex(sigmoid(x))
    '\\\\sigma\\\\left(x\\\\right)'
    >>> sigmoid(x).diff(x) == sigmoid(x) * (1 - sigmoid(x))
    True
    """

    @classmethod
    def eval(cls, x: Any) -> Any:
        if x.is_zero:
            return sympy.Rational(1, 2)
        return None

    def fdiff(self, argindex: int = 1) -> Any:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x: Any, **kwargs: Any) -> Any:
        return 1 / (1 + sympy.exp(-x))

    def _latex(self, printer: Any, exp: Any = None) -> str:
        body = rf"\sigma\left({printer._print(self.args[0])}\right)"
        return body if exp is None else rf"{body}^{{{exp}}}"

    def _numpycode(self, printer: Any) -> str:
        # what lambdify emits for NumPy: the same overflow-free form as the primitive's forward
        x = printer._print(self.args[0])
        e = f"{printer._module_format('numpy.exp')}(-{printer._module_format('numpy.abs')}({x}))"
        where = printer._module_format("numpy.where")
        return f"{where}(({x}) >= 0, 1/(1 + {e}), {e}/(1 + {e}))"


# --- vector-level forms ------------------------------------------------------------------------
# A primitive's rule given a SymPy scalar reads it as one entry when the primitive is
# elementwise, and as a whole vector or matrix otherwise (the printer's view of a step): these
# functions are what the non-elementwise rules return then. Their LaTeX is the printer's.


class matmul(sympy.Function):  # noqa: N801
    """The matrix product a @ b of two whole operands (rows in the code: h @ W^T)."""

    nargs = 2


class transposed(sympy.Function):  # noqa: N801
    """A whole operand with its axes reversed (a weight matrix read as W^T)."""

    nargs = 1


class reduction(sympy.Function):  # noqa: N801
    """``op`` (the symbol sum, mean or max) over the features of a whole vector."""

    nargs = 2

    @property
    def op(self) -> str:
        return str(self.args[0])


SUM, MEAN, MAX = sympy.Symbol("sum"), sympy.Symbol("mean"), sympy.Symbol("max")


class concatenation(sympy.Function):  # noqa: N801
    """Whole operands joined along an existing axis ([h, x]) or a new one (``stacked``)."""

    @property
    def stacked(self) -> bool:
        return bool(self.args[0])
