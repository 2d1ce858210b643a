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

import copy
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

import backends
from tinygrad_lstm.errors import DTypeError, ShapeError
from tinygrad_lstm.module import Module, Parameter
from tinygrad_lstm.tape import enable_grad, no_grad
from tinygrad_lstm.tensor import Tensor
from tinygrad_lstm.versions import bump_version

__all__ = [
    "SGD", "Adam", "AdamW", "CosineAnnealingLR", "LRScheduler", "LinearLR", "LinearWarmup",
    "Optimizer", "StepLR", "clip_grad_norm_",
    # from optim_adaptive, optim_lbfgs and lr_schedules
    "Adagrad", "ExponentialLR", "LBFGS", "RMSprop", "ReduceLROnPlateau", "clip_grad_value_",
]


# --- validation helpers ----------------------------------------------------------------------

def _real(owner: str, name: str, value: Any) -> float:
    """``value`` as a finite float, or a TypeError/ValueError naming ``owner`` and ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__} "
                        f"{value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value}")
    return value


def _at_least(owner: str, name: str, value: Any, low: float = 0.0) -> float:
    value = _real(owner, name, value)
    if value < low:
        raise ValueError(f"{owner}: {name} must be >= {low}, got {value}")
    return value


def _writable(p: Parameter) -> Any:
    """``p.data``, made writable first if it is a read-only NumPy view (updates are in place)."""
    data = p.data
    if isinstance(data, np.ndarray) and not data.flags.writeable:
        p.data = data = data.copy()
    return data


def _grad_array(owner: str, p: Parameter) -> Any:
    """``p.grad``'s array, checked against ``p`` (shape, backend) and cast to ``p``'s dtype."""
    grad = p.grad
    if not isinstance(grad, Tensor):
        raise TypeError(f"{owner}: a parameter's grad must be a Tensor or None, got "
                        f"{type(grad).__name__}")
    if grad.backend is not p.backend:
        raise ValueError(f"{owner}: a parameter lives on '{p.backend.name}' but its grad on "
                         f"'{grad.backend.name}'; call zero_grad() after moving a model")
    if grad.shape != p.shape:
        raise ShapeError(f"{owner}: a parameter of shape {p.shape} has a grad of shape "
                         f"{grad.shape}")
    g = grad.data
    return g if g.dtype == p.dtype else g.astype(p.dtype)


def _fit(p: Parameter, buf: Any) -> Any:
    """A state buffer on ``p``'s backend and dtype (after ``Module.to`` moved or cast ``p``)."""
    if p.backend.is_array(buf) and buf.dtype == p.dtype:
        return buf
    host = backends.to_host(buf)
    return p.backend.xp.array(host, dtype=p.dtype)


# --- the optimiser base ----------------------------------------------------------------------

def _load_state(owner: str, index: int, p: Parameter, entry: Mapping[str, Any],
                required: set[str], optional: set[str]) -> dict[str, Any]:
    """One parameter's saved state, checked (keys, step, dtype, shape) and copied onto ``p``'s
    backend: for optimisers whose buffers depend on their options (RMSprop's momentum buffer
    exists only with momentum)."""
    keys = set(entry)
    if not required <= keys <= required | optional:
        kind = owner.split(".")[0]
        raise KeyError(f"{owner}: parameter {index} has state {sorted(keys)}; {kind} keeps "
                       f"{sorted(required)}" + (f" and optionally {sorted(optional)}"
                                                if optional else ""))
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "step":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{owner}: parameter {index}'s step must be an int >= 0, got "
                                 f"{value!r}")
            out[key] = int(value)
            continue
        array = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype.kind != "f":
            raise DTypeError(f"{owner}: parameter {index}'s {key!r} has dtype {array.dtype}, "
                             "expected floats")
        if array.shape != p.shape:
            raise ShapeError(f"{owner}: parameter {index}'s {key!r} has shape {array.shape}, "
                             f"the parameter {p.shape}")
        out[key] = p.backend.xp.array(array, dtype=p.dtype)  # a copy: updates are in place
    return out


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``step``, ``zero_grad``, state dicts.

    ``params`` is an iterable of ``Parameter`` (e.g. ``model.parameters()``) or of dicts, each
    a group ``{"params": [...], "lr": ...}`` whose missing hyper-parameters default to the
    constructor's. ``param_groups[i]["lr"]`` is what schedulers change. Subclasses set
    ``_state_keys`` and implement ``_validate`` and ``_update``.
    """

    _state_keys: frozenset[str] = frozenset()

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        self.defaults = self._validate(dict(defaults))
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[int, dict[str, Any]] = {}  # id(param) -> its state
        if isinstance(params, Module):
            raise TypeError(f"{name}: params must be an iterable of Parameters; pass "
                            "model.parameters(), not the model")
        if isinstance(params, Tensor | Mapping) or not isinstance(params, Iterable):
            raise TypeError(f"{name}: params must be an iterable of Parameters or of dicts "
                            f"(parameter groups), got {type(params).__name__}")
        items = list(params)
        if not items:
            raise ValueError(f"{name}: got an empty parameter list (did the model build its "
                             "parameters?)")
        if all(isinstance(item, Mapping) for item in items):
            groups = items
        elif any(isinstance(item, Mapping) for item in items):
            raise TypeError(f"{name}: params mixes Parameters and dicts; give one or the other")
        else:
            groups = [{"params": items}]
        for group in groups:
            self.add_param_group(group)

    # --- groups ------------------------------------------------------------------------------
    def add_param_group(self, group: Mapping[str, Any]) -> None:
        """Add a group of parameters, with hyper-parameters defaulting to the constructor's."""
        name = type(self).__name__
        if not isinstance(group, Mapping) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' key")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name}: a parameter group has an empty 'params' list")
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                hint = (" (wrap it: tl.nn.Parameter(tensor.numpy()))" if isinstance(p, Tensor)
                        else "")
                raise TypeError(f"{name}: params[{i}] is a {type(p).__name__}, expected a "
                                f"Parameter{hint}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if id(p) in seen:
                raise ValueError(f"{name}: params[{i}] (shape {p.shape}) appears more than once "
                                 "(in this group or an earlier one)")
            seen.add(id(p))
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        full = self._validate(full)
        full["params"] = params
        self.param_groups.append(full)

    def _validate(self, group: dict[str, Any]) -> dict[str, Any]:
        """Check and normalise a group's hyper-parameters; raise naming the bad one."""
        group["lr"] = _at_least(type(self).__name__, "lr", group["lr"])
        return group

    @property
    def lr(self) -> float:
        """The learning rate, when every group has the same one (``param_groups`` otherwise)."""
        lrs = {g["lr"] for g in self.param_groups}
        if len(lrs) != 1:
            raise AttributeError(f"{type(self).__name__}: the groups have different learning "
                                 "rates; read param_groups[i]['lr']")
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        value = _at_least(type(self).__name__, "lr", value)
        for g in self.param_groups:
            g["lr"] = value

    def _params(self) -> list[Parameter]:
        return [p for g in self.param_groups for p in g["params"]]

    # --- stepping ----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (``None``; zeros in place if ``set_to_none=False``)."""
        for p in self._params():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0
                bump_version(p.grad, f"{type(self).__name__}.zero_grad")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()`` if one is given.

        ``closure`` re-evaluates the model and calls ``backward()`` (it runs with grad enabled).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        owner = f"{type(self).__name__}.step"
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = _grad_array(owner, p)
                    self._update(p, _writable(p), g, group, self.state.setdefault(id(p), {}))
                    bump_version(p, owner)  # a graph that saved p's old values is stale now
        return loss

    def _update(self, p: Parameter, data: Any, g: Any, group: dict[str, Any],
                state: dict[str, Any]) -> None:
        raise NotImplementedError

    # --- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimiser's state as PyTorch lays it out, with NumPy copies of every buffer.

        ``{"state": {index: {"step": int, buffer name: ndarray}}, "param_groups": [{hyper-
        parameters..., "params": [indices]}]}``; indices count parameters across groups in order.
        """
        state: dict[int, dict[str, Any]] = {}
        groups = []
        index = 0
        for group in self.param_groups:
            saved = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            saved["params"] = list(range(index, index + len(group["params"])))
            groups.append(saved)
            for p in group["params"]:
                if self.state.get(id(p)):
                    state[index] = {
                        k: np.array(p.backend.to_numpy(v), copy=True) if not isinstance(
                            v, numbers.Number) else v
                        for k, v in self.state[id(p)].items()}
                index += 1
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore ``state_dict()``'s output: buffers, step counts and hyper-parameters.

        Everything is checked (group and parameter counts, buffer names, shapes, hyper-
        parameters) before anything changes: a failed load leaves the optimiser as it was.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            raise KeyError(f"{name}: expected a dict with keys 'state' and 'param_groups'")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: the state has {len(saved_groups)} parameter groups, this "
                             f"optimiser {len(self.param_groups)}")
        new_groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            n_saved = len(saved.get("params", ()))
            if n_saved != len(group["params"]):
                raise ValueError(f"{name}: group {i} has {n_saved} parameters in the state, "
                                 f"{len(group['params'])} here")
            hyper = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            missing = sorted(set(self.defaults) - set(hyper))
            if missing:
                raise KeyError(f"{name}: group {i} lacks hyper-parameters {missing} (a state "
                               f"from another optimiser?)")
            new = self._validate(hyper)
            new["params"] = group["params"]
            new_groups.append(new)
        params = self._params()
        new_state: dict[int, dict[str, Any]] = {}
        for key, entry in dict(state_dict["state"]).items():
            try:
                index = int(key)
            except (TypeError, ValueError):
                raise KeyError(f"{name}: state key {key!r} is not a parameter index") from None
            if not 0 <= index < len(params):
                raise KeyError(f"{name}: state for parameter {index}, but there are "
                               f"{len(params)} parameters")
            new_state[id(params[index])] = self._load_entry(name, index, params[index], entry)
        self.param_groups[:] = new_groups
        self.state = new_state

    def _load_entry(self, name: str, index: int, p: Parameter,
                    entry: Mapping[str, Any]) -> dict[str, Any]:
        return _load_state(name, index, p, entry, self._state_keys, set())

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"  group {i}: {len(g['params'])} params, " + ", ".join(
                f"{k}={v}" for k, v in g.items() if k != "params"))
        return "\n".join(lines) + "\n)"


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

    def __init__(self, params: Any, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:  # PyTorch's order
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "nesterov": nesterov, "weight_decay": weight_decay})

    def _validate(self, group: dict[str, Any]) -> dict[str, Any]:
        group = super()._validate(group)
        name = type(self).__name__
        group["momentum"] = _at_least(name, "momentum", group["momentum"])
        group["dampening"] = _real(name, "dampening", group["dampening"])
        group["weight_decay"] = _at_least(name, "weight_decay", group["weight_decay"])
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

    >>> import numpy as np, tinygrad_lstm as tl
    >>> from tinygrad_lstm import optim
    >>> w = tl.nn.Parameter(np.array([1.0, -1.0]))
    >>> opt = optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> [round(v, 4) for v in w.numpy().tolist()]     # the first Adam step moves each entry by ~lr
    [0.9, -0.9]
    """

    _state_keys = frozenset({"step", "exp_avg", "exp_avg_sq"})
    _decoupled = False

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})

    def _validate(self, group: dict[str, Any]) -> dict[str, Any]:
        group = super()._validate(group)
        name = type(self).__name__
        betas = group["betas"]
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        checked = []
        for i, beta in enumerate(betas):
            beta = _real(name, f"betas[{i}]", beta)
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: betas[{i}] must be in [0, 1), got {beta}")
            checked.append(beta)
        group["betas"] = tuple(checked)
        group["eps"] = _at_least(name, "eps", group["eps"])
        group["weight_decay"] = _at_least(name, "weight_decay", group["weight_decay"])
        return group

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
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


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
    if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real):
        raise TypeError(f"{name}: max_norm must be a real number, got "
                        f"{type(max_norm).__name__} {max_norm!r}")
    if not max_norm >= 0:
        raise ValueError(f"{name}: max_norm must be a number >= 0 (inf: measure, never clip), "
                         f"got {max_norm!r}")
    max_norm = float(max_norm)
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real) \
            or not norm_type > 0:
        raise ValueError(f"{name}: norm_type must be a positive number or inf, got "
                         f"{norm_type!r}")
    norm_type = float(norm_type)
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


# the schedules live in their own file; importable from here, as torch.optim.lr_scheduler is
from tinygrad_lstm.lr_schedules import (  # noqa: E402
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LinearWarmup,
    LRScheduler,
    ReduceLROnPlateau,
    StepLR,
)

# more optimisers, in their own files
from tinygrad_lstm.optim_adaptive import Adagrad, RMSprop, clip_grad_value_  # noqa: E402
from tinygrad_lstm.optim_lbfgs import LBFGS  # noqa: E402
