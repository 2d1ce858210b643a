"""Tasks that show the long-term dependency problem: seeded generators with metrics and baselines.

Each task makes batches of time-major NumPy arrays (see ``tinygrad_lstm.tasks.base``), scores
predictions with its own success metric, and says what a model without memory would score.

>>> import tinygrad_lstm.tasks as tasks
>>> sorted(tasks.available())
['adding', 'adding2016', 'copy', 'france', 'reber', 'temporal-order']
>>> task = tasks.create("france", gap=30)
>>> b = task.batch(256, rng=0)
>>> task.metric(task.memoryless_predictions(b), b) < 0.35 < task.solved_at
True
"""

from __future__ import annotations

from typing import Any

from tinygrad_lstm.tasks.adding import AddingProblem, AddingProblem2016
from tinygrad_lstm.tasks.base import Batch, Task
from tinygrad_lstm.tasks.copying import CopyTask
from tinygrad_lstm.tasks.france import FranceTask
from tinygrad_lstm.tasks.reber import EmbeddedReber
from tinygrad_lstm.tasks.temporal_order import TemporalOrder

__all__ = [
    "AddingProblem", "AddingProblem2016", "Batch", "CopyTask", "EmbeddedReber", "FranceTask",
    "Task", "TemporalOrder", "available", "create",
]

_REGISTRY: dict[str, type[Task]] = {
    cls.name: cls
    for cls in (AddingProblem, AddingProblem2016, CopyTask, EmbeddedReber, TemporalOrder,
                FranceTask)
}


def available() -> dict[str, str]:
    """Every built-in task by name, with a one-line description."""
    return {name: cls.description for name, cls in _REGISTRY.items()}


def create(name: str, **options: Any) -> Task:
    """A built-in task by its name in ``available()``, built with ``options`` (e.g. ``length``,
    ``gap``); bad option values raise ValueError naming the option."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown task {name!r}; available: {', '.join(_REGISTRY)}")
    try:
        return _REGISTRY[name](**options)
    except TypeError as err:  # an option the task does not have
        raise TypeError(f"task {name!r}: {err}") from None
