"""The tape: accumulation, broadcasting undone, no_grad, detach, freeing, and error messages."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.tape import unbroadcast


def test_readme_example(backend: str) -> None:
    rng = np.random.default_rng(0)
    W = tl.Tensor(rng.standard_normal((8, 4)), requires_grad=True)
    x = tl.Tensor(rng.standard_normal((3, 8)))
    y = (x @ W).sigmoid() * (x @ W).tanh()
    y.sum().backward()
    assert W.grad.numpy().shape == (8, 4)
    # the same gradient written by hand
    xs, Ws = x.numpy().astype(np.float64), W.numpy().astype(np.float64)
    z = xs @ Ws
    s, t = 1 / (1 + np.exp(-z)), np.tanh(z)
    dz = s * (1 - s) * t + s * (1 - t ** 2)
    np.testing.assert_allclose(W.grad.numpy(), xs.T @ dz, rtol=1e-4, atol=1e-5)
    assert tl.gradcheck(lambda W: ((x @ W).tanh() ** 2).sum(), W)


def test_tensor_used_twice_accumulates(backend: str) -> None:
    x = tl.Tensor([1.0, 2.0, 3.0], requires_grad=True, dtype="float64")
    (x * x + x).sum().backward()  # d/dx (x^2 + x) = 2x + 1
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 5.0, 7.0])


def test_gradients_accumulate_across_backward_calls(backend: str) -> None:
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_leaf_grads_do_not_alias(backend: str) -> None:
    """add's VJP hands the same array to both inputs; the leaves must not share it."""
    a = tl.Tensor([1.0, 2.0], requires_grad=True)
    b = tl.Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.data[...] = 0
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_broadcasting_is_undone(backend: str) -> None:
    a = tl.Tensor(np.ones((2, 3, 4)), requires_grad=True)
    b = tl.Tensor(np.ones((3, 1)), requires_grad=True)
    c = tl.Tensor(np.ones(()), requires_grad=True)
    ((a * b + c) * 2).sum().backward()
    assert a.grad.shape == (2, 3, 4) and b.grad.shape == (3, 1) and c.grad.shape == ()
    np.testing.assert_allclose(b.grad.numpy(), np.full((3, 1), 16.0))
    np.testing.assert_allclose(c.grad.numpy(), 48.0)


def test_unbroadcast_directly() -> None:
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2)).reshape(3, 1))
    np.testing.assert_allclose(unbroadcast(g, (4,)), g.sum(axis=(0, 1)))
    assert unbroadcast(g, (2, 3, 4)) is g
    with pytest.raises(tl.ShapeError):
        unbroadcast(np.ones(3), (2, 3))


def test_requires_grad_propagates_and_no_grad_stops_it(backend: str) -> None:
    w = tl.Tensor([1.0], requires_grad=True)
    c = tl.Tensor([2.0])
    assert (w * c).requires_grad and not (c * c).requires_grad
    with tl.no_grad():
        y = w * c
        assert not tl.is_grad_enabled()
        with tl.enable_grad():
            assert (w * c).requires_grad
    assert tl.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf


def test_detach_cuts_the_graph(backend: str) -> None:
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = y.detach()
    assert not z.requires_grad and z.is_leaf
    (y.detach() * x).sum().backward()  # only the direct path from x counts
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 6.0])


def test_second_backward_needs_retain_graph(backend: str) -> None:
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    y = (x.tanh() * 2).sum()
    y.backward()
    with pytest.raises(tl.GraphFreedError, match=r"'(mul|sum)'.*retain_graph=True"):
        y.backward()
    x.grad = None
    y = (x.tanh() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    expected = 2 * 2 * (1 - np.tanh(np.array([1.0, 2.0])) ** 2)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_graph_is_freed_after_backward(backend: str) -> None:
    x = tl.Tensor([1.0], requires_grad=True)
    y = x.exp()
    loss = (y * 2).sum()
    loss.backward()
    assert loss._node.parents is None and y._node.parents is None


def test_backward_on_non_scalar_needs_a_gradient(backend: str) -> None:
    x = tl.Tensor(np.ones((3, 4)), requires_grad=True)
    y = x * 2
    with pytest.raises(tl.ShapeError, match=r"shape \(3, 4\) without a gradient"):
        y.backward()
    with pytest.raises(tl.ShapeError, match=r"gradient has shape \(4, 3\)"):
        y.backward(np.ones((4, 3)))
    y.backward(np.full((3, 4), 0.5))
    np.testing.assert_allclose(x.grad.numpy(), np.ones((3, 4)))


def test_backward_without_grad_is_an_error(backend: str) -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        tl.Tensor([1.0]).sum().backward()


def test_deep_graph_has_no_recursion_limit(backend: str) -> None:
    """A chain of 20,000 ops (a long unrolled sequence) backpropagates without recursion."""
    x = tl.Tensor([0.5], requires_grad=True, dtype="float64")
    y = x
    for _ in range(10_000):
        y = (y * 1.0001).tanh() + 0.0
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_unused_split_pieces_are_fine(backend: str) -> None:
    x = tl.Tensor(np.arange(6.0), requires_grad=True)
    a, b, c = x.chunk(3)
    (b * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, 2, 2, 0, 0])


def test_split_pieces_used_together_twice_and_nested(backend: str) -> None:
    """split is one node with several outputs: its VJP must see every piece's gradient."""
    x = tl.Tensor(np.linspace(-1, 1, 12).reshape(2, 6), dtype="float64", requires_grad=True)

    def f(x: tl.Tensor) -> tl.Tensor:
        a, b, c = x.split([1, 3, 2], axis=1)
        b1, b2 = b.split([2, 1], axis=1)  # a piece split again
        return tl.concat([a * c[:, :1], b1.tanh() * a, b2 * b2 * b2, c.sigmoid() + a], axis=1)

    assert tl.gradcheck(f, x)


def test_split_pieces_the_caller_dropped_get_no_gradient(backend: str) -> None:
    x = tl.Tensor(np.arange(6.0), dtype="float64", requires_grad=True)
    y = x.split(2)[1] * 3  # pieces 0 and 2 are garbage before backward runs
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, 3, 3, 0, 0])


def test_split_graph_retained_and_then_freed(backend: str) -> None:
    x = tl.Tensor(np.arange(4.0), dtype="float64", requires_grad=True)
    a, b = x.chunk(2)
    loss = (a * b).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([2.0, 3.0, 0.0, 1.0]))
    with pytest.raises(tl.GraphFreedError):
        loss.backward()


def test_weight_gradients_summed_over_many_steps(backend: str) -> None:
    """A weight read at many steps (lazy products), also read by an elementwise op (a dense
    gradient, mid-way) and by one tall product: every path, one sum."""
    rng = np.random.default_rng(5)
    w = tl.Tensor(rng.standard_normal((3, 4)) * 0.3, dtype="float64", requires_grad=True)
    xs = [tl.Tensor(rng.standard_normal((5, 3)), dtype="float64") for _ in range(40)]
    tall = tl.Tensor(rng.standard_normal((200, 3)), dtype="float64")

    def f(w: tl.Tensor) -> tl.Tensor:
        total = (tall @ w).tanh().sum()
        for k, x in enumerate(xs):
            total = total + (x @ w).tanh().sum()
            if k == 20:
                total = total + (w * w).sum()  # a gradient of another kind, mid-way
        return total

    assert tl.gradcheck(f, w)


def test_mixed_precision_gradient_comes_back_in_the_leaf_dtype(backend: str) -> None:
    w = tl.Tensor([1.0, 2.0], requires_grad=True)  # float32
    x = tl.Tensor([3.0, 4.0], dtype="float64")
    y = w * x
    assert y.dtype == np.float64  # like PyTorch: the wider dtype wins between tensors
    y.sum().backward()
    assert w.grad.dtype == np.float32


def test_tensors_hash_by_identity_as_the_tape_keys_them() -> None:
    """backward() keys gradients by the tensors themselves: equal values stay distinct keys."""
    a, b = tl.Tensor([1.0]), tl.Tensor([1.0])
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b" and len(table) == 2


def _blocks_primitive() -> tl.primitives.Primitive:
    """(a, b) -> (a + b): a VJP that returns its two gradients as views of one array it made,
    as the compiled layer returns its weight blocks (``fresh_grads``)."""
    def vjp(xp, g, out, a, b):
        both = xp.stack([g, 2 * g])  # made here, held by nobody else
        return both[0], both[1]

    return tl.primitives.Primitive("blocks", 2, lambda xp, a, b: a + b, vjp,
                                   lambda a, b: a + b, "test", fresh_grads=True)


def test_fresh_gradients_are_added_into_in_place_without_leaking() -> None:
    """A fresh gradient is the tape's to add into: a leaf that a second gradient reaches sums
    in place into its view, and the neighbouring view (another leaf's gradient) is untouched."""
    a = tl.Tensor([1.0, 2.0], requires_grad=True)
    b = tl.Tensor([3.0, 4.0], requires_grad=True)
    seven_a = a * 7.0  # made first, so its gradient reaches a after the fresh one
    out = tl.tensor.apply(_blocks_primitive(), a, b)
    (out * 5.0 + seven_a).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [12.0, 12.0])  # 5 + 7, summed in place
    np.testing.assert_array_equal(b.grad.numpy(), [10.0, 10.0])  # 2 * 5: not 2 * 5 + 7
    assert a.grad.data.base is b.grad.data.base  # no copies: the blocks of the VJP's array
    a.grad.data[:] = 0.0  # a leaf's gradient is its own: writing it leaves b's alone
    np.testing.assert_array_equal(b.grad.numpy(), [10.0, 10.0])


def test_a_parameters_gradient_is_a_plain_tensor() -> None:
    """As in PyTorch: p.grad is a Tensor, not a Parameter (a Parameter is what a module
    learns; a gradient assigned to a module attribute must not become one)."""
    p = tl.nn.Parameter(np.ones(3))
    (p * p).sum().backward()
    (p * p).sum().backward()  # accumulated: still a plain Tensor
    assert type(p.grad) is tl.Tensor
    np.testing.assert_array_equal(p.grad.numpy(), [4.0, 4.0, 4.0])
