"""Variant studies end to end: a real Optuna study on a real local Ray instance, a real SIGKILL
of a study process and its resume, and the one-line errors for bad input."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
ray = pytest.importorskip("ray")
pytest.importorskip("sklearn")
scipy_stats = pytest.importorskip("scipy.stats")

import tinygrad_lstm as tl  # noqa: E402
from tests.study_specs import cli, tiny, write  # noqa: E402
from tinygrad_lstm.study import execution, search  # noqa: E402
from tinygrad_lstm.study.spec import StudyError, parse_spec  # noqa: E402

REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())

@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance (2 CPUs) for the module; ``tl.study.run`` uses it as it is."""
    started = execution.connect(None, 2, verbose=False)
    yield
    if started:
        ray.shutdown()


def finished_trials(url: str, name: str) -> list:
    study = optuna.load_study(study_name=name, storage=url)
    return [t for t in study.get_trials() if search.slot_done(t)]


# --- a tiny study, end to end ------------------------------------------------------------------

# two tasks (one through `lengths`), accuracy and MSE, with Greff's momentum and input noise
TASKS = """\
[[task]]
name = "temporal-order"
options = { t1_range = [2, 4], t2_range = [6, 8] }
lengths = [12]

[[task]]
name = "adding2016"
options = { length = 12 }
"""
GREFF_SEARCH = """\
momentum = { low = 0.01, high = 1.0, log = true, one_minus = true }
input_noise = { low = 0.0, high = 0.5 }
"""


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # scipy, on close values
@pytest.mark.slow
def test_tiny_study_of_two_tasks_end_to_end(tmp_path, local_ray):
    cells = ("peephole", "gru")
    text = tiny(cells=cells).replace("[task]", "[old]").replace("steps = 30", (
        'steps = 30\noptimizer = "sgd"')) + GREFF_SEARCH
    text = text[:text.index("[old]")] + TASKS + text[text.index("[train]") - 1:]
    spec = write(tmp_path, text)
    out = tmp_path / "results"
    result = tl.study.run(spec, out, progress=False)

    url = f"sqlite:///{out / 'study.db'}"
    trials = finished_trials(url, "tiny")
    labels = {"temporal-order@12": ("temporal-order", {"min_length": 12, "max_length": 12},
                                    max),
              "adding2016": ("adding2016", {"length": 12}, min)}
    assert sorted(t.user_attrs["slot"] for t in trials) == sorted(
        f"{task}/{c}#{k}" for task in labels for c in cells for k in range(2))
    for t in trials:
        assert t.state.name == "COMPLETE"
        name, options, best = labels[t.params["task"]]
        config = json.loads((out / "trials" / f"{t.number:05d}" / "config.json").read_text())
        assert config["task"] == name and options.items() <= config["task_options"].items()
        # the value is the best held-out metric the trainer logged for this trial
        logged = [h["metric"] for h in t.user_attrs["history"]]
        assert t.value == best(logged) and len(logged) == 3
        assert 1e-3 <= t.params["lr"] <= 1e-1 and 4 <= t.params["hidden"] <= 16
        # Greff's momentum: Optuna draws 1 - momentum log-uniformly; the trial trains with it
        assert 0.01 <= t.params["1-momentum"] <= 1.0
        assert config["momentum"] == pytest.approx(1 - t.params["1-momentum"])
        assert config["input_noise"] == t.params["input_noise"] <= 0.5
        assert config["optimizer"] == "sgd"
    # trial k of every cell trains with seed + k
    assert {t.user_attrs["seed"] for t in trials} == {3, 4}

    report = (out / "report.md").read_text()
    sections = report.split("\n## Task ")[1:]
    assert [s.split("\n")[0] for s in sections] == ["`temporal-order@12`", "`adding2016`"]
    for label, section in zip(labels, sections, strict=True):
        mine = [t for t in trials if t.params["task"] == label]
        base = [t.value for t in mine if t.params["cell"] == "peephole"]
        gru = [t.value for t in mine if t.params["cell"] == "gru"]
        p = scipy_stats.ttest_ind(gru, base, equal_var=False).pvalue
        row = next(line for line in section.splitlines() if line.startswith("| gru |"))
        assert f"| {p:.3g} |" in row, (row, p)
        assert result.cell("gru", label).p == pytest.approx(p)
        assert "| peephole | 2 | 0 |" in section and "p vs peephole" in section
        for name in (f"boxplot-{label}.png", f"importance-{label}.png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert f"]({name})" in section
        # fANOVA within the task: the cell and the searched parameters, fractions summing to 1
        importance = result.task(label).importance
        assert set(importance) == {"cell", "lr", "hidden", "1-momentum", "input_noise"}
        assert math.isclose(sum(importance.values()), 1.0, rel_tol=1e-6)
        for k, v in importance.items():
            assert f"| {k} | {v:.3f} |" in section
    assert "accuracy (higher is better)" in sections[0]
    assert "mse (lower is better)" in sections[1]
    with open(out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and {r["task"] for r in rows} == set(labels)

    # running it again finds every slot done: nothing is trained twice
    tl.study.run(spec, out, progress=False)
    assert len(optuna.load_study(study_name="tiny", storage=url).get_trials()) == 8


# --- a real SIGKILL, and the resume ------------------------------------------------------------

def _states(db: Path) -> dict[str, int]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return dict(con.execute("SELECT state, COUNT(*) FROM trials GROUP BY state"))
    except sqlite3.OperationalError:  # the tables are not made yet, or the file is locked
        return {}


@pytest.mark.slow
def test_killed_study_resumes_with_every_trial_exactly_once(tmp_path, local_ray):
    spec = write(tmp_path, tiny(name="killed", cells=("peephole", "gru"), trials=3, steps=40))
    out = tmp_path / "results"
    db = out / "study.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "tinygrad_lstm", "study", str(spec),
                             "--workers", "1", "--out", str(out)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while _states(db).get("COMPLETE", 0) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the study made no progress"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        # the local Ray instance it started is in its session: stop it too
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, err = proc.communicate(timeout=30)
    # Ray's own logs stay quiet: stderr is the study's progress line and nothing else
    lines = [line for line in err.decode().splitlines() if line.strip()]
    assert lines and all(line.startswith("study killed: ") for line in lines), lines
    at_kill = _states(db)
    assert proc.returncode == -signal.SIGKILL
    assert 2 <= at_kill.get("COMPLETE", 0) < 6, at_kill
    url = f"sqlite:///{db}"
    before = {t.number: t.value for t in finished_trials(url, "killed")}

    tl.study.run(spec, out, progress=False)
    study = optuna.load_study(study_name="killed", storage=url)
    complete = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    slots = sorted(t.user_attrs["slot"] for t in complete)
    assert slots == sorted(f"{c}#{k}" for c in ("peephole", "gru") for k in range(3))
    # the trials finished before the kill are kept as they were, not run again
    assert {t.number: t.value for t in complete if t.number in before} == before
    # a trial that was running at the kill was marked failed and its slot run again, with the
    # same hyperparameters
    interrupted = [t for t in study.get_trials() if t.state.name == "FAIL"]
    assert len(interrupted) == at_kill.get("RUNNING", 0), (at_kill, interrupted)
    for t in interrupted:
        again = next(c for c in complete if c.user_attrs["slot"] == t.user_attrs["slot"])
        # (a kill between Optuna's ask and the draw leaves fewer parameters to keep)
        assert {k: again.params[k] for k in t.params} == t.params
        assert again.number > t.number


# --- a worker that dies mid-trial ------------------------------------------------------------

DIES_ONCE = """\
import os
from pathlib import Path

import tinygrad_lstm as tl

MARK = Path(__file__).with_name("died")


class DiesOnce(tl.cells.RNN):
    \"\"\"A vanilla RNN whose worker process dies (os._exit) at its first step, once.\"\"\"

    def step(self, x, h):
        if not MARK.exists():
            MARK.write_text(str(os.getpid()))
            os._exit(1)
        return super().step(x, h)
"""


@pytest.mark.slow
def test_a_dead_worker_costs_its_trial_only_and_the_trial_is_retried(tmp_path, local_ray):
    (tmp_path / "dies_once.py").write_text(DIES_ONCE)
    text = tiny(name="dies", cells=("peephole", "dies_once:DiesOnce"), trials=1)
    spec = write(tmp_path, text)
    out = tmp_path / "results"
    tl.study.run(spec, out, progress=False)
    assert (tmp_path / "died").exists()  # a worker really died
    assert int((tmp_path / "died").read_text()) != os.getpid()
    study = optuna.load_study(study_name="dies", storage=f"sqlite:///{out / 'study.db'}")
    trials = study.get_trials()
    assert len(trials) == 2 and all(t.state.name == "COMPLETE" for t in trials)
    assert sorted(t.user_attrs["slot"] for t in trials) == ["dies_once:DiesOnce#0",
                                                            "peephole#0"]


# --- bad input: one clear line -----------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one_line_error(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinygrad-lstm study: error: "), lines
    return lines[0]


def test_unknown_cell_is_one_line(tmp_path):
    spec = write(tmp_path, tiny(cells=("peephole", "greff-xyz")))
    line = _one_line_error(cli(str(spec)))
    assert "greff-xyz" in line and "study.toml" in line


def test_unreadable_spec_names_the_toml_line(tmp_path):
    text = tiny().replace("trials_per_cell = 2", "trials_per_cell = = 2")
    spec = write(tmp_path, text)
    line = _one_line_error(cli(str(spec)))
    assert "study.toml" in line and "line 5" in line
    with pytest.raises(StudyError, match="cannot read study spec"):
        tl.study.run(tmp_path / "missing.toml")


@pytest.mark.slow
def test_unreachable_ray_address_is_said_within_seconds(tmp_path):
    spec = write(tmp_path, tiny())
    start = time.monotonic()
    line = _one_line_error(cli(str(spec), "--out", str(tmp_path / "r"),
                               "--address", f"ray://127.0.0.1:{_closed_port()}"))
    assert "unreachable" in line and "127.0.0.1" in line
    assert time.monotonic() - start < 60  # generous for a loaded machine; a hang is minutes


def test_unreachable_database_is_said_within_seconds(tmp_path):
    spec = write(tmp_path, tiny())
    url = f"postgresql://user@127.0.0.1:{_closed_port()}/studies"
    line = _one_line_error(cli(str(spec), "--storage", url, cwd=tmp_path))
    assert "database 127.0.0.1" in line and "unreachable" in line
    assert not (tmp_path / "tiny-study").exists()  # no empty results folder left behind


def test_resume_refuses_a_different_spec(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    url = search.storage_url(None, out)
    search.open_study(parse_spec(tiny()), url)
    with pytest.raises(StudyError, match="different spec .*trials_per_cell"):
        search.open_study(parse_spec(tiny(trials=3)), url)
