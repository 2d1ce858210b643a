"""Search and bookkeeping on Optuna: one Optuna study per spec, in an SQLite file beside the
results (or any SQLAlchemy URL, e.g. PostgreSQL, for a shared database).

Every trial has a *slot*, ``"<cell>#<k>"`` for k < trials_per_cell (``"<task>/<cell>#<k>"``
when the spec has several tasks or lengths, ``<task>`` being the task's label): the slots are the
study's plan. A slot is done when a trial in it finished (COMPLETE, or FAIL with a reason the trial
itself gave, such as a diverged loss). Opening a study again re-queues the rest: a trial left
RUNNING by a driver that died is marked FAIL ("interrupted") and its slot enqueued again with the
same parameters, so no finished trial is lost or run twice.
"""

from __future__ import annotations

import json
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tinygrad_lstm.study.spec import Choice, StudyError, StudySpec

INTERRUPTED = "interrupted"  # the fail reason of a trial whose driver died


def storage_url(storage: str | None, out: Path) -> str:
    """The database URL: ``storage`` as given, or an SQLite file ``study.db`` in ``out``."""
    return storage or f"sqlite:///{(out / 'study.db').resolve()}"


def check_reachable(url: str, timeout: float = 3.0) -> None:
    """Raise StudyError within ``timeout`` seconds when a networked database does not answer
    (rather than hanging in the driver's connection retries)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StudyError(f"--storage {url!r} is not a database URL (e.g. "
                         "postgresql://user@host/db or sqlite:///study.db)") from None
    if parsed.get_backend_name() == "sqlite" or not parsed.host:
        return
    ports = {"postgresql": 5432, "mysql": 3306}
    port = parsed.port or ports.get(parsed.get_backend_name())
    if port is None:
        return
    try:
        socket.create_connection((parsed.host, port), timeout=timeout).close()
    except OSError as err:
        raise StudyError(f"database {parsed.host}:{port} is unreachable "
                         f"({err.strerror or err}); nothing was run") from None


def open_study(spec: StudySpec, url: str) -> optuna.Study:
    """Create the Optuna study, or load it when it exists (it must come from the same spec)."""
    check_reachable(url)
    sampler: optuna.samplers.BaseSampler
    if spec.sampler == "tpe":
        sampler = optuna.samplers.TPESampler(seed=spec.seed)
    else:
        sampler = optuna.samplers.RandomSampler(seed=spec.seed)
    direction = "maximize" if _higher_is_better(spec) else "minimize"
    engine: dict[str, Any] = {}
    if url.startswith("postgresql"):
        engine = {"connect_args": {"connect_timeout": 5}}
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs=engine)
        study = optuna.create_study(study_name=spec.name, storage=storage, sampler=sampler,
                                    direction=direction, load_if_exists=True)
    except ImportError as err:
        raise StudyError(f"database {url!r}: its driver is not installed ({err})") from None
    except Exception as err:  # SQLAlchemy's connection errors have no common base we can name
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise StudyError(f"database {url!r}: {first}") from None
    stored = study.user_attrs.get("spec")
    mine = json.loads(json.dumps(spec.to_dict()))
    if stored is None:
        study.set_user_attr("spec", mine)
    elif stored != mine:
        changed = sorted(k for k in mine if stored.get(k) != mine[k])
        raise StudyError(f"the study {spec.name!r} in {url} was started from a different spec "
                         f"(differs in: {', '.join(changed)}); use another --out or --storage")
    return study


def _higher_is_better(spec: StudySpec) -> bool:
    # tasks of both kinds share a study only under random search, where direction is unused
    return spec.tasks[0].create().higher_is_better


def slot_done(trial: FrozenTrial) -> bool:
    """Whether a trial finished its slot (a trial that failed by itself is finished too)."""
    if trial.state == TrialState.COMPLETE:
        return True
    return trial.state == TrialState.FAIL and trial.user_attrs.get("fail_reason") not in (
        None, INTERRUPTED)


def plan(study: optuna.Study, spec: StudySpec) -> int:
    """Re-queue interrupted trials and enqueue every slot not yet done or waiting; returns how
    many trials are queued now."""
    trials = study.get_trials(deepcopy=False)
    requeue: dict[str, dict[str, Any]] = {}
    for t in trials:
        if t.state == TrialState.RUNNING:
            # its driver died with it in flight: the result, if any, never reached the database
            study.set_user_attr(f"interrupted_{t.number}", t.user_attrs.get("slot"))
            study.tell(t.number, state=TrialState.FAIL)
            requeue[t.user_attrs["slot"]] = t.params
        elif t.state == TrialState.FAIL and t.user_attrs.get("fail_reason") in (None,
                                                                                 INTERRUPTED):
            requeue.setdefault(t.user_attrs.get("slot", ""), t.params)
    trials = study.get_trials(deepcopy=False)
    taken = {t.user_attrs.get("slot") for t in trials
             if slot_done(t) or t.state == TrialState.WAITING}
    queued = sum(t.state == TrialState.WAITING for t in trials)
    # round-robin over the tasks and cells, so a study stopped early has every one in it
    for k in range(spec.trials_per_cell):
        for task in spec.tasks:
            for cell in spec.cells:
                slot = f"{task.label}/{cell}#{k}" if spec.multi_task else f"{cell}#{k}"
                if slot in taken:
                    continue
                fixed: dict[str, Any] = {"cell": cell}
                attrs = {"slot": slot, "cell": cell, "seed": spec.seed + k}
                if spec.multi_task:
                    fixed["task"] = attrs["task"] = task.label
                study.enqueue_trial(requeue.get(slot) or fixed, user_attrs=attrs,
                                    skip_if_exists=False)
                queued += 1
    return queued


def task_of(trial: FrozenTrial | optuna.Trial, spec: StudySpec) -> str:
    """The label of the task (at its length) a trial trains on."""
    return trial.user_attrs.get("task", spec.tasks[0].label)


def suggest(trial: optuna.Trial, spec: StudySpec) -> dict[str, Any]:
    """The trial's TrainConfig fields: ``cell`` (fixed by its slot), the task's name and
    options, and one draw of the space. A ``one_minus`` range is drawn (and recorded by
    Optuna) as ``"1-<name>"``, and its field set to 1 minus the draw."""
    params: dict[str, Any] = {"cell": trial.suggest_categorical("cell", spec.cells)}
    if spec.multi_task:
        task = spec.task(trial.suggest_categorical("task", [t.label for t in spec.tasks]))
    else:
        task = spec.tasks[0]
    params.update(task=task.name, task_options=task.options)
    for key, dist in spec.search.items():
        if isinstance(dist, Choice):
            params[key] = trial.suggest_categorical(key, list(dist.choices))
        elif dist.integer:
            params[key] = trial.suggest_int(key, int(dist.low), int(dist.high), log=dist.log)
        else:
            name = f"1-{key}" if dist.one_minus else key
            params[key] = dist.value(trial.suggest_float(name, dist.low, dist.high, log=dist.log))
    return params


def counts(study: optuna.Study) -> Counter[str]:
    """Trials by state: done (completed), failed (finished by failing), running, waiting."""
    c: Counter[str] = Counter()
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.COMPLETE:
            c["done"] += 1
        elif slot_done(t):
            c["failed"] += 1
        elif t.state == TrialState.RUNNING:
            c["running"] += 1
        elif t.state == TrialState.WAITING:
            c["waiting"] += 1
    return c
