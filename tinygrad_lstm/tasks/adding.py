"""The adding problem: its 1997 form (Hochreiter & Schmidhuber) and 2016 form (Arjovsky et al.).

Both show two values many steps apart and ask for their sum at the end: a model must hold the
first value across the whole sequence.

>>> import numpy as np
>>> from tinygrad_lstm.tasks import AddingProblem
>>> task = AddingProblem(length=100)
>>> b = task.batch(3, rng=0)
>>> b.x[0, :, 1], b.x[-1, :, 1]   # the start and end markers are -1 (unless marked)
(array([-1., -1., -1.], dtype=float32), array([-1., -1., -1.], dtype=float32))
>>> round(task.baseline, 4)   # a constant 0.5 meets |error| < 0.04 this often
0.1544
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tinygrad_lstm.tasks.base import Batch, Kind, Task, TaskOption, check_int, end_mask, valid_mask


class AddingProblem(Task):
    """The adding problem as the 1997 LSTM paper (experiment 4) states it.

    Each step is a pair (value, marker): the value is drawn from U[-1, 1], the marker is 1, 0 or
    -1. Exactly two pairs are marked with 1: the first (X1) is one of the first 10 pairs; the
    second (X2) is one of the first T/2 - 1 pairs still unmarked (we read this as "the k-th
    unmarked pair, k uniform over the first T//2 - 1 of them", so X2 sits at step <= T//2 - 1
    and never on X1). Every other marker is 0, except the first and the last pair of the
    sequence, whose markers are -1. If the first pair is one of the marked ones its marker is 1
    and its value is set to 0 (the paper says "we set X1 to zero"; we zero the value at step 0
    whichever mark landed there, X2 included, so the input always shows the summed value).

    The target, at the last step, is 0.5 + (X1 + X2) / 4 (the sum scaled to [0, 1]). A sequence
    is solved when the absolute error there is below 0.04; ``metric`` is the fraction of
    sequences solved, and ``solved`` asks for ``solved_at`` (default 0.95; the paper's nets got
    all but 1-3 of 2560 test sequences right, so they would pass 0.99).

    ``length`` is the paper's minimal length T. With ``variable_length=True`` every sequence
    gets a length drawn uniformly from [T, T + T//10] as in the paper and the batch is padded
    at the end to T + T//10 (zeros; ``mask``/``lengths`` mark each sequence's last step);
    by default every sequence has exactly T steps. X2's range uses T in both cases.

    Baseline (a memoryless model can only output a constant; 0.5 is the best one because
    X1 + X2 is symmetric and peaked at 0): with a = 4 · 0.04 = 0.16 and S = X1 + X2 a sum of
    two U[-1, 1], P(|S| < a) = a - a²/4 = 0.1536; when step 0 is marked (probability
    p0 = 1/10 + (9/10) / (T//2 - 1)) S is one U[-1, 1] and P(|S| < a) = a = 0.16. So

        baseline = (1 - p0) · (a - a²/4) + p0 · a        (0.15436 for T = 100)

    and the constant's MSE is ``baseline_loss`` = E[S²]/16 = ((1 - p0) · 2/3 + p0 · 1/3) / 16.
    """

    name: ClassVar[str] = "adding"
    options: ClassVar[tuple[TaskOption, ...]] = (
        TaskOption("seq-len", int, 100, "sequence length", low=1,
                   apply=lambda n: {"length": n}),)
    description: ClassVar[str] = (
        "adding problem, 1997 form: values in [-1, 1], two marked, target 0.5 + (X1 + X2)/4, "
        "solved if |error| < 0.04")
    kind: ClassVar[Kind] = "regression"
    per_step: ClassVar[bool] = False
    metric_name: ClassVar[str] = "fraction_solved"
    higher_is_better: ClassVar[bool] = True
    default_solved_at: ClassVar[float] = 0.95

    tolerance: ClassVar[float] = 0.04

    def __init__(self, length: int = 100, variable_length: bool = False,
                 solved_at: float | None = None) -> None:
        super().__init__(solved_at)
        # T >= 11: X1 lies among the first 10 steps and the last step carries the end marker.
        self.length = check_int("AddingProblem", "length", length, 11)
        self.variable_length = bool(variable_length)
        self.max_length = self.length + (self.length // 10 if self.variable_length else 0)
        self.input_size = 2
        self.output_size = 1

    @property
    def p_first_marked(self) -> float:
        """Probability that step 0 is marked (and its value zeroed): 1/10 + (9/10)/(T//2 - 1)."""
        return 0.1 + 0.9 / (self.length // 2 - 1)

    def _generate(self, batch_size: int, rng: np.random.Generator) -> Batch:
        B, L, T = batch_size, self.max_length, self.length
        cols = np.arange(B)
        if self.variable_length:
            lengths = rng.integers(T, L + 1, size=B)
        else:
            lengths = np.full(B, L, dtype=np.int64)
        values = rng.uniform(-1.0, 1.0, size=(L, B)).astype(np.float32)
        p1 = rng.integers(0, 10, size=B)
        k = rng.integers(0, T // 2 - 1, size=B)
        p2 = k + (k >= p1)                       # the k-th pair that is not X1's
        markers = np.zeros((L, B), dtype=np.float32)
        markers[0] = -1.0
        markers[lengths - 1, cols] = -1.0
        markers[p1, cols] = 1.0
        markers[p2, cols] = 1.0
        values[0, (p1 == 0) | (p2 == 0)] = 0.0
        values *= valid_mask(lengths, L)         # padding is all zeros
        x = np.stack([values, markers], axis=-1)
        X1, X2 = values[p1, cols], values[p2, cols]
        y = (0.5 + (X1.astype(np.float64) + X2) / 4.0).astype(np.float32)[:, None]
        return Batch(x=x, y=y, mask=end_mask(lengths, L), lengths=lengths.astype(np.int64),
                     info={"positions": np.stack([p1, p2], axis=1)})

    def metric(self, predictions: Any, batch: Batch) -> float:
        """Fraction of sequences whose final |prediction - target| < 0.04 (higher is better)."""
        p, y = self.scored(predictions, batch)
        return float(np.mean(np.abs(p[:, 0] - y[:, 0]) < self.tolerance))

    @property
    def baseline(self) -> float:
        a, p0 = 4 * self.tolerance, self.p_first_marked
        return (1 - p0) * (a - a * a / 4) + p0 * a

    @property
    def baseline_loss(self) -> float:
        p0 = self.p_first_marked
        return ((1 - p0) * 2 / 3 + p0 / 3) / 16

    def memoryless_predictions(self, batch: Batch) -> np.ndarray:
        """The constant 0.5, shape (B, 1)."""
        return np.full((batch.size, 1), 0.5, dtype=np.float32)

    @property
    def config(self) -> dict[str, Any]:
        return {"length": self.length, "variable_length": self.variable_length,
                "solved_at": self.solved_at}


class AddingProblem2016(Task):
    """The adding problem as Arjovsky, Shah & Bengio (2016) state it.

    Two input channels of length T: values drawn from U[0, 1], and a marker channel of zeros
    with two ones, one at a uniform step of the first half [0, T//2) and one in the second half
    [T//2, T). The target at the last step is X1 + X2 (no scaling).

    Baseline: a memoryless model predicts a constant; the best constant is E[X1 + X2] = 1 and
    its MSE is Var(X1 + X2) = 2 · 1/12 = 1/6 ≈ 0.167. ``metric`` is the MSE (lower is better);
    ``solved`` asks for MSE < ``solved_at`` (default 0.01, 6% of the baseline: the paper
    reports LSTM and uRNN converging to near zero while the RNN sits at 1/6).
    """

    name: ClassVar[str] = "adding2016"
    options: ClassVar[tuple[TaskOption, ...]] = (
        TaskOption("seq-len", int, 100, "sequence length", low=1,
                   apply=lambda n: {"length": n}),)
    description: ClassVar[str] = (
        "adding problem, 2016 form: values U[0, 1], one marker in each half, target X1 + X2, "
        "MSE vs the 1/6 of predicting 1")
    kind: ClassVar[Kind] = "regression"
    per_step: ClassVar[bool] = False
    metric_name: ClassVar[str] = "mse"
    higher_is_better: ClassVar[bool] = False
    default_solved_at: ClassVar[float] = 0.01

    def __init__(self, length: int = 100, solved_at: float | None = None) -> None:
        super().__init__(solved_at)
        self.length = check_int("AddingProblem2016", "length", length, 2)
        self.input_size = 2
        self.output_size = 1

    def _generate(self, batch_size: int, rng: np.random.Generator) -> Batch:
        B, T = batch_size, self.length
        cols = np.arange(B)
        values = rng.uniform(0.0, 1.0, size=(T, B)).astype(np.float32)
        p1 = rng.integers(0, T // 2, size=B)
        p2 = rng.integers(T // 2, T, size=B)
        markers = np.zeros((T, B), dtype=np.float32)
        markers[p1, cols] = 1.0
        markers[p2, cols] = 1.0
        x = np.stack([values, markers], axis=-1)
        y = (values[p1, cols].astype(np.float64) + values[p2, cols]).astype(np.float32)[:, None]
        lengths = np.full(B, T, dtype=np.int64)
        return Batch(x=x, y=y, mask=end_mask(lengths, T), lengths=lengths,
                     info={"positions": np.stack([p1, p2], axis=1)})

    def metric(self, predictions: Any, batch: Batch) -> float:
        """Mean squared error at the last step (lower is better)."""
        return self.loss(predictions, batch)

    @property
    def baseline(self) -> float:
        return 1.0 / 6.0

    @property
    def baseline_loss(self) -> float:
        return 1.0 / 6.0

    def memoryless_predictions(self, batch: Batch) -> np.ndarray:
        """The constant 1, shape (B, 1)."""
        return np.ones((batch.size, 1), dtype=np.float32)

    @property
    def config(self) -> dict[str, Any]:
        return {"length": self.length, "solved_at": self.solved_at}
