"""What the commands of ``tinygrad-lstm`` share: the parser, argument types, thread and plot
helpers. The argument types apply ``tinygrad_lstm.checks``' rules, so the command line refuses
what the run's config and the library refuse, with argparse's one-line error."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

import tinygrad_lstm as tl
from tinygrad_lstm.checks import check_int, check_real, describe_range


class Parser(argparse.ArgumentParser):
    """argparse, with a mistake reported in one line (no usage block above it)."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def int_arg(minimum: int) -> Callable[[str], int]:
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


def real_arg(low: float | None = None, high: float | None = None, open_low: bool = False,
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


positive_int = int_arg(1)


non_negative_int = int_arg(0)


non_negative_float = real_arg(0.0)


positive_float = real_arg(0.0, open_low=True)


probability = real_arg(0.0, 1.0, open_high=True)


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def apply_threads(args: argparse.Namespace) -> None:
    if getattr(args, "threads", None) is not None:
        tl.set_num_threads(args.threads)


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="BLAS threads (default: one, the fastest for recurrent nets on "
                             "the machines measured, see benchmarks/threads.py; or "
                             "OMP_NUM_THREADS when set)")


CELL_HELP = ("a zoo name from `tinygrad-lstm cells`, or module:Class for your own tl.Cell "
              "subclass in module.py under the current folder")


def plot_run(folder: str) -> str | None:
    """The run's learning curves, drawn next to its metrics (when matplotlib is there)."""
    from tinygrad_lstm import plot

    try:
        return str(plot.plot_runs([folder], os.path.join(folder, "learning_curves.png")))
    except plot.PlotError:  # no matplotlib, or no evaluation yet: the run itself is fine
        return None
