"""Trace: a cell's own ``step``, run once, with each gate answered by a leaf z_g.

What the step computes from those leaves to its new state is the pointwise part of the cell: the
part the compiler turns into kernels. The leaves are the gates' pre-activations z_g (what the
GEMMs compute), the previous state, per-column parameters (peepholes) and constants. A node of
any other kind (a reduction such as layer norm, a selection by data, a matrix product inside the
step) makes the cell not compilable, with the reason, and the tape path runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_lstm.tape import enable_grad
from tinygrad_lstm.tensor import Tensor

if TYPE_CHECKING:
    from tinygrad_lstm.cells.base import Cell

#: primitives the compiler takes: elementwise, with a symbolic rule, no data-dependent choice
ELEMENTWISE = frozenset({"add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sigmoid",
                         "tanh", "relu", "maximum"})
#: the batch the trace runs at: 2 rows, so a reduction over rows cannot pass for elementwise
TRACE_BATCH = 2


class NotCompilable(Exception):  # noqa: N818 - a reason, not a failure
    """Why a cell runs on the tape path instead of compiled kernels (one line)."""


# a reference to a value of the pointwise graph: ("z", gate) | ("s", state) | ("p", param)
# | ("v", node number) | ("c", constant)
Ref = tuple[str, Any]


@dataclass
class Graph:
    """The pointwise part of one step: leaves, nodes in the order they ran, and the new state.

    ``gates`` and ``states`` name the z and state leaves; ``sources`` gives, per gate, the step
    arguments its affine map reads; ``params`` the per-column parameters the step reads.
    """

    gates: tuple[str, ...]
    sources: dict[str, tuple[str, ...]]
    states: tuple[str, ...]
    params: tuple[str, ...]
    nodes: list[tuple[str, tuple[Ref, ...], tuple[tuple[str, Any], ...]]] = field(
        default_factory=list)
    outputs: tuple[Ref, ...] = ()

    def key(self, dtype: Any) -> str:
        """A hash of everything the kernels depend on (not of sizes or values)."""
        text = repr((self.gates, sorted(self.sources.items()), self.states, self.params,
                     self.nodes, self.outputs, np.dtype(dtype).name))
        return hashlib.sha256(text.encode()).hexdigest()[:20]


class _TracePlan:
    """Stands in for the sequence plan: answers each gate with its z leaf."""

    def __init__(self, cell: Cell, leaves: dict[str, Tensor]) -> None:
        self.cell = cell
        self.leaves = leaves

    def gate(self, name: str, inputs: tuple[Tensor, ...]) -> Tensor:
        cell = self.cell
        spec = cell.gates.get(name)
        current = cell._current
        sources = []
        for t in inputs:
            hit = [a for a, v in zip(cell._args, current, strict=True) if v is t]
            if not hit:
                raise NotCompilable(f"gate {name!r} reads a value computed inside the step "
                                    "(such as r * h): that needs kernel phases, which the "
                                    "compiler does not build yet")
            sources.append(hit[0])
        if spec is None or tuple(sources) != spec.sources:
            raise NotCompilable(f"gate {name!r} reads other inputs than when the cell was built")
        if len(set(spec.sources)) != len(spec.sources):
            raise NotCompilable(f"gate {name!r} reads one step argument twice")
        if name in self.leaves:
            raise NotCompilable(f"gate {name!r} is used twice in one step")
        leaf = Tensor(np.zeros((TRACE_BATCH, spec.size)), dtype=cell.dtype, requires_grad=True)
        self.leaves[name] = leaf
        return leaf


def _check_shape(cell: Cell) -> None:
    from tinygrad_lstm.cells.base import Cell

    name = type(cell).__name__
    if type(cell).output is not Cell.output:
        raise NotCompilable(f"{name} defines its own output(); the compiler emits state[0]")
    if cell.context:
        raise NotCompilable(f"{name} reads the layer below at each step (context "
                            f"{tuple(cell.context)}), which the compiled layer does not supply")
    H = cell.hidden_size
    for s in cell.state:
        if cell.state_size(s) != H:
            raise NotCompilable(f"{name}: state {s!r} has width {cell.state_size(s)}, not "
                                f"hidden_size {H}; kernels take states of one width")
    for spec in cell.gates.values():
        if spec.size != H:
            raise NotCompilable(f"{name}: gate {spec.name!r} has width {spec.size}, not "
                                f"hidden_size {H}")
        for src in spec.sources:
            if src is None:
                raise NotCompilable(f"gate {spec.name!r} reads a value computed inside the "
                                    "step (such as r * h): that needs kernel phases, which "
                                    "the compiler does not build yet")
            if src not in cell._args[:1 + len(cell.state)]:
                raise NotCompilable(f"gate {spec.name!r} reads {src!r}, not x or a state")


def trace(cell: Cell) -> Graph:
    """The pointwise graph of ``cell``'s step; raises ``NotCompilable`` saying why not."""
    cell._ensure_built()
    _check_shape(cell)
    rng = np.random.default_rng(0)
    H = cell.hidden_size
    x = Tensor(rng.standard_normal((TRACE_BATCH, cell.input_size)), dtype=cell.dtype,
               requires_grad=True)
    states = tuple(Tensor(rng.standard_normal((TRACE_BATCH, H)), dtype=cell.dtype,
                          requires_grad=True) for _ in cell.state)
    z: dict[str, Tensor] = {}
    previous = cell._plan
    object.__setattr__(cell, "_plan", _TracePlan(cell, z))
    try:
        with enable_grad():
            new = cell.run_step(x, states, ())
    except NotCompilable:
        raise
    except Exception as err:  # a step that only runs on real data: the tape path runs it
        raise NotCompilable(f"its step did not run on traced leaves ({type(err).__name__}: "
                            f"{err})") from None
    finally:
        object.__setattr__(cell, "_plan", previous)
    gates = tuple(g for g in cell.gates if g in z)
    missing = [g for g in cell.gates if g not in z]
    if missing:
        raise NotCompilable(f"gates {missing} did not run in the traced step")
    leaf_ref: dict[int, Ref] = {id(z[g]): ("z", g) for g in gates}
    leaf_ref.update({id(s): ("s", name) for s, name in zip(states, cell.state, strict=True)})
    params = {id(p): name for name, p in cell._parameters.items()}
    graph = Graph(gates, {g: cell.gates[g].sources for g in gates}, tuple(cell.state), ())
    used_params: list[str] = []
    refs: dict[int, Ref] = {}
    order: list[Tensor] = []

    def visit(t: Any) -> Ref:
        if not isinstance(t, Tensor):
            if isinstance(t, bool) or not isinstance(t, int | float | np.floating | np.integer):
                raise NotCompilable(f"its step combines a {type(t).__name__} constant")
            return ("c", float(t))
        key = id(t)
        if key in refs:
            return refs[key]
        if key in leaf_ref:
            ref = leaf_ref[key]
        elif t is x:
            raise NotCompilable("its step reads x_t outside a gate (e.g. tanh(x)); the kernels "
                                "read x only through the hoisted input GEMM")
        elif t._node is None and key in params:
            name = params[key]
            if t.shape != (H,):
                raise NotCompilable(f"its step reads parameter {name!r} of shape {t.shape} "
                                    f"directly; only per-column vectors ({H},) are kernel inputs")
            if name not in used_params:
                used_params.append(name)
            ref = ("p", name)
        elif t._node is None:
            values = t.numpy()
            if values.size == 0 or not np.all(values == values.flat[0]):
                raise NotCompilable(f"its step reads a constant tensor of shape {t.shape} that "
                                    "is not one number")
            ref = ("c", float(values.flat[0]))
        else:
            node = t._node
            prim = node.prim
            if prim.name not in ELEMENTWISE or prim.multiple:
                raise NotCompilable(f"its step uses {prim.name!r}, which is not elementwise "
                                    "(a reduction, a selection by data or a matrix product)")
            if t.shape != (TRACE_BATCH, H):
                raise NotCompilable(f"its step computes a value of shape {t.shape} (expected "
                                    f"({TRACE_BATCH}, {H}) for batch {TRACE_BATCH})")
            inputs = tuple(visit(p) for p in node.parents)
            params_ = tuple(sorted((k, float(v) if isinstance(v, int | float) else v)
                                   for k, v in node.params.items()))
            graph.nodes.append((prim.name, inputs, params_))
            order.append(t)
            ref = ("v", len(graph.nodes) - 1)
        refs[key] = ref
        return ref

    outputs = tuple(visit(t) for t in new)
    graph.outputs = outputs
    graph.params = tuple(used_params)
    return graph
