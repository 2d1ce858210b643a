"""The ``tinygrad-lstm`` command line, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tinygrad_lstm as tl

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinygrad_lstm", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_version() -> None:
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"tinygrad-lstm {tl.__version__}"


def test_help_lists_the_subcommands() -> None:
    out = run("--help")
    assert out.returncode == 0
    for command in ("demo", "backends", "primitives"):
        assert command in out.stdout


def test_bad_arguments_exit_2_with_one_line() -> None:
    out = run("no-such-command")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("tinygrad-lstm: error: argument")
    out = run("demo", "--backend", "tpu")
    assert out.returncode == 2 and "invalid choice: 'tpu'" in out.stderr
    out = run("demo", "--seed", "x")
    assert out.returncode == 2 and "invalid int value" in out.stderr


def test_demo_runs_and_reports_its_backend() -> None:
    out = run("demo")
    assert out.returncode == 0, out.stderr
    assert "on backend 'numpy'" in out.stdout
    assert "gradcheck against central differences in float64: True" in out.stdout


def test_backends_and_primitives_listings() -> None:
    out = run("backends")
    assert out.returncode == 0 and "numpy    available" in out.stdout
    assert "cupy" in out.stdout
    out = run("primitives")
    assert out.returncode == 0
    assert [line.split()[0] for line in out.stdout.splitlines()] == list(tl.PRIMITIVES)
