"""Argument checks shared by the public API, so every refusal reads the same way."""

from __future__ import annotations

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
    import numpy as np

    from tinygrad_lstm.errors import DTypeError

    got, want = np.dtype(tensor.dtype), np.dtype(expected)
    if got != want:
        raise DTypeError(f"{owner}: {name} has dtype {got}, but the module's parameters are "
                         f"{want}; cast the {name} (.to('{want}')) or the module "
                         f"(.to('{got}'))")
