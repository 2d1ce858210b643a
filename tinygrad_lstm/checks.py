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
