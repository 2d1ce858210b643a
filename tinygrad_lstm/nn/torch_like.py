"""``tl.nn.RNN``, ``tl.nn.LSTM``, ``tl.nn.GRU``: PyTorch's signatures, parameters and state.

Each layer and direction is a ``tl.nn.LSTMCell`` / ``GRUCell`` / ``RNNCell`` holding exactly
PyTorch's tensors, so the module's parameters are PyTorch's, by name, shape, gate order and
number (two biases, ``bias_ih_l{k}`` and ``bias_hh_l{k}``, each receiving the full gradient):
from the same weights, the same optimiser follows the same trajectory as in PyTorch.

>>> import numpy as np, tinygrad_lstm as tl
>>> lstm = tl.nn.LSTM(3, 4, num_layers=2)
>>> [name for name, _ in lstm.named_parameters()][:4]
['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']
>>> lstm.weight_ih_l0.shape, lstm.bias_hh_l1.shape
((16, 3), (16,))

State goes in and out as in PyTorch: stacked ``(num_layers * directions, B, H)`` tensors (h is
``proj_size`` wide with a projection); an unbatched (T, input_size) input gives (T, D·H) out.
``layout="torch"`` is accepted by ``state_dict`` / ``load_state_dict`` and changes nothing here:
the native names are PyTorch's.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_lstm.cells.base import Cell
from tinygrad_lstm.checks import check_dtype, check_int
from tinygrad_lstm.errors import DTypeError, ShapeError
from tinygrad_lstm.module import IncompatibleKeys, Parameter
from tinygrad_lstm.nn.recurrent import Recurrent
from tinygrad_lstm.nn.rnn_cells import GRUCell, LSTMCell, RNNCell, device_backend
from tinygrad_lstm.tensor import Tensor, stack

LAYOUTS = ("native", "torch")
_NAME = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?")
#: keywords this project adds to PyTorch's: for the cells, and for the runner
CELL_OPTIONS = ("init", "forget_bias", "gate_bias", "t_max")
RUNNER_OPTIONS = ("input_dropout", "recurrent_dropout", "variational", "fused", "compile")


def check_layout(op: str, layout: Any) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"{op}: layout must be one of {LAYOUTS}, got {layout!r}")


class _TorchShaped(Recurrent):
    _cell_type: type = LSTMCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None, **options: Any) -> None:
        owner = type(self).__name__
        unknown = sorted(set(options) - set(CELL_OPTIONS) - set(RUNNER_OPTIONS)
                         - set(self._extra_options()))
        if unknown:
            raise TypeError(f"{owner}: unknown keyword {unknown[0]!r}; PyTorch's keywords are "
                            "accepted, and this project adds " + ", ".join(
                                CELL_OPTIONS + RUNNER_OPTIONS))
        check_int(owner, "input_size", input_size)
        check_int(owner, "hidden_size", hidden_size)
        runner = {k: options.pop(k) for k in RUNNER_OPTIONS if k in options}
        if dropout and num_layers == 1:  # PyTorch's warning, in its words
            frame, level = sys._getframe(1), 2  # point at the user's line, past our __init__s
            while frame is not None and frame.f_code.co_filename == __file__:
                frame, level = frame.f_back, level + 1
            warnings.warn(f"{owner}: dropout option adds dropout after all but last recurrent "
                          f"layer, so non-zero dropout expects num_layers greater than 1, but "
                          f"got dropout={dropout} and num_layers={num_layers}", stacklevel=level)
        backend = device_backend(owner, device)
        if dtype is not None:
            options["dtype"] = dtype
        cell = self._cell_type(input_size, hidden_size, bias, **options)
        super().__init__(cell, num_layers=num_layers, bidirectional=bidirectional,
                         batch_first=batch_first, dropout=dropout, **runner)
        self.bias = bool(bias)
        if backend is not None:
            self.to(backend)

    def _extra_options(self) -> tuple[str, ...]:
        return ()

    # --- PyTorch's names -----------------------------------------------------------------------
    def _suffix(self, index: int) -> str:
        layer, direction = divmod(index, self.directions)
        return f"_l{layer}" + ("_reverse" if direction else "")

    def named_parameters(self, prefix: str = "") -> Any:
        """PyTorch's names in PyTorch's order: ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
        ``bias_hh_l0`` (``weight_hr_l0``), then ``..._l0_reverse``, then the next layer."""
        for index, cell in enumerate(self.cells):
            for name, p in cell.named_parameters():
                yield prefix + name + self._suffix(index), p

    def _cell_for(self, name: str) -> tuple[Cell, str] | None:
        match = _NAME.fullmatch(name)
        modules = self.__dict__.get("_modules", {})
        if match is None:
            return None
        cell = modules.get(f"l{match[2]}" + (match[3] or ""))
        return None if cell is None else (cell, match[1])

    def __getattr__(self, name: str) -> Any:
        found = self._cell_for(name)
        if found is not None and found[1] in found[0]._parameters:
            return found[0]._parameters[found[1]]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        found = self._cell_for(name) if "_modules" in self.__dict__ else None
        if found is None:
            return super().__setattr__(name, value)
        cell, kind = found
        if not isinstance(value, Parameter):
            raise TypeError(f"{type(self).__name__}.{name}: expected a tl.nn.Parameter, got "
                            f"{type(value).__name__}")
        old = cell._parameters.get(kind)
        if old is not None and getattr(value, "shape", None) != old.shape:
            raise ShapeError(f"{type(self).__name__}.{name}: shape "
                             f"{getattr(value, 'shape', type(value).__name__)}, expected "
                             f"{old.shape}")
        setattr(cell, kind, value)

    def flatten_parameters(self) -> None:
        """PyTorch's cuDNN weight compaction: nothing to do here (the stacks are made per
        call), so PyTorch code that calls it runs unchanged."""

    # --- state in PyTorch's shape ------------------------------------------------------------
    def _split_state(self, hx: Any, batch: int) -> Any:
        if hx is None:
            return None
        parts = hx if isinstance(hx, tuple | list) else (hx,)
        cell = self.cells[0]
        names = cell.state
        if len(parts) != len(names):
            raise ValueError(f"{type(self).__name__}: hx must be {self._state_doc()}")
        count = self.num_layers * self.directions
        for name, p in zip(names, parts, strict=True):
            want = (count, batch, cell.state_size(name))
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: {name}_0 must be a tl.Tensor of shape "
                                f"{want}, got {type(p).__name__}")
            if p.shape != want:
                raise ShapeError(f"{type(self).__name__}: {name}_0 must have shape "
                                 f"(num_layers * directions, batch, {name} size) = {want}, "
                                 f"got {p.shape}")
            check_dtype(type(self).__name__, f"{name}_0", p, self.cells[0].dtype)
        return [tuple(p[k] for p in parts) for k in range(count)]

    def _state_doc(self) -> str:
        return "(h_0, c_0)" if len(self.cells[0].state) == 2 else "h_0"

    def forward(self, x: Tensor, hx: Any = None, lengths: Any = None) -> tuple[Tensor, Any]:
        """``output, h_n`` (RNN, GRU) or ``output, (h_n, c_n)`` (LSTM), as in PyTorch.

        ``x`` is (T, B, input_size), (B, T, input_size) with ``batch_first``, or unbatched
        (T, input_size); ``lengths`` (B,) for a padded batch stands for PyTorch's packed
        sequences (see ``tl.nn.pad_sequence``)."""
        owner = type(self).__name__
        if type(x).__name__ == "PackedSequence":
            raise TypeError(f"{owner}: packed sequences are a padded batch and lengths= here: "
                            "padded, lengths = tl.nn.pad_sequence(seqs); "
                            f"{owner.lower()}(padded, lengths=lengths)")
        self.cells[0].check_input(x, owner, (2, 3), "3-D (or 2-D unbatched)")
        unbatched = x.ndim == 2
        if unbatched:  # PyTorch's (L, H_in): one sequence, and state (D * num_layers, H)
            if lengths is not None:
                raise ValueError(f"{owner}: lengths= needs a batch; got an unbatched input "
                                 f"{x.shape}")
            x = x.reshape(x.shape[0], 1, x.shape[1])
            if self.batch_first:
                x = x.transpose(1, 0, 2)
            if hx is not None:
                parts = hx if isinstance(hx, tuple | list) else (hx,)
                parts = tuple(p.reshape(p.shape[0], 1, p.shape[1])
                              if isinstance(p, Tensor) and p.ndim == 2 else p for p in parts)
                hx = parts if isinstance(hx, tuple | list) else parts[0]
        state = None
        if hx is not None:
            state = self._split_state(hx, x.shape[0 if self.batch_first else 1])
        out, finals = super().forward(x, state, lengths)
        stacked = tuple(stack([f[k] for f in finals]) for k in range(len(finals[0])))
        if unbatched:
            out = out.reshape(out.shape[0] * out.shape[1], out.shape[2])
            stacked = tuple(s.reshape(s.shape[0], s.shape[2]) for s in stacked)
        return out, stacked if len(stacked) > 1 else stacked[0]

    # --- state dicts ---------------------------------------------------------------------------
    def state_dict(self, layout: str = "native") -> dict[str, np.ndarray]:
        """Parameters keyed by PyTorch's names (``layout="torch"`` is the same thing)."""
        check_layout("state_dict", layout)
        return super().state_dict()

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True,
                        layout: str = "native") -> IncompatibleKeys:
        """Load PyTorch's keys (checked before any change; ``layout`` may be either)."""
        check_layout("load_state_dict", layout)
        shapes = {name: p.shape for name, p in self.named_parameters()}
        missing, extra = sorted(set(shapes) - set(state)), sorted(set(state) - set(shapes))
        if strict and (missing or extra):
            wanted = ", ".join(f"{k!r} {shapes[k]}" for k in missing)
            raise KeyError(f"load_state_dict: {type(self).__name__}: "
                           + "; ".join(([f"missing keys [{wanted}]"] if missing else [])
                                       + ([f"unexpected keys {extra}"] if extra else [])))
        for key, value in state.items():
            if key not in shapes:
                continue
            array = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
            if array.shape != shapes[key]:
                raise ShapeError(f"load_state_dict: {key!r} has shape {array.shape}, expected "
                                 f"{shapes[key]}")
            if array.dtype.kind != "f":
                raise DTypeError(f"load_state_dict: {key!r} has dtype {array.dtype}, expected "
                                 "floats")
        return super().load_state_dict(state, strict=strict)


class LSTM(_TorchShaped):
    """PyTorch's ``nn.LSTM``: layers of ``tl.nn.LSTMCell`` (gates i, f, g, o; two biases).

    ``output, (h_n, c_n) = lstm(x, (h_0, c_0))``. ``proj_size`` > 0 adds PyTorch's projection
    (Sak et al. 2014, "LSTM recurrent neural network architectures for large scale acoustic
    modeling"): h_t = W_hr (o_t ⊙ tanh(c_t)), ``weight_hr_l{k}`` (proj_size, hidden_size);
    h_n and the output are proj_size wide, c_n hidden_size.
    """

    _cell_type = LSTMCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None, **options: Any) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype,
                         **({"proj_size": proj_size} if proj_size else {}), **options)
        self.proj_size = self.cells[0].proj_size

    def _extra_options(self) -> tuple[str, ...]:
        return ("proj_size",)


class GRU(_TorchShaped):
    """PyTorch's ``nn.GRU``: layers of ``tl.nn.GRUCell`` (gates r, z, n; reset after the matmul,
    z keeps h_{t-1}). ``output, h_n = gru(x, h_0)``."""

    _cell_type = GRUCell


class RNN(_TorchShaped):
    """PyTorch's ``nn.RNN``: h_t = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu), layers of
    ``tl.nn.RNNCell``. ``output, h_n = rnn(x, h_0)``."""

    _cell_type = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None, **options: Any) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype,
                         **({"nonlinearity": nonlinearity} if nonlinearity != "tanh" else {}),
                         **options)
        self.nonlinearity = nonlinearity

    def _extra_options(self) -> tuple[str, ...]:
        return ("nonlinearity",)
