"""Chrono initialisation (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?",
section 4): the checks of its options. The draw itself is ``Cell._start_bias``: per unit
u ~ U(1, t_max - 1), b = +log u for a gate that keeps the old state and -log u for one that
admits the new, one u shared by both."""

from __future__ import annotations

import math
import numbers
from typing import Any


def check_chrono(owner: str, init: str, t_max: Any, forget_bias: float | None,
                  gate_bias: dict[str, float], chrono_gates: dict[str, int]) -> float | None:
    """Validate ``t_max`` against ``init``; returns it as a float (None without chrono)."""
    if init != "chrono":
        if t_max is not None:
            raise ValueError(f"{owner}: t_max is for init='chrono' only, got init={init!r}")
        return None
    if not chrono_gates:
        raise ValueError(f"{owner}: init='chrono' needs gates that keep or admit the state "
                         "(chrono_gates), and this cell declares none")
    if t_max is None:
        raise ValueError(f"{owner}: init='chrono' needs t_max, the longest dependency in steps")
    if isinstance(t_max, bool) or not isinstance(t_max, numbers.Real) or not (
            math.isfinite(t_max) and t_max >= 2):
        raise ValueError(f"{owner}: t_max must be a finite number >= 2, got {t_max!r}")
    if forget_bias is not None:
        raise ValueError(f"{owner}: init='chrono' sets the forget gate's bias itself; drop "
                         "forget_bias")
    both = sorted(set(gate_bias) & set(chrono_gates))
    if both:
        raise ValueError(f"{owner}: init='chrono' sets the biases of {both} itself; drop them "
                         "from gate_bias")
    return float(t_max)
