"""The custom cell of docs/studies.md: JANET (van der Westhuizen & Lasenby 2018, "The unreasonable
effectiveness of the forget gate"), an LSTM with only its forget gate, the input coupled to it
and no output gate or output activation. Greff et al. found the forget gate the one part that
cannot go; JANET keeps it and little else. The study names it "janet:JANET"."""

from __future__ import annotations

import tinygrad_lstm as tl


class JANET(tl.Cell):
    """h_t = f_t ⊙ h_{t-1} + (1 - f_t) ⊙ tanh(W_C·[h_{t-1}, x_t] + b_C)."""

    state = ("h",)
    description = "JANET: forget gate only, input coupled to it (1 - f), no output gate"

    def step(self, x: tl.Tensor, h: tl.Tensor) -> tuple[tl.Tensor]:
        f = self.gate("f", h, x).sigmoid()
        c_tilde = self.gate("C", h, x).tanh()
        return (f * h + (1 - f) * c_tilde,)
