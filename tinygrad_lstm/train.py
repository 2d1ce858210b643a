"""Training a cell on a task: batches, evaluation, early stop, checkpoints, exact resume.

A run lives in one folder:

    config.json      what was asked for (cell, task, sizes, optimiser, seed, ...)
    metrics.jsonl    one JSON object per evaluation: step, train loss, held-out loss and metric,
                     training seconds so far (across resumes)
    checkpoint.npz   parameters, optimiser state, both RNG states and the step (tl.save format)

``train(config)`` starts a run; ``resume(folder)`` continues one exactly where its checkpoint
left it: the same parameters, optimiser moments, data and dropout RNG states and step, so an
interrupted run ends with bit-identical parameters to one that never stopped. Ctrl-C or SIGTERM
finishes the step in progress, saves a checkpoint and returns (a second Ctrl-C stops at once,
leaving the last checkpoint as it was). Nothing already saved is overwritten by a new run.

>>> import tempfile, tinygrad_lstm as tl
>>> cfg = tl.train.TrainConfig(cell="lstm", task="france", task_options={"gap": 2}, hidden=8,
...                            steps=3, batch_size=4, eval_every=3, eval_size=16)
>>> result = tl.train.train(cfg, tempfile.mkdtemp(), progress=False)
>>> result.step
3
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_lstm import cells, optim, tasks
from tinygrad_lstm import random as tl_random
from tinygrad_lstm.checkpoint import CheckpointError, load, save
from tinygrad_lstm.context import get_backend, set_backend
from tinygrad_lstm.files import write_atomic
from tinygrad_lstm.module import Module
from tinygrad_lstm.nn.linear import Linear
from tinygrad_lstm.nn.losses import cross_entropy, mse_loss
from tinygrad_lstm.nn.recurrent import Recurrent
from tinygrad_lstm.preflight import folder_problem, size_problem
from tinygrad_lstm.progress import progress_bar
from tinygrad_lstm.run_config import OPTIMIZERS, RunError, TrainConfig
from tinygrad_lstm.tape import no_grad
from tinygrad_lstm.tensor import Tensor
from tinygrad_lstm.threads import training_threads

__all__ = ["OPTIMIZERS", "Result", "RunError", "SequenceModel", "TrainConfig", "Trainer",
           "check_size", "resume", "train"]

CONFIG, METRICS, CHECKPOINT = "config.json", "metrics.jsonl", "checkpoint.npz"


class SequenceModel(Module):
    """A recurrent stack and a linear readout: every step's output (per-step tasks) or the
    final state, which with ``lengths`` is each sequence's last valid step (end-only tasks)."""

    def __init__(self, cell: cells.Cell, layers: int, output_size: int, per_step: bool,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.rnn = Recurrent(cell, num_layers=layers, dropout=dropout)
        self.readout = Linear(cell.output_size(), output_size)
        self.per_step = per_step

    def forward(self, x: Tensor, lengths: Any = None) -> Tensor:
        out, state = self.rnn(x, lengths=lengths)
        return self.readout(out if self.per_step else state[-1][0])


@dataclass
class Result:
    """How a run ended."""

    step: int
    metric: float | None
    solved: bool
    seconds: float
    status: str  # "finished", "solved" (early stop) or "interrupted"
    history: list[dict[str, Any]]


def _build(config: TrainConfig) -> tuple[tasks.Task, SequenceModel, optim.Optimizer]:
    try:
        task = tasks.create(config.task, **config.task_options)
    except (ValueError, TypeError) as err:
        raise RunError(str(err)) from None
    try:
        cell = config.cell_spec().build(task.input_size, config.hidden, **config.cell_options)
    except (ValueError, TypeError) as err:
        raise RunError(f"cell {config.cell_spec().name!r}: {err}") from None
    model = SequenceModel(cell, config.layers, task.output_size, task.per_step, config.dropout)
    params = model.parameters()
    if config.optimizer == "sgd":
        opt: optim.Optimizer = optim.SGD(params, lr=config.lr, momentum=config.momentum)
    elif config.optimizer == "adamw":
        opt = optim.AdamW(params, lr=config.lr)
    else:
        opt = optim.Adam(params, lr=config.lr)
    return task, model, opt


def _loss(task: tasks.Task, prediction: Tensor, batch: tasks.Batch) -> Tensor:
    if task.kind == "regression":
        return mse_loss(prediction, batch.y, mask=batch.mask if task.per_step else None)
    return cross_entropy(prediction, batch.y, mask=batch.mask if task.per_step else None)


def _write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (``tinygrad_lstm.files.write_atomic``)."""
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))


class _StopRequests:
    """SIGINT and SIGTERM ask training to stop after the step in progress (so a checkpoint never
    holds half an optimiser update); a second SIGINT stops at once, saving nothing."""

    def __init__(self) -> None:
        self.requested: int | None = None
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signum

    def __enter__(self) -> _StopRequests:
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handler)
        except ValueError:  # not the main thread: signals stay as they are
            self._previous.clear()
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class Trainer:
    """One run: the task, the model, the optimiser, the RNG and where it all is saved."""

    def __init__(self, config: TrainConfig, folder: str | os.PathLike) -> None:
        config.validate()
        self.config = config
        self.folder = Path(folder)
        if config.backend:
            set_backend(config.backend)
        tl_random.manual_seed(config.seed)
        try:
            self.task, self.model, self.opt = _build(config)
            self.data_rng = np.random.default_rng(config.seed)
            # input noise has a stream of its own: the batches are the same with or without it
            self.noise_rng = np.random.default_rng([config.seed, 2**31 - 2])
            # the held-out set: fixed, drawn from its own seed, never seen in training
            self.eval_batch = self.task.batch(config.eval_size, np.random.default_rng(
                [config.seed, 2**31 - 1]))
        except MemoryError as err:
            raise RunError(f"out of memory building the run ({err}); use a smaller --hidden, "
                           "--seq-len, --batch-size or --eval-size") from None
        self.step = 0
        self.seconds_before = 0.0  # training time of earlier sessions of this run
        self._started = time.perf_counter()
        self.history: list[dict[str, Any]] = []

    def seconds(self) -> float:
        """Training time of this run so far, across resumes."""
        return self.seconds_before + time.perf_counter() - self._started

    # --- saving ------------------------------------------------------------------------------
    def save(self) -> None:
        extra = {"config": self.config.to_dict(),
                 "data_rng": self.data_rng.bit_generator.state,
                 "noise_rng": self.noise_rng.bit_generator.state,
                 "tl_rng": tl_random.get_state(), "backend": get_backend().name,
                 "seconds": self.seconds()}
        save(self.model, self.folder / CHECKPOINT, optimizer=self.opt, step=self.step,
             extra=extra)

    def restore(self) -> None:
        path = self.folder / CHECKPOINT
        try:
            meta = load(self.model, path, optimizer=self.opt)
        except CheckpointError as err:
            raise RunError(str(err)) from None
        self.step = int(meta["step"])
        self.seconds_before = float(meta.get("seconds", 0.0))
        self.data_rng.bit_generator.state = meta["data_rng"]
        if "noise_rng" in meta:  # checkpoints from before input noise lack it (and used none)
            self.noise_rng.bit_generator.state = meta["noise_rng"]
        tl_random.set_state(meta["tl_rng"])
        metrics = self.folder / METRICS
        if metrics.exists():  # entries after the checkpoint will be logged again
            lines = [json.loads(line) for line in metrics.read_text().splitlines() if line]
            self.history = [m for m in lines if m["step"] <= self.step]
            with open(metrics, "w") as f:
                f.writelines(json.dumps(m) + "\n" for m in self.history)

    # --- training ----------------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        batch = self.eval_batch
        with no_grad():
            pred = self.model(Tensor(batch.x), lengths=batch.lengths)
            loss = float(_loss(self.task, pred, batch).item())
        self.model.train()
        return {"eval_loss": loss, "metric": self.task.metric(pred.numpy(), batch)}

    def train_step(self) -> float:
        batch = self.task.batch(self.config.batch_size, self.data_rng)
        x = batch.x
        if self.config.input_noise:
            # Greff et al. (2015), Section IV: Gaussian noise on the inputs as a regulariser;
            # evaluation sees the clean inputs
            noise = self.noise_rng.normal(0.0, self.config.input_noise, size=x.shape)
            x = x + noise.astype(x.dtype)
        pred = self.model(Tensor(x), lengths=batch.lengths)
        loss = _loss(self.task, pred, batch)
        self.opt.zero_grad()
        loss.backward()
        if self.config.clip is not None:
            optim.clip_grad_norm_(self.model.parameters(), self.config.clip)
        self.opt.step()
        return float(loss.item())

    def start_line(self, threads: int) -> str:
        """What a run says when it starts: cell, task, backend, threads, parameter count."""
        cfg = self.config
        options = "".join(f", {k}={v}" for k, v in cfg.task_options.items())
        count = sum(math.prod(p.shape) for p in self.model.parameters())
        return (f"training {self.config.cell_spec().name} (hidden {cfg.hidden}, "
                f"{cfg.layers} layer{'s' * (cfg.layers > 1)}) on {cfg.task}{options}: backend "
                f"{get_backend().name}, {threads} BLAS thread{'s' * (threads > 1)}, "
                f"{count:,} parameters, steps {self.step}..{cfg.steps}")

    def run(self, progress: bool = True, label: str | None = None) -> Result:
        with training_threads() as threads:
            if progress:
                print(self.start_line(threads), flush=True)
            return self._run(progress, label)

    def _run(self, progress: bool, label: str | None) -> Result:
        cfg = self.config
        start = time.perf_counter()
        self._started = start
        log = open(self.folder / METRICS, "a")  # noqa: SIM115 - closed in finally
        bar = progress_bar(cfg.steps, self.step,
                           label or f"{cfg.cell_spec().name} on {cfg.task}", progress)
        status, last, losses = "finished", None, []
        try:
            with _StopRequests() as stop:
                while self.step < cfg.steps and stop.requested is None:
                    losses.append(self.train_step())
                    self.step += 1
                    bar.update(1, losses[-1])
                    if self.step % cfg.eval_every == 0 or self.step == cfg.steps:
                        last = self._log(log, losses)
                        losses = []
                        bar.set_postfix(loss=f"{last['train_loss']:.4f}",
                                        **{self.task.metric_name: f"{last['metric']:.3f}"})
                        if cfg.early_stop and self.task.solved(last["metric"]):
                            status = "solved"
                            break
                    if self.step % cfg.checkpoint_every == 0:
                        self.save()
                if stop.requested is not None:
                    status = "interrupted"
        finally:
            bar.close()
            log.close()
        self.save()
        metric = None if last is None else last["metric"]
        return Result(self.step, metric, metric is not None and self.task.solved(metric),
                      time.perf_counter() - start, status, self.history)

    def _log(self, log: Any, losses: list[float]) -> dict[str, Any]:
        entry = {"step": self.step, "train_loss": float(np.mean(losses)) if losses else None,
                 **self.evaluate(), "seconds": round(self.seconds(), 3)}
        self.history.append(entry)
        log.write(json.dumps(entry) + "\n")
        log.flush()
        return entry


# --- the two entry points ----------------------------------------------------------------------

def train(config: TrainConfig, folder: str | os.PathLike, progress: bool = True,
          label: str | None = None) -> Result:
    """Start a new run in ``folder`` (created if needed; refused if it already holds a run)."""
    folder = Path(folder)
    config.validate()
    problem = folder_problem(folder)
    if problem is not None:
        raise RunError(problem)
    if (folder / CONFIG).exists() or (folder / CHECKPOINT).exists():
        raise RunError(f"{folder} already holds a run; resume it, or choose another folder "
                       "(nothing was changed)")
    check_size(config)
    trainer = Trainer(config, folder)  # the folder is made only once the model is built
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(f"cannot create {folder}: {err.strerror or err}; choose another "
                       "folder") from None
    _write_json(folder / CONFIG, config.to_dict())
    return trainer.run(progress=progress, label=label)


def check_size(config: TrainConfig) -> None:
    """Refuse, before allocating anything, a run that cannot fit in this machine's memory."""
    try:
        task = tasks.create(config.task, **config.task_options)
    except (ValueError, TypeError) as err:
        raise RunError(str(err)) from None
    problem = size_problem(config, task, config.cell_spec())
    if problem is not None:
        raise RunError(problem)


def resume(folder: str | os.PathLike, steps: int | None = None,
           progress: bool = True, expect: dict[str, Any] | None = None,
           backend: str | None = None) -> Result:
    """Continue the run in ``folder`` from its checkpoint (optionally to a new step count, or
    on another ``backend``).

    ``expect``: settings the caller asked for (``TrainConfig`` field -> value); any that differs
    from the saved run's raises ``RunError`` rather than being silently ignored."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"cannot resume: {folder} is not a folder")
    try:
        raw = json.loads((folder / CONFIG).read_text())
    except FileNotFoundError:
        raise RunError(f"cannot resume: {folder} holds no {CONFIG}") from None
    except (OSError, json.JSONDecodeError) as err:
        raise RunError(f"cannot resume: {folder / CONFIG} is unreadable: {err}") from None
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    if not isinstance(raw, dict) or set(raw) - known:
        raise RunError(f"cannot resume: {folder / CONFIG} is not a run configuration")
    config = TrainConfig(**raw)
    for key, wanted in (expect or {}).items():
        saved = getattr(config, key)
        if key == "cell":
            saved, wanted = config.cell_spec().name, TrainConfig(cell=wanted).cell_spec().name
        if wanted != saved:
            raise RunError(f"cannot resume: the run in {folder} has {key}={saved!r}, not "
                           f"{wanted!r}; drop that option, or start a new run with --out")
    if steps is not None:
        config.steps = steps
    if backend is not None:
        config.backend = backend
    if not (folder / CHECKPOINT).exists():
        raise RunError(f"cannot resume: {folder} holds no {CHECKPOINT}")
    trainer = Trainer(config, folder)
    trainer.restore()
    if steps is not None or backend is not None:
        _write_json(folder / CONFIG, config.to_dict())
    return trainer.run(progress=progress)
