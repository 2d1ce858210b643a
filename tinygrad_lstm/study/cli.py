"""``tinygrad-lstm study SPEC``: run or resume a variant study; ``--example`` prints a spec."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tinygrad_lstm.cli_args import non_negative_float, positive_int


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``study`` subcommand to the main parser's subparsers."""
    p = subparsers.add_parser(
        "study", help="a variant study: Optuna search, Ray execution, Greff-style report",
        description="Run (or resume) the study a TOML spec describes; the results folder gets "
                    "study.db, one folder per trial, report.md and the figures.")
    p.add_argument("spec", nargs="?", help="the study spec (TOML)")
    p.add_argument("--example", action="store_true", help="print a small documented spec")
    p.add_argument("--out", metavar="DIR", help="results folder (default: <name>-study)")
    p.add_argument("--storage", metavar="URL", help="Optuna database URL (default: SQLite "
                   "study.db in the results folder), e.g. postgresql://user@host/db")
    p.add_argument("--workers", type=positive_int, help="CPUs of the local Ray instance "
                   "(default: all); ignored with --address")
    p.add_argument("--address", metavar="ADDR", help="an existing Ray cluster: ray://host:port "
                   "or auto")
    p.add_argument("--gpus-per-trial", type=non_negative_float, default=0.0, metavar="G",
                   help="GPUs per trial (trials then use the cupy backend)")
    p.add_argument("--backend", help="array backend for the trials")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--verbose", action="store_true", help="show Ray's own logs")
    p.set_defaults(run=main)
    return p


def main(args: argparse.Namespace) -> int:
    """Run the subcommand; a bad spec, address or database is one line on stderr, exit 2."""
    from tinygrad_lstm.study.spec import EXAMPLE, StudyError

    if args.example:
        sys.stdout.write(EXAMPLE)
        return 0
    if not args.spec:
        print("tinygrad-lstm study: error: give a SPEC file (or --example to print one)",
              file=sys.stderr)
        return 2
    try:
        from tinygrad_lstm import study

        result = study.run(args.spec, args.out, storage=args.storage, workers=args.workers,
                  address=args.address, gpus_per_trial=args.gpus_per_trial,
                  backend=args.backend, progress=not args.quiet, verbose=args.verbose)
    except ImportError as err:
        print(f"tinygrad-lstm study: error: {err.name or err} is not installed; "
              "pip install 'tinygrad-lstm[study]'", file=sys.stderr)
        return 2
    except StudyError as err:
        print(f"tinygrad-lstm study: error: {err}", file=sys.stderr)
        return 2
    from tinygrad_lstm.study.report import summary

    print(summary(result))
    return 0
