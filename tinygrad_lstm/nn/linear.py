"""Linear: y = x W^T + b, PyTorch's layout and default initialisation."""

from __future__ import annotations

import math
from typing import Any

from tinygrad_lstm import random as tl_random
from tinygrad_lstm.checks import check_int
from tinygrad_lstm.errors import ShapeError
from tinygrad_lstm.module import Module, Parameter
from tinygrad_lstm.nn.rnn_cells import device_backend
from tinygrad_lstm.tensor import Tensor


class Linear(Module):
    """An affine map over the last axis, W (out, in) and b (out,) ~ U(-1/√in, 1/√in).

    >>> import numpy as np, tinygrad_lstm as tl
    >>> tl.nn.Linear(3, 2)(tl.Tensor(np.ones((5, 3)))).shape
    (5, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = check_int("Linear", "in_features", in_features)
        self.out_features = check_int("Linear", "out_features", out_features)
        k = 1 / math.sqrt(self.in_features)
        rng = tl_random.generator()
        self.weight = Parameter(rng.uniform(-k, k, (self.out_features, self.in_features)),
                                dtype=dtype)
        self.bias = Parameter(rng.uniform(-k, k, self.out_features), dtype=dtype) if bias \
            else None
        backend = device_backend("Linear", device)
        if backend is not None:
            self.to(backend)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"Linear: input must be a Tensor, got {type(x).__name__}")
        if x.shape[-1:] != (self.in_features,):
            got = x.shape[-1] if x.ndim else "no"
            raise ShapeError(f"Linear: input of shape {x.shape} has {got} features, expected "
                             f"{self.in_features}")
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"
