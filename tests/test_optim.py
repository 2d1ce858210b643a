"""Optimisers, clipping and schedules: hand-computed updates, PyTorch parity, state dicts."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import optim
from tinygrad_lstm.nn import Parameter

RNG = np.random.default_rng(7)
SHAPES = [(3, 4), (4,)]


def _problem(steps: int,
             dtype: Any = np.float64) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Initial values for two parameters and a gradient for each of ``steps`` steps."""
    init = [RNG.normal(size=s).astype(dtype) for s in SHAPES]
    grads = [[RNG.normal(size=s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    return init, grads


def _params(init: list[np.ndarray]) -> list[Parameter]:
    return [Parameter(x.copy(), dtype=x.dtype) for x in init]


def _run(opt: optim.Optimizer, params: list[Parameter], grads: list[list[np.ndarray]]) -> None:
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad = tl.Tensor(g, dtype=p.dtype)
        opt.step()


# --- hand-computed updates -------------------------------------------------------------------

def _sgd_by_hand(x: np.ndarray, grads: list[np.ndarray], lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> np.ndarray:
    x = x.copy()
    buf = None
    for g in grads:
        g = g + weight_decay * x
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        x = x - lr * g
    return x


def _adam_by_hand(x: np.ndarray, grads: list[np.ndarray], lr: float, betas: tuple[float, float],
                  eps: float, weight_decay: float, decoupled: bool) -> np.ndarray:
    x = x.copy()
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    b1, b2 = betas
    for t, g in enumerate(grads, start=1):
        if decoupled:
            x = x * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        x = x - lr * m_hat / (np.sqrt(v_hat) + eps)
    return x


SGD_CASES = [
    {"lr": 0.1},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.25, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1},
]
ADAM_CASES = [
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-4, "weight_decay": 0.3}),
]


@pytest.mark.parametrize("kwargs", SGD_CASES)
def test_sgd_matches_hand_computed(backend: str, kwargs: dict[str, Any]) -> None:
    init, grads = _problem(4)
    params = _params(init)
    _run(optim.SGD(params, **kwargs), params, grads)
    for i, p in enumerate(params):
        expected = _sgd_by_hand(init[i], [g[i] for g in grads], **kwargs)
        np.testing.assert_allclose(p.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_sgd_first_steps_by_the_numbers(backend: str) -> None:
    w = Parameter(np.array([1.0]), dtype=tl.float64)
    opt = optim.SGD([w], lr=0.5, momentum=0.5)
    values = []
    for g in (2.0, 2.0, 2.0):
        w.grad = tl.Tensor([g], dtype=tl.float64)
        opt.step()
        values.append(w.item())
    # buf: 2, 0.5*2+2 = 3, 0.5*3+2 = 3.5; w: 1-1 = 0, 0-1.5, -1.5-1.75
    assert values == [0.0, -1.5, -3.25]


@pytest.mark.parametrize(("name", "kwargs"), ADAM_CASES)
def test_adam_matches_hand_computed(backend: str, name: str, kwargs: dict[str, Any]) -> None:
    init, grads = _problem(5)
    params = _params(init)
    opt = getattr(optim, name)(params, **kwargs)
    _run(opt, params, grads)
    full = {"betas": (0.9, 0.999), "eps": 1e-8,
            "weight_decay": 1e-2 if name == "AdamW" else 0.0, **kwargs}
    for i, p in enumerate(params):
        expected = _adam_by_hand(init[i], [g[i] for g in grads], decoupled=name == "AdamW",
                                 **full)
        np.testing.assert_allclose(p.numpy(), expected, rtol=1e-12, atol=1e-14)
    assert opt.state_dict()["state"][0]["step"] == 5


def test_updates_are_in_place_and_keep_dtype(backend: str) -> None:
    init, grads = _problem(2, dtype=np.float32)
    for make in (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.AdamW(ps)):
        params = _params(init)
        arrays = [p.data for p in params]
        _run(make(params), params, grads)
        assert all(p.data is a for p, a in zip(params, arrays, strict=True))
        assert all(p.dtype == np.float32 for p in params)
        assert not np.array_equal(params[0].numpy(), init[0])


def test_params_without_grad_are_skipped(backend: str) -> None:
    init, grads = _problem(1)
    params = _params(init)
    opt = optim.Adam(params, lr=0.1)
    params[0].grad = tl.Tensor(grads[0][0], dtype=tl.float64)
    opt.step()
    np.testing.assert_array_equal(params[1].numpy(), init[1])
    assert list(opt.state_dict()["state"]) == [0]


def test_zero_grad(backend: str) -> None:
    params = _params(_problem(0)[0])
    opt = optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = tl.Tensor(np.ones(p.shape), dtype=p.dtype)
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_runs_closure_with_grad() -> None:
    w = Parameter(np.array([2.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure() -> tl.Tensor:
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tl.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0
    assert w.item() == 1.0


def test_param_groups_and_lr_property() -> None:
    a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(AttributeError, match="different learning rates"):
        _ = opt.lr
    opt.lr = 0.2
    assert opt.lr == 0.2
    a.grad = tl.Tensor(np.ones(2))
    b.grad = tl.Tensor(np.ones(3))
    opt.step()
    assert a.numpy().tolist() == pytest.approx([0.8, 0.8])


def test_training_smoke(backend: str) -> None:
    """A linear regression fitted by Adam with mse_loss and clipping: the loss falls."""
    from tinygrad_lstm.nn.losses import mse_loss

    x = RNG.normal(size=(32, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    W = Parameter(np.zeros((3, 1)))
    b = Parameter(np.zeros(1))
    opt = optim.Adam([W, b], lr=0.1)
    sched = optim.CosineAnnealingLR(opt, T_max=100)
    xs = tl.Tensor(x)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = mse_loss(xs @ W + b, y)
        loss.backward()
        optim.clip_grad_norm_([W, b], max_norm=5.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-3 * losses[0]


# --- PyTorch parity --------------------------------------------------------------------------

TORCH_CASES = [("SGD", kw) for kw in SGD_CASES] + ADAM_CASES


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "kwargs"), TORCH_CASES)
def test_against_torch(name: str, kwargs: dict[str, Any], dtype: Any) -> None:
    torch = pytest.importorskip("torch")
    init, grads = _problem(5, dtype=dtype)
    params = _params(init)
    _run(getattr(optim, name)(params, **kwargs), params, grads)
    theirs = [torch.nn.Parameter(torch.tensor(x.copy())) for x in init]
    opt = getattr(torch.optim, name)(theirs, **kwargs)
    for step_grads in grads:
        for p, g in zip(theirs, step_grads, strict=True):
            p.grad = torch.tensor(g)
        opt.step()
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-15}
    for ours, t in zip(params, theirs, strict=True):
        np.testing.assert_allclose(ours.numpy(), t.detach().numpy(), **tol)


# --- clip_grad_norm_ -------------------------------------------------------------------------

def _with_grads(*grads: list[float]) -> list[Parameter]:
    params = []
    for g in grads:
        p = Parameter(np.zeros(len(g)), dtype=tl.float64)
        p.grad = tl.Tensor(g, dtype=tl.float64)
        params.append(p)
    return params


def test_clip_grad_norm_scales_to_max_norm(backend: str) -> None:
    params = _with_grads([3.0, 4.0], [12.0])  # norm sqrt(9 + 16 + 144) = 13
    total = optim.clip_grad_norm_(params, max_norm=6.5)
    assert isinstance(total, float) and total == 13.0
    coef = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(params[0].grad.numpy(), [3 * coef, 4 * coef], rtol=1e-15)
    np.testing.assert_allclose(params[1].grad.numpy(), [12 * coef], rtol=1e-15)


def test_clip_grad_norm_below_max_leaves_grads(backend: str) -> None:
    params = _with_grads([3.0, 4.0])
    params.append(Parameter(np.zeros(2)))  # no grad: skipped
    assert optim.clip_grad_norm_(params, max_norm=10.0) == 5.0
    assert params[0].grad.numpy().tolist() == [3.0, 4.0]
    assert params[1].grad is None
    assert optim.clip_grad_norm_([params[1]], max_norm=1.0) == 0.0


def test_clip_grad_norm_other_norms(backend: str) -> None:
    params = _with_grads([3.0, -4.0], [1.0])
    assert optim.clip_grad_norm_(params, 100.0, norm_type=math.inf) == 4.0
    assert optim.clip_grad_norm_(params, 100.0, norm_type=1) == pytest.approx(8.0)


def test_clip_grad_norm_nonfinite(backend: str) -> None:
    params = _with_grads([np.nan, 1.0], [2.0])
    assert math.isnan(optim.clip_grad_norm_(params, max_norm=1.0))
    assert np.all(np.isnan(params[0].grad.numpy())) and np.isnan(params[1].grad.item())
    params = _with_grads([np.inf, 1.0])
    assert optim.clip_grad_norm_(params, max_norm=1.0) == math.inf
    got = params[0].grad.numpy()  # scaled by max_norm / inf = 0, as PyTorch does
    assert np.isnan(got[0]) and got[1] == 0.0
    with pytest.raises(RuntimeError, match="non-finite|inf"):
        optim.clip_grad_norm_(_with_grads([np.inf]), max_norm=1.0, error_if_nonfinite=True)


def test_clip_grad_norm_against_torch() -> None:
    torch = pytest.importorskip("torch")
    grads = [RNG.normal(size=s).astype(np.float32) * 10 for s in SHAPES]
    params = [Parameter(np.zeros(g.shape)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = tl.Tensor(g)
    theirs = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for p, g in zip(theirs, grads, strict=True):
        p.grad = torch.tensor(g)
    ours_norm = optim.clip_grad_norm_(params, max_norm=1.0)
    their_norm = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.0).item()
    assert ours_norm == pytest.approx(their_norm, rel=1e-6)
    for p, t in zip(params, theirs, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-6)


# --- schedules -------------------------------------------------------------------------------

def _rates(make: Callable[[optim.Optimizer], optim.LRScheduler], steps: int,
           lr: float = 0.3) -> list[float]:
    opt = optim.SGD([Parameter(np.zeros(1))], lr=lr)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(sched.get_last_lr()[0])
        assert opt.param_groups[0]["lr"] == out[-1]
        opt.step()
        sched.step()
    return out


def test_step_lr_formula() -> None:
    got = _rates(lambda o: optim.StepLR(o, step_size=3, gamma=0.5), 10)
    np.testing.assert_allclose(got, [0.3 * 0.5 ** (t // 3) for t in range(10)], rtol=1e-14)


def test_cosine_formula() -> None:
    T, eta_min = 8, 0.01
    got = _rates(lambda o: optim.CosineAnnealingLR(o, T_max=T, eta_min=eta_min), 2 * T + 3)
    want = [eta_min + (0.3 - eta_min) * (1 + math.cos(math.pi * t / T)) / 2
            for t in range(2 * T + 3)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_linear_lr_and_warmup_formula() -> None:
    got = _rates(lambda o: optim.LinearLR(o, start_factor=0.25, end_factor=0.75,
                                          total_iters=4), 7)
    want = [0.3 * (0.25 + 0.5 * min(t, 4) / 4) for t in range(7)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    W = 5
    got = _rates(lambda o: optim.LinearWarmup(o, warmup_steps=W), 8)
    np.testing.assert_allclose(got, [0.3 * min(1.0, (k + 1) / W) for k in range(8)], rtol=1e-12)
    assert _rates(lambda o: optim.LinearWarmup(o, warmup_steps=1), 3) == [0.3] * 3


@pytest.mark.parametrize("which", ["step", "cosine", "linear", "warmup", "warmup+cosine"])
def test_schedules_against_torch(which: str) -> None:
    torch = pytest.importorskip("torch")
    L = torch.optim.lr_scheduler
    makers = {
        "step": (lambda o: [optim.StepLR(o, 4, 0.3)], lambda o: [L.StepLR(o, 4, 0.3)]),
        "cosine": (lambda o: [optim.CosineAnnealingLR(o, 6, 0.02)],
                   lambda o: [L.CosineAnnealingLR(o, 6, 0.02)]),
        "linear": (lambda o: [optim.LinearLR(o, 0.1, 0.9, 5)],
                   lambda o: [L.LinearLR(o, 0.1, 0.9, 5)]),
        "warmup": (lambda o: [optim.LinearWarmup(o, 4)], lambda o: [L.LinearLR(o, 0.25, 1.0, 3)]),
        "warmup+cosine": (
            lambda o: [optim.LinearWarmup(o, 3), optim.CosineAnnealingLR(o, 10)],
            lambda o: [L.LinearLR(o, 1 / 3, 1.0, 2), L.CosineAnnealingLR(o, 10)]),
    }
    ours_make, theirs_make = makers[which]
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.3)
    topt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    ours, theirs = ours_make(opt), theirs_make(topt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(25):
            assert opt.param_groups[0]["lr"] == topt.param_groups[0]["lr"]  # bit-identical
            opt.step()
            topt.step()
            for s in ours + theirs:
                s.step()


def test_scheduler_drives_every_group() -> None:
    a, b = Parameter(np.zeros(1)), Parameter(np.zeros(1))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    sched = optim.StepLR(opt, step_size=1, gamma=0.5)
    opt.step()
    sched.step()
    assert sched.get_last_lr() == [0.05, 0.5]


# --- state dicts -----------------------------------------------------------------------------

MAKERS: dict[str, Callable[[list[Parameter]], optim.Optimizer]] = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.01),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01, betas=(0.8, 0.95)),
}


@pytest.mark.parametrize("kind", list(MAKERS))
def test_state_dict_resume_is_bit_identical(backend: str, kind: str) -> None:
    init, grads = _problem(6, dtype=np.float32)
    make = MAKERS[kind]

    straight = _params(init)
    opt = make(straight)
    sched = optim.CosineAnnealingLR(opt, T_max=6)
    for step_grads in grads:
        _run(opt, straight, [step_grads])
        sched.step()

    first = _params(init)
    opt = make(first)
    sched = optim.CosineAnnealingLR(opt, T_max=6)
    for step_grads in grads[:3]:
        _run(opt, first, [step_grads])
        sched.step()
    saved_params = [p.numpy().copy() for p in first]
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    for entry in saved_opt["state"].values():
        assert all(isinstance(v, np.ndarray | int) for v in entry.values())

    resumed = [Parameter(x) for x in saved_params]
    opt = make(resumed)
    opt.load_state_dict(saved_opt)
    sched = optim.CosineAnnealingLR(opt, T_max=6)
    sched.load_state_dict(saved_sched)
    for step_grads in grads[3:]:
        _run(opt, resumed, [step_grads])
        sched.step()
    for a, b in zip(straight, resumed, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert opt.param_groups[0]["lr"] == sched.get_last_lr()[0]


def test_state_dict_is_a_copy(backend: str) -> None:
    init, grads = _problem(2)
    params = _params(init)
    opt = optim.Adam(params)
    _run(opt, params, grads[:1])
    saved = opt.state_dict()
    before = saved["state"][0]["exp_avg"].copy()
    _run(opt, params, grads[1:])
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"], before)
    opt.load_state_dict(saved)
    _run(opt, params, grads[1:])
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"], before)  # not aliased


def test_load_state_dict_errors_leave_optimiser_unchanged() -> None:
    params = _params(_problem(0)[0])
    opt = optim.Adam(params, lr=0.01)
    _run(opt, params, _problem(1)[1])
    good = opt.state_dict()

    bad_shape = opt.state_dict()
    bad_shape["state"][1]["exp_avg"] = np.zeros(5)
    bad_shape["param_groups"][0]["lr"] = 0.5
    with pytest.raises(tl.ShapeError, match=r"parameter 1's 'exp_avg' has shape \(5,\)"):
        opt.load_state_dict(bad_shape)
    assert opt.param_groups[0]["lr"] == 0.01

    sgd = optim.SGD(params, lr=0.1, momentum=0.9)
    with pytest.raises(KeyError, match=r"parameter 0 has state \['exp_avg'.*SGD keeps"):
        sgd.load_state_dict({"state": good["state"],
                             "param_groups": sgd.state_dict()["param_groups"]})
    with pytest.raises(KeyError, match="lacks hyper-parameters"):
        sgd.load_state_dict({"state": {}, "param_groups": good["param_groups"]})
    with pytest.raises(ValueError, match="group 0 has 1 parameters in the state, 2 here"):
        optim.Adam(params).load_state_dict(optim.Adam(params[:1]).state_dict())
    bad_beta = opt.state_dict()
    bad_beta["param_groups"][0]["betas"] = (0.9, 1.0)
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        opt.load_state_dict(bad_beta)


def test_module_cast_moves_state_buffers() -> None:
    p = Parameter(np.ones(3))
    opt = optim.Adam([p], lr=0.1)
    p.grad = tl.Tensor(np.ones(3))
    opt.step()
    p.data, p.grad = p.data.astype(np.float64), tl.Tensor(np.ones(3), dtype=tl.float64)
    opt.step()
    assert p.dtype == np.float64 and opt.state[p]["exp_avg"].dtype == np.float64


# --- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda ps: optim.SGD(ps, lr=-0.1), ValueError, r"SGD: lr must be >= 0"),
    (lambda ps: optim.SGD(ps, lr=True), TypeError, r"SGD: lr must be a real number"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-1), ValueError, r"SGD: momentum"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), ValueError, r"nesterov=True needs"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1e-4), ValueError, r"weight_decay"),
    (lambda ps: optim.Adam(ps, lr=float("nan")), ValueError, r"Adam: lr must be finite"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), ValueError,
     r"Adam: betas\[0\] must be in \[0.0, 1.0\), got 1.0"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), ValueError, r"Adam: betas\[1\]"),
    (lambda ps: optim.Adam(ps, betas=0.9), ValueError, r"Adam: betas must be a pair"),
    (lambda ps: optim.AdamW(ps, eps=-1.0), ValueError, r"AdamW: eps"),
    (lambda ps: optim.SGD([], lr=0.1), ValueError, r"SGD: got an empty parameter list"),
    (lambda ps: optim.Adam([tl.Tensor([1.0])]), TypeError, r"params\[0\] is a Tensor.*Param"),
    (lambda ps: optim.Adam([np.zeros(2)]), TypeError, r"params\[0\] is a ndarray"),
    (lambda ps: optim.Adam(ps[0]), TypeError, r"iterable of Parameters"),
    (lambda ps: optim.Adam(tl.nn.Linear(2, 2)), TypeError, r"model.parameters\(\)"),
    (lambda ps: optim.Adam(ps + ps[:1]), ValueError, r"params\[2\].*more than once"),
])
def test_hyperparameter_validation(make: Callable[[list[Parameter]], Any], error: type,
                                   match: str) -> None:
    with pytest.raises(error, match=match):
        make(_params(_problem(0)[0]))


@pytest.mark.parametrize(("make", "match"), [
    (lambda o: optim.StepLR(o, step_size=0), r"StepLR: step_size must be a positive int"),
    (lambda o: optim.StepLR(o, step_size=2, gamma=-0.5), r"StepLR: gamma"),
    (lambda o: optim.CosineAnnealingLR(o, T_max=0), r"CosineAnnealingLR: T_max"),
    (lambda o: optim.CosineAnnealingLR(o, T_max=3, eta_min=-1), r"eta_min"),
    (lambda o: optim.LinearLR(o, start_factor=0.0), r"LinearLR: start_factor"),
    (lambda o: optim.LinearWarmup(o, warmup_steps=0), r"LinearWarmup: warmup_steps"),
])
def test_scheduler_validation(make: Callable[[optim.Optimizer], Any], match: str) -> None:
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match=match):
        make(opt)
    with pytest.raises(TypeError, match="optimizer must be an Optimizer"):
        optim.StepLR("adam", step_size=1)  # type: ignore[arg-type]


def test_stepping_after_module_load_leaves_checkpoint_alone() -> None:
    """load_state_dict copies: an in-place optimiser step never writes into the caller's dict."""
    model = tl.nn.Linear(2, 2)
    checkpoint = {k: v.copy() for k, v in model.state_dict().items()}
    kept = {k: v.copy() for k, v in checkpoint.items()}
    model.load_state_dict(checkpoint)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(tl.Tensor(np.ones((1, 2)))).sum().backward()
    opt.step()
    for k in checkpoint:
        np.testing.assert_array_equal(checkpoint[k], kept[k])


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("make", [lambda p: optim.Adam(p, lr=0.01),
                                  lambda p: optim.SGD(p, lr=0.05, momentum=0.9)])
def test_a_copied_model_and_optimiser_keep_training_as_the_original(how: str, make) -> None:
    """The state is keyed by the Parameters themselves (as in PyTorch), so copying the model
    and its optimiser together keeps Adam's moments and step count, SGD's momentum. Keyed by
    id(param), the copy's state was silently empty: it trained as a fresh optimiser."""
    import copy
    import pickle

    tl.manual_seed(0)
    model = tl.nn.LSTM(2, 3)
    opt = make(model.parameters())
    x = tl.Tensor(np.random.default_rng(0).standard_normal((4, 2, 2)))

    def train(model, opt, steps: int) -> list[float]:
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            out, _ = model(x)
            loss = (out * out).sum()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    train(model, opt, 3)
    twin, twin_opt = (copy.deepcopy((model, opt)) if how == "deepcopy"
                      else pickle.loads(pickle.dumps((model, opt))))
    assert twin_opt.state_dict()["state"].keys() == opt.state_dict()["state"].keys() != set()
    assert all(p in twin_opt.state for p in twin.parameters())
    assert train(twin, twin_opt, 4) == train(model, opt, 4)
