"""The study spec: a TOML file (read with the standard library's ``tomllib``) saying which cells
to compare, on which task, how each trial trains, and the hyperparameter search space.

>>> spec = parse_spec(EXAMPLE)
>>> spec.cells[:3], spec.baseline, spec.trials_per_cell
(['peephole', 'greff-nfg', 'greff-noaf'], 'peephole', 4)
>>> spec.search["lr"]
Range(low=0.001, high=0.1, log=True, integer=False)
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinygrad_lstm import cells, tasks
from tinygrad_lstm.train import OPTIMIZERS, TrainConfig


class StudyError(ValueError):
    """A study cannot start: the message is one line naming the file, key or address at fault
    (the CLI prints it and exits with code 2)."""


EXAMPLE = '''\
# A small variant study in the spirit of Greff et al. (2015), "LSTM: A Search Space Odyssey".
# Run it with:  tinygrad-lstm study study.toml --workers 2

[study]
name = "greff-small"
# zoo names (`tinygrad-lstm cells`), Greff's variants (greff-nig, greff-nfg, greff-nog,
# greff-niaf, greff-noaf, greff-np, greff-cifg, greff-fgr) or "module:Class" for your own cell
cells = ["peephole", "greff-nfg", "greff-noaf", "greff-cifg"]
baseline = "peephole"          # each cell is compared with this one (Welch's t-test)
trials_per_cell = 4            # Greff ran 200 per variant and task
sampler = "random"             # "random" as Greff did, or "tpe"
seed = 0                       # the sampler's seed; trial k of every cell trains with seed + k

[task]
name = "temporal-order"        # a task from `tinygrad-lstm tasks`
options = { min_length = 30, max_length = 33, t1_range = [3, 6], t2_range = [15, 18] }

[train]                        # fixed for every trial (any TrainConfig field)
steps = 200
batch_size = 32
eval_every = 50
eval_size = 256
early_stop = false

# The search space, drawn per trial (Greff's Table 1 drew lr log-uniformly, the hidden size,
# momentum and input noise uniformly). A range is {low, high} with optional log = true;
# integer ranges for integer fields; choices = [...] for a categorical one.
[search]
lr = { low = 1e-3, high = 1e-1, log = true }
hidden = { low = 8, high = 32 }
clip = { low = 0.5, high = 5.0, log = true }
'''

# TrainConfig fields a search may draw, and whether they are integers
SEARCHABLE = {"lr": False, "hidden": True, "clip": False, "dropout": False, "batch_size": True,
              "layers": True, "optimizer": None}
_FIXED_ALLOWED = {f.name for f in dataclasses.fields(TrainConfig)} - {
    "cell", "task", "task_options", "seed"}


@dataclass(frozen=True)
class Range:
    """A uniform (or log-uniform) range, both ends inclusive."""

    low: float
    high: float
    log: bool = False
    integer: bool = False


@dataclass(frozen=True)
class Choice:
    """A categorical parameter."""

    choices: tuple[Any, ...]


@dataclass
class StudySpec:
    """What a study compares and how: see ``EXAMPLE`` for each field's meaning."""

    name: str
    cells: list[str]
    baseline: str
    task: str
    task_options: dict[str, Any]
    trials_per_cell: int
    train: dict[str, Any]
    search: dict[str, Range | Choice]
    sampler: str = "random"
    seed: int = 0
    source: str = ""  # where the spec came from, for messages
    folder: Path = field(default_factory=Path.cwd)  # the spec's folder: custom cells import here

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, stored with the Optuna study so a resume can check it is the same."""
        return {"name": self.name, "cells": self.cells, "baseline": self.baseline,
                "task": self.task, "task_options": self.task_options,
                "trials_per_cell": self.trials_per_cell, "train": self.train,
                "search": {k: dataclasses.asdict(v) for k, v in self.search.items()},
                "sampler": self.sampler, "seed": self.seed}

    @property
    def total_trials(self) -> int:
        return len(self.cells) * self.trials_per_cell


def load_spec(path: str | os.PathLike) -> StudySpec:
    """Read and check a study spec from a TOML file; StudyError names the file (and, for a
    syntax error, the line) on any problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise StudyError(f"cannot read study spec {path}: {err.strerror or err}") from None
    return parse_spec(text, source=str(path), folder=path.resolve().parent)


def parse_spec(text: str, source: str = "<spec>", folder: Path | None = None) -> StudySpec:
    """Parse and check a spec from TOML text (see ``load_spec``)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the same parser before it joined the standard library (the study extra has it)
        import tomli as tomllib
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise StudyError(f"{source}: not valid TOML: {err}") from None
    where = source

    def table(name: str, required: bool = True) -> dict[str, Any]:
        value = raw.get(name, None)
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise StudyError(f"{where}: needs a [{name}] table")
        return value

    unknown = set(raw) - {"study", "task", "train", "search"}
    if unknown:
        raise StudyError(f"{where}: unknown table(s) {', '.join(sorted(unknown))}; expected "
                         "[study], [task], [train], [search]")
    study, task_t, train_t = table("study"), table("task"), table("train", required=False)
    search_t = table("search", required=False)
    _no_extra(where, "study", study, {"name", "cells", "baseline", "trials_per_cell", "sampler",
                                      "seed"})
    _no_extra(where, "task", task_t, {"name", "options"})

    name = study.get("name", "study")
    if not isinstance(name, str) or not name or "/" in name:
        raise StudyError(f"{where}: [study] name must be a non-empty string without '/'")
    cell_names = study.get("cells")
    if (not isinstance(cell_names, list) or not cell_names
            or not all(isinstance(c, str) for c in cell_names)):
        raise StudyError(f"{where}: [study] cells must be a non-empty list of cell names")
    if len(set(cell_names)) != len(cell_names):
        raise StudyError(f"{where}: [study] cells lists a cell twice")
    sys_path = [str(folder)] if folder is not None else []
    for c in cell_names:
        check_cell(c, where, sys_path)
    baseline = study.get("baseline", cell_names[0])
    if baseline not in cell_names:
        raise StudyError(f"{where}: [study] baseline {baseline!r} is not one of the cells")
    trials = study.get("trials_per_cell", 10)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise StudyError(f"{where}: [study] trials_per_cell must be a positive integer, "
                         f"got {trials!r}")
    sampler = study.get("sampler", "random")
    if sampler not in ("random", "tpe"):
        raise StudyError(f"{where}: [study] sampler must be 'random' or 'tpe', got {sampler!r}")
    seed = study.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise StudyError(f"{where}: [study] seed must be a non-negative integer, got {seed!r}")

    task = task_t.get("name")
    if task not in tasks.available():
        raise StudyError(f"{where}: [task] unknown task {task!r}; choose from "
                         f"{', '.join(tasks.available())}")
    options = task_t.get("options", {})
    if not isinstance(options, dict):
        raise StudyError(f"{where}: [task] options must be a table")
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    try:
        tasks.create(task, **options)
    except (ValueError, TypeError) as err:
        raise StudyError(f"{where}: [task] {err}") from None

    bad = set(train_t) - _FIXED_ALLOWED
    if bad:
        raise StudyError(f"{where}: [train] unknown key(s) {', '.join(sorted(bad))}; allowed: "
                         f"{', '.join(sorted(_FIXED_ALLOWED))}")
    search = {key: _parse_param(where, key, value) for key, value in search_t.items()}
    both = set(search) & set(train_t)
    if both:
        raise StudyError(f"{where}: {', '.join(sorted(both))} is both fixed in [train] and "
                         "searched in [search]")
    # a trial's full configuration must be valid: check one at the middle of every range
    probe = {k: (v.choices[0] if isinstance(v, Choice) else _middle(v))
             for k, v in search.items()}
    try:
        TrainConfig(cell="lstm", task=task, task_options=options,
                    **{**train_t, **probe}).validate()
    except (TypeError, ValueError) as err:
        raise StudyError(f"{where}: [train] {err}") from None
    return StudySpec(name=name, cells=list(cell_names), baseline=baseline, task=task,
                     task_options=options, trials_per_cell=trials, train=dict(train_t),
                     search=search, sampler=sampler, seed=seed, source=source,
                     folder=folder or Path.cwd())


def check_cell(name: str, where: str, sys_path: list[str]) -> None:
    """Raise StudyError unless ``name`` is a zoo cell or an importable "module:Class" cell."""
    added = [p for p in sys_path if p not in sys.path]
    sys.path[:0] = added
    try:
        cells.resolve(name)
    except (ValueError, TypeError, ImportError, AttributeError) as err:
        raise StudyError(f"{where}: [study] cells: {err}") from None
    finally:
        for p in added:
            sys.path.remove(p)


def _no_extra(where: str, name: str, t: dict[str, Any], allowed: set[str]) -> None:
    extra = set(t) - allowed
    if extra:
        raise StudyError(f"{where}: [{name}] unknown key(s) {', '.join(sorted(extra))}; "
                         f"allowed: {', '.join(sorted(allowed))}")


def _middle(r: Range) -> float | int:
    mid = math.sqrt(r.low * r.high) if r.log else (r.low + r.high) / 2
    return round(mid) if r.integer else mid


def _parse_param(where: str, key: str, value: Any) -> Range | Choice:
    at = f"{where}: [search] {key}"
    if key not in SEARCHABLE:
        raise StudyError(f"{at}: not a searchable parameter; choose from "
                         f"{', '.join(SEARCHABLE)}")
    if not isinstance(value, dict):
        raise StudyError(f"{at}: must be a table {{low, high[, log]}} or {{choices = [...]}}")
    if "choices" in value:
        choices = value["choices"]
        if set(value) != {"choices"} or not isinstance(choices, list) or not choices:
            raise StudyError(f"{at}: choices must be a non-empty list (and alone)")
        if key == "optimizer" and set(choices) - set(OPTIMIZERS):
            raise StudyError(f"{at}: optimizers must be among {OPTIMIZERS}")
        return Choice(tuple(choices))
    if key == "optimizer":
        raise StudyError(f"{at}: the optimizer takes choices = [...], not a range")
    extra = set(value) - {"low", "high", "log"}
    if extra or "low" not in value or "high" not in value:
        raise StudyError(f"{at}: a range needs low and high (and optionally log), "
                         f"got {', '.join(sorted(value))}")
    low, high, log = value["low"], value["high"], value.get("log", False)
    integer = bool(SEARCHABLE[key])
    for end, v in (("low", low), ("high", high)):
        ok = isinstance(v, int) if integer else isinstance(v, int | float)
        if isinstance(v, bool) or not ok or not math.isfinite(v):
            kind = "an integer" if integer else "a number"
            raise StudyError(f"{at}: {end} must be {kind}, got {v!r}")
    if not low < high:
        raise StudyError(f"{at}: empty range: low {low!r} must be below high {high!r}")
    if not isinstance(log, bool):
        raise StudyError(f"{at}: log must be true or false, got {log!r}")
    if log and low <= 0:
        raise StudyError(f"{at}: a log range needs low > 0, got {low!r}")
    return Range(float(low) if not integer else int(low),
                 float(high) if not integer else int(high), log, integer)
