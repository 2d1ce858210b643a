"""The ``tinygrad-lstm`` command line.

Subcommands: ``demo`` (the main job), ``backends``, ``primitives``. Bad arguments get argparse's
one-line error and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

import backends
import tinygrad_lstm as tl


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


def _cmd_demo(args: argparse.Namespace) -> int:
    backend = tl.set_backend(args.backend) if args.backend else tl.get_backend()
    print(f"tinygrad-lstm {tl.__version__} on backend '{backend.name}' "
          f"(available: {', '.join(tl.backends_available())})")
    rng = np.random.default_rng(args.seed)
    W = tl.Tensor(rng.standard_normal((8, 4)), requires_grad=True)
    x = tl.Tensor(rng.standard_normal((3, 8)))
    start = time.perf_counter()
    y = (x @ W).sigmoid() * (x @ W).tanh()
    y.sum().backward()
    elapsed = time.perf_counter() - start
    print(f"y = sigmoid(x @ W) * tanh(x @ W): y {y.shape}, dL/dW {W.grad.shape}, "
          f"{elapsed * 1e3:.2f} ms forward+backward")
    ok = tl.gradcheck(lambda W: ((x @ W).tanh() ** 2).sum(), W)
    print(f"gradcheck against central differences in float64: {ok}")
    print(f"{len(tl.PRIMITIVES)} primitives: {', '.join(tl.PRIMITIVES)}")
    print("The cell zoo, the training tasks and the essay's experiment arrive with the next "
          "issues; this demo grows with them.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinygrad-lstm",
        description="Recurrent cells written once: run on NumPy or CuPy, differentiated by a "
                    "tape, printed by SymPy.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {tl.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="the main job: show the engine at work")
    demo.add_argument("--backend", choices=backends.names(), help="numpy or cupy (default: "
                      "$TINYGRAD_LSTM_BACKEND, else numpy)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(run=_cmd_demo)
    sub.add_parser("backends", help="list backends and why any cannot run here").set_defaults(
        run=_cmd_backends)
    sub.add_parser("primitives", help="list the primitive table").set_defaults(
        run=_cmd_primitives)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except tl.BackendUnavailable as err:
        print(f"tinygrad-lstm: error: {err}", file=sys.stderr)
        return 2
