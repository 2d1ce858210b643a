"""Tensor: a backend array plus a link into the tape. Every operator maps to one primitive.

This module holds the class, its arithmetic and ``apply`` (run a primitive, record it through
``tape.record``); the shape and reduction methods are in ``tensor_shape.py``, PyTorch's names in
``tensor_torch.py``, and ``matmul``, ``concat``, ``zeros``, ... in ``tensor_functions.py``.

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
from typing import Any

import numpy as np

from backends.base import Backend
from tinygrad_lstm import tape
from tinygrad_lstm.context import get_backend
from tinygrad_lstm.errors import BackendMismatchError, DataDependentError, DTypeError, ShapeError
from tinygrad_lstm.primitives import PRIMITIVES, Primitive
from tinygrad_lstm.tensor_shape import ShapeMethods
from tinygrad_lstm.tensor_torch import TorchNames, device_backend
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
    if type(dtype).__module__ == "torch":  # PyTorch's dtype objects: torch.float64
        dtype = str(dtype).removeprefix("torch.")
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


class Tensor(ShapeMethods, TorchNames):
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
        if tape._mode.tracing is not None and self.requires_grad:  # (a constant may be read)
            raise DataDependentError(
                f"{tape._mode.tracing}: the step reads the values of a tensor of shape "
                f"{self.shape} that depends on its inputs or parameters (numpy(), item(), "
                "float(), tolist() or printing it): what it computes depends on its data")
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


# The one engine-level operation outside the table: moving between backends. It is not
# mathematics (the identity), so it has no symbolic rule and no place in PRIMITIVES.
TRANSFER = Primitive(
    "to", 1,
    lambda xp, x, src=None, dst=None: dst.asarray(src.to_numpy(x)),
    lambda xp, g, out, x, src=None, dst=None: (src.asarray(dst.to_numpy(g)),),
    lambda x, src=None, dst=None: x,
    "move between backends",
)


# the functions of tensors, re-exported here (``from tinygrad_lstm.tensor import concat``)
from tinygrad_lstm.tensor_functions import (  # noqa: E402
    addmm,
    concat,
    matmul,
    maximum,
    ones,
    stack,
    where,
    zeros,
)
from tinygrad_lstm.tensor_shape import MaxResult, _check_axis  # noqa: E402, F401 - tensor_torch

__all__ = ["DEFAULT_DTYPE", "DTYPES", "MaxResult", "TRANSFER", "Tensor", "addmm", "apply",
           "concat", "float32", "float64", "matmul", "maximum", "ones", "stack", "where",
           "zeros"]
