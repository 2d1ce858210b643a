"""The CPU backend: NumPy is the ``xp`` namespace, unchanged."""

from __future__ import annotations

import numpy as np

from backends.base import Backend


class NumpyBackend(Backend):
    """NumPy on the CPU. Needs nothing beyond NumPy itself."""

    name = "numpy"
    xp = np
