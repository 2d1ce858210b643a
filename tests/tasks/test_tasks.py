"""The long-term-dependency tasks: layout, statistics, determinism, metrics and baselines.

Each generator's output is checked against the task's definition recomputed here from the
inputs alone (an independent regex for the Reber grammar, the marker rules for the adding
problem, ...). Each baseline figure is checked by evaluating a memoryless predictor with the
task's own metric on a large seeded sample: |estimate - baseline| must be within 4.5 standard
errors (a false alarm about once in 150,000 runs; the seeds are fixed anyway).
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pytest

import tinygrad_lstm as tl
import tinygrad_lstm.tasks as tasks
from tinygrad_lstm.tasks import (
    AddingProblem,
    AddingProblem2016,
    Batch,
    CopyTask,
    EmbeddedReber,
    FranceTask,
    Task,
    TemporalOrder,
)
from tinygrad_lstm.tasks.france import FILLERS

NAMES = ["adding", "adding2016", "copy", "reber", "temporal-order", "france"]
# Small instances for the generic tests; variable lengths where the task has them.
SMALL: dict[str, dict[str, Any]] = {
    "adding": {"length": 30, "variable_length": True},
    "adding2016": {"length": 30},
    "copy": {"length": 15},
    "reber": {},
    "temporal-order": {"min_length": 70, "max_length": 80},
    "france": {"gap": 7},
}


def small(name: str) -> Task:
    return tasks.create(name, **SMALL[name])


def close_to(estimate: float, expected: float, sd: float, n: int) -> bool:
    return abs(estimate - expected) <= 4.5 * sd / math.sqrt(n)


def perfect_predictions(task: Task, b: Batch) -> np.ndarray:
    """What a model with perfect memory outputs: the targets, or logits peaked on them."""
    if isinstance(task, EmbeddedReber):
        return np.where(b.info["legal"], 5.0, -5.0)
    if task.kind == "regression":
        return b.y.copy()
    return 30.0 * np.eye(task.output_size)[b.y]


# -- registry and arguments -------------------------------------------------------------------


def test_available_lists_every_task_with_a_one_line_description() -> None:
    listed = tasks.available()
    assert sorted(listed) == sorted(NAMES)
    for name, description in listed.items():
        assert isinstance(description, str) and description and "\n" not in description
        assert tasks.create(name).name == name


def test_unknown_name_lists_the_names() -> None:
    with pytest.raises(ValueError, match="unknown task 'nope'") as err:
        tasks.create("nope")
    for name in NAMES:
        assert name in str(err.value)


@pytest.mark.parametrize(("name", "options", "argument"), [
    ("adding", {"length": 0}, "length"),
    ("adding", {"length": -3}, "length"),
    ("adding", {"length": 10}, "length"),          # too short for the 1997 marker rules
    ("adding", {"length": 50.0}, "length"),
    ("adding", {"length": True}, "length"),
    ("adding2016", {"length": 0}, "length"),
    ("copy", {"length": 0}, "length"),
    ("copy", {"n_symbols": 1}, "n_symbols"),
    ("copy", {"n_recall": 0}, "n_recall"),
    ("temporal-order", {"min_length": 0}, "min_length"),
    ("temporal-order", {"max_length": -1}, "max_length"),
    ("temporal-order", {"min_length": 100, "max_length": 99}, "max_length"),
    ("temporal-order", {"min_length": 60}, "t2_range"),
    ("temporal-order", {"t1_range": (0, 20)}, "t1_range"),
    ("temporal-order", {"t1_range": (10, 55)}, "t2_range"),
    ("temporal-order", {"t2_range": 50}, "t2_range"),
    ("france", {"gap": -1}, "gap"),
    ("france", {"n_countries": 0}, "n_countries"),
    ("france", {"n_countries": 99}, "n_countries"),
    ("reber", {"max_length": 0}, "max_length"),
    ("reber", {"max_length": 8}, "max_length"),   # shorter than the shortest string
    ("adding2016", {"solved_at": "low"}, "solved_at"),
])
def test_bad_arguments_raise_value_errors_naming_them(name: str, options: dict,
                                                      argument: str) -> None:
    with pytest.raises(ValueError, match=re.escape(argument)):
        tasks.create(name, **options)


@pytest.mark.parametrize("name", NAMES)
def test_bad_batch_arguments(name: str) -> None:
    task = small(name)
    for size in (0, -1, 2.5):
        with pytest.raises(ValueError, match="batch_size"):
            task.batch(size, rng=0)
    with pytest.raises(TypeError, match="rng"):
        task.batch(2, rng="seed")


def test_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        tasks.create("copy", lenght=10)


def test_import_on_its_own() -> None:
    code = "import tinygrad_lstm.tasks as t; print(sorted(t.available()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "temporal-order" in out.stdout


# -- what every task promises -----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_batch_layout(name: str) -> None:
    task = small(name)
    b = task.batch(64, rng=1)
    T, B = b.steps, b.size
    assert B == 64
    assert b.x.dtype == np.float32 and b.x.shape == (T, B, task.input_size)
    assert b.mask.dtype == bool and b.mask.shape == (T, B)
    assert b.lengths.dtype == np.int64 and b.lengths.shape == (B,)
    assert b.lengths.min() >= 1 and b.lengths.max() <= T
    valid = np.arange(T)[:, None] < b.lengths
    assert not b.x[~valid].any(), "padding must be all zeros"
    if task.kind == "regression":
        assert b.y.dtype == np.float32 and b.y.shape == (B, task.output_size)
    elif task.per_step:
        assert b.y.dtype == np.int64 and b.y.shape == (T, B)
        assert b.y.min() >= 0 and b.y.max() < task.output_size
    else:
        assert b.y.dtype == np.int64 and b.y.shape == (B,)
        assert b.y.min() >= 0 and b.y.max() < task.output_size
    if task.per_step:
        assert np.array_equal(b.mask, valid)
    else:   # scored once, at each sequence's last valid step
        assert np.array_equal(b.mask.sum(axis=0), np.ones(B))
        assert np.array_equal(b.mask.argmax(axis=0), b.lengths - 1)
    with pytest.raises(AttributeError):
        b.x = b.x                                       # Batch is frozen
    assert type(task).__name__ in repr(task)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_batch(name: str) -> None:
    task = small(name)

    def draw(rng: Any) -> Batch:
        return task.batch(32, rng=rng)

    def same(a: Batch, b: Batch) -> bool:
        return (a.x.shape == b.x.shape and np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
                and np.array_equal(a.mask, b.mask) and np.array_equal(a.lengths, b.lengths)
                and a.info.keys() == b.info.keys()
                and all(np.array_equal(a.info[k], b.info[k]) for k in a.info))

    assert same(draw(7), draw(7))
    assert same(draw(7), draw(np.random.default_rng(7)))
    assert not same(draw(7), draw(8))
    rng = np.random.default_rng(3)                       # a Generator advances between batches
    assert not same(draw(rng), draw(rng))
    state = tl.random.get_state()
    try:
        tl.manual_seed(11)
        first = draw(None)
        tl.manual_seed(11)
        assert same(first, draw(None))
    finally:
        tl.random.set_state(state)


@pytest.mark.parametrize("name", NAMES)
def test_perfect_predictions_solve_and_memoryless_ones_do_not(name: str) -> None:
    task = small(name)
    b = task.batch(200, rng=2)
    best = perfect_predictions(task, b)
    m = task.metric(best, b)
    assert m == (0.0 if not task.higher_is_better else 1.0)
    assert task.solved(m)
    if name != "reber":             # Reber's targets are coin flips: no predictor has zero loss
        assert task.loss(best, b) < 1e-6
    metrics = task.metrics(best, b)
    assert metrics[task.metric_name] == m and "loss" in metrics
    assert task.metric(tl.Tensor(np.asarray(best, dtype=np.float32)), b) == m   # a tl.Tensor
    none = task.memoryless_predictions(b)
    assert not task.solved(task.metric(none, b))
    assert not task.solved(task.baseline)
    assert not task.solved(float("nan"))


@pytest.mark.parametrize("name", NAMES)
def test_predictions_of_every_step_or_of_the_last(name: str) -> None:
    task = small(name)
    b = task.batch(50, rng=4)
    best = perfect_predictions(task, b)
    T, B, C = b.steps, b.size, task.output_size
    if task.per_step:
        with pytest.raises(ValueError, match=r"\(T, B, output_size\)"):
            task.metric(best[:-1], b)
        return
    rng = np.random.default_rng(0)
    every = rng.normal(size=(T, B, C)) * 100             # garbage except at the scored step
    every[b.lengths - 1, np.arange(B)] = best
    assert task.metric(every, b) == task.metric(best, b)
    assert task.loss(every, b) == pytest.approx(task.loss(best, b))
    if C == 1:
        assert task.metric(best[:, 0], b) == task.metric(best, b)
    with pytest.raises(ValueError, match="predictions must be"):
        task.metric(best[:-1], b)
    with pytest.raises(ValueError, match="predictions must be"):
        task.metric(np.zeros((T, B, C + 1)), b)


@pytest.mark.parametrize("name", NAMES)
def test_memoryless_predictions_score_the_baseline(name: str) -> None:
    """The task's memoryless predictor, scored by the task's own metric on 10k sequences."""
    task = small(name)
    b = task.batch(10_000, rng=5)
    guess = task.memoryless_predictions(b)
    m = task.metric(guess, b)
    if task.metric_name == "mse":
        assert close_to(m, task.baseline, sd=0.2, n=b.size)   # sd of (S - 1)², about 0.197
    else:                                                       # a fraction: binomial sd
        p = task.baseline
        assert close_to(m, p, sd=math.sqrt(p * (1 - p)), n=b.size), (m, p)
    if task.baseline_loss is not None:
        assert task.loss(guess, b) == pytest.approx(task.baseline_loss, rel=0.06)


@pytest.mark.parametrize("name", NAMES)
def test_generators_are_fast(name: str) -> None:
    options = {"adding": {"length": 200}, "adding2016": {"length": 200},
               "copy": {"length": 180}, "temporal-order": {"min_length": 200, "max_length": 200},
               "france": {"gap": 191}, "reber": {"max_length": 201}}[name]
    task = tasks.create(name, **options)
    task.batch(256, rng=0)
    start = time.perf_counter()
    for seed in range(10):
        b = task.batch(256, rng=seed)
    per_batch = (time.perf_counter() - start) / 10
    assert b.steps == 200
    assert per_batch < 0.05, f"{name}: {per_batch * 1e3:.1f} ms per batch of 256"


# -- adding problem, 1997 ---------------------------------------------------------------------


@pytest.mark.parametrize("variable_length", [False, True])
def test_adding_1997_markers_values_and_targets(variable_length: bool) -> None:
    T = 40
    task = AddingProblem(length=T, variable_length=variable_length)
    b = task.batch(20_000, rng=6)
    value, marker = b.x[..., 0], b.x[..., 1]
    cols = np.arange(b.size)
    last = b.lengths - 1
    if variable_length:
        assert b.steps == T + T // 10
        assert set(b.lengths.tolist()) == set(range(T, T + T // 10 + 1))
    else:
        assert b.steps == T and (b.lengths == T).all()
    valid = np.arange(b.steps)[:, None] < b.lengths
    assert np.all(np.abs(value[valid]) <= 1.0) and value[valid].std() > 0.5
    assert set(np.unique(marker).tolist()) <= {-1.0, 0.0, 1.0}
    marked = marker == 1.0
    assert (marked.sum(axis=0) == 2).all()
    steps = np.sort(np.argwhere(marked.T)[:, 1].reshape(-1, 2), axis=1)
    first, second = steps[:, 0], steps[:, 1]
    # one mark among the first 10 pairs, the other among the first T/2 - 1 unmarked pairs
    assert (first < 10).all() and (second <= T // 2 - 1).all()
    assert set(np.concatenate([first, second]).tolist()) == set(range(T // 2))
    # the end markers: -1 at the first and last pair unless marked, 0 elsewhere
    assert (marker[0][~marked[0]] == -1).all() and (marker[last, cols] == -1).all()
    inner = valid.copy()
    inner[0] = False
    inner[last, cols] = False
    assert (marker[inner & ~marked] == 0).all()
    # a marked first pair has its value zeroed, about 1/10 + (9/10)/(T/2 - 1) of the time
    assert (value[0][marked[0]] == 0).all()
    p0 = 0.1 + 0.9 / (T // 2 - 1)
    assert close_to(marked[0].mean(), p0, math.sqrt(p0 * (1 - p0)), b.size)
    assert task.p_first_marked == pytest.approx(p0)
    # the target, recomputed from the inputs alone
    total = np.where(marked, value, 0.0).astype(np.float64).sum(axis=0)
    np.testing.assert_allclose(b.y[:, 0], 0.5 + total / 4, atol=1e-6)
    np.testing.assert_array_equal(b.info["positions"].min(axis=1), first)


def test_adding_1997_constant_half_solves_about_15_percent() -> None:
    """The baseline: predicting 0.5 always, scored with the task's metric on 200k sequences,
    against the closed form (1 - p0)(a - a²/4) + p0·a with a = 0.16."""
    a = 0.16
    for T, n in ((12, 200_000), (100, 40_000)):
        task = AddingProblem(length=T)
        p0 = 0.1 + 0.9 / (T // 2 - 1)
        expected = (1 - p0) * (a - a * a / 4) + p0 * a
        assert task.baseline == pytest.approx(expected, rel=1e-12)
        b = task.batch(n, rng=7)
        hit = task.metric(np.full(n, 0.5), b)
        assert close_to(hit, expected, math.sqrt(expected * (1 - expected)), n), (T, hit)
        mse = task.loss(np.full(n, 0.5), b)
        assert mse == pytest.approx(task.baseline_loss, rel=0.03)
    assert AddingProblem(length=100).baseline == pytest.approx(0.15436, abs=1e-5)
    assert not AddingProblem().solved(0.2) and AddingProblem().solved(0.96)


def test_adding_1997_metric_tolerance_is_0_04() -> None:
    task = AddingProblem(length=20)
    b = task.batch(1000, rng=8)
    assert task.metric(b.y + 0.039, b) == 1.0
    assert task.metric(b.y - 0.041, b) == 0.0


# -- adding problem, 2016 ---------------------------------------------------------------------


def test_adding_2016_markers_values_and_targets() -> None:
    T = 50
    task = AddingProblem2016(length=T)
    b = task.batch(20_000, rng=9)
    value, marker = b.x[..., 0], b.x[..., 1]
    assert value.min() >= 0 and value.max() <= 1
    assert abs(value.mean() - 0.5) < 0.005
    assert set(np.unique(marker).tolist()) == {0.0, 1.0}
    assert (marker[:T // 2].sum(axis=0) == 1).all() and (marker[T // 2:].sum(axis=0) == 1).all()
    first, second = marker[:T // 2].argmax(axis=0), T // 2 + marker[T // 2:].argmax(axis=0)
    assert set(first.tolist()) == set(range(T // 2))
    assert set(second.tolist()) == set(range(T // 2, T))
    np.testing.assert_allclose(b.y[:, 0], (value * marker).astype(np.float64).sum(axis=0),
                               atol=1e-6)


def test_adding_2016_predicting_one_gives_a_sixth() -> None:
    task = AddingProblem2016(length=20)
    b = task.batch(200_000, rng=10)
    mse = task.metric(np.ones(b.size), b)
    assert task.baseline == task.baseline_loss == pytest.approx(1 / 6)
    assert close_to(mse, 1 / 6, 0.2, b.size), mse
    assert task.solved(0.009) and not task.solved(0.011) and not task.solved(1 / 6)
    assert not task.higher_is_better


# -- copy task --------------------------------------------------------------------------------


def test_copy_layout_and_symbol_distribution() -> None:
    T = 30
    task = CopyTask(length=T)
    b = task.batch(10_000, rng=11)
    assert b.steps == T + 20 and task.input_size == 10 and task.output_size == 9
    ids = b.x.argmax(axis=-1)
    assert (b.x.sum(axis=-1) == 1).all()                  # one-hot everywhere
    symbols = ids[:10]
    assert symbols.max() < 8
    assert (ids[10:T + 9] == 8).all()                     # T - 1 blanks
    assert (ids[T + 9] == 9).all()                        # the delimiter
    assert (ids[T + 10:] == 8).all()                      # 10 blanks
    assert (b.y[:T + 10] == 8).all()                      # blanks are the target until...
    np.testing.assert_array_equal(b.y[T + 10:], symbols)  # ...the 10 symbols come back
    freq = np.bincount(symbols.ravel(), minlength=8) / symbols.size
    assert np.abs(freq - 1 / 8).max() < 4.5 * math.sqrt(1 / 8 * 7 / 8 / symbols.size)
    assert b.mask.all()


@pytest.mark.parametrize("T", [1, 10, 100])
def test_copy_memoryless_cross_entropy_is_10_ln8_over_T_plus_20(T: int) -> None:
    """The optimal memoryless predictor (the true per-step marginal: the blank for certain, then
    uniform over the 8 symbols), built here as log-probabilities and scored by the task."""
    task = CopyTask(length=T)
    b = task.batch(500, rng=12)
    marginal = np.full((b.steps, 9), -np.inf)
    marginal[:T + 10, 8] = 0.0
    marginal[T + 10:, :8] = -np.log(8)
    logits = np.broadcast_to(marginal[:, None, :], (b.steps, b.size, 9)).copy()
    logits[np.isinf(logits)] = -1e4
    expected = 10 * np.log(8) / (T + 20)
    assert task.baseline_loss == pytest.approx(expected, rel=1e-12)
    assert task.loss(logits, b) == pytest.approx(expected, rel=1e-9)
    assert task.loss(task.memoryless_predictions(b), b) == pytest.approx(expected, rel=1e-9)
    scores = task.metrics(task.memoryless_predictions(b), b)
    assert scores["cross_entropy"] == scores["loss"]
    assert close_to(scores["accuracy"], 1 / 8, math.sqrt(7 / 64), 10 * b.size)


def test_copy_metrics_count_recalled_symbols() -> None:
    task = CopyTask(length=5)
    b = task.batch(100, rng=13)
    logits = perfect_predictions(task, b)
    logits[-1, :50] = 30.0 * np.eye(9)[(b.y[-1, :50] + 1) % 8]   # last symbol wrong in half
    scores = task.metrics(logits, b)
    assert scores["accuracy"] == pytest.approx(1 - 50 / 1000)
    assert scores["sequence_accuracy"] == pytest.approx(0.5)
    assert task.solved(0.99) and not task.solved(0.98)


# -- embedded Reber grammar -------------------------------------------------------------------

# The grammar written as a regular expression from Cleeremans et al.'s figure, with no reference
# to the module: an inner string enters at T (S-loop, X) or P (T-loop, V); from the X-branch
# node a string may loop through X T* V P, and leaves by S or X T* V V.
_LOOP = "(?:XT*VP)*(?:S|XT*VV)"
_INNER = f"B(?:TS*X{_LOOP}|PT*V(?:V|P{_LOOP}))E"
EMBEDDED = re.compile(f"B([TP]){_INNER}\\1E")

# The same graph as edges "from symbol to" (inner nodes 1-6, e = end), for legal successor sets.
_EDGES = "1T2 1P3 2S2 2X4 3T3 3V5 4X3 4S6 5P4 5V6 6Ee"


def legal_sets(string: str) -> list[set[str]]:
    """For each proper prefix of an embedded Reber string, the symbols that may come next."""
    graph: dict[str, dict[str, str]] = defaultdict(dict)
    for edge in _EDGES.split():
        graph[edge[0]][edge[1]] = edge[2]
    out: list[set[str]] = [{"T", "P"}, {"B"}, {"T", "P"}]      # after B, after T/P, after B
    node = "1"
    for symbol in string[3:-2]:                                # the inner string, B excluded
        node = graph[node][symbol]
        out.append({string[1]} if node == "e" else set(graph[node]))
    out.append({"E"})                                          # after the closing T/P
    return out


def test_reber_strings_are_in_the_grammar_and_legal_sets_are_right() -> None:
    task = EmbeddedReber()
    b = task.batch(5000, rng=14)
    strings = [task.decode(b, i) for i in range(b.size)]
    for i, s in enumerate(strings):
        assert EMBEDDED.fullmatch(s), s
        legal = task.legal_symbols(b, i)
        assert [set(x) for x in legal] == legal_sets(s), s
        assert b.info["branch"][i] == "TP".index(s[1])
        assert s[b.info["closing_step"][i] + 1] == s[1]     # its target: the closing T/P
    # every target is the actual next symbol, inside the legal set
    assert np.take_along_axis(b.info["legal"], b.y[..., None], axis=-1)[b.mask].all()
    assert not b.info["legal"][~b.mask].any()
    lengths = np.array([len(s) for s in strings])
    np.testing.assert_array_equal(lengths - 1, b.lengths)
    assert lengths.min() == 9 and b.steps == lengths.max() - 1
    assert abs(b.info["branch"].mean() - 0.5) < 4.5 * 0.5 / math.sqrt(b.size)


def test_reber_legal_sets_match_what_the_strings_themselves_show() -> None:
    """For prefixes seen 30+ times, the successors observed in a big sample are the legal set
    (a legal symbol is missed with probability < 2^-30); no automaton involved."""
    task = EmbeddedReber()
    b = task.batch(8000, rng=15)
    seen: dict[str, set[str]] = defaultdict(set)
    count: Counter[str] = Counter()
    claimed: dict[str, str] = {}
    for i in range(b.size):
        s, legal = task.decode(b, i), task.legal_symbols(b, i)
        for t in range(len(s) - 1):
            seen[s[:t + 1]].add(s[t + 1])
            count[s[:t + 1]] += 1
            claimed[s[:t + 1]] = legal[t]
    common = [p for p, c in count.items() if c >= 30]
    assert len(common) > 100
    for prefix in common:
        assert seen[prefix] == set(claimed[prefix]), prefix


def test_reber_max_length_pads_to_a_fixed_shape() -> None:
    task = EmbeddedReber(max_length=12)
    b = task.batch(2000, rng=16)
    assert b.steps == 11 and b.lengths.max() <= 11
    for i in range(0, b.size, 7):
        assert EMBEDDED.fullmatch(task.decode(b, i))


def test_reber_criterion_is_top_k() -> None:
    task = EmbeddedReber()
    b = task.batch(300, rng=17)
    logits = perfect_predictions(task, b)
    assert task.metric(logits, b) == 1.0
    # one illegal symbol tied with the legal ones fails that step, hence that string
    t = int(b.info["closing_step"][0])
    row = logits[t, 0].copy()
    logits[t, 0, np.argmin(row)] = row.max()
    scores = task.metrics(logits, b)
    assert scores["string_accuracy"] == pytest.approx(299 / 300)
    assert scores["closing_accuracy"] == pytest.approx(299 / 300)
    assert scores["step_accuracy"] == pytest.approx(1 - 1 / b.mask.sum())
    assert not task.solved(scores["string_accuracy"])


def test_reber_memoryless_predictor_gets_the_t_strings_right() -> None:
    task = EmbeddedReber()
    b = task.batch(10_000, rng=18)
    scores = task.metrics(task.memoryless_predictions(b), b)
    # exactly the strings that opened with T, and every step but the closing one right
    assert scores["string_accuracy"] == pytest.approx(1 - b.info["branch"].mean())
    assert scores["closing_accuracy"] == scores["string_accuracy"]
    assert close_to(scores["string_accuracy"], task.baseline, 0.5, b.size)
    # the grammar's coin flips: ln 2 at every two-way step (and at the closing guess)
    legal = b.info["legal"].sum(axis=-1)
    two_way = ((legal == 2) & b.mask).sum() + b.size
    assert scores["loss"] == pytest.approx(two_way * np.log(2) / b.mask.sum(), rel=1e-5)


# -- temporal order ---------------------------------------------------------------------------


def test_temporal_order_sequences_and_classes() -> None:
    task = TemporalOrder()
    b = task.batch(20_000, rng=19)
    assert b.steps == 110 and set(b.lengths.tolist()) == set(range(100, 111))
    letters = np.array(list(task.symbols))[b.x.argmax(axis=-1)]      # "E", "B", "a", ...
    cols = np.arange(b.size)
    valid = np.arange(b.steps)[:, None] < b.lengths
    assert (b.x.sum(axis=-1) == valid).all()
    assert (letters[0] == "E").all() and (letters[b.lengths - 1, cols] == "B").all()
    relevant = np.isin(letters, ["X", "Y"]) & valid
    assert (relevant.sum(axis=0) == 2).all()
    at = np.sort(np.argwhere(relevant.T)[:, 1].reshape(-1, 2), axis=1)
    t1, t2 = at[:, 0], at[:, 1]
    assert set(t1.tolist()) == set(range(10, 21)) and set(t2.tolist()) == set(range(50, 61))
    inner = valid & ~relevant
    inner[0] = False
    inner[b.lengths - 1, cols] = False
    assert np.isin(letters[inner], list("abcd")).all()
    order = np.char.add(letters[t1, cols], letters[t2, cols])
    np.testing.assert_array_equal(np.array(task.classes)[b.y], order)
    assert np.abs(np.bincount(b.y, minlength=4) / b.size - 0.25).max() < 0.015
    np.testing.assert_array_equal(b.info["t1"], t1)


def test_temporal_order_fixed_length() -> None:
    b = TemporalOrder(min_length=100, max_length=100).batch(10, rng=20)
    assert b.steps == 100 and (b.lengths == 100).all() and b.mask[-1].all()


# -- the essay's example ----------------------------------------------------------------------

LANGUAGE = {"France": "French", "Germany": "German", "Spain": "Spanish", "Italy": "Italian",
            "Portugal": "Portuguese", "Greece": "Greek"}


@pytest.mark.parametrize("gap", [0, 3, 40])
def test_france_sentences_and_targets(gap: int) -> None:
    task = FranceTask(gap=gap, n_countries=6)
    b = task.batch(3000, rng=21)
    assert b.steps == gap + 9 and task.lag == gap + 4
    sentence = re.compile(r"I grew up in (\w+) \. (.*?)\s?I speak fluent (\w+)")
    countries = []
    for i in range(b.size):
        text = task.decode(b, i)
        match = sentence.fullmatch(text)
        assert match, text
        country, fillers, language = match.groups()
        assert LANGUAGE[country] == language
        words = fillers.split()
        assert len(words) == gap and set(words) <= set(FILLERS)
        assert task.decode(b, i, with_target=False) == text.rsplit(" ", 1)[0]
        countries.append(country)
    freq = np.array(list(Counter(countries).values())) / b.size
    assert len(freq) == 6 and np.abs(freq - 1 / 6).max() < 4.5 * math.sqrt(5 / 36 / b.size)
    words = np.array(task.vocabulary)[b.x.argmax(axis=-1)]
    np.testing.assert_array_equal(words[task.steps - 1 - task.lag], np.array(countries))


def test_france_fillers_never_give_the_answer_away() -> None:
    names = {w for pair in LANGUAGE.items() for w in pair}
    assert not set(FILLERS) & (names | {"speak", "fluent", "I", "grew", "up", "in"})
    task = FranceTask()
    assert task.countries == ("France", "Germany", "Spain", "Italy")
    assert task.baseline == 0.25 and task.baseline_loss == pytest.approx(math.log(4))
    assert len(set(task.vocabulary)) == len(task.vocabulary) == task.input_size
