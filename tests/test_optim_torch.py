"""RMSprop, Adagrad, LBFGS, SGD's positional momentum, ExponentialLR, ReduceLROnPlateau and
clip_grad_value_, each against torch.optim on the same problem from the same weights: the
trajectories agree to float64 rounding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_lstm as tl

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((8, 4))
Y = RNG.standard_normal((8, 3))
W0 = RNG.standard_normal((3, 4)) * 0.5
B0 = RNG.standard_normal(3) * 0.1


def _problem() -> tuple[list[Any], Callable[[], Any], list[Any], Callable[[], Any]]:
    """A small nonlinear least-squares fit, in both frameworks, from the same weights."""
    w = tl.nn.Parameter(W0, dtype="float64")
    b = tl.nn.Parameter(B0, dtype="float64")
    x, y = tl.Tensor(X, dtype="float64"), tl.Tensor(Y, dtype="float64")
    tw = torch.tensor(W0, requires_grad=True)
    tb = torch.tensor(B0, requires_grad=True)
    tx, ty = torch.tensor(X), torch.tensor(Y)

    def loss() -> tl.Tensor:
        return (((x @ w.T + b).tanh() - y) ** 2).mean()

    def t_loss() -> Any:
        return ((torch.tanh(tx @ tw.T + tb) - ty) ** 2).mean()

    return [w, b], loss, [tw, tb], t_loss


def _close(ours: list[Any], theirs: list[Any], rtol: float = 1e-10) -> None:
    for p, tp in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=rtol, atol=1e-13)


def _run_both(make: Callable[[list[Any]], Any], make_torch: Callable[[list[Any]], Any],
              steps: int = 25) -> None:
    params, loss, t_params, t_loss = _problem()
    opt, t_opt = make(params), make_torch(t_params)
    for _ in range(steps):
        opt.zero_grad()
        loss().backward()
        opt.step()
        t_opt.zero_grad()
        t_loss().backward()
        t_opt.step()
        _close(params, t_params)
    moved = np.abs(params[0].numpy() - W0).max()
    assert moved > 1e-3  # the optimiser did move the weights


RMSPROP = [
    {},
    {"alpha": 0.9, "eps": 1e-6},
    {"momentum": 0.9},
    {"centered": True},
    {"centered": True, "momentum": 0.5, "weight_decay": 0.01},
]


@pytest.mark.parametrize("options", RMSPROP, ids=[str(o) for o in RMSPROP])
def test_rmsprop_follows_torch(options: dict[str, Any]) -> None:
    _run_both(lambda ps: tl.optim.RMSprop(ps, lr=0.01, **options),
              lambda ps: torch.optim.RMSprop(ps, lr=0.01, **options))


ADAGRAD = [{}, {"lr_decay": 0.05, "weight_decay": 0.1}, {"initial_accumulator_value": 0.3,
                                                          "eps": 1e-6}]


@pytest.mark.parametrize("options", ADAGRAD, ids=[str(o) for o in ADAGRAD])
def test_adagrad_follows_torch(options: dict[str, Any]) -> None:
    _run_both(lambda ps: tl.optim.Adagrad(ps, lr=0.1, **options),
              lambda ps: torch.optim.Adagrad(ps, lr=0.1, **options))


ADAM = [("Adam", {"amsgrad": True}), ("Adam", {"amsgrad": True, "weight_decay": 0.05}),
        ("AdamW", {"amsgrad": True}), ("AdamW", {"amsgrad": True, "betas": (0.8, 0.9)})]


@pytest.mark.parametrize(("name", "options"), ADAM, ids=[f"{n}{o}" for n, o in ADAM])
def test_amsgrad_follows_torch(name: str, options: dict[str, Any]) -> None:
    _run_both(lambda ps: getattr(tl.optim, name)(ps, lr=0.05, **options),
              lambda ps: getattr(torch.optim, name)(ps, lr=0.05, **options), steps=40)


def test_amsgrad_state_saves_and_loads_and_old_states_load_as_off() -> None:
    params, loss, _, _ = _problem()
    opt = tl.optim.Adam(params, lr=0.05, amsgrad=True)
    for _ in range(3):
        opt.zero_grad()
        loss().backward()
        opt.step()
    saved = opt.state_dict()
    assert set(saved["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    again = tl.optim.Adam(params, amsgrad=True)
    again.load_state_dict(saved)
    np.testing.assert_array_equal(again.state[params[0]]["max_exp_avg_sq"],
                                  opt.state[params[0]]["max_exp_avg_sq"])
    older = tl.optim.Adam(params).state_dict()  # as saved before amsgrad existed
    del older["param_groups"][0]["amsgrad"]
    plain = tl.optim.Adam(params, amsgrad=True)
    plain.load_state_dict(older)
    assert plain.param_groups[0]["amsgrad"] is False
    with pytest.raises(TypeError, match=r"^Adam: amsgrad must be True or False, got 1$"):
        tl.optim.Adam(params, amsgrad=1)


def test_sgd_and_adam_default_lr_as_torch() -> None:
    _run_both(lambda ps: tl.optim.SGD(ps, momentum=0.9),
              lambda ps: torch.optim.SGD(ps, momentum=0.9), steps=60)
    _run_both(lambda ps: tl.optim.Adam(ps), lambda ps: torch.optim.Adam(ps), steps=60)
    for name in ("SGD", "Adam", "AdamW"):
        assert getattr(tl.optim, name)([tl.nn.Parameter(np.ones(1))]).param_groups[0]["lr"] == \
            getattr(torch.optim, name)([torch.ones(1, requires_grad=True)]).param_groups[0]["lr"]


def test_sgd_takes_momentum_positionally_in_torchs_order() -> None:
    _run_both(lambda ps: tl.optim.SGD(ps, 0.1, 0.9, 0.1, 0.01),
              lambda ps: torch.optim.SGD(ps, 0.1, 0.9, 0.1, 0.01))


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_follows_torch(line_search: str | None) -> None:
    params, loss, t_params, t_loss = _problem()
    opt = tl.optim.LBFGS(params, lr=0.5 if line_search is None else 1.0, max_iter=7,
                         history_size=4, line_search_fn=line_search)
    t_opt = torch.optim.LBFGS(t_params, lr=0.5 if line_search is None else 1.0, max_iter=7,
                              history_size=4, line_search_fn=line_search)
    evals, t_evals = [0], [0]

    def closure() -> tl.Tensor:
        evals[0] += 1
        opt.zero_grad()
        value = loss()
        value.backward()
        return value

    def t_closure() -> Any:
        t_evals[0] += 1
        t_opt.zero_grad()
        value = t_loss()
        value.backward()
        return value

    first = loss().item()
    for _ in range(5):
        returned = opt.step(closure)
        t_returned = t_opt.step(t_closure)
        np.testing.assert_allclose(float(returned), t_returned.item(), rtol=1e-10)
        _close(params, t_params, rtol=1e-8)
        assert evals == t_evals  # the same decisions: the same number of evaluations
    assert loss().item() < 0.5 * first
    t_state = t_opt.state[t_params[0]]
    assert opt._lbfgs["n_iter"] == t_state["n_iter"]
    assert opt._lbfgs["func_evals"] == t_state["func_evals"]


def test_lbfgs_reaches_the_minimum_of_a_quadratic_and_checks_its_input() -> None:
    a = tl.Tensor(np.diag([1.0, 10.0, 100.0]), dtype="float64")
    target = tl.Tensor([1.0, -2.0, 3.0], dtype="float64")
    w = tl.nn.Parameter(np.zeros(3), dtype="float64")
    opt = tl.optim.LBFGS([w], line_search_fn="strong_wolfe", tolerance_grad=1e-12)

    def closure() -> tl.Tensor:
        opt.zero_grad()
        r = w - target
        value = (r * (a @ r)).sum()
        value.backward()
        return value

    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(w.numpy(), [1.0, -2.0, 3.0], atol=1e-6)
    saved = opt.state_dict()
    again = tl.optim.LBFGS([w], line_search_fn="strong_wolfe", tolerance_grad=1e-12)
    again.load_state_dict(saved)
    assert again._lbfgs["n_iter"] == opt._lbfgs["n_iter"]
    with pytest.raises(TypeError, match="LBFGS.step: needs a closure"):
        opt.step()
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        tl.optim.LBFGS([w], line_search_fn="backtracking")


def _lr_sequences(make: Callable[[Any], Any], make_torch: Callable[[Any], Any],
                  metrics: list[float] | None, steps: int = 30) -> None:
    opt = tl.optim.SGD([tl.nn.Parameter(np.zeros(1))], lr=0.5)
    t_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    sched, t_sched = make(opt), make_torch(t_opt)
    for k in range(steps):
        opt.step()
        t_opt.step()
        if metrics is None:
            sched.step()
            t_sched.step()
        else:
            sched.step(metrics[k])
            t_sched.step(metrics[k])
        assert sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-14)
        assert opt.param_groups[0]["lr"] == pytest.approx(t_opt.param_groups[0]["lr"],
                                                          rel=1e-14)


def test_exponential_lr_follows_torch() -> None:
    _lr_sequences(lambda o: tl.optim.ExponentialLR(o, gamma=0.9),
                  lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9), None)


PLATEAU = [
    {},
    {"mode": "max", "patience": 2, "factor": 0.5},
    {"patience": 1, "cooldown": 2, "threshold_mode": "abs", "threshold": 0.05, "min_lr": 0.02},
]


@pytest.mark.parametrize("options", PLATEAU, ids=[str(o) for o in PLATEAU])
def test_reduce_lr_on_plateau_follows_torch(options: dict[str, Any]) -> None:
    rng = np.random.default_rng(1)
    metrics = list(np.round(np.maximum.accumulate(rng.uniform(0, 1, 40))[::-1]
                            + rng.uniform(0, 0.03, 40), 3))
    _lr_sequences(lambda o: tl.optim.ReduceLROnPlateau(o, **options),
                  lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **options),
                  metrics, steps=40)


def test_reduce_lr_on_plateau_state_round_trips() -> None:
    opt = tl.optim.SGD([tl.nn.Parameter(np.zeros(1))], lr=1.0)
    sched = tl.optim.ReduceLROnPlateau(opt, patience=0)
    for value in (1.0, 2.0, 3.0):
        sched.step(value)
    other = tl.optim.ReduceLROnPlateau(opt, patience=0)
    other.load_state_dict(sched.state_dict())
    assert other.best == 1.0 and other.get_last_lr() == sched.get_last_lr()
    assert sched.get_last_lr() == pytest.approx([0.01], rel=1e-12)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        tl.optim.ReduceLROnPlateau(opt, mode="lowest")


def test_clip_grad_value_matches_torch() -> None:
    g = np.array([[-3.0, 0.2], [0.7, 9.0]])
    w = tl.nn.Parameter(np.zeros((2, 2)), dtype="float64")
    tw = torch.zeros((2, 2), dtype=torch.float64, requires_grad=True)
    (w * tl.Tensor(g, dtype="float64")).sum().backward()
    (tw * torch.tensor(g)).sum().backward()
    tl.optim.clip_grad_value_([w], 0.5)
    torch.nn.utils.clip_grad_value_([tw], 0.5)
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        tl.optim.clip_grad_value_([w], -1.0)


def test_rmsprop_state_round_trips_and_refuses_a_foreign_state() -> None:
    params, loss, _, _ = _problem()
    opt = tl.optim.RMSprop(params, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        loss().backward()
        opt.step()
    saved = opt.state_dict()
    assert set(saved["state"][0]) == {"step", "square_avg", "momentum_buffer"}
    again = tl.optim.RMSprop(params, momentum=0.9)
    again.load_state_dict(saved)
    np.testing.assert_array_equal(again.state[params[0]]["momentum_buffer"],
                                  opt.state[params[0]]["momentum_buffer"])
    adam_state = tl.optim.Adam(params).state_dict()
    with pytest.raises(KeyError):
        again.load_state_dict(adam_state)


@pytest.mark.parametrize("make", [
    lambda ps: tl.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    lambda ps: tl.optim.Adagrad(ps, lr=0.1),
    lambda ps: tl.optim.LBFGS(ps, line_search_fn="strong_wolfe"),
], ids=["rmsprop", "adagrad", "lbfgs"])
def test_new_optimisers_lower_the_loss_on_every_backend(make, backend: str) -> None:
    w = tl.nn.Parameter(W0, dtype="float32")
    x, y = tl.Tensor(X), tl.Tensor(Y)
    opt = make([w])

    def closure() -> tl.Tensor:
        opt.zero_grad()
        loss = (((x @ w.T).tanh() - y) ** 2).mean()
        loss.backward()
        return loss

    first = closure().item()
    for _ in range(5):
        opt.step(closure)
    assert w.backend.name == backend and w.dtype == np.float32
    assert closure().item() < first
