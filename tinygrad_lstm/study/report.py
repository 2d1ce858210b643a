"""The study's report: box plots of the best metric per cell, the fANOVA importances, a CSV of
every trial and ``report.md`` (Markdown the docs site can include), all in the results folder.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from tinygrad_lstm.study.analysis import Analysis
from tinygrad_lstm.study.spec import StudySpec

BOXPLOT, IMPORTANCE, TRIALS, REPORT = "boxplot.png", "importance.png", "trials.csv", "report.md"


def write(result: Analysis, spec: StudySpec, out: Path) -> Path:
    """Write the figures, ``trials.csv`` and ``report.md`` into ``out``; returns report.md."""
    _boxplot(result, spec, out / BOXPLOT)
    if result.importance:
        _importance(result, out / IMPORTANCE)
    _csv(result, out / TRIALS)
    path = out / REPORT
    path.write_text(markdown(result, spec))
    result.report = str(path)
    return path


def markdown(result: Analysis, spec: StudySpec, alpha: float = 0.05) -> str:
    """report.md's text: the table of cells with Welch's p-values, and the importances."""
    better = "higher" if result.higher_is_better else "lower"
    opts = ", ".join(f"{k}={v}" for k, v in spec.task_options.items()) or "default options"
    lines = [
        f"# Study `{spec.name}`", "",
        f"Task `{spec.task}` ({opts}); {spec.trials_per_cell} trials per cell, "
        f"{spec.sampler} search; metric: best held-out {result.metric_name} of each trial "
        f"({better} is better). Mean trial time {result.mean_trial_seconds:.1f} s.", "",
        f"![best {result.metric_name} per cell]({BOXPLOT})", "",
        f"| cell | trials | failed | median | mean | best | Welch t | p vs {result.baseline} "
        "| verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in result.cells:
        best = (max(c.values) if result.higher_is_better else min(c.values)) if c.values \
            else math.nan
        if c.cell == result.baseline:
            verdict, t, p = "baseline", "", ""
        elif c.p is None:
            verdict, t, p = "too few trials", "", ""
        else:
            t, p = f"{c.t:+.2f}", f"{c.p:.3g}"
            if c.p >= alpha:
                verdict = "no significant difference"
            else:
                up = (c.mean > result.cell(result.baseline).mean) == result.higher_is_better
                verdict = f"significantly {'better' if up else 'worse'}"
        lines.append(f"| {c.cell} | {len(c.values)} | {c.failed} | {c.median:.4g} | "
                     f"{c.mean:.4g} | {best:.4g} | {t} | {p} | {verdict} |")
    lines += ["", f"Welch's t-test (unequal variances) of each cell's best {result.metric_name} "
              f"against `{result.baseline}`'s; significant at p < {alpha}.", ""]
    lines += ["## Hyperparameter importance (fANOVA)", ""]
    if result.importance:
        lines += [f"![fANOVA importance]({IMPORTANCE})", "", "| parameter | importance |",
                  "|---|---:|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in result.importance.items()]
        lines += ["", "Fraction of the metric's variance over the search space that each "
                  "parameter explains alone (`cell` is a parameter too)."]
    else:
        lines.append(result.importance_note)
    return "\n".join(lines) + "\n"


def summary(result: Analysis) -> str:
    """The plain-text table the CLI prints: each cell's median and Welch p against the
    baseline, then where the report is."""
    lines = [f"{'cell':<24} {'n':>3} {'median':>9} {'mean':>9} {'p vs ' + result.baseline:>18}"]
    for c in result.cells:
        p = "baseline" if c.cell == result.baseline else ("-" if c.p is None else f"{c.p:.3g}")
        lines.append(f"{c.cell:<24} {len(c.values):>3} {c.median:>9.4g} {c.mean:>9.4g} "
                     f"{p:>18}")
    if result.importance:
        lines.append("fANOVA importance: " + ", ".join(
            f"{k} {v:.2f}" for k, v in result.importance.items()))
    if result.report:
        lines.append(f"report: {result.report}")
    return "\n".join(lines)


def _plt():  # noqa: ANN202 - matplotlib's pyplot, without a display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _boxplot(result: Analysis, spec: StudySpec, path: Path) -> None:
    plt = _plt()
    cells = [c for c in result.cells if c.values]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(cells) + 1.5), 4.0))
    ax.boxplot([c.values for c in cells], showmeans=True, showfliers=False)  # dots show all
    ax.set_xticks(range(1, len(cells) + 1), [c.cell for c in cells], rotation=45, ha="right")
    for i, c in enumerate(cells, 1):
        ax.plot([i] * len(c.values), c.values, ".", color="0.4", alpha=0.6)
    ax.set_ylabel(f"best held-out {result.metric_name}")
    ax.set_title(f"{spec.name}: {spec.task}, {spec.trials_per_cell} trials per cell")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _importance(result: Analysis, path: Path) -> None:
    plt = _plt()
    names = list(result.importance)[::-1]
    fig, ax = plt.subplots(figsize=(5.0, 0.45 * len(names) + 1.2))
    ax.barh(names, [result.importance[n] for n in names], color="tab:blue")
    ax.set_xlabel("fANOVA importance (fraction of variance)")
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
