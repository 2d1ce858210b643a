"""The PyTorch column of ``benchmarks/long_term.py``: the same run, trained by PyTorch.

``train_torch(config, folder)`` builds the run exactly as ``tl.train`` does (the same seed, so
the same initial weights, the same task generator and data RNG, the same held-out batch), copies
the weights into ``torch.nn.LSTM`` (or ``RNN``) and ``torch.nn.Linear``, and trains with
``torch.optim.Adam`` and ``torch.nn.utils.clip_grad_norm_``, evaluating and stopping early on the
same schedule. It writes ``config.json`` and ``metrics.jsonl`` like a ``tl.train`` run folder,
so the ladder reads both frameworks' runs the same way. Needs torch (optional: the ladder
skips this column without it).

Only the cells PyTorch has are mirrored: the essay's LSTM (``lstm``) and the Elman RNN
(``rnn``), on the tasks whose loss PyTorch's stock functions give directly: adding (both
forms), copy and temporal order (end-of-sequence readout at each sequence's last valid step).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

#: the ladder's cells that PyTorch has, and its module for each
TORCH_CELLS = {"lstm": "LSTM", "rnn": "RNN"}
TORCH_TASKS = ("adding", "adding2016", "copy", "temporal-order")


def supported(cell: str, task: str) -> bool:
    """Whether the PyTorch column has this cell on this task."""
    return cell in TORCH_CELLS and task in TORCH_TASKS


def train_torch(config: dict[str, Any], folder: str | Path) -> dict[str, Any]:
    """Train ``config`` (TrainConfig's fields) with PyTorch in ``folder``; returns the summary
    (step, metric, solved, seconds, cpu_seconds)."""
    import torch

    from tinygrad_lstm.nn.torch_layout import torch_state_dict
    from tinygrad_lstm.train import TrainConfig, Trainer

    torch.set_num_threads(1)
    cfg = TrainConfig(**config)
    if not supported(str(cfg.cell), cfg.task):
        raise ValueError(f"the PyTorch column has no {cfg.cell!r} on {cfg.task!r}")
    # the tl run, built but not trained: its weights, batches and held-out set are the reference
    ref = Trainer(cfg, tempfile.mkdtemp(prefix="tl-torch-mirror-"))
    task = ref.task
    kind = TORCH_CELLS[str(cfg.cell)]
    rnn = getattr(torch.nn, kind)(task.input_size, cfg.hidden, num_layers=cfg.layers)
    rnn.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float32))
                         for k, v in torch_state_dict(ref.model.rnn, "torch").items()})
    head = torch.nn.Linear(cfg.hidden, task.output_size)
    head.load_state_dict({k: torch.from_numpy(p.numpy().astype(np.float32))
                          for k, p in ref.model.readout.named_parameters()})
    # PyTorch's cells carry two biases per gate where the essay's have one: b_hh stays at zero
    # (frozen), so both frameworks train the same parameters (Adam would move b_ih + b_hh
    # twice as far, and clipping would see a different norm)
    for name, p in rnn.named_parameters():
        if name.startswith("bias_hh"):
            p.requires_grad_(False)
    params = [p for p in (*rnn.parameters(), *head.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)

    def predict(batch: Any) -> torch.Tensor:
        out, _ = rnn(torch.from_numpy(np.asarray(batch.x, dtype=np.float32)))
        if task.per_step:
            return head(out)
        last = torch.from_numpy(np.asarray(batch.lengths, dtype=np.int64) - 1)
        return head(out[last, torch.arange(out.shape[1])])  # each sequence's last valid step

    def loss_of(pred: torch.Tensor, batch: Any) -> torch.Tensor:
        y = torch.from_numpy(np.asarray(batch.y))
        if task.kind == "regression":
            return torch.nn.functional.mse_loss(pred.reshape(y.shape), y.float())
        if task.per_step:
            mask = torch.from_numpy(np.asarray(batch.mask, dtype=bool))
            return torch.nn.functional.cross_entropy(pred[mask], y[mask].long())
        return torch.nn.functional.cross_entropy(pred, y.long())

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({**ref.config.to_dict(),
                                                    "framework": "torch"}, indent=2) + "\n")
    start, cpu = time.perf_counter(), time.process_time()
    step, metric, losses = 0, float("nan"), []
    with open(folder / "metrics.jsonl", "w") as log:
        while step < cfg.steps:
            batch = task.batch(cfg.batch_size, ref.data_rng)
            loss = loss_of(predict(batch), batch)
            opt.zero_grad()
            loss.backward()
            if cfg.clip is not None:
                torch.nn.utils.clip_grad_norm_(params, cfg.clip)
            opt.step()
            losses.append(float(loss.detach()))
            step += 1
            if step % cfg.eval_every == 0 or step == cfg.steps:
                with torch.no_grad():
                    pred = predict(ref.eval_batch)
                    eval_loss = float(loss_of(pred, ref.eval_batch))
                metric = float(task.metric(pred.numpy(), ref.eval_batch))
                log.write(json.dumps({"step": step, "train_loss": float(np.mean(losses)),
                                      "eval_loss": eval_loss, "metric": metric,
                                      "seconds": round(time.perf_counter() - start, 3)}) + "\n")
                log.flush()
                losses = []
                if cfg.early_stop and task.solved(metric):
                    break
    return {"step": step, "metric": metric,
            "solved": bool(math.isfinite(metric) and task.solved(metric)),
            "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}
