"""The engine at its edges (issue 10): 0-d tensors, empty batches, boundary values, arrays
changed in place after the tape saved them, anomaly mode in backward, the arity check and
``clip_grad_norm_`` with an infinite bound. One test per example of the issue, then the kind:
the optimisers, clipping, ``zero_grad``, losses, Linear and the recurrent modules.
PyTorch is the oracle where it has the same thing (skipped where it is not installed).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tinygrad_lstm as tl
from tinygrad_lstm import optim
from tinygrad_lstm.tensor import apply
from tinygrad_lstm.versions import bump_version

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)


# --- 1. 0-d tensors ---------------------------------------------------------------------------

def test_a_0d_tensor_used_three_times_gets_gradient_3(backend: str) -> None:
    x = tl.Tensor(1.0, requires_grad=True)
    (x + x + x).backward()
    assert x.grad.shape == () and x.grad.item() == 3.0


@SETTINGS
@given(uses=st.integers(1, 6), shape=st.sampled_from([(), (1,), (2, 3)]),
       op=st.sampled_from(["add", "mul", "tanh"]))
def test_gradients_of_a_tensor_read_n_times_add_up(uses: int, shape: tuple, op: str) -> None:
    """sum over n reads of f(x) has gradient n f'(x), whatever the shape (0-d included)."""
    x = tl.Tensor(np.full(shape, 0.5), dtype="float64", requires_grad=True)
    f = {"add": lambda t: t + 0.0, "mul": lambda t: t * 2.0, "tanh": lambda t: t.tanh()}[op]
    total = f(x)
    for _ in range(uses - 1):
        total = total + f(x)
    total.sum().backward()
    slope = {"add": 1.0, "mul": 2.0, "tanh": 1 - math.tanh(0.5) ** 2}[op]
    np.testing.assert_allclose(x.grad.numpy(), np.full(shape, uses * slope), rtol=1e-12)


OPTIMISERS = {
    "SGD": (lambda ps: optim.SGD(ps, lr=0.1), lambda torch, ps: torch.optim.SGD(ps, lr=0.1)),
    "SGD-momentum-decay": (
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
        lambda torch, ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01,
                                          nesterov=True)),
    "Adam": (lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.01),
             lambda torch, ps: torch.optim.Adam(ps, lr=0.1, weight_decay=0.01)),
    "AdamW": (lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.1),
              lambda torch, ps: torch.optim.AdamW(ps, lr=0.1, weight_decay=0.1)),
}


@pytest.mark.parametrize("name", sorted(OPTIMISERS))
def test_optimisers_and_clipping_update_0d_and_empty_parameters_as_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch")
    make, make_torch = OPTIMISERS[name]
    start = [np.array(1.5), np.zeros((0, 3)), np.array([0.5, -2.0])]
    ours = [tl.nn.Parameter(v, dtype="float64") for v in start]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in start]
    opt, topt = make(ours), make_torch(torch, theirs)
    for _ in range(3):
        opt.zero_grad(set_to_none=False)
        topt.zero_grad(set_to_none=False)
        ((ours[0] * ours[0] * ours[2]).sum() + ours[1].sum() * 3).backward()
        ((theirs[0] * theirs[0] * theirs[2]).sum() + theirs[1].sum() * 3).backward()
        norm = optim.clip_grad_norm_(ours, 1.0)
        tnorm = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
        assert norm == pytest.approx(float(tnorm), rel=1e-12)
        opt.step()
        topt.step()
    for p, t in zip(ours, theirs, strict=True):
        assert p.shape == tuple(t.shape) and p.grad.shape == p.shape
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-12)
    opt.zero_grad(set_to_none=False)
    assert ours[0].grad.item() == 0.0 and ours[0].grad.shape == ()


# --- 2. size-0 dimensions -----------------------------------------------------------------

def test_an_empty_batch_through_matmul_gives_zero_weight_gradients(backend: str) -> None:
    W = tl.Tensor(np.ones((3, 4)), requires_grad=True)
    (tl.zeros((0, 3)) @ W).sum().backward()
    assert W.grad.shape == (3, 4) and W.grad.dtype == W.dtype
    np.testing.assert_array_equal(W.grad.numpy(), np.zeros((3, 4)))


def test_linear_and_losses_on_an_empty_batch_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    layer = tl.nn.Linear(3, 4, dtype="float64")
    tlayer = torch.nn.Linear(3, 4, dtype=torch.float64)
    x = tl.Tensor(np.zeros((0, 3)), dtype="float64", requires_grad=True)
    tx = torch.zeros((0, 3), dtype=torch.float64, requires_grad=True)
    logits, tlogits = layer(x), tlayer(tx)
    assert logits.shape == (0, 4)
    losses = tl.nn.losses
    cases = [
        (losses.mse_loss, F.mse_loss, np.zeros((0, 4))),
        (losses.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits,
         np.zeros((0, 4))),
        (losses.cross_entropy, F.cross_entropy, np.zeros(0, dtype=np.int64)),
    ]
    for ours, theirs, target in cases:
        for reduction in ("mean", "sum", "none"):
            loss = ours(logits, target, reduction=reduction)
            tloss = theirs(tlogits, torch.tensor(target) if target.dtype.kind == "i" else
                           torch.tensor(target, dtype=torch.float64), reduction=reduction)
            np.testing.assert_allclose(loss.numpy(), tloss.detach().numpy(), equal_nan=True)
            (loss if reduction != "none" else loss.sum()).backward(retain_graph=True)
    for p in layer.parameters():  # nothing reached them but zeros, by every path
        np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape))
    assert x.grad.shape == (0, 3)


def test_reductions_over_empty_axes_follow_pytorch() -> None:
    x = tl.zeros((0, 3))
    assert x.max(axis=1).shape == (0,) and x.sum(axis=0).numpy().tolist() == [0, 0, 0]
    assert np.isnan(x.mean().item())
    with pytest.raises(tl.ShapeError, match=r"^max: the tensor of shape \(0, 3\) is empty along "
                                            r"the axis 0 it would reduce$"):
        x.max(axis=0)  # PyTorch refuses too: a maximum of nothing has no value
    with pytest.raises(tl.ShapeError, match=r"^sum: axis 1 is out of range for a 0-d tensor"):
        tl.Tensor(1.0).sum(axis=1)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_recurrent_modules_run_an_empty_batch(cls: str, backend: str) -> None:
    rnn = getattr(tl.nn, cls)(3, 4, num_layers=2, bidirectional=True)
    x = tl.Tensor(np.zeros((5, 0, 3)), requires_grad=True)
    for lengths in (None, np.zeros(0, dtype=np.int64)):
        for p in rnn.parameters():
            p.grad = None
        out, state = rnn(x, lengths=lengths)
        assert out.shape == (5, 0, 8)
        states = state if isinstance(state, tuple) else (state,)
        assert all(s.shape == (4, 0, 4) for s in states)
        (out.sum() + sum(s.sum() for s in states)).backward()
        for p in rnn.parameters():
            np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape))


@pytest.mark.parametrize("name", sorted(tl.cells.available()))
def test_every_zoo_cell_runs_an_empty_batch(name: str) -> None:
    """Stacked, with and without lengths (the plan's and the masked paths): zero gradients."""
    for lengths in (None, np.zeros(0, dtype=np.int64)):
        rnn = tl.nn.Recurrent(tl.cells.create(name, 4, 4), num_layers=2)
        out, _ = rnn(tl.Tensor(np.zeros((3, 0, 4))), lengths=lengths)
        assert out.shape == (3, 0, 4)
        out.sum().backward()
        for p in rnn.parameters():
            np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape))


# --- 3. boundary values (the spec table checks every primitive; these are the examples) -----

def test_pow_0_at_0_has_gradient_0_and_no_warning(backend: str) -> None:
    x = tl.Tensor([0.0, 2.0, np.inf, np.nan], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(4))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's, for a true inf
def test_relu_and_maximum_select_rather_than_multiply(backend: str) -> None:
    x = tl.Tensor([-1.0, 2.0, np.nan], dtype="float64", requires_grad=True)
    x.relu().backward(np.array([np.inf, np.inf, 1.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, np.inf, 1.0])  # 0 * inf would be nan
    a = tl.Tensor([1.0, np.nan, 2.0], dtype="float64", requires_grad=True)
    b = tl.Tensor([3.0, 0.0, 2.0], dtype="float64", requires_grad=True)
    tl.maximum(a, b).backward(np.array([np.inf, 1.0, 4.0]))
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 1.0, 2.0])  # nan: both, as PyTorch
    np.testing.assert_array_equal(b.grad.numpy(), [np.inf, 1.0, 2.0])


_V = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan]
_PAIRS = np.array([[a, b] for a in _V for b in _V])  # every pair of boundary values


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's, for a true inf
@pytest.mark.parametrize("loss", ["mse_loss", "binary_cross_entropy_with_logits",
                                  "cross_entropy"])
def test_losses_at_boundary_values_match_pytorch(loss: str) -> None:
    torch = pytest.importorskip("torch")
    if loss == "cross_entropy":
        target = np.arange(len(_PAIRS)) % 2
        ttarget = torch.tensor(target)
    else:
        target = np.resize(np.array([0.0, 1.0, 0.5]), _PAIRS.shape)
        ttarget = torch.tensor(target)
    x = tl.Tensor(_PAIRS, dtype="float64", requires_grad=True)
    out = getattr(tl.nn.losses, loss)(x, target, reduction="none")
    out.sum().backward()
    tx = torch.tensor(_PAIRS, requires_grad=True)
    tout = getattr(torch.nn.functional, loss)(tx, ttarget, reduction="none")
    tout.sum().backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-300,
                               equal_nan=True)


def test_bce_with_logits_at_infinite_logits_is_finite_where_defined() -> None:
    """(1 - y) x + relu(-x) + log(1 + e^-|x|): no inf - inf at x = +inf (it was nan there;
    at x = -inf PyTorch's formula gives nan as well, and the test above holds us to it)."""
    x = tl.Tensor([np.inf, np.inf, 0.0], dtype="float64", requires_grad=True)
    y = np.array([0.0, 0.5, 0.25])
    loss = tl.nn.losses.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [np.inf, np.inf, math.log(2)])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.5, 0.25])  # sigmoid(x) - y


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's, for a true inf
def test_sqrt_at_signed_zero_as_pytorch(backend: str) -> None:
    x = tl.Tensor([0.0, -0.0], dtype="float64", requires_grad=True)
    y = x.sqrt()
    y.sum().backward()
    assert list(np.signbit(y.numpy())) == [False, True]
    np.testing.assert_array_equal(x.grad.numpy(), [np.inf, -np.inf])


# --- 6. arrays the tape saved, changed in place ------------------------------------------------

def test_an_optimiser_step_between_forward_and_backward_is_refused() -> None:
    w = tl.nn.Parameter(np.array([1.0, 2.0]))
    y = w * w * w
    y.sum().backward(retain_graph=True)
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match=r"^backward: input \d of 'mul' .*modified by an "
                                           r"inplace operation \(SGD\.step\).*version 1"):
        (2 * y).sum().backward()
    assert w._version == 1


@pytest.mark.parametrize("writer", ["Adam.step", "AdamW.step", "SGD.zero_grad",
                                    "clip_grad_norm_"])
def test_every_engine_writer_bumps_the_version(writer: str) -> None:
    w = tl.nn.Parameter(np.array([1.0, 2.0]))
    (w * w).sum().backward()
    opt = {"Adam.step": optim.Adam, "AdamW.step": optim.AdamW}.get(writer, optim.SGD)([w],
                                                                                     lr=0.1)
    target = w if writer.endswith(".step") else w.grad
    y = (w * target).sum()  # a graph that saved target's values
    if writer.endswith(".step"):
        opt.step()
    elif writer == "SGD.zero_grad":
        opt.zero_grad(set_to_none=False)
    else:
        optim.clip_grad_norm_([w], 0.1)
    assert target._version == 1
    with pytest.raises(RuntimeError, match=rf"modified by an inplace operation \({writer}"):
        y.backward()


WRITERS = {  # name: (what it writes, the call)
    "a.step": ("a", lambda t: optim.SGD([t["a"]], lr=0.1).step()),
    "b.step": ("b", lambda t: optim.SGD([t["b"]], lr=0.1).step()),
    "a.zero_grad": ("a.grad", lambda t: optim.SGD([t["a"]], lr=0.1).zero_grad(False)),
    "b.clip": ("b.grad", lambda t: optim.clip_grad_norm_([t["b"]], 1e-3)),
}


@SETTINGS
@given(used=st.sets(st.sampled_from(["a", "b", "a.grad", "b.grad"]), min_size=1),
       writes=st.lists(st.sampled_from(sorted(WRITERS)), max_size=3))
def test_backward_refuses_exactly_when_a_saved_tensor_was_written(used: set, writes: list) -> None:
    a, b, p = (tl.nn.Parameter(np.full(2, v), dtype="float64") for v in (1.0, 2.0, 3.0))
    a.grad, b.grad = (tl.Tensor([v, v], dtype="float64") for v in (0.5, 4.0))
    tensors = {"a": a, "b": b, "a.grad": a.grad, "b.grad": b.grad}
    y = sum((p * tensors[name]).sum() for name in sorted(used))  # p and `used` are saved
    expected = sum(tensors[name].numpy().copy() for name in used)
    for w in writes:
        WRITERS[w][1](tensors)
    if {WRITERS[w][0] for w in writes} & used:
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()
        assert p.grad is None
    else:
        y.backward()
        np.testing.assert_allclose(p.grad.numpy(), expected)


def test_no_false_alarms_in_a_training_loop() -> None:
    w = tl.nn.Parameter(np.array([1.0, 2.0]))
    opt = optim.Adam([w], lr=0.1)
    for _ in range(3):  # step after backward, forward after step: nothing stale
        opt.zero_grad()
        y = (w * w).sum()
        y.backward(retain_graph=True)
        y.backward()  # twice through the same graph: nothing was written in between
        opt.step()
    assert w._version == 3


def test_any_primitive_made_through_apply_is_checked() -> None:
    """A new primitive (a compiled layer, say) gets the check without doing anything."""
    cube = tl.Primitive("cube", 1, lambda xp, x: x ** 3,
                        lambda xp, g, out, x: (3 * g * x * x,), lambda x: x ** 3, "x^3")
    w = tl.nn.Parameter(np.array([1.0, 2.0]))
    y = apply(cube, w)
    bump_version(w, "my_writer")  # an in-place write, as any engine writer records it
    with pytest.raises(RuntimeError, match=r"input 0 of 'cube' .*\(my_writer\)"):
        y.sum().backward()
    z = apply(cube, w)  # made after the write: fine
    out = z.exp()
    bump_version(out, "out.add_")  # the output of a node, written after exp saved it
    with pytest.raises(RuntimeError, match=r"the output of 'exp' .*\(out\.add_\)"):
        out.sum().backward()


def test_a_detached_tensor_shares_the_version_counter() -> None:
    w = tl.nn.Parameter(np.array([1.0, 2.0]))
    x = tl.Tensor([3.0, 4.0], requires_grad=True)
    y = (x * w.detach()).sum()  # mul saved the detached tensor, whose array is w's
    bump_version(w, "w.add_")  # an in-place write, as an add_ method would record it
    assert w.detach()._version == 1
    with pytest.raises(RuntimeError, match=r"input 1 of 'mul' .*\(w\.add_\)"):
        y.backward()


def test_numpy_of_a_tensor_that_requires_grad_is_read_only() -> None:
    w = tl.nn.Parameter(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="read-only"):
        w.numpy()[0] = 5.0
    view = w.detach().numpy()  # the documented way to write, outside the tape's sight
    view[0] = 5.0
    assert w.numpy()[0] == 5.0
    c = tl.Tensor([1.0])
    c.numpy()[0] = 2.0  # a constant: writable, as PyTorch's .numpy()
    assert c.item() == 2.0


# --- 7. anomaly mode in backward ---------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's, for a true inf
def test_anomaly_mode_names_the_primitive_whose_backward_made_nan_or_inf() -> None:
    x = tl.Tensor([0.0, 3.0], requires_grad=True)
    with tl.detect_anomaly():
        y = ((x * x) ** 0.5).sum()
        with pytest.raises(FloatingPointError, match=r"^backward: the VJP of 'pow' returned inf "
                                                     r"in the gradient of its input 0"):
            y.backward()
    assert x.grad is None  # nothing was accumulated
    y.backward()  # outside anomaly mode: PyTorch's values (inf * 0 at 0), no error
    assert math.isnan(x.grad.numpy()[0]) and x.grad.numpy()[1] == pytest.approx(1.0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's, for a true inf
def test_anomaly_mode_skips_gradients_nobody_needs() -> None:
    frozen = tl.Tensor([[1.0], [1.0]])  # its gradient a^T g would overflow: never made
    a = tl.Tensor([[1e30, 1e30]], requires_grad=True)
    with tl.detect_anomaly():
        (a @ frozen).backward(np.array([[1e30]]))
    assert np.all(np.isfinite(a.grad.numpy()))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's, for a true inf
def test_anomaly_mode_checks_deferred_matmul_products() -> None:
    a = tl.Tensor([[1e30, 1e30]], requires_grad=True)
    w = tl.Tensor([[1e30], [1e30]], requires_grad=True)
    y = (a @ w)
    with tl.detect_anomaly(), pytest.raises(FloatingPointError, match="VJP of 'matmul'"):
        y.backward(np.array([[1e30]]))


# --- the arity check and clip_grad_norm_(inf) ---------------------------------------------------

def test_apply_checks_the_primitives_arity() -> None:
    x = tl.Tensor([1.0])
    with pytest.raises(TypeError, match=r"^tanh: takes 1 input, got 2$"):
        apply(tl.PRIMITIVES["tanh"], x, x)
    with pytest.raises(TypeError, match=r"^addmm: takes 3 inputs, got 2$"):
        apply(tl.PRIMITIVES["addmm"], x, x)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's, for a true inf
@pytest.mark.parametrize("max_norm", [math.inf, 1.0])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_matches_pytorch_with_infinite_bounds(max_norm: float,
                                                             norm_type: float) -> None:
    torch = pytest.importorskip("torch")
    for grad in ([3.0, 4.0], [np.inf, 1.0], [np.nan, 1.0], [1.0, np.nan], [0.0, 0.0]):
        w = tl.nn.Parameter(np.zeros(2), dtype="float64")
        w.grad = tl.Tensor(grad, dtype="float64")
        t = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        t.grad = torch.tensor(grad, dtype=torch.float64)
        norm = optim.clip_grad_norm_([w], max_norm, norm_type=norm_type)
        tnorm = float(torch.nn.utils.clip_grad_norm_([t], max_norm, norm_type=norm_type))
        np.testing.assert_allclose(norm, tnorm, rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(w.grad.numpy(), t.grad.numpy(), rtol=1e-12, equal_nan=True)


def test_clip_grad_norm_inf_measures_without_clipping() -> None:
    w = tl.nn.Parameter(np.zeros(2))
    w.grad = tl.Tensor([30.0, 40.0])
    assert optim.clip_grad_norm_([w], float("inf")) == 50.0
    np.testing.assert_array_equal(w.grad.numpy(), [30.0, 40.0])
    assert w.grad._version == 0  # not written


# --- property: broadcasting with empty and 0-d shapes, against PyTorch ------------------------

BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b}


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0,
                                            max_side=2),
       op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**16))
def test_broadcasting_with_empty_and_0d_shapes_matches_pytorch(shapes, op: str,
                                                               seed: int) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(0.5, 2.0, s) for s in shapes.input_shapes]
    xs = [tl.Tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = BINARY[op](*xs), BINARY[op](*ts)
    g = rng.standard_normal(shapes.result_shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12)
    for x, t in zip(xs, ts, strict=True):
        assert x.grad.shape == tuple(t.shape)
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-15)
