"""Learning-rate schedules with PyTorch's formulas: StepLR, CosineAnnealingLR, LinearLR,
LinearWarmup, ExponentialLR, and ReduceLROnPlateau (stepped with a metric). They are also
importable from ``tinygrad_lstm.optim``.

>>> import numpy as np, tinygrad_lstm as tl
>>> opt = tl.optim.SGD([tl.nn.Parameter(np.zeros(1))], lr=1.0)
>>> warmup = tl.optim.LinearWarmup(opt, warmup_steps=4)
>>> rates = []
>>> for _ in range(5):
...     rates.append(round(warmup.get_last_lr()[0], 2))
...     warmup.step()
>>> rates
[0.25, 0.5, 0.75, 1.0, 1.0]
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from tinygrad_lstm.checks import check_int, check_real
from tinygrad_lstm.optimizer import Optimizer

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LinearLR", "LinearWarmup",
           "ReduceLROnPlateau", "StepLR"]


class _SchedulerState:
    """What every schedule shares: the last rates, and its state without the optimiser."""

    optimizer: Any
    _last_lr: list[float]

    def get_last_lr(self) -> list[float]:
        """The rates after the last ``step()``, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimiser (which has its own ``state_dict``)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore ``state_dict()``'s output (the optimiser's rates come from its own state)."""
        own = set(self.state_dict())
        keys = set(state_dict)
        if keys != own:
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing keys "
                           f"{sorted(own - keys)}, unexpected keys {sorted(keys - own)}")
        self._check_state(state_dict)
        self.__dict__.update(copy.deepcopy(dict(state_dict)))

    def _check_state(self, state_dict: Mapping[str, Any]) -> None:
        """A subclass's own checks of a state before it is loaded."""


class LRScheduler(_SchedulerState):
    """Base class of the schedules: PyTorch's ``LRScheduler`` protocol, chainable form.

    Construction records each group's ``initial_lr`` (kept if already there: schedules stack)
    and takes the first ``step()`` (``last_epoch`` becomes 0). Call ``step()`` after each
    ``optimizer.step()`` (or once per epoch); it sets every group's ``lr``. ``get_lr()`` computes
    the next rates from the current ones, as PyTorch does, so two schedulers stepped together
    compose multiplicatively (e.g. ``LinearWarmup`` with ``CosineAnnealingLR``).
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: optimizer must be an Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates for ``last_epoch`` (already advanced), one per group."""
        raise NotImplementedError

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self) -> None:
        """Advance one epoch/step and write the new rates into the optimiser's groups."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = self._current()

    def _check_state(self, state_dict: Mapping[str, Any]) -> None:
        if len(state_dict["base_lrs"]) != len(self.optimizer.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state has "
                             f"{len(state_dict['base_lrs'])} groups, the optimiser "
                             f"{len(self.optimizer.param_groups)}")

class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` steps:
    ``lr = base_lr * gamma ** (last_epoch // step_size)``.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> from tinygrad_lstm import optim
    >>> opt = optim.SGD([tl.nn.Parameter(np.zeros(1))], lr=1.0)
    >>> sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    >>> rates = []
    >>> for _ in range(5):
    ...     rates.append(sched.get_last_lr()[0]); opt.step(); sched.step()
    >>> rates
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = check_int("StepLR", "step_size", step_size)
        self.gamma = check_real("StepLR", "gamma", gamma, 0.0)
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class CosineAnnealingLR(LRScheduler):
    """Cosine decay from ``base_lr`` to ``eta_min`` over ``T_max`` steps (then back up, as
    PyTorch does if stepped past ``T_max``):
    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * last_epoch / T_max)) / 2``.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> from tinygrad_lstm import optim
    >>> opt = optim.SGD([tl.nn.Parameter(np.zeros(1))], lr=1.0)
    >>> sched = optim.CosineAnnealingLR(opt, T_max=4)
    >>> for _ in range(2):
    ...     opt.step(); sched.step()
    >>> round(sched.get_last_lr()[0], 12)
    0.5
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = check_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = check_real("CosineAnnealingLR", "eta_min", eta_min, 0.0)
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        current = self._current()
        if self._is_initial:
            return current
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, current, strict=True)]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
                * (lr - eta_min) + eta_min for lr in current]


class LinearLR(LRScheduler):
    """Scale the rate by a factor going linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` steps, then constant:
    ``lr = base_lr * (start + (end - start) * min(last_epoch, total_iters) / total_iters)``.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> from tinygrad_lstm import optim
    >>> opt = optim.SGD([tl.nn.Parameter(np.zeros(1))], lr=1.0)
    >>> sched = optim.LinearLR(opt, start_factor=0.5, total_iters=2)
    >>> sched.get_last_lr()
    [0.5]
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5) -> None:
        name = type(self).__name__
        self.start_factor = check_real(name, "start_factor", start_factor)
        self.end_factor = check_real(name, "end_factor", end_factor)
        if not 0 < self.start_factor <= 1:
            raise ValueError(f"{name}: start_factor must be in (0, 1], got {self.start_factor}")
        if not 0 <= self.end_factor <= 1:
            raise ValueError(f"{name}: end_factor must be in [0, 1], got {self.end_factor}")
        self.total_iters = check_int(name, "total_iters", total_iters, minimum=0)
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        current = self._current()
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in current]
        if self._is_initial or self.last_epoch > self.total_iters:
            return current
        start, end = self.start_factor, self.end_factor
        ratio = 1.0 + (end - start) / (self.total_iters * start
                                       + (self.last_epoch - 1) * (end - start))
        return [lr * ratio for lr in current]


class LinearWarmup(LinearLR):
    """Linear warmup over ``warmup_steps`` optimiser steps, then the base rate.

    The ``k``-th optimiser step (``k = 1, 2, ...``) runs at ``base_lr * min(1, k / warmup_steps)``:
    PyTorch's ``LinearLR(start_factor=1/warmup_steps, end_factor=1, total_iters=warmup_steps-1)``.
    Stepped together with ``CosineAnnealingLR`` on the same optimiser, the two multiply.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> from tinygrad_lstm import optim
    >>> opt = optim.SGD([tl.nn.Parameter(np.zeros(1))], lr=1.0)
    >>> sched = optim.LinearWarmup(opt, warmup_steps=4)
    >>> rates = []
    >>> for _ in range(6):
    ...     rates.append(round(sched.get_last_lr()[0], 12)); opt.step(); sched.step()
    >>> rates
    [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int) -> None:
        self.warmup_steps = check_int("LinearWarmup", "warmup_steps", warmup_steps)
        super().__init__(optimizer, start_factor=1.0 / self.warmup_steps, end_factor=1.0,
                         total_iters=self.warmup_steps - 1)


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every step: ``lr = base_lr * gamma ** last_epoch``.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> opt = tl.optim.SGD([tl.nn.Parameter(np.zeros(1))], lr=1.0)
    >>> sched = tl.optim.ExponentialLR(opt, gamma=0.5)
    >>> rates = []
    >>> for _ in range(3):
    ...     rates.append(sched.get_last_lr()[0]); opt.step(); sched.step()
    >>> rates
    [1.0, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        self.gamma = check_real("ExponentialLR", "gamma", gamma, 0.0)
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class ReduceLROnPlateau(_SchedulerState):
    """Multiply the rate by ``factor`` when a metric has stopped improving, as PyTorch's.

    ``step(metric)`` after each evaluation. In ``mode="min"`` a value improves on the best so
    far when it is below ``best * (1 - threshold)`` (``threshold_mode="rel"``) or
    ``best - threshold`` (``"abs"``); ``"max"`` mirrors that. After more than ``patience``
    evaluations without improvement every group's rate becomes ``max(lr * factor, min_lr)``
    (changes smaller than ``eps`` are skipped), then ``cooldown`` evaluations pass before
    counting again.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> opt = tl.optim.SGD([tl.nn.Parameter(np.zeros(1))], lr=1.0)
    >>> sched = tl.optim.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
    ...     sched.step(loss)
    >>> sched.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | list[float] = 0.0,
                 eps: float = 1e-8) -> None:
        name = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: optimizer must be an Optimizer, got "
                            f"{type(optimizer).__name__}")
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        self.factor = check_real(name, "factor", factor, 0.0, high=1.0, open_high=True)
        groups = optimizer.param_groups
        floors = list(min_lr) if isinstance(min_lr, list | tuple) else [min_lr] * len(groups)
        if len(floors) != len(groups):
            raise ValueError(f"{name}: min_lr has {len(floors)} entries for {len(groups)} "
                             "parameter groups")
        self.optimizer = optimizer
        self.min_lrs = [check_real(name, "min_lr", v, 0.0) for v in floors]
        self.mode, self.threshold_mode = mode, threshold_mode
        self.patience = check_int(name, "patience", patience, minimum=0)
        self.cooldown = check_int(name, "cooldown", cooldown, minimum=0)
        self.threshold = check_real(name, "threshold", threshold, 0.0)
        self.eps = check_real(name, "eps", eps, 0.0)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in groups]

    def _better(self, value: float) -> bool:
        if self.mode == "min":
            bar = self.best * (1 - self.threshold) if self.threshold_mode == "rel" \
                else self.best - self.threshold
            return value < bar
        bar = self.best * (1 + self.threshold) if self.threshold_mode == "rel" \
            else self.best + self.threshold
        return value > bar

    def step(self, metrics: Any) -> None:
        """Record one evaluation of the monitored metric (a number or a one-element Tensor)."""
        value = check_real("ReduceLROnPlateau.step", "metrics", float(metrics))
        self.last_epoch += 1
        if self._better(value):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                new = max(group["lr"] * self.factor, floor)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
