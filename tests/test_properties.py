"""Property-based tests: random shapes and random compositions of primitives.

Each composition is built twice from the same random recipe, once on Tensors and once directly
in NumPy; forwards must agree, and the Tensor version must pass gradcheck in float64.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tinygrad_lstm as tl

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1)),
    "maximum": (tl.maximum, np.maximum),
}


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**16))
def test_broadcasting_binary_ops(shapes, op: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a_np, b_np = (rng.standard_normal(s) for s in shapes.input_shapes)
    ours, theirs = BINARY[op]
    a = tl.Tensor(a_np, dtype="float64", requires_grad=True)
    b = tl.Tensor(b_np, dtype="float64", requires_grad=True)
    out = ours(a, b)
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.numpy(), theirs(a_np, b_np), rtol=1e-12)
    assert tl.gradcheck(ours, a, b)


# A step of a random composition: (name, Tensor version, NumPy version). Each keeps the value
# a 2-D array (rows, cols) so steps chain; ``w`` is a second input of shape (cols, cols).
STEPS = {
    "tanh": (lambda x, w: x.tanh(), lambda x, w: np.tanh(x)),
    "sigmoid": (lambda x, w: x.sigmoid(), lambda x, w: 1 / (1 + np.exp(-x))),
    "exp-scaled": (lambda x, w: (x * 0.5).exp(), lambda x, w: np.exp(x * 0.5)),
    "log-softplus": (lambda x, w: (x.exp() + 1).log(), lambda x, w: np.log1p(np.exp(x))),
    "square": (lambda x, w: x ** 2, lambda x, w: x ** 2),
    "neg": (lambda x, w: -x, lambda x, w: -x),
    "matmul": (lambda x, w: x @ w, lambda x, w: x @ w),
    "hadamard-row": (lambda x, w: x * w[0], lambda x, w: x * w[0]),
    "add-self-T": (lambda x, w: x + x[:, :1], lambda x, w: x + x[:, :1]),
    "double-transpose": (lambda x, w: x.T.T * 1.5, lambda x, w: x * 1.5),
    "reshape-roundtrip": (lambda x, w: x.reshape(-1).reshape(x.shape),
                          lambda x, w: x.reshape(-1).reshape(x.shape)),
    "concat-split": (lambda x, w: tl.concat(x.split(1, axis=0)[::-1], axis=0),
                     lambda x, w: x[::-1]),
    "center": (lambda x, w: x - x.mean(axis=1, keepdims=True),
               lambda x, w: x - x.mean(axis=1, keepdims=True)),
    "log-softmax": (lambda x, w: x.log_softmax(axis=1),
                    lambda x, w: x - np.log(np.exp(x).sum(axis=1, keepdims=True))),
    "max-shift": (lambda x, w: x - x.max(axis=0), lambda x, w: x - x.max(axis=0)),
    "stack-sum": (lambda x, w: tl.stack([x, x * 2]).sum(axis=0), lambda x, w: 3 * x),
}


@SETTINGS
@given(rows=st.integers(1, 3), cols=st.integers(1, 3),
       recipe=st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=5),
       seed=st.integers(0, 2**16))
def test_random_compositions(rows: int, cols: int, recipe: list[str], seed: int) -> None:
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal((rows, cols))
    w_np = rng.standard_normal((cols, cols)) / np.sqrt(cols)

    def ours(x, w):
        for name in recipe:
            x = STEPS[name][0](x, w)
        return x

    expected = x_np
    for name in recipe:
        expected = STEPS[name][1](expected, w_np)
    x = tl.Tensor(x_np, dtype="float64", requires_grad=True)
    w = tl.Tensor(w_np, dtype="float64", requires_grad=True)
    out = ours(x, w)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert tl.gradcheck(lambda x, w: ours(x, w) * 1.0 + ours(x, w) ** 2, x, w)
