"""Equations read off the graph of the step that runs, printed as the essay prints them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_lstm as tl

ROOT = Path(__file__).resolve().parent.parent

ESSAY_LSTM = r"""\begin{aligned}
f_{t} &= \sigma\left(W_{f} \left[h_{t-1}, x_{t}\right] + b_{f}\right) \\
i_{t} &= \sigma\left(W_{i} \left[h_{t-1}, x_{t}\right] + b_{i}\right) \\
\tilde{C}_{t} &= \tanh\left(W_{C} \left[h_{t-1}, x_{t}\right] + b_{C}\right) \\
C_{t} &= f_{t} \odot C_{t-1} + i_{t} \odot \tilde{C}_{t} \\
o_{t} &= \sigma\left(W_{o} \left[h_{t-1}, x_{t}\right] + b_{o}\right) \\
h_{t} &= o_{t} \odot \tanh\left(C_{t}\right)
\end{aligned}"""


def lines(cell: tl.Cell) -> list[str]:
    return [f"{tl.symbolic.latex_expr(eq.lhs)} = {tl.symbolic.latex_expr(eq.rhs)}"
            for eq in tl.symbolic.equations(cell)]


def test_the_lstm_prints_the_essays_six_equations() -> None:
    assert tl.symbolic.latex(tl.cells.LSTM(8, 16)) == ESSAY_LSTM


def test_the_gru_forms_read_as_their_papers_write_them() -> None:
    assert lines(tl.cells.GRU(3, 4)) == [
        r"z_{t} = \sigma\left(W_{z} \left[h_{t-1}, x_{t}\right] + b_{z}\right)",
        r"r_{t} = \sigma\left(W_{r} \left[h_{t-1}, x_{t}\right] + b_{r}\right)",
        r"\tilde{h}_{t} = \tanh\left(W_{h} \left[r_{t} \odot h_{t-1}, x_{t}\right] + b_{h}\right)",
        r"h_{t} = \left(1 - z_{t}\right) \odot h_{t-1} + z_{t} \odot \tilde{h}_{t}",
    ]
    torch_form = lines(tl.cells.TorchGRU(3, 4))[-1]
    # reset after the matmul, the two biases of n, and z keeping the old state
    assert r"r_{t} \odot \left(W_{hn} h_{t-1} + b_{hn}\right)" in torch_form
    assert torch_form.endswith(r"+ z_{t} \odot h_{t-1}")


def test_peepholes_and_coupled_gates_are_visible() -> None:
    peep = lines(tl.cells.PeepholeLSTM(3, 4))
    assert r"C_{t-1} \odot p_{f}" in peep[1] and r"C_{t} \odot p_{o}" in peep[4]
    full = lines(tl.cells.PeepholeLSTM(3, 4, full_peepholes=True))
    assert r"W_{f} \left[C_{t-1}, h_{t-1}, x_{t}\right]" in full[1]
    assert r"\left(1 - f_{t}\right) \odot \tilde{C}_{t}" in lines(tl.cells.CIFG(3, 4))[2]
    assert r"\left(1 - i_{t}\right) \odot C_{t-1}" in lines(
        tl.cells.CIFG(3, 4, couple="i"))[2]


def test_every_cell_prints_and_greffs_variants_differ() -> None:
    printed = {}
    for name in tl.cells.available():
        cell = tl.cells.create(name, 4, 4)
        text = tl.symbolic.latex(cell)
        assert text.startswith(r"\begin{aligned}") and text.endswith(r"\end{aligned}")
        names = [tl.symbolic.latex_expr(eq.lhs) for eq in tl.symbolic.equations(cell)]
        for state in cell.state:
            assert f"{tl.symbolic.printer.STATE_SYMBOLS.get(state, state)}_{{t}}" in names
        printed[name] = text
    greff = [v for k, v in printed.items() if k.startswith("greff-")] + [printed["peephole"]]
    assert len(set(greff)) == len(greff)


def test_a_custom_cell_prints_like_the_built_ins() -> None:
    class CoupledLSTM(tl.Cell):
        state = ("h", "c")

        def step(self, x, h, c):
            f = self.gate("f", h, x).sigmoid()
            c_tilde = self.gate("C", h, x).tanh()
            c = f * c + (1 - f) * c_tilde
            o = self.gate("o", h, x).sigmoid()
            return o * c.tanh(), c

    assert lines(CoupledLSTM(3, 4)) == lines(tl.cells.CIFG(3, 4))


def test_an_operation_without_a_printable_rule_is_named() -> None:
    class Softmaxed(tl.Cell):
        state = ("h",)

        def step(self, x, h):
            return (self.gate("h", h, x).log_softmax(),)

    with pytest.raises(tl.symbolic.SymbolicError,
                       match=r"^Softmaxed: no printable rule for the primitive 'log_softmax'"):
        tl.symbolic.equations(Softmaxed(3, 4))
    with pytest.raises(TypeError, match="equations: expected a tl.Cell, got str"):
        tl.symbolic.equations("lstm")


def test_importing_the_engine_does_not_import_sympy() -> None:
    out = subprocess.run([sys.executable, "-c", "import sys, tinygrad_lstm as tl; "
                          "tl.nn.LSTM(3, 4); print('sympy' in sys.modules)"],
                         cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "False"
