"""PyTorch's names for Tensor operations, and PyTorch-style construction.

``Tensor`` inherits these methods (``TorchNames``) so that code written for PyTorch reads the
same here: ``view``, ``size()``, ``squeeze`` / ``unsqueeze``, ``argmax``, ``topk``,
``index_select``, ``gather``, ``permute``, ``flatten``, ``cpu()`` / ``cuda()``, ``float()`` /
``double()``; the functions ``cat``, ``tensor``, ``from_numpy``, ``log_softmax``, ``softmax``.
Everything differentiable here is a composition of primitives (``reshape``, ``transpose``,
``take``, ``gather``); nothing here adds a gradient rule.

Integer results (the indices of ``argmax`` and ``topk``) are the backend's int64 arrays
(NumPy or CuPy), never Tensors: a Tensor here is always float32 or float64, and indices are
not differentiable. Integer inputs (``index_select``, ``gather``, ``Embedding``) are the same
kind of array, or a list, or anything with ``__array__`` (a torch ``LongTensor``).

>>> import numpy as np, tinygrad_lstm as tl
>>> x = tl.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
>>> x.size(), x.size(1), x.view(3, 2).shape, x.unsqueeze(0).shape
((2, 3), 3, (3, 2), (1, 2, 3))
>>> x.argmax(dim=1).tolist()
[1, 0]
>>> values, indices = x.topk(2, dim=1)
>>> values.numpy().tolist(), indices.tolist()
([[5.0, 2.0], [7.0, 3.0]], [[1, 2], [0, 2]])
>>> tl.cat([x, x]).shape, tl.log_softmax(x, dim=1).shape
((4, 3), (2, 3))
"""

from __future__ import annotations

import numbers
import sys
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_lstm.errors import DTypeError, ShapeError

if TYPE_CHECKING:
    from tinygrad_lstm.tensor import Tensor

__all__ = ["CallableModule", "TorchNames", "cat", "from_numpy", "log_softmax", "softmax", "tensor"]

# PyTorch's device names, as this project's backends
_DEVICES = {"cpu": "numpy", "cuda": "cupy", "cuda:0": "cupy"}


def _t() -> Any:
    return sys.modules["tinygrad_lstm.tensor"]  # it imports this module: looked up at call time


def axis_arg(op: str, axis: Any, dim: Any, default: Any = None) -> Any:
    """``axis``, or ``dim`` (PyTorch's name for it), or ``default`` when neither is given.

    Raises TypeError naming ``op`` when both are given.
    """
    if dim is None:
        return default if axis is None else axis
    if axis is not None:
        raise TypeError(f"{op}: got both axis={axis!r} and dim={dim!r}; dim is PyTorch's name "
                        "for axis, give one of them")
    return dim


def keepdims_arg(op: str, keepdims: bool, keepdim: bool | None) -> bool:
    """``keepdims``, or ``keepdim`` (PyTorch's name); TypeError when they disagree."""
    if keepdim is None:
        return bool(keepdims)
    if keepdims and not keepdim:
        raise TypeError(f"{op}: got keepdims={keepdims!r} and keepdim={keepdim!r}; keepdim is "
                        "PyTorch's name for keepdims, give one of them")
    return bool(keepdim)


def device_backend(target: Any) -> Any:
    """A PyTorch device name (``"cpu"``, ``"cuda"``, ``"cuda:0"``) as a backend name; any
    other value unchanged. ``"cuda:1"`` and beyond raise: CuPy's current device is the GPU."""
    if isinstance(target, str):
        if target in _DEVICES:
            return _DEVICES[target]
        if target.startswith("cuda:"):
            raise ValueError(f"device {target!r}: this project runs on CuPy's current device; "
                             "select it with cupy.cuda.Device(n).use() and pass 'cuda'")
    elif type(target).__name__ == "device" and type(target).__module__.startswith("torch"):
        return device_backend(str(target))  # a torch.device
    return target


def index_array(op: str, index: Any, like: Tensor, size: int) -> Any:
    """``index`` as an int64 array on ``like``'s backend, every entry in ``[0, size)``.

    Raises TypeError for floats (a Tensor included: Tensors are float here) and IndexError for
    an entry out of range, naming ``op``.
    """
    if isinstance(index, _t().Tensor):
        raise TypeError(f"{op}: indices must be integers (a list, or a NumPy/CuPy int array), "
                        f"got a {index.dtype} Tensor; Tensors here are always float")
    backend = like.backend
    if backend.is_array(index) or isinstance(index, np.ndarray):
        array = index
    else:
        try:
            array = np.asarray(index)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{op}: cannot read indices from {type(index).__name__}: "
                            f"{err}") from None
    if array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f"):
        raise TypeError(f"{op}: indices must be integers, got dtype {array.dtype}")
    array = backend.asarray(array, dtype=np.int64)
    if array.size:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= size:
            bad = low if low < 0 else high
            raise IndexError(f"{op}: index {bad} is out of range for size {size} "
                             f"(indices must be in [0, {size}))")
    return array


def to_targets(owner: str, args: Sequence[Any], device: Any = None, dtype: Any = None
               ) -> tuple[Any, Any]:
    """PyTorch's ``to(...)`` arguments as (a backend or None, a NumPy dtype or None), all
    resolved before anything moves: ``ValueError`` for one that is neither a backend nor a
    dtype, ``TypeError`` for two different backends or two different dtypes, or for none,
    ``BackendUnavailable`` for a backend that cannot run here."""
    import backends
    from backends.base import Backend

    found_backend = found_dtype = None
    for target in (*args, device, dtype):
        if target is None:
            continue
        target = device_backend(target)  # PyTorch's "cpu" / "cuda" / torch.device
        if isinstance(target, Backend) or isinstance(target, str) and target in backends.names():
            backend = target if isinstance(target, Backend) else backends.get(target)
            if found_backend is not None and backend is not found_backend:
                raise TypeError(f"{owner}: two backends given, {found_backend.name!r} and "
                                f"{backend.name!r}")
            found_backend = backend
            continue
        try:
            dt = _t()._as_dtype(target, "to")
        except DTypeError:
            raise ValueError(f"{owner}: {target!r} is neither a backend "
                             f"({', '.join(backends.names())}) nor a dtype (float32, "
                             "float64)") from None
        if found_dtype is not None and dt != found_dtype:
            raise TypeError(f"{owner}: two dtypes given, {found_dtype} and {dt}")
        found_dtype = dt
    if found_backend is None and found_dtype is None:
        raise TypeError(f"{owner}: give a backend, a device or a dtype")
    return found_backend, found_dtype


class TorchNames:
    """PyTorch's method names, mixed into ``Tensor``. See the module docstring."""

    __slots__ = ()

    # --- where it lives ---------------------------------------------------------------------
    def to(self, *args: Any, device: Any = None, dtype: Any = None) -> Tensor:
        """This tensor on another backend (``"numpy"``, ``"cupy"``, or PyTorch's ``"cpu"`` /
        ``"cuda"``) and/or in another dtype, given positionally or as ``device=`` / ``dtype=``
        as in PyTorch; differentiable. Raises as ``to_targets`` says."""
        backend, dt = to_targets("to", args, device, dtype)
        out = self if backend is None else self._to_one(backend)
        return out if dt is None else out._to_one(dt)

    def _to_one(self, target: Any) -> Tensor:
        """This tensor on ``target``, a Backend or a NumPy dtype (``to_targets`` resolved it)."""
        from backends.base import Backend
        from tinygrad_lstm import tape

        t = _t()
        if isinstance(target, Backend):
            if target is self.backend:
                return self
            out = t.Tensor._wrap(target.asarray(self.backend.to_numpy(self.data)), target)
            return tape.record(out, t.TRANSFER, (self,), {"src": self.backend, "dst": target},
                               [self.data], self.requires_grad)
        return self if target == self.dtype else t.apply(t._P["astype"], self, dtype=target)

    # --- what it is --------------------------------------------------------------------------
    def size(self, dim: int | None = None) -> Any:
        """The shape (a tuple), or the length of one dim, as ``torch.Tensor.size``."""
        if dim is None:
            return self.shape
        return self.shape[_t()._check_axis("size", dim, self.ndim)]

    def dim(self) -> int:
        """The number of dims (``ndim``), as ``torch.Tensor.dim()``."""
        return self.ndim

    def tolist(self) -> Any:
        """The values as nested Python lists of floats."""
        return self.numpy().tolist()

    def __float__(self) -> float:
        return self.item()

    # --- shape -------------------------------------------------------------------------------
    def view(self, *shape: Any) -> Tensor:
        """``reshape`` under PyTorch's name (the result is a new tensor on the tape; its array
        is a view of this one's whenever NumPy can make one)."""
        return self.reshape(*shape)

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dims ``start_dim`` .. ``end_dim`` into one, as ``torch.flatten``."""
        if self.ndim == 0:
            return self.reshape(1)
        check = _t()._check_axis
        start, end = check("flatten", start_dim, self.ndim), check("flatten", end_dim, self.ndim)
        if start > end:
            raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for "
                             f"a tensor of shape {self.shape}")
        return self.reshape(*self.shape[:start], -1, *self.shape[end + 1:])

    def squeeze(self, dim: Any = None) -> Tensor:
        """Drop dims of size 1: all of them, or those in ``dim`` (an int or a tuple) that have
        size 1; a named dim of another size is left as it is, as in PyTorch."""
        if dim is None:
            drop = {d for d, n in enumerate(self.shape) if n == 1}
        else:
            dims = _t()._check_axis("squeeze", dim, self.ndim)
            dims = dims if isinstance(dims, tuple) else (dims,)
            drop = {d for d in dims if self.ndim and self.shape[d] == 1}
        if not drop:
            return self
        return self.reshape(*(n for d, n in enumerate(self.shape) if d not in drop))

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a dim of size 1 at ``dim`` (``-ndim - 1 <= dim <= ndim``)."""
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"unsqueeze: dim must be an int, got {dim!r}")
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise ShapeError(f"unsqueeze: dim {dim} is out of range for a tensor with "
                             f"{self.ndim} dims (expected {-self.ndim - 1} .. {self.ndim})")
        at = int(dim) % (self.ndim + 1)
        return self.reshape(*self.shape[:at], 1, *self.shape[at:])

    def permute(self, *dims: Any) -> Tensor:
        """Reorder the dims (NumPy's ``transpose(axes)``), as ``torch.permute``."""
        return self.transpose(*dims)

    def swapaxes(self, dim0: int, dim1: int) -> Tensor:
        """Exchange two dims: what ``torch.Tensor.transpose(dim0, dim1)`` does. (This project's
        ``transpose(*axes)`` is NumPy's: a full permutation.)"""
        check = _t()._check_axis
        a, b = check("swapaxes", dim0, self.ndim), check("swapaxes", dim1, self.ndim)
        order = list(range(self.ndim))
        order[a], order[b] = order[b], order[a]
        return self.transpose(*order) if self.ndim > 1 else self

    # --- indices -----------------------------------------------------------------------------
    def argmax(self, dim: int | None = None, keepdim: bool = False, *,
               axis: int | None = None) -> Any:
        """Index of the largest entry (over everything, or along ``dim``), as the backend's
        int64 array; the first one wins ties, as in NumPy and PyTorch."""
        axis = axis_arg("argmax", axis, dim)
        if self.numel() == 0:
            raise ShapeError(f"argmax: the tensor of shape {self.shape} is empty")
        if axis is None:
            out = self.data.argmax()
            return out.reshape((1,) * self.ndim) if keepdim else out
        axis = _t()._check_axis("argmax", axis, self.ndim)
        out = self.data.argmax(axis=axis)
        return self.backend.xp.expand_dims(out, axis) if keepdim else out

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True,
             *, axis: int | None = None) -> tuple[Tensor, Any]:
        """The ``k`` largest (or smallest) entries along ``dim``: ``(values, indices)``.

        ``values`` is differentiable (a ``gather``); ``indices`` is the backend's int64 array.
        Ties keep the earlier index first. ``sorted=False`` is accepted and still sorts.
        """
        axis = _t()._check_axis("topk", axis_arg("topk", axis, None if dim == -1 else dim, -1),
                                max(self.ndim, 1))
        n = self.shape[axis] if self.ndim else 1
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k <= n:
            raise ShapeError(f"topk: k={k!r} must be an int in [0, {n}] for dim {axis} of "
                             f"shape {self.shape}")
        xp = self.backend.xp
        keys = -self.data if largest else self.data
        order = xp.argsort(keys, axis=axis, kind="stable")
        indices = xp.take(order, xp.arange(int(k)), axis=axis)
        return self.gather(axis, indices), indices

    def index_select(self, dim: int, index: Any) -> Tensor:
        """The slices at ``index`` (a 1-D int array or list) along ``dim``: one ``take``.
        Gradients of repeated indices add up."""
        if self.ndim == 0:  # PyTorch reads a 0-d tensor as one entry; the result is 0-d
            _t()._check_axis("index_select", dim, 1)
            indices = index_array("index_select", index, self, 1)
            if indices.size != 1 or indices.ndim > 1:
                raise ShapeError(f"index_select: a 0-d tensor takes one index, got shape "
                                 f"{tuple(indices.shape)}")
            return _t().apply(_t()._P["take"], self.reshape(1), indices=indices.reshape(()),
                              axis=0)
        axis = _t()._check_axis("index_select", dim, self.ndim)
        indices = index_array("index_select", index, self, self.shape[axis])
        if indices.ndim != 1:
            raise ShapeError(f"index_select: index must be 1-D, got shape "
                             f"{tuple(indices.shape)}")
        return _t().apply(_t()._P["take"], self, indices=indices, axis=axis)

    def gather(self, dim: int, index: Any) -> Tensor:
        """``out[i][j][k] = self[index[i][j][k]][j][k]`` for ``dim`` 0 (and so on), as
        ``torch.gather``: ``index`` has this tensor's number of dims, and no dim longer than
        this tensor's outside ``dim``."""
        if self.ndim == 0:  # PyTorch reads a 0-d tensor as one entry; the index's shape out
            _t()._check_axis("gather", dim, 1)
            indices = index_array("gather", index, self, 1)
            if indices.ndim > 1:
                raise ShapeError(f"gather: a 0-d tensor takes an index of at most one dim, got "
                                 f"shape {tuple(indices.shape)}")
            if indices.ndim == 0:
                return self.reshape(1).gather(0, indices.reshape(1)).reshape(())
            return _t().apply(_t()._P["gather"], self.reshape(1), indices=indices, axis=0)
        axis = _t()._check_axis("gather", dim, self.ndim)
        indices = index_array("gather", index, self, self.shape[axis])
        if indices.ndim != self.ndim or any(
                m > n for d, (m, n) in enumerate(zip(indices.shape, self.shape, strict=True))
                if d != axis):
            raise ShapeError(f"gather: index of shape {tuple(indices.shape)} does not fit a "
                             f"tensor of shape {self.shape} along dim {axis} (same number of "
                             "dims, no longer outside dim)")
        return _t().apply(_t()._P["gather"], self, indices=indices, axis=axis)

    # --- devices and dtypes ------------------------------------------------------------------
    def cpu(self) -> Tensor:
        """This tensor on the NumPy backend (itself if it is there); differentiable."""
        return self.to("numpy")

    def cuda(self) -> Tensor:
        """This tensor on the CuPy backend; differentiable. Raises ``BackendUnavailable``
        with the reason where CuPy cannot run."""
        return self.to("cupy")

    def float(self) -> Tensor:
        """This tensor as float32 (itself if it is already); differentiable."""
        return self.to("float32")

    def double(self) -> Tensor:
        """This tensor as float64 (itself if it is already); differentiable."""
        return self.to("float64")

    @property
    def device(self) -> str:
        """PyTorch's name for where this tensor lives: ``"cpu"`` or ``"cuda"``."""
        return {"numpy": "cpu", "cupy": "cuda"}.get(self.backend.name, self.backend.name)


# --- functions -------------------------------------------------------------------------------

def cat(tensors: Sequence[Tensor], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """``torch.cat``: join along an existing dim, the first by default (``tl.concat``'s
    default is the last)."""
    return _t().concat(tensors, axis=axis_arg("cat", axis, None if dim == 0 else dim, 0))


def log_softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """``torch.log_softmax(x, dim)``; the last dim when neither ``dim`` nor ``axis`` is given."""
    return x.log_softmax(axis=axis_arg("log_softmax", axis, dim, -1))


def softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """``torch.softmax(x, dim)``; the last dim when neither ``dim`` nor ``axis`` is given."""
    return x.softmax(axis=axis_arg("softmax", axis, dim, -1))


def tensor(data: Any, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """``torch.tensor``: a new tensor (a copy) from a list, an array, or anything with
    ``__array__`` (a torch tensor included).

    Unlike ``tl.Tensor`` (float32 unless asked), a float64 source stays float64, as in
    PyTorch; everything else becomes float32. ``device`` is ``"cpu"`` or ``"cuda"`` (or a
    backend name).
    """
    T = _t().Tensor  # noqa: N806 - the class
    if dtype is None:
        kind = getattr(data, "dtype", None)
        if kind is not None and str(kind) in ("float64", "torch.float64"):
            dtype = "float64"
    return T(data, requires_grad=requires_grad, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """``torch.from_numpy``: a tensor sharing ``array``'s memory (NumPy backend), keeping its
    dtype, which must be float32 or float64. Raises DTypeError otherwise (use ``tl.tensor``
    for a converted copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype not in (np.float32, np.float64):
        raise DTypeError(f"from_numpy: dtype {array.dtype} is not float32 or float64; "
                         "tl.tensor(array) makes a float32 copy")
    import backends

    return _t().Tensor._wrap(array, backends.get("numpy"))


class CallableModule(types.ModuleType):
    """The class of the module ``tinygrad_lstm.tensor``, so that ``tl.tensor`` is both that
    module (``tl.tensor.apply``, as the engine and tests use it) and PyTorch's ``tensor(...)``
    function: calling the module calls ``tensor``."""

    def __call__(self, data: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
        return tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
