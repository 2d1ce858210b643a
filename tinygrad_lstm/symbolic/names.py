"""How a cell's names and signs are written: any Python identifier as valid LaTeX (and the
DOT labels' plain text is made from it), coefficients with their sign in front.

>>> print(latex_name("h_a", "t-1"), latex_name("W_f_2_h"), context_symbol("c_below"))
h_{a,t-1} W_{f,2,h} c^{below}
"""

from __future__ import annotations

import unicodedata
from typing import Any

import sympy

#: how a state is written (the essay writes the cell state as C)
STATE_SYMBOLS = {"c": "C"}

_GREEK = {"gamma": r"\gamma", "beta": r"\beta"}


def _letters(part: str) -> str:
    """Letters KaTeX takes in math mode (ASCII, Greek) as they are; any other run (é, ж, 中)
    as ``\\text{...}``, which math mode refuses unwrapped."""
    runs: list[tuple[bool, str]] = []
    for ch in part:
        math = ch.isascii() or unicodedata.name(ch, "").startswith("GREEK")
        if runs and runs[-1][0] == math:
            runs[-1] = (math, runs[-1][1] + ch)
        else:
            runs.append((math, ch))
    return "".join(text if math else rf"\text{{{text}}}" for math, text in runs)


def latex_name(identifier: str, *subscripts: str, tilde: bool = False) -> str:
    r"""Any Python identifier as valid LaTeX, its underscores as one subscript list that the
    given ``subscripts`` join: ``h_a`` at t-1 is ``h_{a,t-1}`` (``h_a_{t-1}`` would be a double
    subscript), ``W_f_2_h`` is ``W_{f,2,h}``, ``_p`` is ``\_p``.

    >>> print(latex_name("h_a", "t-1"), latex_name("x1_y", "t", tilde=True), latex_name("_p"))
    h_{a,t-1} \tilde{x1}_{y,t} \_p
    """
    stripped = identifier.lstrip("_")
    head, *rest = stripped.split("_")
    head = r"\_" * (len(identifier) - len(stripped)) + _GREEK.get(head, _letters(head))
    if tilde:
        head = rf"\tilde{{{head}}}"
    subs = [_letters(p) for p in rest if p] + [s for s in subscripts if s]
    return head + (f"_{{{','.join(subs)}}}" if subs else "")


def _name(base: str, time: str, tilde: bool = False) -> sympy.Symbol:
    return sympy.Symbol(latex_name(base, time, tilde=tilde))


def context_symbol(name: str) -> sympy.Symbol:
    """How a per-step input from the layer below is written: c_below -> c^{below}."""
    head, _, rest = name.lstrip("_").partition("_")
    base = latex_name(name[:len(name) - len(name.lstrip("_"))] + head)
    sup = ",".join(_letters(p) for p in rest.split("_") if p)
    return sympy.Symbol(f"{base}^{{{sup}}}" if sup else base)


def _param_symbol(name: str) -> str:
    return latex_name(name)


def split_coefficient(expr: Any) -> tuple[Any, list[Any]]:
    """A product as (its numeric coefficient, evaluated; its other factors in order), nested
    unevaluated products flattened: 2 ⊙ (-1 ⊙ x) is (-2, [x])."""
    numbers, others, todo = [], [], [expr]
    while todo:
        e = todo.pop(0)
        if isinstance(e, sympy.Mul):
            todo[:0] = e.args
        else:
            (numbers if e.is_number else others).append(e)
    return sympy.Mul(*[n.doit() for n in numbers]), others


def signed(show: Any, coefficient: Any, body: str) -> str:
    """``coefficient body`` with the sign in front: ``- X``, ``-2 X``, never ``+ (-1) X``
    (``show`` prints the coefficient; an empty body prints the coefficient alone)."""
    if not body:
        return show(coefficient)
    if coefficient == 1:
        return body
    if coefficient == -1:
        return "-" + body
    if coefficient.is_negative:
        return f"-{show(-coefficient)} {body}"
    return f"{show(coefficient)} {body}"
