"""tinygrad_lstm: recurrent cells written once, run on NumPy or CuPy, differentiated by a tape.

>>> import numpy as np, tinygrad_lstm as tl
>>> W = tl.Tensor(np.full((8, 4), 0.1), requires_grad=True)
>>> x = tl.Tensor(np.ones((3, 8)))
>>> y = (x @ W).sigmoid() * (x @ W).tanh()
>>> y.sum().backward()
>>> W.grad.numpy().shape
(8, 4)
"""

import tinygrad_lstm.tensor as _tensor_module
from tinygrad_lstm import cells, compile, nn, optim, study, symbolic, tasks, train
from tinygrad_lstm.cells import Cell
from tinygrad_lstm.checkpoint import CheckpointError, load, save
from tinygrad_lstm.context import backends_available, get_backend, set_backend, use_backend
from tinygrad_lstm.errors import (
    BackendMismatchError,
    BackendUnavailable,
    DataDependentError,
    DTypeError,
    GradcheckError,
    GraphFreedError,
    ShapeError,
)
from tinygrad_lstm.gradcheck import gradcheck
from tinygrad_lstm.primitives import PRIMITIVES, Primitive
from tinygrad_lstm.random import manual_seed
from tinygrad_lstm.tape import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from tinygrad_lstm.tensor import (
    Tensor,
    addmm,
    concat,
    float32,
    float64,
    matmul,
    maximum,
    ones,
    stack,
    where,
    zeros,
)
from tinygrad_lstm.tensor_torch import CallableModule, cat, from_numpy, log_softmax, softmax
from tinygrad_lstm.threads import get_num_threads, set_num_threads

# ``tl.tensor`` is the module tinygrad_lstm.tensor; calling it is PyTorch's tensor(...)
_tensor_module.__class__ = CallableModule

__version__ = "0.1.0"

__all__ = [
    "BackendMismatchError", "BackendUnavailable", "Cell", "CheckpointError",
    "DataDependentError", "DTypeError",
    "GradcheckError", "GraphFreedError", "PRIMITIVES", "Primitive", "ShapeError", "Tensor",
    "addmm", "backends_available", "cat", "cells", "compile", "concat", "detect_anomaly",
    "enable_grad", "float32", "float64", "from_numpy", "get_backend", "gradcheck",
    "is_grad_enabled", "load", "log_softmax", "manual_seed", "matmul", "maximum", "nn", "no_grad",
    "ones", "optim", "save", "set_backend", "softmax", "stack", "study", "symbolic", "tasks",
    "tensor", "train", "use_backend", "where", "zeros",
]
__all__ += ["get_num_threads", "set_num_threads"]  # BLAS threads (tinygrad_lstm/threads.py)
