"""The common shape of every task: a seeded generator of ``Batch``es plus its metric and baseline.

Layout, shared by all tasks (time-major, like ``tl.nn.Recurrent``):

* ``x``: (T, B, input_size) float32. Padded steps (past a sequence's length) are all zeros:
  sequences are padded at the end, so ``lengths`` can go straight to ``Recurrent(lengths=...)``.
* ``y``: the targets. Classification: int64 class ids, (T, B) for per-step tasks, (B,) for tasks
  scored at the end. Regression: float32, (B, output_size). Padded per-step targets hold 0.
* ``mask``: (T, B) bool, the steps that carry a target; for end-only tasks exactly one step per
  sequence, its last valid one (``lengths - 1``).
* ``lengths``: (B,) int64 valid steps of each sequence (all T for fixed-length tasks).
* ``info``: task-specific ground truth (marker positions, legal successor sets, ...), for
  metrics, tests and demos.

Predictions are NumPy arrays of model outputs: regression values or class logits (any monotone
score works for argmax metrics; cross-entropy treats them as logits). Per-step tasks take
(T, B, output_size); end-only tasks take either every step's output (T, B, output_size), from
which the step marked in ``mask`` is read, or the outputs at that step (B, output_size).

>>> import tinygrad_lstm.tasks as tasks
>>> task = tasks.create("adding2016", length=50)
>>> b = task.batch(4, rng=0)
>>> b.x.shape, b.x.dtype, b.y.shape, int(b.mask.sum())
((50, 4, 2), dtype('float32'), (4, 1), 4)
>>> round(task.metric(b.y, b), 6), task.solved(task.metric(b.y, b))
(0.0, True)
"""

from __future__ import annotations

import abc
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from tinygrad_lstm import random as tl_random
from tinygrad_lstm.checks import check_int, check_real
from tinygrad_lstm.errors import ShapeError

Kind = Literal["regression", "classification"]

#: A logit low enough that softmax gives the class exactly zero probability in float64.
NEG = -1e4


@dataclass(frozen=True)
class Batch:
    """One batch of sequences: inputs, targets, the steps that are scored, and ground truth."""

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    lengths: np.ndarray
    info: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        """T, the padded number of time steps."""
        return int(self.x.shape[0])

    @property
    def size(self) -> int:
        """B, the number of sequences."""
        return int(self.x.shape[1])


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A Generator from a Generator (used as is), a seed, or None (the global ``tl.manual_seed``
    generator)."""
    if rng is None:
        return tl_random.generator()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy Generator, a non-negative int seed or None, got {rng!r}")


def one_hot(ids: np.ndarray, n: int, valid: np.ndarray | None = None) -> np.ndarray:
    """float32 one-hot codes of int ``ids`` (any shape) over ``n`` classes; rows where ``valid``
    is False are all zeros."""
    out = np.zeros(ids.shape + (n,), dtype=np.float32)
    hot = np.ones(ids.shape, dtype=bool) if valid is None else valid
    out[(*np.nonzero(hot), ids[hot])] = 1.0
    return out


def end_mask(lengths: np.ndarray, steps: int) -> np.ndarray:
    """(steps, B) bool, True only at each sequence's last valid step ``lengths - 1``."""
    return np.arange(steps)[:, None] == (lengths - 1)[None, :]


def valid_mask(lengths: np.ndarray, steps: int) -> np.ndarray:
    """(steps, B) bool, True at every step before each sequence's length."""
    return np.arange(steps)[:, None] < lengths[None, :]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable log-softmax over the last axis, in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class TaskOption:
    """One option a task offers on the command line: ``--{flag} VALUE`` of ``type`` (int,
    float or str; numbers at least ``low`` when given), ``default`` being what the task does
    without it (shown in ``--help``; a test holds it to the constructor). ``apply(value)``
    turns it into constructor keywords (by default ``{flag with - as _: value}``) and raises
    ValueError, in words that follow the flag, for a value the task cannot take. Tasks that
    share a flag (``--seq-len``) share its type; the command line is generated from these
    (``tinygrad_lstm.cli_train``), so a new task brings its options with it.
    """

    flag: str
    type: type
    default: Any
    help: str
    low: float | None = None
    apply: Callable[[Any], dict[str, Any]] | None = None

    def options(self, value: Any) -> dict[str, Any]:
        """The constructor keywords ``value`` stands for."""
        if self.apply is None:
            return {self.flag.replace("-", "_"): value}
        return self.apply(value)


class Task(abc.ABC):
    """A seeded generator of sequences that need memory, with its success metric and baseline.

    Class attributes: ``name`` (registry key), ``description`` (one line), ``kind`` (the loss to
    train with: "regression" = MSE, "classification" = cross-entropy on logits), ``per_step``
    (targets at every step, or only at the end), ``metric_name`` and ``higher_is_better`` (the
    direction of ``metric``), ``options`` (its ``TaskOption``s). Instance attributes:
    ``input_size``, ``output_size``, ``solved_at`` (the threshold ``solved`` applies; each task
    documents its default).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    kind: ClassVar[Kind]
    per_step: ClassVar[bool]
    metric_name: ClassVar[str]
    higher_is_better: ClassVar[bool] = True
    default_solved_at: ClassVar[float]
    #: what the command line offers for this task (``tinygrad-lstm train --task NAME``)
    options: ClassVar[tuple[TaskOption, ...]] = ()

    input_size: int
    output_size: int

    def __init__(self, solved_at: float | None = None) -> None:
        if solved_at is None:
            solved_at = self.default_solved_at
        try:
            self.solved_at = check_real(type(self).__name__, "solved_at", solved_at)
        except TypeError as err:  # a task's bad argument is a ValueError (tasks.create's promise)
            raise ValueError(str(err)) from None

    # -- generation ------------------------------------------------------------------------

    def batch(self, batch_size: int, rng: np.random.Generator | int | None = None) -> Batch:
        """``batch_size`` fresh sequences drawn from ``rng`` (a Generator, a seed, or None for
        the generator behind ``tl.manual_seed``). The same seed gives the same batch."""
        n = check_int(type(self).__name__, "batch_size", batch_size)
        return self._generate(n, as_generator(rng))

    @abc.abstractmethod
    def _generate(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """Draw one batch; every random number comes from ``rng``."""

    # -- scoring ---------------------------------------------------------------------------

    def step_predictions(self, predictions: Any, batch: Batch) -> np.ndarray:
        """``predictions`` as a float64 (T, B, output_size) array, or a ShapeError."""
        p = _to_numpy(predictions)
        want = (batch.steps, batch.size, self.output_size)
        if p.shape != want:
            raise ShapeError(f"{type(self).__name__}: predictions must be (T, B, output_size) = "
                             f"{want}, got {p.shape}")
        return p

    def scored(self, predictions: Any, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        """(predictions, targets) at the scored steps: predictions (N, output_size) float64 and
        targets (N,) class ids or (N, output_size) values, N = number of True entries of mask
        (B for end-only tasks, one per sequence in batch order)."""
        if self.per_step:
            p = self.step_predictions(predictions, batch)
            return p[batch.mask], batch.y[batch.mask]
        p = _to_numpy(predictions)
        T, B, C = batch.steps, batch.size, self.output_size
        if p.shape == (T, B, C):
            p = p[batch.lengths - 1, np.arange(B)]
        elif C == 1 and p.shape == (B,):
            p = p[:, None]
        elif p.shape != (B, C):
            raise ShapeError(f"{type(self).__name__}: predictions must be every step's output "
                             f"(T, B, output_size) = {(T, B, C)} or the last step's "
                             f"(B, output_size) = {(B, C)}, got {p.shape}")
        return p, batch.y

    def loss(self, predictions: Any, batch: Batch) -> float:
        """The training objective on the scored steps: mean squared error (regression) or mean
        cross-entropy of the logits (classification), averaged over scored steps."""
        p, y = self.scored(predictions, batch)
        if self.kind == "regression":
            return float(np.mean((p - y) ** 2))
        return float(-np.mean(np.take_along_axis(log_softmax(p), y[:, None], axis=1)))

    @abc.abstractmethod
    def metric(self, predictions: Any, batch: Batch) -> float:
        """The task's success metric (``metric_name``; see ``higher_is_better``)."""

    def metrics(self, predictions: Any, batch: Batch) -> dict[str, float]:
        """Every figure worth logging: the loss, the metric, and task-specific extras."""
        return {"loss": self.loss(predictions, batch),
                self.metric_name: self.metric(predictions, batch)}

    def solved(self, metric: float) -> bool:
        """Whether a metric value meets the success criterion (``solved_at``)."""
        m = float(metric)
        if math.isnan(m):
            return False
        return m >= self.solved_at if self.higher_is_better else m < self.solved_at

    # -- what a model without memory gets --------------------------------------------------

    @property
    @abc.abstractmethod
    def baseline(self) -> float:
        """The expected ``metric`` of the best memoryless predictor (formula in each task)."""

    @property
    def baseline_loss(self) -> float | None:
        """The expected ``loss`` of that predictor, where it has a closed form (else None)."""
        return None

    @abc.abstractmethod
    def memoryless_predictions(self, batch: Batch) -> np.ndarray:
        """The memoryless predictor's outputs on ``batch``: its ``metric`` and ``loss`` average
        to ``baseline`` and ``baseline_loss``."""

    # -- misc --------------------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments that define this task."""
        return {"solved_at": self.solved_at}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({args})"


def _to_numpy(predictions: Any) -> np.ndarray:
    if hasattr(predictions, "numpy") and not isinstance(predictions, np.ndarray):
        predictions = predictions.numpy()  # a tl.Tensor (on any backend)
    return np.asarray(predictions, dtype=np.float64)
