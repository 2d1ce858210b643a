"""The training loop: it learns, it resumes exactly, it keeps what was saved."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.train import TrainConfig, resume, train

ROOT = Path(__file__).resolve().parent.parent


def small(**changes) -> TrainConfig:
    base = dict(cell="lstm", task="france", task_options={"gap": 3}, hidden=8, steps=12,
                batch_size=8, eval_every=4, eval_size=32, checkpoint_every=4, lr=1e-2,
                early_stop=False)
    base.update(changes)
    return TrainConfig(**base)


def params(folder: Path) -> dict[str, np.ndarray]:
    arrays, _ = tl.checkpoint.read(folder / "checkpoint.npz")
    return {k: v for k, v in arrays.items() if k.startswith("param/")}


def test_a_short_run_reduces_the_loss(tmp_path) -> None:
    config = small(cell="gru", steps=60, eval_every=20, task_options={"gap": 2})
    result = train(config, tmp_path / "run", progress=False)
    losses = [h["eval_loss"] for h in result.history]
    assert result.step == 60 and len(losses) == 3
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, cell: str) -> None:
    straight = tmp_path / "straight"
    train(small(cell=cell), straight, progress=False)
    parted = tmp_path / "parted"
    train(small(cell=cell, steps=5), parted, progress=False)  # stops between checkpoints
    resume(parted, steps=12, progress=False)
    a, b = params(straight), params(parted)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    log = [json.loads(line) for line in (parted / "metrics.jsonl").read_text().splitlines()]
    # the first part ended (and was evaluated) at step 5; nothing is duplicated or missing
    assert [m["step"] for m in log] == [4, 5, 8, 12]


def test_resume_restores_the_dropout_stream(tmp_path) -> None:
    """With dropout the masks come from tl.random: resuming must continue that stream too."""
    config = dict(layers=2, dropout=0.3)
    train(small(**config), tmp_path / "straight", progress=False)
    train(small(steps=6, **config), tmp_path / "parted", progress=False)
    tl.random.generator().random(1000)  # something else draws in between
    resume(tmp_path / "parted", steps=12, progress=False)
    a, b = params(tmp_path / "straight"), params(tmp_path / "parted")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_input_noise_changes_training_but_not_evaluation(tmp_path) -> None:
    clean, noisy = (tl.train.Trainer(small(input_noise=n), tmp_path / str(n)) for n in (0, 0.5))
    # the same seed builds the same model; evaluation sees the clean inputs either way
    assert noisy.evaluate() == clean.evaluate()
    state = noisy.noise_rng.bit_generator.state
    noisy.evaluate()
    assert noisy.noise_rng.bit_generator.state == state  # evaluating draws no noise
    for _ in range(3):
        clean.train_step(), noisy.train_step()
    assert noisy.noise_rng.bit_generator.state != state
    # the same batches (the data stream is the noise's own), different updates
    assert noisy.data_rng.bit_generator.state == clean.data_rng.bit_generator.state
    a, b = clean.model.state_dict(), noisy.model.state_dict()
    assert any(not np.array_equal(a[k], b[k]) for k in a)


def test_resume_with_input_noise_is_bit_identical(tmp_path) -> None:
    config = dict(input_noise=0.3)
    train(small(**config), tmp_path / "straight", progress=False)
    train(small(steps=6, **config), tmp_path / "parted", progress=False)
    resume(tmp_path / "parted", steps=12, progress=False)
    a, b = params(tmp_path / "straight"), params(tmp_path / "parted")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    train(small(), tmp_path / "clean", progress=False)
    c = params(tmp_path / "clean")
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_momentum_reaches_the_optimiser(tmp_path) -> None:
    trainer = tl.train.Trainer(small(optimizer="sgd", momentum=0.25), tmp_path)
    assert isinstance(trainer.opt, tl.optim.SGD)
    assert trainer.opt.param_groups[0]["momentum"] == 0.25
    # and it acts: SGD's second step adds momentum times the first (the same batches and,
    # after one equal first step, the same gradients)
    deltas = {}
    for m in (0.0, 0.25):
        t = tl.train.Trainer(small(optimizer="sgd", momentum=m, clip=None, lr=1.0),
                             tmp_path / str(m))
        steps = []
        for _ in range(2):
            before = {k: v.copy() for k, v in t.model.state_dict().items()}
            t.train_step()
            steps.append({k: v - before[k] for k, v in t.model.state_dict().items()})
        deltas[m] = steps
    for k in deltas[0.0][0]:
        np.testing.assert_array_equal(deltas[0.25][0][k], deltas[0.0][0][k])
        np.testing.assert_allclose(deltas[0.25][1][k] - deltas[0.0][1][k],
                                   0.25 * deltas[0.0][0][k], rtol=1e-3, atol=1e-6)
    assert TrainConfig().momentum == 0.9  # SGD's default as before


def test_a_new_run_never_overwrites_an_old_one(tmp_path) -> None:
    train(small(steps=4), tmp_path, progress=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(tl.train.RunError, match="already holds a run"):
        train(small(steps=4), tmp_path, progress=False)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize("change, message", [
    ({"hidden": 0}, "hidden must be a positive int"),
    ({"steps": -1}, "steps must be a positive int"),
    ({"cell": "elman"}, "unknown cell 'elman'"),
    ({"task": "sorting"}, "unknown task 'sorting'"),
    ({"optimizer": "rmsprop"}, "optimizer must be one of"),
    ({"lr": -1.0}, r"TrainConfig: lr must be >= 0.0, got -1.0"),
    ({"lr": float("nan")}, "lr must be finite"),
    ({"momentum": -0.5}, "momentum must be >= 0.0"),
    ({"dropout": 1.0}, r"dropout must be a probability in \[0, 1\)"),
    ({"input_noise": -0.5}, "input_noise must be >= 0.0"),
    ({"clip": 0.0}, "clip must be > 0.0"),
    ({"task_options": {"gap": -2}}, "gap"),
])
def test_bad_configuration_is_named(tmp_path, change, message: str) -> None:
    with pytest.raises(tl.train.RunError, match=message):
        train(small(**change), tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "config.json").exists()


@pytest.mark.parametrize("name, value", [("lr", 0.0), ("lr", -1e-3), ("momentum", 0.0),
                                         ("momentum", 1.5), ("momentum", -0.1)])
def test_the_config_accepts_what_the_optimiser_accepts(name: str, value: float) -> None:
    """One rule set (checks.py): the run's config and torch.optim-style SGD agree."""
    w = tl.nn.Parameter(np.zeros(2))
    try:
        tl.optim.SGD([w], **{"lr": 0.1, name: value})
        optimiser_ok = True
    except ValueError:
        optimiser_ok = False
    try:
        small(**{name: value}).validate()
        config_ok = True
    except tl.train.RunError:
        config_ok = False
    assert config_ok == optimiser_ok


def test_resume_refuses_what_it_cannot_use(tmp_path) -> None:
    with pytest.raises(tl.train.RunError, match="is not a folder"):
        resume(tmp_path / "nothing", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(tl.train.RunError, match="holds no config.json"):
        resume(tmp_path / "empty", progress=False)
    run = tmp_path / "run"
    train(small(steps=4), run, progress=False)
    raw = bytearray((run / "checkpoint.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte
    (run / "checkpoint.npz").write_bytes(bytes(raw))
    with pytest.raises(tl.train.RunError, match="checkpoint.npz"):
        resume(run, progress=False)
    assert (run / "checkpoint.npz").read_bytes() == bytes(raw)  # left as it was found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.slow
def test_a_killed_run_leaves_a_checkpoint_that_resumes_exactly(tmp_path, sig) -> None:
    """Kill a real training process mid-run; its checkpoint resumes to the same parameters."""
    steps = 400
    args = ["train", "--cell", "rnn", "--task", "france", "--gap", "3", "--hidden", "8",
            "--steps", str(steps), "--batch-size", "4", "--eval-every", "50", "--eval-size",
            "16", "--checkpoint-every", "1000", "--no-early-stop", "--quiet"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "tinygrad_lstm", *args, "--out", str(killed)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (killed / "metrics.jsonl").exists() or not (killed / "metrics.jsonl").read_text():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted at step" in out
    meta = tl.checkpoint.read(killed / "checkpoint.npz")[1]
    assert 0 < meta["step"] < steps
    done = subprocess.run([sys.executable, "-m", "tinygrad_lstm", "train", "--resume",
                           str(killed), "--quiet"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    straight = tmp_path / "straight"
    ok = subprocess.run([sys.executable, "-m", "tinygrad_lstm", *args, "--out", str(straight)],
                        cwd=ROOT, capture_output=True, text=True, timeout=120,
                        env={**os.environ})
    assert ok.returncode == 0, ok.stderr
    a, b = params(straight), params(killed)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
