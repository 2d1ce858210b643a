"""The long-term ladder (benchmarks/long_term.py): it runs end to end, and its PyTorch column
trains the same run as tl.train does: same initial weights, batches, held-out set, protocol."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import long_term  # noqa: E402


@pytest.mark.slow
def test_the_ladder_runs_and_writes_its_page(tmp_path: Path) -> None:
    out = tmp_path / "docs" / "long_term.md"
    code = long_term.main(["--quick", "--only", "adding2016:100", "--cells", "rnn", "lstm",
                           "--workers", "1", "--runs", str(tmp_path / "runs"), "--out",
                           str(out)])
    assert code == 0
    rows = json.loads(out.with_suffix(".json").read_text())
    assert {(r["cell"], r["rung"], r["steps"]) for r in rows} == {
        ("rnn", "adding2016:100", 20), ("lstm", "adding2016:100", 20)}
    text = out.read_text()
    assert "| adding2016:100 | 64 | 32 | 0.003 | 20 | 100 |" in text
    assert (out.parent / "long_term" / "adding2016.png").read_bytes()[:4] == b"\x89PNG"
    # a second call reads the finished runs back instead of training them again
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("metrics.jsonl")}
    assert long_term.main(["--quick", "--only", "adding2016:100", "--cells", "rnn", "lstm",
                           "--workers", "1", "--runs", str(tmp_path / "runs"), "--out",
                           str(out)]) == 0
    assert before == {p: p.stat().st_mtime_ns
                      for p in (tmp_path / "runs").rglob("metrics.jsonl")}


@pytest.mark.parametrize("cell, task, options", [
    ("lstm", "adding2016", {"length": 12}),
    ("lstm", "copy", {"length": 5}),
    ("rnn", "temporal-order", {}),
])
def test_the_pytorch_column_trains_the_same_run(tmp_path: Path, cell, task, options) -> None:
    """Two steps in each framework from the same start: the held-out loss after each step
    agrees to float32 rounding, so weights, batches, loss, Adam and clipping are the same."""
    pytest.importorskip("torch")
    from long_term_torch import train_torch

    import tinygrad_lstm as tl

    config = {"cell": cell, "task": task, "task_options": options, "hidden": 16,
              "batch_size": 8, "lr": 1e-2, "steps": 2, "clip": 0.5, "seed": 3,
              "eval_every": 1, "eval_size": 16, "checkpoint_every": 2,
              "cell_options": {} if cell == "rnn" else {"init": "chrono", "t_max": 20}}
    train_torch(config, tmp_path / "torch")
    tl.train.train(tl.train.TrainConfig(**config), tmp_path / "tl", progress=False)
    torch_log = [json.loads(x) for x in (tmp_path / "torch" / "metrics.jsonl").read_text()
                 .splitlines()]
    tl_log = [json.loads(x) for x in (tmp_path / "tl" / "metrics.jsonl").read_text()
              .splitlines()]
    assert [e["step"] for e in torch_log] == [e["step"] for e in tl_log] == [1, 2]
    for a, b in zip(torch_log, tl_log, strict=True):
        assert a["eval_loss"] == pytest.approx(b["eval_loss"], rel=2e-4)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=2e-4)


def test_a_cell_that_failed_every_seed_at_a_shorter_length_is_not_trained_longer() -> None:
    def row(rung: str, solved: bool, seed: int, fw: str = "tinygrad_lstm") -> dict:
        return {"framework": fw, "cell": "rnn", "rung": rung, "solved": solved, "seed": seed}

    rung = {r.key: r for r in long_term.LADDER}
    failed = [row("adding2016:100", False, s) for s in range(3)]
    assert long_term.ruled_out(failed, "tinygrad_lstm", "rnn", rung["adding2016:400"]) \
        == "adding2016:100"
    # not for the rung itself or shorter ones, another task, framework or cell
    assert long_term.ruled_out(failed, "tinygrad_lstm", "rnn", rung["adding2016:100"]) is None
    assert long_term.ruled_out(failed, "tinygrad_lstm", "rnn", rung["copy:50"]) is None
    assert long_term.ruled_out(failed, "torch", "rnn", rung["adding2016:400"]) is None
    assert long_term.ruled_out(failed, "tinygrad_lstm", "lstm", rung["adding2016:400"]) is None
    # one solved seed, or fewer than RULED_OUT_AFTER seeds, keeps the longer rungs in
    assert long_term.ruled_out(failed[:2], "tinygrad_lstm", "rnn", rung["adding2016:400"]) \
        is None
    one_solved = [*failed, row("adding2016:100", True, 3)]
    assert long_term.ruled_out(one_solved, "tinygrad_lstm", "rnn", rung["adding2016:400"]) \
        is None


def test_the_findings_are_computed_from_the_runs() -> None:
    def rows(rung: str, cell: str, solved: list[bool]) -> list[dict]:
        return [{"framework": "tinygrad_lstm", "cell": cell, "rung": rung, "solved": s,
                 "seed": k} for k, s in enumerate(solved)]

    groups = {("adding2016:100", "lstm", "tinygrad_lstm"): rows("adding2016:100", "lstm",
                                                                [True, True, False]),
              ("adding2016:1000", "lstm", "tinygrad_lstm"): rows("adding2016:1000", "lstm",
                                                                 [True, False, False]),
              ("adding2016:100", "rnn", "tinygrad_lstm"): rows("adding2016:100", "rnn",
                                                               [False, False, False])}
    assert long_term._findings(groups) == [
        "- adding2016, RNN: solves no seed of 3 at T = 100.",
        "- adding2016, LSTM: solves T = 100 on 2 of 3 seeds."]


@pytest.mark.slow
def test_the_rule_applies_within_one_call(tmp_path: Path) -> None:
    """Three failed seeds at T = 100 leave out T = 200 in the same call (a smoke budget: the
    RNN solves nothing in 20 steps), and the page marks what the rule left out."""
    out = tmp_path / "long_term.md"
    assert long_term.main(["--quick", "--only", "adding2016:100", "adding2016:200", "--cells",
                           "rnn", "--max-seeds", "3", "--workers", "1", "--runs",
                           str(tmp_path / "runs"), "--out", str(out)]) == 0
    rows = json.loads(out.with_suffix(".json").read_text())
    assert {(r["rung"], r["seed"]) for r in rows} == {("adding2016:100", s) for s in range(3)}
    assert not any(r["solved"] for r in rows)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        f"tinygrad_lstm-adding2016100-rnn-s{s}" for s in range(3)]
    assert "✗ (adding2016:100)" in out.read_text()


def test_findings_when_no_length_is_solved_on_most_seeds() -> None:
    groups = {("copy:10", "gru", "tinygrad_lstm"): [
        {"solved": s, "seed": k} for k, s in enumerate([True, False, False])]}
    assert long_term._findings(groups) == ["- copy, GRU: solves at most 1 of 3 seeds (T = 10)."]
