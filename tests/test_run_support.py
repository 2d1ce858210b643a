"""Threads, pre-flight checks, progress lines, plots, backend messages and the docs site."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_lstm as tl
from backends import cupy_backend
from tests.example_cells import CoupledLSTM
from tinygrad_lstm import plot, preflight, progress, site, threads

ROOT = Path(__file__).resolve().parent.parent


# --- threads -------------------------------------------------------------------------------

def test_set_num_threads_sets_what_get_num_threads_and_threadpoolctl_report() -> None:
    from threadpoolctl import threadpool_info

    before = tl.get_num_threads()
    try:
        for n in (1, 2):
            tl.set_num_threads(n)
            assert tl.get_num_threads() == n
            assert {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"} == {n}
        assert threads.chosen_by_user()
    finally:
        tl.set_num_threads(before)
        threads._requested = None


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_set_num_threads_refuses_what_is_not_a_positive_int(bad) -> None:
    with pytest.raises(ValueError, match=r"^set_num_threads: n must be a positive int, got "):
        tl.set_num_threads(bad)


def test_training_uses_one_thread_unless_told(monkeypatch) -> None:
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads, "_requested", None)
    outside = tl.get_num_threads()
    with threads.training_threads() as n:
        assert n == tl.get_num_threads() == threads.TRAINING_THREADS == 1
    assert tl.get_num_threads() == outside
    monkeypatch.setenv("OMP_NUM_THREADS", str(outside))
    with threads.training_threads() as n:  # the user's variable rules
        assert n == outside


# --- pre-flight ----------------------------------------------------------------------------

@pytest.mark.parametrize(("cell", "input_size", "layers"), [
    ("lstm", 2, 1), ("gru", 5, 3), ("peephole-full", 3, 2), ("layernorm-lstm", 4, 1),
    ("clockwork", 2, 2), (CoupledLSTM, 7, 2), ("mut1", 8, 1)])
def test_the_parameter_count_extrapolates_exactly(cell, input_size, layers) -> None:
    spec = tl.cells.resolve(cell)
    hidden = 8 if cell == "mut1" else 24
    estimate = preflight.parameter_count(spec, input_size, hidden, layers, {})
    rnn = tl.nn.Recurrent(spec.build(input_size, hidden), num_layers=layers)
    rnn(tl.Tensor(__import__("numpy").zeros((1, 1, input_size))))  # build every layer
    assert estimate == sum(math.prod(p.shape) for p in rnn.parameters())


def test_folder_problems(tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    assert preflight.folder_problem(tmp_path / "new" / "run") is None
    assert preflight.folder_problem(tmp_path) is None
    assert "that is a file" in preflight.folder_problem(tmp_path / "file")
    assert f"cannot create it, {tmp_path / 'file'} is a file" in preflight.folder_problem(
        tmp_path / "file" / "a" / "b")
    assert not (tmp_path / "new").exists()


def test_a_run_too_big_for_the_machine_is_refused_before_anything_exists(tmp_path) -> None:
    config = tl.train.TrainConfig(hidden=1_000_000, steps=1)
    with pytest.raises(tl.train.RunError, match=r"needs about [\d,]+ GiB of memory .* use a "
                                                r"smaller --hidden \(about 4e\+12 parameters\)"):
        tl.train.train(config, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    small = tl.train.TrainConfig(task="france", task_options={"gap": 1}, hidden=4, steps=1,
                                 batch_size=2, eval_size=2)
    assert preflight.size_problem(small, tl.tasks.create("france", gap=1),
                                  small.cell_spec()) is None


def test_train_config_takes_a_class_and_saves_its_name(tmp_path) -> None:
    config = tl.train.TrainConfig(cell=CoupledLSTM, task="france", task_options={"gap": 1},
                                  cell_options={"forget_bias": 1.0}, hidden=4, steps=2,
                                  batch_size=2, eval_size=4, eval_every=2)
    result = tl.train.train(config, tmp_path / "run", progress=False)
    assert result.step == 2
    saved = (tmp_path / "run" / "config.json").read_text()
    assert '"cell": "tests.example_cells:CoupledLSTM"' in saved
    again = tl.train.resume(tmp_path / "run", steps=3, progress=False)
    assert again.step == 3
    with pytest.raises(tl.train.RunError, match=r"^cell 'tests.example_cells:CoupledLSTM' has "
                                                r"no option 'couple'"):
        tl.train.TrainConfig(cell=CoupledLSTM, cell_options={"couple": "i"}).validate()


# --- progress ------------------------------------------------------------------------------

def test_the_heartbeat_is_at_most_the_interval_apart(monkeypatch, capsys) -> None:
    clock = iter([0.0, 10.0, 20.0, 31.0, 45.0, 62.0])  # the bar's start, then one per step
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    monkeypatch.delenv(progress.HEARTBEAT_ENV, raising=False)
    bar = progress.PlainBar(total=100, initial=0, label="lstm on adding", enabled=True)
    for loss in (1.0, 0.5, 0.25, 0.125, 0.0625):
        bar.update(1, loss)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["lstm on adding: step 3/100, 0.0968 steps/s, loss 0.5833, ETA 16m42s",
                     "lstm on adding: step 5/100, 0.0806 steps/s, loss 0.09375, ETA 19m38s"]
    monkeypatch.setenv(progress.HEARTBEAT_ENV, "600")  # never longer than 30 s
    assert progress.heartbeat_interval() == 30.0


# --- plot ----------------------------------------------------------------------------------

def test_plot_refuses_what_is_not_a_run(tmp_path) -> None:
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\nnot json\n')
    with pytest.raises(plot.PlotError, match=r"metrics.jsonl, line 2: not JSON$"):
        plot.read_metrics(tmp_path)
    (tmp_path / "metrics.jsonl").write_text("")
    with pytest.raises(plot.PlotError, match=r"is empty: the run has not reached"):
        plot.read_metrics(tmp_path)


# --- backends ------------------------------------------------------------------------------

def test_cupy_without_a_driver_says_so() -> None:
    runtime_says = ("cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA "
                    "runtime version")
    assert cupy_backend.explain_device_error(runtime_says, driver_present=False) == (
        "cupy backend: no NVIDIA driver or GPU found (CuPy is installed; use the numpy backend "
        "here)")
    assert "driver is too old" in cupy_backend.explain_device_error(runtime_says, True)
    if os.path.exists("/proc/driver/nvidia/version"):
        assert cupy_backend.nvidia_driver_present()
    elif sys.platform == "linux" and not cupy_backend.ctypes.util.find_library("cuda"):
        assert not cupy_backend.nvidia_driver_present()



@pytest.mark.parametrize(("driver", "runtime", "ok"), [
    (12040, 12080, True),   # a 12.4 driver, CuPy built with 12.8: minor version compatibility
    (12080, 12040, True), (13000, 12090, True), (12000, 12000, True),
    (11080, 12000, False), (12090, 13000, False)])
def test_cupy_driver_check_compares_major_versions(driver: int, runtime: int, ok: bool) -> None:
    why = cupy_backend.driver_too_old(driver, runtime)
    assert (why is None) == ok
    if not ok:
        assert why.startswith("cupy backend: the NVIDIA driver is too old: it supports CUDA "
                              f"{driver // 1000}.{driver % 1000 // 10}, CuPy needs CUDA "
                              f"{runtime // 1000}.x")

# --- the docs site -------------------------------------------------------------------------

def _untracked_or_changed() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                          capture_output=True, text=True).stdout


@pytest.mark.slow
def test_one_command_builds_the_site_and_leaves_the_repository_as_it_was(tmp_path) -> None:
    import importlib.util

    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec(
            "pymdownx") is None:
        pytest.skip("MkDocs is not installed: pip install -e '.[docs]'")
    if site.find_katex() is None and not _can_reach_npm():
        pytest.skip("KaTeX is not installed and npm cannot fetch it here")
    before = _untracked_or_changed()
    out = subprocess.run([sys.executable, "-m", "tinygrad_lstm", "docs", "--build", "--site",
                          str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert _untracked_or_changed() == before
    assert site.find_katex() is not None  # the KaTeX test renders with this very copy
    for name in tl.cells.available():
        page = (tmp_path / "site" / "cells" / name / "index.html").read_text(encoding="utf-8")
        assert "arithmatex" in page and "katex.min.js" in page
    lstm = (tmp_path / "site" / "cells" / "lstm" / "index.html").read_text(encoding="utf-8")
    assert 'href="../greff-fgr/"' in lstm  # every cell page is in the navigation
    assert (tmp_path / "site" / "vendor" / "katex" / "katex.min.js").is_file()


def _can_reach_npm() -> bool:
    import shutil

    return shutil.which("npm") is not None
