"""The LSTM family: the essay's LSTM, peepholes and Greff's variants, coupled gates,
layer normalisation, and the depth-gated LSTM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinygrad_lstm.cells.base import Cell
from tinygrad_lstm.tensor import Tensor, ones


class LSTM(Cell):
    """The LSTM exactly as the essay writes it (Hochreiter & Schmidhuber 1997, with a forget
    gate, Gers et al. 2000).

    f_t = σ(W_f·[h_{t-1}, x_t] + b_f);  i_t = σ(W_i·[h_{t-1}, x_t] + b_i)
    C̃_t = tanh(W_C·[h_{t-1}, x_t] + b_C);  C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t
    o_t = σ(W_o·[h_{t-1}, x_t] + b_o);  h_t = o_t ⊙ tanh(C_t)
    """

    state = ("h", "c")
    chrono_gates = {"f": 1, "i": -1}
    description = "LSTM, the essay's form: forget, input and output gates, cell state C"

    def step(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        f = self.gate("f", h, x).sigmoid()
        i = self.gate("i", h, x).sigmoid()
        c_tilde = self.gate("C", h, x).tanh()
        c = f * c + i * c_tilde
        o = self.gate("o", h, x).sigmoid()
        h = o * c.tanh()
        return h, c


class CIFG(Cell):
    """Coupled input and forget gates: one gate decides both what to forget and what to add.

    couple="f" (the essay): C_t = f_t ⊙ C_{t-1} + (1 - f_t) ⊙ C̃_t.
    couple="i" (Greff et al. 2015): i_t is learned and f_t = 1 - i_t.
    """

    state = ("h", "c")
    chrono_gates = {"f": 1, "i": -1}
    description = "coupled input-forget gates (CIFG): through f (essay) or through i (Greff)"

    def __init__(self, input_size: int, hidden_size: int, couple: str = "f",
                 **options: Any) -> None:
        super().__init__(input_size, hidden_size, **options)
        if couple not in ("f", "i"):
            raise ValueError(f"CIFG: couple must be 'f' (the essay) or 'i' (Greff), "
                             f"got {couple!r}")
        self.couple = couple

    def step(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        if self.couple == "f":
            f = self.gate("f", h, x).sigmoid()
            i = 1 - f
        else:
            i = self.gate("i", h, x).sigmoid()
            f = 1 - i
        c_tilde = self.gate("C", h, x).tanh()
        c = f * c + i * c_tilde
        o = self.gate("o", h, x).sigmoid()
        return o * c.tanh(), c


GATES = ("f", "i", "o")


class PeepholeLSTM(Cell):
    """The LSTM with peepholes (Gers & Schmidhuber 2000) and every switch Greff et al. (2015)
    turn off in "LSTM: A Search Space Odyssey".

    f_t and i_t see C_{t-1}, o_t sees the new C_t. ``peepholes`` chooses the gates that have
    one (default all three); they are diagonal (a vector p_g ⊙ C, as in TF, ONNX and Greff)
    unless ``full_peepholes=True`` (a full matrix over [C, h, x], as the essay draws them).

    Greff's switches: ``input_gate=False`` (NIG: i = 1), ``forget_gate=False`` (NFG: f = 1),
    ``output_gate=False`` (NOG: o = 1), ``input_activation=False`` (NIAF: no tanh on the block
    input), ``output_activation=False`` (NOAF: no tanh on the output), ``peepholes=()`` (NP),
    ``coupled=True`` (CIFG: f = 1 - i), ``full_gate_recurrence=True`` (FGR: every gate also
    reads i_{t-1}, f_{t-1}, o_{t-1}, which then join the state). ``greff_variant(name, ...)``
    builds the named configurations.
    """

    state = ("h", "c")
    chrono_gates = {"f": 1, "i": -1}
    description = "peephole LSTM (Gers 2000): gates see the cell state; Greff's switches"

    def __init__(self, input_size: int, hidden_size: int, *,
                 peepholes: Sequence[str] = GATES, full_peepholes: bool = False,
                 input_gate: bool = True, forget_gate: bool = True, output_gate: bool = True,
                 input_activation: bool = True, output_activation: bool = True,
                 coupled: bool = False, full_gate_recurrence: bool = False,
                 **options: Any) -> None:
        super().__init__(input_size, hidden_size, **options)
        peepholes = tuple(peepholes)
        unknown = [g for g in peepholes if g not in GATES]
        if unknown:
            raise ValueError(f"PeepholeLSTM: peepholes must be among {GATES}, got {unknown}")
        if coupled and not (input_gate and forget_gate):
            raise ValueError("PeepholeLSTM: coupled=True needs the input gate (f = 1 - i)")
        self.peepholes = peepholes
        self.full_peepholes = bool(full_peepholes)
        self.input_gate, self.forget_gate, self.output_gate = input_gate, forget_gate, output_gate
        self.input_activation, self.output_activation = input_activation, output_activation
        self.coupled = bool(coupled)
        self.full_gate_recurrence = bool(full_gate_recurrence)
        if self.full_gate_recurrence:
            self.state = ("h", "c", "i", "f", "o")

    def _gate(self, name: str, cell_state: Tensor, h: Tensor, x: Tensor,
              previous: tuple[Tensor, ...]) -> Tensor:
        """σ of the gate's pre-activation, with its peephole onto ``cell_state`` if it has one."""
        if name in self.peepholes and self.full_peepholes:
            names = ("c", "h", "x", *GATES[: len(previous)])
            return self.gate(name, cell_state, h, x, *previous, names=names).sigmoid()
        pre = self.gate(name, h, x, *previous)
        if name in self.peepholes:
            pre = pre + cell_state * self.param(f"p_{name}", (self.hidden_size,))
        return pre.sigmoid()

    def step(self, x: Tensor, h: Tensor, c: Tensor, *previous: Tensor) -> tuple[Tensor, ...]:
        # previous = (i_{t-1}, f_{t-1}, o_{t-1}) with full gate recurrence, else empty
        previous = tuple(previous[k] for k in (1, 0, 2)) if previous else ()  # as (f, i, o)
        i = self._gate("i", c, h, x, previous) if self.input_gate else 1
        if self.coupled:
            f = 1 - i
        else:
            f = self._gate("f", c, h, x, previous) if self.forget_gate else 1
        z = self.gate("C", h, x)  # the block input reads h and x only (Greff: 9 extra matrices)
        z = z.tanh() if self.input_activation else z
        c = f * c + i * z
        o = self._gate("o", c, h, x, previous) if self.output_gate else 1
        h = o * (c.tanh() if self.output_activation else c)
        if not self.full_gate_recurrence:
            return h, c
        return (h, c, *(g if isinstance(g, Tensor) else
                        ones(c.shape, dtype=c.dtype, backend=c.backend) * g
                        for g in (i, f, o)))


#: Greff et al.'s eight variants, as switches of the peephole LSTM ("vanilla" has them all on).
GREFF_VARIANTS: dict[str, dict[str, Any]] = {
    "NIG": {"input_gate": False},
    "NFG": {"forget_gate": False},
    "NOG": {"output_gate": False},
    "NIAF": {"input_activation": False},
    "NOAF": {"output_activation": False},
    "NP": {"peepholes": ()},
    "CIFG": {"coupled": True},
    "FGR": {"full_gate_recurrence": True},
}


def greff_variant(name: str, input_size: int, hidden_size: int,
                  **options: Any) -> PeepholeLSTM:
    """One of Greff et al.'s variants (NIG, NFG, NOG, NIAF, NOAF, NP, CIFG, FGR) by name."""
    key = name.upper()
    if key not in GREFF_VARIANTS:
        raise ValueError(f"greff_variant: unknown variant {name!r}; choose from "
                         f"{', '.join(GREFF_VARIANTS)}")
    return PeepholeLSTM(input_size, hidden_size, **GREFF_VARIANTS[key], **options)


def _layer_norm(a: Tensor, gain: Tensor, shift: Tensor, eps: float = 1e-5) -> Tensor:
    centred = a - a.mean(axis=-1, keepdims=True)
    spread = ((centred * centred).mean(axis=-1, keepdims=True) + eps) ** 0.5
    return centred / spread * gain + shift


class LayerNormLSTM(Cell):
    """The LSTM with layer normalisation (Ba et al. 2016) of each gate and of the cell state.

    Each gate is σ or tanh of LN(W_g·[h_{t-1}, x_t]); LN(a) = γ ⊙ (a - mean a)/std a + β with a
    learned gain γ (starting at 1) and shift β (which replaces the bias, and so starts at
    ``forget_bias`` for f when that is given, or at the chrono biases for f and i); the output
    reads h_t = o_t ⊙ tanh(LN(C_t)), and the un-normalised C_t is carried forward, as in Ba et
    al.
    """

    state = ("h", "c")
    chrono_gates = {"f": 1, "i": -1}
    description = "layer-normalised LSTM (Ba 2016): LN on every gate and on the cell state"

    def _normed(self, name: str, a: Tensor) -> Tensor:
        size = (self.hidden_size,)
        beta = self._parameters.get(f"beta_{name}")
        if beta is None:  # first use, while the cell is built
            shift = self._start_bias(name, self.hidden_size) if name in ("f", "i") else None
            beta = self.param(f"beta_{name}", size, init=0.0 if shift is None else shift)
        return _layer_norm(a, self.param(f"gamma_{name}", size, init=1.0), beta)

    def step(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        f = self._normed("f", self.gate("f", h, x, bias=False)).sigmoid()
        i = self._normed("i", self.gate("i", h, x, bias=False)).sigmoid()
        c_tilde = self._normed("C", self.gate("C", h, x, bias=False)).tanh()
        c = f * c + i * c_tilde
        o = self._normed("o", self.gate("o", h, x, bias=False)).sigmoid()
        h = o * self._normed("c", c).tanh()
        return h, c


class DepthGatedLSTM(Cell):
    """Depth-gated LSTM (Yao et al. 2015): a depth gate links the cell states of stacked layers.

    d_t = σ(W_d x_t + w_dc ⊙ C_{t-1} + w_dl ⊙ C_t^{below} + b_d)
    C_t = d_t ⊙ C_t^{below} + f_t ⊙ C_{t-1} + i_t ⊙ C̃_t, the rest as the LSTM.
    C_t^{below} is the cell state of the layer below at the same step (zeros in the first
    layer); ``tl.nn.Recurrent`` supplies it.
    """

    state = ("h", "c")
    chrono_gates = {"f": 1, "i": -1}
    context = {"c_below": "c"}
    description = "depth-gated LSTM (Yao 2015): a depth gate adds the lower layer's cell state"

    def step(self, x: Tensor, h: Tensor, c: Tensor, c_below: Tensor) -> tuple[Tensor, Tensor]:
        f = self.gate("f", h, x).sigmoid()
        i = self.gate("i", h, x).sigmoid()
        c_tilde = self.gate("C", h, x).tanh()
        size = (self.hidden_size,)
        d = (self.gate("d", x) + c * self.param("w_d_c", size)
             + c_below * self.param("w_d_l", size)).sigmoid()
        c = d * c_below + f * c + i * c_tilde
        o = self.gate("o", h, x).sigmoid()
        return o * c.tanh(), c
