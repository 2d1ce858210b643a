"""L-BFGS with PyTorch's closure protocol, with or without a strong-Wolfe line search.

Limited-memory BFGS (Nocedal & Wright, *Numerical Optimization*, 2nd ed., Algorithm 7.4, the
two-loop recursion; Algorithms 3.5 and 3.6 for the strong-Wolfe line search with cubic
interpolation, eq. 3.59). The iteration, its stopping tests and its line search make the same
decisions as ``torch.optim.LBFGS`` (itself after Schmidt's minFunc), so a run from the same
weights follows PyTorch's trajectory to float64 rounding. Scalars (step sizes, inner
products) are Python floats (float64) whatever the parameters' dtype.

>>> import numpy as np, tinygrad_lstm as tl
>>> w = tl.nn.Parameter(np.array([3.0, -2.0]), dtype="float64")
>>> opt = tl.optim.LBFGS([w], line_search_fn="strong_wolfe")
>>> def closure():
...     opt.zero_grad()
...     loss = ((w - tl.Tensor([1.0, 2.0], dtype="float64")) ** 2).sum()
...     loss.backward()
...     return loss
>>> _ = opt.step(closure)
>>> [round(v, 6) for v in w.numpy().tolist()]
[1.0, 2.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tinygrad_lstm.checks import check_int, check_real
from tinygrad_lstm.optimizer import Optimizer, _grad_array
from tinygrad_lstm.tape import enable_grad, no_grad

__all__ = ["LBFGS"]


def _cubic_minimum(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                   bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped
    to ``bounds`` (default: the interval between x1 and x2); the midpoint of the bounds when
    the cubic has no minimum (Nocedal & Wright eq. 3.59)."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        at = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        at = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(at, low), high)


class _Point:
    """A step size along the search direction, with the loss, gradient and slope there."""

    __slots__ = ("t", "f", "g", "gtd")

    def __init__(self, t: float, f: float, g: Any, gtd: float) -> None:
        self.t, self.f, self.g, self.gtd = t, f, g, gtd


def _strong_wolfe(evaluate: Callable[[float], tuple[float, Any]], d: Any, t: float, f: float,
                  g: Any, gtd: float, c1: float = 1e-4, c2: float = 0.9,
                  tolerance_change: float = 1e-9, max_ls: int = 25
                  ) -> tuple[float, Any, float, int]:
    """A step ``t`` along ``d`` meeting the strong Wolfe conditions (sufficient decrease with
    ``c1``, curvature ``|g_t . d| <= c2 |g . d|``), or the best point found in ``max_ls``
    evaluations: returns ``(loss, flat gradient, t, evaluations)``."""
    d_norm = float(abs(d).max())
    start = _Point(0.0, f, g, gtd)
    f_new, g_new = evaluate(t)
    new = _Point(t, f_new, g_new, float(g_new @ d))
    evals, ls_iter = 1, 0
    prev = start
    bracket: list[_Point] | None = None
    done = False
    # phase 1 (Algorithm 3.5): grow the step until an interval holds an acceptable point
    while ls_iter < max_ls:
        if new.f > f + c1 * new.t * gtd or (ls_iter > 1 and new.f >= prev.f):
            bracket = [prev, new]
            break
        if abs(new.gtd) <= -c2 * gtd:
            bracket, done = [new], True
            break
        if new.gtd >= 0:
            bracket = [prev, new]
            break
        t_next = _cubic_minimum(prev.t, prev.f, prev.gtd, new.t, new.f, new.gtd,
                                bounds=(new.t + 0.01 * (new.t - prev.t), new.t * 10))
        prev = new
        f_new, g_new = evaluate(t_next)
        new = _Point(t_next, f_new, g_new, float(g_new @ d))
        evals += 1
        ls_iter += 1
    if ls_iter == max_ls:
        bracket = [start, new]
    assert bracket is not None
    # phase 2 (Algorithm 3.6, "zoom"): shrink the interval by cubic interpolation
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    insufficient = False
    while not done and ls_iter < max_ls:
        a, b = bracket
        if abs(b.t - a.t) * d_norm < tolerance_change:
            break
        t_next = _cubic_minimum(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
        top, bottom = max(a.t, b.t), min(a.t, b.t)
        margin = 0.1 * (top - bottom)
        # keep away from the ends: a point too close to one makes no progress
        if min(top - t_next, t_next - bottom) < margin:
            if insufficient or t_next >= top or t_next <= bottom:
                t_next = top - margin if abs(t_next - top) < abs(t_next - bottom) \
                    else bottom + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t_next)
        new = _Point(t_next, f_new, g_new, float(g_new @ d))
        evals += 1
        ls_iter += 1
        if new.f > f + c1 * new.t * gtd or new.f >= bracket[low].f:
            bracket[high] = new
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
        else:
            if abs(new.gtd) <= -c2 * gtd:
                done = True
            elif new.gtd * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = new
    best = bracket[low] if len(bracket) > 1 else bracket[0]
    return best.f, best.g, best.t, evals


class LBFGS(Optimizer):
    """L-BFGS over all parameters together (one group), PyTorch's ``torch.optim.LBFGS``.

    ``step(closure)`` runs up to ``max_iter`` iterations: ``closure()`` must zero the
    gradients, compute the loss, call ``backward()`` and return the loss; it is called up to
    ``max_eval`` times (default ``max_iter * 5 // 4``). Without a line search each iteration
    steps ``lr`` along the quasi-Newton direction (the first one ``min(1, 1 / |g|_1) * lr``);
    with ``line_search_fn="strong_wolfe"`` the step meets the strong Wolfe conditions.
    Iterations stop early when the largest gradient entry is <= ``tolerance_grad``, or the
    step or the loss changes by less than ``tolerance_change``. Returns the first
    ``closure()`` value. ``history_size`` pairs (s, y) are kept; memory is
    ``param_bytes * (2 * history_size + 2)``.
    """

    def __init__(self, params: Any, lr: float = 1.0, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if max_eval is None:
            max_eval = check_int("LBFGS", "max_iter", max_iter) * 5 // 4
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                                  "tolerance_grad": tolerance_grad,
                                  "tolerance_change": tolerance_change,
                                  "history_size": history_size,
                                  "line_search_fn": line_search_fn})
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS: parameter groups are not supported (one set of "
                             "parameters, one learning rate)")
        self._lbfgs: dict[str, Any] = {"func_evals": 0, "n_iter": 0}

    def _validate(self, group: dict[str, Any]) -> dict[str, Any]:
        group = super()._validate(group)
        name = type(self).__name__
        group["max_iter"] = check_int(name, "max_iter", group["max_iter"])
        group["max_eval"] = check_int(name, "max_eval", group["max_eval"])
        group["history_size"] = check_int(name, "history_size", group["history_size"])
        group["tolerance_grad"] = check_real(name, "tolerance_grad", group["tolerance_grad"], 0.0)
        group["tolerance_change"] = check_real(name, "tolerance_change",
                                              group["tolerance_change"], 0.0)
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"{name}: line_search_fn must be None or 'strong_wolfe', got "
                             f"{group['line_search_fn']!r}")
        return group

    # --- the parameters as one flat vector ---------------------------------------------------
    def _flat_grad(self) -> Any:
        params = self.param_groups[0]["params"]
        xp = params[0].backend.xp
        parts = [xp.zeros(p.data.size, dtype=p.dtype) if p.grad is None
                 else _grad_array("LBFGS.step", p).ravel() for p in params]
        return xp.concatenate(parts)

    # The parameters get new arrays rather than in-place writes: a graph that saved the old
    # ones (the closure's last forward) keeps what it saved.
    def _add_to_params(self, t: float, direction: Any) -> None:
        offset = 0
        for p in self.param_groups[0]["params"]:
            n = p.data.size
            p.data = p.data + t * direction[offset:offset + n].reshape(p.shape)
            offset += n

    def _copy_params(self) -> list[Any]:
        return [p.data for p in self.param_groups[0]["params"]]  # never written into

    def _set_params(self, values: list[Any]) -> None:
        for p, value in zip(self.param_groups[0]["params"], values, strict=True):
            p.data = value

    # --- the iteration -----------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Run up to ``max_iter`` L-BFGS iterations; ``closure`` is required."""
        if closure is None:
            raise TypeError("LBFGS.step: needs a closure that zeroes the gradients, computes "
                            "the loss, calls backward() and returns the loss")
        group = self.param_groups[0]
        backends = {p.backend.name for p in group["params"]}
        if len(backends) != 1:
            raise ValueError(f"LBFGS: the parameters live on several backends {sorted(backends)}"
                             "; move the model to one")
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history = group["history_size"]
        state = self._lbfgs

        def evaluate() -> float:
            with enable_grad():
                return float(closure())

        with enable_grad():
            first = closure()
        loss = float(first)
        evals = 1
        state["func_evals"] += 1
        with no_grad():
            flat_grad = self._flat_grad()
            if float(abs(flat_grad).max()) <= tol_grad:
                return first
            d, t = state.get("d"), state.get("t")
            old_dirs, old_stps, ro = (state.get(k) for k in ("old_dirs", "old_stps", "ro"))
            h_diag = state.get("H_diag")
            prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
            n_iter = 0
            while n_iter < max_iter:
                n_iter += 1
                state["n_iter"] += 1
                if state["n_iter"] == 1:
                    d = -flat_grad
                    old_dirs, old_stps, ro, h_diag = [], [], [], 1.0
                else:
                    y = flat_grad - prev_flat_grad
                    s = d * t
                    ys = float(y @ s)
                    if ys > 1e-10:  # keep the pair only where the curvature is positive
                        if len(old_dirs) == history:
                            old_dirs.pop(0)
                            old_stps.pop(0)
                            ro.pop(0)
                        old_dirs.append(y)
                        old_stps.append(s)
                        ro.append(1.0 / ys)
                        h_diag = ys / float(y @ y)
                    d = self._two_loop(flat_grad, old_dirs, old_stps, ro, h_diag)
                prev_flat_grad = flat_grad.copy()
                prev_loss = loss
                t = min(1.0, 1.0 / float(abs(flat_grad).sum())) * lr if state["n_iter"] == 1 \
                    else lr
                gtd = float(flat_grad @ d)
                if gtd > -tol_change:  # not a descent direction
                    break
                step_evals = 0
                if group["line_search_fn"] == "strong_wolfe":
                    start = self._copy_params()

                    def along(step: float, start: list[Any] = start, d: Any = d
                              ) -> tuple[float, Any]:
                        self._add_to_params(step, d)
                        value = evaluate()
                        grad = self._flat_grad()
                        self._set_params(start)
                        return value, grad

                    loss, flat_grad, t, step_evals = _strong_wolfe(
                        along, d, t, loss, flat_grad, gtd, max_ls=max_eval - evals)
                    self._add_to_params(t, d)
                    converged = float(abs(flat_grad).max()) <= tol_grad
                else:
                    self._add_to_params(t, d)
                    converged = False
                    if n_iter != max_iter:
                        loss = evaluate()
                        flat_grad = self._flat_grad()
                        converged = float(abs(flat_grad).max()) <= tol_grad
                        step_evals = 1
                evals += step_evals
                state["func_evals"] += step_evals
                if n_iter == max_iter or evals >= max_eval or converged:
                    break
                if float(abs(d * t).max()) <= tol_change or abs(loss - prev_loss) < tol_change:
                    break
            state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                         prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return first

    @staticmethod
    def _two_loop(flat_grad: Any, old_dirs: list[Any], old_stps: list[Any], ro: list[float],
                  h_diag: float) -> Any:
        """The quasi-Newton direction -H g by the two-loop recursion (Algorithm 7.4)."""
        q = -flat_grad
        al = [0.0] * len(old_dirs)
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = float(old_stps[i] @ q) * ro[i]
            q -= al[i] * old_dirs[i]
        r = q * h_diag
        for i in range(len(old_dirs)):
            be_i = float(old_dirs[i] @ r) * ro[i]
            r += (al[i] - be_i) * old_stps[i]
        return r

    # --- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The hyper-parameters and the iteration's state (directions, history), as NumPy."""
        base = super().state_dict()
        to_host = self.param_groups[0]["params"][0].backend.to_numpy
        saved: dict[str, Any] = {}
        for key, value in self._lbfgs.items():
            if isinstance(value, list):
                saved[key] = [np.array(to_host(v)) if not isinstance(v, float) else v
                              for v in value]
            elif value is None or isinstance(value, int | float):
                saved[key] = value
            else:
                saved[key] = np.array(to_host(value))
        base["state"] = {0: saved}
        return base

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore ``state_dict()``'s output."""
        entry = dict(dict(state_dict.get("state", {})).get(0, {}))
        missing = {"func_evals", "n_iter"} - set(entry)
        if missing:
            raise KeyError(f"LBFGS.load_state_dict: the state lacks {sorted(missing)}")
        super().load_state_dict({"state": {}, "param_groups": state_dict["param_groups"]})
        backend = self.param_groups[0]["params"][0].backend
        restored: dict[str, Any] = {}
        for key, value in entry.items():
            if isinstance(value, list):
                restored[key] = [v if isinstance(v, float) else backend.asarray(v)
                                 for v in value]
            elif value is None or isinstance(value, int | float):
                restored[key] = value
            else:
                restored[key] = backend.asarray(np.array(value))
        self._lbfgs = restored
