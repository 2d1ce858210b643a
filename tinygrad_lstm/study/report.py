"""The study's report: box plots of the best metric per cell, the fANOVA importances, a CSV of
every trial and ``report.md`` (Markdown the docs site can include), all in the results folder.
A spec with several tasks (or lengths) gets a section, a box plot and an importance figure per
task: ``boxplot-<task>.png``, ``importance-<task>.png``.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

from tinygrad_lstm.study.analysis import Analysis, TaskAnalysis
from tinygrad_lstm.study.spec import StudySpec

BOXPLOT, IMPORTANCE, TRIALS, REPORT = "boxplot.png", "importance.png", "trials.csv", "report.md"


def figure_names(spec: StudySpec, label: str) -> tuple[str, str]:
    """The box plot's and the importance figure's file names for the task ``label``."""
    if not spec.multi_task:
        return BOXPLOT, IMPORTANCE
    safe = re.sub(r"[^A-Za-z0-9_.@-]", "_", label)
    return f"boxplot-{safe}.png", f"importance-{safe}.png"


def write(result: Analysis, spec: StudySpec, out: Path) -> Path:
    """Write the figures, ``trials.csv`` and ``report.md`` into ``out``; returns report.md."""
    for group in result.tasks:
        box, imp = figure_names(spec, group.task)
        _boxplot(group, spec, out / box)
        if group.importance:
            _importance(group, out / imp)
    _csv(result, out / TRIALS)
    path = out / REPORT
    path.write_text(markdown(result, spec))
    result.report = str(path)
    return path


def markdown(result: Analysis, spec: StudySpec, alpha: float = 0.05) -> str:
    """report.md's text: per task, the table of cells with Welch's p-values, and the
    importances."""
    tasks = ", ".join(f"`{t.label}` ({_options(t.options)})" for t in spec.tasks)
    lines = [
        f"# Study `{spec.name}`", "",
        f"Task{'s' * spec.multi_task} {tasks}; {spec.trials_per_cell} trials per cell"
        f"{' and task' * spec.multi_task}, {spec.sampler} search; the metric is each trial's "
        f"best held-out one. Mean trial time {result.mean_trial_seconds:.1f} s.", "",
    ]
    level = "##" if not spec.multi_task else "###"
    for group in result.tasks:
        if spec.multi_task:
            lines += [f"## Task `{group.task}`", ""]
        lines += _task_section(group, spec, alpha, level)
    return "\n".join(lines).rstrip("\n") + "\n"


def _options(options: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items()) or "default options"


def _task_section(group: TaskAnalysis, spec: StudySpec, alpha: float, level: str) -> list[str]:
    box, imp = figure_names(spec, group.task)
    better = "higher" if group.higher_is_better else "lower"
    lines = [
        f"Metric: best held-out {group.metric_name} ({better} is better).", "",
        f"![best {group.metric_name} per cell]({box})", "",
        f"| cell | trials | failed | median | mean | best | Welch t | p vs {group.baseline} "
        "| verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in group.cells:
        best = (max(c.values) if group.higher_is_better else min(c.values)) if c.values \
            else math.nan
        if c.cell == group.baseline:
            verdict, t, p = "baseline", "", ""
        elif c.p is None:
            verdict, t, p = "too few trials", "", ""
        else:
            t, p = f"{c.t:+.2f}", f"{c.p:.3g}"
            if c.p >= alpha:
                verdict = "no significant difference"
            else:
                up = (c.mean > group.cell(group.baseline).mean) == group.higher_is_better
                verdict = f"significantly {'better' if up else 'worse'}"
        lines.append(f"| {c.cell} | {len(c.values)} | {c.failed} | {c.median:.4g} | "
                     f"{c.mean:.4g} | {best:.4g} | {t} | {p} | {verdict} |")
    lines += ["", f"Welch's t-test (unequal variances) of each cell's best {group.metric_name} "
              f"against `{group.baseline}`'s; significant at p < {alpha}.", ""]
    lines += [f"{level} Hyperparameter importance (fANOVA)", ""]
    if group.importance:
        lines += [f"![fANOVA importance]({imp})", "", "| parameter | importance |",
                  "|---|---:|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in group.importance.items()]
        lines += ["", "Fraction of the metric's variance over the search space that each "
                  "parameter explains alone (`cell` is a parameter too)."]
    else:
        lines.append(group.importance_note)
    return lines + [""]


def summary(result: Analysis) -> str:
    """The plain-text table the CLI prints: per task, each cell's median and Welch p against
    the baseline, then where the report is."""
    lines = []
    for group in result.tasks:
        if len(result.tasks) > 1:
            lines.append(f"task {group.task} ({group.metric_name})")
        lines.append(f"{'cell':<24} {'n':>3} {'median':>9} {'mean':>9} "
                     f"{'p vs ' + group.baseline:>18}")
        for c in group.cells:
            p = "baseline" if c.cell == group.baseline else (
                "-" if c.p is None else f"{c.p:.3g}")
            lines.append(f"{c.cell:<24} {len(c.values):>3} {c.median:>9.4g} {c.mean:>9.4g} "
                         f"{p:>18}")
        if group.importance:
            lines.append("fANOVA importance: " + ", ".join(
                f"{k} {v:.2f}" for k, v in group.importance.items()))
    if result.report:
        lines.append(f"report: {result.report}")
    return "\n".join(lines)


def _plt():  # noqa: ANN202 - matplotlib's pyplot, without a display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _boxplot(group: TaskAnalysis, spec: StudySpec, path: Path) -> None:
    plt = _plt()
    cells = [c for c in group.cells if c.values]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(cells) + 1.5), 4.0))
    ax.boxplot([c.values for c in cells], showmeans=True, showfliers=False)  # dots show all
    ax.set_xticks(range(1, len(cells) + 1), [c.cell for c in cells], rotation=45, ha="right")
    for i, c in enumerate(cells, 1):
        ax.plot([i] * len(c.values), c.values, ".", color="0.4", alpha=0.6)
    ax.set_ylabel(f"best held-out {group.metric_name}")
    ax.set_title(f"{spec.name}: {group.task}, {spec.trials_per_cell} trials per cell")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _importance(group: TaskAnalysis, path: Path) -> None:
    plt = _plt()
    names = list(group.importance)[::-1]
    fig, ax = plt.subplots(figsize=(5.0, 0.45 * len(names) + 1.2))
    ax.barh(names, [group.importance[n] for n in names], color="tab:blue")
    ax.set_xlabel("fANOVA importance (fraction of variance)")
    ax.set_title(group.task)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _csv(result: Analysis, path: Path) -> None:
    keys: list[str] = []
    for row in result.trials:
        keys += [k for k in row if k not in keys]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(result.trials)
