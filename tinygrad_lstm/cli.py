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
from collections.abc import Sequence

import backends
import tinygrad_lstm as tl
from tinygrad_lstm import cli_train
from tinygrad_lstm.cli_args import (
    CELL_HELP,
    Parser,
    add_threads,
    apply_threads,
    non_negative_int,
    positive_int,
)


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

    apply_threads(args)
    cells = tuple(tl.cells.resolve(c).name for c in args.cell) if args.cell else None
    return run_demo(out=args.out, gap=args.gap, steps=args.steps, hidden=args.hidden,
                    seed=args.seed, backend=args.backend, progress=not args.quiet,
                    cells=cells)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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
                      help=f"a cell to compare, repeatable (default rnn, lstm, gru): {CELL_HELP}")
    demo.add_argument("--gap", type=non_negative_int, default=None,
                      help="filler words between the country and the language (default 50)")
    demo.add_argument("--steps", type=positive_int, default=None,
                      help="training steps per cell (at most; training stops once solved; "
                           "default 1500)")
    demo.add_argument("--hidden", type=positive_int, default=32,
                      help="hidden size (default %(default)s)")
    demo.add_argument("--seed", type=non_negative_int, default=0,
                      help="random seed (default %(default)s)")
    demo.add_argument("--backend", choices=backends.names(),
                      help="default: cupy when a GPU is usable, else numpy")
    add_threads(demo)
    demo.add_argument("--quiet", action="store_true", help="no progress output")
    demo.set_defaults(run=_cmd_demo)

    cli_train.add_parser(sub)

    docs = sub.add_parser(
        "docs", help="generate a page per cell: equations, Jacobians, diagram; or build the site",
        description="Write the generated cell pages (all of the zoo into docs/cells, or the "
                    "cells given with --cell), or build the docs site with its math rendered.")
    docs.add_argument("--cell", action="append", metavar="CELL",
                      help=f"write only this cell's page, repeatable: {CELL_HELP}")
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
