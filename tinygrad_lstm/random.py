"""One seeded source of randomness for initialisation and dropout masks.

>>> import tinygrad_lstm as tl
>>> tl.manual_seed(0); a = tl.random.generator().random()
>>> tl.manual_seed(0); a == tl.random.generator().random()
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reseed the generator behind parameter initialisation and dropout."""
    global _generator
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _generator = np.random.default_rng(int(seed))


def generator() -> np.random.Generator:
    """The current generator (host side; arrays it draws are moved to the backend)."""
    return _generator


def get_state() -> dict[str, Any]:
    """The generator's state, for checkpoints (a JSON-able dict)."""
    return _generator.bit_generator.state


def set_state(state: dict[str, Any]) -> None:
    """Restore a state from ``get_state()``."""
    _generator.bit_generator.state = state
