"""In-place writes to the arrays the tape saved: PyTorch's version counters, for this engine.

Every engine function that writes into a tensor's array in place (optimiser steps,
``zero_grad(set_to_none=False)``, ``clip_grad_norm_``; any in-place ``Tensor`` method) calls
``bump_version(tensor, writer)``. That counts the tensor's writes (``tensor._version``) and
advances one process-wide write ``epoch``. Each tape node records the epoch it was made in
(``Node.epoch``, set for every node, so any primitive made through ``tensor.apply`` gets the
check); ``tape.backward`` compares it with the epoch of the last write to each tensor input of
the node and to its output, and only when some write happened since the node was made: one
integer comparison per node in a training loop, which writes only after backward.

What is not seen, as in PyTorch: writes through ``.data`` (the raw array) or through
``.detach().numpy()``. ``.numpy()`` of a tensor that requires grad is a read-only view.
Stricter than PyTorch: every tensor input counts as saved, also for primitives whose VJP
reads none (add), so a write between forward and backward is refused there too.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinygrad_lstm.tape import Node
    from tinygrad_lstm.tensor import Tensor


class _Writes:
    """In-place writes to tensors: ``epoch`` counts them all (process-wide: a write in one
    thread changes what a graph of another saved); ``last[t]`` is ``(version, writer)`` for a
    tensor written at least once (weakly keyed: a tensor's entry dies with it). The epoch of a
    tensor's last write is on the tensor itself (``_written``, unset until the first write), so
    that backward's check reads a slot, not a dictionary."""

    epoch = 0
    last: weakref.WeakKeyDictionary[Any, tuple[int, str]] = weakref.WeakKeyDictionary()


def _owner(tensor: Any) -> Any:
    """The tensor whose counter ``tensor`` shares (itself, unless made by ``detach()``)."""
    base = getattr(tensor, "_shares", None)
    return tensor if base is None else base


def share_version(tensor: Tensor, base: Tensor) -> None:
    """Make ``tensor`` (which shares ``base``'s array) count its writes with ``base``'s, as
    PyTorch's detach() does: a write through either is seen by graphs that saved the other."""
    tensor._shares = _owner(base)


def bump_version(tensor: Tensor, writer: str) -> None:
    """Record that ``writer`` (e.g. ``"SGD.step"``) changed ``tensor``'s array in place.

    Every engine function that writes into a tensor's array calls this, so that a backward
    through a node that saved the old values raises instead of computing a wrong gradient."""
    _Writes.epoch += 1
    owner = _owner(tensor)
    owner._written = _Writes.epoch
    _Writes.last[owner] = (_Writes.last.get(owner, (0,))[0] + 1, writer)


def version(tensor: Tensor) -> int:
    """How many times ``tensor`` was written in place (PyTorch's ``tensor._version``)."""
    return _Writes.last.get(_owner(tensor), (0,))[0]


def _check_saved(node: Node, out: Any) -> None:
    """Raise if an input or the output of ``node`` was written in place after it was made."""
    from tinygrad_lstm.tensor import Tensor

    saved = [(f"input {i}", t) for i, t in enumerate(node.parents) if isinstance(t, Tensor)]
    saved.append(("the output", out))
    for what, t in saved:
        owner = _owner(t)
        if getattr(owner, "_written", 0) > node.epoch:
            count, writer = _Writes.last.get(owner, (0, "?"))
            raise RuntimeError(
                f"backward: {what} of '{node.prim.name}' (a tensor of shape {t.shape}, "
                f"{t.dtype}) was modified by an inplace operation ({writer}) after "
                f"'{node.prim.name}' saved it; it is at version {count}. Call backward() "
                "before changing it, or compute the graph again after")
