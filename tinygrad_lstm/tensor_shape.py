"""The shape and reduction methods of ``Tensor`` (a mixin) and the checks of their axes.

Each method validates its arguments, naming the op, the shapes and what was expected, and then
calls one primitive (``reshape``, ``transpose``, ``getitem``, ``split``, ``sum``, ``mean``,
``max``, ``log_softmax``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import tinygrad_lstm.tensor as _t  # Tensor and apply (this mixin is part of Tensor)
from tinygrad_lstm.errors import ShapeError
from tinygrad_lstm.primitives import PRIMITIVES as _P
from tinygrad_lstm.tensor_torch import axis_arg, keepdims_arg

if TYPE_CHECKING:
    from tinygrad_lstm.tensor import Tensor


def _check_axis(op: str, axis: Any, ndim: int) -> Any:
    """Validate ``axis`` (None, an int or a tuple of ints) against ``ndim``; normalise it."""
    if axis is None:
        return None
    axes = axis if isinstance(axis, tuple | list) else (axis,)
    out = []
    for a in axes:
        if not isinstance(a, numbers.Integral) or isinstance(a, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < max(ndim, 1):
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor with {ndim} dims")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis!r}")
    return tuple(out) if isinstance(axis, tuple | list) else out[0]


def _reduce_axis(op: str, axis: Any, ndim: int) -> Any:
    """``_check_axis`` for a reduction: a 0-d tensor has the one axis 0 (or -1), as in
    PyTorch, which is all of it (None)."""
    if ndim == 0 and axis is not None:
        axes = axis if isinstance(axis, tuple | list) else (axis,)
        if any(isinstance(a, bool) or a not in (0, -1) for a in axes) or len(axes) > 1:
            raise ShapeError(f"{op}: axis {axis!r} is out of range for a 0-d tensor "
                             "(0 or -1 only)")
        return None
    return _check_axis(op, axis, ndim)


_BASIC_INDEX = (numbers.Integral, slice, type(None), type(Ellipsis))


class MaxResult(NamedTuple):
    """``x.max(dim)``: the maxima along ``dim`` and where they are, as PyTorch returns them."""

    values: Tensor
    indices: Any


def _max_along(x: Tensor, dim: Any, keepdim: bool) -> MaxResult:
    axis = _check_axis("max", dim, max(x.ndim, 1))
    if x.ndim and x.shape[axis] == 0:
        raise ShapeError(f"max: the tensor of shape {x.shape} is empty along dim {axis}")
    xp = x.backend.xp
    index = xp.expand_dims(xp.argmax(x.data, axis=axis), axis) if x.ndim else \
        xp.zeros((), dtype=xp.int64)
    values = x.gather(axis, index) if x.ndim else x
    if not keepdim and x.ndim:
        values, index = values.squeeze(axis), xp.squeeze(index, axis)
    return MaxResult(values, index)


class ShapeMethods:
    """Shape and reduction methods of ``Tensor``."""

    __slots__ = ()

    # --- shape -------------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        if not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in shape):
            raise TypeError(f"reshape: the shape must be ints, got {shape!r}")
        shape = tuple(int(n) for n in shape)
        known = math.prod(n for n in shape if n != -1)
        unknown = shape.count(-1)
        size = self.numel()
        fits = unknown == 0 and known == size or unknown == 1 and known and size % known == 0
        if unknown > 1 or any(n < -1 for n in shape) or not fits:
            raise ShapeError(f"reshape: cannot reshape {self.shape} ({size} entries) into {shape}")
        return _t.apply(_P["reshape"], self, shape=shape)

    def transpose(self, *axes: Any) -> Tensor:
        """``x.transpose()`` reverses the axes; ``x.transpose(d0, d1)`` swaps two, as PyTorch's
        ``transpose(dim0, dim1)`` (on a 2-D tensor too); three or more (or a tuple) permute the
        axes, as NumPy's."""
        if len(axes) == 1 and isinstance(axes[0], tuple | list):
            axes = tuple(axes[0])
        elif len(axes) == 2:  # PyTorch's transpose(dim0, dim1): swap them
            d0, d1 = (_check_axis("transpose", a, self.ndim) for a in axes)
            order = list(range(self.ndim))
            order[d0], order[d1] = order[d1], order[d0]
            axes = tuple(order)
        if not axes:
            return _t.apply(_P["transpose"], self, axes=None)
        if sorted(_check_axis("transpose", a, self.ndim) for a in axes) != list(range(self.ndim)):
            raise ShapeError(f"transpose: axes {axes} are not a permutation of the "
                             f"{self.ndim} dims of {self.shape}")
        return _t.apply(_P["transpose"], self, axes=tuple(a % self.ndim for a in axes))

    @property
    def T(self) -> Tensor:  # noqa: N802 - NumPy's name
        return self.transpose()

    def __getitem__(self, index: Any) -> Tensor:
        parts = index if isinstance(index, tuple) else (index,)
        for part in parts:
            if isinstance(part, bool) or not isinstance(part, _BASIC_INDEX):
                raise TypeError(f"getitem: only basic indexing (ints, slices, None, ...) is "
                                f"supported, got {type(part).__name__} in a tensor of shape "
                                f"{self.shape}; for integer arrays use x.index_select(dim, "
                                "indices) or x.gather(dim, indices)")
        try:
            return _t.apply(_P["getitem"], self, index=index)
        except ShapeError as err:
            raise IndexError(f"getitem: index {index!r} does not fit shape {self.shape}: "
                             f"{str(err).rsplit(': ', 1)[-1]}") from None

    def split(self, sizes: int | Sequence[int], axis: int | None = None, *,
              dim: int | None = None) -> list[Tensor]:
        """Cut along ``axis`` into pieces of the given sizes; an int is one size for all pieces
        (the last may be smaller), as in PyTorch. One ``split`` primitive makes all the pieces
        (views of this tensor); backward joins their gradients in one concatenation. The
        default axis is the first, as in PyTorch (``torch.Tensor.split``); ``dim`` is PyTorch's
        name for it. Raises ``ShapeError`` for sizes that do not add up to the axis' size."""
        if self.ndim == 0:
            raise ShapeError("split: cannot split a 0-d tensor")
        axis = _check_axis("split", axis_arg("split", axis, dim, 0), self.ndim)
        n = self.shape[axis]
        if isinstance(sizes, numbers.Integral):
            if sizes <= 0:
                raise ShapeError(f"split: piece size must be positive, got {sizes}")
            # an empty axis gives one empty piece, as in PyTorch
            sizes = [min(int(sizes), n - start) for start in range(0, n, int(sizes))] or [0]
        sizes = list(sizes)
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ShapeError(f"split: sizes {sizes} do not add up to {n}, the size of axis "
                             f"{axis} of {self.shape}")
        return list(_t.apply(_P["split"], self, sizes=tuple(int(n) for n in sizes), axis=axis))

    def chunk(self, chunks: int, axis: int | None = None, *,
              dim: int | None = None) -> list[Tensor]:
        """Cut along ``axis`` (``dim``; the first by default) into ``chunks`` pieces of
        ceil(n / chunks) entries, the last smaller (fewer pieces where they run out), as
        ``torch.Tensor.chunk`` does: stacked gates (B, 4H) into 4 is ``z.chunk(4, dim=1)``.
        Raises ``ShapeError`` for ``chunks`` not a positive int."""
        if self.ndim == 0:
            raise ShapeError("chunk: cannot split a 0-d tensor")
        axis = _check_axis("chunk", axis_arg("chunk", axis, dim, 0), self.ndim)
        if not isinstance(chunks, numbers.Integral) or isinstance(chunks, bool) or chunks <= 0:
            raise ShapeError(f"chunk: chunks must be a positive int, got {chunks!r}")
        n = self.shape[axis]
        if n == 0:  # PyTorch gives `chunks` empty pieces
            return self.split([0] * int(chunks), axis=axis)
        return self.split(-(-n // int(chunks)), axis=axis)

    # --- reductions --------------------------------------------------------------------------
    def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: bool | None = None) -> Tensor:
        axis, keepdims = axis_arg("sum", axis, dim), keepdims_arg("sum", keepdims, keepdim)
        return _t.apply(_P["sum"], self, axis=_reduce_axis("sum", axis, self.ndim),
                     keepdims=bool(keepdims))

    def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: bool | None = None) -> Tensor:
        """The mean over ``axis``; over no entries it is nan, as in PyTorch."""
        axis, keepdims = axis_arg("mean", axis, dim), keepdims_arg("mean", keepdims, keepdim)
        axis = _reduce_axis("mean", axis, self.ndim)
        return _t.apply(_P["mean"], self, axis=axis, keepdims=bool(keepdims))

    def max(self, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,
            keepdims: bool = False) -> Any:
        """The maximum: over everything (``x.max()``), or over ``axis=`` (NumPy's form: the
        values, gradient shared among tied maxima), or along ``dim`` (PyTorch's form, also
        positional: ``values, indices = x.max(1)``, the indices a backend int64 array, the
        gradient to the entry each index names). ``ShapeError`` for an axis of size 0."""
        if dim is not None:
            if axis is not None or keepdims:
                raise TypeError("max: give dim (PyTorch's form: values and indices) or axis "
                                "(NumPy's: values), not both")
            if isinstance(dim, tuple | list):
                raise TypeError(f"max: dim must be one int (PyTorch's max(dim)), got {dim!r}; "
                                "use axis= to reduce several axes")
            return _max_along(self, dim, bool(keepdim))
        keepdims = keepdims_arg("max", keepdims, keepdim)
        axis = _reduce_axis("max", axis, self.ndim)
        axes = range(self.ndim) if axis is None else axis if isinstance(axis, tuple) else (axis,)
        if any(self.shape[a] == 0 for a in axes):
            raise ShapeError(f"max: the tensor of shape {self.shape} is empty along the axis "
                             f"{axis!r} it would reduce")
        return _t.apply(_P["max"], self, axis=axis, keepdims=bool(keepdims))

    def log_softmax(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        axis = axis_arg("log_softmax", axis, dim, -1)  # the last axis unless given
        return _t.apply(_P["log_softmax"], self, axis=_reduce_axis("log_softmax", axis, self.ndim))

    def softmax(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        return self.log_softmax(axis_arg("softmax", axis, dim, -1)).exp()
