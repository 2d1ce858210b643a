"""Tensor: a backend array plus a link into the tape. Every operator maps to one primitive.

>>> import numpy as np, tinygrad_lstm as tl
>>> W = tl.Tensor(np.ones((2, 3)), requires_grad=True)
>>> x = tl.Tensor([[1.0, 2.0]])
>>> ((x @ W).tanh() * 2).sum().backward()
>>> W.grad.shape, W.dtype
((2, 3), dtype('float32'))
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from backends.base import Backend
from tinygrad_lstm import tape
from tinygrad_lstm.context import get_backend
from tinygrad_lstm.errors import BackendMismatchError, DTypeError, ShapeError
from tinygrad_lstm.primitives import PRIMITIVES, Primitive
from tinygrad_lstm.tensor_torch import TorchNames, axis_arg, device_backend, keepdims_arg
from tinygrad_lstm.versions import share_version, version

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
DTYPES = (float32, float64)
DEFAULT_DTYPE = float32

_P = PRIMITIVES  # short name for the hot path below
_new = object.__new__
_ADD, _SUB, _MUL, _DIV = _P["add"], _P["sub"], _P["mul"], _P["div"]
_NEG, _EXP, _LOG, _SIGMOID, _TANH, _RELU = (
    _P[name] for name in ("neg", "exp", "log", "sigmoid", "tanh", "relu"))


def _as_dtype(dtype: Any, op: str = "Tensor") -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"{op}: {dtype!r} is not a dtype; use float32 or float64") from None
    if dt not in DTYPES:
        raise DTypeError(f"{op}: dtype {dt} is not supported; use float32 or float64")
    return dt


def _backend_of(data: Any) -> Backend | None:
    """The backend an array natively belongs to, when it is not host data (NumPy, lists)."""
    import backends

    return backends.owner(data)


def _host_array(data: Any) -> np.ndarray:
    try:
        return np.asarray(data)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"Tensor: cannot make an array from {type(data).__name__}: "
                        f"{err}") from None


def _shapes(inputs: Sequence[Any]) -> str:
    return " and ".join(str(tuple(x.shape)) if isinstance(x, Tensor) else repr(x) for x in inputs)


def apply(prim: Primitive, *inputs: Any, **params: Any) -> Tensor:
    """Run ``prim`` forward on its inputs' backend and, if any input needs a gradient, record it.

    Inputs are Tensors or Python numbers (constants: never differentiated, never upcasting).
    This runs once per operation, so it is written for speed: one pass over the inputs.
    Raises ``TypeError`` when the number of inputs is not the primitive's ``arity``.
    """
    if prim.arity is not None and len(inputs) != prim.arity:
        raise TypeError(f"{prim.name}: takes {prim.arity} input{'s' * (prim.arity != 1)}, "
                        f"got {len(inputs)}")
    backend = None
    needs_grad = False
    args = []
    for x in inputs:
        if isinstance(x, Tensor):
            if x.backend is not backend:
                if backend is not None:
                    raise BackendMismatchError(
                        f"{prim.name}: inputs live on different backends, '{backend.name}' and "
                        f"'{x.backend.name}'; move one with .to('{backend.name}')")
                backend = x.backend
            if x.requires_grad:
                needs_grad = True
            args.append(x.data)
        else:
            args.append(x)
    if backend is None:
        raise TypeError(f"{prim.name}: needs at least one Tensor input")
    forward = backend.kernels.get(prim.name, prim.forward)
    try:  # the common arities without * and ** (a star call costs several times more)
        if params:
            out = forward(backend.xp, *args, **params)
        elif len(args) == 2:
            out = forward(backend.xp, args[0], args[1])
        elif len(args) == 1:
            out = forward(backend.xp, args[0])
        else:
            out = forward(backend.xp, *args)
    except (ValueError, IndexError) as err:
        raise ShapeError(f"{prim.name}: cannot combine shapes {_shapes(inputs)}: {err}") from None
    if prim.multiple:
        return _outputs(prim, inputs, params, args, out, backend, needs_grad)
    return _record(prim, inputs, params, args, out, backend, needs_grad)


def _unary(prim: Primitive, x: Tensor) -> Tensor:
    """``apply(prim, x)`` for an elementwise primitive of one tensor and no params, without the
    generic argument handling (activations run several times per step)."""
    backend = x.backend
    data = x.data
    out = backend.kernels.get(prim.name, prim.forward)(backend.xp, data)
    return _record(prim, (x,), {}, [data], out, backend, x.requires_grad)


def _record(prim: Primitive, inputs: tuple[Any, ...], params: dict[str, Any], args: list[Any],
            out: Any, backend: Backend, needs_grad: bool) -> Tensor:
    """The tensor around ``prim``'s output ``out``, on the tape when an input needs a
    gradient (the second half of ``apply``)."""
    if isinstance(out, np.generic):  # NumPy's 0-d results are immutable scalars: an array
        out = np.asarray(out)
    result = _new(Tensor)
    result.data = out
    result.backend = backend
    result.grad = None
    return tape.record(result, prim, inputs, params, args, needs_grad)


def _outputs(prim: Primitive, inputs: tuple[Any, ...], params: dict[str, Any], args: list[Any],
             outs: tuple[Any, ...], backend: Backend, needs_grad: bool) -> tuple[Tensor, ...]:
    """The tensors of a primitive with several outputs (split), each with its own node."""
    tensors = [Tensor._wrap(np.asarray(out) if isinstance(out, np.generic) else out, backend)
               for out in outs]
    tape.record_outputs(tensors, prim, inputs, params, args, needs_grad)
    return tuple(tensors)


def _operand(x: Any, like: Tensor, op: str) -> Any:
    """A second operand for ``like``: Tensors pass, numbers stay Python numbers (weak dtype)."""
    if isinstance(x, Tensor) or x.__class__ is float:
        return x
    if x.__class__ is int:
        return x
    if isinstance(x, bool | numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        return float(x)  # a NumPy float64 scalar would upcast a float32 tensor; a float won't
    if isinstance(x, np.ndarray) or _backend_of(x) is not None or isinstance(x, list | tuple):
        return Tensor(x, dtype=like.dtype, backend=like.backend)
    raise TypeError(f"{op}: unsupported operand of type {type(x).__name__} "
                    "(expected a Tensor, a number or an array)")


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


class Tensor(TorchNames):
    """An n-dimensional float array on a backend, recorded on the tape when it needs a gradient.

    ``Tensor(data, requires_grad=False, dtype=None, backend=None, device=None)``: ``data`` is
    anything NumPy (or CuPy) can turn into an array, a torch tensor included (``__array__``).
    The dtype is float32 unless ``dtype=float64`` is asked for; the backend is the current one
    (``tl.get_backend()``) unless named, by ``backend`` or by PyTorch's ``device`` ("cpu",
    "cuda"). PyTorch's method names (``view``, ``size``, ``unsqueeze``, ...) come from
    ``TorchNames`` (tensor_torch.py).
    """

    # _written, _shares: in-place write tracking (versions.py); unset until first used
    __slots__ = ("data", "backend", "requires_grad", "grad", "_node", "_written", "_shares",
                 "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 backend: str | Backend | None = None, device: Any = None) -> None:
        if device is not None:
            if backend is not None:
                raise TypeError("Tensor: got both backend= and device=; give one")
            backend = device_backend(device)
        if isinstance(data, Tensor):
            source = data.backend
            data = data.data
        else:
            source = _backend_of(data)
            if source is None and hasattr(data, "__array__") and not isinstance(data, np.ndarray):
                data = _host_array(data)  # a torch tensor, an xarray, ...: NumPy's view of it
        if backend is None:
            target = source or get_backend()
        else:
            import backends

            target = backend if isinstance(backend, Backend) else backends.get(backend)
        dt = DEFAULT_DTYPE if dtype is None else _as_dtype(dtype)
        kind = getattr(data, "dtype", None)
        if kind is None:
            try:
                kind = np.asarray(data).dtype
            except (ValueError, TypeError) as err:
                raise TypeError(f"Tensor: cannot make an array from {type(data).__name__}: "
                                f"{err}") from None
        if np.dtype(kind).kind not in "biuf":
            raise DTypeError(f"Tensor: data of dtype {kind} is not numeric (real); "
                             "expected floats, ints or bools")
        if source is not None and source is not target:
            data = source.to_numpy(data)
        self.data = target.xp.array(data, dtype=dt)  # a copy, as torch.tensor makes
        self.backend = target
        self.requires_grad = bool(requires_grad)
        self.grad: Tensor | None = None
        self._node: tape.Node | None = None

    @classmethod
    def _wrap(cls, data: Any, backend: Backend) -> Tensor:
        """A tensor around an existing backend array, with no checks (the engine's own path)."""
        t = object.__new__(cls)
        t.data = data
        t.backend = backend
        t.requires_grad = False
        t.grad = None
        t._node = None
        return t

    # --- what it is --------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (not computed by a recorded operation)."""
        return self._node is None

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.numpy(), separator=", ", prefix="Tensor(")
        return f"Tensor({body}, dtype={self.dtype}, backend={self.backend.name}{grad})"

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (shares memory on the numpy backend).

        For a tensor that requires grad the array is a read-only view: the tape may have
        saved these values for backward, and a write through the view would go unseen.
        Write through ``.data`` (untracked, as in PyTorch) or use ``.detach().numpy()``.
        """
        array = self.backend.to_numpy(self.data)
        if self.requires_grad and (array is self.data or array.base is self.data):
            array = array.view()
            array.flags.writeable = False
        return array

    @property
    def _version(self) -> int:
        """How many times this tensor was written in place (PyTorch's name)."""
        return version(self)

    def item(self) -> float:
        if self.data.size != 1:
            raise ShapeError(f"item: needs a tensor with one element, got shape {self.shape}")
        return float(self.numpy().reshape(()))

    # --- the tape ----------------------------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``gradient`` (shaped like ``self``) is required unless ``self`` has one element.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad (no input had "
                               "requires_grad=True, or it was computed under no_grad())")
        if gradient is None:
            if self.data.size != 1:
                raise ShapeError(f"backward: called on a tensor of shape {self.shape} without "
                                 "a gradient; reduce it to a scalar (e.g. .sum()) or pass "
                                 "gradient= of the same shape")
            g = self.backend.xp.ones_like(self.data)
        else:
            g = Tensor(gradient, dtype=self.dtype, backend=self.backend).data
            if g.shape != self.data.shape:
                raise ShapeError(f"backward: gradient has shape {tuple(g.shape)}, the tensor "
                                 f"has shape {self.shape}")
        tape.backward(self, g, retain_graph=retain_graph)

    def detach(self) -> Tensor:
        """The same values (shared memory), cut from the graph: no gradient flows through.
        It shares this tensor's version counter (an in-place write to either is seen)."""
        out = Tensor._wrap(self.data, self.backend)
        share_version(out, self)
        return out

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if not self.is_leaf and not flag:
            raise RuntimeError("requires_grad_: a computed tensor cannot stop requiring grad; "
                               "use .detach()")
        self.requires_grad = bool(flag)
        return self

    def to(self, target: str | Backend | Any) -> Tensor:
        """This tensor on another backend (``"numpy"``, ``"cupy"``) or dtype; differentiable."""
        import backends

        target = device_backend(target)  # PyTorch's "cpu" / "cuda"
        if isinstance(target, str) and target in backends.names() or isinstance(target, Backend):
            dst = target if isinstance(target, Backend) else backends.get(target)
            if dst is self.backend:
                return self
            out = Tensor._wrap(dst.asarray(self.backend.to_numpy(self.data)), dst)
            return tape.record(out, TRANSFER, (self,), {"src": self.backend, "dst": dst},
                               [self.data], self.requires_grad)
        try:
            dt = _as_dtype(target, "to")
        except DTypeError:
            raise ValueError(f"to: {target!r} is neither a backend ({', '.join(backends.names())})"
                             " nor a dtype (float32, float64)") from None
        return self if dt == self.dtype else apply(_P["astype"], self, dtype=dt)

    # --- arithmetic: each operator is one primitive ------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        if other.__class__ is not Tensor:
            other = _operand(other, self, "add")
        return apply(_ADD, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return apply(_ADD, _operand(other, self, "add"), self)

    def __sub__(self, other: Any) -> Tensor:
        if other.__class__ is not Tensor:
            other = _operand(other, self, "sub")
        return apply(_SUB, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return apply(_SUB, _operand(other, self, "sub"), self)

    def __mul__(self, other: Any) -> Tensor:
        if other.__class__ is not Tensor:
            other = _operand(other, self, "mul")
        return apply(_MUL, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return apply(_MUL, _operand(other, self, "mul"), self)

    def __truediv__(self, other: Any) -> Tensor:
        if other.__class__ is not Tensor:
            other = _operand(other, self, "div")
        return apply(_DIV, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return apply(_DIV, _operand(other, self, "div"), self)

    def __neg__(self) -> Tensor:
        return _unary(_NEG, self)

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, Tensor) or not isinstance(exponent, numbers.Real):
            raise TypeError(f"pow: the exponent must be a constant number, got "
                            f"{type(exponent).__name__}; for a tensor exponent use "
                            "(exponent * x.log()).exp()")
        exponent = int(exponent) if float(exponent).is_integer() else float(exponent)
        return apply(_P["pow"], self, exponent=exponent)

    def __rpow__(self, base: Any) -> Tensor:
        if not isinstance(base, numbers.Real) or base <= 0:
            raise ValueError(f"pow: a number raised to a tensor needs a positive base, "
                             f"got {base!r}")
        return (self * math.log(base)).exp()

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, _operand(other, self, "matmul"))

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(_operand(other, self, "matmul"), self)

    def exp(self) -> Tensor:
        return _unary(_EXP, self)

    def log(self) -> Tensor:
        return _unary(_LOG, self)

    def sigmoid(self) -> Tensor:
        return _unary(_SIGMOID, self)

    def tanh(self) -> Tensor:
        return _unary(_TANH, self)

    def relu(self) -> Tensor:
        return _unary(_RELU, self)

    def sqrt(self) -> Tensor:
        return self ** 0.5

    def maximum(self, other: Any) -> Tensor:
        return apply(_P["maximum"], self, _operand(other, self, "maximum"))

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
        return apply(_P["reshape"], self, shape=shape)

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
            return apply(_P["transpose"], self, axes=None)
        if sorted(_check_axis("transpose", a, self.ndim) for a in axes) != list(range(self.ndim)):
            raise ShapeError(f"transpose: axes {axes} are not a permutation of the "
                             f"{self.ndim} dims of {self.shape}")
        return apply(_P["transpose"], self, axes=tuple(a % self.ndim for a in axes))

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
            return apply(_P["getitem"], self, index=index)
        except ShapeError as err:
            raise IndexError(f"getitem: index {index!r} does not fit shape {self.shape}: "
                             f"{str(err).rsplit(': ', 1)[-1]}") from None

    def split(self, sizes: int | Sequence[int], axis: int | None = None, *,
              dim: int | None = None) -> list[Tensor]:
        """Cut along ``axis`` into pieces of the given sizes; an int is one size for all pieces
        (the last may be smaller), as in PyTorch. One ``split`` primitive makes all the pieces
        (views of this tensor); backward joins their gradients in one concatenation. The
        default axis is the last (PyTorch's is the first); ``dim`` is PyTorch's name for it."""
        if self.ndim == 0:
            raise ShapeError("split: cannot split a 0-d tensor")
        axis = _check_axis("split", axis_arg("split", axis, dim, -1), self.ndim)
        n = self.shape[axis]
        if isinstance(sizes, numbers.Integral):
            if sizes <= 0:
                raise ShapeError(f"split: piece size must be positive, got {sizes}")
            sizes = [min(int(sizes), n - start) for start in range(0, n, int(sizes))]
        sizes = list(sizes)
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ShapeError(f"split: sizes {sizes} do not add up to {n}, the size of axis "
                             f"{axis} of {self.shape}")
        return list(apply(_P["split"], self, sizes=tuple(int(n) for n in sizes), axis=axis))

    def chunk(self, chunks: int, axis: int | None = None, *,
              dim: int | None = None) -> list[Tensor]:
        """Cut along ``axis`` (``dim``; the last by default) into ``chunks`` equal pieces (e.g.
        stacked gates into 4)."""
        if self.ndim == 0:
            raise ShapeError("chunk: cannot split a 0-d tensor")
        axis = _check_axis("chunk", axis_arg("chunk", axis, dim, -1), self.ndim)
        n = self.shape[axis]
        if not isinstance(chunks, numbers.Integral) or chunks <= 0 or n % chunks:
            raise ShapeError(f"chunk: cannot cut axis {axis} of size {n} of {self.shape} into "
                             f"{chunks!r} equal pieces")
        return self.split(n // int(chunks), axis=axis)

    # --- reductions --------------------------------------------------------------------------
    def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: bool | None = None) -> Tensor:
        axis, keepdims = axis_arg("sum", axis, dim), keepdims_arg("sum", keepdims, keepdim)
        return apply(_P["sum"], self, axis=_reduce_axis("sum", axis, self.ndim),
                     keepdims=bool(keepdims))

    def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: bool | None = None) -> Tensor:
        """The mean over ``axis``; over no entries it is nan, as in PyTorch."""
        axis, keepdims = axis_arg("mean", axis, dim), keepdims_arg("mean", keepdims, keepdim)
        axis = _reduce_axis("mean", axis, self.ndim)
        return apply(_P["mean"], self, axis=axis, keepdims=bool(keepdims))

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
        return apply(_P["max"], self, axis=axis, keepdims=bool(keepdims))

    def log_softmax(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        axis = axis_arg("log_softmax", axis, dim, -1)  # the last axis unless given
        return apply(_P["log_softmax"], self, axis=_reduce_axis("log_softmax", axis, self.ndim))

    def softmax(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        return self.log_softmax(axis_arg("softmax", axis, dim, -1)).exp()


# The one engine-level operation outside the table: moving between backends. It is not
# mathematics (the identity), so it has no symbolic rule and no place in PRIMITIVES.
TRANSFER = Primitive(
    "to", 1,
    lambda xp, x, src=None, dst=None: dst.asarray(src.to_numpy(x)),
    lambda xp, g, out, x, src=None, dst=None: (src.asarray(dst.to_numpy(g)),),
    lambda x, src=None, dst=None: x,
    "move between backends",
)


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


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; where the two are equal the gradient is shared."""
    like = a if isinstance(a, Tensor) else b
    if not isinstance(like, Tensor):
        raise TypeError("maximum: a or b must be a Tensor")
    return apply(_P["maximum"], _operand(a, like, "maximum"), _operand(b, like, "maximum"))


def _filled(op: str, shape: Any, value: float, dtype: Any, backend: Any,
            requires_grad: bool) -> Tensor:
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not all(isinstance(n, numbers.Integral) and n >= 0 for n in shape):
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
    out = Tensor._wrap(target.xp.full(shape, value, dtype=dt), target)
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
