"""One symbolic rule per primitive, read by everything that prints or differentiates a cell;
names from any Python identifier give valid LaTeX; signs print as the papers write them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import sympy

import tinygrad_lstm as tl
from tinygrad_lstm.primitives import PRIMITIVES

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
SYMBOLIC = ROOT / "tinygrad_lstm" / "symbolic"
#: what the cell compiler calls on plain SymPy scalars (one entry each)
ELEMENTWISE = ("add", "sub", "mul", "div", "maximum", "where", "neg", "pow", "exp", "log",
               "sigmoid", "tanh", "relu", "astype")


def _args(name: str) -> tuple[list, dict]:
    prim = PRIMITIVES[name]
    args = list(sympy.symbols(f"a0:{prim.arity or 2}"))
    return args, ({"cond": sympy.Symbol("m")} if name == "where" else {})


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_every_primitive_has_a_rule_on_whole_operands(name: str) -> None:
    """The printer's view: each rule takes SymPy scalars standing for whole vectors."""
    prim = PRIMITIVES[name]
    assert callable(prim.symbolic), f"{name} has no symbolic rule"
    args, params = _args(name)
    out = prim.symbolic(*args, **params)
    for o in out if prim.multiple else (out,):
        assert isinstance(o, sympy.Basic), f"{name}: its rule gave {type(o).__name__}"
        assert o.free_symbols & set(args), f"{name}: its rule ignores its inputs"


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_rules_on_scalars_are_their_rules_entry_by_entry(name: str) -> None:
    """The compiler's contract: PRIMITIVES[name].symbolic(*scalars) is one entry of the rule
    on object arrays (which tests/test_primitives checks against forward)."""
    prim = PRIMITIVES[name]
    args, params = _args(name)
    scalar = prim.symbolic(*args, **params)
    arrays = [np.array([a, a + 1], dtype=object) for a in args]
    if name == "where":
        params = {"cond": np.array([True, False])}
        expected = [args[0], args[1] + 1]
    else:
        expected = [scalar, scalar.subs({a: a + 1 for a in args}, simultaneous=True)]
    entries = prim.symbolic(*arrays, **params)
    if name != "where":
        assert scalar.free_symbols <= set(args)
    for got, want in zip(entries, expected, strict=True):
        assert sympy.simplify(got - want) == 0 if name != "where" else got == want, name


def _decisions_on_primitive_names(path: Path) -> list[str]:
    """Places in a source file that decide by a primitive's name: comparisons with (or
    membership in a collection of) primitive names, and tables keyed by them."""
    names = set(PRIMITIVES)
    found = []

    def named(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant) and node.value in names:
            return True
        if isinstance(node, ast.Attribute) and node.attr == "name":
            return True  # prim.name compared with anything
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return any(named(e) for e in node.elts)
        return False

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare) and any(named(n) for n in [node.left,
                                                                      *node.comparators]):
            found.append(f"{path.name}:{node.lineno}")
        if isinstance(node, ast.Dict) and any(k is not None and named(k) for k in node.keys):
            found.append(f"{path.name}:{node.lineno}")
    return found


def test_the_printer_and_the_jacobians_use_only_the_tables_rules() -> None:
    sources = sorted(SYMBOLIC.glob("*.py"))
    assert {p.name for p in sources} >= {"printer.py", "calculus.py", "drawing.py"}
    special = [hit for p in sources for hit in _decisions_on_primitive_names(p)]
    assert not special, f"the symbolic code special-cases primitive names at {special}"
    assert ".symbolic(" in (SYMBOLIC / "printer.py").read_text(encoding="utf-8")


def test_the_name_check_would_catch_a_ladder(tmp_path) -> None:
    ladder = tmp_path / "ladder.py"
    ladder.write_text('def rule(name):\n    if name == "tanh":\n        return 1\n'
                      '    if node.prim.name in ("sum", "mean"):\n        return 2\n'
                      'RULES = {"exp": 1}\n')
    assert len(_decisions_on_primitive_names(ladder)) == 3


# --- names from any identifier ----------------------------------------------------------------

class Underscored(tl.Cell):
    """State, gate and parameter names with underscores and digits."""

    state = ("h_a", "x1_y")

    def step(self, x, h_a, x1_y):
        f_2 = self.gate("f_2", h_a, x).sigmoid()
        h_a_new = self.gate("h_a", h_a, x1_y, x).tanh()  # a candidate: printed with a tilde
        peep = self.param("p_1_f", (self.hidden_size,))
        new_y = f_2 * x1_y - (f_2 - 1) * h_a_new * peep
        return (h_a_new * 0.5 - new_y, new_y)


class Unicode(tl.Cell):
    """Python identifiers beyond ASCII: accented Latin, Cyrillic, Greek."""

    state = ("hé", "α_ж1")

    def step(self, x, h, a):
        g = self.gate("ж_2", h, x).sigmoid()
        return g * h + a * self.param("p_é", (self.hidden_size,)), (1 - g) * a


def _strings(cell: tl.Cell) -> list[str]:
    out = [tl.symbolic.latex(cell), tl.symbolic.latex(cell, expanded=True)]
    for s in cell.state:
        for wrt in [*(f"{w}_prev" for w in cell.state), "x"]:
            out.append(tl.symbolic.latex_expr(tl.symbolic.jacobian(cell, s, wrt)))
    return out


def test_names_with_underscores_and_digits_are_valid_latex() -> None:
    cell = Underscored(3, 4)
    text = tl.symbolic.latex(cell)
    assert r"f_{2,t} &= \sigma\left(W_{f,2} \left[h_{a,t-1}, x_t\right] + b_{f,2}\right)" in text
    assert r"\tilde{h}_{a,t} &=" in text and r"x1_{y,t} &=" in text
    assert "_{t" not in text.replace("_{t-1}", "").replace("_{t}", "")  # no double subscripts
    unicode = tl.symbolic.latex(Unicode(3, 4))
    assert r"\text{ж}_{2,t}" in unicode and r"α_{\text{ж}1,t-1}" in unicode
    strings = _strings(cell) + _strings(Unicode(3, 4))
    for s in strings:  # one subscript per symbol (KaTeX: "Double subscript")
        assert not re.search(r"_\{[^{}]*\}_|_[A-Za-z0-9]_", s), s
    from test_symbolic import katex_errors

    failures = [(s, e) for s, e in zip(strings, katex_errors(strings), strict=True) if e]
    assert not failures, failures[:2]


def test_the_printed_underscored_equations_compute_what_the_cell_computes() -> None:
    from test_symbolic import _evaluate

    from tinygrad_lstm.symbolic.printer import _name, _param_symbol

    rng = np.random.default_rng(3)
    cell = Underscored(3, 4, dtype="float64")
    env = {_param_symbol(n): p.numpy() for n, p in cell.named_parameters()}
    x, state = rng.standard_normal(3), [rng.standard_normal(4) for _ in cell.state]
    env["x_{t}"] = x
    for s, v in zip(cell.state, state, strict=True):
        env[str(_name(s, "t-1"))] = v
    for eq in tl.symbolic.equations(cell):
        env[str(eq.lhs)] = _evaluate(eq.rhs, env)
    new = cell.run_step(tl.Tensor(x[None], dtype="float64"),
                        [tl.Tensor(v[None], dtype="float64") for v in state])
    for s, value in zip(cell.state, new, strict=True):
        np.testing.assert_allclose(env[str(_name(s, "t"))], value.numpy()[0], rtol=1e-10)


def test_dot_labels_are_plain_text_for_any_name() -> None:
    dot = tl.symbolic.diagram(Underscored(3, 4)) + tl.symbolic.diagram(Unicode(3, 4))
    labels = re.findall(r'(?:x?label)="([^"]*)"', dot)
    assert "h_a,t-1" in labels and "x1_y,t" in labels and "hé_t-1" in labels
    assert not [lab for lab in labels if set(lab) & set("\\{}^")], labels


# --- signs ------------------------------------------------------------------------------------

def test_negative_coefficients_print_as_minus() -> None:
    class Signs(tl.Cell):
        state = ("h", "c")

        def step(self, x, h, c):
            g = self.gate("g", h, x).tanh()
            return g - 2 * h, c * (-h) - g * 3 + (0 - c)

    cell = Signs(3, 4)
    strings = _strings(cell)
    for s in strings:
        assert not re.search(r"\(-\d|\+ -|- -|\\left\(-1\\right\)", s), s
    text = strings[0]
    assert r"h_t &= g_t - 2 h_{t-1}" in text
    assert r"C_t &= -C_{t-1} \odot h_{t-1} - 3 g_t + 0 - C_{t-1}" in text
    lstm_like = tl.symbolic.latex_expr(tl.symbolic.jacobian(tl.cells.GRU(3, 4), "h", "h_prev"))
    assert lstm_like.startswith(r"-\operatorname{diag}\left(h_{t-1}\right)")
    assert tl.symbolic.latex_expr(tl.symbolic.jacobian(cell, "h", "h_prev")).endswith(" - 2")

