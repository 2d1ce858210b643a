"""Temporal order (Hochreiter & Schmidhuber 1997, experiment 6a): classify the order of X and Y.

>>> from tinygrad_lstm.tasks import TemporalOrder
>>> task = TemporalOrder()
>>> b = task.batch(2, rng=0)
>>> b.x.shape, b.lengths.tolist(), b.y.tolist()     # padded to 110; classes XX, XY, YX, YY
((110, 2, 8), [109, 107], [0, 1])
>>> "".join(task.symbols[i] for i in b.x[:b.lengths[0], 0].argmax(-1))[:64]
'EbaaccdccbcbcddXaabbaacbdbdbddcdcdbbcaccbccdbbcabbbdaccddcdcXdcd'
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tinygrad_lstm.tasks.base import (
    Batch,
    Kind,
    Task,
    TaskOption,
    check_int,
    end_mask,
    one_hot,
    valid_mask,
)


def _lengths(seq_len: int) -> dict[str, int]:
    if seq_len < 62:  # its symbols sit at steps 10-20 and 50-60, before the end
        raise ValueError(f"must be at least 62 for the temporal-order task, got {seq_len}")
    return {"min_length": seq_len, "max_length": seq_len + 10}


class TemporalOrder(Task):
    """Two relevant symbols among distractors; the class is their temporal order.

    Symbols (one-hot, 8 inputs): E (start), B (end, the trigger for the answer), the distractors
    a, b, c, d, and the relevant X, Y, in that order of ids. A sequence starts with E, ends with
    B, and is otherwise uniform distractors, except at two steps t1 and t2 that hold X or Y
    (each uniform). Lengths are uniform in [``min_length``, ``max_length``] = [100, 110]; t1 is
    uniform in ``t1_range`` = [10, 20] and t2 in ``t2_range`` = [50, 60] (both inclusive,
    0-based step indices with E at step 0; the paper does not say whether it counts from 0 or
    1, and a shift of one step changes nothing). Batches are padded at the end to
    ``max_length`` with all-zero inputs; ``mask`` marks each sequence's last step (its B),
    where the class is scored. Pass ``min_length=max_length=100`` for fixed-length batches.

    Classes (the paper's Q, R, S, U): 0 = XX, 1 = XY, 2 = YX, 3 = YY (= 2·[first is Y] +
    [second is Y]). ``metric`` is the accuracy of the argmax (higher is better); ``solved``
    asks for >= ``solved_at`` (default 0.95; the paper's criterion was every output unit within
    0.3 of its target, and its LSTM nets reached 2-3 wrong in 2560 test sequences).

    Baseline: without memory the class is independent of everything a model sees at the last
    step, so it can only guess: accuracy 1/4 (``baseline``), cross-entropy ln 4
    (``baseline_loss``) for uniform logits.
    """

    name: ClassVar[str] = "temporal-order"
    options: ClassVar[tuple[TaskOption, ...]] = (
        TaskOption("seq-len", int, 100, "sequence length: min_length, with max_length 10 more "
                   "(at least 62)", low=1, apply=_lengths),)
    description: ClassVar[str] = (
        "temporal order (1997, 6a): X/Y at t1 in [10, 20] and t2 in [50, 60] among distractors; "
        "classify XX, XY, YX, YY at the end")
    kind: ClassVar[Kind] = "classification"
    per_step: ClassVar[bool] = False
    metric_name: ClassVar[str] = "accuracy"
    higher_is_better: ClassVar[bool] = True
    default_solved_at: ClassVar[float] = 0.95

    symbols: ClassVar[tuple[str, ...]] = ("E", "B", "a", "b", "c", "d", "X", "Y")
    classes: ClassVar[tuple[str, ...]] = ("XX", "XY", "YX", "YY")

    def __init__(self, min_length: int = 100, max_length: int = 110,
                 t1_range: tuple[int, int] = (10, 20), t2_range: tuple[int, int] = (50, 60),
                 solved_at: float | None = None) -> None:
        super().__init__(solved_at)
        own = "TemporalOrder"
        self.min_length = check_int(own, "min_length", min_length, 1)
        self.max_length = check_int(own, "max_length", max_length, self.min_length)
        t1 = _range(own, "t1_range", t1_range, 1)
        t2 = _range(own, "t2_range", t2_range, t1[1] + 1)
        if t2[1] >= self.min_length - 1:
            raise ValueError(f"{own}: t2_range {t2} must end before the last step of the "
                             f"shortest sequence ({self.min_length - 1}); raise min_length")
        self.t1_range, self.t2_range = t1, t2
        self.input_size = len(self.symbols)
        self.output_size = len(self.classes)

    def _generate(self, batch_size: int, rng: np.random.Generator) -> Batch:
        B, L = batch_size, self.max_length
        cols = np.arange(B)
        lengths = rng.integers(self.min_length, L + 1, size=B)
        ids = rng.integers(2, 6, size=(L, B))            # distractors a, b, c, d
        ids[0] = 0                                        # E
        ids[lengths - 1, cols] = 1                        # B, the trigger
        t1 = rng.integers(self.t1_range[0], self.t1_range[1] + 1, size=B)
        t2 = rng.integers(self.t2_range[0], self.t2_range[1] + 1, size=B)
        first = rng.integers(0, 2, size=B)                # 0 = X, 1 = Y
        second = rng.integers(0, 2, size=B)
        ids[t1, cols] = 6 + first
        ids[t2, cols] = 6 + second
        y = (2 * first + second).astype(np.int64)
        return Batch(x=one_hot(ids, self.input_size, valid_mask(lengths, L)), y=y,
                     mask=end_mask(lengths, L), lengths=lengths.astype(np.int64),
                     info={"t1": t1, "t2": t2})

    def metric(self, predictions: Any, batch: Batch) -> float:
        """Accuracy of the argmax at the last step (higher is better)."""
        p, y = self.scored(predictions, batch)
        return float(np.mean(p.argmax(axis=-1) == y))

    @property
    def baseline(self) -> float:
        return 1.0 / len(self.classes)

    @property
    def baseline_loss(self) -> float:
        return float(np.log(len(self.classes)))

    def memoryless_predictions(self, batch: Batch) -> np.ndarray:
        """Uniform logits (argmax: always class 0, XX), shape (B, 4)."""
        return np.zeros((batch.size, self.output_size), dtype=np.float32)

    @property
    def config(self) -> dict[str, Any]:
        return {"min_length": self.min_length, "max_length": self.max_length,
                "t1_range": self.t1_range, "t2_range": self.t2_range,
                "solved_at": self.solved_at}


def _range(owner: str, name: str, value: Any, minimum: int) -> tuple[int, int]:
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {name} must be a pair (first, last), got {value!r}") from None
    lo = check_int(owner, f"{name}[0]", lo, minimum)
    hi = check_int(owner, f"{name}[1]", hi, lo)
    return lo, hi
