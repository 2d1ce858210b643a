"""Optimisers (SGD, Adam, AdamW; RMSprop, Adagrad, LBFGS from their own files), gradient
clipping and learning-rate schedules.

The update rules, the state they keep and the schedules' formulas are PyTorch's (``torch.optim``
and ``torch.optim.lr_scheduler``, single-tensor code path). Updates run under ``no_grad()`` and
write into each parameter's array in place through its backend's ``xp`` (NumPy or CuPy);
parameters whose ``grad`` is None are skipped.

>>> import numpy as np, tinygrad_lstm as tl
>>> from tinygrad_lstm import optim
>>> w = tl.nn.Parameter(np.array([1.0, -2.0]))
>>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
>>> for _ in range(2):
...     opt.zero_grad()
...     (w * w).sum().backward()       # grad = 2 w
...     opt.step()
>>> [round(v, 4) for v in w.numpy().tolist()]
[0.46, -0.92]

Optimiser and scheduler state round-trips through ``state_dict()`` / ``load_state_dict()``
(NumPy arrays and Python numbers), so a run resumed from a checkpoint continues bit-identically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_lstm.checks import check_real

# the schedules and the other optimisers live in their own files; importable from here, as
# torch.optim.lr_scheduler is
from tinygrad_lstm.lr_schedules import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LinearWarmup,
    LRScheduler,
    ReduceLROnPlateau,
    StepLR,
)
from tinygrad_lstm.module import Parameter
from tinygrad_lstm.optim_adaptive import Adagrad, RMSprop, clip_grad_value_
from tinygrad_lstm.optim_lbfgs import LBFGS
from tinygrad_lstm.optimizer import Optimizer, _fit, _load_state
from tinygrad_lstm.tape import no_grad
from tinygrad_lstm.tensor import Tensor
from tinygrad_lstm.versions import bump_version

__all__ = [
    "SGD", "Adam", "AdamW", "CosineAnnealingLR", "LRScheduler", "LinearLR", "LinearWarmup",
    "Optimizer", "StepLR", "clip_grad_norm_",
    # from optim_adaptive, optim_lbfgs and lr_schedules
    "Adagrad", "ExponentialLR", "LBFGS", "RMSprop", "ReduceLROnPlateau", "clip_grad_value_",
]


# --- the optimisers --------------------------------------------------------------------------

class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 decay.

    PyTorch's rule, per parameter ``p`` with gradient ``g``::

        g = g + weight_decay * p
        buf = g                                        (first step)
        buf = momentum * buf + (1 - dampening) * g     (later steps)
        g = g + momentum * buf if nesterov else buf    (when momentum != 0)
        p = p - lr * g

    >>> import numpy as np, tinygrad_lstm as tl
    >>> from tinygrad_lstm import optim
    >>> w = tl.nn.Parameter(np.array([3.0]))
    >>> opt = optim.SGD([w], lr=0.25)
    >>> (w * w).sum().backward(); opt.step()
    >>> w.item()
    1.5
    """

    _state_keys = frozenset({"momentum_buffer"})

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:  # PyTorch's order
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "nesterov": nesterov, "weight_decay": weight_decay})

    def _validate(self, group: dict[str, Any]) -> dict[str, Any]:
        group = super()._validate(group)
        name = type(self).__name__
        group["momentum"] = check_real(name, "momentum", group["momentum"], 0.0)
        group["dampening"] = check_real(name, "dampening", group["dampening"])
        group["weight_decay"] = check_real(name, "weight_decay", group["weight_decay"], 0.0)
        if not isinstance(group["nesterov"], bool | np.bool_):
            raise TypeError(f"{name}: nesterov must be a bool, got {group['nesterov']!r}")
        group["nesterov"] = bool(group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{name}: nesterov=True needs momentum > 0 and dampening == 0, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")
        return group

    def _update(self, p: Parameter, data: Any, g: Any, group: dict[str, Any],
                state: dict[str, Any]) -> None:
        xp = p.backend.xp
        momentum, wd = group["momentum"], group["weight_decay"]
        if wd != 0:
            g = g + wd * data
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = xp.array(g, copy=True)
            else:
                buf = state["momentum_buffer"] = _fit(p, buf)
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        data += -group["lr"] * g


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction and optional L2 weight decay, as in PyTorch.

    Per parameter ``p`` with gradient ``g``, at step ``t`` (1, 2, ...)::

        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    ``amsgrad=True`` (Reddi et al. 2018, "On the Convergence of Adam and Beyond") divides by
    the running maximum of v instead (``v_max = max(v_max, v)``), as PyTorch does.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> from tinygrad_lstm import optim
    >>> w = tl.nn.Parameter(np.array([1.0, -1.0]))
    >>> opt = optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> [round(v, 4) for v in w.numpy().tolist()]     # the first Adam step moves each entry by ~lr
    [0.9, -0.9]
    """

    _state_keys = frozenset({"step", "exp_avg", "exp_avg_sq"})
    _added_defaults = {"amsgrad": False}  # a state saved before amsgrad existed loads as off
    _decoupled = False

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad})

    def _validate(self, group: dict[str, Any]) -> dict[str, Any]:
        group = super()._validate(group)
        name = type(self).__name__
        betas = group["betas"]
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        checked = []
        for i, beta in enumerate(betas):
            checked.append(check_real(name, f"betas[{i}]", beta, 0.0, high=1.0, open_high=True))
        group["betas"] = tuple(checked)
        group["eps"] = check_real(name, "eps", group["eps"], 0.0)
        group["weight_decay"] = check_real(name, "weight_decay", group["weight_decay"], 0.0)
        if not isinstance(group.setdefault("amsgrad", False), bool):
            raise TypeError(f"{name}: amsgrad must be True or False, got {group['amsgrad']!r}")
        return group

    def _load_entry(self, name: str, index: int, p: Parameter,
                    entry: Mapping[str, Any]) -> dict[str, Any]:
        return _load_state(name, index, p, entry, set(self._state_keys), {"max_exp_avg_sq"})

    def _update(self, p: Parameter, data: Any, g: Any, group: dict[str, Any],
                state: dict[str, Any]) -> None:
        xp = p.backend.xp
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(data)
            state["exp_avg_sq"] = xp.zeros_like(data)
        m = state["exp_avg"] = _fit(p, state["exp_avg"])
        v = state["exp_avg_sq"] = _fit(p, state["exp_avg_sq"])
        state["step"] += 1
        step = state["step"]
        if wd != 0:
            if self._decoupled:
                data *= 1 - lr * wd
            else:
                g = g + wd * data
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * (g * g)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        step_size = lr / bias_correction1
        if group["amsgrad"]:
            v_max = state.get("max_exp_avg_sq")
            if v_max is None:
                v_max = v.copy()  # max(0, v): v >= 0
            else:
                v_max = _fit(p, v_max)
                xp.maximum(v_max, v, out=v_max)
            state["max_exp_avg_sq"] = v = v_max
        denom = xp.sqrt(v) / bias_correction2_sqrt
        denom += eps
        data += -step_size * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as in PyTorch.

    The same as ``Adam`` except that the decay is not added to the gradient: before the Adam
    step, ``p = p * (1 - lr * weight_decay)``. The default decay is ``1e-2``.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> from tinygrad_lstm import optim
    >>> w = tl.nn.Parameter(np.array([2.0]))
    >>> opt = optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * 0).sum().backward(); opt.step()   # zero gradient: only the decay acts
    >>> w.item()
    1.899999976158142
    """

    _decoupled = True

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)


# --- gradient clipping -----------------------------------------------------------------------

def clip_grad_norm_(params: Any, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients in place so their global norm is at most ``max_norm``.

    The norm is taken over every gradient together, as if concatenated; gradients are
    multiplied by ``min(1, max_norm / (total_norm + 1e-6))``, as PyTorch does. Returns the
    total norm before clipping; ``max_norm=inf`` measures it and, when it is finite, leaves the
    gradients as they are. A non-finite norm raises if ``error_if_nonfinite``; otherwise, like
    PyTorch, the gradients are scaled anyway (by nan for a nan norm or for inf / inf, by 0 for
    an inf norm).
    Parameters without a gradient are skipped.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> from tinygrad_lstm.optim import clip_grad_norm_
    >>> w = tl.nn.Parameter(np.zeros(2))
    >>> (w * tl.Tensor([3.0, 4.0])).sum().backward()
    >>> clip_grad_norm_([w], max_norm=1.0)
    5.0
    >>> [round(v, 4) for v in w.grad.numpy().tolist()]
    [0.6, 0.8]
    """
    name = "clip_grad_norm_"
    items = [params] if isinstance(params, Tensor) else list(params)
    for i, p in enumerate(items):
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: params[{i}] is a {type(p).__name__}, expected a Parameter")
    max_norm = check_real(name, "max_norm", max_norm, 0.0, finite=False)  # inf: never clip
    norm_type = check_real(name, "norm_type", norm_type, 0.0, open_low=True, finite=False)
    grads = [p.grad for p in items if p.grad is not None]
    if not grads:
        return 0.0
    # Accumulate in float64 on each grad's own device, one host transfer per backend.
    partial: dict[int, Any] = {}
    for grad in grads:
        xp = grad.backend.xp
        if grad.data.size == 0:
            continue
        g = xp.abs(grad.data.astype(xp.float64, copy=False).ravel())
        if norm_type == math.inf:
            part = g.max()
            key = id(grad.backend)
            partial[key] = part if key not in partial else xp.maximum(partial[key], part)
        else:
            part = g @ g if norm_type == 2.0 else (g ** norm_type).sum()
            key = id(grad.backend)
            partial[key] = part if key not in partial else partial[key] + part
    values = [float(v) for v in partial.values()]
    if norm_type == math.inf:  # nan wins, as in PyTorch (Python's max() would skip it)
        total = math.nan if any(map(math.isnan, values)) else max(values, default=0.0)
    else:
        total = math.fsum(values) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"{name}: the total norm of order {norm_type} of the gradients is "
                           f"{total}, so it cannot be clipped; pass error_if_nonfinite=False to "
                           "scale the gradients by it anyway")
    coef = max_norm / (total + 1e-6)
    coef = coef if math.isnan(coef) else min(coef, 1.0)
    if coef != 1.0:  # multiplying by 1 changes nothing: skip the pass over memory
        # inf * 0 = nan is PyTorch's documented outcome for an inf norm: no warning for it
        with no_grad(), np.errstate(invalid="ignore"):
            for grad in grads:
                data = grad.data
                if isinstance(data, np.ndarray) and not data.flags.writeable:
                    grad.data = data * coef
                else:
                    data *= coef
                    bump_version(grad, name)
    return total
