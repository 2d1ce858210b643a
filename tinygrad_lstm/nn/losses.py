"""Loss functions: mean squared error, cross-entropy from logits, binary cross-entropy.

Each loss is written from the engine's primitives, so it runs on NumPy or CuPy and is
differentiated by the tape. Every loss takes an optional ``mask`` for padded sequences: inputs
shaped ``(T, B, ...)`` with a mask shaped ``(T, B)`` (bool or 0/1; NumPy, CuPy or a Tensor). The
mask's shape must be a prefix of the per-element loss's shape; masked-out entries contribute
nothing, and ``reduction="mean"`` averages over the entries that are kept.

>>> import numpy as np, tinygrad_lstm as tl
>>> from tinygrad_lstm.nn.losses import cross_entropy
>>> logits = tl.Tensor(np.zeros((3, 2, 4)), requires_grad=True)   # (T, B, C)
>>> target = np.array([[1, 2], [3, 0], [0, 0]])                   # (T, B) class indices
>>> mask = np.array([[1, 1], [1, 0], [0, 0]], dtype=bool)          # 3 real steps of 6
>>> loss = cross_entropy(logits, target, mask=mask)
>>> round(loss.item(), 6) == round(float(np.log(4)), 6)
True
>>> loss.backward()
>>> float(logits.grad.numpy()[2].sum())   # padded steps get no gradient
0.0
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Literal

import numpy as np

import backends
from backends.base import Backend
from tinygrad_lstm.errors import DTypeError, ShapeError
from tinygrad_lstm.tensor import Tensor, where
from tinygrad_lstm.tensor_torch import axis_arg

__all__ = ["binary_cross_entropy_with_logits", "cross_entropy", "mse_loss"]

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS = ("mean", "sum", "none")


# --- helpers ---------------------------------------------------------------------------------

def _check_reduction(loss: str, reduction: Any) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{loss}: reduction must be one of {', '.join(map(repr, REDUCTIONS))}, "
                         f"got {reduction!r}")


def _require_tensor(loss: str, name: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{loss}: {name} must be a Tensor, got {type(x).__name__}")
    return x


def _on_backend(x: Any, backend: Backend) -> Any:
    """``x`` (NumPy, CuPy, list, scalar or Tensor) as an array of ``backend``, dtype kept."""
    if isinstance(x, Tensor):
        x = x.data if x.backend is backend else x.numpy()
    if backend.is_array(x):
        return x
    return backend.asarray(backends.to_host(x))  # another backend's array: via the host


def _target_tensor(loss: str, target: Any, like: Tensor) -> Tensor:
    """A float target for ``like``: arrays become constants of its dtype; Tensors must match."""
    if isinstance(target, Tensor):
        if target.backend is not like.backend:
            raise ValueError(f"{loss}: target lives on '{target.backend.name}', the input on "
                             f"'{like.backend.name}'; move one with .to()")
        if target.dtype != like.dtype:
            raise DTypeError(f"{loss}: target has dtype {target.dtype}, the input {like.dtype}; "
                             f"convert one with .to()")
        out = target
    else:
        try:
            out = Tensor(target, dtype=like.dtype, backend=like.backend)
        except (TypeError, ValueError) as err:
            raise DTypeError(f"{loss}: target must be numeric: {err}") from None
    if out.shape != like.shape:
        raise ShapeError(f"{loss}: input has shape {like.shape} but target has shape "
                         f"{out.shape}; they must be equal (no broadcasting)")
    return out


def _mask_array(loss: str, mask: Any, shape: tuple[int, ...], backend: Backend) -> tuple[Any, int]:
    """The mask as a boolean backend array broadcast to ``shape``, and how many entries it keeps."""
    m = _on_backend(mask, backend)
    kind = np.dtype(m.dtype).kind
    if kind not in "biuf":
        raise DTypeError(f"{loss}: mask must be bool or 0/1 numbers, got dtype {m.dtype}")
    if tuple(m.shape) != shape[:m.ndim] or m.ndim > len(shape):
        raise ShapeError(f"{loss}: mask has shape {tuple(m.shape)}, which is not a leading part "
                         f"of the per-element loss shape {shape} (e.g. (T, B) for inputs "
                         f"(T, B, ...))")
    if kind != "b":
        if bool(((m != 0) & (m != 1)).any()):
            raise ValueError(f"{loss}: mask of dtype {m.dtype} must hold only 0 and 1 "
                             "(or be bool)")
        m = m != 0
    kept = int(m.sum()) * math.prod(shape[m.ndim:])
    full = backend.xp.broadcast_to(m.reshape(m.shape + (1,) * (len(shape) - m.ndim)), shape)
    return full, kept


def _reduce(loss: str, elem: Tensor, mask: Any, reduction: str) -> Tensor:
    """Apply ``mask`` (a boolean array shaped like ``elem``, or None) and ``reduction``."""
    if mask is None:
        if reduction == "none":
            return elem
        if reduction == "sum":
            return elem.sum()
        return elem.mean()  # nan for an empty batch, as in PyTorch; its gradient is empty
    full, kept = mask
    kept_only = where(full, elem, 0)  # `where`, not `* mask`: NaN/inf in padding stay out
    if reduction == "none":
        return kept_only
    total = kept_only.sum()
    if reduction == "sum":
        return total
    if kept == 0 and elem.numel() == 0:  # an empty batch: nan, as without a mask
        return total * math.nan
    if kept == 0:
        raise ValueError(f"{loss}: the mask keeps no entries (per-element loss shape "
                         f"{elem.shape}); the mean over an empty mask is undefined. Skip the "
                         "batch, or use reduction='sum'")
    return total / kept


def _kept(x: Tensor, mask: Any) -> Tensor:
    """``x`` with its masked-out entries replaced by 0 before anything reads them: selected,
    not multiplied, so a NaN or inf in padding reaches neither the loss nor any gradient."""
    return x if mask is None else where(mask[0], x, 0)


def _prepare_mask(loss: str, mask: Any, shape: tuple[int, ...], backend: Backend) -> Any:
    return None if mask is None else _mask_array(loss, mask, shape, backend)


# --- the losses ------------------------------------------------------------------------------

def mse_loss(pred: Tensor, target: Any, mask: Any = None, reduction: Reduction = "mean") -> Tensor:
    """Mean squared error ``(pred - target) ** 2``, reduced over the kept entries.

    ``target`` is a Tensor (it may require grad) or an array of ``pred``'s shape. With a mask
    shaped like the leading dims of ``pred`` (``(T, B)`` for ``(T, B, D)``), the mean divides by
    the number of kept scalar entries (kept steps times ``D``), as
    ``F.mse_loss(pred[mask], target[mask])`` does in PyTorch.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> from tinygrad_lstm.nn.losses import mse_loss
    >>> mse_loss(tl.Tensor([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 0.0])).item()
    6.666666507720947
    """
    loss = "mse_loss"
    _check_reduction(loss, reduction)
    pred = _require_tensor(loss, "pred", pred)
    target = _target_tensor(loss, target, pred)
    m = _prepare_mask(loss, mask, pred.shape, pred.backend)
    pred, target = _kept(pred, m), _kept(target, m)
    diff = pred - target
    return _reduce(loss, diff * diff, m, reduction)


def _class_indices(loss: str, target: Any, logits: Tensor, axis: int) -> Any:
    """``target`` as an integer backend array shaped like ``logits`` without ``axis``."""
    if isinstance(target, Tensor):
        raise DTypeError(f"{loss}: target must be integer class indices (a NumPy/CuPy int "
                         f"array), got a Tensor of dtype {target.dtype}")
    t = _on_backend(target, logits.backend)
    if np.dtype(t.dtype).kind not in "iu":
        raise DTypeError(f"{loss}: target must hold integer class indices, got dtype {t.dtype}")
    expected = logits.shape[:axis] + logits.shape[axis + 1:]
    if tuple(t.shape) != expected:
        raise ShapeError(f"{loss}: logits of shape {logits.shape} with classes on axis {axis} "
                         f"need target of shape {expected} (one class index per position), got "
                         f"{tuple(t.shape)}")
    return t


def cross_entropy(logits: Tensor, target: Any, mask: Any = None, axis: int | None = None,
                  reduction: Reduction = "mean", *, dim: int | None = None) -> Tensor:
    """Cross-entropy ``-log softmax(logits)[target]`` from unnormalised logits.

    ``logits`` has the classes on ``axis`` (or ``dim``; the last by default: ``(T, B, C)``; the
    loss modules follow PyTorch: classes on axis 1); ``target`` holds
    integer class indices shaped like ``logits`` without that axis (``(T, B)``). Stable for
    any finite logits (``log_softmax`` shifts by the maximum), and for ``-inf`` logits of
    classes that are not the target. Target entries under a masked-out position are ignored,
    whatever their value (padding may hold -1 or -100); every other entry must be in
    ``[0, C)``.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> from tinygrad_lstm.nn.losses import cross_entropy
    >>> logits = tl.Tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> round(cross_entropy(logits, np.array([0, 0])).item(), 5)
    1.12693
    """
    loss = "cross_entropy"
    axis = axis_arg(loss, axis, dim, -1)  # dim: PyTorch's name
    _check_reduction(loss, reduction)
    logits = _require_tensor(loss, "logits", logits)
    if logits.ndim == 0:
        raise ShapeError(f"{loss}: logits must have a class axis, got a 0-d tensor")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) \
            or not -logits.ndim <= axis < logits.ndim:
        raise ShapeError(f"{loss}: axis {axis!r} is out of range for logits of shape "
                         f"{logits.shape}")
    axis = int(axis) % logits.ndim
    n_classes = logits.shape[axis]
    if n_classes == 0:
        raise ShapeError(f"{loss}: logits of shape {logits.shape} have no classes on axis {axis}")
    t = _class_indices(loss, target, logits, axis)
    elem_shape = tuple(t.shape)
    m = _prepare_mask(loss, mask, elem_shape, logits.backend)
    xp = logits.backend.xp
    valid = (t >= 0) & (t < n_classes)
    checked = valid if m is None else valid | ~m[0]
    if t.size and not bool(checked.all()):
        bad = np.argwhere(~logits.backend.to_numpy(checked))[0]
        value = int(logits.backend.to_numpy(t)[tuple(bad)])
        raise ValueError(f"{loss}: target {value} at position {tuple(int(i) for i in bad)} is "
                         f"out of range for {n_classes} classes (logits {logits.shape}, "
                         f"axis {axis}); valid indices are 0..{n_classes - 1}")
    safe = xp.where(valid, t, 0)  # masked-out padding may hold anything
    if m is not None:
        logits = where(xp.expand_dims(m[0], axis), logits, 0)  # never read the padding
    classes = xp.arange(n_classes).reshape((n_classes,) + (1,) * (logits.ndim - 1 - axis))
    # The gather as a one-hot selection: the engine has no advanced indexing. `where` picks the
    # entry (instead of multiplying by a one-hot of logits' dtype) so that a -inf log-prob of
    # another class gives 0, not -inf * 0 = nan.
    hit = xp.expand_dims(safe, axis) == classes
    picked = where(hit, logits.log_softmax(axis), 0).sum(axis=axis)
    return _reduce(loss, -picked, m, reduction)


def binary_cross_entropy_with_logits(logits: Tensor, target: Any, mask: Any = None,
                                     reduction: Reduction = "mean") -> Tensor:
    """Binary cross-entropy of ``sigmoid(logits)`` against ``target`` in ``[0, 1]``.

    Computed stably as ``(1 - y) x + max(-x, 0) + log(1 + exp(-|x|))``: ``exp`` only ever sees
    non-positive numbers, and no term is ``inf - inf`` at ``x = ±inf`` (PyTorch's values there).
    ``|x|`` selects ``x`` at ``x = 0`` so the gradient there is the true ``sigmoid(0) - y``
    (``maximum(x, -x)`` would give the subgradient 0, and the gradient would come out wrong).

    >>> import numpy as np, tinygrad_lstm as tl
    >>> from tinygrad_lstm.nn.losses import binary_cross_entropy_with_logits as bce
    >>> round(bce(tl.Tensor([0.0, 0.0]), np.array([0.0, 1.0])).item(), 6)
    0.693147
    """
    loss = "binary_cross_entropy_with_logits"
    _check_reduction(loss, reduction)
    logits = _require_tensor(loss, "logits", logits)
    target = _target_tensor(loss, target, logits)
    m = _prepare_mask(loss, mask, logits.shape, logits.backend)
    logits, target = _kept(logits, m), _kept(target, m)  # padding may hold anything
    if target.numel() and not bool(((target.data >= 0) & (target.data <= 1)).all()):
        raise ValueError(f"{loss}: target (shape {target.shape}, dtype {target.dtype}) must "
                         "hold probabilities in [0, 1]" + (" where the mask keeps entries"
                                                          if m is not None else ""))
    abs_x = where(logits.data >= 0, logits, -logits)
    elem = (1 - target) * logits + (-logits).relu() + (1 + (-abs_x).exp()).log()
    return _reduce(loss, elem, m, reduction)
