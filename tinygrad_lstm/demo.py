"""``tinygrad-lstm demo``: the essay's central claim, shown on the essay's own example.

"I grew up in France ... I speak fluent French": the language at the end depends on the country
named ``gap`` words earlier. A vanilla RNN, an LSTM and a GRU train on the same batches; the
demo prints a table, and writes the learning curves (PNG), the metrics (JSON) and the LSTM's
equations (LaTeX, read off the graph of its step) into a new folder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tinygrad_lstm import tasks
from tinygrad_lstm.cells import LSTM
from tinygrad_lstm.context import backends_available, set_backend
from tinygrad_lstm.preflight import folder_problem
from tinygrad_lstm.symbolic.printer import latex
from tinygrad_lstm.train import RunError, TrainConfig, check_size, train

#: The gap and budget where, on 2 CPU cores in a few minutes, the LSTM and the GRU learn the
#: dependency and the vanilla RNN stays at chance (see docs/reproducing.md for the sweep).
DEFAULT_GAP = 50
DEFAULT_STEPS = 1500
CELLS = ("rnn", "lstm", "gru")
CELL_OPTIONS: dict[str, dict[str, Any]] = {"lstm": {"forget_bias": 2.0},
                                           "gru": {"gate_bias": {"z": -2.0}}}


def _new_folder(out: str | Path) -> Path:
    """A fresh folder name under ``out`` (made by the first run that trains in it)."""
    problem = folder_problem(out)
    if problem is not None:
        raise RunError(problem)
    root = Path(out)
    stamp = time.strftime("run-%Y%m%d-%H%M%S")
    folder, n = root / stamp, 1
    while folder.exists():  # never reuse (and so never overwrite) an earlier demo's folder
        n += 1
        folder = root / f"{stamp}-{n}"
    return folder


def _short(cell: str) -> str:
    """A cell's name in the table and its run folder: the zoo name, or the class name."""
    return cell.rpartition(":")[2].rpartition(".")[2] if ":" in cell else cell


def _config(cell: str, gap: int, steps: int, hidden: int, seed: int, backend: str
            ) -> TrainConfig:
    # The gated cells start out remembering: the LSTM's forget gate open (bias +2; Gers 2000,
    # Jozefowicz 2015), the GRU's update gate closed (bias -2: its z admits the new state).
    # The vanilla RNN has no gate to bias.
    options = CELL_OPTIONS.get(cell, {})
    return TrainConfig(cell=cell, task="france", task_options={"gap": gap}, cell_options=options,
                       hidden=hidden, layers=1, steps=steps, batch_size=32, optimizer="adam",
                       lr=1e-2, clip=1.0, seed=seed, backend=backend, eval_every=50,
                       eval_size=512, checkpoint_every=steps, early_stop=True)


def _plot(histories: dict[str, list[dict[str, Any]]], baseline: float, gap: int,
          path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for cell, history in histories.items():
        ax.plot([h["step"] for h in history], [h["metric"] for h in history],
                marker="o", markersize=3, label=cell.upper())
    ax.axhline(baseline, color="grey", linestyle="--", label="chance (no memory)")
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(f'"I grew up in France ... I speak fluent French", gap = {gap} words')
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def run_demo(out: str | Path = "tinygrad-lstm-demo", gap: int | None = None,
             steps: int | None = None, hidden: int = 32, seed: int = 0,
             backend: str | None = None, progress: bool = True,
             cells: tuple[str, ...] | None = None) -> int:
    """Train RNN, LSTM and GRU (or ``cells``: zoo names or ``"module:Class"``) on the
    France/French task; print and save what happened. Raises ``RunError`` for an ``out`` that
    cannot be a folder."""
    cells = cells or CELLS
    gap = DEFAULT_GAP if gap is None else gap
    steps = DEFAULT_STEPS if steps is None else steps
    backend = backend or ("cupy" if "cupy" in backends_available() else "numpy")
    set_backend(backend)
    folder = _new_folder(out)
    configs = {cell: _config(cell, gap, steps, hidden, seed, backend) for cell in cells}
    for config in configs.values():  # every mistake before the first line of output
        config.validate()
        check_size(config)
    task = tasks.create("france", gap=gap)
    example = task.batch(1, rng=seed)
    print(f"tinygrad-lstm demo on backend '{backend}': can a cell carry the country across "
          f"{gap} words?")
    print(f"  e.g. \"{task.decode(example, 0)}\"")
    print(f"  chance (a model without memory): accuracy {task.baseline:.2f}; up to {steps} "
          f"steps per cell, stopping once accuracy >= {task.solved_at:g}")
    rows, histories = [], {}
    for cell in cells:
        short = _short(cell)
        result = train(configs[cell], folder / short,
                       progress=progress, label=f"{short.upper():4s} gap {gap}")
        histories[short] = result.history
        rows.append({"cell": short.upper(), "gap": gap, "accuracy": result.metric,
                     "baseline": task.baseline, "solved": result.solved, "steps": result.step,
                     "seconds": round(result.seconds, 1)})
    print()
    width = max(5, *(len(r["cell"]) + 1 for r in rows))
    print(f"{'cell':{width}s} {'gap':>4s} {'accuracy':>9s} {'baseline':>9s} {'solved':>7s} "
          f"{'steps':>6s} {'time':>8s}")
    for r in rows:
        print(f"{r['cell']:{width}s} {r['gap']:4d} {r['accuracy']:9.3f} {r['baseline']:9.3f} "
              f"{'yes' if r['solved'] else 'no':>7s} {r['steps']:6d} {r['seconds']:7.1f}s")
    (folder / "metrics.json").write_text(json.dumps(
        {"task": "france", "gap": gap, "backend": backend, "seed": seed, "results": rows,
         "histories": histories}, indent=2) + "\n")
    equations = latex(LSTM(task.input_size, hidden))
    (folder / "lstm_equations.tex").write_text(equations + "\n")
    plotted = _plot(histories, task.baseline, gap, folder / "learning_curves.png")
    print()
    print("The LSTM's equations, read off the graph of its step:")
    print(equations)
    print()
    print(f"wrote {folder}/: metrics.json, lstm_equations.tex, "
          + ("learning_curves.png" if plotted else "(no plot: pip install matplotlib)")
          + ", and each cell's run (config, metrics, checkpoint)")
    return 0
