"""The engine is backend-neutral: its core runs on a backend whose arrays NumPy may not touch.

``strict_backend.StrictArray`` refuses implicit conversion, NumPy functions and ufuncs, as CuPy's
arrays do, so a stray ``np.`` call, ``isinstance(x, np.ndarray)`` branch or ``.get()`` in the
engine fails here, without a GPU. Every result is compared with the NumPy backend's.
(``TINYGRAD_LSTM_TEST_BACKENDS=strict pytest`` runs every backend-parametrised test on it too.)
"""

from __future__ import annotations

import numpy as np
import pytest
from primitive_specs import CASES, Case
from strict_backend import StrictArray, StrictConversionError

import backends
import tinygrad_lstm as tl

CASE_PARAMS = [pytest.param(case, id=case.id) for case in CASES]


def _both(fn, *args):
    """``fn`` run on the strict backend and on NumPy's: the two results, as NumPy arrays."""
    out = []
    for name in ("strict", "numpy"):
        with tl.use_backend(name):
            out.append(fn(*args))
    return out


def test_the_strict_backend_is_strict() -> None:
    x = backends.get("strict").asarray(np.ones((2, 3)))
    assert isinstance(x, StrictArray) and not isinstance(x, np.ndarray)
    for refused in (np.asarray, np.exp, lambda a: np.concatenate([a, a]), lambda a: a.get()):
        with pytest.raises((StrictConversionError, TypeError, AttributeError)):
            refused(x)
    assert isinstance(x.sum(), StrictArray)  # a 0-d array, never a NumPy scalar (as CuPy)


def test_a_backend_array_finds_its_backend() -> None:
    data = backends.get("strict").asarray(np.arange(6.0).reshape(2, 3))
    assert backends.owner(data).name == "strict" and backends.owner(np.ones(2)) is None
    t = tl.Tensor(data)  # made under the numpy backend: the array says where it lives
    assert t.backend.name == "strict" and isinstance(t.data, StrictArray)
    np.testing.assert_array_equal(backends.to_host(data), np.arange(6.0).reshape(2, 3))
    moved = tl.Tensor(data, requires_grad=True).to("numpy")
    (moved * 2).sum().backward()
    assert moved.backend.name == "numpy"


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_every_primitive_forward_and_backward(case: Case) -> None:
    def run(case: Case) -> list[np.ndarray]:
        tensors = [tl.Tensor(a, dtype="float64", requires_grad=True)
                   for a in case.inputs(np.random.default_rng(0))]
        out = case.call(*tensors)
        assert isinstance(out.data, StrictArray) == (tl.get_backend().name == "strict")
        (out * out).sum().backward()
        return [out.numpy()] + [t.grad.numpy() if t.grad is not None else None for t in tensors]

    strict, reference = _both(run, case)
    for got, want in zip(strict, reference, strict=True):
        if want is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", ["LSTM", "TorchGRU", "PeepholeLSTM", "RNN"])
def test_cells_forward_backward_on_the_tape(cell: str) -> None:
    def run(cell: str) -> list[np.ndarray]:
        tl.manual_seed(0)
        rnn = tl.nn.Recurrent(getattr(tl.cells, cell)(3, 4, dtype="float64"), num_layers=2,
                              bidirectional=True)
        xs = tl.Tensor(np.linspace(-1, 1, 5 * 2 * 3).reshape(5, 2, 3), dtype="float64",
                       requires_grad=True)
        out, _ = rnn(xs, lengths=[5, 3])
        (out * out).sum().backward()
        return [out.numpy(), xs.grad.numpy(), *(p.grad.numpy() for p in rnn.parameters())]

    for got, want in zip(*_both(run, cell), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_anomaly_mode_and_a_gradient_check() -> None:
    with tl.use_backend("strict"):
        with tl.detect_anomaly(), pytest.raises(FloatingPointError, match="log"), \
                np.errstate(invalid="ignore"):
            tl.Tensor([1.0, -1.0]).log()
        w = tl.Tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype="float64", requires_grad=True)
        x = tl.Tensor(np.ones((4, 2)), dtype="float64")
        assert tl.gradcheck(lambda w: ((x @ w).tanh() ** 2).sum(), w)


@pytest.mark.parametrize("optimiser", ["SGD", "Adam"])
def test_training_steps_and_moving_optimiser_state(optimiser: str) -> None:
    """A short training (LSTM, a linear head, a loss, clipping, an optimiser) matches NumPy's;
    the optimiser's state follows its parameters to another backend (``Module.to``)."""
    def run(optimiser: str) -> list[np.ndarray]:
        tl.manual_seed(0)
        rnn = tl.nn.LSTM(3, 4)
        head = tl.nn.Linear(4, 2)
        params = [*rnn.parameters(), *head.parameters()]
        kwargs = {"momentum": 0.9} if optimiser == "SGD" else {}
        opt = getattr(tl.optim, optimiser)(params, lr=0.05, **kwargs)
        xs = tl.Tensor(np.sin(np.arange(5 * 2 * 3.0)).reshape(5, 2, 3))
        target = np.array([0, 1])
        losses = []
        for _ in range(3):
            opt.zero_grad()
            out, _ = rnn(xs)
            loss = tl.nn.cross_entropy(head(out[-1]), target)
            loss.backward()
            tl.optim.clip_grad_norm_(params, 1.0)
            opt.step()
            losses.append(loss.item())
        with tl.use_backend("numpy"):
            rnn.to("numpy")
            head.to("numpy")
            opt.zero_grad()
            out, _ = rnn(tl.Tensor(xs.numpy()))
            out.sum().backward()
            opt.step()  # its state made on the first backend, now used on NumPy's
        return [np.array(losses), *(p.numpy() for p in params)]

    for got, want in zip(*_both(run, optimiser), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


class _BiaslessGate(tl.Cell):
    """A gate without a bias beside one with: the plan stacks zeros for the missing bias."""

    state = ("h",)

    def step(self, x: tl.Tensor, h: tl.Tensor) -> tuple[tl.Tensor]:
        a = self.gate("a", h, x, bias=False).sigmoid()
        return (a * self.gate("n", h, x).tanh() + (1 - a) * h,)


@pytest.mark.parametrize("make", [
    lambda: tl.nn.Recurrent(tl.cells.LSTM(3, 4)),
    lambda: tl.nn.Recurrent(tl.cells.create("greff-fgr", 3, 4, forget_gate=False), num_layers=2),
    lambda: tl.nn.Recurrent(tl.cells.create("depth-gated-lstm", 3, 4), num_layers=2),
    lambda: tl.nn.Recurrent(_BiaslessGate(3, 4)),
    lambda: tl.nn.LSTM(3, 4, num_layers=2, bidirectional=True),
    lambda: tl.nn.GRU(3, 4),
    lambda: tl.nn.LSTMCell(3, 4),
    lambda: tl.cells.LSTM(3, 4),
], ids=["recurrent-lstm", "greff-fgr-no-forget-gate", "depth-gated", "biasless-gate",
        "nn.LSTM", "nn.GRU", "nn.LSTMCell", "cell"])
def test_a_model_moved_to_a_backend_runs_there_whatever_the_current_one(make) -> None:
    """As PyTorch makes h_0 on the input's device: a model moved with ``.to("strict")`` and
    given strict inputs runs there, its zero states and constants included, while the current
    backend stays NumPy's. (They used to be made on the current backend: a mismatch error.)"""
    assert tl.get_backend().name == "numpy"
    tl.manual_seed(0)
    model = make()
    model.to("strict")
    one_step = isinstance(model, tl.nn.LSTMCell | tl.Cell)
    shape = (2, 3) if one_step else (5, 2, 3)
    x = tl.Tensor(np.sin(np.arange(np.prod(shape), dtype=np.float32)).reshape(shape),
                  backend="strict", requires_grad=True)
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    assert out.backend.name == "strict" and isinstance(out.data, StrictArray)
    out.sum().backward()
    assert x.grad is not None and x.grad.backend.name == "strict"
    assert all(p.grad is not None and p.grad.backend.name == "strict"
               for p in model.parameters())
