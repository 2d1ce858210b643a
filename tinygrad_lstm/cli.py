"""The ``tinygrad-lstm`` command line.

    tinygrad-lstm demo          the essay's claim, shown: RNN vs LSTM vs GRU on "France ... French"
    tinygrad-lstm train ...     train a cell on a task; --resume DIR continues a run exactly
    tinygrad-lstm docs          a generated page per cell: equations, Jacobians, diagram
    tinygrad-lstm cells         the cell zoo with one-line descriptions
    tinygrad-lstm tasks         the long-term-dependency tasks and their baselines
    tinygrad-lstm backends      which backends run here, and why not
    tinygrad-lstm primitives    the primitive table

Bad arguments get argparse's one-line error and exit code 2; so does a run that cannot start
or resume (missing folder, a checkpoint from another model, ...).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

import backends
import tinygrad_lstm as tl


def _number(convert: type, what: str, ok: Callable[[float], bool]) -> Callable[[str], Any]:
    """An argparse type: ``convert`` the text, refuse values that are not ``what``."""
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid {convert.__name__} value: {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    return parse


_positive_int = _number(int, "a positive int", lambda v: v > 0)
_non_negative_int = _number(int, "a non-negative int", lambda v: v >= 0)
_positive_float = _number(float, "a positive number", lambda v: 0 < v < float("inf"))


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
            options["min_length"], options["max_length"] = seq_len, seq_len + 10
        else:
            raise tl.train.RunError(f"--seq-len does not apply to the {task!r} task"
                                    + (" (use --gap)" if task == "france" else ""))
    return options


def _cmd_train(args: argparse.Namespace) -> int:
    if args.resume is not None:
        result = tl.train.resume(args.resume, steps=args.steps, progress=not args.quiet)
        folder = args.resume
    else:
        if args.out is None:
            raise tl.train.RunError("--out DIR is required for a new run")
        config = tl.train.TrainConfig(
            cell=args.cell, task=args.task,
            task_options=_task_options(args.task, args.seq_len, args.gap),
            hidden=args.hidden, layers=args.layers, steps=args.steps or 1000,
            batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
            clip=args.clip, seed=args.seed, backend=args.backend, eval_every=args.eval_every,
            eval_size=args.eval_size, checkpoint_every=args.checkpoint_every,
            early_stop=not args.no_early_stop)
        result = tl.train.train(config, args.out, progress=not args.quiet)
        folder = args.out
    metric = "n/a" if result.metric is None else f"{result.metric:.4f}"
    print(f"{result.status} at step {result.step} in {result.seconds:.1f} s: held-out metric "
          f"{metric} ({'solved' if result.solved else 'not solved'}); run saved in {folder}")
    return 130 if result.status == "interrupted" else 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from tinygrad_lstm import docs

    try:
        written = docs.write(args.out)
    except OSError as err:
        print(f"tinygrad-lstm docs: error: {err}", file=sys.stderr)
        return 2
    svgs = sum(p.suffix == ".svg" for p in written)
    print(f"wrote {len(written) - svgs} pages and {svgs} diagrams into {args.out}"
          + ("" if svgs else " (install Graphviz to render the diagrams)"))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from tinygrad_lstm.demo import run_demo

    return run_demo(out=args.out, gap=args.gap, steps=args.steps, hidden=args.hidden,
                    seed=args.seed, backend=args.backend, progress=not args.quiet)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinygrad-lstm",
        description="Recurrent cells written once: run on NumPy or CuPy, differentiated by a "
                    "tape, printed by SymPy.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {tl.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="the essay's claim: RNN vs LSTM vs GRU on a long gap")
    demo.add_argument("--out", default="tinygrad-lstm-demo",
                      help="folder for the plot, metrics and equations (a new subfolder per "
                           "run; default %(default)s)")
    demo.add_argument("--gap", type=_non_negative_int, default=None,
                      help="filler words between the country and the language")
    demo.add_argument("--steps", type=_positive_int, default=None,
                      help="training steps per cell (at most; training stops once solved)")
    demo.add_argument("--hidden", type=_positive_int, default=32, help="hidden size")
    demo.add_argument("--seed", type=_non_negative_int, default=0, help="random seed")
    demo.add_argument("--backend", choices=backends.names(),
                      help="default: cupy when a GPU is usable, else numpy")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(run=_cmd_demo)

    train = sub.add_parser("train", help="train a cell on a task (or --resume a run)")
    train.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR")
    train.add_argument("--cell", default="lstm", choices=list(tl.cells.available()),
                       metavar="CELL", help="a cell from `tinygrad-lstm cells` (default lstm)")
    train.add_argument("--task", default="adding", choices=list(tl.tasks.available()),
                       metavar="TASK", help="a task from `tinygrad-lstm tasks` (default adding)")
    train.add_argument("--seq-len", type=_positive_int, help="sequence length (adding, copy, "
                       "temporal-order)")
    train.add_argument("--gap", type=_non_negative_int, help="filler words (france)")
    train.add_argument("--hidden", type=_positive_int, default=64, help="hidden size")
    train.add_argument("--layers", type=_positive_int, default=1, help="stacked layers")
    train.add_argument("--steps", type=_positive_int, help="training steps (default 1000; "
                       "with --resume: a new total)")
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--optimizer", choices=tl.train.OPTIMIZERS, default="adam")
    train.add_argument("--lr", type=_positive_float, default=1e-3, help="learning rate")
    train.add_argument("--clip", type=_positive_float, default=1.0,
                       help="global gradient-norm clipping")
    train.add_argument("--backend", choices=backends.names())
    train.add_argument("--seed", type=_non_negative_int, default=0)
    train.add_argument("--eval-every", type=_positive_int, default=100)
    train.add_argument("--eval-size", type=_positive_int, default=512)
    train.add_argument("--checkpoint-every", type=_positive_int, default=500)
    train.add_argument("--no-early-stop", action="store_true",
                       help="train all steps even once the task is solved")
    train.add_argument("--out", metavar="DIR", help="folder for the run (must not hold one)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=_cmd_train)

    docs = sub.add_parser("docs", help="generate a page per cell: equations, Jacobians, diagram")
    docs.add_argument("--out", default="docs/cells", help="folder (default %(default)s)")
    docs.set_defaults(run=_cmd_docs)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except (tl.BackendUnavailable, tl.train.RunError, tl.CheckpointError) as err:
        print(f"tinygrad-lstm {args.command}: error: {err}", file=sys.stderr)
        return 2
