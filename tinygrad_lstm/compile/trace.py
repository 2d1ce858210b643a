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

from tinygrad_lstm.errors import DataDependentError
from tinygrad_lstm.tape import enable_grad, tracing
from tinygrad_lstm.tensor import Tensor

if TYPE_CHECKING:
    from tinygrad_lstm.cells.base import Cell
    from tinygrad_lstm.cells.step import StepFrame

#: primitives the compiler takes: elementwise, with a symbolic rule, no data-dependent choice
ELEMENTWISE = frozenset({"add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sigmoid",
                         "tanh", "relu", "maximum"})
#: the batch the trace runs at: 2 rows, so a reduction over rows cannot pass for elementwise
TRACE_BATCH = 2


class NotCompilable(Exception):  # noqa: N818 - a reason, not a failure
    """Why a cell runs on the tape path instead of compiled kernels (one line)."""


# a reference to a value of the pointwise graph: ("z", gate) | ("s", state) | ("p", param)
# | ("v", node number) | ("c", constant) | ("x", "x") (the step's input, read directly)
# | ("k", name) (a context input: the layer below's state at this step, e.g. "c_below")
Ref = tuple[str, Any]


@dataclass
class Graph:
    """The pointwise part of one step: leaves, nodes in the order they ran, and the new state.

    ``gates`` and ``states`` name the z and state leaves; ``sources`` gives, per gate, the step
    arguments its affine map reads; ``params`` the per-column parameters the step reads.
    """

    gates: tuple[str, ...]  # ordered by level, then by the order they ran
    sources: dict[str, tuple[str | None, ...]]  # per gate: step argument per input (None:
    # a value computed inside the step)
    states: tuple[str, ...]
    params: tuple[str, ...]
    nodes: list[tuple[str, tuple[Ref, ...], tuple[tuple[str, Any], ...]]] = field(
        default_factory=list)
    outputs: tuple[Ref, ...] = ()
    #: values computed inside the step that gates read (the GRU's r ⊙ h): name u<k>, its ref,
    #: and the (gate, input position) pairs that read it
    computed: list[tuple[str, Ref, tuple[tuple[str, int], ...]]] = field(default_factory=list)
    #: per gate: 0 if it reads only step arguments, else 1 + the level of the values it reads
    levels: dict[str, int] = field(default_factory=dict)
    #: per computed value: the phase kernel that makes it (the highest level of its gates)
    u_levels: dict[str, int] = field(default_factory=dict)
    #: whether the step reads x_t outside a gate (MUT1's tanh(x); input_size = hidden_size)
    reads_x: bool = False
    #: the context inputs (``Cell.context``: the layer below's state at the same step, read
    #: pointwise, such as the depth-gated LSTM's c_below), in the cell's order
    context: tuple[str, ...] = ()

    def key(self, dtype: Any) -> str:
        """A hash of everything the kernels depend on (not of sizes or values)."""
        text = repr((self.gates, sorted(self.sources.items()), self.states, self.params,
                     self.nodes, self.outputs, self.computed, self.reads_x,
                     *((self.context,) if self.context else ()), np.dtype(dtype).name))
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def phases(self) -> int:
        """How many kernels a forward step takes before the last (0 for the LSTM)."""
        return max(self.levels.values(), default=0)

    def x_gates(self) -> tuple[str, ...]:
        """The gates whose affine map reads x_t: only their columns go through the input GEMM
        (the GRU's h-only gate would be a zero block there); the others' biases are read by the
        forward kernel as per-column rows."""
        return tuple(g for g in self.gates
                     if any(a is not None and a not in self.states for a in self.sources[g]))

    def products(self) -> list[tuple[str, str, int, int, tuple[str, ...]]]:
        """One matrix product per step per value the gates read: (kind "s" or "u", name, first
        gate index, end gate index, the gates that read it). States first, in state order."""
        out = []
        for s in self.states:
            readers = tuple(g for g in self.gates if s in self.sources[g])
            if readers:
                idx = [self.gates.index(g) for g in readers]
                out.append(("s", s, min(idx), max(idx) + 1, readers))
        for name, _, pairs in self.computed:
            readers = tuple(dict.fromkeys(g for g, _ in pairs))
            idx = [self.gates.index(g) for g in readers]
            out.append(("u", name, min(idx), max(idx) + 1, readers))
        return out


class _TracePlan:
    """Stands in for the sequence plan: answers each gate with its z leaf."""

    def __init__(self, cell: Cell, leaves: dict[str, Tensor]) -> None:
        self.cell = cell
        self.leaves = leaves
        self.computed: list[tuple[str, int, Tensor]] = []  # (gate, input position, value)

    def gate(self, frame: StepFrame, name: str, inputs: tuple[Tensor, ...]) -> Tensor:
        cell = self.cell
        spec = cell.gates.get(name)
        current = frame.current
        sources: list[str | None] = []
        for k, t in enumerate(inputs):
            hit = [a for a, v in zip(cell._args, current, strict=True) if v is t]
            sources.append(hit[0] if hit else None)
            if not hit:
                self.computed.append((name, k, t))
        if spec is None or tuple(sources) != spec.sources:
            raise NotCompilable(f"gate {name!r} reads other inputs than when the cell was built")
        named = [src for src in spec.sources if src is not None]
        if len(set(named)) != len(named):
            raise NotCompilable(f"gate {name!r} reads one step argument twice")
        if name in self.leaves:
            raise NotCompilable(f"gate {name!r} is used twice in one step")
        leaf = Tensor(np.zeros((TRACE_BATCH, spec.size)), dtype=cell.dtype, requires_grad=True,
                      backend=current[0].backend)  # where the step's arguments live
        self.leaves[name] = leaf
        return leaf


def _check_shape(cell: Cell) -> None:
    from tinygrad_lstm.cells.base import Cell

    name = type(cell).__name__
    if type(cell).output is not Cell.output:
        raise NotCompilable(f"{name} defines its own output(); the compiler emits state[0]")
    H = cell.hidden_size
    for k, s in cell.context.items():
        if cell.state_size(s) != H:
            raise NotCompilable(f"{name}: context {k!r} has width {cell.state_size(s)}, not "
                                f"hidden_size {H}; kernels take inputs of one width")
    if not cell.gates:
        raise NotCompilable(f"{name} has no gates: there is no GEMM to fuse a kernel with")
    for s in cell.state:
        if cell.state_size(s) != H:
            raise NotCompilable(f"{name}: state {s!r} has width {cell.state_size(s)}, not "
                                f"hidden_size {H}; kernels take states of one width")
    for spec in cell.gates.values():
        if spec.size != H:
            raise NotCompilable(f"{name}: gate {spec.name!r} has width {spec.size}, not "
                                f"hidden_size {H}")
        for src in spec.sources:
            if src is not None and src not in cell._args[:1 + len(cell.state)]:
                raise NotCompilable(f"gate {spec.name!r} reads {src!r}, not x or a state")


def trace(cell: Cell) -> Graph:
    """The pointwise graph of ``cell``'s step; raises ``NotCompilable`` saying why not."""
    cell._ensure_built()
    _check_shape(cell)
    rng = np.random.default_rng(0)
    H = cell.hidden_size
    # the leaves live where the cell's parameters do (a step multiplying a state by a
    # parameter would otherwise mix backends, and a cell moved to CuPy would not compile)
    backend = cell._parameter_backend()

    def leaf(width: int) -> Tensor:
        return Tensor(rng.standard_normal((TRACE_BATCH, width)), dtype=cell.dtype,
                      requires_grad=True, backend=backend)

    x = leaf(cell.input_size)
    states = tuple(leaf(H) for _ in cell.state)
    context = tuple(leaf(H) for _ in cell.context)
    z: dict[str, Tensor] = {}
    plan = _TracePlan(cell, z)
    try:
        with enable_grad(), tracing("the compiler's trace"):
            new = cell.run_step(x, states, context, strategy=plan)
    except NotCompilable:
        raise
    except DataDependentError:  # a Python branch on a value would be frozen into the kernels
        raise NotCompilable("its step reads the values of a tensor that depends on its "
                            "inputs or parameters (numpy(), item(), float(), tolist() or "
                            "printing it): what it computes depends on its data") from None
    except Exception as err:  # a step that only runs on real data: the tape path runs it
        raise NotCompilable(f"its step did not run on traced leaves ({type(err).__name__}: "
                            f"{err})") from None
    ran = tuple(g for g in cell.gates if g in z)
    missing = [g for g in cell.gates if g not in z]
    if missing:
        raise NotCompilable(f"gates {missing} did not run in the traced step")
    leaf_ref: dict[int, Ref] = {id(z[g]): ("z", g) for g in ran}
    leaf_ref.update({id(s): ("s", name) for s, name in zip(states, cell.state, strict=True)})
    leaf_ref.update({id(k): ("k", name) for k, name in zip(context, cell.context, strict=True)})
    params = {id(p): name for name, p in cell._parameters.items()}
    graph = Graph(ran, {g: cell.gates[g].sources for g in ran}, tuple(cell.state), (),
                  context=tuple(cell.context))
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
            if cell.input_size != H:
                raise NotCompilable("its step reads x_t outside a gate with input_size "
                                    f"{cell.input_size} != hidden_size {H}")
            graph.reads_x = True
            ref = ("x", "x")
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
    by_value: dict[int, int] = {}
    for gate, position, t in plan.computed:
        ref = visit(t)
        if ref[0] not in ("v", "z"):
            raise NotCompilable(f"gate {gate!r} reads a value that is not computed from the "
                                "gates (a constant or a parameter)")
        k = by_value.setdefault(id(t), len(graph.computed))
        if k == len(graph.computed):
            graph.computed.append((f"u{k}", ref, ()))
        name, ref, pairs = graph.computed[k]
        graph.computed[k] = (name, ref, (*pairs, (gate, position)))
    graph.params = tuple(used_params)
    _levels(graph, ran)
    return graph


def _levels(graph: Graph, ran: tuple[str, ...]) -> None:
    """Order the gates by level: a gate reading a computed value waits for the phase kernel that
    makes it, and that value waits for the gates it is computed from."""
    deps: dict[Ref, frozenset[str]] = {}

    def gates_of(ref: Ref) -> frozenset[str]:
        if ref[0] == "z":
            return frozenset({ref[1]})
        if ref[0] != "v":
            return frozenset()
        if ref not in deps:
            deps[ref] = frozenset().union(*(gates_of(r) for r in graph.nodes[ref[1]][1]))
        return deps[ref]

    reads = {g: [name for name, _, pairs in graph.computed if any(p[0] == g for p in pairs)]
             for g in ran}
    refs = {name: ref for name, ref, _ in graph.computed}
    levels: dict[str, int] = {}
    u_levels: dict[str, int] = {}
    for g in ran:  # a gate's computed inputs come from gates that ran before it
        level = 0
        for name in reads[g]:
            before = gates_of(refs[name])
            if any(d not in levels for d in before):
                raise NotCompilable(f"gate {g!r} reads a value computed from a later gate")
            u_levels[name] = max((levels[d] for d in before), default=0)
            level = max(level, u_levels[name] + 1)
        levels[g] = level
    graph.levels = levels
    graph.u_levels = u_levels
    # within a level: gates that read no x_t first, gates that read no state last. Each
    # state's product then covers only the gates that read it, and the x-reading gates are
    # one run of columns, so dW_x and dx are one GEMM each (TorchGRU: hn | r, z | in)
    states = set(graph.states)

    def group(g: str) -> int:
        sources = graph.sources[g]
        reads_x = any(a is not None and a not in states for a in sources)
        reads_state = any(a is None or a in states for a in sources)
        return 0 if not reads_x else 1 if reads_state else 2

    graph.gates = tuple(sorted(ran, key=lambda g: (levels[g], group(g), ran.index(g))))
