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

from tinygrad_lstm.registry import Registry
from tinygrad_lstm.tasks.adding import AddingProblem, AddingProblem2016
from tinygrad_lstm.tasks.base import Batch, Task, TaskOption
from tinygrad_lstm.tasks.copying import CopyTask
from tinygrad_lstm.tasks.france import FranceTask
from tinygrad_lstm.tasks.reber import EmbeddedReber
from tinygrad_lstm.tasks.temporal_order import TemporalOrder

__all__ = [
    "AddingProblem", "AddingProblem2016", "Batch", "CopyTask", "EmbeddedReber", "FranceTask",
    "Task", "TaskOption", "TemporalOrder", "available", "create", "get", "names", "register",
    "unregister",
]

_TASKS: Registry[type[Task]] = Registry("task")


def register(cls: type[Task], name: str | None = None) -> None:
    """Add a ``Task`` subclass under ``name`` (its ``cls.name`` by default): ``create``, the
    trainer, studies and the command line (with the task's ``options``) then know it.
    Raises TypeError for anything but a Task subclass."""
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise TypeError(f"register: a task must be a Task subclass, got {cls!r}")
    _TASKS.register(cls.name if name is None else name, cls, cls.description)


def unregister(name: str) -> None:
    """Remove the task registered as ``name`` (ValueError if there is none)."""
    _TASKS.unregister(name)


for _cls in (AddingProblem, AddingProblem2016, CopyTask, EmbeddedReber, TemporalOrder,
             FranceTask):
    register(_cls)


def available() -> dict[str, str]:
    """Every registered task by name, with a one-line description."""
    return _TASKS.available()


def names() -> list[str]:
    """Every registered task's name."""
    return _TASKS.names()


def get(name: str) -> type[Task]:
    """The task class registered as ``name`` (ValueError listing the names if none)."""
    return _TASKS.get(name)


def create(name: str, **options: Any) -> Task:
    """A registered task by its name in ``available()``, built with ``options`` (e.g.
    ``length``, ``gap``); bad option values raise ValueError naming the option."""
    cls = _TASKS.get(name)
    try:
        return cls(**options)
    except TypeError as err:  # an option the task does not have
        raise TypeError(f"task {name!r}: {err}") from None
