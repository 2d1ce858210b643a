"""PyTorch state dicts for any model: ``load_state_dict(sd, layout="torch")`` at any depth.

Which names a model's parameters have:

* ``tl.nn.LSTM`` / ``GRU`` / ``RNN`` / ``LSTMCell`` / ``GRUCell`` / ``RNNCell``, ``Linear``
  (``weight``, ``bias``) and the containers already use PyTorch's names, so a PyTorch state dict
  of a model built the same way (same attribute names) loads as it is, at any prefix.
* The zoo's cells keep the essay's (Keras's) single bias per gate, named after the gate
  (``W_f_h``, ``W_f_x``, ``b_f``). With ``layout="torch"`` a zoo ``tl.cells.LSTM``, ``RNN`` or
  ``TorchGRU`` reads PyTorch's ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` (a
  ``tl.nn.Recurrent`` of them: ``weight_ih_l0``, ..., ``_reverse``), wherever it sits in the
  model: the two biases are added (b_ih + b_hh; the GRU's b_hn stays apart). On export the sum
  goes to ``bias_ih`` and ``bias_hh`` holds zeros. Training such a model is not PyTorch's
  trajectory (one bias learns where PyTorch's two do); use ``tl.nn.LSTM`` for that.

>>> import numpy as np, tinygrad_lstm as tl
>>> cell = tl.cells.LSTM(3, 4)
>>> sorted(cell.state_dict(layout="torch"))
['bias_hh', 'bias_ih', 'weight_hh', 'weight_ih']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_lstm import cells
from tinygrad_lstm.cells.base import Cell
from tinygrad_lstm.errors import DTypeError, ShapeError
from tinygrad_lstm.module import Module
from tinygrad_lstm.nn.recurrent import Recurrent
from tinygrad_lstm.nn.rnn_cells import TorchLayoutCell
from tinygrad_lstm.tensor import Tensor

LAYOUTS = ("native", "torch")
KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
_TORCH_KEY = re.compile(r"(^|\.)(weight|bias)_(ih|hh|hr)(_l\d+(_reverse)?)?$")

# per zoo cell: our parameter names in PyTorch's gate order, for each of its four tensors
ZOO: dict[type, tuple[tuple[str, ...], ...]] = {
    cells.LSTM: (("W_i_x", "W_f_x", "W_C_x", "W_o_x"), ("W_i_h", "W_f_h", "W_C_h", "W_o_h"),
                 ("b_i", "b_f", "b_C", "b_o"), ("b_i", "b_f", "b_C", "b_o")),
    cells.TorchGRU: (("W_r_x", "W_z_x", "W_in_x"), ("W_r_h", "W_z_h", "W_hn_h"),
                     ("b_r", "b_z", "b_in"), ("b_r", "b_z", "b_hn")),
    cells.RNN: (("W_h_x",), ("W_h_h",), ("b_h",), ("b_h",)),
}


def looks_like_torch(keys: Iterable[str]) -> str:
    """A one-line hint when unexpected keys are PyTorch's recurrent names, else ''."""
    torchy = [k for k in keys if _TORCH_KEY.search(k)]
    if not torchy:
        return ""
    return (f"{torchy[0]!r} is a PyTorch name: for a PyTorch state dict pass "
            "load_state_dict(sd, layout='torch')")


def _check(op: str, layout: Any) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"{op}: layout must be one of {LAYOUTS}, got {layout!r}")


def _units(module: Module) -> list[tuple[str, Cell, str]]:
    """(torch key prefix, zoo cell, torch key suffix) for every zoo cell PyTorch has a layout for;
    the native names of a cell's parameters are its path + '.' + our name."""
    out, covered = [], set()
    for path, m in module.named_modules():
        prefix = path + "." if path else ""
        if isinstance(m, Recurrent) and not isinstance(m.cells[0], TorchLayoutCell):
            for index, cell in enumerate(m.cells):
                covered.add(id(cell))
                if type(cell) in ZOO:
                    layer, direction = divmod(index, m.directions)
                    out.append((prefix, cell, f"_l{layer}" + ("_reverse" if direction else "")))
        elif isinstance(m, Cell) and id(m) not in covered and type(m) in ZOO:
            out.append((prefix, m, ""))
    return out


def _native_paths(module: Module) -> dict[int, str]:
    return {id(m): (path + "." if path else "") for path, m in module.named_modules()}


def _array(key: str, value: Any) -> np.ndarray:
    array = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype.kind != "f":
        raise DTypeError(f"load_state_dict(layout='torch'): {key!r} has dtype {array.dtype}, "
                         "expected floats")
    return array


def from_torch_state_dict(module: Module, state: Mapping[str, Any],
                          layout: str, strict: bool = True) -> dict[str, Any]:
    """``state`` with PyTorch's keys of the zoo's cells turned into native ones (biases added);
    every other key is kept as it is. Raises KeyError naming the missing PyTorch keys (and the
    shapes expected) when ``strict``, else leaves out every native parameter a missing key
    feeds (a bias is never loaded as half of its sum); ShapeError for a misshaped key,
    DTypeError for integers."""
    _check("load_state_dict", layout)
    paths = _native_paths(module)
    native: dict[str, Any] = {}
    used: set[str] = set()
    missing: list[str] = []
    unfed: set[str] = set()  # native parameters a missing key feeds
    for prefix, cell, suffix in _units(module):
        params = dict(cell.named_parameters())
        for kind, names in zip(KINDS, ZOO[type(cell)], strict=True):
            if not all(n in params for n in names):
                continue  # bias=False: no bias tensors
            key = prefix + kind + suffix
            want = (sum(params[n].shape[0] for n in names), *params[names[0]].shape[1:])
            if key not in state:
                missing.append(f"{key!r} {want}")
                unfed.update(paths[id(cell)] + n for n in names)
                continue
            used.add(key)
            array = _array(key, state[key])
            if array.shape != want:
                raise ShapeError(f"load_state_dict(layout='torch'): {key!r} has shape "
                                 f"{array.shape}, expected {want}")
            cuts = np.cumsum([params[n].shape[0] for n in names])[:-1]
            for name, part in zip(names, np.split(array, cuts), strict=True):
                full = paths[id(cell)] + name
                # a bias PyTorch keeps in two (b_ih + b_hh) is their sum here
                native[full] = native[full] + part if full in native else \
                    part.astype(np.float64)
    if missing and strict:
        raise KeyError(f"load_state_dict(layout='torch'): {type(module).__name__}: missing "
                       f"keys [{', '.join(missing)}]")
    for full in unfed:
        native.pop(full, None)
    for key, value in state.items():
        if key not in used:
            native[key] = value
    return native


def torch_state_dict(module: Module, layout: str) -> dict[str, np.ndarray]:
    """The parameters under PyTorch's keys (zoo cells: the bias in ``bias_ih``, zeros in
    ``bias_hh`` except the GRU's b_hn); other parameters under their native names."""
    _check("state_dict", layout)
    native = Module.state_dict(module)
    if layout == "native":
        return native
    paths = _native_paths(module)
    out: dict[str, np.ndarray] = {}
    done: set[str] = set()
    for prefix, cell, suffix in _units(module):
        params = dict(cell.named_parameters())
        ih_biases = ZOO[type(cell)][2]
        for kind, names in zip(KINDS, ZOO[type(cell)], strict=True):
            if not all(n in params for n in names):
                continue
            blocks = []
            for name in names:
                value = native[paths[id(cell)] + name]
                done.add(paths[id(cell)] + name)
                shared = kind == "bias_hh" and name in ih_biases
                blocks.append(np.zeros_like(value) if shared else value)
            out[prefix + kind + suffix] = np.concatenate(blocks, axis=0)
    for key, value in native.items():
        if key not in done:
            out[key] = value
    return out
