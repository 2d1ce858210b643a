"""Argument checks shared by the public API, so every refusal reads the same way.

One rule set, PyTorch's where it has one (``torch.optim`` accepts ``lr >= 0``, dropout takes a
probability): the modules, the optimisers, the training config and the command line all call
these, so a value one of them accepts the others accept too. A wrong type raises TypeError, a
value out of range ValueError, each naming the owner (the class or function) and the argument.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def check_int(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int, or a ValueError naming ``owner`` and ``name`` when it is not an int
    (bools are not) of at least ``minimum``.

    >>> check_int("Linear", "in_features", 0)
    Traceback (most recent call last):
    ...
    ValueError: Linear: in_features must be a positive int, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        what = {1: "a positive int", 0: "a non-negative int"}.get(minimum,
                                                                   f"an int >= {minimum}")
        raise ValueError(f"{owner}: {name} must be {what}, got {value!r}")
    return int(value)


def check_real(owner: str, name: str, value: Any, low: float | None = None, *,
               high: float | None = None, open_low: bool = False, open_high: bool = False,
               finite: bool = True) -> float:
    """``value`` as a float within [low, high] (``open_low``/``open_high`` exclude the ends; None
    is unbounded), finite unless ``finite=False`` (then inf passes the bounds like any number,
    NaN never does). TypeError for a non-number (bools are not numbers), ValueError else.

    >>> check_real("Adam", "lr", 1e-3, low=0.0)
    0.001
    >>> check_real("SGD", "lr", -1, low=0.0)
    Traceback (most recent call last):
    ...
    ValueError: SGD: lr must be >= 0.0, got -1.0
    >>> check_real("Dropout", "p", 1.0, 0, high=1, open_high=True)
    Traceback (most recent call last):
    ...
    ValueError: Dropout: p must be in [0, 1), got 1.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__} "
                        f"{value!r}")
    value = float(value)
    if finite and not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value}")
    if math.isnan(value):
        bounds = "" if low is None and high is None else \
            " " + describe_range(low, high, open_low, open_high)
        raise ValueError(f"{owner}: {name} must be a number{bounds}, got nan")
    below = low is not None and (value <= low if open_low else value < low)
    above = high is not None and (value >= high if open_high else value > high)
    if below or above:
        raise ValueError(f"{owner}: {name} must be {describe_range(low, high, open_low, open_high)}"
                         f", got {value}")
    return value


def describe_range(low: float | None, high: float | None, open_low: bool = False,
                   open_high: bool = False) -> str:
    """The words ``check_real`` uses for a range: ``>= 0.0``, ``> 0``, ``in [0, 1)``."""
    if high is None:
        return "any number" if low is None else f"{'>' if open_low else '>='} {low}"
    if low is None:
        return f"{'<' if open_high else '<='} {high}"
    return f"in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"


def check_probability(owner: str, name: str, p: Any, *, one: bool = False) -> float:
    """A probability in [0, 1) (or [0, 1] with ``one=True``), as a float; a non-number or NaN
    raises the ValueError too, since a probability is what the message asks for.

    >>> check_probability("Recurrent", "dropout", 0.5)
    0.5
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or \
            not (0 <= p <= 1 if one else 0 <= p < 1):
        raise ValueError(f"{owner}: {name} must be a probability in [0, 1{']' if one else ')'}"
                         f", got {p!r}")
    return float(p)


def check_dtype(owner: str, name: str, tensor: Any, expected: Any) -> None:
    """A DTypeError naming ``owner``, the argument ``name`` and both dtypes when ``tensor`` has
    another dtype than the module's parameters (PyTorch refuses too: an implicit cast would
    silently change the outputs' dtype, or cost precision).

    >>> import tinygrad_lstm as tl
    >>> check_dtype("LSTM", "input", tl.Tensor([1.0], dtype="float64"), "float32")
    Traceback (most recent call last):
    ...
    tinygrad_lstm.errors.DTypeError: LSTM: input has dtype float64, but the module's \
parameters are float32; cast the input (.to('float32')) or the module (.to('float64'))
    """
    got = tensor.dtype
    if got == expected:  # the common case, checked on every call of a module
        return
    import numpy as np

    from tinygrad_lstm.errors import DTypeError

    got, want = np.dtype(got), np.dtype(expected)
    if got != want:
        raise DTypeError(f"{owner}: {name} has dtype {got}, but the module's parameters are "
                         f"{want}; cast the {name} (.to('{want}')) or the module "
                         f"(.to('{got}'))")
