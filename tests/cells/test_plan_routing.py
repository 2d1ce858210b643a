"""The plan routes any gate signature a custom cell can write exactly as the plain path does.

Hypothesis draws cells whose gates read any mix of the input, the states (one or several, the
same one twice) and values computed inside the step, with or without a bias, of different
widths over the same sources; ``Recurrent(fused=True)`` and ``fused=False`` must then give the
same outputs, final states and gradients (float64).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lstm as tl

H = 3
SOURCES = ("x", "h", "c", "tanh_h", "r_h")  # the last two are computed inside the step


def _cell_class(states: tuple[str, ...], gates: list[tuple[tuple[str, ...], int, bool]]):
    """A cell with the drawn gates: (inputs, width in units of H, bias) for each."""

    class Drawn(tl.Cell):
        state = states

        def step(self, x, h, *rest):
            values = {"x": x, "h": h, "tanh_h": h.tanh(), "r_h": (h * 0.5).sigmoid() * h}
            if rest:
                values["c"] = rest[0]
            total = None
            for k, (inputs, width, bias) in enumerate(gates):
                used = [s for s in inputs if s in values]
                g = self.gate(f"g{k}", *[values[s] for s in used], size=width * H, bias=bias,
                              names=[f"{s}{j}" for j, s in enumerate(used)])
                part = g[:, :H].tanh() if width == 1 else g[:, :H].tanh() * g[:, H:].sigmoid()
                total = part if total is None else total + part
            new_h = (total + h * 0.5).tanh()
            if not rest:
                return (new_h,)
            return new_h, rest[0] * 0.5 + total

    return Drawn


gate_strategy = st.tuples(
    st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3),
    st.sampled_from([1, 2]),
    st.booleans(),
)


def _grads(rnn, x, lengths, w):
    rnn.zero_grad()
    xt = tl.Tensor(x, dtype="float64", requires_grad=True)
    out, finals = rnn(xt, lengths=lengths)
    loss = (out * tl.Tensor(w, dtype="float64")).sum()
    for layer in finals:
        for s in layer:
            loss = loss + (s * s).sum()
    loss.backward()
    return (out.numpy().copy(), [[s.numpy().copy() for s in f] for f in finals],
            {n: p.grad.numpy().copy() for n, p in rnn.named_parameters() if p.grad is not None},
            None if xt.grad is None else xt.grad.numpy().copy())


@settings(max_examples=25, deadline=None)
@given(gates=st.lists(gate_strategy, min_size=1, max_size=4),
       two_states=st.booleans(), bidirectional=st.booleans(), padded=st.booleans(),
       seed=st.integers(0, 2**16))
def test_planned_routing_equals_the_plain_path(gates, two_states, bidirectional, padded,
                                               seed) -> None:
    states = ("h", "c") if two_states else ("h",)
    # a gate must read something the cell has: drop "c" from one-state cells, keep >= 1 input
    gates = [(tuple(s for s in inputs if s != "c" or two_states) or ("h",), w, b)
             for inputs, w, b in gates]
    cls = _cell_class(states, gates)
    tl.manual_seed(seed)
    fused = tl.nn.Recurrent(cls(2, H, dtype="float64"), bidirectional=bidirectional)
    plain = tl.nn.Recurrent(cls(2, H, dtype="float64"), bidirectional=bidirectional,
                            fused=False)
    plain.load_state_dict(fused.state_dict())
    rng = np.random.default_rng(seed)
    steps, lengths = 4, ([4, 2, 1] if padded else None)
    x = rng.standard_normal((steps, 3, 2))
    w = rng.standard_normal((steps, 3, H * (2 if bidirectional else 1)))
    a, b = _grads(fused, x, lengths, w), _grads(plain, x, lengths, w)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12, atol=1e-12, err_msg=f"outputs {gates}")
    for fa, fb in zip(a[1], b[1], strict=True):
        for sa, sb in zip(fa, fb, strict=True):
            np.testing.assert_allclose(sa, sb, rtol=1e-12, atol=1e-12, err_msg="final states")
    assert a[2].keys() == b[2].keys()
    for name in a[2]:
        np.testing.assert_allclose(a[2][name], b[2][name], rtol=1e-11, atol=1e-12,
                                   err_msg=f"gradient of {name}, gates {gates}")
    assert (a[3] is None) == (b[3] is None)
    if a[3] is not None:
        np.testing.assert_allclose(a[3], b[3], rtol=1e-11, atol=1e-12, err_msg="gradient of x")


@pytest.mark.parametrize("inputs", [("h", "c"), ("h",), ("c",), ("h", "h"), ("x", "x")])
def test_a_gate_gives_its_bias_once(inputs) -> None:
    """The issue's example: a gate reading states only got its bias twice (2b instead of b)."""
    cls = _cell_class(("h", "c"), [(inputs, 1, True)])
    cell = cls(2, H, dtype="float64")
    fused = tl.nn.Recurrent(cell)
    plain = tl.nn.Recurrent(cell, fused=False)
    x = tl.Tensor(np.random.default_rng(0).standard_normal((3, 2, 2)), dtype="float64")
    np.testing.assert_allclose(fused(x)[0].numpy(), plain(x)[0].numpy(), rtol=1e-13, atol=0)
