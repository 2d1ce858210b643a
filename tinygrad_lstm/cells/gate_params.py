"""How a cell's gates get their parameters: ``GateSpec`` (what a gate is, found when the cell is
built) and the ``GateParameters`` mixin of ``Cell``, which names each gate's weight blocks and
bias and draws their starting values (uniform in ±1/√H as PyTorch and Keras, orthogonal
recurrent blocks, or the chrono initialisation's biases; ``forget_bias`` and ``gate_bias``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_lstm import random as tl_random
from tinygrad_lstm.checks import check_int
from tinygrad_lstm.module import Parameter

if TYPE_CHECKING:
    from tinygrad_lstm.tensor import Tensor


@dataclass(frozen=True)
class GateSpec:
    """What ``step`` revealed about one gate when the cell was built."""

    name: str
    sources: tuple[str | None, ...]  # per input: the step argument it is (x, h, c) or None
    weights: tuple[str, ...]  # per input: the name of its weight block
    in_sizes: tuple[int, ...]
    size: int
    bias: str | None  # the bias parameter's name


class GateParameters:
    """Part of ``Cell``: its gates' parameters, made the first time ``step`` runs a gate. It
    reads the cell's ``hidden_size``, ``use_bias``, ``init``, ``dtype``, ``_args`` and the
    options of the starting biases; a cell with another layout (``tl.nn.LSTMCell``: PyTorch's
    stacked tensors) overrides ``_new_gate``."""

    hidden_size: int
    gates: dict[str, GateSpec]
    _parameters: dict[str, Any]

    def _new_gate(self, name: str, inputs: Sequence[Tensor], sources: tuple[str | None, ...],
                  size: int | None, bias: bool, names: Sequence[str] | None) -> GateSpec:
        owner = f"{type(self).__name__}.gate({name!r})"
        size = self.hidden_size if size is None else check_int(owner, "size", size)
        if names is not None and len(names) != len(inputs):
            raise ValueError(f"{owner}: {len(names)} names for {len(inputs)} inputs")
        weights = []
        for k, (t, src) in enumerate(zip(inputs, sources, strict=True)):
            label = names[k] if names is not None else src or f"in{k}"
            weight = f"W_{name}_{label}"
            if weight in self._parameters or weight in weights:
                raise ValueError(f"{owner}: two inputs would both be named {weight!r}; "
                                 "pass names=")
            recurrent = src != self._args[0]  # everything but x itself: h, c, r ⊙ h, tanh(h)
            try:
                block = self._init_block(size, t.shape[-1], recurrent)
            except MemoryError:
                raise MemoryError(f"{owner}: its weight {weight} would be {size} x "
                                  f"{t.shape[-1]}, more than this machine can hold; choose a "
                                  "smaller hidden_size or input_size") from None
            self.register_parameter(weight, Parameter(block, dtype=self.dtype))
            weights.append(weight)
        bias_name = None
        if bias and self.use_bias:
            bias_name = f"b_{name}"
            k = 1 / math.sqrt(self.hidden_size)
            value = tl_random.generator().uniform(-k, k, size)
            start = self._start_bias(name, size)
            value = value if start is None else start
            self.register_parameter(bias_name, Parameter(value, dtype=self.dtype))
        spec = GateSpec(name, sources, tuple(weights), tuple(t.shape[-1] for t in inputs), size,
                        bias_name)
        self.gates[name] = spec
        return spec

    def _start_bias(self, name: str, size: int) -> np.ndarray | None:
        """The starting bias that an option asks for gate ``name`` (forget_bias, gate_bias or
        chrono), or None for the default draw. Marks the option used."""
        if self.init == "chrono" and name in self.chrono_gates:
            if self._chrono_draw is None or self._chrono_draw.shape != (size,):
                # Tallec & Ollivier (2018), section 4: one draw, shared by keep and admit gates
                assert self.t_max is not None
                self._chrono_draw = np.log(tl_random.generator().uniform(1, self.t_max - 1,
                                                                           size))
            self._chrono_used = True
            return self.chrono_gates[name] * self._chrono_draw
        if name == "f" and self.forget_bias is not None:
            self._forget_bias_used = True
            return np.full(size, self.forget_bias)
        if name in self.gate_bias:
            return np.full(size, self.gate_bias[name])
        return None

    def _init_block(self, rows: int, cols: int, recurrent: bool) -> np.ndarray:
        rng = tl_random.generator()
        if recurrent and self.init == "orthogonal":
            q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
            q = q * np.sign(np.diag(r))  # a uniformly distributed orthogonal matrix
            return q if rows >= cols else q.T
        k = 1 / math.sqrt(self.hidden_size)
        return rng.uniform(-k, k, (rows, cols))
