"""Execution on Ray: every trial is a Ray task running the project's trainer
(``tinygrad_lstm.train``); the driver alone talks to the database.

With no address, a local Ray instance with ``workers`` CPUs is started (and stopped at the end);
``address="auto"`` joins a running instance on this machine, ``"ray://host:port"`` a cluster
through Ray Client. Each trial asks for one CPU (or ``gpus_per_trial`` GPUs, on the CuPy
backend). A worker that dies mid-trial (killed, out of memory) costs that trial only: Ray runs
it again, up to ``MAX_RETRIES`` times.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any

from tinygrad_lstm.study.spec import StudyError

MAX_RETRIES = 2
_REPO = str(Path(__file__).resolve().parents[2])  # where tinygrad_lstm imports from


def run_trial(config: dict[str, Any], folder: str, sys_path: list[str]) -> dict[str, Any]:
    """Train one trial with the project's trainer; runs inside a Ray worker.

    ``config`` holds TrainConfig's fields; ``folder`` is the trial's run folder (a retried trial
    starts it afresh); ``sys_path`` lets a "module:Class" cell import from the spec's folder.
    Returns the best and final held-out metric, steps, seconds and the evaluation history.
    """
    for p in reversed(sys_path):
        if p not in sys.path:
            sys.path.insert(0, p)
    from tinygrad_lstm import tasks
    from tinygrad_lstm.train import TrainConfig, train

    run = Path(folder)
    if run.exists():  # an earlier attempt of this trial died part-way
        shutil.rmtree(run)
    result = train(TrainConfig(**config), run, progress=False)
    task = tasks.create(config["task"], **config["task_options"])
    metrics = [h["metric"] for h in result.history if h.get("metric") is not None]
    finite = [m for m in metrics if math.isfinite(m)]
    best = (max(finite) if task.higher_is_better else min(finite)) if finite else None
    return {"best": best, "final": result.metric, "steps": result.step,
            "seconds": result.seconds, "status": result.status, "history": result.history}


def _probe(host: str, port: int, what: str, timeout: float = 3.0) -> None:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        raise StudyError(f"Ray {what} {host}:{port} is unreachable ({err.strerror or err}); "
                         "nothing was run") from None


def connect(address: str | None, workers: int | None, verbose: bool) -> bool:
    """Start or join Ray; returns whether this call started it (and so should stop it).

    A Ray already initialised in this process (a test's, a notebook's) is used as it is.
    """
    import ray

    if ray.is_initialized():
        return False
    if not verbose:
        for name in ("ray", "ray.data", "ray.tune", "ray.util"):
            logging.getLogger(name).setLevel(logging.ERROR)
    kwargs: dict[str, Any] = {"log_to_driver": verbose, "include_dashboard": False,
                              "configure_logging": True,
                              "logging_level": logging.INFO if verbose else logging.ERROR}
    if address is None:
        n = workers or os.cpu_count() or 1
        # workers inherit the driver's environment: this checkout must import in them
        before = os.environ.get("PYTHONPATH")
        paths = [_REPO, os.getcwd(), *(before or "").split(os.pathsep)]
        os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
        kwargs.update(num_cpus=n, num_gpus=None, object_store_memory=100 * 2**20)
    else:
        if address.startswith("ray://"):
            host, _, port = address[len("ray://"):].rpartition(":")
            if not host or not port.isdigit():
                raise StudyError(f"--address {address!r}: expected ray://host:port or auto")
            _probe(host, int(port), "client address")
        elif address != "auto":
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit():
                raise StudyError(f"--address {address!r}: expected ray://host:port, host:port "
                                 "or auto")
            _probe(host, int(port), "address")
        kwargs["address"] = address
        for key in ("include_dashboard",):
            kwargs.pop(key)
    try:
        ray.init(**kwargs)
    except ConnectionError as err:
        first = str(err).strip().splitlines()[0]
        raise StudyError(f"Ray address {address!r}: {first}") from None
    finally:
        if address is None:  # Ray's processes have their copy; the caller gets theirs back
            if before is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = before
    return True


def remote_trial(gpus_per_trial: float) -> Any:
    """``run_trial`` as a Ray remote function pinned to one CPU (or the GPUs asked for)."""
    import ray

    options: dict[str, Any] = {"num_cpus": 1, "max_retries": MAX_RETRIES,
                               "retry_exceptions": False}
    if gpus_per_trial:
        options["num_gpus"] = gpus_per_trial
    return ray.remote(**options)(run_trial)


def capacity(gpus_per_trial: float) -> int:
    """How many trials the cluster can run at once."""
    import ray

    res = ray.cluster_resources()
    n = int(res.get("CPU", 1))
    if gpus_per_trial:
        n = min(n, int(res.get("GPU", 0) / gpus_per_trial))
        if n < 1:
            raise StudyError(f"--gpus-per-trial {gpus_per_trial}: the Ray cluster has "
                             f"{res.get('GPU', 0):g} GPU(s)")
    return max(n, 1)


class Progress:
    """One live line: trials done / running / failed of the total, best so far, ETA."""

    def __init__(self, name: str, total: int, enabled: bool) -> None:
        self.name, self.total, self.enabled = name, total, enabled
        self.tty = enabled and sys.stderr.isatty()
        self.start = time.monotonic()
        self.finished_here = 0
        self.last = ""

    def line(self, done: int, running: int, failed: int, best: str | None) -> str:
        elapsed = time.monotonic() - self.start
        left = self.total - done - failed
        if self.finished_here and left > 0:
            eta = f"ETA {_duration(elapsed / self.finished_here * left)}"
        else:
            eta = "ETA ?" if left > 0 else f"took {_duration(elapsed)}"
        shown = "-" if best is None else best
        return (f"study {self.name}: {done}/{self.total} done, {running} running, "
                f"{failed} failed, best {shown}, {eta}")

    def show(self, done: int, running: int, failed: int, best: str | None,
             final: bool = False) -> None:
        if not self.enabled:
            return
        text = self.line(done, running, failed, best)
        if self.tty:
            sys.stderr.write("\r\033[K" + text + ("\n" if final else ""))
            sys.stderr.flush()
            return
        # in a log file, a line when a count or the best changes (not each tick of the ETA)
        key = repr((done, running, failed, best, final))
        if key != self.last:
            print(text, file=sys.stderr, flush=True)
        self.last = key


    def note(self, text: str) -> None:
        """A line of its own, above the live line."""
        if self.enabled:
            sys.stderr.write(("\r\033[K" if self.tty else "") + text + "\n")
            sys.stderr.flush()
            self.last = ""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
