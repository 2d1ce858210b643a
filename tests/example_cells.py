"""Cells written in the tests as a user would write them (the issues' examples)."""

from __future__ import annotations

import tinygrad_lstm as tl


class CoupledLSTM(tl.Cell):
    """The issue's example: a coupled-gate LSTM written with self.gate, nothing else."""

    state = ("h", "c")

    def step(self, x, h, c):
        f = self.gate("f", h, x).sigmoid()
        c_tilde = self.gate("C", h, x).tanh()
        c = f * c + (1 - f) * c_tilde
        o = self.gate("o", h, x).sigmoid()
        return o * c.tanh(), c
