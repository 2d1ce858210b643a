"""``tl.nn.Sequential`` and ``tl.nn.ModuleList``: PyTorch's containers, children named 0, 1, ...

>>> import numpy as np, tinygrad_lstm as tl
>>> net = tl.nn.Sequential(tl.nn.Linear(3, 4), tl.nn.Tanh(), tl.nn.Linear(4, 2))
>>> net(tl.Tensor(np.ones((5, 3)))).shape
(5, 2)
>>> [name for name, _ in net.named_parameters()]
['0.weight', '0.bias', '2.weight', '2.bias']
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from tinygrad_lstm.module import Module


def _checked(owner: str, index: Any, module: Any) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{owner}: entry {index!r} is a {type(module).__name__}, expected a "
                        "tl.nn.Module")
    return module


class ModuleList(Module):
    """A list of modules whose parameters the parent finds (``named_parameters``: ``0.weight``).

    It has no ``forward``: index it, iterate it, ``append`` / ``extend`` / ``insert`` to it."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _renumber(self, items: list[Module]) -> None:
        for key in list(self._modules):
            object.__delattr__(self, key)
        self._modules.clear()
        for i, m in enumerate(items):
            setattr(self, str(i), m)

    def append(self, module: Module) -> ModuleList:
        setattr(self, str(len(self)), _checked(type(self).__name__, len(self), module))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items.insert(index, _checked(type(self).__name__, index, module))
        self._renumber(items)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.values())
        if isinstance(index, slice):
            return type(self)(items[index])
        try:
            return items[index]
        except (IndexError, TypeError):
            raise IndexError(f"{type(self).__name__}: index {index!r} out of range for "
                             f"{len(items)} modules") from None

    def __setitem__(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items[index] = _checked(type(self).__name__, index, module)
        self._renumber(items)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward(): iterate over it")


class Sequential(ModuleList):
    """Modules applied in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``; an ``OrderedDict``
    names them. Each module's output is the next one's input (a tuple is passed as is, so put a
    recurrent module, which returns ``(out, state)``, last or wrap it)."""

    def __init__(self, *modules: Any) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                setattr(self, name, _checked("Sequential", name, m))
        else:
            self.extend(modules)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x
