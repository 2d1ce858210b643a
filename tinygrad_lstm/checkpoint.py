"""Checkpoints: a safe, checked, atomically written ``.npz`` file. No pickle, ever.

Layout: an ordinary NumPy ``.npz`` (a zip of ``.npy`` arrays) that any NumPy reads with
``allow_pickle=False``. Arrays are stored under prefixes (``param/l0.W_f_h``,
``optim/...``); one more entry, ``__meta__``, is a uint8 array holding UTF-8 JSON: the format
version, a SHA-256 of every array (dtype, shape and bytes), and whatever the writer adds (the
model's description, the step, RNG state). Reading refuses object arrays, pickles, files that
are not zips, entries the checksum list does not name, and any checksum mismatch, each with a
``CheckpointError`` that names the file and the problem. Writing goes to a temporary file in
the same folder, is flushed and fsynced, then renamed over the target: a crash or a full disk
mid-write leaves the previous checkpoint intact.

>>> import numpy as np, tempfile, os, tinygrad_lstm as tl
>>> model = tl.nn.LSTM(3, 4)
>>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
>>> tl.save(model, path, step=7)
>>> tl.load(tl.nn.LSTM(3, 4), path)["step"]
7
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_lstm.files import write_atomic

FORMAT = "tinygrad-lstm-checkpoint"
VERSION = 1
META_KEY = "__meta__"
MAX_META_BYTES = 16 * 1024 * 1024
_ALLOWED_KINDS = "biuf"  # bool, int, uint, float: never object, never strings


class CheckpointError(ValueError):
    """A checkpoint could not be written or read; the message names the file and why."""


def _digest(array: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(f"{array.dtype.str}|{array.shape}|".encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def write(path: str | os.PathLike, arrays: Mapping[str, np.ndarray],
          meta: Mapping[str, Any] | None = None) -> None:
    """Write ``arrays`` and JSON-able ``meta`` to ``path`` atomically."""
    path = Path(path)
    clean: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name or name == META_KEY or "\x00" in name:
            raise CheckpointError(f"{path}: bad array name {name!r}")
        array = np.asarray(value)
        if array.dtype.kind not in _ALLOWED_KINDS:
            raise CheckpointError(f"{path}: array {name!r} has dtype {array.dtype}; only numbers "
                                  "can be saved")
        clean[name] = array
    body = {"format": FORMAT, "version": VERSION, **(meta or {}),
            "checksums": {name: _digest(a) for name, a in clean.items()}}
    try:
        blob = json.dumps(body, allow_nan=False, sort_keys=True).encode("utf-8")
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: metadata is not JSON: {err}") from None
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CheckpointError(f"{path}: folder {folder} does not exist")
    payload = {META_KEY: np.frombuffer(blob, dtype=np.uint8), **clean}
    write_atomic(path, lambda f: np.savez(f, **payload))


def read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read and verify a checkpoint: (arrays, meta). Executes nothing from the file."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read: {err}") from None
    return _parse(raw, str(path))


def _parse(raw: bytes, where: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as err:
        raise CheckpointError(f"{where}: not a checkpoint (not a valid .npz archive: "
                              f"{err})") from None
    if len(set(names)) != len(names):
        raise CheckpointError(f"{where}: the archive holds duplicate entries")
    if not all(n.endswith(".npy") for n in names):
        raise CheckpointError(f"{where}: the archive holds entries that are not .npy arrays")
    keys = [n[:-4] for n in names]
    if META_KEY not in keys:
        raise CheckpointError(f"{where}: no {META_KEY} entry: not a tinygrad-lstm checkpoint")
    meta_array = _entry(archive, META_KEY, where, max_bytes=MAX_META_BYTES)
    if meta_array.dtype != np.uint8 or meta_array.ndim != 1:
        raise CheckpointError(f"{where}: {META_KEY} must be a 1-D uint8 array")
    try:
        meta = json.loads(meta_array.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{where}: metadata is not valid JSON: {err}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{where}: not a tinygrad-lstm checkpoint (format field missing)")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{where}: format version {meta.get('version')!r}; this version "
                              f"of tinygrad-lstm reads version {VERSION}")
    checksums = meta.get("checksums")
    if not isinstance(checksums, dict):
        raise CheckpointError(f"{where}: metadata has no checksum table")
    data_keys = [k for k in keys if k != META_KEY]
    if set(data_keys) != set(checksums):
        extra = sorted(set(data_keys) - set(checksums))
        lost = sorted(set(checksums) - set(data_keys))
        raise CheckpointError(f"{where}: entries and checksum table disagree (unlisted: "
                              f"{extra}, missing: {lost}); the file is damaged")
    arrays = {}
    for key in data_keys:
        array = _entry(archive, key, where)
        if _digest(array) != checksums[key]:
            raise CheckpointError(f"{where}: checksum mismatch in {key!r}: the file is corrupt")
        arrays[key] = array
    return arrays, meta


def _entry(archive: zipfile.ZipFile, key: str, where: str,
           max_bytes: int | None = None) -> np.ndarray:
    info = archive.getinfo(key + ".npy")
    limit = max_bytes if max_bytes is not None else 8 * 1024 ** 3
    if info.file_size > limit:
        raise CheckpointError(f"{where}: entry {key!r} is {info.file_size} bytes, over the "
                              f"limit of {limit}")
    try:
        with archive.open(info) as f:
            data = f.read(info.file_size + 1)
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, RuntimeError, KeyError,
            SyntaxError, TypeError, OverflowError, MemoryError) as err:
        raise CheckpointError(f"{where}: entry {key!r} is not a readable array: "
                              f"{type(err).__name__}: {err}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in _ALLOWED_KINDS:
        raise CheckpointError(f"{where}: entry {key!r} is not a numeric array")
    return array


# --- modules -----------------------------------------------------------------------------------

def _json_options(cell: Any) -> dict[str, Any]:
    """The cell's constructor arguments, as far as JSON can hold them (for the record)."""
    import inspect

    args, kwargs = getattr(cell, "_init_args", ((), {}))
    try:
        bound = inspect.signature(type(cell).__init__).bind(cell, *args, **kwargs)
    except TypeError:
        return {}
    out = {}
    for name, value in bound.arguments.items():
        if name in ("self", "input_size", "hidden_size"):
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            value = repr(value)
        out[name] = value
    return out


def describe(module: Any) -> dict[str, Any]:
    """What a checkpoint records about the model: its class and its parameters' shapes."""
    info: dict[str, Any] = {"class": type(module).__name__}
    cells = getattr(module, "cells", None)
    if cells:
        cell = cells[0]
        info["cell"] = type(cell).__name__
        info["input_size"], info["hidden_size"] = cell.input_size, cell.hidden_size
        info["cell_options"] = _json_options(cell)
        info["num_layers"] = getattr(module, "num_layers", 1)
        info["directions"] = getattr(module, "directions", 1)
    info["parameters"] = {name: list(p.shape) for name, p in module.named_parameters()}
    return info


def _split_arrays(obj: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """A JSON-able copy of ``obj`` with every array moved into ``arrays`` and referenced."""
    if isinstance(obj, np.ndarray) or hasattr(obj, "__array__") and not np.isscalar(obj):
        arrays[prefix] = np.asarray(obj)
        return {"__array__": prefix}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        return {str(k): _split_arrays(v, f"{prefix}/{k}", arrays) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_split_arrays(v, f"{prefix}/{i}", arrays) for i, v in enumerate(obj)]
    return obj


def _join_arrays(obj: Any, arrays: Mapping[str, np.ndarray], where: str) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            key = obj["__array__"]
            if key not in arrays:
                raise CheckpointError(f"{where}: metadata refers to a missing array {key!r}")
            return arrays[key]
        return {k: _join_arrays(v, arrays, where) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_arrays(v, arrays, where) for v in obj]
    return obj


def _check_target(op: str, module: Any, path: Any) -> None:
    if not hasattr(module, "named_parameters"):
        raise TypeError(f"{op}: module must be a tl.nn.Module, got {type(module).__name__}")
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{op}: path must be a str or a path, got {type(path).__name__}")


def save(module: Any, path: str | os.PathLike, *, optimizer: Any = None, step: int | None = None,
         extra: Mapping[str, Any] | None = None) -> None:
    """Save ``module``'s parameters (and an optimiser's state) to ``path``, atomically."""
    _check_target("save", module, path)
    arrays = {f"param/{name}": np.asarray(p.numpy()) for name, p in module.named_parameters()}
    meta: dict[str, Any] = {"model": describe(module), "step": step, **(extra or {})}
    if optimizer is not None:
        meta["optimizer"] = _split_arrays(optimizer.state_dict(), "optim", arrays)
    write(path, arrays, meta)


def load(module: Any, path: str | os.PathLike, *, optimizer: Any = None) -> dict[str, Any]:
    """Load a checkpoint into ``module`` (and ``optimizer``); returns the metadata.

    Names, shapes and dtypes are checked against the module first, and the message says
    exactly what differs; nothing is changed unless everything fits.
    """
    _check_target("load", module, path)
    arrays, meta = read(path)
    params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    own = dict(module.named_parameters())
    missing, extra = sorted(set(own) - set(params)), sorted(set(params) - set(own))
    problems = []
    if missing:
        problems.append(f"missing parameters {missing}")
    if extra:
        problems.append(f"unexpected parameters {extra}")
    for name in sorted(set(own) & set(params)):
        if tuple(params[name].shape) != own[name].shape:
            problems.append(f"{name!r} has shape {tuple(params[name].shape)} in the file, "
                            f"{own[name].shape} in the model")
        elif params[name].dtype != own[name].dtype:
            problems.append(f"{name!r} has dtype {params[name].dtype} in the file, "
                            f"{own[name].dtype} in the model")
    if problems:
        saved = meta.get("model", {})
        what = ", ".join(f"{k}={saved[k]}" for k in ("cell", "input_size", "hidden_size",
                                                      "num_layers") if k in saved)
        raise CheckpointError(f"{path}: does not fit this {type(module).__name__}"
                              + (f" (it was saved from {what})" if what else "") + ": "
                              + "; ".join(problems))
    if optimizer is not None:
        if "optimizer" not in meta:
            raise CheckpointError(f"{path}: holds no optimiser state")
        optimizer.load_state_dict(_join_arrays(meta["optimizer"], arrays, str(path)))
    module.load_state_dict(params)
    return meta
