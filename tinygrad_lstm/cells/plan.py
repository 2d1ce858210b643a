"""Speed from the graph: how a sequence runs a cell's gates faster than one by one.

When the cell was built, ``step`` showed which step argument feeds each input of each gate
(``GateSpec.sources``). From that alone, for any cell:

* every block that reads x_t is independent of the recurrence: the x blocks of all gates are
  stacked and applied to the whole sequence in one GEMM before the time loop, biases folded in;
* the blocks that read the same state (h, c, ...) are stacked: one matmul per state per step,
  however many gates read it;
* gates that read the same set of arguments (the LSTM's f, i, C̃, o all read [h, x]) sit side by
  side in every stack, so their pre-activations are summed in one addition and then sliced;
* an input computed inside the step (the GRU's r ⊙ h) keeps its own matmul.

A gate whose inputs turn out different at run time (a data-dependent step) takes the plain path,
so the plan changes speed, never results; ``tests/test_cells.py`` checks that both paths agree
for every cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinygrad_lstm.tensor import Tensor, concat, zeros

if TYPE_CHECKING:
    from tinygrad_lstm.cells.base import Cell, GateSpec


def _stacked(cell: Cell, parts: list[Tensor | None], widths: list[int], axis: int
             ) -> Tensor | None:
    """Concatenate parameters (zeros standing in for missing biases), or None if all missing."""
    if all(p is None for p in parts):
        return None
    full = [p if p is not None else zeros((w,), dtype=cell.dtype)
            for p, w in zip(parts, widths, strict=True)]
    return full[0] if len(full) == 1 else concat(full, axis=axis)


def _transposed(blocks: list[Tensor]) -> Tensor:
    """[W_1; W_2; ...]^T as one contiguous array: BLAS multiplies a transposed view about
    twice as slowly, and this is made once per sequence, then used at every step."""
    return concat([b.T for b in blocks], axis=1)


class _Group:
    """Gates that read the same set of step arguments; they are adjacent in every stack."""

    def __init__(self, args: frozenset[str], gates: list[GateSpec]) -> None:
        self.args = args
        self.gates = gates
        self.width = sum(g.size for g in gates)
        self.offsets: dict[str, tuple[int, int]] = {}
        start = 0
        for g in gates:
            self.offsets[g.name] = (start, start + g.size)
            start += g.size
        self.columns: dict[str, tuple[int, int]] = {}  # per argument: its range in that stack
        self.bias: Tensor | None = None  # added per step when x is not among the args


class StepPlan:
    """Runs the gates of one cell over one sequence ``xs`` of shape (T, B, input_size)."""

    def __init__(self, cell: Cell, xs: Tensor) -> None:
        self.cell = cell
        self.x_arg = cell._args[0]
        params = cell._parameters
        by_args: dict[frozenset[str], list[GateSpec]] = {}
        for spec in cell.gates.values():
            args = frozenset(s for s in spec.sources if s is not None)
            if args:
                by_args.setdefault(args, []).append(spec)
        self.groups = [_Group(args, gates) for args, gates in by_args.items()]
        self.group_of = {g.name: group for group in self.groups for g in group.gates}
        # One stack per argument: W^T of every block reading it, group after group.
        self.weights_t: dict[str, Tensor] = {}
        stack_bias: list[Tensor | None] = []
        for arg in cell._args:
            blocks, widths, start = [], [], 0
            for group in self.groups:
                if arg not in group.args:
                    continue
                group.columns[arg] = (start, start + group.width)
                start += group.width
                for g in group.gates:
                    blocks.append(params[g.weights[g.sources.index(arg)]])
                    widths.append(g.size)
                    if arg == self.x_arg:
                        stack_bias.append(params[g.bias] if g.bias else None)
            if blocks:
                self.weights_t[arg] = _transposed(blocks)
        for group in self.groups:
            if self.x_arg not in group.args:
                group.bias = _stacked(cell, [params[g.bias] if g.bias else None
                                             for g in group.gates],
                                      [g.size for g in group.gates], axis=0)
        # The hoisted input projection: all x blocks, all steps, one GEMM, biases folded in.
        self.projection: Tensor | None = None
        if self.x_arg in self.weights_t:
            steps, batch, features = xs.shape
            weight_t = self.weights_t[self.x_arg]
            flat = xs.reshape(steps * batch, features) @ weight_t
            widths = [g.size for group in self.groups if self.x_arg in group.args
                      for g in group.gates]
            bias = _stacked(cell, stack_bias, widths, axis=0)
            if bias is not None:
                flat = flat + bias
            self.projection = flat.reshape(steps, batch, weight_t.shape[1])
        # blocks that read a value computed inside the step (r ⊙ h): transposed once, too
        self.computed_t = {w: _transposed([params[w]]) for spec in cell.gates.values()
                           for w, src in zip(spec.weights, spec.sources, strict=True)
                           if src is None}
        self._products: dict[str, Tensor] = {}
        self._pre: dict[int, Tensor] = {}

    def begin(self, t: int) -> None:
        """Start time step ``t``: forget last step's products."""
        self._pre = {}
        self._products = {} if self.projection is None else {self.x_arg: self.projection[t]}

    def _product(self, arg: str) -> Tensor:
        out = self._products.get(arg)
        if out is None:
            value = self.cell._current[self.cell._args.index(arg)]
            out = self._products[arg] = value @ self.weights_t[arg]
        return out

    def _preactivation(self, group: _Group) -> Tensor:
        out = None
        for arg in sorted(group.args, key=self.cell._args.index):
            product = self._product(arg)
            a, b = group.columns[arg]
            term = product if (a, b) == (0, product.shape[-1]) else product[:, a:b]
            out = term if out is None else out + term
        return out if group.bias is None else out + group.bias

    def gate(self, spec: GateSpec, inputs: tuple[Tensor, ...],
             sources: tuple[str | None, ...]) -> Tensor | None:
        """The gate's value from the stacked/hoisted parts, or None to take the plain path."""
        if sources != spec.sources:
            return None
        group = self.group_of.get(spec.name)
        if group is None:  # every input is computed inside the step: nothing to share
            return None
        pre = self._pre.get(id(group))
        if pre is None:
            pre = self._pre[id(group)] = self._preactivation(group)
        a, b = group.offsets[spec.name]
        out = pre if (a, b) == (0, group.width) else pre[:, a:b]
        for t, src, w in zip(inputs, sources, spec.weights, strict=True):
            if src is None:
                out = out + t @ self.computed_t[w]
        return out
