"""The study spec: the example, tasks and lengths, the search space, and their one-line errors
(no Optuna or Ray needed)."""

from __future__ import annotations

import pytest

from tests.study_specs import cli, tiny
from tinygrad_lstm.study.spec import StudyError, parse_spec


def test_example_spec_is_printed_and_valid(tmp_path):
    res = cli("--example")
    assert res.returncode == 0, res.stderr
    spec = parse_spec(res.stdout)
    assert spec.baseline in spec.cells and spec.trials_per_cell >= 1
    assert set(spec.search) == {"lr", "hidden", "momentum", "input_noise", "clip"}
    assert spec.search["lr"].log and spec.search["momentum"].one_minus
    # two lengths of one task and a second task: three (task, length) groups
    assert [(t.label, t.name) for t in spec.tasks] == [
        ("temporal-order@30", "temporal-order"), ("temporal-order@60", "temporal-order"),
        ("adding", "adding")]
    assert spec.tasks[1].options["min_length"] == spec.tasks[1].options["max_length"] == 60
    assert spec.total_trials == 3 * len(spec.cells) * spec.trials_per_cell


def test_a_single_task_spec_reads_and_stores_as_before():
    spec = parse_spec(tiny())
    assert [t.label for t in spec.tasks] == ["temporal-order"] and not spec.multi_task
    stored = spec.to_dict()  # what studies made before [[task]] hold: they still resume
    assert stored["task"] == "temporal-order" and "tasks" not in stored
    assert stored["search"]["lr"] == {"low": 1e-3, "high": 1e-1, "log": True, "integer": False}



@pytest.mark.parametrize("search, message", [
    ('lr = { low = 1e-2, high = 1e-3, log = true }', "empty range: low 0.01 must be below"),
    ('hidden = { low = 16, high = 16 }', "empty range: low 16 must be below high 16"),
    ('lr = { low = 0.0, high = 0.1, log = true }', "a log range needs low > 0"),
    ('weight_decay = { low = 0.0, high = 0.9 }', "not a searchable parameter"),
    ('momentum = { low = -0.5, high = 0.5 }', r"momentum must be >= 0.0, got -0.5"),
    ('input_noise = { low = -1.0, high = 1.0 }', "input_noise must be >= 0.0"),
    ('hidden = { low = 4, high = 16, one_minus = true }', "only for a real-valued"),
    ('hidden = { low = 4.5, high = 16 }', "low must be an integer"),
])
def test_bad_search_space(search, message):
    text = tiny().split("[search]")[0] + "[search]\n" + search + "\n"
    with pytest.raises(StudyError, match=message) as err:
        parse_spec(text, source="s.toml")
    assert "\n" not in str(err.value) and "s.toml: [search]" in str(err.value)


def _with_tasks(tasks: str, sampler: str = "random") -> str:
    text = tiny().replace("seed = 3", f'seed = 3\nsampler = "{sampler}"')
    return text[:text.index("[task]")] + tasks + text[text.index("[train]") - 1:]


@pytest.mark.parametrize("tasks, message", [
    ('[[task]]\nname = "copy"\nlengths = [10, "20"]\n', "lengths must be a non-empty list"),
    ('[[task]]\nname = "copy"\nlengths = [10, 10]\n', "lengths must be a non-empty list"),
    ('[[task]]\nname = "copy"\noptions = { length = 5 }\nlengths = [10]\n',
     "lengths sets length; leave it out of options"),
    ('[[task]]\nname = "copy"\n[[task]]\nname = "copy"\n', "the label 'copy' is taken"),
    ('[[task]]\nname = "copy"\n[[task]]\nname = "sorting"\n',
     r"\[\[task\]\] #2 unknown task 'sorting'"),
    ('[[task]]\nname = "copy"\nlengths = [0]\n', "copy@0: .*length"),
    ('[[task]]\nname = "copy"\nlength = [10]\n', "unknown key"),
    ('[[task]]\nname = "copy"\nlabel = "a/b"\n', "label must be"),
])
def test_bad_tasks(tasks, message):
    with pytest.raises(StudyError, match=message) as err:
        parse_spec(_with_tasks(tasks), source="s.toml")
    assert "\n" not in str(err.value) and str(err.value).startswith("s.toml: [")


def test_tasks_and_lengths_make_the_plan():
    tasks = ('[[task]]\nname = "copy"\nlengths = [10, 20]\n'
             '[[task]]\nname = "copy"\nlabel = "short-copy"\noptions = { length = 5 }\n'
             '[[task]]\nname = "adding2016"\n')
    spec = parse_spec(_with_tasks(tasks))
    assert [(t.label, t.options) for t in spec.tasks] == [
        ("copy@10", {"length": 10}), ("copy@20", {"length": 20}),
        ("short-copy", {"length": 5}), ("adding2016", {})]
    assert spec.multi_task and spec.total_trials == 4 * 3 * 2
    # one Optuna study per spec: accuracy and MSE share it under random search only
    with pytest.raises(StudyError, match="TPE needs one direction"):
        parse_spec(_with_tasks(tasks, sampler="tpe"))
    # a single [task] table may have lengths too
    spec = parse_spec(_with_tasks('[task]\nname = "adding"\nlengths = [20, 40]\n'))
    assert [t.label for t in spec.tasks] == ["adding@20", "adding@40"]
