"""RMSprop and Adagrad with PyTorch's update rules and options, and ``clip_grad_value_``.

Importable from ``tinygrad_lstm.optim`` (``tl.optim.RMSprop``), as the others are. The rules
are those of ``torch.optim`` (single-tensor code path), so a run started from the same
weights follows PyTorch's trajectory to rounding (``tests/test_optim_torch.py``).

>>> import numpy as np, tinygrad_lstm as tl
>>> w = tl.nn.Parameter(np.array([1.0, -1.0]))
>>> opt = tl.optim.RMSprop([w], lr=0.01)
>>> (w * w).sum().backward(); opt.step()
>>> [round(v, 4) for v in w.numpy().tolist()]     # the first step is lr / sqrt(1 - alpha)
[0.9, -0.9]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_lstm.checks import check_real
from tinygrad_lstm.module import Parameter
from tinygrad_lstm.optimizer import Optimizer, _fit, _load_state
from tinygrad_lstm.tape import no_grad
from tinygrad_lstm.tensor import Tensor

__all__ = ["Adagrad", "RMSprop", "clip_grad_value_"]




class RMSprop(Optimizer):
    """RMSprop (Hinton, Coursera lecture 6e), with PyTorch's options and rule.

    Per parameter ``p`` with gradient ``g``::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g                  (square_avg)
        m = alpha * m + (1 - alpha) * g                      (grad_avg, when centered)
        avg = sqrt(v - m * m) + eps if centered else sqrt(v) + eps
        b = momentum * b + g / avg;  p = p - lr * b          (when momentum > 0)
        p = p - lr * g / avg                                 (otherwise)

    Defaults are PyTorch's (lr 0.01, alpha 0.99, eps 1e-8). Keras' RMSprop, the classic
    default for recurrent nets there, is ``rho=0.9``, lr 0.001 and eps inside the square root;
    pass ``alpha=0.9, lr=1e-3`` for its usual setting (eps placement differs by ~eps).
    """

    _state_keys = frozenset({"step", "square_avg", "momentum_buffer", "grad_avg"})

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps,
                                  "weight_decay": weight_decay, "momentum": momentum,
                                  "centered": centered})

    def _validate(self, group: dict[str, Any]) -> dict[str, Any]:
        group = super()._validate(group)
        name = type(self).__name__
        group["alpha"] = check_real(name, "alpha", group["alpha"], 0.0)
        group["eps"] = check_real(name, "eps", group["eps"], 0.0)
        group["weight_decay"] = check_real(name, "weight_decay", group["weight_decay"], 0.0)
        group["momentum"] = check_real(name, "momentum", group["momentum"], 0.0)
        if not isinstance(group["centered"], bool | np.bool_):
            raise TypeError(f"{name}: centered must be a bool, got {group['centered']!r}")
        group["centered"] = bool(group["centered"])
        return group

    def _update(self, p: Parameter, data: Any, g: Any, group: dict[str, Any],
                state: dict[str, Any]) -> None:
        xp = p.backend.xp
        alpha, eps, wd, momentum = (group[k] for k in ("alpha", "eps", "weight_decay",
                                                        "momentum"))
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(data)
        state["step"] += 1
        if wd != 0:
            g = g + wd * data
        v = state["square_avg"] = _fit(p, state["square_avg"])
        v *= alpha
        v += (1 - alpha) * (g * g)
        if group["centered"]:
            m = state.get("grad_avg")
            m = state["grad_avg"] = xp.zeros_like(data) if m is None else _fit(p, m)
            m += (1 - alpha) * (g - m)  # PyTorch's lerp: m + (1 - alpha) (g - m)
            avg = xp.sqrt(v - m * m)
        else:
            avg = xp.sqrt(v)
        avg += eps
        if momentum > 0:
            buf = state.get("momentum_buffer")
            buf = state["momentum_buffer"] = xp.zeros_like(data) if buf is None else _fit(p, buf)
            buf *= momentum
            buf += g / avg
            data += -group["lr"] * buf
        else:
            data += -group["lr"] * (g / avg)

    def _load_entry(self, name: str, index: int, p: Parameter,
                    entry: Mapping[str, Any]) -> dict[str, Any]:
        return _load_state(name, index, p, entry, {"step", "square_avg"},
                           {"momentum_buffer", "grad_avg"})


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer 2011), with PyTorch's options and rule.

    Per parameter ``p`` with gradient ``g``, at step ``t`` (1, 2, ...)::

        g = g + weight_decay * p
        s = s + g * g                        (sum; starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    >>> import numpy as np, tinygrad_lstm as tl
    >>> w = tl.nn.Parameter(np.array([2.0]))
    >>> opt = tl.optim.Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward(); opt.step()
    >>> round(w.item(), 6)                # g / sqrt(g * g) = 1: the first step is lr
    1.5
    """

    _state_keys = frozenset({"step", "sum"})

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10) -> None:
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "eps": eps})

    def _validate(self, group: dict[str, Any]) -> dict[str, Any]:
        group = super()._validate(group)
        name = type(self).__name__
        for key in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            group[key] = check_real(name, key, group[key], 0.0)
        return group

    def _update(self, p: Parameter, data: Any, g: Any, group: dict[str, Any],
                state: dict[str, Any]) -> None:
        xp = p.backend.xp
        if not state:
            state["step"] = 0
            state["sum"] = xp.full_like(data, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * data
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"] = _fit(p, state["sum"])
        s += g * g
        std = xp.sqrt(s)
        std += group["eps"]
        data += -clr * (g / std)


def clip_grad_value_(params: Any, clip_value: float) -> None:
    """Clamp every gradient in place to ``[-clip_value, clip_value]``, as PyTorch's
    ``torch.nn.utils.clip_grad_value_``. Parameters without a gradient are skipped.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> w = tl.nn.Parameter(np.zeros(3))
    >>> (w * tl.Tensor([-3.0, 0.5, 9.0])).sum().backward()
    >>> tl.optim.clip_grad_value_([w], 1.0)
    >>> w.grad.numpy().tolist()
    [-1.0, 0.5, 1.0]
    """
    name = "clip_grad_value_"
    items = [params] if isinstance(params, Tensor) else list(params)
    for i, p in enumerate(items):
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: params[{i}] is a {type(p).__name__}, expected a Parameter")
    clip_value = check_real(name, "clip_value", clip_value)
    if clip_value < 0:
        raise ValueError(f"{name}: clip_value must be >= 0, got {clip_value}")
    with no_grad():
        for p in items:
            if p.grad is None:
                continue
            # a new array for the same grad Tensor: whatever saved the old one keeps it
            p.grad.data = p.backend.xp.clip(p.grad.data, -clip_value, clip_value)
