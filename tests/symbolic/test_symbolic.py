"""Equations read off the graph of the step that runs, printed as the essay prints them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_lstm as tl

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())

ESSAY_LSTM = r"""\begin{aligned}
f_t &= \sigma\left(W_f \left[h_{t-1}, x_t\right] + b_f\right) \\
i_t &= \sigma\left(W_i \left[h_{t-1}, x_t\right] + b_i\right) \\
\tilde{C}_t &= \tanh\left(W_C \left[h_{t-1}, x_t\right] + b_C\right) \\
C_t &= f_t \odot C_{t-1} + i_t \odot \tilde{C}_t \\
o_t &= \sigma\left(W_o \left[h_{t-1}, x_t\right] + b_o\right) \\
h_t &= o_t \odot \tanh\left(C_t\right)
\end{aligned}"""


def lines(cell: tl.Cell) -> list[str]:
    return [f"{tl.symbolic.latex_expr(eq.lhs)} = {tl.symbolic.latex_expr(eq.rhs)}"
            for eq in tl.symbolic.equations(cell)]


def test_the_lstm_prints_the_essays_six_equations() -> None:
    assert tl.symbolic.latex(tl.cells.LSTM(8, 16)) == ESSAY_LSTM


def test_the_gru_forms_read_as_their_papers_write_them() -> None:
    assert lines(tl.cells.GRU(3, 4)) == [
        r"z_t = \sigma\left(W_z \left[h_{t-1}, x_t\right] + b_z\right)",
        r"r_t = \sigma\left(W_r \left[h_{t-1}, x_t\right] + b_r\right)",
        r"\tilde{h}_t = \tanh\left(W_h \left[r_t \odot h_{t-1}, x_t\right] + b_h\right)",
        r"h_t = \left(1 - z_t\right) \odot h_{t-1} + z_t \odot \tilde{h}_t",
    ]
    torch_form = lines(tl.cells.TorchGRU(3, 4))[-1]
    # reset after the matmul, the two biases of n, and z keeping the old state
    assert r"r_t \odot \left(W_{hn} h_{t-1} + b_{hn}\right)" in torch_form
    assert torch_form.endswith(r"+ z_t \odot h_{t-1}")


def test_peepholes_and_coupled_gates_are_visible() -> None:
    peep = lines(tl.cells.PeepholeLSTM(3, 4))
    assert r"C_{t-1} \odot p_f" in peep[1] and r"C_t \odot p_o" in peep[4]
    full = lines(tl.cells.PeepholeLSTM(3, 4, full_peepholes=True))
    assert r"W_f \left[C_{t-1}, h_{t-1}, x_t\right]" in full[1]
    assert r"\left(1 - f_t\right) \odot \tilde{C}_t" in lines(tl.cells.CIFG(3, 4))[2]
    assert r"\left(1 - i_t\right) \odot C_{t-1}" in lines(
        tl.cells.CIFG(3, 4, couple="i"))[2]


def test_every_cell_prints_and_greffs_variants_differ() -> None:
    printed = {}
    for name in tl.cells.available():
        cell = tl.cells.create(name, 4, 4)
        text = tl.symbolic.latex(cell)
        assert text.startswith(r"\begin{aligned}") and text.endswith(r"\end{aligned}")
        names = [tl.symbolic.latex_expr(eq.lhs) for eq in tl.symbolic.equations(cell)]
        for state in cell.state:
            assert f"{tl.symbolic.printer.STATE_SYMBOLS.get(state, state)}_t" in names
        printed[name] = text
    greff = [v for k, v in printed.items() if k.startswith("greff-")] + [printed["peephole"]]
    assert len(set(greff)) == len(greff)


def test_a_custom_cell_prints_like_the_built_ins() -> None:
    from example_cells import CoupledLSTM

    assert lines(CoupledLSTM(3, 4)) == lines(tl.cells.CIFG(3, 4))


def test_every_primitive_prints_through_its_own_rule() -> None:
    """log_softmax and stack had no rule in the printer's old if-ladder; the table's rules
    print them now."""
    class Softmaxed(tl.Cell):
        state = ("h",)

        def step(self, x, h):
            both = tl.stack([h, x[:, :4]]).mean(axis=0)
            return (self.gate("h", both, x, names=("s", "x")).log_softmax(),)

    (eq,) = tl.symbolic.equations(Softmaxed(4, 4))
    assert tl.symbolic.latex_expr(eq.rhs) == (
        r"W_h \left[\operatorname{mean}\left(\left[h_{t-1}, x_t\right]\right), x_t\right] + b_h"
        r" - \log{\left(\operatorname{sum}\left(e^{W_h \left[\operatorname{mean}\left("
        r"\left[h_{t-1}, x_t\right]\right), x_t\right] + b_h}\right) \right)}")
    with pytest.raises(TypeError, match="equations: expected a tl.Cell, got str"):
        tl.symbolic.equations("lstm")


def test_importing_the_engine_does_not_import_sympy() -> None:
    out = subprocess.run([sys.executable, "-c", "import sys, tinygrad_lstm as tl; "
                          "tl.nn.LSTM(3, 4); print('sympy' in sys.modules)"],
                         cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "False"


def jac(cell: tl.Cell, output: str, wrt: str) -> str:
    return tl.symbolic.latex_expr(tl.symbolic.jacobian(cell, output, wrt))


def test_the_conveyor_belt_and_the_vanishing_gradient() -> None:
    """The essay's point in two Jacobians: the LSTM's cell state passes through diag(f_t);
    the vanilla RNN's state is multiplied by diag(1 - h_t^2) W_h at every step."""
    assert jac(tl.cells.LSTM(3, 4), "c", "c_prev") == r"\operatorname{diag}\left(f_t\right)"
    assert jac(tl.cells.CIFG(3, 4), "c", "c_prev") == r"\operatorname{diag}\left(f_t\right)"
    assert jac(tl.cells.RNN(3, 4), "h", "h_prev") == (
        r"\operatorname{diag}\left(1 - h_t^{2}\right) W_{h,h}")
    peephole = jac(tl.cells.PeepholeLSTM(3, 4), "c", "c_prev")
    assert r"\operatorname{diag}\left(f_t\right)" in peephole
    assert r"\operatorname{diag}\left(p_f\right)" in peephole  # plus the peephole terms
    gru = jac(tl.cells.GRU(3, 4), "h", "h_prev")
    assert r"\operatorname{diag}\left(1 - z_t\right)" in gru and "W_{h,rh}" in gru


def test_jacobian_names_what_is_wrong() -> None:
    lstm = tl.cells.LSTM(3, 4)
    with pytest.raises(ValueError, match=r"LSTM has no state 'q' \(the states of LSTM are "
                                         r"\('h', 'c'\)"):
        tl.symbolic.jacobian(lstm, "q", wrt="c_prev")
    with pytest.raises(ValueError, match=r"the input x is not a state \(the states of LSTM are "
                                         r"\('h', 'c'\).*got 'x' for the output"):
        tl.symbolic.jacobian(lstm, "x", wrt="h_prev")
    with pytest.raises(ValueError, match=r"the wrt must be a previous state"):
        tl.symbolic.jacobian(lstm, "c", wrt="c")
    with pytest.raises(TypeError, match="jacobian: expected a tl.Cell"):
        tl.symbolic.jacobian(None, "c", wrt="c_prev")


def _numeric_jacobian(cell: tl.Cell, out_index: int, in_index: int, seed: int = 0):
    """d new_state[out_index] / d state[in_index] from the tape, one row per output entry."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = tl.Tensor(rng.standard_normal((1, cell.input_size)), dtype="float64")
    state = tuple(tl.Tensor(rng.standard_normal((1, cell.state_size(s))) if s != "t"
                            else np.full((1, 1), CLOCK_STEP), dtype="float64",
                            requires_grad=True) for s in cell.state)
    _, new = cell(x, state)
    rows = []
    for k in range(new[out_index].shape[1]):
        for s in state:
            s.grad = None
        seed_grad = np.zeros(new[out_index].shape)
        seed_grad[0, k] = 1.0
        new[out_index].backward(seed_grad, retain_graph=True)
        rows.append(state[in_index].grad.numpy()[0])
    return np.array(rows), x.numpy(), [s.numpy() for s in state]


def test_the_symbolic_jacobians_equal_the_tapes() -> None:
    import numpy as np

    params = lambda cell: {n: p.numpy() for n, p in cell.named_parameters()}  # noqa: E731
    lstm = tl.cells.LSTM(3, 4, dtype="float64")
    numeric, x, (h, c) = _numeric_jacobian(lstm, 1, 1)
    p = params(lstm)
    f = 1 / (1 + np.exp(-(h @ p["W_f_h"].T + x @ p["W_f_x"].T + p["b_f"])))
    np.testing.assert_allclose(numeric, np.diag(f[0]), atol=1e-12)  # diag(f_t)
    rnn = tl.cells.RNN(3, 4, dtype="float64")
    numeric, x, (h,) = _numeric_jacobian(rnn, 0, 0)
    p = params(rnn)
    h_t = np.tanh(h @ p["W_h_h"].T + x @ p["W_h_x"].T + p["b_h"])
    np.testing.assert_allclose(numeric, np.diag(1 - h_t[0] ** 2) @ p["W_h_h"], atol=1e-12)


def test_diagrams_use_the_essays_visual_language() -> None:
    lstm = tl.symbolic.diagram(tl.cells.LSTM(3, 4))
    assert lstm.startswith("digraph LSTM {") and lstm.rstrip().endswith("}")
    assert lstm.count('fillcolor="#ffe68c"') == 4  # four learned layers: σ, σ, tanh, σ
    assert lstm.count('label="σ"') == 3 and lstm.count('label="tanh", shape=box') == 1
    assert lstm.count('label="×"') == 3 and lstm.count('label="+"') == 1  # pink pointwise ops
    assert 'shape=point' in lstm  # lines merging: the concatenation [h_t-1, x_t]
    for name in ("h_t-1", "x_t", "C_t-1", "h_t", "C_t"):
        assert f'label="{name}"' in lstm
    cifg = tl.symbolic.diagram(tl.cells.CIFG(3, 4))
    assert 'label="1−"' in cifg and cifg.count('fillcolor="#ffe68c"') == 3
    for name in tl.cells.available():  # every cell draws
        assert tl.symbolic.diagram(tl.cells.create(name, 4, 4)).startswith("digraph")


def test_diagrams_render_with_graphviz_when_it_is_installed() -> None:
    import shutil

    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz)")
    svg = tl.symbolic.render_svg(tl.symbolic.diagram(tl.cells.GRU(3, 4)))
    assert svg is not None and "<svg" in svg and "σ" in svg


def test_the_committed_cell_pages_are_not_stale(tmp_path) -> None:
    """docs/cells is generated by `tinygrad-lstm docs`; regenerating must change nothing."""
    from tinygrad_lstm import docs

    committed = ROOT / "docs" / "cells"
    written = docs.write(tmp_path, svg=False)
    assert sorted(p.name for p in committed.glob("*.md")) == sorted(p.name for p in written)
    for name in tl.cells.available():  # every page's diagram is there, rendered
        assert (committed / f"{name}.svg").is_file(), f"docs/cells/{name}.svg is missing"
    for page in written:
        assert (committed / page.name).read_text(encoding="utf-8") == page.read_text(
            encoding="utf-8"), f"docs/cells/{page.name} is stale: run `tinygrad-lstm docs`"


@pytest.mark.slow
def test_the_docs_command(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "tinygrad_lstm", "docs", "--out",
                          str(tmp_path / "cells")], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    page = (tmp_path / "cells" / "lstm.md").read_text(encoding="utf-8")
    assert ESSAY_LSTM in page and r"\operatorname{diag}\left(f_t\right)" in page
    assert "```dot\ndigraph LSTM {" in page
    blocked = tmp_path / "file"
    blocked.write_text("x")
    bad = subprocess.run([sys.executable, "-m", "tinygrad_lstm", "docs", "--out", str(blocked)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert bad.returncode == 2 and "is a file, not a folder" in bad.stderr


# --- the printed equations compute what the cell computes ----------------------------------

def _evaluate(expr, env):
    """Evaluate a printed equation's right-hand side with NumPy (vectors as 1-D arrays)."""
    import numpy as np
    import sympy

    from tinygrad_lstm.symbolic.functions import matmul, reduction, sigmoid, transposed
    from tinygrad_lstm.symbolic.printer import Affine, _param_symbol

    def ev(e):
        if isinstance(e, sympy.Symbol):
            return env[str(e)]
        if e.is_number:
            return float(e)
        if isinstance(e, Affine):
            gate, has_bias, blocks, *inputs = e.args
            out = sum(env[str(w)] @ ev(i) for w, i in zip(blocks, inputs, strict=True))
            return out + env[_param_symbol(f"b_{gate}")] if has_bias else out
        if isinstance(e, matmul):
            a, b = e.args
            return ev(b.args[0]) @ ev(a) if isinstance(b, transposed) else ev(a) @ ev(b)
        if isinstance(e, transposed):
            return ev(e.args[0]).T
        if isinstance(e, reduction):
            op, arg = e.args
            return {"mean": np.mean, "sum": np.sum, "max": np.max}[str(op)](ev(arg))
        if isinstance(e, sympy.Piecewise):
            (a, mask), (b, _) = e.args
            return np.where(np.asarray(ev(mask)) != 0, ev(a), ev(b))
        args = [ev(a) for a in e.args]
        if isinstance(e, sympy.Add):
            return sum(args)
        if isinstance(e, sympy.Mul):
            return np.prod(np.broadcast_arrays(*args), axis=0)
        if isinstance(e, sympy.Pow):
            return args[0] ** args[1]
        if isinstance(e, sigmoid):
            return 1 / (1 + np.exp(-args[0]))
        if isinstance(e, sympy.tanh):
            return np.tanh(args[0])
        if isinstance(e, sympy.Max):
            return np.maximum(*args)
        raise NotImplementedError(type(e).__name__)

    return ev(expr)


CLOCK_STEP = 3  # Clockwork at step 3: the period-1 module ticks, the slower ones wait


def _clockwork_data(cell, env) -> None:
    """What Clockwork's equations name but do not spell out, computed here from its periods:
    the tick mask m_t at CLOCK_STEP and the block-triangular recurrence mask M."""
    import numpy as np

    size = cell.hidden_size // len(cell.periods)
    module = np.repeat(np.arange(len(cell.periods)), size)
    env["m_t"] = (CLOCK_STEP % np.array(cell.periods)[module] == 0).astype(float)
    env["M"] = (module[None, :] >= module[:, None]).astype(float)


@pytest.mark.parametrize("name", list(tl.cells.available()))
def test_the_printed_equations_compute_what_the_cell_computes(name: str) -> None:
    """Every equation evaluated in NumPy from its printed form, on random weights and inputs,
    gives the cell's own forward."""
    import numpy as np

    from tinygrad_lstm.symbolic.printer import STATE_SYMBOLS, _param_symbol

    rng = np.random.default_rng(7)
    cell = tl.cells.create(name, 4, 4, dtype="float64")
    env = {_param_symbol(n): p.numpy() for n, p in cell.named_parameters()}
    x = rng.standard_normal(4)
    state = [rng.standard_normal(cell.state_size(s)) if s != "t" else np.array([CLOCK_STEP])
             for s in cell.state]
    context = [rng.standard_normal(cell.state_size(s)) for s in cell.context.values()]
    env["x_{t}"] = x
    if name == "clockwork":
        _clockwork_data(cell, env)
    for s, v in zip(cell.state, state, strict=True):
        env[f"{STATE_SYMBOLS.get(s, s)}_{{t-1}}"] = v
    for s, v in zip(cell.context, context, strict=True):
        env[s.replace("_", "^{") + "}"] = v
    for eq in tl.symbolic.equations(cell):
        env[str(eq.lhs)] = _evaluate(eq.rhs, env)
    as_t = [tl.Tensor(v[None], dtype="float64") for v in (x, *state, *context)]
    new = cell.run_step(as_t[0], as_t[1:1 + len(state)], as_t[1 + len(state):])
    for s, value in zip(cell.state, new, strict=True):
        printed = env[f"{STATE_SYMBOLS.get(s, s)}_{{t}}"]
        np.testing.assert_allclose(np.broadcast_to(printed, value.shape[1:]), value.numpy()[0],
                                   rtol=1e-8, atol=1e-10, err_msg=f"{name}: state {s}")


def katex_errors(strings: list[str]) -> list[str]:
    """KaTeX's error for each string ("" where it renders), with errors thrown; skips the test
    when KaTeX is not installed (`tinygrad-lstm docs --build` installs it; .ci/run too)."""
    import json
    import shutil

    from tinygrad_lstm.site import find_katex

    modules = find_katex()
    if shutil.which("node") is None or modules is None:
        pytest.skip("KaTeX is not installed: `tinygrad-lstm docs --build` installs it")
    out = subprocess.run(["node", str(ROOT / "tests" / "render_katex.js")],
                         input=json.dumps(strings), capture_output=True, text=True,
                         timeout=120, env={**os.environ, "NODE_PATH": str(modules)})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_every_generated_latex_string_renders_with_katex() -> None:
    """Each cell's equations and Jacobians go through KaTeX (from the npm registry; .ci/run
    installs it into .ci/katex) with errors thrown: what the docs show really renders."""
    import re

    from tinygrad_lstm import docs

    strings = [tl.symbolic.latex(tl.cells.create(name, 4, 4)) for name in tl.cells.available()]
    for text in docs.pages().values():
        strings += re.findall(r"\$\$(.+?)\$\$", text, flags=re.S)
        strings += re.findall(r"(?<!\$)\$([^$\n]+)\$(?!\$)", text)
    failures = [(s, e) for s, e in zip(strings, katex_errors(strings), strict=True) if e]
    assert not failures, failures[:3]
    assert len(strings) > 50


def test_the_expanded_form_writes_one_block_per_input() -> None:
    text = tl.symbolic.latex(tl.cells.LSTM(3, 4), expanded=True)
    assert r"f_t &= \sigma\left(W_{f,h} h_{t-1} + W_{f,x} x_t + b_f\right)" in text
    gru = tl.symbolic.latex(tl.cells.GRU(3, 4), expanded=True)
    assert r"W_{h,rh} \left(r_t \odot h_{t-1}\right) + W_{h,x} x_t" in gru


def _evaluate_jacobian(expr, env):
    """A printed Jacobian as a NumPy matrix (diag, products, sums, weight blocks)."""
    import numpy as np
    import sympy

    from tinygrad_lstm.symbolic.calculus import IDENTITY, Averaging, Chain, Diag, Positive, Total

    size = len(env["x_{t}"])

    def ev(e):
        if e == IDENTITY:
            return np.eye(size)
        if isinstance(e, Diag):
            inner = e.args[0]
            if isinstance(inner, Positive):
                return np.diag((_evaluate(inner.args[0], env) > 0).astype(float))
            return np.diag(np.broadcast_to(_evaluate(inner, env), (size,)))
        if isinstance(e, Chain):
            out = np.eye(size)
            for f in e.args:
                out = out @ ev(f)
            return out
        if isinstance(e, Total):
            return sum(ev(a) for a in e.args)
        if isinstance(e, Averaging):
            return np.full((size, size), 1 / size)
        if isinstance(e, sympy.Symbol):
            return env[str(e)]
        if e.is_number:
            return float(e) * np.eye(size)
        return np.asarray(_evaluate(e, env))  # a matrix written with ⊙ (W_{h,h} ⊙ M)

    return ev(expr)


@pytest.mark.parametrize("name", list(tl.cells.available()))
def test_each_symbolic_jacobian_equals_the_tapes(name: str) -> None:
    """∂s_t/∂s_{t-1} for every state s, evaluated from its printed form, against the tape."""
    import numpy as np

    from tinygrad_lstm.symbolic.printer import STATE_SYMBOLS, _param_symbol

    cell = tl.cells.create(name, 4, 4, dtype="float64")
    checked = 0
    for k, state in enumerate(cell.state):
        if cell.state_size(state) != 4:
            continue
        symbolic = tl.symbolic.jacobian(cell, state, f"{state}_prev")
        numeric, x, values = _numeric_jacobian(cell, k, k, seed=k)
        env = {_param_symbol(n): p.numpy() for n, p in cell.named_parameters()}
        env["x_{t}"] = x[0]
        for s, v in zip(cell.state, values, strict=True):
            env[f"{STATE_SYMBOLS.get(s, s)}_{{t-1}}"] = v[0]
        for s in cell.context:
            env[s.replace("_", "^{") + "}"] = np.zeros(4)
        if name == "clockwork":
            _clockwork_data(cell, env)
        for eq in tl.symbolic.equations(cell):
            env[str(eq.lhs)] = _evaluate(eq.rhs, env)
        np.testing.assert_allclose(_evaluate_jacobian(symbolic, env), numeric, rtol=1e-8,
                                   atol=1e-10, err_msg=f"{name}: d{state}_t/d{state}_t-1")
        checked += 1
    assert checked >= 1


def test_the_cell_state_runs_along_the_top() -> None:
    import re

    dot = tl.symbolic.diagram(tl.cells.LSTM(3, 4))
    labels = dict(re.findall(r'(n\d+) \[label="([^"]*)"', dot))
    first_in = re.search(r"\{rank=min; (n\d+) ->", dot).group(1)
    first_out = re.search(r"\{rank=max; (n\d+) ->", dot).group(1)
    assert labels[first_in] == "C_t-1" and labels[first_out] == "C_t"


def test_a_cell_returning_the_wrong_state_is_named() -> None:
    class Forgetful(tl.Cell):
        state = ("h", "c")

        def step(self, x, h, c):
            return (self.gate("h", h, x).tanh(),)

    with pytest.raises(TypeError, match=r"^Forgetful.step returned 1; expected a tuple of 2 "
                                        r"tensors \('h', 'c'\)"):
        tl.symbolic.equations(Forgetful(3, 4))


@pytest.mark.parametrize("name", sorted(tl.cells.available()))
def test_equations_do_not_depend_on_where_the_parameters_live(name: str) -> None:
    """A cell moved to another backend (the strict one: NumPy behind CuPy's wall) prints the
    same equations: the printer's traced leaves live where the parameters do. They used to be
    made on the default backend, so no cell on CuPy could print its equations."""
    here = tl.cells.create(name, 4, 4, dtype="float64")
    there = tl.cells.create(name, 4, 4, dtype="float64").to("strict")
    assert str(tl.symbolic.equations(there)) == str(tl.symbolic.equations(here))
