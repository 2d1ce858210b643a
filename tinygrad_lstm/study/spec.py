"""The study spec: a TOML file (read with the standard library's ``tomllib``) saying which cells
to compare, on which tasks and lengths, how each trial trains, and the hyperparameter search
space.

>>> spec = parse_spec(EXAMPLE)
>>> spec.cells[:3], spec.baseline, spec.trials_per_cell
(['peephole', 'greff-nfg', 'greff-noaf'], 'peephole', 3)
>>> [t.label for t in spec.tasks]
['temporal-order@30', 'temporal-order@60', 'adding']
>>> spec.search["lr"]
Range(low=0.001, high=0.1, log=True, integer=False, one_minus=False)
>>> spec.search["momentum"].one_minus  # Greff's momentum: 1 - a log-uniform draw in [0.01, 1]
True
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
trials_per_cell = 3            # per task and length; Greff ran 200 per variant and task
sampler = "random"             # "random" as Greff did, or "tpe"
seed = 0                       # the sampler's seed; trial k of every cell trains with seed + k

# The tasks: one [[task]] table each (a single [task] table works too). Every (task, length,
# cell) gets trials_per_cell trials; the report compares the cells within each task and length.
[[task]]
name = "temporal-order"        # a task from `tinygrad-lstm tasks`
options = { t1_range = [3, 6], t2_range = [15, 18] }
lengths = [30, 60]             # trials at each length: temporal-order@30, temporal-order@60

[[task]]
name = "adding"
options = { length = 30 }

[train]                        # fixed for every trial (any TrainConfig field)
optimizer = "sgd"              # Greff trained with SGD and momentum
steps = 200
batch_size = 32
eval_every = 50
eval_size = 256
early_stop = false

# The search space, drawn per trial (Greff's Table 1 drew lr log-uniformly, the hidden size,
# momentum and input noise uniformly). A range is {low, high} with optional log = true;
# integer ranges for integer fields; choices = [...] for a categorical one. one_minus = true
# draws 1 - the parameter instead (Greff's momentum: 1 - log-uniform in [0.01, 1]).
[search]
lr = { low = 1e-3, high = 1e-1, log = true }
hidden = { low = 8, high = 32 }
momentum = { low = 0.01, high = 1.0, log = true, one_minus = true }
input_noise = { low = 0.0, high = 1.0 }
clip = { low = 0.5, high = 5.0, log = true }
'''

# TrainConfig fields a search may draw, and whether they are integers
SEARCHABLE = {"lr": False, "hidden": True, "clip": False, "dropout": False, "batch_size": True,
              "layers": True, "momentum": False, "input_noise": False, "optimizer": None}
# what a task's ``lengths = [...]`` sets: the option(s) that make its sequences longer
LENGTH_OPTIONS = {"adding": ("length",), "adding2016": ("length",), "copy": ("length",),
                  "temporal-order": ("min_length", "max_length"), "reber": ("max_length",),
                  "france": ("gap",)}
_FIXED_ALLOWED = {f.name for f in dataclasses.fields(TrainConfig)} - {
    "cell", "task", "task_options", "seed"}


@dataclass(frozen=True)
class Range:
    """A uniform (or log-uniform) range, both ends inclusive; with ``one_minus`` the draw v
    sets the parameter to 1 - v (Greff et al. 2015 drew their momentum so)."""

    low: float
    high: float
    log: bool = False
    integer: bool = False
    one_minus: bool = False

    def value(self, v: float) -> float:
        """The parameter's value for a draw ``v``."""
        return 1.0 - v if self.one_minus else v


@dataclass(frozen=True)
class Choice:
    """A categorical parameter."""

    choices: tuple[Any, ...]


@dataclass(frozen=True)
class TaskSpec:
    """One task of a study at one length: ``label`` names it in slots, reports and figures."""

    label: str
    name: str
    options: dict[str, Any]

    def create(self) -> tasks.Task:
        return tasks.create(self.name, **self.options)


@dataclass
class StudySpec:
    """What a study compares and how: see ``EXAMPLE`` for each field's meaning."""

    name: str
    cells: list[str]
    baseline: str
    tasks: list[TaskSpec]
    trials_per_cell: int
    train: dict[str, Any]
    search: dict[str, Range | Choice]
    sampler: str = "random"
    seed: int = 0
    source: str = ""  # where the spec came from, for messages
    folder: Path = field(default_factory=Path.cwd)  # the spec's folder: custom cells import here

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, stored with the Optuna study so a resume can check it is the same."""
        if self.multi_task:
            where: dict[str, Any] = {"tasks": [dataclasses.asdict(t) for t in self.tasks]}
        else:  # as specs of one task always were, so their stored studies still resume
            where = {"task": self.tasks[0].name, "task_options": self.tasks[0].options}
        search = {}
        for k, v in self.search.items():
            search[k] = dataclasses.asdict(v)
            if isinstance(v, Range) and not v.one_minus:
                del search[k]["one_minus"]
        return {"name": self.name, "cells": self.cells, "baseline": self.baseline, **where,
                "trials_per_cell": self.trials_per_cell, "train": self.train,
                "search": search, "sampler": self.sampler, "seed": self.seed}

    @property
    def multi_task(self) -> bool:
        """Whether the study has more than one (task, length)."""
        return len(self.tasks) > 1

    def task(self, label: str) -> TaskSpec:
        """The task (at its length) labelled ``label``."""
        return next(t for t in self.tasks if t.label == label)

    @property
    def total_trials(self) -> int:
        return len(self.tasks) * len(self.cells) * self.trials_per_cell


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
    study, train_t = table("study"), table("train", required=False)
    search_t = table("search", required=False)
    _no_extra(where, "study", study, {"name", "cells", "baseline", "trials_per_cell", "sampler",
                                      "seed"})

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

    task_specs = _parse_tasks(where, raw.get("task"))
    if sampler == "tpe" and len({t.create().higher_is_better for t in task_specs}) > 1:
        raise StudyError(f"{where}: [task] mixes metrics where higher is better with ones where "
                         "lower is; TPE needs one direction (use sampler = \"random\", or two "
                         "specs)")

    bad = set(train_t) - _FIXED_ALLOWED
    if bad:
        raise StudyError(f"{where}: [train] unknown key(s) {', '.join(sorted(bad))}; allowed: "
                         f"{', '.join(sorted(_FIXED_ALLOWED))}")
    search = {key: _parse_param(where, key, value) for key, value in search_t.items()}
    both = set(search) & set(train_t)
    if both:
        raise StudyError(f"{where}: {', '.join(sorted(both))} is both fixed in [train] and "
                         "searched in [search]")
    # a trial's full configuration must be valid: check the middle and both ends of every range
    for at in ("middle", "low", "high"):
        probe = {k: (v.choices[0] if isinstance(v, Choice) else _probe(v, at))
                 for k, v in search.items()}
        try:
            TrainConfig(cell="lstm", task=task_specs[0].name, task_options=task_specs[0].options,
                        **{**train_t, **probe}).validate()
        except (TypeError, ValueError) as err:
            table_name = "train" if at == "middle" else "search"
            raise StudyError(f"{where}: [{table_name}] {err}") from None
    return StudySpec(name=name, cells=list(cell_names), baseline=baseline, tasks=task_specs,
                     trials_per_cell=trials, train=dict(train_t), search=search,
                     sampler=sampler, seed=seed, source=source, folder=folder or Path.cwd())


def _parse_tasks(where: str, value: Any) -> list[TaskSpec]:
    """``[task]`` (one table) or ``[[task]]`` (several), each perhaps at several ``lengths``."""
    if isinstance(value, dict):
        entries = [value]
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        entries = value
    else:
        raise StudyError(f"{where}: needs a [task] table or [[task]] tables")
    out: list[TaskSpec] = []
    for i, entry in enumerate(entries):
        at = f"{where}: [task]" if len(entries) == 1 else f"{where}: [[task]] #{i + 1}"
        _no_extra(where, "task", entry, {"name", "options", "lengths", "label"})
        task = entry.get("name")
        if task not in tasks.available():
            raise StudyError(f"{at} unknown task {task!r}; choose from "
                             f"{', '.join(tasks.available())}")
        options = entry.get("options", {})
        if not isinstance(options, dict):
            raise StudyError(f"{at} options must be a table")
        options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
        label = entry.get("label", task)
        if not isinstance(label, str) or not label or "/" in label:
            raise StudyError(f"{at} label must be a non-empty string without '/'")
        lengths = entry.get("lengths")
        if lengths is None:
            variants = [(label, options)]
        else:
            if task not in LENGTH_OPTIONS:
                raise StudyError(f"{at} the {task!r} task has no length to vary")
            if (not isinstance(lengths, list) or not lengths or len(set(lengths)) != len(lengths)
                    or not all(isinstance(n, int) and not isinstance(n, bool) for n in lengths)):
                raise StudyError(f"{at} lengths must be a non-empty list of distinct integers, "
                                 f"got {lengths!r}")
            keys = LENGTH_OPTIONS[task]
            clash = set(keys) & set(options)
            if clash:
                raise StudyError(f"{at} lengths sets {', '.join(sorted(clash))}; leave it out "
                                 "of options")
            variants = [(f"{label}@{n}", {**options, **dict.fromkeys(keys, n)})
                        for n in lengths]
        for lab, opts in variants:
            try:
                tasks.create(task, **opts)
            except (ValueError, TypeError) as err:
                raise StudyError(f"{at} {lab}: {err}") from None
            if any(t.label == lab for t in out):
                raise StudyError(f"{at} the label {lab!r} is taken; give this task a label")
            out.append(TaskSpec(lab, task, opts))
    return out


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


def _probe(r: Range, at: str) -> float | int:
    if at != "middle":
        return r.value(r.low if at == "low" else r.high)
    mid = math.sqrt(r.low * r.high) if r.log else (r.low + r.high) / 2
    return round(mid) if r.integer else r.value(mid)


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
    extra = set(value) - {"low", "high", "log", "one_minus"}
    if extra or "low" not in value or "high" not in value:
        raise StudyError(f"{at}: a range needs low and high (and optionally log, one_minus), "
                         f"got {', '.join(sorted(value))}")
    low, high, log = value["low"], value["high"], value.get("log", False)
    one_minus = value.get("one_minus", False)
    integer = bool(SEARCHABLE[key])
    if not isinstance(one_minus, bool) or (one_minus and integer):
        raise StudyError(f"{at}: one_minus must be true or false, and only for a real-valued "
                         f"parameter, got {one_minus!r}")
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
                 float(high) if not integer else int(high), log, integer, one_minus)
