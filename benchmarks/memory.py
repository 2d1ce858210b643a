"""Does memory grow with training? Memory held after 1,000 and after 10,000 steps of a small LSTM.

    python benchmarks/memory.py [--steps 10000] [--check 1000]

tracemalloc sees Python's and NumPy's allocations; ``gc.collect()`` runs before each reading so
that only what is really kept counts. The tape must free each step's graph: the two figures
should agree to within a few percent.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tinygrad_lstm as tl  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--check", type=int, default=1_000)
    args = parser.parse_args(argv)
    config = tl.train.TrainConfig(cell="lstm", task="france", task_options={"gap": 5},
                                  hidden=16, batch_size=8, steps=args.steps, eval_size=16)
    trainer = tl.train.Trainer(config, tempfile.mkdtemp())
    tracemalloc.start()
    start = time.perf_counter()
    readings = {}
    for step in range(1, args.steps + 1):
        trainer.train_step()
        if step in (args.check, args.steps):
            gc.collect()
            readings[step] = tracemalloc.get_traced_memory()[0]
            print(f"after {step:6d} steps: {readings[step] / 1024:8.1f} KiB held "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    tracemalloc.stop()
    first, last = readings[args.check], readings[args.steps]
    print(f"growth from step {args.check} to {args.steps}: {(last - first) / first:+.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
