"""Activation modules and ``Dropout``, PyTorch's names over this project's primitives.

>>> import numpy as np, tinygrad_lstm as tl
>>> tl.nn.ReLU()(tl.Tensor([-1.0, 2.0])).numpy().tolist()
[0.0, 2.0]
"""

from __future__ import annotations

from typing import Any

from tinygrad_lstm import random as tl_random
from tinygrad_lstm.checks import check_probability
from tinygrad_lstm.module import Module
from tinygrad_lstm.tensor import Tensor, where


def _tensor(owner: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner}: input must be a Tensor, got {type(x).__name__}")
    return x


class Identity(Module):
    """Returns its input."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return _tensor("Tanh", x).tanh()


class Sigmoid(Module):
    """σ(x) = 1 / (1 + exp(-x)), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return _tensor("Sigmoid", x).sigmoid()


class ReLU(Module):
    """max(x, 0), elementwise (``inplace`` is accepted and ignored: nothing here is in place)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return _tensor("ReLU", x).relu()


class LeakyReLU(Module):
    """x where x > 0, else ``negative_slope`` · x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        x = _tensor("LeakyReLU", x)
        return where(x.data > 0, x, x * self.negative_slope)


class Softmax(Module):
    """softmax over ``dim`` (PyTorch's name for the axis)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return _tensor("Softmax", x).softmax(self.dim)


class LogSoftmax(Module):
    """log softmax over ``dim``, computed stably (shifted by the maximum)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return _tensor("LogSoftmax", x).log_softmax(self.dim)


class Dropout(Module):
    """Zeroes each entry with probability ``p`` in training mode and scales the rest by
    1 / (1 - p) (inverted dropout, Srivastava et al. 2014); the identity after ``eval()``.
    The mask is drawn from ``tl.manual_seed``'s generator."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        check_probability("Dropout", "p", p, one=True)
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        x = _tensor("Dropout", x)
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0.0
        keep = tl_random.generator().random(x.shape) >= self.p
        return x * Tensor(keep / (1.0 - self.p), dtype=x.dtype, backend=x.backend)

    def extra_repr(self) -> str:
        return f"p={self.p}"
