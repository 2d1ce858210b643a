"""``tl.nn.init``: PyTorch's initialisers, in place, drawing from ``tl.manual_seed``'s generator.

Each writes into the tensor's own array (the Parameter, its dtype and backend are kept, so an
optimiser holding it sees the new values) and returns the tensor. Fans are PyTorch's: for a
(out, in, *k) weight, fan_in = in·∏k and fan_out = out·∏k.

* ``xavier_uniform_`` / ``xavier_normal_``: Glorot & Bengio (2010), bound gain·√(6/(fan_in +
  fan_out)), std gain·√(2/(fan_in + fan_out)) (Keras's ``glorot_uniform``).
* ``kaiming_uniform_`` / ``kaiming_normal_``: He et al. (2015), std gain/√fan.
* ``orthogonal_``: Saxe et al. (2014), a uniformly distributed (semi-)orthogonal matrix times
  gain (Keras's recurrent default).

>>> import numpy as np, tinygrad_lstm as tl
>>> w = tl.nn.Parameter(np.zeros((4, 4)))
>>> q = tl.nn.init.orthogonal_(w).numpy()
>>> bool(np.allclose(q @ q.T, np.eye(4), atol=1e-5))
True
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from tinygrad_lstm import random as tl_random
from tinygrad_lstm.tensor import Tensor

__all__ = ["calculate_gain", "constant_", "eye_", "kaiming_normal_", "kaiming_uniform_",
           "normal_", "ones_", "orthogonal_", "uniform_", "xavier_normal_", "xavier_uniform_",
           "zeros_"]


def _fill(op: str, tensor: Any, values: Any) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor (a Parameter), got {type(tensor).__name__}")
    xp = tensor.backend.xp
    tensor.data[...] = xp.asarray(np.asarray(values, dtype=np.float64), dtype=tensor.dtype)
    return tensor


def _number(op: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """PyTorch's recommended gains: linear/sigmoid 1, tanh 5/3, relu √2, leaky_relu
    √(2/(1 + slope²)), selu 3/4."""
    if nonlinearity in ("linear", "identity", "sigmoid") or nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else _number("calculate_gain", "param", param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def _fans(op: str, tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(f"{op}: fan in and fan out need a tensor of 2 or more dims, got shape "
                         f"{tensor.shape}")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """U(a, b)."""
    lo, hi = _number("uniform_", "a", a), _number("uniform_", "b", b)
    return _fill("uniform_", tensor, tl_random.generator().uniform(lo, hi, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """N(mean, std²)."""
    mean, std = _number("normal_", "mean", mean), _number("normal_", "std", std)
    return _fill("normal_", tensor, tl_random.generator().normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Every entry ``val``."""
    return _fill("constant_", tensor, np.full(tensor.shape, _number("constant_", "val", val)))


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix (a 2-D tensor)."""
    if not isinstance(tensor, Tensor) or tensor.ndim != 2:
        raise ValueError(f"eye_: needs a 2-D tensor, got {getattr(tensor, 'shape', tensor)}")
    return _fill("eye_", tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a), a = gain·√(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = _fans("xavier_uniform_", tensor)
    bound = _number("xavier_uniform_", "gain", gain) * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std²), std = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans("xavier_normal_", tensor)
    std = _number("xavier_normal_", "gain", gain) * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def _kaiming_std(op: str, tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(op, tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b), b = √3·gain/√fan (He et al. 2015)."""
    std = _kaiming_std("kaiming_uniform_", tensor, a, mode, nonlinearity)
    return uniform_(tensor, -math.sqrt(3.0) * std, math.sqrt(3.0) * std)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std²), std = gain/√fan (He et al. 2015)."""
    return normal_(tensor, 0.0, _kaiming_std("kaiming_normal_", tensor, a, mode, nonlinearity))


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, the signs of R's
    diagonal folded in so it is uniformly distributed (Saxe et al. 2014); trailing dims are
    flattened, as in PyTorch."""
    if not isinstance(tensor, Tensor) or tensor.ndim < 2:
        raise ValueError("orthogonal_: needs a tensor of 2 or more dims, got shape "
                         f"{getattr(tensor, 'shape', type(tensor).__name__)}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = tl_random.generator().standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    scaled = _number("orthogonal_", "gain", gain) * q
    return _fill("orthogonal_", tensor, scaled.reshape(tensor.shape))
