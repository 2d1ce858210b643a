"""Check analytic gradients against central differences in float64.

Two checks, as trusted systems do them: the full Jacobian, entry by entry (PyTorch's gradcheck:
eps 1e-6, atol 1e-5, rtol 1e-3), and the inner-product identity <v, J u> = <J^T v, u> for random
directions u, v (JAX's check_grads), which exercises every VJP at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_lstm.errors import GradcheckError
from tinygrad_lstm.tape import enable_grad, no_grad
from tinygrad_lstm.tensor import Tensor, float64


def _call(fn: Callable[..., Any], args: list[Any]) -> Tensor:
    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if out.dtype != float64:
        raise GradcheckError(f"gradcheck: fn returned {out.dtype} from float64 inputs; central "
                             "differences need float64 all the way through")
    return out


def _numeric_column(fn: Callable[..., Any], args: list[Any], x: Tensor, flat_index: int,
                    eps: float) -> np.ndarray:
    flat = x.data.reshape(-1)  # a view: the inputs were made contiguous
    keep = flat[flat_index].item()
    try:
        flat[flat_index] = keep + eps
        plus = np.array(_call(fn, args).numpy()).ravel()  # a copy: outputs may view inputs
        flat[flat_index] = keep - eps
        minus = np.array(_call(fn, args).numpy()).ravel()
    finally:
        flat[flat_index] = keep
    return (plus - minus) / (2 * eps)


def gradcheck(fn: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0, raise_exception: bool = True) -> bool:
    """True when ``fn``'s gradients with respect to its grad-requiring inputs are right.

    Inputs are copied to float64 (on their own backend); those with ``requires_grad=True`` are
    checked (all Tensor inputs when none requires grad). On a mismatch raises
    ``GradcheckError`` naming the input, the entry and both values (or returns False when
    ``raise_exception=False``).

    >>> import numpy as np, tinygrad_lstm as tl
    >>> x = tl.Tensor(np.random.default_rng(0).normal(size=(3, 8)))
    >>> W = tl.Tensor(np.random.default_rng(1).normal(size=(8, 4)), requires_grad=True)
    >>> tl.gradcheck(lambda W: ((x @ W).tanh() ** 2).sum(), W)
    True
    """
    if not callable(fn):
        raise TypeError(f"gradcheck: fn must be callable, got {type(fn).__name__}")
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    if not tensors:
        raise TypeError("gradcheck: give at least one Tensor input")
    checked_flags = [x.requires_grad for x in tensors]
    if not any(checked_flags):
        checked_flags = [True] * len(tensors)
    args: list[Any] = []
    checked: list[tuple[int, Tensor]] = []
    flags = iter(checked_flags)
    for position, x in enumerate(inputs):
        if isinstance(x, Tensor):
            copy = x.backend.xp.array(x.data, dtype=np.float64, order="C", copy=True)
            t = Tensor._wrap(copy, x.backend)
            t.requires_grad = next(flags)
            if t.requires_grad:
                checked.append((position, t))
            args.append(t)
        else:
            args.append(x)
    try:
        with enable_grad():
            _check(fn, args, checked, eps, atol, rtol, seed)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _check(fn: Callable[..., Any], args: list[Any], checked: list[tuple[int, Tensor]],
           eps: float, atol: float, rtol: float, seed: int) -> None:
    out = _call(fn, args)
    n_out = out.numel()
    if not out.requires_grad:
        raise GradcheckError("gradcheck: fn's output does not depend on any checked input")
    xp = out.backend.xp
    # Analytic Jacobian, one row per output entry: backward with a one-hot seed.
    analytic = {position: np.zeros((n_out, x.numel())) for position, x in checked}
    for row in range(n_out):
        for _, x in checked:
            x.grad = None
        seed_grad = np.zeros(n_out)
        seed_grad[row] = 1.0
        out.backward(xp.asarray(seed_grad.reshape(out.shape)), retain_graph=True)
        for position, x in checked:
            if x.grad is not None:
                analytic[position][row] = x.grad.numpy().ravel()
    with no_grad():
        for position, x in checked:
            for col in range(x.numel()):
                numeric = _numeric_column(fn, args, x, col, eps)
                got = analytic[position][:, col]
                bad = np.abs(got - numeric) > atol + rtol * np.abs(numeric)
                if bad.any():
                    row = int(np.argmax(bad))
                    where_out = np.unravel_index(row, out.shape) if out.shape else ()
                    where_in = np.unravel_index(col, x.shape) if x.shape else ()
                    raise GradcheckError(
                        f"gradcheck: input {position} (shape {x.shape}): d out{list(where_out)}"
                        f" / d in{list(where_in)} is {got[row]:.6g} by backward() but "
                        f"{numeric[row]:.6g} by central differences")
    _inner_product_check(fn, args, out, checked, eps, atol, rtol, seed)


def _inner_product_check(fn: Callable[..., Any], args: list[Any], out: Tensor,
                         checked: list[tuple[int, Tensor]], eps: float, atol: float,
                         rtol: float, seed: int) -> None:
    """<v, J u> from one backward() against the directional derivative along u."""
    rng = np.random.default_rng(seed)
    xp = out.backend.xp
    v = rng.standard_normal(out.shape)
    directions = {position: rng.standard_normal(x.shape) for position, x in checked}
    for _, x in checked:
        x.grad = None
    out.backward(xp.asarray(v), retain_graph=True)
    by_vjp = sum(float(np.sum(x.grad.numpy() * directions[p])) for p, x in checked
                 if x.grad is not None)
    saved = {p: x.data.copy() for p, x in checked}
    try:
        with no_grad():
            for p, x in checked:
                x.data[...] = saved[p] + eps * xp.asarray(directions[p])
            plus = np.array(_call(fn, args).numpy())  # a copy: the output may view an input
            for p, x in checked:
                x.data[...] = saved[p] - eps * xp.asarray(directions[p])
            minus = np.array(_call(fn, args).numpy())
    finally:
        for p, x in checked:
            x.data[...] = saved[p]
    by_differences = float(np.sum(v * (plus - minus) / (2 * eps)))
    if abs(by_vjp - by_differences) > atol + rtol * abs(by_differences):
        raise GradcheckError(f"gradcheck: inner-product check failed: <v, J u> is {by_vjp:.8g} "
                             f"by backward() but {by_differences:.8g} by central differences")
