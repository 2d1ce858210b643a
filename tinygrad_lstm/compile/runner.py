"""A compiled layer: one tape node (the ``recurrent_layer`` primitive) per layer and direction.
What it computes, on arrays, is ``compile/layer.py``; this puts it on the tape.

Inputs of the node, in order: the sequence xs (T, B, I), the initial states (B, H) each, the
stacked input weights W_x (G_x·H, I) of the G_x gates reading x_t (no zero block for an h-only
gate such as the GRU's hn), the stacked biases b (G·H,), one stacked weight per product
(``Graph.products``: a state or a computed value the gates read; its gates' blocks, (n·H, H);
the forward's GEMMs read its transpose, made once per call), and the per-column
parameters (H,), then the context inputs (T, B, H) (``Cell.context``: the layer below's states
at each step). Gates are stacked by level; a gate that does not read an argument has a zero
block there. Outputs: the sequence (T, B, H), the final states, then the states ``seqs`` after
every step (T, B, H) each, for a layer above that reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_lstm.compile.layer import _Saved, layer_forward, layer_vjp
from tinygrad_lstm.primitives import Primitive
from tinygrad_lstm.tensor import Tensor, apply

if TYPE_CHECKING:
    from tinygrad_lstm.cells.base import Cell
    from tinygrad_lstm.compile.kernels import Compiled


def _layer_symbolic(*args: Any, **params: Any) -> Any:
    raise NotImplementedError("recurrent_layer: a compiled layer prints as its cell: "
                              "tl.symbolic.equations(cell)")


def _stacked_forward(xp: Any, xs: Any, *arrays: Any, stacks: tuple[Any, ...], n_states: int,
                     saved: _Saved, **params: Any) -> tuple[Any, ...]:
    """The node's inputs are the gates' own weight blocks and biases: they are stacked here,
    in NumPy, rather than by concat nodes on the tape (at the small size those nodes and their
    VJPs cost more than a tenth of the layer's time). ``stacks``: per stacked array (W_x, b,
    each W_s), the block shape and per block whether it is an input (else zeros), or None
    where the stacked array is itself the input (a cell that stores it, ``tl.nn.LSTMCell``)."""
    dtype = params["kernels"].dtype
    pos = n_states
    stacked = []
    for shape, present in stacks:
        if present is None:  # the cell stores this stack as one tensor: it is the input
            stacked.append(arrays[pos])
            pos += 1
            continue
        parts = []
        for here in present:
            parts.append(arrays[pos] if here else xp.zeros(shape, dtype))
            pos += bool(here)
        stacked.append(parts[0] if len(parts) == 1 else
                       xp.concatenate(parts) if parts else xp.zeros((0, *shape[1:]), dtype))
    saved.stacked, saved.end = stacked, pos
    return layer_forward(xp, xs, *arrays[:n_states], *stacked, *arrays[pos:],
                          n_states=n_states, saved=saved, **params)


def _stacked_vjp(xp: Any, gs: tuple[Any, ...], outs: tuple[Any, ...], xs: Any, *arrays: Any,
                 stacks: tuple[Any, ...], n_states: int, saved: _Saved, **params: Any
                 ) -> tuple[Any, ...]:
    """``layer_vjp`` on the stacked arrays, its gradients split back into blocks (views)."""
    extra = arrays[saved.end:]
    grads = layer_vjp(xp, gs, outs, xs, *arrays[:n_states], *saved.stacked, *extra,
                       n_states=n_states, saved=saved, **params)
    out = list(grads[:1 + n_states])
    for (shape, present), grad in zip(stacks, grads[1 + n_states:], strict=False):
        rows = shape[0]
        out += [grad] if present is None else \
            [grad[k * rows:(k + 1) * rows] for k, here in enumerate(present) if here]
    return (*out, *grads[1 + n_states + len(stacks):])


#: the sequence primitive: a whole layer (one direction) of a compiled cell, one tape node
RECURRENT_LAYER = Primitive(
    "recurrent_layer", None, _stacked_forward, _stacked_vjp, _layer_symbolic,
    "a compiled cell over a sequence: the input GEMM, then per step a GEMM and a fused kernel",
    multiple=True, fresh_grads=True)


def _layer_plan(cell: Cell, kernels: Compiled
                ) -> tuple[list[tuple[str, ...]], tuple[tuple[Any, tuple[bool, ...] | None], ...]]:
    """The node's parameter inputs, each as the names ``cell.stacked_parameters`` takes (one
    gate block; or a whole stack, W_x, b or a W_s, where the cell stores it as one tensor:
    ``cell.stores_stacked``), and the stacks' description for ``_stacked_forward``. A block
    without a parameter (a gate that does not read that argument) is zeros there. Made once
    per cell and kernels (a cell's gates are fixed once it is built): the walk over the gates
    costs more than a tenth of a call at T1 B1 H1."""
    memo = cell.__dict__.get("_layer_plan")
    if memo is not None and memo[0] is kernels:
        return memo[1], memo[2]
    g = kernels.graph
    H, In = cell.hidden_size, cell.input_size
    specs = [cell.gates[name] for name in g.gates]
    x_arg = cell._args[0]
    x_specs = [specs[k] for k in kernels.x_columns[0]]
    groups: list[tuple[list[str | None], tuple[int, ...]]] = [
        ([s.weights[s.sources.index(x_arg)] for s in x_specs], (H, In)),
        ([s.bias or None for s in specs], (H,))]
    for kind, name, lo, hi, _ in g.products():
        names: list[str | None] = []
        for spec in specs[lo:hi]:
            if kind == "s":
                arg = cell._args[1 + g.states.index(name)]
                names.append(spec.weights[spec.sources.index(arg)] if arg in spec.sources
                             else None)
            else:
                pairs = next(p for n, _, p in g.computed if n == name)
                hit = [pos for gate, pos in pairs if gate == spec.name]
                names.append(spec.weights[hit[0]] if hit else None)
        groups.append((names, (H, H)))
    fetch: list[tuple[str, ...]] = []
    stacks: list[tuple[Any, tuple[bool, ...] | None]] = []
    for names, shape in groups:
        whole = [n for n in names if n is not None]
        if len(whole) > 1 and len(whole) == len(names) and cell.stores_stacked(whole):
            fetch.append(tuple(whole))  # the cell's own tensor (and no slices of it)
            stacks.append((shape, None))
        else:
            fetch += [(n,) for n in whole]
            stacks.append((shape, tuple(n is not None for n in names)))
    object.__setattr__(cell, "_layer_plan", (kernels, fetch, tuple(stacks)))
    return fetch, tuple(stacks)


def run_layer(cell: Cell, kernels: Compiled, xs: Tensor, state: tuple[Tensor, ...],
              valid: np.ndarray | None, reverse: bool, h_mask: Tensor | None = None,
              context: tuple[Tensor, ...] = (), seqs: tuple[int, ...] = ()
              ) -> tuple[Tensor, tuple[Tensor, ...], dict[int, Tensor]]:
    """``cell`` over ``xs`` (T, B, I) from ``state``: (outputs (T, B, H), final state, the
    states ``seqs`` (indices into ``cell.state``) after every step, (T, B, H) each).
    ``h_mask`` (B, H): recurrent dropout's mask, by which every step's h_{t-1} is multiplied.
    ``context``: one (T, B, H) sequence per ``cell.context`` input (the layer below's states)."""
    g = kernels.graph
    T, B, In = xs.shape
    params = cell._parameters
    fetch, stacks = _layer_plan(cell, kernels)
    block = cell.stacked_parameters  # a cell may keep its gate blocks in its own layout
    inputs = [block(names) for names in fetch]
    extra = [params[name] for name in g.params]
    mask = np.ones((T, B), dtype=bool) if valid is None else \
        np.arange(T)[:, None] < valid[None, :]
    mask = xs.backend.xp.asarray(mask)
    outs = apply(RECURRENT_LAYER, xs, *state, *inputs, *extra, *context, kernels=kernels,
                 n_states=len(g.states), n_products=len(stacks) - 2, reverse=reverse,
                 valid=mask, saved=_Saved(), need_dx=xs.requires_grad, stacks=stacks,
                 hmask=None if h_mask is None else h_mask.data, seqs=tuple(seqs),
                 padded=valid is not None)
    n = len(g.states)
    return outs[0], tuple(outs[1:1 + n]), dict(zip(seqs, outs[1 + n:], strict=True))
