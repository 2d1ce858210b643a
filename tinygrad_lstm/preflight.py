"""Checks a run makes before it builds anything: can its folder be made, does it fit in memory.

Each returns ``None`` when all is well, else one line saying what is wrong and what to change;
``tl.train`` raises them as ``RunError`` before a folder or a tensor is created, so a mistake
costs neither an empty run folder nor a machine swapping itself to death.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

GiB = 1024**3
# floats kept per (step, sequence, hidden unit, layer): the gates before and after their
# nonlinearities, the states and the tape's saved inputs of a training step; an evaluation
# (no tape) keeps the outputs and a step's temporaries
_TRAIN_FLOATS, _EVAL_FLOATS = 24, 4
_PROBE_SIZES = (4, 8, 16)


def folder_problem(folder: str | os.PathLike, flag: str = "--out") -> str | None:
    """Why ``folder`` cannot be (or hold) a new run's folder, or None."""
    path = Path(folder).absolute()
    if path.exists():
        if not path.is_dir():
            return f"{flag} {folder}: that is a file, not a folder; choose another {flag}"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{flag} {folder}: no permission to write in it; choose another {flag}"
        return None
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return (f"{flag} {folder}: cannot create it, {ancestor} is a file, not a folder; "
                f"choose another {flag}")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return (f"{flag} {folder}: cannot create it, no permission to write in {ancestor}; "
                f"choose another {flag}")
    return None


def memory_bytes() -> int | None:
    """This machine's physical memory, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def sequence_steps(task: Any) -> int:
    """The longest sequence ``task`` makes, read off its settings (never by making data)."""
    for name in ("steps", "max_length", "length"):
        value = getattr(task, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    gap = getattr(task, "gap", None)
    if isinstance(gap, int):
        return gap + 20  # the sentence around the gap
    return task.batch(1, rng=0).steps


def _fit_quadratic(points: list[tuple[int, int]], at: int) -> float:
    (x0, y0), (x1, y1), (x2, y2) = points  # Lagrange through three points
    return (y0 * (at - x1) * (at - x2) / ((x0 - x1) * (x0 - x2))
            + y1 * (at - x0) * (at - x2) / ((x1 - x0) * (x1 - x2))
            + y2 * (at - x0) * (at - x1) / ((x2 - x0) * (x2 - x1)))


def parameter_count(spec: Any, input_size: int, hidden: int, layers: int,
                    options: dict[str, Any]) -> float | None:
    """The cell stack's parameter count at ``hidden``, extrapolated from small cells (the
    count is quadratic in the hidden size); None if a small cell cannot be built."""
    def count(i: int, h: int) -> int:
        cell = spec.build(i, h, **options)
        cell.parameters()  # tracing step creates the gates
        return sum(math.prod(p.shape) for p in cell.parameters())

    try:
        first = [(h, count(input_size, h)) for h in _PROBE_SIZES]
    except Exception:  # noqa: BLE001 - e.g. a cell whose input must be as wide as h
        try:
            first = [(h, count(h, h)) for h in _PROBE_SIZES]
        except Exception:  # noqa: BLE001 - the real build will say what is wrong
            return None
    total = _fit_quadratic(first, hidden)
    if layers > 1:
        try:
            deeper = [(h, count(h, h)) for h in _PROBE_SIZES]
        except Exception:  # noqa: BLE001
            deeper = first
        total += (layers - 1) * _fit_quadratic(deeper, hidden)
    return total


def size_problem(config: Any, task: Any, spec: Any) -> str | None:
    """Why the run would not fit in this machine's memory, or None (a rough estimate: it
    refuses only runs that need more than all of the memory there is)."""
    available = memory_bytes()
    if available is None:
        return None
    steps = sequence_steps(task)
    item = 8 if str(config.cell_options.get("dtype", "")) in ("float64", "<class "
                                                              "'numpy.float64'>") else 4
    params = parameter_count(spec, task.input_size, config.hidden, config.layers,
                             config.cell_options) or 0.0
    weights = 4 * params * item  # parameters, gradients, two optimiser moments
    activations = item * steps * config.hidden * config.layers * (
        _TRAIN_FLOATS * config.batch_size + _EVAL_FLOATS * config.eval_size)
    data = 4 * steps * (config.batch_size + config.eval_size) * (task.input_size + 1)
    need = weights + activations + data
    if need <= available:
        return None
    if weights >= activations + data:
        fix = f"a smaller --hidden (about {params:.3g} parameters)"
    else:
        fix = (f"shorter sequences ({steps:,} steps now: --seq-len, or --gap for france) or a "
               "smaller --batch-size, --eval-size or --hidden")
    return (f"this run needs about {need / GiB:,.0f} GiB of memory and the machine has "
            f"{available / GiB:,.0f} GiB; use {fix}")
