"""tl.cells.resolve: zoo names, Cell subclasses and "module:Class" resolve to one CellSpec."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

import tinygrad_lstm as tl
from tests.example_cells import CoupledLSTM

CUSTOM = textwrap.dedent("""
    import tinygrad_lstm as tl

    class Minimal(tl.Cell):
        state = ("h",)

        def __init__(self, input_size, hidden_size, scale: float = 1.0, **options):
            super().__init__(input_size, hidden_size, **options)
            self.scale = scale

        def step(self, x, h):
            return ((self.gate("h", h, x) * self.scale).tanh(),)

    NOT_A_CELL = 3
    class Plain:
        pass
""")


@pytest.fixture
def in_folder_with_module(tmp_path, monkeypatch):
    """A folder holding mycells_resolve.py, made the current folder (as a user would run)."""
    (tmp_path / "mycells_resolve.py").write_text(CUSTOM)
    (tmp_path / "broken_cells_resolve.py").write_text("class Oops(:\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield tmp_path
    for name in ("mycells_resolve", "broken_cells_resolve"):
        sys.modules.pop(name, None)


def test_zoo_names_resolve_to_their_class_and_preset() -> None:
    spec = tl.cells.resolve("lstm")
    assert spec.cls is tl.cells.LSTM and spec.name == "lstm" and spec.preset == {}
    relu = tl.cells.resolve("rnn-relu")
    assert relu.cls is tl.cells.RNN and relu.build(3, 4).nonlinearity == "relu"
    nig = tl.cells.resolve("greff-nig")
    assert nig.cls is tl.cells.PeepholeLSTM and nig.build(3, 4).input_gate is False
    for name in tl.cells.available():  # every zoo entry builds the same cell create() builds
        a, b = tl.cells.resolve(name).build(4, 4), tl.cells.create(name, 4, 4)
        assert type(a) is type(b)
        assert [n for n, _ in a.named_parameters()] == [n for n, _ in b.named_parameters()]


def test_a_class_resolves_to_itself_named_module_colon_class() -> None:
    spec = tl.cells.resolve(CoupledLSTM)
    assert spec.cls is CoupledLSTM and spec.name == "tests.example_cells:CoupledLSTM"
    assert tl.cells.resolve(spec.name).cls is CoupledLSTM
    cell = spec(3, 5)  # calling the spec builds
    h, state = cell(tl.Tensor(np.ones((2, 3))))
    assert h.shape == (2, 5) and len(state) == 2


def test_module_colon_class_imports_from_the_current_folder(in_folder_with_module) -> None:
    spec = tl.cells.resolve("mycells_resolve:Minimal")
    assert spec.cls.__name__ == "Minimal" and spec.name == "mycells_resolve:Minimal"
    assert str(in_folder_with_module) not in sys.path  # put there for the import only
    assert spec.build(2, 3, scale=0.5).scale == 0.5
    options = spec.options()
    assert options["scale"].default == 1.0 and options["forget_bias"].default is None
    assert "input_size" not in options and "options" not in options


@pytest.mark.parametrize(("spec", "message"), [
    ("elman", r"^unknown cell 'elman'; available: rnn, .* \(or 'module:Class'"),
    ("no_such_module_xyz:Cell", r"^cell 'no_such_module_xyz:Cell': no module named "
                                r"'no_such_module_xyz' \(run from the folder"),
    ("mycells_resolve:Missing", r"^cell 'mycells_resolve:Missing': module mycells_resolve has "
                                r"no 'Missing'$"),
    ("mycells_resolve:Plain", r"^cell 'mycells_resolve:Plain' is not a tl.Cell subclass "
                              r"\(it is Plain\)$"),
    ("mycells_resolve:NOT_A_CELL", r"is not a tl.Cell subclass \(it is int\)$"),
    ("broken_cells_resolve:Oops", r"^cell 'broken_cells_resolve:Oops': importing "
                                  r"broken_cells_resolve failed: SyntaxError: .*line 1\)$"),
    ("mycells_resolve:", r"write a zoo name or 'module:Class'"),
    (int, r"^cell 'builtins:int' is not a tl.Cell subclass"),
    (3, r"^cell must be a zoo name, 'module:Class' or a Cell subclass, got int$"),
])
def test_bad_specs_raise_one_line(in_folder_with_module, spec, message) -> None:
    with pytest.raises(tl.cells.CellSpecError, match=message) as info:
        tl.cells.resolve(spec)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_options_are_typed_from_the_constructor_signature() -> None:
    lstm = tl.cells.resolve("lstm")
    assert lstm.parse_option("forget_bias", "1") == ("forget_bias", 1.0)
    assert lstm.parse_option("forget_bias", "none") == ("forget_bias", None)
    assert lstm.parse_option("bias", "false") == ("bias", False)
    assert lstm.parse_option("init", "orthogonal") == ("init", "orthogonal")
    assert lstm.parse_option("gate_bias", "f:2,i:-1") == ("gate_bias", {"f": 2, "i": -1})
    assert lstm.parse_option("gate_bias", '{"f": 2.5}') == ("gate_bias", {"f": 2.5})
    assert tl.cells.resolve("cifg").parse_option("couple", "i") == ("couple", "i")
    peep = tl.cells.resolve("peephole")
    assert peep.parse_option("peepholes", "f,i") == ("peepholes", ("f", "i"))
    assert peep.parse_option("full-peepholes", "yes") == ("full_peepholes", True)
    assert tl.cells.resolve("clockwork").parse_option("periods", "1,3") == ("periods", (1, 3))
    built = lstm.build(3, 4, **dict([lstm.parse_option("forget_bias", "2")]))
    assert float(dict(built.named_parameters())["b_f"].numpy()[0]) == 2.0


def test_bad_options_raise_one_line() -> None:
    lstm = tl.cells.resolve("lstm")
    with pytest.raises(tl.cells.CellSpecError, match=r"^cell 'lstm' has no option 'colour'; "
                                                     r"its options: bias, init, forget_bias"):
        lstm.parse_option("colour", "red")
    with pytest.raises(tl.cells.CellSpecError,
                       match=r"^cell option forget_bias='abc': expected float or none$"):
        lstm.parse_option("forget_bias", "abc")
    with pytest.raises(tl.cells.CellSpecError, match=r"expected true or false$"):
        lstm.parse_option("bias", "maybe")
    with pytest.raises(tl.cells.CellSpecError, match=r"^cell 'lstm' has no option 'colour'"):
        lstm.build(3, 4, colour="red")
