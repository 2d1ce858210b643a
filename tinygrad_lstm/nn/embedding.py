"""Embedding: a lookup table of vectors, read by integer indices (PyTorch's ``nn.Embedding``).

The lookup is one ``take`` primitive: O(tokens x dim) forward, and a scatter-add backward that
touches only the rows read (repeated tokens add up), instead of a one-hot matrix product.

>>> import numpy as np, tinygrad_lstm as tl
>>> tl.manual_seed(0)
>>> emb = tl.nn.Embedding(10, 3, padding_idx=0)
>>> tokens = np.array([[1, 2, 0], [4, 4, 0]])        # (batch, time), 0 pads
>>> out = emb(tokens)
>>> out.shape, out.numpy()[0, 2].tolist()             # the padding row starts at zero
((2, 3, 3), [0.0, 0.0, 0.0])
>>> out.sum().backward()
>>> emb.weight.grad.numpy()[[0, 4]].tolist()          # no gradient for padding; token 4 twice
[[0.0, 0.0, 0.0], [2.0, 2.0, 2.0]]
"""

from __future__ import annotations

import numbers
from typing import Any

from tinygrad_lstm import random as tl_random
from tinygrad_lstm.checks import check_int
from tinygrad_lstm.errors import ShapeError
from tinygrad_lstm.module import Module, Parameter
from tinygrad_lstm.nn.rnn_cells import device_backend
from tinygrad_lstm.tensor import _P, Tensor, apply
from tinygrad_lstm.tensor_torch import index_array

__all__ = ["Embedding", "embedding"]


def _padding(owner: str, padding_idx: Any, num_embeddings: int) -> int | None:
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral) \
            or not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{owner}: padding_idx must be an int in [{-num_embeddings}, "
                         f"{num_embeddings}), got {padding_idx!r}")
    return int(padding_idx) % num_embeddings


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, embedding_dim) at the integer ``input`` (any
    shape): a tensor of shape ``input.shape + (embedding_dim,)``, as
    ``torch.nn.functional.embedding``. The gradient of a row is the sum over the positions
    that read it; the row ``padding_idx`` gets none.

    ``input`` is a list or an int array (NumPy, CuPy, or anything with ``__array__``, a torch
    LongTensor included). Raises TypeError for float indices, IndexError for an index outside
    ``[0, num_embeddings)``, ShapeError for a weight that is not 2-D.
    """
    if not isinstance(weight, Tensor):
        raise TypeError(f"embedding: weight must be a Tensor, got {type(weight).__name__}")
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    indices = index_array("embedding", input, weight, weight.shape[0])
    return apply(_P["take"], weight, indices=indices, axis=0,
                 padding_idx=_padding("embedding", padding_idx, weight.shape[0]))


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, ~ N(0, 1) as in
    PyTorch; the row ``padding_idx`` (if given) starts at zero and is never updated by a
    gradient. ``forward(input)`` maps integer indices of any shape to
    ``input.shape + (embedding_dim,)``.

    PyTorch's ``max_norm``, ``scale_grad_by_freq`` and ``sparse`` are refused unless left at
    their defaults (the gradient here is dense over the table, built by a scatter-add).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Any = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if max_norm is not None:
            raise ValueError("Embedding: max_norm is not supported (it renormalises rows in "
                             "place during forward); clip the table yourself under no_grad()")
        if scale_grad_by_freq or sparse:
            raise ValueError("Embedding: scale_grad_by_freq and sparse are not supported; the "
                             "gradient is a dense table, summed over the rows' occurrences")
        self.num_embeddings = check_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = check_int("Embedding", "embedding_dim", embedding_dim)
        self.padding_idx = _padding("Embedding", padding_idx, self.num_embeddings)
        backend = device_backend("Embedding", device)
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            table = tl_random.generator().standard_normal(shape)
            if self.padding_idx is not None:
                table[self.padding_idx] = 0.0
        else:
            table = _weight.numpy() if isinstance(_weight, Tensor) else _weight
            if tuple(getattr(table, "shape", ())) != shape:
                raise ValueError(f"Embedding: _weight has shape "
                                 f"{tuple(getattr(table, 'shape', ()))}, expected {shape}")
        self.weight = Parameter(table, dtype=dtype, backend=backend)
        if _freeze:
            self.weight.requires_grad = False

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True,
                        padding_idx: int | None = None, dtype: Any = None) -> Embedding:
        """An Embedding holding a copy of ``embeddings`` (2-D), frozen unless ``freeze=False``,
        as ``torch.nn.Embedding.from_pretrained``."""
        shape = tuple(getattr(embeddings, "shape", ()))
        if len(shape) != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{shape}")
        return cls(shape[0], shape[1], padding_idx=padding_idx, _weight=embeddings,
                   _freeze=freeze, dtype=dtype)

    def forward(self, input: Any) -> Tensor:
        return embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
