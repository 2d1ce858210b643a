"""The ``tinygrad-lstm`` command line, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
    for command in ("demo", "train", "cells", "tasks", "backends", "primitives"):
        assert command in out.stdout


@pytest.mark.slow
def test_bad_arguments_exit_2_with_one_line(tmp_path) -> None:
    cases = [
        (("no-such-command",), "invalid choice: 'no-such-command'"),
        (("demo", "--backend", "tpu"), "invalid choice: 'tpu'"),
        (("demo", "--seed", "x"), "invalid int value: 'x'"),
        (("train", "--cell", "nope", "--out", str(tmp_path / "a")), "unknown cell 'nope'"),
        (("train", "--task", "nope", "--out", str(tmp_path / "a")), "invalid choice: 'nope'"),
        (("train", "--hidden", "0", "--out", str(tmp_path / "a")), "must be a positive int"),
        (("train", "--hidden", "-3", "--out", str(tmp_path / "a")), "must be a positive int"),
        (("train", "--lr", "nan", "--out", str(tmp_path / "a")), "must be a finite number"),
        (("train", "--gap", "5", "--task", "adding", "--out", str(tmp_path / "a")),
         "--gap does not apply to the 'adding' task (use --seq-len; --gap is for france)"),
        (("train", "--dropout", "1", "--out", str(tmp_path / "a")),
         "must be a finite number in [0.0, 1.0)"),
        (("train", "--input-noise", "-0.1", "--out", str(tmp_path / "a")),
         "must be a finite number >= 0.0"),
        (("train",), "--out DIR is required"),
        (("train", "--resume", str(tmp_path / "missing")), "is not a folder"),
    ]
    for args, message in cases:
        out = run(*args)
        assert out.returncode == 2, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert "error:" in lines[-1] and message in lines[-1], (args, lines)
    assert not (tmp_path / "a").exists()  # nothing was created by a refused run


@pytest.mark.slow
def test_train_resume_and_refuse_to_overwrite(tmp_path) -> None:
    folder = tmp_path / "run"
    args = ("train", "--cell", "gru", "--task", "france", "--gap", "2", "--hidden", "8",
            "--steps", "4", "--batch-size", "4", "--eval-every", "2", "--eval-size", "8",
            "--optimizer", "sgd", "--momentum", "0.5", "--input-noise", "0.25",
            "--no-early-stop", "--quiet", "--out", str(folder))
    out = run(*args)
    assert out.returncode == 0, out.stderr
    assert "finished at step 4" in out.stdout
    config = json.loads((folder / "config.json").read_text())
    assert (config["momentum"], config["input_noise"]) == (0.5, 0.25)
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.npz", "config.json",
                                                       "learning_curves.png", "metrics.jsonl"]
    saved = (folder / "checkpoint.npz").read_bytes()
    again = run(*args)
    assert again.returncode == 2 and "already holds a run" in again.stderr
    assert (folder / "checkpoint.npz").read_bytes() == saved
    more = run("train", "--resume", str(folder), "--steps", "6", "--quiet")
    assert more.returncode == 0, more.stderr
    assert "finished at step 6" in more.stdout


@pytest.mark.slow
def test_resume_refuses_a_checkpoint_from_another_model(tmp_path) -> None:
    folder = tmp_path / "run"
    out = run("train", "--cell", "lstm", "--task", "france", "--gap", "1", "--hidden", "8",
              "--steps", "2", "--batch-size", "2", "--eval-size", "4", "--quiet", "--out",
              str(folder))
    assert out.returncode == 0, out.stderr
    config = json.loads((folder / "config.json").read_text())
    config["hidden"] = 16
    (folder / "config.json").write_text(json.dumps(config))
    saved = (folder / "checkpoint.npz").read_bytes()
    bad = run("train", "--resume", str(folder), "--quiet")
    assert bad.returncode == 2
    assert "does not fit" in bad.stderr and "(16, 16) in the model" in bad.stderr
    assert (folder / "checkpoint.npz").read_bytes() == saved


@pytest.mark.slow
def test_demo_runs_and_writes_its_outputs(tmp_path) -> None:
    out = run("demo", "--gap", "2", "--steps", "4", "--hidden", "8", "--quiet", "--out",
              str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "on backend 'numpy'" in out.stdout
    for cell in ("RNN", "LSTM", "GRU"):
        assert any(line.startswith(cell) for line in out.stdout.splitlines())
    (folder,) = tmp_path.iterdir()
    names = {p.name for p in folder.iterdir()}
    assert {"metrics.json", "lstm_equations.tex", "rnn", "lstm", "gru"} <= names
    assert r"\sigma" in (folder / "lstm_equations.tex").read_text()


def test_listings() -> None:
    out = run("backends")
    assert out.returncode == 0 and "numpy    available" in out.stdout
    assert "cupy" in out.stdout
    out = run("primitives")
    assert out.returncode == 0
    assert [line.split()[0] for line in out.stdout.splitlines()] == list(tl.PRIMITIVES)
    out = run("cells")
    assert out.returncode == 0
    assert [line.split()[0] for line in out.stdout.splitlines()] == list(tl.cells.available())
    out = run("tasks")
    assert out.returncode == 0 and "france" in out.stdout and "baseline" in out.stdout
