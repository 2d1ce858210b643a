"""Files written whole or not at all: the one atomic-write helper (runs, checkpoints).

A run's ``config.json`` and its ``checkpoint.npz`` must survive a crash or Ctrl-C mid-write:
a reader finds the old file or the new one, never half of one. The bytes go to a temporary
file in the same folder, are flushed to disk (fsync), and the file is renamed over the target
(``os.replace``, atomic on POSIX and Windows); the folder is fsynced so the rename survives a
power cut too.

>>> import json, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "config.json")
>>> write_atomic(path, lambda f: f.write(b'{"lr": 0.001}'))
>>> json.load(open(path))
{'lr': 0.001}
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(f)`` on a binary file that becomes ``path`` only once it is complete.

    Raises FileNotFoundError when the folder does not exist, and whatever ``write`` raises
    (the temporary file is removed, ``path`` is left as it was).
    """
    path = Path(path)
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable (not possible on every platform: then skip it)
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
