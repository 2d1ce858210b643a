"""The optimiser base class: parameter groups, per-parameter state, ``state_dict``.

Every optimiser (``tinygrad_lstm.optim``, ``optim_adaptive``, ``optim_lbfgs``) and every
learning-rate schedule (``lr_schedules``) builds on this module alone, so none of them imports
another's module: ``tinygrad_lstm.optim`` re-exports them all, as ``torch.optim`` does.
The groups and state follow ``torch.optim.Optimizer``.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

import backends
from tinygrad_lstm.checks import check_real
from tinygrad_lstm.errors import DTypeError, ShapeError
from tinygrad_lstm.module import Module, Parameter
from tinygrad_lstm.tape import enable_grad, no_grad
from tinygrad_lstm.tensor import Tensor
from tinygrad_lstm.versions import bump_version

__all__ = ["Optimizer"]


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
    #: hyper-parameters added after states were saved: their value in an older state
    _added_defaults: dict[str, Any] = {}

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        self.defaults = self._validate(dict(defaults))
        self.param_groups: list[dict[str, Any]] = []
        # param -> its state, keyed by the Parameter itself as in PyTorch (it hashes by
        # identity): copy.deepcopy and pickle of a model with its optimiser keep the state
        self.state: dict[Parameter, dict[str, Any]] = {}
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
        group["lr"] = check_real(type(self).__name__, "lr", group["lr"], 0.0)
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
        value = check_real(type(self).__name__, "lr", value, 0.0)
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
                    self._update(p, _writable(p), g, group, self.state.setdefault(p, {}))
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
                if self.state.get(p):
                    state[index] = {
                        k: np.array(p.backend.to_numpy(v), copy=True) if not isinstance(
                            v, numbers.Number) else v
                        for k, v in self.state[p].items()}
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
            hyper = {**self._added_defaults,
                     **{k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}}
            missing = sorted(set(self.defaults) - set(hyper))
            if missing:
                raise KeyError(f"{name}: group {i} lacks hyper-parameters {missing} (a state "
                               f"from another optimiser?)")
            new = self._validate(hyper)
            new["params"] = group["params"]
            new_groups.append(new)
        params = self._params()
        new_state: dict[Parameter, dict[str, Any]] = {}
        for key, entry in dict(state_dict["state"]).items():
            try:
                index = int(key)
            except (TypeError, ValueError):
                raise KeyError(f"{name}: state key {key!r} is not a parameter index") from None
            if not 0 <= index < len(params):
                raise KeyError(f"{name}: state for parameter {index}, but there are "
                               f"{len(params)} parameters")
            new_state[params[index]] = self._load_entry(name, index, params[index], entry)
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
