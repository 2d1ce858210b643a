"""The ``tinygrad-lstm`` command line.

    tinygrad-lstm demo          the essay's claim, shown: RNN vs LSTM vs GRU on "France ... French"
    tinygrad-lstm train ...     train a cell on a task; --resume DIR continues a run exactly
    tinygrad-lstm docs          a generated page per cell: equations, Jacobians, diagram
    tinygrad-lstm cells         the cell zoo with one-line descriptions
    tinygrad-lstm tasks         the long-term-dependency tasks and their baselines
    tinygrad-lstm backends      which backends run here, and why not
    tinygrad-lstm primitives    the primitive table
    tinygrad-lstm plot RUN ...  learning curves of one or more runs on one figure

A user's mistake never shows a traceback: bad arguments get argparse's one-line error, and a run
that cannot start or resume (an unknown or unimportable cell, a folder that cannot be made, a
model too big for the machine, a checkpoint from another model, a backend that cannot run, ...)
gets one line naming the problem and the fix; all exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import backends
import tinygrad_lstm as tl
from tinygrad_lstm.checks import check_int, check_real, describe_range


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake reported in one line (no usage block above it)."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int(minimum: int) -> Callable[[str], int]:
    """An argparse type: an int of at least ``minimum`` (the rule of ``checks.check_int``)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        try:
            return check_int("", "", value, minimum)
        except ValueError as err:  # its words after the owner and name: "must be ..., got ..."
            raise argparse.ArgumentTypeError("must be" + str(err).split("must be", 1)[1]
                                             ) from None

    return parse


def _real(low: float | None = None, high: float | None = None, open_low: bool = False,
          open_high: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in a range (the rule of ``checks.check_real``, so the
    command line refuses what the run's config and the optimisers refuse)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
        try:
            return check_real("", "", value, low, high=high, open_low=open_low,
                              open_high=open_high)
        except ValueError:
            what = describe_range(low, high, open_low, open_high)
            raise argparse.ArgumentTypeError(f"must be a finite number {what}, got {text}"
                                             ) from None

    return parse


_positive_int = _int(1)
_non_negative_int = _int(0)
_non_negative_float = _real(0.0)
_positive_float = _real(0.0, open_low=True)
_probability = _real(0.0, 1.0, open_high=True)
_DEFAULTS = tl.train.TrainConfig()


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def _cell_options(spec: tl.cells.CellSpec, pairs: list[tuple[str, str]] | None
                  ) -> dict[str, Any]:
    """``--cell-option KEY=VALUE`` pairs, typed by the cell's constructor signature."""
    return dict(spec.parse_option(key, value) for key, value in pairs or [])


def _apply_threads(args: argparse.Namespace) -> None:
    if getattr(args, "threads", None) is not None:
        tl.set_num_threads(args.threads)


def _cmd_backends(args: argparse.Namespace) -> int:
    for name in backends.names():
        reason = backends.why_not(name)
        print(f"{name:8s} {'available' if reason is None else 'unavailable: ' + reason}")
    return 0


def _cmd_primitives(args: argparse.Namespace) -> int:
    for name, prim in tl.PRIMITIVES.items():
        arity = "n" if prim.arity is None else str(prim.arity)
        print(f"{name:12s} {arity:>2s}  {prim.doc}")
    return 0


def _cmd_cells(args: argparse.Namespace) -> int:
    zoo = tl.cells.available()
    width = max(map(len, zoo))
    for name, description in zoo.items():
        print(f"{name:{width}s}  {description}")
    return 0


def _cmd_tasks(args: argparse.Namespace) -> int:
    for name, description in tl.tasks.available().items():
        task = tl.tasks.create(name)
        print(f"{name:15s} {description}")
        print(f"{'':15s} metric {task.metric_name}, solved at {task.solved_at:g}, "
              f"memoryless baseline {task.baseline:.4g}")
    return 0


def _task_options(task: str, seq_len: int | None, gap: int | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if gap is not None:
        if task != "france":
            raise tl.train.RunError(f"--gap applies to the france task, not {task!r} "
                                    "(use --seq-len)")
        options["gap"] = gap
    if seq_len is not None:
        if task in ("adding", "adding2016", "copy"):
            options["length"] = seq_len
        elif task == "temporal-order":
            if seq_len < 62:  # its symbols sit at steps 10-20 and 50-60, before the end
                raise tl.train.RunError("--seq-len must be at least 62 for the temporal-order "
                                        f"task, got {seq_len}")
            options["min_length"], options["max_length"] = seq_len, seq_len + 10
        else:
            raise tl.train.RunError(f"--seq-len does not apply to the {task!r} task"
                                    + (" (use --gap)" if task == "france" else ""))
    return options


# the options that define a run: None on the command line means "not given" (so --resume can
# tell a conflicting option from a default), and the run's default applies
_RUN_OPTIONS = ("cell", "task", "hidden", "layers", "dropout", "batch_size", "optimizer", "lr",
                "momentum", "input_noise", "clip", "seed", "backend", "eval_every", "eval_size",
                "checkpoint_every")


def _given(args: argparse.Namespace) -> dict[str, Any]:
    given = {name: getattr(args, name) for name in _RUN_OPTIONS
             if getattr(args, name) is not None}
    if args.no_clip:
        given["clip"] = None
    if args.no_early_stop:
        given["early_stop"] = False
    return given


def _cmd_train(args: argparse.Namespace) -> int:
    _apply_threads(args)
    given = _given(args)
    if args.resume is not None:
        extra = [flag for flag, value in (("--out", args.out), ("--cell-option",
                 args.cell_option), ("--seq-len", args.seq_len), ("--gap", args.gap)) if value]
        if extra:
            raise tl.train.RunError(f"--resume continues a run as it was saved; {extra[0]} "
                                    "cannot change it (start a new run with --out)")
        backend = given.pop("backend", None)  # a run may move to another backend
        result = tl.train.resume(args.resume, steps=args.steps, progress=not args.quiet,
                                 expect=given, backend=backend)
        folder = args.resume
    else:
        if args.out is None:
            raise tl.train.RunError("--out DIR is required for a new run")
        spec = tl.train.TrainConfig(cell=given.get("cell", _DEFAULTS.cell)).cell_spec()
        task = given.get("task", _DEFAULTS.task)
        config = tl.train.TrainConfig(**{
            **given, "cell": spec.name,
            "task_options": _task_options(task, args.seq_len, args.gap),
            "cell_options": _cell_options(spec, args.cell_option),
            "steps": args.steps or _DEFAULTS.steps})
        result = tl.train.train(config, args.out, progress=not args.quiet)
        folder = args.out
    metric = "n/a" if result.metric is None else f"{result.metric:.4f}"
    plotted = _plot_run(folder)
    print(f"{result.status} at step {result.step} in {result.seconds:.1f} s: held-out metric "
          f"{metric} ({'solved' if result.solved else 'not solved'}); run saved in {folder}"
          + (f", learning curves in {plotted}" if plotted else ""))
    return 130 if result.status == "interrupted" else 0


def _plot_run(folder: str) -> str | None:
    """The run's learning curves, drawn next to its metrics (when matplotlib is there)."""
    from tinygrad_lstm import plot

    try:
        return str(plot.plot_runs([folder], os.path.join(folder, "learning_curves.png")))
    except plot.PlotError:  # no matplotlib, or no evaluation yet: the run itself is fine
        return None


def _cmd_plot(args: argparse.Namespace) -> int:
    from tinygrad_lstm import plot

    out = args.out or (os.path.join(args.runs[0], "learning_curves.png") if len(args.runs) == 1
                       else "learning_curves.png")
    try:
        written = plot.plot_runs(args.runs, out)
    except plot.PlotError as err:
        raise tl.train.RunError(str(err)) from None
    print(f"wrote {written} ({len(args.runs)} run{'s' * (len(args.runs) > 1)})")
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from tinygrad_lstm import docs, site

    if args.build or args.serve:
        try:
            return site.build(serve=args.serve, site_dir=args.site)
        except site.SiteError as err:
            raise tl.train.RunError(str(err)) from None
    try:
        if args.cell:
            specs = [tl.cells.resolve(c) for c in args.cell]
            written = docs.write_cells(args.out or ".", specs)
        else:
            written = docs.write(args.out or "docs/cells")
    except OSError as err:
        raise tl.train.RunError(f"cannot write the pages: {err}") from None
    svgs = sum(p.suffix == ".svg" for p in written)
    print(f"wrote {len(written) - svgs} page{'s' * (len(written) - svgs != 1)} and {svgs} "
          f"diagram{'s' * (svgs != 1)} into {args.out or ('.' if args.cell else 'docs/cells')}"
          + ("" if svgs else " (install Graphviz to render the diagrams)"))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from tinygrad_lstm.demo import run_demo

    _apply_threads(args)
    cells = tuple(tl.cells.resolve(c).name for c in args.cell) if args.cell else None
    return run_demo(out=args.out, gap=args.gap, steps=args.steps, hidden=args.hidden,
                    seed=args.seed, backend=args.backend, progress=not args.quiet,
                    cells=cells)


def _add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=_positive_int, metavar="N",
                        help="BLAS threads (default: one, the fastest for recurrent nets on "
                             "the machines measured, see benchmarks/threads.py; or "
                             "OMP_NUM_THREADS when set)")


_CELL_HELP = ("a zoo name from `tinygrad-lstm cells`, or module:Class for your own tl.Cell "
              "subclass in module.py under the current folder")


def _train_parser(sub: Any) -> None:
    d = _DEFAULTS
    train = sub.add_parser(
        "train", help="train a cell on a task (or --resume a run)",
        description="Train a cell on a task; the run's folder gets config.json, metrics.jsonl, "
                    "checkpoint.npz and learning_curves.png.")
    train.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR (with "
                       "--steps: to a new total; with --backend: there; other run options "
                       "must match the saved run)")
    train.add_argument("--cell", metavar="CELL", help=f"{_CELL_HELP} (default {d.cell})")
    train.add_argument("--cell-option", type=_key_value, action="append", metavar="KEY=VALUE",
                       help="a cell constructor option, typed from its signature, e.g. "
                            "forget_bias=1.0, init=orthogonal, couple=i, gate_bias=z:-2 "
                            "(repeatable)")
    train.add_argument("--task", choices=list(tl.tasks.available()), metavar="TASK",
                       help=f"a task from `tinygrad-lstm tasks` (default {d.task})")
    train.add_argument("--seq-len", type=_positive_int, help="sequence length (adding, copy, "
                       "temporal-order; default: the task's own)")
    train.add_argument("--gap", type=_non_negative_int,
                       help="filler words (france; default 20)")
    train.add_argument("--hidden", type=_positive_int, help=f"hidden size (default {d.hidden})")
    train.add_argument("--layers", type=_positive_int,
                       help=f"stacked layers (default {d.layers})")
    train.add_argument("--dropout", type=_probability, help="dropout between stacked layers, "
                       f"in training only (default {d.dropout:g})")
    train.add_argument("--steps", type=_positive_int, help=f"training steps (default {d.steps}"
                       "; with --resume: a new total)")
    train.add_argument("--batch-size", type=_positive_int,
                       help=f"sequences per step (default {d.batch_size})")
    train.add_argument("--optimizer", choices=tl.train.OPTIMIZERS,
                       help=f"default {d.optimizer}")
    train.add_argument("--lr", type=_non_negative_float,
                       help=f"learning rate (default {d.lr:g})")
    train.add_argument("--momentum", type=_non_negative_float,
                       help=f"SGD's momentum, >= 0 (default {d.momentum:g}; the other "
                            "optimisers ignore it)")
    train.add_argument("--input-noise", type=_non_negative_float, metavar="STD",
                       help="std of Gaussian noise added to the inputs, in training only "
                            f"(Greff et al. 2015; default {d.input_noise:g})")
    train.add_argument("--clip", type=_positive_float,
                       help=f"global gradient-norm clipping (default {d.clip:g})")
    train.add_argument("--no-clip", action="store_true", help="no gradient clipping")
    train.add_argument("--backend", choices=backends.names(),
                       help="default: $TINYGRAD_LSTM_BACKEND, else numpy")
    train.add_argument("--seed", type=_non_negative_int, help=f"default {d.seed}")
    train.add_argument("--eval-every", type=_positive_int,
                       help=f"steps between evaluations (default {d.eval_every})")
    train.add_argument("--eval-size", type=_positive_int,
                       help=f"held-out sequences (default {d.eval_size})")
    train.add_argument("--checkpoint-every", type=_positive_int,
                       help=f"steps between checkpoints (default {d.checkpoint_every})")
    train.add_argument("--no-early-stop", action="store_true",
                       help="train all steps even once the task is solved")
    _add_threads(train)
    train.add_argument("--out", metavar="DIR", help="folder for the run (must not hold one; "
                       "made once the model is built)")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.set_defaults(run=_cmd_train)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tinygrad-lstm",
        description="Recurrent cells written once: run on NumPy or CuPy, differentiated by a "
                    "tape, printed by SymPy.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {tl.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="the essay's claim: RNN vs LSTM vs GRU on a long gap")
    demo.add_argument("--out", default="tinygrad-lstm-demo",
                      help="folder for the plot, metrics and equations (a new subfolder per "
                           "run; default %(default)s)")
    demo.add_argument("--cell", action="append", metavar="CELL",
                      help=f"a cell to compare, repeatable (default rnn, lstm, gru): {_CELL_HELP}")
    demo.add_argument("--gap", type=_non_negative_int, default=None,
                      help="filler words between the country and the language (default 50)")
    demo.add_argument("--steps", type=_positive_int, default=None,
                      help="training steps per cell (at most; training stops once solved; "
                           "default 1500)")
    demo.add_argument("--hidden", type=_positive_int, default=32,
                      help="hidden size (default %(default)s)")
    demo.add_argument("--seed", type=_non_negative_int, default=0,
                      help="random seed (default %(default)s)")
    demo.add_argument("--backend", choices=backends.names(),
                      help="default: cupy when a GPU is usable, else numpy")
    _add_threads(demo)
    demo.add_argument("--quiet", action="store_true", help="no progress output")
    demo.set_defaults(run=_cmd_demo)

    _train_parser(sub)

    docs = sub.add_parser(
        "docs", help="generate a page per cell: equations, Jacobians, diagram; or build the site",
        description="Write the generated cell pages (all of the zoo into docs/cells, or the "
                    "cells given with --cell), or build the docs site with its math rendered.")
    docs.add_argument("--cell", action="append", metavar="CELL",
                      help=f"write only this cell's page, repeatable: {_CELL_HELP}")
    docs.add_argument("--out", help="folder (default docs/cells; with --cell: the current one)")
    docs.add_argument("--build", action="store_true",
                      help="build the site (needs the [docs] extra; fetches KaTeX with npm once)")
    docs.add_argument("--serve", action="store_true", help="build and serve it locally")
    docs.add_argument("--site", default="site", help="where --build writes (default %(default)s)")
    docs.set_defaults(run=_cmd_docs)

    plot = sub.add_parser("plot", help="draw runs' learning curves on one figure",
                          description="Learning curves (loss and metric) of one or more runs, "
                                      "read from their metrics.jsonl, on one figure.")
    plot.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders made by `train`")
    plot.add_argument("--out", help="image file (.png, .svg, .pdf; default RUN_DIR/"
                      "learning_curves.png for one run, ./learning_curves.png for several)")
    plot.set_defaults(run=_cmd_plot)

    sub.add_parser("cells", help="list the cell zoo").set_defaults(run=_cmd_cells)
    sub.add_parser("tasks", help="list the tasks and their baselines").set_defaults(
        run=_cmd_tasks)
    sub.add_parser("backends", help="list backends and why any cannot run here").set_defaults(
        run=_cmd_backends)
    sub.add_parser("primitives", help="list the primitive table").set_defaults(
        run=_cmd_primitives)
    from tinygrad_lstm.study import cli as study_cli  # light: optuna/ray load only when run

    study_cli.add_parser(sub)
    return parser


def _check_backend_variable(args: argparse.Namespace) -> None:
    """An unusable ``TINYGRAD_LSTM_BACKEND`` is named as the culprit, before anything runs."""
    from tinygrad_lstm.context import ENV_VAR

    name = os.environ.get(ENV_VAR, "").strip()
    if not name or getattr(args, "backend", None) or args.command in ("backends", "cells",
                                                                      "tasks", "primitives",
                                                                      "plot"):
        return
    if name not in backends.names():
        raise tl.train.RunError(f"{ENV_VAR}={name!r} is not a backend; use one of "
                                f"{', '.join(backends.names())}, or unset it")
    try:
        backends.get(name)
    except tl.BackendUnavailable as err:
        raise tl.train.RunError(f"{ENV_VAR}={name}: {err} (unset it to use numpy)") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        print("tinygrad-lstm: error: a COMMAND is required", file=sys.stderr)
        return 2
    try:
        _check_backend_variable(args)
        return args.run(args)
    except (tl.BackendUnavailable, tl.train.RunError, tl.CheckpointError,
            tl.cells.CellSpecError) as err:
        message = str(err)
    except MemoryError as err:
        message = (f"out of memory ({err or 'no detail'}); use a smaller --hidden, --seq-len or "
                   "--batch-size")
    except KeyboardInterrupt:
        print(f"tinygrad-lstm {args.command}: interrupted", file=sys.stderr)
        return 130
    print(f"tinygrad-lstm {args.command}: error: {message}", file=sys.stderr)
    return 2
