"""Cells, tasks and backends are registered alike, and a registered task brings its options to
the command line (``cli_train`` is generated from ``Task.options``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import ClassVar

import pytest

import backends
import tinygrad_lstm as tl
from tinygrad_lstm import cli, cli_train
from tinygrad_lstm.tasks import AddingProblem2016, TaskOption


class Elman(tl.Cell):
    state = ("h",)

    def step(self, x, h):
        return (self.gate("h", h, x).tanh(),)


class Doubled(AddingProblem2016):
    """The 2016 adding problem, its length given in halves (a task made up for this test)."""

    name: ClassVar[str] = "doubled-test"
    description: ClassVar[str] = "adding2016 at twice the --half-length"
    options: ClassVar[tuple[TaskOption, ...]] = (
        TaskOption("half-length", int, 50, "half the sequence length", low=1,
                   apply=lambda n: {"length": 2 * n}),)


@pytest.fixture
def doubled() -> Iterator[None]:
    tl.tasks.register(Doubled)
    try:
        yield
    finally:
        tl.tasks.unregister("doubled-test")


@pytest.mark.parametrize("registry, kind, known", [
    (tl.cells, "cell", "lstm"), (tl.tasks, "task", "adding"), (backends, "backend", "numpy")])
def test_every_registry_answers_the_same_calls(registry, kind: str, known: str) -> None:
    assert known in registry.names()
    assert registry.get(known) is not None
    with pytest.raises(ValueError, match=rf"^unknown {kind} 'nope'; available: .*{known}"):
        registry.get("nope")


def test_a_registered_cell_is_known_by_name_everywhere() -> None:
    tl.cells.register("elman-test", Elman, description="Elman's network")
    try:
        assert tl.cells.available()["elman-test"] == "Elman's network"
        assert tl.cells.get("elman-test") is Elman
        cell = tl.cells.resolve("elman-test").build(3, 4)
        assert isinstance(cell, Elman)
        assert tl.train.TrainConfig(cell="elman-test").cell_spec().cls is Elman
    finally:
        tl.cells.unregister("elman-test")
    with pytest.raises(tl.cells.CellSpecError, match="unknown cell 'elman-test'"):
        tl.cells.resolve("elman-test")


def test_registering_something_else_is_refused() -> None:
    with pytest.raises(tl.cells.CellSpecError, match="must be a tl.Cell subclass"):
        tl.cells.register("int", int)
    with pytest.raises(TypeError, match="must be a Task subclass"):
        tl.tasks.register(int)
    with pytest.raises(ValueError, match="name must be a non-empty str without spaces"):
        tl.cells.register("two words", Elman)


def test_a_registered_task_gets_its_options_on_the_command_line(doubled, tmp_path,
                                                               capsys) -> None:
    run = tmp_path / "run"
    code = cli.main(["train", "--task", "doubled-test", "--half-length", "3", "--hidden", "4",
                     "--steps", "2", "--batch-size", "2", "--eval-every", "2", "--eval-size",
                     "2", "--out", str(run), "--quiet"])
    assert code == 0
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "doubled-test"
    assert config["task_options"] == {"length": 6}
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert "--half-length HALF_LENGTH" in capsys.readouterr().out


def test_a_task_option_is_checked_and_refused_elsewhere(doubled, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["train", "--task", "doubled-test", "--half-length", "0",
                  "--out", str(tmp_path / "a")])
    assert "argument --half-length: must be a positive int, got 0" in capsys.readouterr().err
    assert cli.main(["train", "--task", "adding", "--half-length", "3",
                     "--out", str(tmp_path / "b")]) == 2
    assert ("--half-length does not apply to the 'adding' task (use --seq-len; --half-length "
            "is for doubled-test)") in capsys.readouterr().err


def test_without_the_task_the_option_is_not_there(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["train", "--half-length", "3", "--out", "x"])
    assert "unrecognized arguments: --half-length 3" in capsys.readouterr().err


def test_two_tasks_cannot_give_one_flag_two_types(doubled) -> None:
    class Halved(Doubled):
        name: ClassVar[str] = "halved-test"
        options: ClassVar[tuple[TaskOption, ...]] = (
            TaskOption("half-length", float, 50.0, "a real half", low=0.5),)

    tl.tasks.register(Halved)
    try:
        with pytest.raises(TypeError, match="'halved-test' declares --half-length as float"):
            cli_train.task_flags()
    finally:
        tl.tasks.unregister("halved-test")
    assert cli_train.task_flags()["half-length"][1] == ["doubled-test"]


@pytest.mark.parametrize("name", tl.tasks.names())
def test_a_task_option_declares_the_default_its_task_has(name: str) -> None:
    """What --help says a task does without the flag is what its constructor does."""
    cls = tl.tasks.get(name)
    plain = cls()
    for option in cls.options:
        for key, value in option.options(option.default).items():
            assert getattr(plain, key) == value, (name, option.flag, key)
