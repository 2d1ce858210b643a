"""Variable-length batches: ``pad_sequence`` returns the padded batch and its ``lengths``.

This project has no packed sequences: a padded batch and ``lengths=`` do their work. A padded
step leaves each sequence's state unchanged and outputs zeros, so the final state is the state
after each sequence's last real step (what ``h_n`` of a packed run is) and the outputs are what
``pad_packed_sequence`` gives back. From PyTorch:

===================================================  ============================================
PyTorch                                              here
===================================================  ============================================
``padded = pad_sequence(seqs)``                      ``padded, lengths = tl.nn.pad_sequence(seqs)``
``packed = pack_padded_sequence(padded, lengths,``   nothing to build: keep ``padded`` and
``enforce_sorted=False)``                            ``lengths`` (any order; no sorting)
``out, (h_n, c_n) = lstm(packed)``                   ``out, (h_n, c_n) = lstm(padded,``
                                                     ``lengths=lengths)``
``out, lens = pad_packed_sequence(out)``             ``out`` (padded steps are zeros), ``lengths``
``pack_sequence(seqs)``                              ``tl.nn.pad_sequence(seqs)``, as above
``h_n[-1]`` (last layer, forward direction)          the same: ``h_n[-1]``; bidirectional:
                                                     ``h_n[-2]`` forward, ``h_n[-1]`` reverse
===================================================  ============================================

>>> import numpy as np, tinygrad_lstm as tl
>>> seqs = [tl.Tensor(np.ones((3, 2))), tl.Tensor(np.ones((1, 2)))]
>>> padded, lengths = tl.nn.pad_sequence(seqs)
>>> padded.shape, lengths.tolist()
((3, 2, 2), [3, 1])
>>> out, h_n = tl.nn.GRU(2, 4)(padded, lengths=lengths)
>>> float(abs(out.numpy()[1:, 1]).sum())   # past its length, the second sequence is zeros
0.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_lstm.errors import ShapeError
from tinygrad_lstm.tensor import Tensor, concat, stack

__all__ = ["pad_sequence"]


def pad_sequence(sequences: Sequence[Any], batch_first: bool = False,
                 padding_value: float = 0.0) -> tuple[Tensor, np.ndarray]:
    """Stack sequences of shapes (L_i, *features) into (T, B, *features) (or (B, T, ...) with
    ``batch_first``), T = max L_i, padding with ``padding_value``; and their lengths (int64).

    Differentiable: gradients reach each sequence (Tensors with ``requires_grad``). Arrays are
    turned into Tensors. Raises ShapeError for an empty list, a 0-d or empty sequence, or
    sequences whose feature shapes differ.
    """
    if isinstance(sequences, Tensor) or not isinstance(sequences, Sequence) or not sequences:
        raise ShapeError("pad_sequence: expected a non-empty list of sequences, got "
                         f"{type(sequences).__name__}")
    seqs = [s if isinstance(s, Tensor) else Tensor(s) for s in sequences]
    tail = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.ndim == 0 or s.shape[0] == 0:
            raise ShapeError(f"pad_sequence: sequence {i} has shape {s.shape}; each needs at "
                             "least one step")
        if s.shape[1:] != tail:
            raise ShapeError(f"pad_sequence: sequence {i} has shape {s.shape}, the first "
                             f"{seqs[0].shape}: the feature shapes must agree")
    lengths = np.array([s.shape[0] for s in seqs], dtype=np.int64)
    steps = int(lengths.max())
    padded = []
    for s in seqs:
        short = steps - s.shape[0]
        if short:
            fill = Tensor(np.full((short, *tail), float(padding_value)), dtype=s.dtype,
                          backend=s.backend)
            s = concat([s, fill], axis=0)
        padded.append(s)
    return stack(padded, axis=0 if batch_first else 1), lengths
