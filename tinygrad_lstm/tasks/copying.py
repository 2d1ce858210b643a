"""The copy task (Arjovsky, Shah & Bengio 2016): remember 10 symbols across T blank steps.

>>> from tinygrad_lstm.tasks import CopyTask
>>> task = CopyTask(length=5)
>>> b = task.batch(1, rng=0)
>>> b.x.argmax(-1)[:, 0].tolist()  # 10 symbols of 8, T-1 = 4 blanks (8), delimiter (9), blanks
[6, 5, 4, 2, 2, 0, 0, 0, 1, 6, 8, 8, 8, 8, 9, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]
>>> b.y[:, 0].tolist()              # blanks, then the 10 symbols again
[8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 6, 5, 4, 2, 2, 0, 0, 0, 1, 6]
>>> round(task.baseline_loss, 4)   # 10 ln 8 / (T + 20)
0.8318
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tinygrad_lstm.tasks.base import NEG, Batch, Kind, Task, TaskOption, check_int, one_hot


class CopyTask(Task):
    """Read ``n_recall`` symbols, wait, and write them back after a delimiter.

    A sequence has T + 2·R steps (R = ``n_recall`` = 10, T = ``length``): R symbols drawn
    uniformly (with replacement) from ``n_symbols`` = 8, then T - 1 blanks, a delimiter, and R
    blanks. Inputs are one-hot over n_symbols + 2 categories: ids 0..7 are the symbols, 8 the
    blank, 9 the delimiter. The target at every step is a class of n_symbols + 1 (the symbols
    and the blank; the delimiter is never a target): the blank for the first T + R steps, then
    the R symbols in order. ``mask`` is all True: the loss is the per-step cross-entropy
    averaged over all T + 20 steps, as in the paper.

    ``metric`` is the accuracy on the R recalled symbols (argmax of the logits at the last R
    steps; higher is better); ``solved`` asks for >= ``solved_at`` (default 0.99). ``metrics``
    also reports the cross-entropy and the fraction of sequences recalled without any error.

    Baseline: a predictor without memory of the symbols (it may know the step index) outputs
    the blank with certainty for the first T + R steps (zero loss) and the uniform distribution
    over the symbols at the last R steps (ln 8 each), so ``baseline_loss`` = R·ln(n_symbols) /
    (T + 2R) = 10·ln 8 / (T + 20); its argmax guesses one symbol, right 1/8 of the time:
    ``baseline`` = 1 / n_symbols.
    """

    name: ClassVar[str] = "copy"
    options: ClassVar[tuple[TaskOption, ...]] = (
        TaskOption("seq-len", int, 100, "sequence length", low=1,
                   apply=lambda n: {"length": n}),)
    description: ClassVar[str] = (
        "copy task: 10 symbols of 8, T-1 blanks, a delimiter, 10 blanks; write the symbols back "
        "at the end")
    kind: ClassVar[Kind] = "classification"
    per_step: ClassVar[bool] = True
    metric_name: ClassVar[str] = "accuracy"
    higher_is_better: ClassVar[bool] = True
    default_solved_at: ClassVar[float] = 0.99

    def __init__(self, length: int = 100, n_symbols: int = 8, n_recall: int = 10,
                 solved_at: float | None = None) -> None:
        super().__init__(solved_at)
        self.length = check_int("CopyTask", "length", length, 1)
        self.n_symbols = check_int("CopyTask", "n_symbols", n_symbols, 2)
        self.n_recall = check_int("CopyTask", "n_recall", n_recall, 1)
        self.blank = self.n_symbols
        self.delimiter = self.n_symbols + 1
        self.input_size = self.n_symbols + 2
        self.output_size = self.n_symbols + 1

    @property
    def steps(self) -> int:
        """T + 2·R, the length of every sequence."""
        return self.length + 2 * self.n_recall

    def _generate(self, batch_size: int, rng: np.random.Generator) -> Batch:
        B, T, R, L = batch_size, self.length, self.n_recall, self.steps
        symbols = rng.integers(0, self.n_symbols, size=(R, B))
        ids = np.full((L, B), self.blank, dtype=np.int64)
        ids[:R] = symbols
        ids[T + R - 1] = self.delimiter
        y = np.full((L, B), self.blank, dtype=np.int64)
        y[T + R:] = symbols
        return Batch(x=one_hot(ids, self.input_size), y=y, mask=np.ones((L, B), dtype=bool),
                     lengths=np.full(B, L, dtype=np.int64), info={"symbols": symbols})

    def _recall(self, predictions: Any, batch: Batch) -> np.ndarray:
        """(R, B) bool: which recalled symbols the argmax gets right."""
        p = self.step_predictions(predictions, batch)
        return p[-self.n_recall:].argmax(axis=-1) == batch.y[-self.n_recall:]

    def metric(self, predictions: Any, batch: Batch) -> float:
        """Accuracy of the argmax on the recalled symbols (higher is better)."""
        return float(self._recall(predictions, batch).mean())

    def metrics(self, predictions: Any, batch: Batch) -> dict[str, float]:
        """Loss (= per-step cross-entropy over all T + 2R steps), accuracy on the recalled
        symbols, and the fraction of sequences whose every recalled symbol is right."""
        right = self._recall(predictions, batch)
        ce = self.loss(predictions, batch)
        return {"loss": ce, "cross_entropy": ce, "accuracy": float(right.mean()),
                "sequence_accuracy": float(right.all(axis=0).mean())}

    @property
    def baseline(self) -> float:
        return 1.0 / self.n_symbols

    @property
    def baseline_loss(self) -> float:
        return self.n_recall * float(np.log(self.n_symbols)) / self.steps

    def memoryless_predictions(self, batch: Batch) -> np.ndarray:
        """Logits: the blank for certain, then a uniform guess over the symbols for the last R
        steps; shape (T + 2R, B, n_symbols + 1)."""
        logits = np.full((batch.steps, batch.size, self.output_size), NEG, dtype=np.float32)
        logits[:-self.n_recall, :, self.blank] = 0.0
        logits[-self.n_recall:, :, :self.n_symbols] = 0.0
        return logits

    @property
    def config(self) -> dict[str, Any]:
        return {"length": self.length, "n_symbols": self.n_symbols, "n_recall": self.n_recall,
                "solved_at": self.solved_at}
