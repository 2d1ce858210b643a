"""PyTorch's loss modules and ``nll_loss``: classes on axis 1, ``ignore_index``, ``reduction``.

These follow PyTorch's conventions, which differ from ``tl.nn.cross_entropy`` (classes on the
last axis, a ``mask``): the input is (N, C) or (N, C, d1, ...) with the classes on axis 1 (or
(C,) unbatched), the target (N,) or (N, d1, ...) of class indices; entries equal to
``ignore_index`` (default -100) add nothing and are not counted by the mean. ``weight`` (C,)
weighs each class, the mean dividing by the summed weights of the kept targets, as in PyTorch.

>>> import numpy as np, tinygrad_lstm as tl
>>> loss = tl.nn.CrossEntropyLoss(ignore_index=0)
>>> logits = tl.Tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]], requires_grad=True)
>>> round(loss(logits, np.array([1, 0])).item(), 5)   # the second entry is ignored
2.23954
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from tinygrad_lstm.errors import DTypeError, ShapeError
from tinygrad_lstm.module import Module
from tinygrad_lstm.nn.losses import (
    _check_reduction,
    _on_backend,
    _require_tensor,
    binary_cross_entropy_with_logits,
    mse_loss,
)
from tinygrad_lstm.tensor import Tensor, where

__all__ = ["BCEWithLogitsLoss", "CrossEntropyLoss", "MSELoss", "NLLLoss", "nll_loss"]


def _indices(loss: str, target: Any, inputs: Tensor, axis: int) -> Any:
    """The target as an integer backend array (a float Tensor of whole numbers is accepted)."""
    if isinstance(target, Tensor):
        data = target.data if target.backend is inputs.backend else target.numpy()
        t = _on_backend(data, inputs.backend)
        if not bool((t == t.round()).all()):
            raise DTypeError(f"{loss}: target must hold class indices, got a Tensor of "
                             f"non-integer {target.dtype} values")
        t = t.astype(np.int64)
    else:
        t = _on_backend(target, inputs.backend)
        if np.dtype(t.dtype).kind not in "iu":
            raise DTypeError(f"{loss}: target must hold integer class indices, got dtype "
                             f"{t.dtype}")
    expected = inputs.shape[:axis] + inputs.shape[axis + 1:]
    if tuple(t.shape) != expected:
        raise ShapeError(f"{loss}: input of shape {inputs.shape} (classes on axis {axis}) needs "
                         f"a target of shape {expected}, got {tuple(t.shape)}")
    return t


def nll_loss(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """PyTorch's ``F.nll_loss``: ``-input[n, target[n]]`` (times ``weight[target[n]]``).

    ``input`` holds log-probabilities, (N, C), (N, C, d1, ...) or (C,); ``target`` class
    indices of its shape without axis 1. Raises ShapeError, DTypeError, or ValueError for a
    target outside [0, C) that is not ``ignore_index``, or a mean over no kept entry.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> logp = tl.Tensor(np.log([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]]))
    >>> round(tl.nn.nll_loss(logp, np.array([0, 1]), reduction="sum").item(), 5)
    0.91629
    """
    loss = "nll_loss"
    _check_reduction(loss, reduction)
    input = _require_tensor(loss, "input", input)
    if input.ndim == 0:
        raise ShapeError(f"{loss}: input must have a class axis, got a 0-d tensor")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"{loss}: ignore_index must be an int, got {ignore_index!r}")
    axis = 1 if input.ndim >= 2 else 0
    classes = input.shape[axis]
    xp = input.backend.xp
    t = _indices(loss, target, input, axis)
    keep = t != ignore_index
    valid = (t >= 0) & (t < classes)
    if t.size and not bool((valid | ~keep).all()):
        bad = np.argwhere(~input.backend.to_numpy(valid | ~keep))[0]
        value = int(input.backend.to_numpy(t)[tuple(bad)])
        raise ValueError(f"{loss}: target {value} at {tuple(int(i) for i in bad)} is out of "
                         f"range for {classes} classes (input {input.shape}); valid: "
                         f"0..{classes - 1}, or ignore_index={ignore_index}")
    safe = xp.where(keep, t, 0)
    shape = (classes,) + (1,) * (input.ndim - 1 - axis)
    hit = xp.expand_dims(safe, axis) == xp.arange(classes).reshape(shape)
    elem = -where(hit, input, 0).sum(axis=axis)  # a gather written as a selection
    scale = xp.asarray(keep, dtype=input.dtype)
    if weight is not None:
        w = _on_backend(weight.numpy() if isinstance(weight, Tensor) else weight, input.backend)
        if tuple(w.shape) != (classes,):
            raise ShapeError(f"{loss}: weight must have one entry per class ({classes},), got "
                             f"{tuple(w.shape)}")
        scale = scale * w.astype(input.dtype)[safe]
    elem = elem * Tensor._wrap(scale, input.backend)
    if reduction == "none":
        return elem
    total = elem.sum()
    if reduction == "sum":
        return total
    denominator = float(scale.sum())
    if denominator == 0:
        raise ValueError(f"{loss}: every target is ignore_index={ignore_index} (or weighs 0): "
                         "the mean over no entry is undefined; use reduction='sum'")
    return total / denominator


def _no_legacy(owner: str, legacy: dict[str, Any]) -> None:
    for name, value in legacy.items():
        if value is not None:
            raise TypeError(f"{owner}: {name}= is PyTorch's deprecated form; use "
                            "reduction='mean' | 'sum' | 'none'")


class _Loss(Module):
    def __init__(self, reduction: str = "mean", size_average: Any = None,
                 reduce: Any = None) -> None:
        super().__init__()
        owner = type(self).__name__
        _no_legacy(owner, {"size_average": size_average, "reduce": reduce})
        _check_reduction(owner, reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class NLLLoss(_Loss):
    """PyTorch's ``nn.NLLLoss``: ``loss(log_probs, target)``; see ``nll_loss``."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 **legacy: Any) -> None:
        super().__init__(reduction, **legacy)
        self.weight = weight
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class CrossEntropyLoss(_Loss):
    """PyTorch's ``nn.CrossEntropyLoss``: ``nll_loss(log_softmax(input, axis=1), target)``.

    Class-index targets only; ``label_smoothing`` and probability targets are refused."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0, **legacy: Any) -> None:
        super().__init__(reduction, **legacy)
        if label_smoothing != 0.0:
            raise ValueError("CrossEntropyLoss: label_smoothing is not supported here; mix the "
                             "one-hot target yourself and use -(p * log_softmax).sum()")
        self.weight = weight
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        input = _require_tensor("CrossEntropyLoss", "input", input)
        if input.ndim == 0:
            raise ShapeError("CrossEntropyLoss: input must have a class axis, got a 0-d tensor")
        if isinstance(target, Tensor) and target.shape == input.shape:
            raise ValueError("CrossEntropyLoss: probability targets are not supported; pass "
                             "class indices")
        logp = input.log_softmax(1 if input.ndim >= 2 else 0)
        return nll_loss(logp, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """PyTorch's ``nn.MSELoss``: mean (or sum) of ``(input - target) ** 2``."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return mse_loss(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """PyTorch's ``nn.BCEWithLogitsLoss``: binary cross-entropy of ``sigmoid(input)``, stable
    for any logits; ``weight`` multiplies each element's loss (broadcast to the input)."""

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None,
                 **legacy: Any) -> None:
        super().__init__(reduction, **legacy)
        if pos_weight is not None:
            raise ValueError("BCEWithLogitsLoss: pos_weight is not supported here; weigh the "
                             "positive entries with weight= instead")
        self.weight = weight

    def forward(self, input: Tensor, target: Any) -> Tensor:
        if self.weight is None:
            return binary_cross_entropy_with_logits(input, target, reduction=self.reduction)
        elem = binary_cross_entropy_with_logits(input, target, reduction="none")
        w = self.weight
        elem = elem * (w if isinstance(w, Tensor) else Tensor(w, dtype=elem.dtype,
                                                                backend=elem.backend))
        if self.reduction == "none":
            return elem
        return elem.sum() if self.reduction == "sum" else elem.mean()
