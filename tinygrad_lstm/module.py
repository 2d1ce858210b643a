"""Module and Parameter: named, nested collections of learned tensors (PyTorch's shape).

>>> import numpy as np, tinygrad_lstm as tl
>>> class Affine(tl.nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.W = tl.nn.Parameter(np.ones((2, 3)))
>>> [name for name, _ in Affine().named_parameters()]
['W']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tinygrad_lstm.errors import DTypeError, ShapeError
from tinygrad_lstm.tensor import Tensor
from tinygrad_lstm.versions import bump_version


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` did not match, as PyTorch returns it."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Parameter(Tensor):
    """A tensor a module learns: ``requires_grad=True`` and found by ``Module.parameters()``."""

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = None, backend: Any = None) -> None:
        super().__init__(data, requires_grad=True, dtype=dtype, backend=backend)


class Module:
    """Base class: parameters and sub-modules assigned as attributes are found by name.

    ``named_parameters()`` walks them in the order they were assigned; ``state_dict()`` and
    ``load_state_dict()`` use those dotted names; ``train()`` / ``eval()`` set ``training`` on
    the whole tree (dropout reads it).
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before "
                               "assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_parameter(self, name: str, param: Parameter) -> Parameter:
        """Add ``param`` under ``name`` (which may be any string, e.g. ``W_f_h``)."""
        if not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter, got "
                            f"{type(param).__name__}")
        self._parameters[name] = param
        if name.isidentifier():
            object.__setattr__(self, name, param)
        return param

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, p in self._own_parameters().items():
            yield prefix + name, p
        for name, m in self._modules.items():
            yield from m.named_parameters(prefix + name + ".")

    def _own_parameters(self) -> dict[str, Parameter]:
        return self._parameters

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix.rstrip("."), self
        for name, m in self._modules.items():
            yield from m.named_modules(prefix + name + ".")

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from list(self._modules.items())

    def children(self) -> Iterator[Module]:
        """The direct sub-modules, in the order they were assigned."""
        for _, m in self.named_children():
            yield m

    def modules(self) -> Iterator[Module]:
        """This module and every module under it, depth first."""
        for _, m in self.named_modules():
            yield m

    def apply(self, fn: Any) -> Module:
        """Call ``fn(module)`` on every sub-module, then on this one (PyTorch's order)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter; a frozen one gets no gradient."""
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    def train(self, mode: bool = True) -> Module:
        for _, m in self.named_modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: ``None``, or zeros in place if
        ``set_to_none=False`` (PyTorch's ``Module.zero_grad``)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0
                bump_version(p.grad, f"{type(self).__name__}.zero_grad")

    def double(self) -> Module:
        """Cast to float64 (``to("float64")``), as PyTorch's ``Module.double``."""
        return self.to("float64")

    def float(self) -> Module:
        """Cast to float32 (``to("float32")``), as PyTorch's ``Module.float``."""
        return self.to("float32")

    def cpu(self) -> Module:
        """Move to the NumPy backend (``to("cpu")``), as PyTorch's ``Module.cpu``."""
        return self.to("cpu")

    def cuda(self) -> Module:
        """Move to the CuPy backend (``to("cuda")``), as PyTorch's ``Module.cuda``; raises
        ``BackendUnavailable`` (with the reason) where CuPy cannot run."""
        return self.to("cuda")

    def to(self, *args: Any, device: Any = None, dtype: Any = None) -> Module:
        """Move (or cast) every parameter in place, keeping the Parameter objects.

        Each target, positional or ``device=`` / ``dtype=`` as in PyTorch
        (``m.to("cuda", torch.float64)``), is a backend name (``"numpy"``, ``"cupy"``), a
        PyTorch device (``"cpu"``, ``"cuda"``) or a dtype (NumPy's, PyTorch's or a name). A cast
        also sets the ``dtype`` of every sub-module that has one (the cells, which make their
        zero states and their clones in it), so later outputs have the new dtype. All targets
        are checked before anything moves (``tensor_torch.to_targets`` says what raises).
        """
        from tinygrad_lstm.tensor_torch import to_targets

        backend, dt = to_targets(f"{type(self).__name__}.to", args, device, dtype)
        if dt is not None:
            for _, m in self.named_modules():
                if "dtype" in m.__dict__:
                    object.__setattr__(m, "dtype", dt)
        for p in self.parameters():
            moved = p if backend is None else p._to_one(backend)
            moved = moved if dt is None else moved._to_one(dt)
            p.data, p.backend, p.grad = moved.data, moved.backend, None
        return self

    def state_dict(self, layout: str = "native") -> dict[str, np.ndarray]:
        """Every parameter as a NumPy copy, keyed by its dotted name; ``layout="torch"`` writes
        the zoo's single-bias cells (and runners of them) under PyTorch's keys
        (``tinygrad_lstm.nn.torch_layout``)."""
        if layout != "native":
            from tinygrad_lstm.nn.torch_layout import torch_state_dict
            return torch_state_dict(self, layout)
        return {name: np.array(p.numpy(), copy=True) for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True,
                        layout: str = "native") -> IncompatibleKeys:
        """Copy values into the parameters, checking names, shapes and dtypes first.

        Nothing is changed unless every entry fits: a failed load leaves the module as it was.
        ``layout="torch"`` reads PyTorch's keys at any depth (``tinygrad_lstm.nn.torch_layout``).
        Returns ``(missing_keys, unexpected_keys)`` as PyTorch does (both empty when
        ``strict``: a mismatch raises ``KeyError`` there)."""
        if layout != "native":
            from tinygrad_lstm.nn.torch_layout import from_torch_state_dict
            state = from_torch_state_dict(self, state, layout, strict)
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(state))
        extra = sorted(set(state) - set(own))
        if strict and (missing or extra):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if extra:
                parts.append(f"unexpected keys {extra}")
            from tinygrad_lstm.nn.torch_layout import looks_like_torch
            hint = looks_like_torch(extra) if layout == "native" else ""
            raise KeyError(f"load_state_dict: {type(self).__name__}: "
                           + "; ".join(([hint] if hint else []) + parts))
        staged = {}
        for name, value in state.items():
            if name not in own:
                continue
            array = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
            if array.dtype.kind != "f":
                raise DTypeError(f"load_state_dict: {name!r} has dtype {array.dtype}, expected "
                                 "floats")
            if array.shape != own[name].shape:
                raise ShapeError(f"load_state_dict: {name!r} has shape {array.shape}, expected "
                                 f"{own[name].shape}")
            staged[name] = array
        for name, array in staged.items():
            p = own[name]
            p.data = p.backend.xp.array(array, dtype=p.dtype)  # a copy: never the caller's
        return IncompatibleKeys(missing, extra)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            lines.append(f"  ({name}): " + repr(m).replace("\n", "\n  "))
        return "\n".join(lines) + ")" if len(lines) > 1 else lines[0] + ")"
