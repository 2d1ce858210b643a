"""The sequence runner: any cell over a sequence, in layers and directions, with lengths.

>>> import numpy as np, tinygrad_lstm as tl
>>> rnn = tl.nn.Recurrent(tl.cells.LSTM(3, 8), num_layers=2, bidirectional=True)
>>> out, state = rnn(tl.Tensor(np.zeros((5, 2, 3))))
>>> out.shape, len(state), [s.shape for s in state[0]]
((5, 2, 16), 4, [(2, 8), (2, 8)])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_lstm import random as tl_random
from tinygrad_lstm.cells.base import Cell
from tinygrad_lstm.cells.plan import GETITEM, StepPlan
from tinygrad_lstm.checks import check_int, check_probability
from tinygrad_lstm.errors import ShapeError
from tinygrad_lstm.module import Module
from tinygrad_lstm.tensor import Tensor, apply, concat, stack, where, zeros

State = list[tuple[Tensor, ...]]


def detach_state(state: State) -> State:
    """The same state cut from the graph: carry it into the next chunk for truncated BPTT."""
    return [tuple(s.detach() for s in layer) for layer in state]


def _rate(name: str, p: Any) -> float:
    return check_probability("Recurrent", name, p)


class Recurrent(Module):
    """Runs a cell over sequences: ``out, state = rnn(x_seq, state=None, lengths=None)``.

    * ``x_seq``: (T, B, input_size), or (B, T, input_size) with ``batch_first=True``.
    * ``out``: every step's output of the last layer, (T, B, directions * hidden_size); steps past
      a sequence's length are zeros.
    * ``state``: one tuple of state tensors per layer and direction, in the order layer 0
      forward, layer 0 reverse, layer 1 forward, ...; the final state of each is the state after
      its sequence's last valid step. Pass it back in as ``state=`` to continue (detach it with
      ``detach_state`` for truncated BPTT).
    * ``lengths``: the valid length of each sequence in a padded batch (any order). A padded
      step leaves the state unchanged, so the result for each sequence equals running it alone.

    Layers above the first are clones of ``cell`` reading the layer below. ``dropout`` drops the
    outputs between layers in training mode; ``input_dropout`` drops the first layer's inputs and
    ``recurrent_dropout`` the h_{t-1} each step reads (one mask per sequence, Gal & Ghahramani
    2016). ``variational=True`` makes the between-layer and input masks one per sequence too.
    ``fused=False`` runs each gate on its own (the plain path; for checking the planned one).
    ``compile=True`` (default) runs each layer as compiled kernels when its cell compiles
    (``tl.cells.explain(cell)`` says whether and why not; ``tinygrad_lstm.compile``);
    ``compile=False`` keeps the tape path. ``recurrent_dropout`` compiles too (unlike Keras,
    where it rules out the fused cuDNN kernel): the time loop multiplies h_{t-1} by the mask.
    """

    def __init__(self, cell: Cell, num_layers: int = 1, bidirectional: bool = False,
                 batch_first: bool = False, dropout: float = 0.0, input_dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, variational: bool = False,
                 fused: bool = True, compile: bool = True) -> None:
        super().__init__()
        if not isinstance(cell, Cell):
            raise TypeError(f"Recurrent: cell must be a tl.Cell, got {type(cell).__name__}")
        self.num_layers = check_int("Recurrent", "num_layers", num_layers)
        self.directions = 2 if bidirectional else 1
        self.batch_first = bool(batch_first)
        self.dropout = _rate("dropout", dropout)
        self.input_dropout = _rate("input_dropout", input_dropout)
        self.recurrent_dropout = _rate("recurrent_dropout", recurrent_dropout)
        self.variational = bool(variational)
        self.fused = bool(fused)
        self.compile = bool(compile)
        self.input_size = cell.input_size
        self.hidden_size = cell.hidden_size
        self.cells: list[Cell] = []
        for layer in range(self.num_layers):
            for direction in range(self.directions):
                if layer == 0 and direction == 0:
                    c = cell
                else:
                    width = cell.input_size if layer == 0 else \
                        cell.output_size() * self.directions
                    c = cell.clone(input_size=width)
                setattr(self, f"l{layer}" + ("_reverse" if direction else ""), c)
                self.cells.append(c)

    def extra_repr(self) -> str:
        return (f"num_layers={self.num_layers}, bidirectional={self.directions == 2}, "
                f"batch_first={self.batch_first}")

    # --- checking what comes in --------------------------------------------------------------
    def _check_lengths(self, lengths: Any, steps: int, batch: int) -> np.ndarray | None:
        if lengths is None:
            return None
        if isinstance(lengths, Tensor):
            lengths = lengths.numpy()
        arr = np.asarray(lengths)
        if arr.ndim != 1 or arr.shape[0] != batch:
            raise ShapeError(f"Recurrent: lengths must have one entry per sequence ({batch}), "
                             f"got shape {arr.shape}")
        if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and
                                                np.all(arr == np.round(arr))):
            raise TypeError(f"Recurrent: lengths must be integers, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        for i, n in enumerate(arr):
            if n < 1:
                raise ValueError(f"Recurrent: lengths[{i}] = {n}: every sequence needs at "
                                 "least one step")
            if n > steps:
                raise ValueError(f"Recurrent: lengths[{i}] = {n} is longer than the sequence "
                                 f"(T = {steps})")
        return None if np.all(arr == steps) else arr

    def _check_state(self, state: Any, batch: int, backend: Any = None) -> State:
        count = self.num_layers * self.directions
        if state is None:  # zeros on the input's backend
            return [c.init_state(batch, backend) for c in self.cells]
        stacked = isinstance(state, tuple | list) and len(state) > 0 and \
            all(isinstance(s, Tensor) and s.ndim == 3 for s in state)
        if stacked:  # PyTorch's (num_layers * directions, B, H) per state
            raise ValueError("Recurrent: state is one tuple per layer and direction, [(h, c), "
                             "...] of (B, H) tensors; got 3-D tensors (PyTorch's stacked form: "
                             "tl.nn.LSTM / GRU / RNN take that as hx)")
        if count == 1 and isinstance(state, tuple) and all(isinstance(s, Tensor) for s in state):
            state = [state]
        if not isinstance(state, list | tuple) or len(state) != count:
            raise ValueError(f"Recurrent: state must be a list of {count} tuples (one per layer "
                             f"and direction), got {type(state).__name__}"
                             + (f" of length {len(state)}" if hasattr(state, "__len__") else ""))
        return [c.check_state(s, batch, type(self).__name__)
                for c, s in zip(self.cells, state, strict=True)]

    def _mask(self, p: float, shape: tuple[int, ...], like: Tensor) -> Tensor:
        keep = tl_random.generator().random(shape) >= p
        return Tensor(keep / (1.0 - p), dtype=like.dtype, backend=like.backend)

    # --- running -----------------------------------------------------------------------------
    def forward(self, x: Tensor, state: Any = None,
                lengths: Any = None) -> tuple[Tensor, State]:
        first = self.cells[0]
        layout = "(B, T, features)" if self.batch_first else "(T, B, features)"
        first.check_input(x, type(self).__name__, (3,), f"3-D {layout}")
        if self.batch_first:
            x = x.transpose(1, 0, 2)
        steps, batch = x.shape[0], x.shape[1]
        if steps == 0:
            raise ShapeError("Recurrent: the sequence is empty (T = 0)")
        for c in self.cells:
            c._ensure_built()
        valid = self._check_lengths(lengths, steps, batch)
        states = self._check_state(state, batch, x.backend)
        masks = None
        if valid is not None:
            keep = np.arange(steps)[:, None] < valid[None, :]  # (T, B): the valid steps
            masks = [x.backend.asarray(keep[t][:, None]) for t in range(steps)]
            # Padding is never read: its entries are replaced (selected, not multiplied, so a
            # NaN or inf there reaches neither a value nor a gradient) before any product, the
            # hoisted input projection included, and before input dropout.
            x = where(x.backend.asarray(keep[:, :, None]), x, 0.0)
        training = self.training
        if training and self.input_dropout:
            shape = (1, batch, x.shape[2]) if self.variational else x.shape
            x = x * self._mask(self.input_dropout, shape, x)
        finals: State = []
        below: list[list[tuple[Tensor, ...]]] = []
        layer_in = x
        for layer in range(self.num_layers):
            outs, here = [], []
            above = self.cells[(layer + 1) * self.directions] \
                if layer + 1 < self.num_layers else None
            # the states the layer above reads at each step (its context), by index
            seqs = tuple(sorted({above._state_index_below(name) for name in above.context})) \
                if above is not None else ()
            for direction in range(self.directions):
                index = layer * self.directions + direction
                cell = self.cells[index]
                context = [_per_state(below[direction], cell._state_index_below(name))
                           for name in cell.context] if cell.context and below else None
                out, final, trail = self._run(cell, layer_in, states[index], masks,
                                              reverse=direction == 1, context=context,
                                              valid=valid, seqs=seqs)
                outs.append(out)
                here.append(trail)
                finals.append(final)
            below = here
            layer_in = outs[0] if len(outs) == 1 else concat(outs, axis=-1)
            if training and self.dropout and layer < self.num_layers - 1:
                shape = (1, batch, layer_in.shape[2]) if self.variational else layer_in.shape
                layer_in = layer_in * self._mask(self.dropout, shape, layer_in)
        out = layer_in.transpose(1, 0, 2) if self.batch_first else layer_in
        return out, finals

    def _run(self, cell: Cell, xs: Tensor, state: tuple[Tensor, ...], masks: list | None,
             reverse: bool, context: list[Tensor | list[Tensor]] | None, valid: Any = None,
             seqs: tuple[int, ...] = ()) -> tuple[Tensor, tuple[Tensor, ...], Any]:
        """One layer and direction: (outputs (T, B, H), final state, the trail the layer above
        reads: per step the state tuple (tape path), or {state index: (T, B, H)} for the
        states ``seqs`` (compiled). ``context``: per context input of ``cell``, the layer
        below's state over the steps, as a list of (B, H) or one (T, B, H) tensor."""
        steps, batch = xs.shape[0], xs.shape[1]
        h_mask = None
        if self.training and self.recurrent_dropout:
            h_mask = self._mask(self.recurrent_dropout, (batch, cell.state_size(cell.state[0])),
                                xs)
        if self.compile and self.fused:
            from tinygrad_lstm.compile import run_compiled

            whole: tuple[Tensor, ...] = ()
            if cell.context:  # the first layer reads zeros
                whole = tuple(c if isinstance(c, Tensor) else stack(c) for c in context) \
                    if context else tuple(zeros((steps, batch, cell.state_size(s)),
                                                dtype=cell.dtype, backend=xs.backend)
                                          for s in cell.context.values())
            done = run_compiled(cell, xs, state, valid, reverse, h_mask, whole, seqs)
            if done is not None:
                return done
        zero_context = cell._zero_context(batch, xs.backend) if cell.context else ()
        if context:  # per step, as the step reads it
            context = [c if isinstance(c, list) else [c[t] for t in range(steps)]
                       for c in context]
        plan = StepPlan(cell, xs) if self.fused else None
        outputs: list[Tensor | None] = [None] * steps
        trail: list[tuple[Tensor, ...]] = [()] * steps
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            if plan is not None:
                plan.begin(t)
            fed = state if h_mask is None else (state[0] * h_mask, *state[1:])
            extra = tuple(c[t] for c in context) if context else zero_context
            x_t = apply(GETITEM, xs, index=t) if xs.requires_grad else \
                Tensor._wrap(xs.data[t], xs.backend)  # xs[t]; a constant needs no node
            new = cell.run_step(x_t, fed, extra, strategy=plan)
            if masks is not None:
                new = tuple(where(masks[t], n, s) for n, s in zip(new, state, strict=True))
            state = new
            out = cell.output(state)
            outputs[t] = out if masks is None else where(masks[t], out, 0.0)
            trail[t] = state
        return stack(outputs), state, trail


def _per_state(trail: Any, k: int) -> Tensor | list[Tensor]:
    """State ``k`` of a layer over the steps, from its trail (``Recurrent._run``)."""
    return trail[k] if isinstance(trail, dict) else [s[k] for s in trail]
