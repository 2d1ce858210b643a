"""The ladder's custom cell, written as a user would: JANET, the forget-gate-only LSTM.

van der Westhuizen & Lasenby (2018), "The unreasonable effectiveness of the forget gate"
(arXiv:1804.04849), eq. 4-6 without their input shift β:

    f_t = σ(U_f h_{t-1} + W_f x_t + b_f)
    C̃_t = tanh(U_c h_{t-1} + W_c x_t + b_c)
    h_t = C_t = f_t ⊙ C_{t-1} + (1 - f_t) ⊙ C̃_t

One gate both keeps and admits, so chrono initialisation sets only b_f (+log u). The paper
proposes it for long-term tasks with exactly that initialisation. Used by the ladder as
``long_term_cells:JANET``; nothing in the library knows about it.
"""

from __future__ import annotations

import tinygrad_lstm as tl


class JANET(tl.Cell):
    """Forget-gate-only LSTM (JANET); state h only (h = C)."""

    state = ("h",)
    chrono_gates = {"f": 1}  # f keeps the old state
    description = "JANET (van der Westhuizen 2018): an LSTM with the forget gate alone"

    def step(self, x: tl.Tensor, h: tl.Tensor) -> tuple[tl.Tensor]:
        f = self.gate("f", h, x).sigmoid()
        c_tilde = self.gate("C", h, x).tanh()
        return (f * h + (1 - f) * c_tilde,)
