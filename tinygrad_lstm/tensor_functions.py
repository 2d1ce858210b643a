"""The functions of tensors outside ``Tensor``'s methods: ``matmul``, ``addmm``, ``concat``,
``stack``, ``where``, ``maximum``, ``zeros``, ``ones`` (all re-exported by ``tinygrad_lstm``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from backends.base import Backend
from tinygrad_lstm.context import get_backend
from tinygrad_lstm.errors import BackendMismatchError, ShapeError
from tinygrad_lstm.tensor import _P, DEFAULT_DTYPE, Tensor, _as_dtype, _operand, apply
from tinygrad_lstm.tensor_shape import _check_axis
from tinygrad_lstm.tensor_torch import axis_arg, device_backend


def _tensors(op: str, xs: Any) -> list[Tensor]:
    xs = list(xs)
    if not xs:
        raise ValueError(f"{op}: needs at least one tensor")
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: item {i} is a {type(x).__name__}, expected a Tensor")
    return xs


def _check_matmul(op: str, a: Tensor, b: Tensor) -> None:
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"{op}: needs tensors with at least one dim, got shapes "
                         f"{a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ShapeError(f"{op}: shapes {a.shape} and {b.shape} do not align "
                         f"({k_a} != {k_b})")


def _matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of ``a @ b`` by NumPy's rules (1-D operands promoted, then the dim dropped)."""
    a2 = a if len(a) > 1 else (1, *a)
    b2 = b if len(b) > 1 else (*b, 1)
    batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    return (*batch, *((a2[-2],) if len(a) > 1 else ()), *((b2[-1],) if len(b) > 1 else ()))


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product; leading dims are batch dims and broadcast, as in ``numpy.matmul``."""
    a, b = _tensors("matmul", (a, b))
    _check_matmul("matmul", a, b)
    return apply(_P["matmul"], a, b)


def addmm(c: Tensor, a: Tensor, b: Tensor, index: Any = ()) -> Tensor:
    """``c[index] + a @ b`` as one operation (a GEMM that adds into its result).

    With the default ``index=()`` ``c`` is all of c and broadcasts (a bias); with an index,
    ``c[index]`` must have exactly the product's shape (one step of a precomputed sequence).

    >>> import numpy as np, tinygrad_lstm as tl
    >>> pre = tl.Tensor(np.ones((5, 2, 3)))
    >>> tl.addmm(pre, tl.Tensor(np.ones((2, 4))), tl.Tensor(np.ones((4, 3))), index=1).numpy()
    array([[5., 5., 5.],
           [5., 5., 5.]], dtype=float32)
    """
    c, a, b = _tensors("addmm", (c, a, b))
    _check_matmul("addmm", a, b)
    if index != ():
        part, product = c[index].shape, _matmul_shape(a.shape, b.shape)
        if part != product:
            raise ShapeError(f"addmm: c[{index!r}] has shape {part}, the product of {a.shape} "
                             f"and {b.shape} has shape {product}")
    return apply(_P["addmm"], c, a, b, index=index)


def concat(tensors: Sequence[Tensor], axis: int | None = None, *,
           dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (the essay's [h_{t-1}, x_t] is ``concat([h, x])``);
    the last axis unless ``axis`` (or ``dim``) says otherwise (``tl.cat``: the first)."""
    axis = axis_arg("concat", axis, dim, -1)
    xs = _tensors("concat", tensors)
    ndim = xs[0].ndim
    if ndim == 0:
        raise ShapeError("concat: cannot join 0-d tensors")
    axis = _check_axis("concat", axis, ndim)
    for x in xs[1:]:
        same = x.ndim == ndim and all(
            m == n for i, (m, n) in enumerate(zip(x.shape, xs[0].shape, strict=True)) if i != axis)
        if not same:
            raise ShapeError(f"concat: shapes {', '.join(str(t.shape) for t in xs)} differ "
                             f"outside axis {axis}")
    return apply(_P["concat"], *xs, axis=axis)


def stack(tensors: Sequence[Tensor], axis: int | None = None, *,
          dim: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new axis (the outputs of a sequence's steps); the
    first unless ``axis`` (or ``dim``) says otherwise."""
    axis = axis_arg("stack", axis, dim, 0)
    xs = _tensors("stack", tensors)
    axis = _check_axis("stack", axis, xs[0].ndim + 1)
    for x in xs[1:]:
        if x.shape != xs[0].shape:
            raise ShapeError(f"stack: shapes {', '.join(str(t.shape) for t in xs)} differ")
    return apply(_P["stack"], *xs, axis=axis)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` is true, else ``b``. ``cond`` is a constant (no gradient)."""
    like = a if isinstance(a, Tensor) else b
    if not isinstance(like, Tensor):
        raise TypeError("where: a or b must be a Tensor")
    if isinstance(cond, Tensor):
        mask = cond.data != 0
        if cond.backend is not like.backend:
            raise BackendMismatchError(f"where: cond lives on '{cond.backend.name}', the values "
                                       f"on '{like.backend.name}'")
    else:
        mask = like.backend.asarray(np.asarray(cond) != 0 if not like.backend.is_array(cond)
                                    else cond != 0)
    return apply(_P["where"], _operand(a, like, "where"), _operand(b, like, "where"), cond=mask)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; where the two are equal the gradient is shared."""
    like = a if isinstance(a, Tensor) else b
    if not isinstance(like, Tensor):
        raise TypeError("maximum: a or b must be a Tensor")
    return apply(_P["maximum"], _operand(a, like, "maximum"), _operand(b, like, "maximum"))


def _filled(op: str, shape: Any, value: float, dtype: Any, backend: Any,
            requires_grad: bool) -> Tensor:
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not all(n.__class__ is int and n >= 0 for n in shape) and \
            not all(isinstance(n, numbers.Integral) and n >= 0 for n in shape):
        raise ValueError(f"{op}: shape must be non-negative ints, got {shape!r}")
    dt = DEFAULT_DTYPE if dtype is None else _as_dtype(dtype, op)
    if backend is None:
        target = get_backend()
    elif isinstance(backend, Backend):
        target = backend
    else:
        import backends

        target = backends.get(device_backend(backend))
    # made on the backend directly: a recurrent layer asks for its zero state on every call
    xp = target.xp
    out = Tensor._wrap(xp.zeros(shape, dt) if value == 0 else xp.full(shape, value, dtype=dt),
                       target)
    out.requires_grad = bool(requires_grad)
    return out


def zeros(shape: Any, dtype: Any = None, backend: Any = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype`` says otherwise)."""
    return _filled("zeros", shape, 0.0, dtype, backend, requires_grad)


def ones(shape: Any, dtype: Any = None, backend: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones (float32 unless ``dtype`` says otherwise)."""
    return _filled("ones", shape, 1.0, dtype, backend, requires_grad)
