"""What a training run is asked to do (``TrainConfig``, stored as the run's ``config.json``)
and the error a run that cannot start raises (``RunError``). ``tinygrad_lstm.train`` runs it;
both names are importable from there.

``validate()`` applies the rules of the parts each option reaches (``tinygrad_lstm.checks``),
so a config is refused exactly where the optimiser, the model or the task would refuse it,
before a folder is made.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tinygrad_lstm import cells, tasks
from tinygrad_lstm.checks import check_int, check_probability, check_real

__all__ = ["OPTIMIZERS", "RunError", "TrainConfig"]

OPTIMIZERS = ("adam", "adamw", "sgd")


class RunError(ValueError):
    """A run cannot start or resume: the message says why (the CLI exits with code 2)."""


@dataclass
class TrainConfig:
    """Everything that defines a run. Saved as ``config.json`` in the run's folder."""

    cell: str | type[cells.Cell] = "lstm"  # a zoo name, "module:Class" or a Cell subclass
    task: str = "adding"
    task_options: dict[str, Any] = field(default_factory=dict)
    cell_options: dict[str, Any] = field(default_factory=dict)
    hidden: int = 64
    layers: int = 1
    dropout: float = 0.0  # between stacked layers, in training only
    steps: int = 1000
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD's (the other optimisers ignore it)
    input_noise: float = 0.0  # std of Gaussian noise added to the inputs, in training only
    clip: float | None = 1.0
    seed: int = 0
    backend: str | None = None
    eval_every: int = 100
    eval_size: int = 512
    checkpoint_every: int = 500
    early_stop: bool = True

    def cell_spec(self) -> cells.CellSpec:
        """The cell this run trains (``tl.cells.resolve``); raises ``RunError``."""
        try:
            return cells.resolve(self.cell)
        except cells.CellSpecError as err:
            raise RunError(str(err)) from None

    def to_dict(self) -> dict[str, Any]:
        """What ``config.json`` holds: the cell by name (zoo name or ``"module:Class"``)."""
        out = dataclasses.asdict(self)
        out["cell"] = self.cell_spec().name
        return out

    def validate(self) -> None:
        spec = self.cell_spec()
        if not isinstance(self.cell_options, dict):
            raise RunError(f"cell_options must be a dict, got {type(self.cell_options).__name__}")
        known = spec.options()
        for key in self.cell_options:
            if key not in known:
                raise RunError(f"cell {spec.name!r} has no option {key!r}; its options: "
                               f"{', '.join(known) or '(none)'}")
        if self.task not in tasks.available():
            raise RunError(f"unknown task {self.task!r}; choose from "
                           f"{', '.join(tasks.available())}")
        if self.optimizer not in OPTIMIZERS:
            raise RunError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        # the rules of the parts these options reach (checks.py), so the config refuses what
        # they would: lr >= 0 and momentum >= 0 as torch.optim, dropout a probability; only clip
        # is stricter than clip_grad_norm_ (0 would zero every gradient; None turns it off)
        try:
            for name in ("hidden", "layers", "steps", "batch_size", "eval_every", "eval_size",
                         "checkpoint_every"):
                check_int("TrainConfig", name, getattr(self, name))
            check_int("TrainConfig", "seed", self.seed, minimum=0)
            check_real("TrainConfig", "lr", self.lr, 0.0)
            check_real("TrainConfig", "momentum", self.momentum, 0.0)
            check_probability("TrainConfig", "dropout", self.dropout)
            check_real("TrainConfig", "input_noise", self.input_noise, 0.0)
            if self.clip is not None:
                check_real("TrainConfig", "clip", self.clip, 0.0, open_low=True)
        except (TypeError, ValueError) as err:
            raise RunError(str(err)) from None
