"""The tiny study spec the study tests share, and the ``tinygrad-lstm study`` subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# temporal order at length 12: a trial of 30 steps takes about a second
TINY = """\
[study]
name = "{name}"
cells = {cells}
baseline = "peephole"
trials_per_cell = {trials}
seed = 3

[task]
name = "temporal-order"
options = {{ min_length = 12, max_length = 12, t1_range = [2, 4], t2_range = [6, 8] }}

[train]
steps = {steps}
batch_size = 16
eval_every = 10
eval_size = 64
early_stop = false

[search]
lr = {{ low = 1e-3, high = 1e-1, log = true }}
hidden = {{ low = 4, high = 16 }}
"""


def tiny(name: str = "tiny", cells: tuple[str, ...] = ("peephole", "greff-nfg", "gru"),
         trials: int = 2, steps: int = 30) -> str:
    return TINY.format(name=name, cells=list(cells), trials=trials, steps=steps).replace(
        "'", '"')


def write(folder: Path, text: str, name: str = "study.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def cli(*args: str, cwd: Path = REPO, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "tinygrad_lstm", "study", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)
