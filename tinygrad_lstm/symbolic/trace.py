"""Evaluate a recorded graph symbolically: the primitives' SymPy rules, node by node.

The step of a cell runs once on real tensors (width 1, so every quantity is a scalar), the
tape records it, and walking that graph with each primitive's ``symbolic`` rule gives the
cell's update as SymPy expressions, entry by entry: the primitive table's own rules, so the
result can be compared number for number with the forward (``printer.py`` prints the
vector-level equations).

>>> import tinygrad_lstm as tl
>>> from tinygrad_lstm.symbolic.trace import step_expressions
>>> exprs = step_expressions(tl.cells.RNN(1, 1))
>>> str(exprs["h"])
'tanh(W_{h,h}*h_{t-1} + W_{h,x}*x_t + b_{h})'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_lstm.cells.base import Cell
from tinygrad_lstm.tensor import Tensor, zeros

#: how state names print at t-1 (the essay writes the cell state as C)
STATE_SYMBOLS = {"c": "C"}


def _sympy() -> Any:
    import sympy

    return sympy


def evaluate(outputs: list[Tensor], leaves: dict[int, Any]) -> list[Any]:
    """SymPy values of ``outputs``, given SymPy values (object arrays) for the graph's leaves."""
    values: dict[int, Any] = dict(leaves)
    stack: list[tuple[Tensor, bool]] = [(t, False) for t in outputs]
    while stack:
        tensor, ready = stack.pop()
        if id(tensor) in values:
            continue
        node = tensor._node
        if node is None:
            if tensor.requires_grad:
                raise ValueError(f"symbolic: a leaf of shape {tensor.shape} that requires "
                                 "grad has no symbol")
            values[id(tensor)] = _constant(tensor.numpy())  # made inside step: a constant
            continue
        tensors = [p for p in node.parents if isinstance(p, Tensor)]
        if not ready:
            stack.append((tensor, True))
            stack.extend((p, False) for p in tensors if id(p) not in values)
            continue
        args = [values[id(p)] if isinstance(p, Tensor) else p for p in node.parents]
        params = {k: (v.get() if hasattr(v, "get") and not isinstance(v, dict) else v)
                  for k, v in node.params.items()}
        values[id(tensor)] = node.prim.symbolic(*args, **params)
    return [values[id(t)] for t in outputs]


def _constant(values: np.ndarray) -> np.ndarray:
    sp = _sympy()
    as_sympy = [sp.Integer(int(v)) if float(v).is_integer() else sp.Float(float(v))
                for v in values.ravel()]
    return np.array(as_sympy, dtype=object).reshape(values.shape)


def _symbols(name: str, shape: tuple[int, ...]) -> np.ndarray:
    sp = _sympy()
    size = int(np.prod(shape)) if shape else 1
    if size == 1:
        return np.full(shape, sp.Symbol(name), dtype=object)
    return np.array([sp.Symbol(f"{name}[{k}]") for k in range(size)],
                    dtype=object).reshape(shape)


def _param_symbol(name: str) -> str:
    kind, _, rest = name.partition("_")
    return f"{kind}_{{{rest.replace('_', ',')}}}" if rest else name


def step_expressions(cell: Cell) -> dict[str, Any]:
    """Each new state of ``cell`` as a SymPy expression of x_t, the previous state and the
    parameters. Meant for a cell of width 1 (scalars); wider cells give object arrays."""
    cell._ensure_built()
    leaves: dict[int, Any] = {}
    for name, p in cell.named_parameters():
        leaves[id(p)] = _symbols(_param_symbol(name), p.shape)
    x = zeros((1, cell.input_size), dtype=cell.dtype, requires_grad=True)
    state = tuple(zeros((1, cell.state_size(s)), dtype=cell.dtype, requires_grad=True)
                  for s in cell.state)
    context = tuple(zeros((1, cell.state_size(s)), dtype=cell.dtype, requires_grad=True)
                    for s in cell.context.values())
    leaves[id(x)] = _symbols("x_t", x.shape)
    for s, t in zip(cell.state, state, strict=True):
        leaves[id(t)] = _symbols(f"{STATE_SYMBOLS.get(s, s)}_{{t-1}}", t.shape)
    for s, t in zip(cell.context, context, strict=True):
        leaves[id(t)] = _symbols(s, t.shape)
    new = cell.run_step(x, state, context)
    values = evaluate(list(new), leaves)
    out = {}
    for name, value in zip(cell.state, values, strict=True):
        arr = np.asarray(value, dtype=object)
        out[name] = arr.reshape(-1)[0] if arr.size == 1 else arr
    return out
