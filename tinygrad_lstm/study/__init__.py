"""Variant studies: many training runs of many cells, searched by Optuna, run on Ray, analysed
as Greff et al. (2015, "LSTM: A Search Space Odyssey") did.

``run(spec)`` reads a TOML spec (``tinygrad-lstm study --example`` prints one), opens (or
resumes) its Optuna study in ``out/study.db``, runs every trial as a Ray task training with
``tinygrad_lstm.train``, and writes the analysis into ``out``: ``report.md``, ``boxplot.png``,
``importance.png``, ``trials.csv``. Needs the ``study`` extra (optuna, ray, scikit-learn,
matplotlib). See docs/studies.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tinygrad_lstm.study.spec import EXAMPLE, StudyError, StudySpec, load_spec, parse_spec

__all__ = ["EXAMPLE", "StudyError", "StudySpec", "load_spec", "parse_spec", "run"]


def run(spec: str | os.PathLike | StudySpec, out: str | os.PathLike | None = None, *,
        storage: str | None = None, workers: int | None = None, address: str | None = None,
        gpus_per_trial: float = 0.0, backend: str | None = None, progress: bool = True,
        verbose: bool = False, analyse: bool = True) -> Any:
    """Run (or resume) the study of ``spec`` and write its report; returns the Analysis.

    spec: a TOML file's path or a parsed StudySpec. out: the results folder (default
    ``<spec name>-study`` in the current folder); storage: a database URL (default SQLite in
    ``out``); workers: CPUs of a local Ray instance (default all); address: ``"auto"`` or
    ``"ray://host:port"`` of an existing cluster; gpus_per_trial: GPUs per trial (trials then
    train on the CuPy backend unless ``backend`` says otherwise).

    Raises StudyError (one line) for a bad spec, an unreachable database or Ray address.
    """
    from tinygrad_lstm.study import execution, search

    if not isinstance(spec, StudySpec):
        spec = load_spec(spec)
    if gpus_per_trial < 0 or (workers is not None and workers < 1):
        raise StudyError("workers must be >= 1 and gpus_per_trial >= 0")
    out = Path(out if out is not None else f"{spec.name}-study").resolve()
    if out.exists() and not out.is_dir():
        raise StudyError(f"--out {out} is a file, not a folder")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
    try:
        study = search.open_study(spec, search.storage_url(storage, out))
    except StudyError:
        if created and not any(out.iterdir()):  # an unreachable database leaves nothing behind
            out.rmdir()
        raise
    if search.plan(study, spec):  # a finished study only needs its report again
        started = execution.connect(address, workers, verbose)
        try:
            _drive(study, spec, out, gpus_per_trial,
                   backend or ("cupy" if gpus_per_trial else None), progress)
        finally:
            if started:
                import ray

                ray.shutdown()
    if not analyse:
        return None
    from tinygrad_lstm.study import analysis, report

    result = analysis.analyse(study, spec)
    report.write(result, spec, out)
    return result


def _drive(study: Any, spec: StudySpec, out: Path, gpus_per_trial: float,
           backend: str | None, progress: bool) -> None:
    """The driver loop: ask Optuna for waiting trials while the cluster has room, submit each
    as a Ray task, tell Optuna each result as it arrives. Only this loop touches the database."""
    import math

    import ray
    from optuna.trial import TrialState

    from tinygrad_lstm.study import execution, search

    remote = execution.remote_trial(gpus_per_trial)
    slots = execution.capacity(gpus_per_trial)
    sys_path = [str(spec.folder), os.getcwd()]
    higher = {t.label: t.create().higher_is_better for t in spec.tasks}
    bar = execution.Progress(spec.name, spec.total_trials, progress)
    pending: dict[Any, Any] = {}
    failures_shown = False

    def best() -> str | None:
        """The best value so far (of each task, when there are several)."""
        values: dict[str, list[float]] = {}
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            values.setdefault(search.task_of(t, spec), []).append(t.value)
        shown = [(label, (max if higher[label] else min)(values[label]))
                 for label in higher if label in values]
        if not shown:
            return None
        if not spec.multi_task:
            return f"{shown[0][1]:.4g}"
        return ", ".join(f"{label} {v:.4g}" for label, v in shown)

    def show(final: bool = False) -> None:
        c = search.counts(study)
        bar.show(c["done"], len(pending), c["failed"], best(), final)

    show()
    while True:
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        while waiting and len(pending) < slots:
            waiting.pop()
            trial = study.ask()
            params = search.suggest(trial, spec)
            config = {**spec.train, **params, "seed": trial.user_attrs["seed"]}
            if backend:
                config["backend"] = backend
            folder = out / "trials" / f"{trial.number:05d}"
            pending[remote.remote(config, str(folder), sys_path)] = trial
        if not pending:
            break
        show()
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
        for ref in ready:
            trial = pending.pop(ref)
            try:
                res = ray.get(ref)
            except ray.exceptions.RayTaskError as err:  # the trial itself raised
                cause = err.cause if err.cause is not None else err
                reason = f"error: {type(cause).__name__}: {cause}".splitlines()[0]
            except ray.exceptions.RayError as err:  # its worker died, retries exhausted
                reason = f"worker died: {type(err).__name__}"
            else:
                for key in ("final", "steps", "seconds", "status"):
                    trial.set_user_attr(key, res[key])
                trial.set_user_attr("history", [
                    {k: h[k] for k in ("step", "metric", "eval_loss", "train_loss")}
                    for h in res["history"]])
                if res["best"] is not None and math.isfinite(res["best"]):
                    study.tell(trial, res["best"])
                    bar.finished_here += 1
                    continue
                reason = "diverged: no finite held-out metric"
            trial.set_user_attr("fail_reason", reason)
            study.tell(trial, state=TrialState.FAIL)
            bar.finished_here += 1
            if progress and not failures_shown:  # the first says what is wrong; more repeat it
                bar.note(f"trial {trial.number} ({trial.user_attrs['slot']}) failed: {reason}")
                failures_shown = True
    show(final=True)

