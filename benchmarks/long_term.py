"""The essay's claim at full length: which cells learn dependencies of 100 to 1000 steps.

Trains a vanilla RNN, the essay's LSTM, its GRU and one user-written cell (JANET, in
``long_term_cells.py``) on a ladder of long-term tasks, several seeds each, and writes
``docs/long_term.md`` (tables and success-rate plots) and ``docs/long_term.json`` (every run).

    python benchmarks/long_term.py                       # the whole ladder (hours of CPU)
    python benchmarks/long_term.py --only adding2016:1000 copy:50 --cells lstm
    python benchmarks/long_term.py --quick               # a smoke run (seconds)
    python benchmarks/long_term.py --report              # rewrite the page from finished runs
    python benchmarks/long_term.py --report --speed      # ... with compiled vs tape per step

The ladder (``LADDER``): the adding problem (2016 form) at T = 100, 200, 400, 1000; the copy
task at T = 10, 50, 100; temporal order (Hochreiter & Schmidhuber 1997, experiment 6a); the
embedded Reber grammar. Each rung states its protocol (hidden size, batch, Adam's learning
rate, step budget); every run clips gradients to norm 1 and stops early once its held-out
metric meets the task's criterion. The gated cells start with chrono initialisation (Tallec &
Ollivier 2018) with ``t_max`` the rung's longest dependency.

With PyTorch installed, ``--torch`` adds its LSTM and RNN (``long_term_torch.py``): the same
initial weights, the same batches and held-out set, the same protocol.

Runs execute in parallel as Ray tasks through the study machinery
(``tinygrad_lstm.study.execution``), one CPU and one BLAS thread each; ``--workers 1`` runs them
in this process instead. Every run is an ordinary run folder under ``--runs``; a finished folder
is read back, not trained again, so the ladder can be extended or resumed at any time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import tinygrad_lstm as tl  # noqa: E402

CELLS = ("rnn", "lstm", "gru", "long_term_cells:JANET")
LABELS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "long_term_cells:JANET": "JANET (custom)"}
FRAMEWORKS = ("tinygrad_lstm", "torch")


@dataclass(frozen=True)
class Rung:
    """One task at one length, with its protocol."""

    task: str
    options: dict[str, Any]
    t_max: int  # the longest dependency, for chrono initialisation
    hidden: int = 64
    batch_size: int = 32
    lr: float = 3e-3
    steps: int = 5000
    eval_every: int = 100
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    #: cells that get fewer seeds on this rung (their runs cost the whole budget)
    seeds_for: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        length = self.options.get("length")
        return self.task if length is None else f"{self.task}:{length}"

    def seeds_of(self, cell: str) -> tuple[int, ...]:
        return self.seeds_for.get(cell, self.seeds)


_RNN_FEW = {"rnn": (0, 1, 2)}
LADDER: tuple[Rung, ...] = (
    *(Rung("adding2016", {"length": t}, t_max=t, steps=5000 if t < 1000 else 6000,
           seeds_for=_RNN_FEW if t >= 400 else {}) for t in (100, 200, 400, 1000)),
    *(Rung("copy", {"length": t}, t_max=t + 20, hidden=128, steps=20000, eval_every=250,
           seeds_for=_RNN_FEW if t >= 50 else {}) for t in (10, 50, 100)),
    Rung("temporal-order", {}, t_max=110),
    Rung("reber", {}, t_max=30, steps=3000),
)


def _cell_options(cell: str, rung: Rung) -> dict[str, Any]:
    return {} if cell == "rnn" else {"init": "chrono", "t_max": rung.t_max}


def _config(cell: str, rung: Rung, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    return {"cell": cell, "task": rung.task, "task_options": dict(rung.options),
            "cell_options": _cell_options(cell, rung), "hidden": rung.hidden,
            "batch_size": rung.batch_size, "lr": rung.lr,
            "steps": args.steps or rung.steps, "clip": 1.0, "seed": seed,
            "eval_every": args.eval_every or rung.eval_every, "eval_size": args.eval_size,
            "checkpoint_every": args.steps or rung.steps}


def _label(framework: str, cell: str, rung: Rung, seed: int) -> str:
    name = cell.split(":")[-1].lower()
    return f"{framework}-{rung.key.replace(':', '')}-{name}-s{seed}"


def run_job(framework: str, config: dict[str, Any], folder: str) -> dict[str, Any]:
    """Train one run (a Ray task, or called in process); returns its summary."""

    for p in (str(HERE), str(HERE.parent)):
        if p not in sys.path:
            sys.path.insert(0, p)
    run = Path(folder)
    if run.exists():  # an earlier attempt died part-way: start it afresh
        shutil.rmtree(run)
    cpu = time.process_time()
    if framework == "torch":
        from long_term_torch import train_torch

        out = train_torch(config, run)
    else:
        from threadpoolctl import threadpool_limits

        from tinygrad_lstm.train import TrainConfig, train

        with threadpool_limits(1):
            result = train(TrainConfig(**config), run, progress=False)
        out = {"step": result.step, "metric": result.metric, "solved": result.solved,
               "seconds": result.seconds, "cpu_seconds": time.process_time() - cpu}
    (run / "summary.json").write_text(json.dumps(out) + "\n")
    return out


def _read(folder: Path) -> dict[str, Any] | None:
    summary = folder / "summary.json"
    return json.loads(summary.read_text()) if summary.exists() else None


def _jobs(args: argparse.Namespace) -> list[tuple[str, str, Rung, int]]:
    rungs = [r for r in LADDER if not args.only or r.key in args.only or r.task in args.only]
    jobs = []
    for rung in rungs:
        for cell in args.cells:
            for seed in rung.seeds_of(cell)[: args.max_seeds]:
                jobs.append(("tinygrad_lstm", cell, rung, seed))
                if args.torch:
                    from long_term_torch import supported

                    if supported(cell, rung.task):
                        jobs.append(("torch", cell, rung, seed))
    # the first RULED_OUT_AFTER seeds of every rung first (cheap rungs first, so that the
    # ladder's rule can apply to the longer ones), then the other seeds seed by seed: a ladder
    # cut short still covers every rung
    return sorted(jobs, key=lambda j: (max(j[3] - RULED_OUT_AFTER + 1, 0), LADDER.index(j[2]),
                                       j[3]))


def _row(framework: str, cell: str, rung: Rung, seed: int, summary: dict[str, Any]
         ) -> dict[str, Any]:
    task = tl.tasks.create(rung.task, **rung.options)
    metric = summary["metric"]
    return {"framework": framework, "task": rung.task, "rung": rung.key,
            "length": rung.options.get("length"), "cell": cell, "seed": seed,
            "steps": summary["step"], "metric_name": task.metric_name, "metric": metric,
            "baseline": task.baseline,
            "solved": bool(metric is not None and math.isfinite(metric)
                           and task.solved(metric)),
            "seconds": round(summary["seconds"], 1),
            "cpu_seconds": round(summary.get("cpu_seconds", summary["seconds"]), 1)}


#: a cell that failed on this many seeds, all it ran, at a shorter T of a task is not trained
#: at longer T of that task (the ladder's rule; the page says which runs it left out)
RULED_OUT_AFTER = 3


def ruled_out(rows: list[dict[str, Any]], framework: str, cell: str, rung: Rung) -> str | None:
    """The shorter rung of ``rung``'s task on which ``cell`` (in ``framework``) failed every
    one of at least ``RULED_OUT_AFTER`` seeds, or None: a plain RNN that solves no seed of
    adding at T = 100 is not trained for hours at T = 1000."""
    length = rung.options.get("length")
    if length is None:
        return None
    for shorter in LADDER:
        t = shorter.options.get("length")
        if shorter.task != rung.task or t is None or t >= length:
            continue
        done = [r for r in rows if (r["framework"], r["cell"], r["rung"]) ==
                (framework, cell, shorter.key)]
        if len(done) >= RULED_OUT_AFTER and not any(r["solved"] for r in done):
            return shorter.key
    return None


def run_ladder(args: argparse.Namespace) -> list[dict[str, Any]]:
    runs = Path(args.runs)
    # every finished run of the ladder (not only those asked for): what the rule reads
    finished_runs = {(fw, cell, rung.key, seed): _row(fw, cell, rung, seed, done)
                     for rung in LADDER for cell in CELLS for seed in rung.seeds_of(cell)
                     for fw in FRAMEWORKS
                     if (done := _read(runs / _label(fw, cell, rung, seed))) is not None}
    every = list(finished_runs.values())
    rows, todo = [], []
    for framework, cell, rung, seed in _jobs(args):
        done = finished_runs.get((framework, cell, rung.key, seed))
        if done is not None:
            rows.append(done)
        elif not args.report:
            todo.append((framework, cell, rung, seed, runs / _label(framework, cell, rung, seed)))
    if not todo:
        return rows
    print(f"{len(rows)} runs read back, up to {len(todo)} to train", flush=True)
    left_out = 0

    def next_job() -> tuple[str, str, Rung, int, Path] | None:
        """The next run to start, the rule applied to what has finished by now."""
        nonlocal left_out
        while todo:
            job = todo.pop(0)
            if ruled_out(every, *job[:3]) is None:
                return job
            left_out += 1
        return None

    def finished(fw: str, cell: str, rung: Rung, seed: int, summary: dict[str, Any]) -> None:
        rows.append(_row(fw, cell, rung, seed, summary))
        every.append(rows[-1])
        print(json.dumps(rows[-1]), flush=True)

    if args.workers == 1:
        while (job := next_job()) is not None:
            fw, cell, rung, seed, folder = job
            finished(fw, cell, rung, seed, run_job(fw, _config(cell, rung, seed, args),
                                                   str(folder)))
    else:
        import ray

        from tinygrad_lstm.study import execution

        started = execution.connect(None, args.workers, verbose=False)
        try:
            remote = ray.remote(num_cpus=1, max_retries=execution.MAX_RETRIES)(run_job)
            waiting: dict[Any, tuple[str, str, Rung, int]] = {}
            while True:  # at most `workers` in flight, so that the rule sees the latest runs
                while len(waiting) < args.workers and (job := next_job()) is not None:
                    fw, cell, rung, seed, folder = job
                    ref = remote.remote(fw, _config(cell, rung, seed, args), str(folder))
                    waiting[ref] = (fw, cell, rung, seed)
                if not waiting:
                    break
                ready, _ = ray.wait(list(waiting), num_returns=1)
                fw, cell, rung, seed = waiting.pop(ready[0])
                try:
                    summary = ray.get(ready[0])
                except Exception as err:  # noqa: BLE001 - one failed run must not stop it
                    print(f"{fw} {cell} {rung.key} seed {seed} failed: {err}", flush=True)
                    continue
                finished(fw, cell, rung, seed, summary)
        finally:
            if started:
                ray.shutdown()
    if left_out:
        print(f"{left_out} runs left out: their cell failed every seed at a shorter T",
              flush=True)
    return rows


# --- what the compiler changed -------------------------------------------------------------------

def measure_speed(rungs: list[Rung], cells: list[str], repeats: int = 3, steps: int = 2
                  ) -> list[dict[str, Any]]:
    """CPU seconds per training step of each rung's protocol, compiled and on the tape
    (``tl.compile.set_enabled``), interleaved repeat by repeat, one BLAS thread; medians."""
    import statistics
    import tempfile

    from threadpoolctl import threadpool_limits

    from tinygrad_lstm.train import TrainConfig, Trainer

    out = []
    args = argparse.Namespace(steps=None, eval_every=None, eval_size=32)
    for rung in rungs:
        for cell in cells:
            config = TrainConfig(**_config(cell, rung, 0, args))
            times: dict[bool, list[float]] = {True: [], False: []}
            trainers = {}
            with threadpool_limits(1):
                for compiled in (True, False):
                    tl.compile.set_enabled(compiled)
                    trainers[compiled] = Trainer(config, tempfile.mkdtemp())
                    trainers[compiled].train_step()  # warm: kernels built, buffers sized
                for _ in range(repeats):
                    for compiled in (True, False):
                        tl.compile.set_enabled(compiled)
                        start = time.process_time()
                        for _ in range(steps):
                            trainers[compiled].train_step()
                        times[compiled].append((time.process_time() - start) / steps)
            tl.compile.set_enabled(True)
            row = {"rung": rung.key, "cell": cell,
                   "compiled_s": statistics.median(times[True]),
                   "tape_s": statistics.median(times[False])}
            print(json.dumps(row), flush=True)
            out.append(row)
    return out


# --- the page ------------------------------------------------------------------------------------

def _ladder_size(torch: bool) -> int:
    """How many runs the whole ladder has."""
    from long_term_torch import supported

    return sum(len(rung.seeds_of(cell)) * (1 + (torch and supported(cell, rung.task)))
               for rung in LADDER for cell in CELLS)


def _group(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((r["rung"], r["cell"], r["framework"]), []).append(r)
    for group in out.values():
        group.sort(key=lambda r: r["seed"])
    return out


def _rung_order(key: str) -> int:
    return [r.key for r in LADDER].index(key) if key in [r.key for r in LADDER] else 99


def _plots(rows: list[dict[str, Any]], folder: Path) -> list[tuple[str, str]]:
    """One success-rate figure per task: solved fraction against T, a line per cell and
    framework (a bar per cell where the task has one length)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    groups = _group(rows)
    figures = []
    for task in dict.fromkeys(r["task"] for r in sorted(rows, key=lambda r: _rung_order(
            r["rung"]))):
        fig, ax = plt.subplots(figsize=(6, 3.6))
        keys = sorted({(c, f) for (k, c, f) in groups if k.split(":")[0] == task},
                      key=lambda cf: (CELLS.index(cf[0]) if cf[0] in CELLS else 9, cf[1]))
        lengths = sorted({r["length"] for r in rows if r["task"] == task and r["length"]})
        for n, (cell, fw) in enumerate(keys):
            label = LABELS.get(cell, cell) + (" (PyTorch)" if fw == "torch" else "")
            style = "--" if fw == "torch" else "-"
            # series that agree would hide each other: each is lifted by a little
            lift = 0.012 * (n - (len(keys) - 1) / 2)
            if lengths:
                xs, ys = [], []
                for t in lengths:
                    g = groups.get((f"{task}:{t}", cell, fw))
                    if g:
                        xs.append(t)
                        ys.append(sum(r["solved"] for r in g) / len(g) + lift)
                ax.plot(xs, ys, style, marker="osD^vP"[n % 6], label=label, alpha=0.85)
            else:
                g = groups[(task, cell, fw)]
                ax.bar(n, sum(r["solved"] for r in g) / len(g), label=label,
                       hatch="//" if fw == "torch" else None)
        if lengths:
            ax.set_xscale("log")
            ax.minorticks_off()
            ax.set_xticks(lengths, [str(t) for t in lengths])
            ax.set_xlabel("T (steps between the relevant inputs and the answer)")
        else:
            ax.set_xticks([])
        ax.set_ylim(-0.1, 1.1)
        ax.set_ylabel("runs solved (fraction of seeds)")
        ax.set_title(f"{task}: success rate")
        ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        name = f"{task}.png"
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        figures.append((task, f"{folder.name}/{name}"))
    return figures


def _findings(groups: dict[tuple[str, str, str], list[dict[str, Any]]]) -> list[str]:
    """One line per task with lengths and per cell and framework, computed from the runs: the
    longest T solved on most seeds run, and the shortest T where no seed was solved."""
    lines = []
    for task in dict.fromkeys(r.task for r in LADDER if "length" in r.options):
        rungs = [r for r in LADDER if r.task == task]
        for cell in CELLS:
            for fw in FRAMEWORKS:
                done = [(r, groups[(r.key, cell, fw)]) for r in rungs
                        if (r.key, cell, fw) in groups]
                if not done:
                    continue
                most = [r for r, g in done if 2 * sum(x["solved"] for x in g) > len(g)]
                none = [r for r, g in done if not any(x["solved"] for x in g)]
                name = LABELS.get(cell, cell) + (" (PyTorch)" if fw == "torch" else "")
                parts = []
                if most:
                    r, g = next((r, g) for r, g in reversed(done) if r in most)
                    parts.append(f"solves T = {r.options['length']} on "
                                 f"{sum(x['solved'] for x in g)} of {len(g)} seeds")
                if none:
                    r, g = next((r, g) for r, g in done if r in none)
                    parts.append(f"solves no seed of {len(g)} at T = {r.options['length']}")
                if not parts:  # some seeds solved, never most
                    r, g = max(done, key=lambda rg: sum(x["solved"] for x in rg[1]) / len(rg[1]))
                    parts.append(f"solves at most {sum(x['solved'] for x in g)} of {len(g)} "
                                 f"seeds (T = {r.options['length']})")
                lines.append(f"- {task}, {name}: " + "; ".join(parts) + ".")
    return lines


def _remaining(groups: dict[tuple[str, str, str], list[dict[str, Any]]],
               ruled: dict[tuple[str, str, str], str], fws: tuple[str, ...]) -> str:
    """A sentence estimating the CPU time of the ladder's runs not on the page (each at the
    median CPU time of its rung, cell and framework's runs so far), and so of the whole."""
    from long_term_torch import supported

    done = sum(r["cpu_seconds"] for g in groups.values() for r in g)
    estimate, missing, unknown = 0.0, 0, 0
    for rung in LADDER:
        for cell in CELLS:
            for fw in fws:
                if (fw != "tinygrad_lstm" and not supported(cell, rung.task)) or \
                        (rung.key, cell, fw) in ruled:
                    continue
                g = groups.get((rung.key, cell, fw), [])
                n = len(rung.seeds_of(cell)) - len(g)
                if n <= 0:
                    continue
                missing += n
                if g:
                    estimate += n * sorted(r["cpu_seconds"] for r in g)[len(g) // 2]
                else:
                    unknown += n
    if not missing:
        return "That is the whole ladder."
    return (f"The {missing} runs of the ladder not on this page (rule-excluded ones aside) "
            f"would take about {estimate / 3600:.2f} CPU-hours more at the median CPU time "
            "of their rung, cell and framework so far"
            + (f", not counting {unknown} runs with no such run yet" if unknown else "")
            + f": the whole ladder about {(done + estimate) / 3600:.2f} CPU-hours.")


def _page(rows: list[dict[str, Any]], figures: list[tuple[str, str]], command: str,
          args: argparse.Namespace) -> str:
    from long_term_torch import supported

    groups = _group(rows)
    fws = FRAMEWORKS if args.torch else FRAMEWORKS[:1]
    ruled = {(rung.key, cell, fw): why for rung in LADDER for cell in CELLS for fw in fws
             if (fw == "tinygrad_lstm" or supported(cell, rung.task))
             and (why := ruled_out(rows, fw, cell, rung)) is not None}
    left_out = sum(len(LADDER[_rung_order(k)].seeds_of(c)) - len(groups.get((k, c, fw), []))
                   for (k, c, fw) in ruled)
    cpu = sum(r["cpu_seconds"] for r in rows)
    by_fw = {fw: sum(r["cpu_seconds"] for r in rows if r["framework"] == fw) for fw in FRAMEWORKS}
    lines = [
        "# Long-term dependencies: the ladder",
        "",
        "Generated by `benchmarks/long_term.py`; do not edit by hand. Last command:",
        "",
        f"    {command}",
        "",
        "Which cells learn dependencies across T steps? Every run trains one cell with a linear "
        "readout, Adam, gradients clipped to norm 1, and stops early once its held-out metric "
        f"({args.eval_size} fixed sequences) meets the task's criterion. The gated cells start "
        "with chrono initialisation (Tallec & Ollivier 2018): the forget gate's bias "
        "b_f = log(u), u ~ U(1, t_max - 1), the input gate's b_i = -b_f (the GRU's and JANET's "
        "gate likewise), with t_max the rung's longest dependency; the RNN has no gate to set. "
        "The PyTorch column trains `torch.nn.LSTM`/`RNN` from the same initial weights on the "
        "same batches with the same protocol (`benchmarks/long_term_torch.py`).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, one core and one BLAS thread per run. CPU time of the "
        f"runs on this page: {cpu / 3600:.2f} h"
        + "".join(f"; {fw} {s / 3600:.2f} h" for fw, s in by_fw.items() if s) + ". "
        + _remaining(groups, ruled, fws),
        "",
        f"Runs on this page: {len(rows)} of the {_ladder_size(args.torch)} the whole ladder "
        "has (every cell and seed of the protocol below"
        + (", both frameworks" if args.torch else "") + f"); {left_out} more are left out by "
        f"the ladder's rule: a cell that failed all of at least {RULED_OUT_AFTER} seeds at a "
        "shorter T of a task is not trained at longer T (marked ✗ with the rung that ruled it "
        "out; runs that finished before the rule applied stay on the page). The success table "
        "counts the seeds run so far; `python benchmarks/long_term.py --torch` trains the "
        "missing runs and keeps the finished ones.",
        "",
        "## Protocol per rung",
        "",
        "| rung | hidden | batch | Adam lr | step budget | chrono t_max | seeds |",
        "|---|---|---|---|---|---|---|",
    ]
    present = {r["rung"] for r in rows}
    for rung in LADDER:
        if rung.key in present:
            lines.append(f"| {rung.key} | {rung.hidden} | {rung.batch_size} | {rung.lr:g} | "
                         f"{args.steps or rung.steps} | {rung.t_max} | "
                         f"{len(rung.seeds)}" + "".join(
                             f" ({LABELS.get(c, c)}: {len(s)})"
                             for c, s in rung.seeds_for.items()) + " |")
    lines += [
        "",
        "Criteria (solved): adding (2016 form) MSE < 0.01 against the 1/6 ≈ 0.167 of always "
        "predicting 1; copy recall accuracy ≥ 0.99 against 1/8 for guessing; temporal order "
        "accuracy ≥ 0.95 against 1/4; embedded Reber: every string's every symbol predicted "
        "(string accuracy 1.0) against 0.5 for a predictor that ignores the opening symbol.",
        "",
        "## What the runs show",
        "",
        "Computed from the runs below: per task and cell, the longest T solved on most of the "
        "seeds run, and the shortest T at which no seed was solved.",
        "",
        *_findings(groups),
        "",
        "## Success rates",
        "",
    ]
    header = "| rung | " + " | ".join(
        LABELS.get(c, c) + (" PyTorch" if fw == "torch" else "")
        for c in CELLS for fw in FRAMEWORKS if any(k[1:] == (c, fw) for k in groups)) + " |"
    cols = [(c, fw) for c in CELLS for fw in FRAMEWORKS if any(k[1:] == (c, fw) for k in groups)]
    lines += [header, "|---" * (len(cols) + 1) + "|"]
    for key in sorted(present | {k for k, _, _ in ruled}, key=_rung_order):
        cells = []
        for c, fw in cols:
            g = groups.get((key, c, fw))
            why = ruled.get((key, c, fw))
            cells.append(("" if not g else f"{sum(r['solved'] for r in g)}/{len(g)}")
                         + (f" ✗ ({why})" if why else ""))
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines += [""]
    if figures:
        lines += ["Each figure plots the fraction of seeds solved against T; series that agree "
                  "are lifted a little apart so that none hides another.", ""]
    for task, path in figures:
        lines += [f"![{task}: success rate against T]({path})", ""]
    speed = getattr(args, "speed_rows", None) or []
    if speed:
        ratio = {(r["rung"], r["cell"]): r["tape_s"] / r["compiled_s"] for r in speed}
        mine = [r for r in rows if r["framework"] == "tinygrad_lstm"]
        known = [r for r in mine if (r["rung"], r["cell"]) in ratio]
        compiled = sum(r["cpu_seconds"] for r in known)
        tape = sum(r["cpu_seconds"] * ratio[(r["rung"], r["cell"])] for r in known)
        lines += [
            "## What the cell compiler changed",
            "",
            "CPU seconds per training step of each rung's protocol, the compiled layers "
            "(the default) against the tape (`tl.compile.set_enabled(False)`), measured "
            "interleaved in one process (`python benchmarks/long_term.py --speed`, medians). "
            f"At these ratios the {len(known)} tinygrad_lstm runs above, {compiled / 3600:.2f} "
            f"CPU-hours compiled, would have taken about {tape / 3600:.2f} CPU-hours on the "
            "tape (an estimate: each run's CPU time times its rung's ratio).",
            "",
            "| rung | cell | compiled s/step | tape s/step | tape / compiled |",
            "|---|---|---|---|---|",
            *(f"| {r['rung']} | {LABELS.get(r['cell'], r['cell'])} | {r['compiled_s']:.4f} | "
              f"{r['tape_s']:.4f} | {r['tape_s'] / r['compiled_s']:.2f} |" for r in speed),
            "",
        ]
    lines += [
        "## Every run",
        "",
        "Metric at the last evaluation (the one that stopped the run, or the budget's end), "
        "steps trained, CPU seconds.",
        "",
        "| rung | cell | framework | solved | metric per seed | steps per seed | CPU s per seed |",
        "|---|---|---|---|---|---|---|",
    ]
    for (key, cell, fw), g in sorted(groups.items(), key=lambda kv: (
            _rung_order(kv[0][0]), CELLS.index(kv[0][1]) if kv[0][1] in CELLS else 9,
            kv[0][2])):
        lines.append(
            f"| {key} | {LABELS.get(cell, cell)} | {fw} | "
            f"{sum(r['solved'] for r in g)}/{len(g)} | "
            + ", ".join("nan" if r["metric"] is None else f"{r['metric']:.4g}" for r in g)
            + f" ({g[0]['metric_name']}) | " + ", ".join(str(r["steps"]) for r in g) + " | "
            + ", ".join(f"{r['cpu_seconds']:.0f}" for r in g) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", metavar="RUNG",
                        help="rungs to run, e.g. adding2016:1000 copy:50 reber (default all)")
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    parser.add_argument("--max-seeds", type=int, default=None, help="at most this many seeds")
    parser.add_argument("--torch", action="store_true", help="add the PyTorch column")
    parser.add_argument("--steps", type=int, default=None, help="override every step budget")
    parser.add_argument("--eval-every", type=int, default=None)
    parser.add_argument("--eval-size", type=int, default=512)
    parser.add_argument("--workers", type=int, default=2, help="parallel runs (Ray); 1: inline")
    parser.add_argument("--runs", default="runs/long_term", help="run folders (reused)")
    parser.add_argument("--out", default="docs/long_term.md")
    parser.add_argument("--report", action="store_true",
                        help="only rewrite the page from the finished runs")
    parser.add_argument("--quick", action="store_true", help="tiny budget: a smoke test")
    parser.add_argument("--speed", action="store_true",
                        help="measure compiled vs tape time per step on each rung first")
    args = parser.parse_args(argv)
    if args.quick:
        args.only = args.only or ["adding2016:100", "copy:10"]
        args.steps, args.eval_every, args.eval_size = 20, 10, 32
        args.max_seeds = args.max_seeds or 1
    if args.torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("note: torch is not installed; the PyTorch column is skipped", flush=True)
            args.torch = False
    command = "python benchmarks/long_term.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    start = time.perf_counter()
    out = Path(args.out)
    rows = run_ladder(args)
    if not rows:
        print("no finished runs to report", flush=True)
        return 1
    speed_file = out.with_name(out.stem + "_speed.json")
    if args.speed:  # for the (rung, cell) pairs that have runs on the page
        pairs = {(r["rung"], r["cell"]) for r in rows if r["framework"] == "tinygrad_lstm"}
        speed = [row for rung in LADDER for cell in CELLS if (rung.key, cell) in pairs
                 for row in measure_speed([rung], [cell], steps=1 if args.quick else 2)]
        speed_file.parent.mkdir(parents=True, exist_ok=True)
        speed_file.write_text(json.dumps(speed, indent=1) + "\n")
    args.speed_rows = json.loads(speed_file.read_text()) if speed_file.exists() else []
    out.parent.mkdir(parents=True, exist_ok=True)
    figures = _plots(rows, out.parent / out.stem)
    text = _page(rows, figures, command.strip(), args)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    print(text)
    print(f"wall time {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
