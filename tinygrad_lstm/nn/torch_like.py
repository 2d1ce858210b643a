"""``tl.nn.RNN``, ``tl.nn.LSTM``, ``tl.nn.GRU``: PyTorch's signatures and weight layout.

They take and return state as PyTorch does (stacked ``(num_layers * directions, B, H)``
tensors) and read and write PyTorch's state-dict keys with ``layout="torch"``, so trained
PyTorch weights give the same numbers here:

>>> import numpy as np, tinygrad_lstm as tl
>>> lstm = tl.nn.LSTM(3, 4, num_layers=2)
>>> sorted(lstm.state_dict(layout="torch"))[:4]
['bias_hh_l0', 'bias_hh_l1', 'bias_ih_l0', 'bias_ih_l1']
>>> lstm.state_dict(layout="torch")["weight_ih_l0"].shape
(16, 3)

PyTorch keeps two biases where one suffices (b_ih + b_hh); on import they are added, on export
the sum goes to ``bias_ih`` and ``bias_hh`` holds zeros (GRU: except b_hn, which PyTorch applies
inside the reset and so is kept apart).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_lstm import cells
from tinygrad_lstm.cells.base import Cell
from tinygrad_lstm.checks import check_dtype
from tinygrad_lstm.errors import ShapeError
from tinygrad_lstm.nn.recurrent import Recurrent
from tinygrad_lstm.tensor import Tensor, stack

LAYOUTS = ("native", "torch")


class _TorchShaped(Recurrent):
    # PyTorch's gate order, as our parameter names, for each of its four tensors per layer
    weight_ih: tuple[str, ...] = ()
    weight_hh: tuple[str, ...] = ()
    bias_ih: tuple[str, ...] = ()
    bias_hh: tuple[str, ...] = ()

    def _make_cell(self, input_size: int, hidden_size: int, bias: bool, **options: Any) -> Cell:
        raise NotImplementedError

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 **options: Any) -> None:
        cell = self._make_cell(input_size, hidden_size, bias, **options)
        super().__init__(cell, num_layers=num_layers, bidirectional=bidirectional,
                         batch_first=batch_first, dropout=dropout)
        self.bias = bool(bias)

    # --- state in PyTorch's shape ------------------------------------------------------------
    def _split_state(self, hx: Any, batch: int) -> Any:
        if hx is None:
            return None
        parts = hx if isinstance(hx, tuple | list) else (hx,)
        names = self.cells[0].state
        if len(parts) != len(names):
            raise ValueError(f"{type(self).__name__}: hx must be {self._state_doc()}")
        want = (self.num_layers * self.directions, batch, self.hidden_size)
        for name, p in zip(names, parts, strict=True):
            if not isinstance(p, Tensor) or p.shape != want:
                got = p.shape if isinstance(p, Tensor) else type(p).__name__
                raise ShapeError(f"{type(self).__name__}: {name}_0 must have shape "
                                 f"(num_layers * directions, batch, hidden_size) = {want}, "
                                 f"got {got}")
            check_dtype(type(self).__name__, f"{name}_0", p, self.cells[0].dtype)
        return [tuple(p[k] for p in parts) for k in range(want[0])]

    def _state_doc(self) -> str:
        return "(h_0, c_0)" if len(self.cells[0].state) == 2 else "h_0"

    def forward(self, x: Tensor, hx: Any = None, lengths: Any = None) -> tuple[Tensor, Any]:
        """``output, h_n`` (RNN, GRU) or ``output, (h_n, c_n)`` (LSTM), as in PyTorch."""
        state = None
        if hx is not None:
            self.cells[0].check_input(x, type(self).__name__)
            if x.ndim != 3:
                raise ShapeError(f"{type(self).__name__}: input must be 3-D, got {x.shape}")
            state = self._split_state(hx, x.shape[0 if self.batch_first else 1])
        out, finals = super().forward(x, state, lengths)
        stacked = tuple(stack([f[k] for f in finals]) for k in range(len(finals[0])))
        return out, stacked if len(stacked) > 1 else stacked[0]

    # --- PyTorch's keys ----------------------------------------------------------------------
    def _torch_keys(self) -> list[tuple[str, Cell, str, tuple[str, ...]]]:
        """(torch key, cell, kind, our parameter names in its gate order) for every tensor."""
        for cell in self.cells:
            cell._ensure_built()
        rows = []
        kinds = [("weight_ih", self.weight_ih), ("weight_hh", self.weight_hh)]
        if self.bias:
            kinds += [("bias_ih", self.bias_ih), ("bias_hh", self.bias_hh)]
        for index, cell in enumerate(self.cells):
            layer, direction = divmod(index, self.directions)
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            for kind, names in kinds:
                rows.append((kind + suffix, cell, kind, names))
        return rows

    def state_dict(self, layout: str = "native") -> dict[str, np.ndarray]:
        """Parameters keyed by our names, or by PyTorch's with ``layout="torch"``."""
        if layout not in LAYOUTS:
            raise ValueError(f"state_dict: layout must be one of {LAYOUTS}, got {layout!r}")
        if layout == "native":
            return super().state_dict()
        out = {}
        for key, cell, kind, names in self._torch_keys():
            blocks = []
            for name in names:
                value = cell._parameters[name].numpy().astype(np.float64)
                shared = kind == "bias_hh" and name in self.bias_ih
                blocks.append(np.zeros_like(value) if shared else value)
            out[key] = np.concatenate(blocks, axis=0).astype(self.cells[0].dtype)
        return out

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True,
                        layout: str = "native") -> None:
        """Load our names, or PyTorch's with ``layout="torch"`` (checked before any change)."""
        if layout not in LAYOUTS:
            raise ValueError(f"load_state_dict: layout must be one of {LAYOUTS}, got {layout!r}")
        if layout == "native":
            return super().load_state_dict(state, strict=strict)
        rows = self._torch_keys()
        shapes = {key: (sum(cell._parameters[n].shape[0] for n in names),
                        *cell._parameters[names[0]].shape[1:]) for key, cell, _, names in rows}
        missing, extra = sorted(set(shapes) - set(state)), sorted(set(state) - set(shapes))
        if missing or extra:
            wanted = ", ".join(f"{k!r} {shapes[k]}" for k in missing)
            raise KeyError(f"load_state_dict(layout='torch'): {type(self).__name__}: "
                           + "; ".join(([f"missing keys [{wanted}]"] if missing else [])
                                       + ([f"unexpected keys {extra}"] if extra else [])))
        native: dict[str, np.ndarray] = {}
        prefix = {id(c): name + "." for name, c in self._modules.items()}
        for key, cell, _, names in rows:
            value = state[key]
            array = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
            sizes = [cell._parameters[n].shape[0] for n in names]
            want = shapes[key]
            if array.shape != want:
                raise ShapeError(f"load_state_dict(layout='torch'): {key!r} has shape "
                                 f"{array.shape}, expected {want}")
            if array.dtype.kind != "f":
                raise TypeError(f"load_state_dict(layout='torch'): {key!r} has dtype "
                                f"{array.dtype}, expected floats")
            for name, part in zip(names, np.split(array, np.cumsum(sizes)[:-1]), strict=True):
                full = prefix[id(cell)] + name
                # a bias PyTorch splits in two (b_ih + b_hh) is their sum here
                native[full] = native[full] + part if full in native else part.astype(np.float64)
        super().load_state_dict(native, strict=True)


class LSTM(_TorchShaped):
    """PyTorch's ``nn.LSTM``: the essay's LSTM cell (``tl.cells.LSTM``) in PyTorch's shape.

    ``output, (h_n, c_n) = lstm(x, (h_0, c_0))``; PyTorch's gate order is i, f, g, o.
    """

    weight_ih = ("W_i_x", "W_f_x", "W_C_x", "W_o_x")
    weight_hh = ("W_i_h", "W_f_h", "W_C_h", "W_o_h")
    bias_ih = bias_hh = ("b_i", "b_f", "b_C", "b_o")

    def _make_cell(self, input_size: int, hidden_size: int, bias: bool, **options: Any) -> Cell:
        return cells.LSTM(input_size, hidden_size, bias=bias, **options)


class GRU(_TorchShaped):
    """PyTorch's ``nn.GRU`` (``tl.cells.TorchGRU``: reset after the matmul, z keeps h_{t-1}).

    ``output, h_n = gru(x, h_0)``; PyTorch's gate order is r, z, n.
    """

    weight_ih = ("W_r_x", "W_z_x", "W_in_x")
    weight_hh = ("W_r_h", "W_z_h", "W_hn_h")
    bias_ih = ("b_r", "b_z", "b_in")
    bias_hh = ("b_r", "b_z", "b_hn")

    def _make_cell(self, input_size: int, hidden_size: int, bias: bool, **options: Any) -> Cell:
        return cells.TorchGRU(input_size, hidden_size, bias=bias, **options)


class RNN(_TorchShaped):
    """PyTorch's ``nn.RNN``: h_t = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu).

    ``output, h_n = rnn(x, h_0)``.
    """

    weight_ih = ("W_h_x",)
    weight_hh = ("W_h_h",)
    bias_ih = bias_hh = ("b_h",)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", **kwargs: Any) -> None:
        object.__setattr__(self, "_nonlinearity", nonlinearity)  # needed before Module init
        super().__init__(input_size, hidden_size, num_layers, **kwargs)

    def _make_cell(self, input_size: int, hidden_size: int, bias: bool, **options: Any) -> Cell:
        return cells.RNN(input_size, hidden_size, nonlinearity=self._nonlinearity, bias=bias,
                       **options)
