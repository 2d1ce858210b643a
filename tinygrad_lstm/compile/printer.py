"""Print a derived expression as Python for a Numba kernel, every literal in the kernel dtype.

A float32 kernel must not promote to float64 by a stray literal, so every number is printed as
``_F(...)`` (``_F`` being ``numpy.float32`` or ``numpy.float64`` in the generated module).
"""

from __future__ import annotations

from typing import Any

import sympy


def _num(value: Any) -> str:
    return f"_F({float(value)!r})"


def pycode(e: Any) -> str:
    """``e`` as a Python expression over scalars; the helpers it calls are defined in the
    generated module (``_sigmoid``, ``_tanh``, ``_heaviside``)."""
    if isinstance(e, sympy.Symbol):
        return e.name
    if e.is_Number:
        return _num(e)
    if e.is_Add:
        terms = [pycode(a) for a in e.args]
        return "(" + " + ".join(terms) + ")"
    if e.is_Mul:
        num, den = [], []
        for a in e.args:
            if a.is_Pow and a.exp.is_Number and a.exp < 0:
                den.append(pycode(a.base) if a.exp == -1 else pycode(a.base ** -a.exp))
            elif a.is_Rational and not a.is_Integer and a.p == 1:
                den.append(_num(a.q))
            else:
                num.append(pycode(a))
        top = " * ".join(num) if num else _num(1)
        return f"({top})" if not den else f"({top} / ({' * '.join(den)}))"
    if e.is_Pow:
        base, exp = e.base, e.exp
        if exp == 2:
            b = pycode(base)
            return f"({b} * {b})"
        if exp == -1:
            return f"({_num(1)} / {pycode(base)})"
        if exp == sympy.Rational(1, 2):
            return f"np.sqrt({pycode(base)})"
        if exp.is_Integer and 0 < exp <= 4:
            b = pycode(base)
            return "(" + " * ".join([b] * int(exp)) + ")"
        return f"({pycode(base)} ** {pycode(exp)})"
    name = type(e).__name__
    args = [pycode(a) for a in e.args]
    if name in ("tanh", "sigmoid"):
        return f"_{name}({args[0]})"
    if name in ("exp", "log"):
        return f"np.{name}({args[0]})"
    if name == "max_grad":  # maximum's select (derive.max_grad)
        return f"_max_grad({args[0]}, {args[1]})"
    if name == "Heaviside":  # d max(a, b)/da, its value at a tie the second argument
        return f"_heaviside({args[0]}, {args[1]})"
    if name == "Max":
        out = args[0]
        for a in args[1:]:
            out = f"np.maximum({out}, {a})"
        return out
    if name == "Abs":
        return f"np.abs({args[0]})"
    if name == "sign":
        return f"np.sign({args[0]})"
    raise ValueError(f"compile: no kernel printing for SymPy {name}")
