"""A user's first day on the command line (issue 12): custom cells, threads, no tracebacks,
watching training, plots and the docs. Every command runs as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tinygrad_lstm as tl

ROOT = Path(__file__).resolve().parent.parent
MYCELLS = textwrap.dedent('''
    import tinygrad_lstm as tl


    class CoupledLSTM(tl.Cell):
        """An LSTM whose input gate is 1 - f."""
        state = ("h", "c")

        def __init__(self, input_size, hidden_size, scale: float = 1.0, **options):
            super().__init__(input_size, hidden_size, **options)
            self.scale = scale

        def step(self, x, h, c):
            f = self.gate("f", h, x).sigmoid()
            c = f * c + (1 - f) * (self.gate("C", h, x) * self.scale).tanh()
            return self.gate("o", h, x).sigmoid() * c.tanh(), c


    class NotACell:
        pass
''')
SMALL = ("--task", "france", "--gap", "1", "--hidden", "4", "--batch-size", "2",
         "--eval-size", "4", "--eval-every", "2", "--quiet")


def start(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.Popen:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    full_env.pop("TINYGRAD_LSTM_BACKEND", None)  # the tests' own choice, not the caller's
    full_env.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "tinygrad_lstm", *args], cwd=cwd,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess:
    return finish(start(*args, cwd=cwd, env=env))


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    """A user's working folder: their cell module and a regular file in the way."""
    (tmp_path / "mycells.py").write_text(MYCELLS)
    (tmp_path / "afile").write_text("not a folder")
    return tmp_path


@pytest.mark.slow
def test_a_custom_cell_trains_resumes_and_refuses_a_conflicting_cell(user_folder) -> None:
    out = run("train", "--cell", "mycells:CoupledLSTM", "--cell-option", "scale=0.5",
              "--cell-option", "forget_bias=1", "--steps", "4", "--no-early-stop", *SMALL,
              "--out", "run", cwd=user_folder)
    assert out.returncode == 0, out.stderr
    config = json.loads((user_folder / "run" / "config.json").read_text())
    assert config["cell"] == "mycells:CoupledLSTM"
    assert config["cell_options"] == {"scale": 0.5, "forget_bias": 1.0}
    assert (user_folder / "run" / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "learning curves in run/learning_curves.png" in out.stdout
    saved = (user_folder / "run" / "checkpoint.npz").read_bytes()
    conflict = run("train", "--resume", "run", "--cell", "lstm", cwd=user_folder)
    assert conflict.returncode == 2
    assert conflict.stderr.strip() == (
        "tinygrad-lstm train: error: cannot resume: the run in run has "
        "cell='mycells:CoupledLSTM', not 'lstm'; drop that option, or start a new run with "
        "--out")
    hidden = run("train", "--resume", "run", "--hidden", "8", cwd=user_folder)
    assert hidden.returncode == 2 and "has hidden=4, not 8" in hidden.stderr
    assert (user_folder / "run" / "checkpoint.npz").read_bytes() == saved
    more = run("train", "--resume", "run", "--cell", "mycells:CoupledLSTM", "--steps", "6",
               "--backend", "numpy", "--quiet", cwd=user_folder)  # same cell; any backend
    assert more.returncode == 0, more.stderr
    assert "finished at step 6" in more.stdout


@pytest.mark.slow
def test_the_demo_and_the_docs_take_a_custom_cell(user_folder) -> None:
    demo = start("demo", "--cell", "mycells:CoupledLSTM", "--cell", "lstm", "--gap", "1",
                 "--steps", "2", "--hidden", "4", "--quiet", "--out", "demo", cwd=user_folder)
    docs = run("docs", "--cell", "mycells:CoupledLSTM", "--out", "pages", cwd=user_folder)
    assert docs.returncode == 0, docs.stderr
    page = (user_folder / "pages" / "CoupledLSTM.md").read_text()
    assert "# CoupledLSTM" in page and "An LSTM whose input gate is 1 - f." in page
    assert r"\sigma" in page and "## Jacobians" in page and "```dot" in page
    assert r"\frac{\partial C_t}{\partial C_{t-1}}" in page
    assert "from mycells import CoupledLSTM" in page
    demo_out = finish(demo)
    assert demo_out.returncode == 0, demo_out.stderr
    table = [line.split()[0] for line in demo_out.stdout.splitlines()
             if line.startswith(("COUPLEDLSTM", "LSTM "))]
    assert table == ["COUPLEDLSTM", "LSTM"]
    (run_folder,) = (user_folder / "demo").iterdir()
    assert {"coupledlstm", "lstm"} <= {p.name.lower() for p in run_folder.iterdir()}


@pytest.mark.slow
def test_mistakes_give_one_line_exit_2_and_create_nothing(user_folder) -> None:
    cases = [
        (("train", "--hidden", "10000000", "--out", "r"),
         r"needs about [\d,]+ GiB of memory and the machine has [\d,]+ GiB; use a smaller "
         r"--hidden"),
        (("train", "--task", "copy", "--seq-len", "100000000", "--out", "r"),
         r"needs about .* GiB .*use shorter sequences \(100,000,020 steps now: --seq-len"),
        (("train", "--out", "afile/run"), r"--out afile/run: cannot create it, .*afile is a "
                                          r"file, not a folder"),
        (("train", "--out", "afile"), r"--out afile: that is a file, not a folder"),
        (("train", "--out", "/proc/no-such/run", "--steps", "1", *SMALL),
         r"cannot create /proc/no-such/run: .*; choose another folder"),
        (("demo", "--out", "afile"), r"--out afile: that is a file, not a folder"),
        (("demo", "--gap", "100000000"), r"100,000,009 steps now: --seq-len, or --gap for "
                                         r"france"),
        (("train", "--task", "temporal-order", "--seq-len", "5", "--out", "r"),
         r"--seq-len must be at least 62 for the temporal-order task, got 5"),
        (("docs", "--build"), r"run from the repository root"),
        (("train", "--cell", "nosuchmodule:Cell", "--out", "r"),
         r"no module named 'nosuchmodule' \(run from the folder that holds nosuchmodule.py"),
        (("train", "--cell", "mycells:NotACell", "--out", "r"),
         r"cell 'mycells:NotACell' is not a tl.Cell subclass"),
        (("train", "--cell", "mycells:Missing", "--out", "r"), r"module mycells has no "
                                                               r"'Missing'"),
        (("train", "--cell", "elman", "--out", "r"), r"unknown cell 'elman'; available: rnn"),
        (("train", "--cell-option", "colour=red", "--out", "r"),
         r"cell 'lstm' has no option 'colour'; its options: bias, init"),
        (("train", "--cell-option", "forget_bias=high", "--out", "r"),
         r"cell option forget_bias='high': expected float or none"),
        (("train", "--cell-option", "novalue", "--out", "r"), r"expected KEY=VALUE"),
        (("train", "--cell", "mut1", "--hidden", "8", "--out", "r"),
         r"cell 'mut1': MUT1: .*input_size \(2\) must equal hidden_size \(8\)"),
        (("train", "--dropout", "1.5", "--out", "r"), r"must be a finite number in \[0.0, 1.0\)"),
        (("train", "--threads", "0", "--out", "r"), r"must be a positive int"),
        (("train", "--resume", "r", "--out", "r2"), r"--out cannot change it"),
        (("docs", "--cell", "mycells:NotACell", "--out", "p"), r"is not a tl.Cell subclass"),
        (("plot", "afile"), r"afile is not a folder"),
        (("plot", "."), r"holds no metrics.jsonl"),
    ]
    procs = [start(*args, cwd=user_folder) for args, _ in cases]
    env_cases = [({"TINYGRAD_LSTM_BACKEND": "tpu"},
                  r"^tinygrad-lstm train: error: TINYGRAD_LSTM_BACKEND='tpu' is not a backend; "
                  r"use one of cupy, numpy, or unset it$"),
                 ({"TINYGRAD_LSTM_BACKEND": "cupy"},
                  r"^tinygrad-lstm train: error: TINYGRAD_LSTM_BACKEND=cupy: cupy backend: ")]
    env_procs = [start("train", "--out", "r", cwd=user_folder, env=env)
                 for env, _ in env_cases]
    for (args, message), proc in zip(cases, procs, strict=True):
        out = finish(proc)
        assert out.returncode == 2, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in out.stderr, (args, out.stderr)
        assert re.search(message, lines[0]), (args, lines[0])
    for (_, message), proc in zip(env_cases, env_procs, strict=True):
        out = finish(proc)
        assert out.returncode == 2 and re.search(message, out.stderr.strip()), out.stderr
        if tl.backends_available() == ["numpy"]:
            assert len(out.stderr.strip().splitlines()) == 1
    created = sorted(p.name for p in user_folder.iterdir() if p.name != "__pycache__")
    assert created == ["afile", "mycells.py"]  # no run folder, no page, no plot


def test_no_subcommand_prints_help_and_fails() -> None:
    out = run()
    assert out.returncode == 2
    assert "usage: tinygrad-lstm" in out.stderr and "train" in out.stderr
    assert out.stderr.strip().splitlines()[-1] == "tinygrad-lstm: error: a COMMAND is required"


def test_help_shows_the_defaults() -> None:
    text = run("train", "--help").stdout
    flat = " ".join(text.split())
    for shown in ("hidden size (default 64)", "(default lstm)", "(default adding)",
                  "training steps (default 1000", "learning rate (default 0.001)",
                  "(default 1)", "--cell-option KEY=VALUE", "--no-clip", "--dropout",
                  "--threads N", "BLAS threads (default: one"):
        assert shown in flat, shown
    assert "default 50" in " ".join(run("demo", "--help").stdout.split())


@pytest.mark.slow
def test_the_start_line_and_the_heartbeat_when_not_on_a_terminal(tmp_path) -> None:
    out = run("train", "--task", "france", "--gap", "1", "--hidden", "4", "--batch-size", "2",
              "--eval-size", "4", "--eval-every", "1000", "--steps", "150", "--threads", "2",
              "--no-clip", "--dropout", "0.25", "--layers", "2", "--out", str(tmp_path / "r"),
              env={"TINYGRAD_LSTM_HEARTBEAT_S": "0.05"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert re.fullmatch(r"training lstm \(hidden 4, 2 layers\) on france, gap=1: backend "
                        r"numpy, 2 BLAS threads, [\d,]+ parameters, steps 0\.\.150", lines[0])
    beats = [line for line in lines if "steps/s" in line]
    assert beats, out.stdout
    assert re.fullmatch(r"lstm on france: step \d+/150, [\d.e+]+ steps/s, loss [\d.e+-]+, "
                        r"ETA \d+m\d\ds", beats[0])
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["clip"] is None and config["dropout"] == 0.25


@pytest.mark.slow
def test_plot_draws_several_runs_on_one_figure(tmp_path) -> None:
    procs = [start("train", "--cell", cell, "--steps", "4", "--no-early-stop", *SMALL,
                   "--out", str(tmp_path / cell)) for cell in ("lstm", "gru")]
    for proc in procs:
        assert finish(proc).returncode == 0
    out = run("plot", str(tmp_path / "lstm"), str(tmp_path / "gru"), "--out",
              str(tmp_path / "both.svg"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"wrote {tmp_path / 'both.svg'} (2 runs)"
    svg = (tmp_path / "both.svg").read_text()
    assert "lstm (lstm, france)" in svg and "gru (gru, france)" in svg  # the legend


@pytest.mark.slow
def test_the_custom_cells_guide_ends_with_a_loop_that_trains() -> None:
    """docs/custom-cells.md's last code block, run as a user would paste it."""
    text = (ROOT / "docs" / "custom-cells.md").read_text()
    block = re.findall(r"```python\n(.*?)```", text, flags=re.S)[-1]
    assert text.rstrip().endswith("```") and "for step in range" in block
    out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    accuracy, chance = map(float, re.fullmatch(r"accuracy ([\d.]+) \(chance ([\d.]+)\)\n",
                                               out.stdout).groups())
    assert accuracy >= 0.9 > chance + 0.5
    assert "`accuracy 1.00 (chance 0.25)`" in text and out.stdout.strip() == (
        "accuracy 1.00 (chance 0.25)")


def test_every_cell_page_is_in_the_site_navigation() -> None:
    text = (ROOT / "mkdocs.yml").read_text()
    listed = re.findall(r"^\s+- [^:\n]+: cells/([\w-]+)\.md$", text, flags=re.M)
    assert listed == ["index", *tl.cells.available()]


def test_the_readme_quick_start_trains_a_custom_cell_from_the_command_line() -> None:
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"tinygrad-lstm train --cell \w+:\w+", readme)
