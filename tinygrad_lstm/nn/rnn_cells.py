"""``tl.nn.LSTMCell``, ``GRUCell``, ``RNNCell``: PyTorch's cells, parameters and call convention.

They hold exactly PyTorch's tensors: ``weight_ih`` (G·H, input_size), ``weight_hh`` (G·H, H),
``bias_ih`` and ``bias_hh`` (G·H,), gates stacked in PyTorch's order (LSTM i, f, g, o; GRU r, z,
n), each U(-1/√H, 1/√H). Two biases where one would do: both receive the full gradient, so an
optimiser moves their sum twice as fast as a single bias, and ``clip_grad_norm_`` counts both;
this is what makes a training run here follow PyTorch's step for step. The zoo's cells
(``tl.cells.LSTM``, ...) keep the essay's single bias b_g, which is Keras's parameterisation.

Each is still a ``tl.Cell``: its ``step`` is written with ``gate``, and a gate's weight blocks and
bias are slices (and the sum b_ih + b_hh) of the stacked tensors (``stacked_parameters``), so the
sequence runner stacks and hoists them as for any cell, the symbolic printer prints them, and
``tl.nn.LSTM`` / ``GRU`` / ``RNN`` run these cells in layers and directions.

The call convention is PyTorch's: ``h, c = lstm_cell(x, (h, c))``, ``h = gru_cell(x, h)``;
``x`` is (B, input_size) or unbatched (input_size,), and a missing state is zeros.

>>> import numpy as np, tinygrad_lstm as tl
>>> cell = tl.nn.LSTMCell(3, 4)
>>> [(n, p.shape) for n, p in cell.named_parameters()]
[('weight_ih', (16, 3)), ('weight_hh', (16, 4)), ('bias_ih', (16,)), ('bias_hh', (16,))]
>>> h, c = cell(tl.Tensor(np.ones((2, 3))))
>>> h.shape, c.shape
((2, 4), (2, 4))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_lstm import random as tl_random
from tinygrad_lstm.cells.base import Cell, GateSpec
from tinygrad_lstm.cells.plan import StepPlan
from tinygrad_lstm.checks import check_int
from tinygrad_lstm.module import Parameter
from tinygrad_lstm.tensor import Tensor, concat, zeros

_BOTH = ("bias_ih", "bias_hh")
_ORDER = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


def device_backend(owner: str, device: Any) -> str | None:
    """The backend PyTorch's ``device=`` stands for here (None: the current one)."""
    if device is None:
        return None
    name = str(device).split(":")[0]
    if name == "cpu":
        return "numpy"
    if name == "cuda":
        return "cupy"
    raise ValueError(f"{owner}: device={device!r}: this project runs on backends, not devices; "
                     "use device='cpu' (NumPy) or 'cuda' (CuPy), or tl.set_backend(...)")


class TorchLayoutCell(Cell):
    """A cell whose gates read PyTorch's stacked tensors (the base of LSTMCell, GRUCell, RNNCell).

    Subclasses set ``rows`` (gate name -> its block in the stacks) and, for a gate with one bias
    only, ``biases`` (gate name -> the bias tensors it adds).
    """

    rows: dict[str, int] = {}
    biases: dict[str, tuple[str, ...]] = {}
    gate_count = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 proj_size: int = 0, device: Any = None, dtype: Any = None,
                 init: str = "uniform", forget_bias: float | None = None,
                 gate_bias: dict[str, float] | None = None, t_max: float | None = None,
                 **unknown: Any) -> None:
        owner = type(self).__name__
        if unknown:
            raise TypeError(f"{owner}: unknown keyword {sorted(unknown)[0]!r}; PyTorch's "
                            "keywords are accepted (bias, device, dtype), and this project "
                            "adds init, forget_bias, gate_bias, t_max")
        super().__init__(input_size, hidden_size, bias=bias, init=init, forget_bias=forget_bias,
                         gate_bias=gate_bias, t_max=t_max, dtype=dtype)
        self.proj_size = check_int(owner, "proj_size", proj_size, minimum=0)
        if self.proj_size >= self.hidden_size:
            raise ValueError(f"{owner}: proj_size ({proj_size}) must be smaller than "
                             f"hidden_size ({hidden_size})")
        H, G = self.hidden_size, self.gate_count  # noqa: N806 - the papers' names
        rng = tl_random.generator()
        k = 1 / math.sqrt(H)
        self.weight_ih = Parameter(rng.uniform(-k, k, (G * H, self.input_size)), dtype=self.dtype)
        recurrent = np.concatenate([self._init_block(H, self.state_size("h"), True)
                                    for _ in range(G)])
        self.weight_hh = Parameter(recurrent, dtype=self.dtype)
        if self.use_bias:
            b_ih, b_hh = rng.uniform(-k, k, G * H), rng.uniform(-k, k, G * H)
            for gate, row in self.rows.items():
                start = self._start_bias(gate, H)
                if start is not None:  # the sum starts at start: all of it in b_ih
                    at = slice(row * H, (row + 1) * H)
                    b_ih[at], b_hh[at] = start, 0.0
            self.bias_ih = Parameter(b_ih, dtype=self.dtype)
            self.bias_hh = Parameter(b_hh, dtype=self.dtype)
        if self.proj_size:
            self.weight_hr = Parameter(rng.uniform(-k, k, (self.proj_size, H)), dtype=self.dtype)
        # per gate parameter name: the (tensor, block) pairs it is, summed (block None: all)
        self._where: dict[str, tuple[tuple[str, int | None], ...]] = {}
        backend = device_backend(owner, device)
        if backend is not None:
            self.to(backend)

    def state_size(self, name: str) -> int:
        return self.proj_size if name == "h" and getattr(self, "proj_size", 0) else \
            self.hidden_size

    def _own_parameters(self) -> dict[str, Parameter]:
        self._ensure_built()
        return {n: self._parameters[n] for n in _ORDER if n in self._parameters}

    def _new_gate(self, name: str, inputs: Sequence[Tensor], sources: tuple[str | None, ...],
                  size: int | None, bias: bool, names: Sequence[str] | None) -> GateSpec:
        owner = f"{type(self).__name__}.gate({name!r})"
        weights = []
        for src in sources:
            if name == "hr":
                where: tuple[str, int | None] = ("weight_hr", None)
            elif src in ("x", "h") and name in self.rows:
                where = ("weight_ih" if src == "x" else "weight_hh", self.rows[name])
            else:
                raise ValueError(f"{owner}: PyTorch's layout has no block for input {src!r}")
            weights.append(f"W_{name}_{src or 'in'}")
            self._where[weights[-1]] = (where,)
        bias_name = None
        if bias and self.use_bias:
            bias_name = f"b_{name}"
            self._where[bias_name] = tuple((b, self.rows[name])
                                           for b in self.biases.get(name, _BOTH))
        spec = GateSpec(name, sources, tuple(weights), tuple(t.shape[-1] for t in inputs),
                        self.proj_size if name == "hr" else self.hidden_size, bias_name)
        self.gates[name] = spec
        return spec

    def stores_stacked(self, names: Sequence[str]) -> bool:
        """True where ``names`` are the blocks of whole tensors in their order (all of
        ``weight_ih``, of ``weight_hh``, or the biases b_ih + b_hh of every gate)."""
        parts = [dict(self._where[n]) for n in names]
        every = list(range(self.gate_count))
        return all([p.get(attr, -1) for p in parts] in ([None], every)
                   for attr in dict.fromkeys(a for p in parts for a in p))

    def stacked_parameters(self, names: Sequence[str]) -> Tensor:
        """Slices of PyTorch's tensors for the gates' blocks (the whole tensor when the names
        cover it in order), a bias being b_ih + b_hh (both get the full gradient)."""
        H = self.hidden_size  # noqa: N806
        parts = [dict(self._where[n]) for n in names]
        total: Tensor | None = None
        for attr in dict.fromkeys(a for p in parts for a in p):
            tensor = self._parameters[attr]
            blocks = [p.get(attr, -1) for p in parts]
            if blocks == [None]:
                piece = tensor
            elif -1 not in blocks and blocks == list(range(blocks[0], blocks[0] + len(blocks))):
                whole = (blocks[0], len(blocks)) == (0, self.gate_count)
                piece = tensor if whole else tensor[blocks[0] * H:(blocks[-1] + 1) * H]
            else:  # a gate without this tensor (the GRU's n reads one bias each): zeros there
                piece = concat([tensor[b * H:(b + 1) * H] if b != -1 else
                                zeros((H,) + tensor.shape[1:], dtype=tensor.dtype,
                                      backend=tensor.backend) for b in blocks], axis=0)
            total = piece if total is None else total + piece
        assert total is not None
        return total

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}" + ("" if self.use_bias else
                                                              ", bias=False")
                + (f", proj_size={self.proj_size}" if self.proj_size else ""))

    # --- PyTorch's call convention ------------------------------------------------------------
    def _one_step(self, x: Any, hx: Any) -> tuple[Tensor, ...]:
        owner = type(self).__name__
        self._ensure_built()
        self.check_input(x, owner, (1, 2),
                         f"(batch, {self.input_size}) or ({self.input_size},)")
        unbatched = x.ndim == 1
        if unbatched:
            x = x.reshape(1, self.input_size)
        batch = x.shape[0]
        if hx is None:
            state = self.init_state(batch, x.backend)
        else:
            given = hx if isinstance(hx, tuple | list) else (hx,)
            if len(given) != len(self.state) or not all(isinstance(s, Tensor) for s in given):
                raise ValueError(f"{owner}: hx must be {self._state_doc()}, got "
                                 f"{type(hx).__name__}"
                                 + (f" of length {len(given)}" if len(given) > 1 else ""))
            if unbatched:
                given = tuple(s.reshape(1, *s.shape) if s.ndim == 1 else s for s in given)
            state = self.check_state(tuple(given), batch)
        plan = StepPlan(self, x.reshape(1, batch, self.input_size))  # the stacked GEMMs
        plan.begin(0)
        new = self.run_step(x, state, strategy=plan)
        return tuple(s.reshape(s.shape[1]) for s in new) if unbatched else new

    def _state_doc(self) -> str:
        return "(h, c)" if len(self.state) == 2 else "h"

    def __call__(self, x: Any, hx: Any = None) -> Any:  # type: ignore[override]
        return self.forward(x, hx)

    def forward(self, x: Any, hx: Any = None) -> Any:
        new = self._one_step(x, hx)
        return new if len(new) > 1 else new[0]


class LSTMCell(TorchLayoutCell):
    """PyTorch's ``nn.LSTMCell``: ``h_1, c_1 = cell(x, (h_0, c_0))``.

    i = σ(W_ii x + b_ii + W_hi h + b_hi);  f = σ(W_if x + b_if + W_hf h + b_hf)
    g = tanh(W_ig x + b_ig + W_hg h + b_hg);  o = σ(W_io x + b_io + W_ho h + b_ho)
    c' = f ⊙ c + i ⊙ g;  h' = o ⊙ tanh(c')   (the essay's LSTM, PyTorch's parameters)

    ``proj_size`` > 0 (used by ``tl.nn.LSTM``; Sak et al. 2014): h' = W_hr (o ⊙ tanh(c')), h has
    proj_size features, and ``weight_hh`` is (4H, proj_size).
    """

    state = ("h", "c")
    description = "LSTM in PyTorch's parameters: gates i, f, g, o; b_ih and b_hh"
    rows = {"i": 0, "f": 1, "g": 2, "o": 3}
    chrono_gates = {"f": 1, "i": -1}
    gate_count = 4

    def step(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        i = self.gate("i", x, h).sigmoid()
        f = self.gate("f", x, h).sigmoid()
        g = self.gate("g", x, h).tanh()
        o = self.gate("o", x, h).sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        if self.proj_size:
            h = self.gate("hr", h, size=self.proj_size, bias=False)
        return h, c


class GRUCell(TorchLayoutCell):
    """PyTorch's ``nn.GRUCell``: ``h_1 = cell(x, h_0)``.

    r = σ(W_ir x + b_ir + W_hr h + b_hr);  z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn));  h' = (1 - z) ⊙ n + z ⊙ h
    """

    state = ("h",)
    description = "GRU in PyTorch's parameters: gates r, z, n; b_ih and b_hh"
    rows = {"r": 0, "z": 1, "in": 2, "hn": 2}
    chrono_gates = {"z": 1}  # z keeps the old state
    biases = {"in": ("bias_ih",), "hn": ("bias_hh",)}
    gate_count = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 **options: Any) -> None:
        if options.get("proj_size"):
            raise ValueError("GRUCell: proj_size is an LSTM option (PyTorch's too)")
        super().__init__(input_size, hidden_size, bias, **options)

    def step(self, x: Tensor, h: Tensor) -> tuple[Tensor]:
        r = self.gate("r", x, h).sigmoid()
        z = self.gate("z", x, h).sigmoid()
        n = (self.gate("in", x) + r * self.gate("hn", h)).tanh()
        return ((1 - z) * n + z * h,)


class RNNCell(TorchLayoutCell):
    """PyTorch's ``nn.RNNCell``: ``h_1 = cell(x, h_0)``, h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
    (or relu with ``nonlinearity="relu"``)."""

    state = ("h",)
    description = "Elman RNN in PyTorch's parameters: b_ih and b_hh"
    rows = {"h": 0}

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", **options: Any) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        if options.get("proj_size"):
            raise ValueError("RNNCell: proj_size is an LSTM option (PyTorch's too)")
        super().__init__(input_size, hidden_size, bias, **options)
        self.nonlinearity = nonlinearity

    def step(self, x: Tensor, h: Tensor) -> tuple[Tensor]:
        a = self.gate("h", x, h)
        return (a.tanh() if self.nonlinearity == "tanh" else a.relu(),)
