"""Array backends: a registry of named ``Backend`` objects, each wrapping an ``xp`` namespace.

This package never imports ``tinygrad_lstm``: data flows from the engine down to the arrays only.

Built in are ``numpy`` (CPU) and ``cupy`` (GPU, imported only when asked for). Third parties
register a backend through the entry-point group ``tinygrad_lstm.backends``; the entry point
names a zero-argument callable (or a ``Backend`` subclass) that returns a ``Backend``::

    [project.entry-points."tinygrad_lstm.backends"]
    mybackend = "my_package.backend:MyBackend"

>>> import backends
>>> "numpy" in backends.available()
True
>>> backends.get("numpy").name
'numpy'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points

import numpy as np

from backends.base import Backend, BackendUnavailable

__all__ = ["Backend", "BackendUnavailable", "available", "get", "names", "owner", "register",
           "to_host", "why_not"]

ENTRY_POINT_GROUP = "tinygrad_lstm.backends"

# name -> "module:attribute" of a factory; resolved (imported) only when the backend is asked for.
_BUILTIN: dict[str, str] = {
    "numpy": "backends.numpy_backend:NumpyBackend",
    "cupy": "backends.cupy_backend:CupyBackend",
}
_factories: dict[str, Callable[[], Backend] | str] = dict(_BUILTIN)
_instances: dict[str, Backend] = {}
_failures: dict[str, BackendUnavailable] = {}
_entry_points_loaded = False


def register(name: str, factory: Callable[[], Backend] | str) -> None:
    """Register a backend under ``name``; ``factory`` is a callable or a ``"module:attr"`` path."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"register: backend name must be an identifier, got {name!r}")
    _factories[name] = factory
    _instances.pop(name, None)
    _failures.pop(name, None)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _factories:
            _factories[ep.name] = ep.value


def names() -> list[str]:
    """Every registered backend name, whether or not it can run on this machine."""
    _load_entry_points()
    return sorted(_factories)


def _resolve(factory: Callable[[], Backend] | str) -> Callable[[], Backend]:
    if callable(factory):
        return factory
    module_name, _, attr = factory.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj  # type: ignore[return-value]


def get(name: str) -> Backend:
    """Return the backend called ``name``, creating it on first use.

    Raises ``KeyError``-free errors: ``ValueError`` for an unknown name (listing the known ones),
    ``BackendUnavailable`` with the reason when the backend is known but cannot run here.
    """
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a str, got {type(name).__name__}")
    backend = _instances.get(name)
    if backend is not None:
        return backend
    if name in _failures:
        raise _failures[name]
    _load_entry_points()
    if name not in _factories:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(names())}")
    try:
        backend = _resolve(_factories[name])()
    except BackendUnavailable as err:
        _failures[name] = err
        raise
    if not isinstance(backend, Backend):
        raise TypeError(f"backend {name!r}: factory returned {type(backend).__name__}, "
                        "expected a backends.Backend")
    _instances[name] = backend
    return backend


def why_not(name: str) -> str | None:
    """The reason ``name`` cannot run here, or None when it can."""
    try:
        get(name)
    except BackendUnavailable as err:
        return str(err)
    return None


def available() -> list[str]:
    """Names of the backends that can run on this machine (each one is tried once)."""
    return [name for name in names() if why_not(name) is None]


def owner(obj: object) -> Backend | None:
    """The backend whose array ``obj`` is (its ``is_array`` says so), or None for anything
    else: host data (NumPy arrays, lists, numbers) and foreign objects. Backends already in use
    are asked first; the others are created to be asked (once: a failure is remembered), so
    that an array made outside this package, a CuPy array say, finds its backend.

    >>> import numpy as np, backends
    >>> backends.owner(np.ones(2)) is None
    True
    """
    if obj is None or isinstance(obj, np.ndarray | np.generic | int | float | complex | str | list
                                  | tuple):
        return None
    for backend in list(_instances.values()):
        if backend.name != "numpy" and backend.is_array(obj):
            return backend
    for name in names():
        if name in _instances or name in _failures:
            continue
        try:
            backend = get(name)
        except Exception:  # noqa: BLE001 - a backend that cannot run owns nothing here
            continue
        if backend.name != "numpy" and backend.is_array(obj):
            return backend
    return None


def to_host(obj: object) -> np.ndarray:
    """``obj`` as a NumPy array: a backend's array through its ``to_numpy`` (a device copy),
    anything else (host arrays, lists, numbers) through ``np.asarray``."""
    backend = owner(obj)
    return np.asarray(obj) if backend is None else backend.to_numpy(obj)
