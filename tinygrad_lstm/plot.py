"""Learning curves of training runs, from their ``metrics.jsonl`` (matplotlib, optional).

``tinygrad-lstm plot RUN_DIR [RUN_DIR ...]`` and the end of ``tinygrad-lstm train`` call
``plot_runs``: one figure, the training and held-out loss on the left (log scale) and the
task's metric on the right, one colour per run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

METRICS = "metrics.jsonl"


class PlotError(ValueError):
    """A run folder or an output path that cannot be plotted: the message says why."""


def read_metrics(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """The evaluations logged in ``folder/metrics.jsonl``, in order. Raises ``PlotError``."""
    path = Path(folder) / METRICS
    if not Path(folder).is_dir():
        raise PlotError(f"{folder} is not a folder (give a run folder made by `train`)")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlotError(f"{folder} holds no {METRICS} (not a run folder, or no evaluation "
                        "yet)") from None
    except OSError as err:
        raise PlotError(f"cannot read {path}: {err.strerror or err}") from None
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise PlotError(f"{path}, line {number}: not JSON") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("step"), int):
            raise PlotError(f"{path}, line {number}: not an evaluation record")
        entries.append(entry)
    if not entries:
        raise PlotError(f"{path} is empty: the run has not reached its first evaluation")
    return entries


def _label(folder: Path) -> str:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return f"{folder.name} ({config['cell']}, {config['task']})"
    except (OSError, ValueError, KeyError, TypeError):
        return folder.name


def plot_runs(folders: list[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Draw the runs' learning curves into the image ``out`` (PNG, SVG or PDF, by suffix).

    Raises ``PlotError`` for a folder that is not a run, an unwritable ``out``, or when
    matplotlib is not installed.
    """
    runs = [(Path(f), read_metrics(f)) for f in folders]
    out = Path(out)
    if out.is_dir():
        raise PlotError(f"{out} is a folder; give an image file name such as curves.png")
    if not out.parent.is_dir():
        raise PlotError(f"cannot write {out}: {out.parent} is not a folder")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("plotting needs matplotlib: pip install matplotlib (or the "
                        "package's [demo] extra)") from None
    fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    for folder, entries in runs:
        steps = [e["step"] for e in entries]
        label = _label(folder)
        line = loss_ax.plot(steps, [e.get("eval_loss") for e in entries], label=label)[0]
        train_loss = [(e["step"], e["train_loss"]) for e in entries
                      if e.get("train_loss") is not None]
        if train_loss:
            loss_ax.plot(*zip(*train_loss, strict=True), linestyle=":",
                         color=line.get_color())
        metric_ax.plot(steps, [e.get("metric") for e in entries], marker="o", markersize=2,
                       color=line.get_color(), label=label)
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("training step")
    loss_ax.set_ylabel("loss (held-out solid, training dotted)")
    metric_ax.set_xlabel("training step")
    metric_ax.set_ylabel("held-out metric")
    metric_ax.legend(fontsize="small")
    for ax in (loss_ax, metric_ax):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(out)
    except (OSError, ValueError) as err:
        raise PlotError(f"cannot write {out}: {err}") from None
    finally:
        plt.close(fig)
    return out
