"""``tinygrad-lstm train``: its options, generated in part from the registered tasks.

Each task declares its command-line options (``Task.options``, ``tasks.TaskOption``); the
train command offers every flag some registered task declares and passes a given flag to the
chosen task, or refuses it in one line when that task has no such option. Adding a task (or
registering one, ``tl.tasks.register``) therefore brings its options without editing this
file.
"""

from __future__ import annotations

import argparse
from typing import Any

import backends
import tinygrad_lstm as tl
from tinygrad_lstm.cli_args import (
    CELL_HELP,
    add_threads,
    apply_threads,
    int_arg,
    key_value,
    non_negative_float,
    non_negative_int,
    plot_run,
    positive_float,
    positive_int,
    probability,
    real_arg,
)
from tinygrad_lstm.tasks import TaskOption

DEFAULTS = tl.train.TrainConfig()


def _cell_options(spec: tl.cells.CellSpec, pairs: list[tuple[str, str]] | None
                  ) -> dict[str, Any]:
    """``--cell-option KEY=VALUE`` pairs, typed by the cell's constructor signature."""
    return dict(spec.parse_option(key, value) for key, value in pairs or [])


def task_flags() -> dict[str, tuple[TaskOption, list[str]]]:
    """Every flag the registered tasks declare, with the names of the tasks that take it.

    Raises TypeError when two tasks declare one flag with different types or bounds (one
    command-line option cannot parse both).
    """
    flags: dict[str, tuple[TaskOption, list[str]]] = {}
    for name in tl.tasks.names():
        for option in tl.tasks.get(name).options:
            known = flags.get(option.flag)
            if known is None:
                flags[option.flag] = (option, [name])
                continue
            first, takers = known
            if (first.type, first.low) != (option.type, option.low):
                raise TypeError(f"task {name!r} declares --{option.flag} as {option.type.__name__}"
                                f" >= {option.low}, task {takers[0]!r} as {first.type.__name__} "
                                f">= {first.low}; a shared flag needs one type")
            takers.append(name)
    return flags


def _task_options(task: str, args: argparse.Namespace) -> dict[str, Any]:
    """The chosen task's constructor options from the task flags given on the command line."""
    declared = {option.flag: option for option in tl.tasks.get(task).options}
    options: dict[str, Any] = {}
    for flag, (_, takers) in task_flags().items():
        value = getattr(args, flag.replace("-", "_"), None)
        if value is None:
            continue
        own = declared.get(flag)
        if own is None:
            use = ("use " + ", ".join(f"--{f}" for f in declared)) if declared else \
                "it takes no task options"
            raise tl.train.RunError(f"--{flag} does not apply to the {task!r} task ({use}; "
                                    f"--{flag} is for {', '.join(takers)})")
        try:
            options.update(own.options(value))
        except ValueError as err:
            raise tl.train.RunError(f"--{flag} {err}") from None
    return options


def _add_task_flags(train: argparse.ArgumentParser) -> None:
    for flag, (option, takers) in task_flags().items():
        if option.type is int:
            parse: Any = int if option.low is None else int_arg(int(option.low))
        elif option.type is float:
            parse = real_arg(option.low)
        else:
            parse = option.type
        defaults = {o.default for t in takers for o in tl.tasks.get(t).options if o.flag == flag}
        default = f"default {defaults.pop()}" if len(defaults) == 1 else "default: the task's"
        train.add_argument(f"--{flag}", type=parse,
                           help=f"{option.help} ({default}; tasks {', '.join(takers)})")


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
    apply_threads(args)
    given = _given(args)
    if args.resume is not None:
        extra = [flag for flag, value in (
            ("--out", args.out), ("--cell-option", args.cell_option),
            *((f"--{f}", getattr(args, f.replace("-", "_"))) for f in task_flags())) if value]
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
        spec = tl.train.TrainConfig(cell=given.get("cell", DEFAULTS.cell)).cell_spec()
        task = given.get("task", DEFAULTS.task)
        config = tl.train.TrainConfig(**{
            **given, "cell": spec.name,
            "task_options": _task_options(task, args),
            "cell_options": _cell_options(spec, args.cell_option),
            "steps": args.steps or DEFAULTS.steps})
        result = tl.train.train(config, args.out, progress=not args.quiet)
        folder = args.out
    metric = "n/a" if result.metric is None else f"{result.metric:.4f}"
    plotted = plot_run(folder)
    print(f"{result.status} at step {result.step} in {result.seconds:.1f} s: held-out metric "
          f"{metric} ({'solved' if result.solved else 'not solved'}); run saved in {folder}"
          + (f", learning curves in {plotted}" if plotted else ""))
    return 130 if result.status == "interrupted" else 0


def add_parser(sub: Any) -> None:
    d = DEFAULTS
    train = sub.add_parser(
        "train", help="train a cell on a task (or --resume a run)",
        description="Train a cell on a task; the run's folder gets config.json, metrics.jsonl, "
                    "checkpoint.npz and learning_curves.png.")
    train.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR (with "
                       "--steps: to a new total; with --backend: there; other run options "
                       "must match the saved run)")
    train.add_argument("--cell", metavar="CELL", help=f"{CELL_HELP} (default {d.cell})")
    train.add_argument("--cell-option", type=key_value, action="append", metavar="KEY=VALUE",
                       help="a cell constructor option, typed from its signature, e.g. "
                            "forget_bias=1.0, init=orthogonal, couple=i, gate_bias=z:-2 "
                            "(repeatable)")
    train.add_argument("--task", choices=list(tl.tasks.available()), metavar="TASK",
                       help=f"a task from `tinygrad-lstm tasks` (default {d.task})")
    _add_task_flags(train)  # --seq-len, --gap, ...: what the registered tasks declare
    train.add_argument("--hidden", type=positive_int, help=f"hidden size (default {d.hidden})")
    train.add_argument("--layers", type=positive_int,
                       help=f"stacked layers (default {d.layers})")
    train.add_argument("--dropout", type=probability, help="dropout between stacked layers, "
                       f"in training only (default {d.dropout:g})")
    train.add_argument("--steps", type=positive_int, help=f"training steps (default {d.steps}"
                       "; with --resume: a new total)")
    train.add_argument("--batch-size", type=positive_int,
                       help=f"sequences per step (default {d.batch_size})")
    train.add_argument("--optimizer", choices=tl.train.OPTIMIZERS,
                       help=f"default {d.optimizer}")
    train.add_argument("--lr", type=non_negative_float,
                       help=f"learning rate (default {d.lr:g})")
    train.add_argument("--momentum", type=non_negative_float,
                       help=f"SGD's momentum, >= 0 (default {d.momentum:g}; the other "
                            "optimisers ignore it)")
    train.add_argument("--input-noise", type=non_negative_float, metavar="STD",
                       help="std of Gaussian noise added to the inputs, in training only "
                            f"(Greff et al. 2015; default {d.input_noise:g})")
    train.add_argument("--clip", type=positive_float,
                       help=f"global gradient-norm clipping (default {d.clip:g})")
    train.add_argument("--no-clip", action="store_true", help="no gradient clipping")
    train.add_argument("--backend", choices=backends.names(),
                       help="default: $TINYGRAD_LSTM_BACKEND, else numpy")
    train.add_argument("--seed", type=non_negative_int, help=f"default {d.seed}")
    train.add_argument("--eval-every", type=positive_int,
                       help=f"steps between evaluations (default {d.eval_every})")
    train.add_argument("--eval-size", type=positive_int,
                       help=f"held-out sequences (default {d.eval_size})")
    train.add_argument("--checkpoint-every", type=positive_int,
                       help=f"steps between checkpoints (default {d.checkpoint_every})")
    train.add_argument("--no-early-stop", action="store_true",
                       help="train all steps even once the task is solved")
    add_threads(train)
    train.add_argument("--out", metavar="DIR", help="folder for the run (must not hold one; "
                       "made once the model is built)")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.set_defaults(run=_cmd_train)
