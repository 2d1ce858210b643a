"""The analysis of a finished study, as Greff et al. (2015) did theirs, within each task (and
length): per cell the distribution of the best held-out metric (their Figure 3), each cell
against the baseline by Welch's t-test (their significance test, p < 0.05), and the
hyperparameters' importance by fANOVA (Hutter et al. 2014; their Section 6), here
``optuna.importance``'s evaluator.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from tinygrad_lstm.study.search import slot_done, task_of
from tinygrad_lstm.study.spec import StudySpec


@dataclass
class CellSummary:
    """One cell's trials: the best held-out metric of each completed trial, and its test
    against the baseline (p is None for the baseline itself or with fewer than 2 values)."""

    cell: str
    values: list[float]
    failed: int
    t: float | None = None
    p: float | None = None

    @property
    def median(self) -> float:
        return float(np.median(self.values)) if self.values else math.nan

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else math.nan


@dataclass
class TaskAnalysis:
    """One task (at one length): its cells' summaries and its fANOVA importances."""

    task: str  # the task's label in the spec
    metric_name: str
    higher_is_better: bool
    baseline: str
    cells: list[CellSummary]
    importance: dict[str, float] = field(default_factory=dict)
    importance_note: str = ""

    def cell(self, name: str) -> CellSummary:
        return next(c for c in self.cells if c.cell == name)


@dataclass
class Analysis:
    """What ``report.write`` turns into figures and report.md: one TaskAnalysis per task and
    length of the spec, in its order."""

    baseline: str
    tasks: list[TaskAnalysis]
    trials: list[dict[str, Any]] = field(default_factory=list)
    mean_trial_seconds: float = math.nan
    report: str = ""  # report.md's path, once written

    def task(self, label: str | None = None) -> TaskAnalysis:
        """The analysis of the task labelled ``label`` (it may be left out when there is one);
        raises ValueError for an unknown or missing label."""
        if label is None and len(self.tasks) == 1:
            return self.tasks[0]
        for t in self.tasks:
            if t.task == label:
                return t
        raise ValueError(f"no task {label!r} in this study; its tasks: "
                         f"{', '.join(t.task for t in self.tasks)}")

    def cell(self, name: str, task: str | None = None) -> CellSummary:
        return self.task(task).cell(name)

    @property
    def importance(self) -> dict[str, float]:
        """The single task's fANOVA importances (``task(label).importance`` for several)."""
        return self.task().importance


def analyse(study: optuna.Study, spec: StudySpec, alpha: float = 0.05) -> Analysis:
    """Per task and length: summaries, Welch's t-tests against ``spec.baseline`` and fANOVA
    importances."""
    finished = [t for t in study.get_trials(deepcopy=False) if slot_done(t)]
    groups = []
    for task_spec in spec.tasks:
        task = task_spec.create()
        mine = [t for t in finished if task_of(t, spec) == task_spec.label]
        summaries = _cells(mine, spec)
        if spec.multi_task:
            importance, note = _importance(_sub_study(study, mine, task.higher_is_better))
        else:
            importance, note = _importance(study)
        groups.append(TaskAnalysis(task_spec.label, task.metric_name, task.higher_is_better,
                                   spec.baseline, summaries, importance, note))
    rows = []
    for t in sorted(finished, key=lambda t: t.number):
        rows.append({"number": t.number, "slot": t.user_attrs.get("slot"),
                     "state": t.state.name, "value": t.value, **t.params,
                     "seconds": t.user_attrs.get("seconds"),
                     "fail_reason": t.user_attrs.get("fail_reason", "")})
    secs = [r["seconds"] for r in rows if r["seconds"] is not None]
    return Analysis(spec.baseline, groups, rows, float(np.mean(secs)) if secs else math.nan)


def _cells(finished: list[Any], spec: StudySpec) -> list[CellSummary]:
    """Each cell's values and its Welch's t-test against the baseline's, within one task."""
    from scipy import stats

    summaries = []
    for cell in spec.cells:
        mine = [t for t in finished if t.user_attrs.get("cell") == cell]
        values = [float(t.value) for t in mine if t.state == TrialState.COMPLETE]
        summaries.append(CellSummary(cell, values, sum(t.state != TrialState.COMPLETE
                                                       for t in mine)))
    base = next(s for s in summaries if s.cell == spec.baseline)
    for s in summaries:
        if s is base or len(s.values) < 2 or len(base.values) < 2:
            continue
        if np.ptp(s.values) == 0 and np.ptp(base.values) == 0:
            # both constant: the test is undefined; equal constants do not differ at all
            s.t, s.p = 0.0, 1.0 if s.values[0] == base.values[0] else 0.0
            continue
        with warnings.catch_warnings():  # nearly equal values: the p-value still stands
            warnings.simplefilter("ignore", RuntimeWarning)
            res = stats.ttest_ind(s.values, base.values, equal_var=False)
        s.t, s.p = float(res.statistic), float(res.pvalue)
    return summaries


def _sub_study(study: optuna.Study, trials: list[Any], higher: bool) -> optuna.Study:
    """An in-memory study of one task's completed trials, without the (then constant) task
    parameter: metrics of different tasks are not comparable, so fANOVA runs per task."""
    sub = optuna.create_study(direction="maximize" if higher else "minimize")
    for t in trials:
        if t.state != TrialState.COMPLETE:
            continue
        params = {k: v for k, v in t.params.items() if k != "task"}
        dists = {k: v for k, v in t.distributions.items() if k != "task"}
        sub.add_trial(optuna.trial.create_trial(params=params, distributions=dists,
                                                value=t.value))
    return sub


def _importance(study: optuna.Study) -> tuple[dict[str, float], str]:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 4:
        return {}, f"fANOVA needs at least 4 completed trials, the study has {len(complete)}"
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        imp = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (ValueError, RuntimeError) as err:
        return {}, f"fANOVA could not run: {err}"
    return {k: float(v) for k, v in imp.items()}, ""
