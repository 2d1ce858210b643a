"""Speed from the graph: how a sequence runs a cell's gates faster than one by one.

When the cell was built, ``step`` showed which step argument feeds each input of each gate
(``GateSpec.sources``). From that alone, for any cell:

* every block that reads x_t is independent of the recurrence: the x blocks of all gates are
  stacked and applied to the whole sequence in one GEMM before the time loop, biases folded in;
* the blocks that read the same state (h, c, ...) are stacked: one matmul per state per step,
  however many gates read it;
* gates that read the same set of arguments (the LSTM's f, i, C̃, o all read [h, x]) sit side by
  side in every stack, so their pre-activations are one ``addmm_split`` per step: the product
  h W_h added into the hoisted slice projection[t] and cut into the gates (``addmm`` and
  ``split`` when more terms follow);
* an input computed inside the step (the GRU's r ⊙ h) keeps its own product, added in with
  ``addmm``.

A gate whose inputs turn out different at run time (a data-dependent step) takes the plain path,
so the plan changes speed, never results; ``tests/cells/test_cells.py`` checks that both paths
agree for every cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tinygrad_lstm.module import Parameter
from tinygrad_lstm.primitives import PRIMITIVES
from tinygrad_lstm.tensor import Tensor, addmm, apply, concat, zeros

if TYPE_CHECKING:
    from tinygrad_lstm.cells.base import Cell, GateSpec
    from tinygrad_lstm.cells.step import StepFrame

# the plan's own indices and products are made here, so it calls the primitives directly
GETITEM = PRIMITIVES["getitem"]
MATMUL = PRIMITIVES["matmul"]
ADDMM = PRIMITIVES["addmm"]
SPLIT = PRIMITIVES["split"]
ADDMM_SPLIT = PRIMITIVES["addmm_split"]


def _stacked(cell: Cell, names: list[str | None], widths: list[int]) -> Tensor | None:
    """Stack biases (zeros standing in for missing ones), or None if all are missing."""
    if all(n is None for n in names):
        return None
    if None not in names:
        return cell.stacked_parameters(names)
    present = {n: cell.stacked_parameters((n,)) for n in names if n is not None}
    backend = next(iter(present.values())).backend  # the zeros live with the parameters
    full = [present[n] if n is not None else zeros((w,), dtype=cell.dtype, backend=backend)
            for n, w in zip(names, widths, strict=True)]
    return concat(full, axis=0)


def _transposed(cell: Cell, names: list[str]) -> tuple[Tensor, Any]:
    """[W_1; W_2; ...]^T as one C-ordered tensor, made once per sequence and used at every step,
    and the stack [W_1; W_2; ...] itself as a C-ordered array (for the backward products).

    BLAS multiplies a (batch, in) by an (in, out) F-ordered matrix (a transposed view) about
    three times as slowly at LSTM sizes, so the transpose is flattened (a reshape that copies
    into C order) and shaped back."""
    stacked = cell.stacked_parameters(names)
    if isinstance(stacked, Parameter):  # a copy even of one block: both are this moment's values
        stacked = concat([stacked], axis=0)
    transposed = stacked.T
    return transposed.reshape(transposed.numel()).reshape(transposed.shape), stacked.data


class _Group:
    """Gates that read the same set of step arguments; they are adjacent in every stack."""

    def __init__(self, number: int, args: frozenset[str], gates: list[GateSpec]) -> None:
        self.number = number
        self.args = args
        self.gates = gates
        self.width = sum(g.size for g in gates)
        self.sizes = tuple(g.size for g in gates)
        self.columns: dict[str, tuple[int, int]] = {}  # per argument: its range in that stack
        # per argument, in step order: (its position in the step's arguments, the index that
        # takes this group's columns from that argument's product, or None for all of it)
        self.terms: list[tuple[int, Any]] = []


def _columns(a: int, b: int, width: int) -> tuple[slice, slice] | None:
    """The index of columns a:b of a (batch, width) product, or None when that is all of it."""
    return None if (a, b) == (0, width) else (slice(None), slice(a, b))


class _Layout:
    """What a plan takes from the cell's gates alone (names, groups, columns, routes): made
    once per cell and kept on it (the gates are fixed once the cell is built), so a call pays
    only for the tensors, which are made from the parameters as they are at that call."""

    def __init__(self, cell: Cell) -> None:
        self.key = tuple(cell.gates.values())
        self.x_arg = x_arg = cell._args[0]
        by_args: dict[frozenset[str], list[GateSpec]] = {}
        for spec in cell.gates.values():
            named = [s for s in spec.sources if s is not None]
            # a step argument passed twice (gate("g", h, h)) has two blocks for one product:
            # such a gate takes the plain path
            if named and len(set(named)) == len(named):
                by_args.setdefault(frozenset(named), []).append(spec)
        self.groups = [_Group(k, args, gates) for k, (args, gates) in enumerate(by_args.items())]
        # One stack per argument: the names of the blocks reading it, group after group.
        self.stacks: list[list[str]] = []
        self.x_biases: list[str | None] = []  # the biases folded into the input projection
        self.x_widths: list[int] = []
        widths = []
        for arg in cell._args:
            blocks, start = [], 0
            for group in self.groups:
                if arg not in group.args:
                    continue
                group.columns[arg] = (start, start + group.width)
                start += group.width
                for g in group.gates:
                    blocks.append(g.weights[g.sources.index(arg)])
                    if arg == x_arg:
                        self.x_biases.append(g.bias)
                        self.x_widths.append(g.size)
            self.stacks.append(blocks)
            widths.append(start)
        for group in self.groups:
            for position, arg in enumerate(cell._args):
                if arg in group.args:
                    a, b = group.columns[arg]
                    group.terms.append((position, _columns(a, b, widths[position])))
        # Per gate: its group, its place among the group's gates, the step arguments it was
        # planned for (their positions; None for a value computed inside the step), and its
        # blocks that read such a computed value (r ⊙ h), by input number and weight name.
        self.routes: dict[str, tuple[_Group, int, tuple[int | None, ...],
                                     list[tuple[int, str]]]] = {}
        for spec in cell.gates.values():
            found = next((g for g in self.groups if spec in g.gates), None)
            if found is None:  # every input is computed inside the step: nothing to share
                continue
            computed = [(k, w) for k, (w, src) in enumerate(zip(spec.weights, spec.sources,
                                                                strict=True)) if src is None]
            positions = tuple(None if src is None else cell._args.index(src)
                              for src in spec.sources)
            self.routes[spec.name] = (found, found.gates.index(spec), positions, computed)


def _layout(cell: Cell) -> _Layout:
    layout = cell.__dict__.get("_plan_layout")
    if layout is None or layout.key != tuple(cell.gates.values()) or \
            layout.x_arg != cell._args[0]:
        layout = _Layout(cell)
        if cell._built:
            object.__setattr__(cell, "_plan_layout", layout)
    return layout


class StepPlan:
    """Runs the gates of one cell over one sequence ``xs`` of shape (T, B, input_size)."""

    def __init__(self, cell: Cell, xs: Tensor) -> None:
        self.cell = cell
        layout = _layout(cell)
        self.x_arg = layout.x_arg
        self.groups = layout.groups
        # Per argument: the stack transposed for the products, and as it is for their backward.
        self.weights_t: list[Tensor | None] = [None] * len(cell._args)
        self.weights: list[Any] = [None] * len(cell._args)
        for position, blocks in enumerate(layout.stacks):
            if blocks:
                self.weights_t[position], self.weights[position] = _transposed(cell, blocks)
        # per group: its bias, added per step when x is not among its arguments
        self._group_bias: list[Tensor | None] = [
            None if self.x_arg in group.args else
            _stacked(cell, [g.bias for g in group.gates], list(group.sizes))
            for group in self.groups]
        # The hoisted input projection: all x blocks, all steps, one GEMM, biases folded in.
        self.projection: Tensor | None = None
        weight_t = self.weights_t[0]
        if weight_t is not None:
            steps, batch, features = xs.shape
            flat_xs = xs.reshape(steps * batch, features)
            bias = _stacked(cell, layout.x_biases, layout.x_widths)
            flat = flat_xs @ weight_t if bias is None else addmm(bias, flat_xs, weight_t)
            self.projection = flat.reshape(steps, batch, weight_t.shape[1])
        # Per gate, as in the layout, with the computed inputs' blocks transposed once per
        # sequence.
        self.routes = {name: (group, place, positions,
                              [(k, _transposed(cell, [w])[0]) for k, w in computed])
                       for name, (group, place, positions, computed) in layout.routes.items()}
        self._products: list[Tensor | None] = []
        self._pre: list[tuple[Tensor, ...] | None] = []  # per group: its gates' pre-activations
        self._t = 0

    def begin(self, t: int) -> None:
        """Start time step ``t``: forget last step's products."""
        self._t = t
        self._expected: dict[tuple[int | None, ...], tuple[Tensor, ...]] = {}
        self._pre = [None] * len(self.groups)
        self._products = [None] * len(self.weights_t)

    def _pieces(self, group: _Group, current: Sequence[Tensor]) -> tuple[Tensor, ...]:
        """The pre-activations of the group's gates at this step, in as few operations as it
        allows: for the LSTM, one ``addmm_split`` (projection[t] + h W_h, cut into f, i, C̃, o)."""
        products = self._products
        c: Tensor | None = None  # what the first product is added into, at ``index``
        index: Any = ()
        out = None
        last = len(group.terms) - 1
        bias = self._group_bias[group.number]  # added once: into the first product or at the end
        for k, (position, columns) in enumerate(group.terms):
            if position == 0 and self.projection is not None:  # x: the hoisted projection
                c = self.projection
                index = self._t if columns is None else (self._t, *columns)
                continue
            if c is None and bias is not None:
                c, bias = bias, None
            if columns is None and out is None and c is not None:  # this group's product only
                value, weight_t, weight = current[position], self.weights_t[position], \
                    self.weights[position]
                if k == last and len(group.gates) > 1:  # the whole pre-activation: cut it too
                    return apply(ADDMM_SPLIT, c, value, weight_t, index=index, bt=weight,
                                 sizes=group.sizes)
                out = apply(ADDMM, c, value, weight_t, index=index, bt=weight)
                c = None
                continue
            product = products[position]
            if product is None:  # read by several groups: multiplied once, then sliced
                product = products[position] = apply(MATMUL, current[position],
                                                     self.weights_t[position])
            term = product if columns is None else apply(GETITEM, product, index=columns)
            out = term if out is None else out + term
        if c is not None:
            part = c if index == () else apply(GETITEM, c, index=index)
            out = part if out is None else out + part
        if len(group.gates) == 1:
            return (out,)
        return apply(SPLIT, out, sizes=group.sizes, axis=out.ndim - 1)

    def gate(self, frame: StepFrame, name: str, inputs: tuple[Tensor, ...]) -> Tensor | None:
        """The gate's value from the stacked/hoisted parts, or None to take the plain path
        (a gate the plan has no route for, or inputs other than those it was planned for).
        The plan is the step's ``GateStrategy`` (``tinygrad_lstm.cells.step``)."""
        current = frame.current
        route = self.routes.get(name)
        if route is None:
            return None
        group, place, positions, computed = route
        # the inputs it was planned for? (the same step arguments, in the same places)
        if computed:
            if len(inputs) != len(positions):
                return None
            for t, position in zip(inputs, positions, strict=True):
                if position is None:
                    if any(t is value for value in current):
                        return None
                elif t is not current[position]:
                    return None
        else:  # only step arguments: compare with the tuple of them, made once per step
            expected = self._expected.get(positions)
            if expected is None:
                expected = self._expected[positions] = tuple([current[p] for p in positions])
            if inputs != expected:  # Tensor has no __eq__: this compares identities
                return None
        pieces = self._pre[group.number]
        if pieces is None:  # the group's first gate this step: all of its gates at once
            pieces = self._pre[group.number] = self._pieces(group, current)
        out = pieces[place]
        for k, weight_t in computed:
            out = addmm(out, inputs[k], weight_t)
        return out
