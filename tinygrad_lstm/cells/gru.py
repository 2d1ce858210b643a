"""Gated recurrent units: the essay's GRU, PyTorch's GRU, the Minimal Gated Unit, MUT1-3.

Update convention: in the essay's GRU (Cho et al. 2014), z_t admits the *new* state,
h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t. PyTorch's GRU writes the same gate the other way round,
h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1} (z keeps the *old* state), and resets after the matmul.
"""

from __future__ import annotations

from typing import Any

from tinygrad_lstm.cells.base import Cell
from tinygrad_lstm.errors import ShapeError
from tinygrad_lstm.tensor import Tensor


class GRU(Cell):
    """The GRU as the essay writes it (Cho et al. 2014, reset before the matmul).

    z_t = σ(W_z·[h_{t-1}, x_t] + b_z);  r_t = σ(W_r·[h_{t-1}, x_t] + b_r)
    h̃_t = tanh(W_h·[r_t ⊙ h_{t-1}, x_t] + b_h);  h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t
    (z_t admits the new state.)
    """

    state = ("h",)
    chrono_gates = {"z": -1}  # z admits the new state
    description = "GRU, the essay's form (Cho 2014): reset before the matmul, z admits h̃"

    def step(self, x: Tensor, h: Tensor) -> tuple[Tensor]:
        z = self.gate("z", h, x).sigmoid()
        r = self.gate("r", h, x).sigmoid()
        h_tilde = self.gate("h", r * h, x, names=("rh", "x")).tanh()
        return ((1 - z) * h + z * h_tilde,)


class TorchGRU(Cell):
    """The GRU as PyTorch (and cuDNN, Keras reset_after=True) computes it.

    r_t = σ(W_ir x + W_hr h + b_r);  z_t = σ(W_iz x + W_hz h + b_z)
    n_t = tanh(W_in x + b_in + r_t ⊙ (W_hn h + b_hn));  h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
    (reset after the matmul, two biases on n; z_t keeps the old state.)
    """

    state = ("h",)
    chrono_gates = {"z": 1}  # z keeps the old state
    description = "GRU, PyTorch's form: reset after the matmul, two biases, z keeps h_{t-1}"

    def step(self, x: Tensor, h: Tensor) -> tuple[Tensor]:
        r = self.gate("r", h, x).sigmoid()
        z = self.gate("z", h, x).sigmoid()
        n = (self.gate("in", x) + r * self.gate("hn", h)).tanh()
        return ((1 - z) * n + z * h,)


class MGU(Cell):
    """Minimal Gated Unit (Zhou et al. 2016): one forget gate does the GRU's two jobs.

    f_t = σ(W_f·[h_{t-1}, x_t] + b_f);  h̃_t = tanh(W_h·[f_t ⊙ h_{t-1}, x_t] + b_h)
    h_t = (1 - f_t) ⊙ h_{t-1} + f_t ⊙ h̃_t
    The paper calls f a forget gate, but it admits the new state: a positive ``forget_bias``
    (which sets b_f) makes the unit forget faster at first.
    """

    state = ("h",)
    chrono_gates = {"f": -1}  # f admits the new state
    description = "Minimal Gated Unit (Zhou 2016): a single forget gate"

    def step(self, x: Tensor, h: Tensor) -> tuple[Tensor]:
        f = self.gate("f", h, x).sigmoid()
        h_tilde = self.gate("h", f * h, x, names=("fh", "x")).tanh()
        return ((1 - f) * h + f * h_tilde,)


def _same_width(cell: Cell, why: str) -> None:
    if cell.input_size != cell.hidden_size:
        raise ShapeError(f"{type(cell).__name__}: {why}, so input_size ({cell.input_size}) must "
                         f"equal hidden_size ({cell.hidden_size})")


class MUT1(Cell):
    """MUT1 (Jozefowicz et al. 2015), found by architecture search.

    z = σ(W_xz x + b_z);  r = σ(W_xr x + W_hr h + b_r)
    h_t = tanh(W_hh (r ⊙ h) + tanh(x) + b_h) ⊙ z + h ⊙ (1 - z)
    """

    state = ("h",)
    chrono_gates = {"z": -1}  # z admits the new state
    description = "MUT1 (Jozefowicz 2015): z from x only, tanh(x) added to the candidate"

    def __init__(self, input_size: int, hidden_size: int, **options: Any) -> None:
        super().__init__(input_size, hidden_size, **options)
        _same_width(self, "it adds tanh(x) to the hidden pre-activation")

    def step(self, x: Tensor, h: Tensor) -> tuple[Tensor]:
        z = self.gate("z", x).sigmoid()
        r = self.gate("r", h, x).sigmoid()
        h_new = (self.gate("h", r * h, names=("rh",)) + x.tanh()).tanh() * z + h * (1 - z)
        return (h_new,)


class MUT2(Cell):
    """MUT2 (Jozefowicz et al. 2015).

    z = σ(W_xz x + W_hz h + b_z);  r = σ(x + W_hr h + b_r)
    h_t = tanh(W_hh (r ⊙ h) + W_xh x + b_h) ⊙ z + h ⊙ (1 - z)
    """

    state = ("h",)
    chrono_gates = {"z": -1}  # z admits the new state
    description = "MUT2 (Jozefowicz 2015): x enters the reset gate unweighted"

    def __init__(self, input_size: int, hidden_size: int, **options: Any) -> None:
        super().__init__(input_size, hidden_size, **options)
        _same_width(self, "it adds x to the reset gate's pre-activation")

    def step(self, x: Tensor, h: Tensor) -> tuple[Tensor]:
        z = self.gate("z", h, x).sigmoid()
        r = (x + self.gate("r", h)).sigmoid()
        h_new = self.gate("h", r * h, x, names=("rh", "x")).tanh() * z + h * (1 - z)
        return (h_new,)


class MUT3(Cell):
    """MUT3 (Jozefowicz et al. 2015).

    z = σ(W_xz x + W_hz tanh(h) + b_z);  r = σ(W_xr x + W_hr h + b_r)
    h_t = tanh(W_hh (r ⊙ h) + W_xh x + b_h) ⊙ z + h ⊙ (1 - z)
    """

    state = ("h",)
    chrono_gates = {"z": -1}  # z admits the new state
    description = "MUT3 (Jozefowicz 2015): the update gate reads tanh(h)"

    def step(self, x: Tensor, h: Tensor) -> tuple[Tensor]:
        z = self.gate("z", h.tanh(), x, names=("tanh_h", "x")).sigmoid()
        r = self.gate("r", h, x).sigmoid()
        h_new = self.gate("h", r * h, x, names=("rh", "x")).tanh() * z + h * (1 - z)
        return (h_new,)
