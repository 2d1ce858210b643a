"""The tape: reverse-mode differentiation over the graph the primitives recorded.

Each tensor computed from a tensor that requires grad carries a ``Node`` (made by ``record``):
the primitive, its inputs (tensors or Python scalars), its constant params, and its place in
the order the nodes were made. ``backward`` walks from the root back to the leaves, newest node
first (a tensor is made after everything it reads, so that order is topological), calls each
primitive's VJP and hands every input's gradient to ``cotangents.Cotangents``, which owns how
gradients add up (un-broadcasting, sums, the lazy kinds). Leaves collect theirs in ``.grad``;
then the graph is freed unless ``retain_graph=True``.

Arrays a node saved and then changed in place are caught, as PyTorch's version counters do
(``versions.py``): each node records the write epoch it was made in (``Node.epoch``), and
backward checks its inputs and output against later writes. In ``detect_anomaly()`` every
primitive's output and every VJP's result is checked for NaN and Inf.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tinygrad_lstm.cotangents import LAZY, Cotangents, as_array, unbroadcast
from tinygrad_lstm.errors import GraphFreedError
from tinygrad_lstm.versions import _check_saved, _Writes, bump_version, version

__all__ = ["Node", "backward", "bump_version", "detect_anomaly", "enable_grad",
           "is_grad_enabled", "no_grad", "record", "record_outputs", "recording", "unbroadcast",
           "version"]

if TYPE_CHECKING:
    from tinygrad_lstm.primitives import Primitive
    from tinygrad_lstm.tensor import Tensor


class _GradMode(threading.local):
    enabled: bool = True
    anomaly: bool = False  # check every primitive's output for NaN and Inf (detect_anomaly)
    trace: list[Any] | None = None  # every tensor apply() makes, in order (symbolic tracing)
    watched: bool = False  # anomaly or trace: apply() looks at neither unless this is set
    tracing: str | None = None  # what traces a step into equations: reading values raises


def _watch() -> None:
    _mode.watched = _mode.anomaly or _mode.trace is not None


_mode = _GradMode()
_next_seq = itertools.count().__next__


def is_grad_enabled() -> bool:
    """Whether operations are being recorded for backward()."""
    return _mode.enabled


@contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    previous = _mode.enabled
    _mode.enabled = enabled
    try:
        yield
    finally:
        _mode.enabled = previous


def no_grad() -> Any:
    """Context manager: nothing computed inside is recorded (evaluation, parameter updates).

    >>> import numpy as np, tinygrad_lstm as tl
    >>> w = tl.Tensor(np.ones(3), requires_grad=True)
    >>> with tl.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """
    return _grad_mode(False)


def enable_grad() -> Any:
    """Context manager: record operations again inside a ``no_grad`` block."""
    return _grad_mode(True)


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Within the block, the first primitive whose output holds a NaN or an Inf raises
    ``FloatingPointError`` naming it and its inputs' shapes (slower: every output is checked);
    in ``backward()``, the first VJP that returns one names the primitive and the input whose
    gradient it is (as PyTorch's anomaly mode does), before any ``.grad`` is touched.

    >>> import numpy as np, tinygrad_lstm as tl
    >>> with tl.detect_anomaly():
    ...     tl.Tensor([1.0, float("inf")]).exp()
    Traceback (most recent call last):
    ...
    FloatingPointError: exp produced inf (1 of 2 entries not finite) from an input of shape (2,)
    """
    previous = _mode.anomaly
    _mode.anomaly = True
    _watch()
    try:
        yield
    finally:
        _mode.anomaly = previous
        _watch()


@contextmanager
def tracing(what: str) -> Iterator[None]:
    """Within the block a step is being traced into one graph by ``what`` (the compiler, the
    symbolic printer): ``Tensor.numpy()`` of a tensor that requires grad (one that depends on
    the traced inputs or the parameters), and what reads values through it, raise
    ``DataDependentError``: a Python branch on such a value would be frozen into the graph."""
    previous = _mode.tracing
    _mode.tracing = what
    try:
        yield
    finally:
        _mode.tracing = previous


@contextmanager
def recording() -> Iterator[list[Any]]:
    """Within the block, every tensor a primitive makes is appended to the yielded list, in
    the order they are made (the symbolic printer orders equations by it)."""
    previous = _mode.trace
    made: list[Any] = []
    _mode.trace = made
    _watch()
    try:
        yield made
    finally:
        _mode.trace = previous
        _watch()


class Node:
    """How a tensor was made: primitive, inputs and params. ``parents`` is None once freed.

    ``args`` holds the inputs as the VJP takes them (arrays and constants), ``seq`` the order
    in which nodes were made: a node's inputs were always made before it, so sorting by
    ``seq`` is a topological order.
    """

    __slots__ = ("prim", "parents", "params", "args", "seq", "epoch")
    outputs: Outputs | None = None  # see OutputNode
    index = 0

    def __init__(self, prim: Primitive, parents: tuple[Any, ...], params: dict[str, Any],
                 args: list[Any]) -> None:
        self.prim = prim
        self.parents: tuple[Any, ...] | None = parents
        self.params = params
        self.args: list[Any] | None = args
        self.seq = _next_seq()
        self.epoch = _Writes.epoch  # in-place writes after this one invalidate what it saved


class OutputNode(Node):
    """The node of one output of a primitive with several (split): all of them, and which
    this one is."""

    __slots__ = ("outputs", "index")


class Outputs:
    """The outputs of one call of a primitive with several (split). Each output has its own
    ``Node`` (consecutive ``seq``); backward runs the primitive's VJP once, for all of them,
    when it reaches the one that stands in its heap for them all. It holds the outputs weakly:
    one nobody kept had no gradient.
    """

    __slots__ = ("refs", "data")

    def __init__(self, tensors: list[Tensor], data: tuple[Any, ...]) -> None:
        self.refs = [weakref.ref(t) for t in tensors]  # weak: no reference cycle via the nodes
        self.data = data


def record(result: Tensor, prim: Primitive, inputs: tuple[Any, ...], params: dict[str, Any],
           args: list[Any], needs_grad: bool) -> Tensor:
    """Put ``result`` (just computed by ``prim`` from ``inputs``) on the tape when an input
    needs a gradient and recording is on; ``args`` are the inputs as the VJP takes them.
    Sets ``result.requires_grad`` and ``result._node``; checks and notes the result in
    ``detect_anomaly()`` and ``recording()``. Returns ``result``."""
    mode = _mode
    if needs_grad and mode.enabled:
        result.requires_grad = True
        result._node = Node(prim, inputs, params, args)
    else:
        result.requires_grad = False
        result._node = None
    if mode.watched:
        if mode.anomaly:
            _check_finite(prim, inputs, result.data)
        if mode.trace is not None:
            mode.trace.append(result)
    return result


def record_outputs(results: list[Tensor], prim: Primitive, inputs: tuple[Any, ...],
                   params: dict[str, Any], args: list[Any], needs_grad: bool) -> None:
    """``record`` for the outputs of one call of a primitive with several (split): each gets
    its own node, and backward runs the VJP once for all of them."""
    mode = _mode
    if mode.anomaly:
        for t in results:
            _check_finite(prim, inputs, t.data)
    if needs_grad and mode.enabled:
        group = Outputs(results, tuple(t.data for t in results))
        for k, t in enumerate(results):
            node = OutputNode(prim, inputs, params, args)
            node.outputs = group
            node.index = k
            t.requires_grad = True
            t._node = node
    if mode.trace is not None:
        mode.trace.extend(results)


def _check_finite(prim: Primitive, inputs: tuple[Any, ...], out: Any) -> None:
    """detect_anomaly() in forward: raise naming the primitive when ``out`` is not finite."""
    backend = next(x.backend for x in inputs if hasattr(x, "backend"))
    bad = ~backend.xp.isfinite(out)
    count = int(bad.sum())
    if count:
        first = backend.to_numpy(out[bad][:1])[0]
        shapes = [tuple(x.shape) for x in inputs if hasattr(x, "backend")]
        what = "an input of shape" if len(shapes) == 1 else "inputs of shapes"
        raise FloatingPointError(
            f"{prim.name} produced {first} ({count} of {out.size} entries not finite) from "
            f"{what} {', '.join(map(str, shapes))}")


def _freed_error(node: Node) -> GraphFreedError:
    return GraphFreedError(
        f"backward: the graph through '{node.prim.name}' was freed by an earlier backward(); "
        "pass retain_graph=True to that first call to backward through it again")


def _anomalous(node: Node, in_grads: tuple[Any, ...], xp: Any) -> list[Any]:
    """detect_anomaly() in backward: raise naming the primitive and the input whose gradient
    holds a NaN or an Inf. Lazy products are multiplied here, and handed on multiplied."""
    checked = []
    for i, pg in enumerate(in_grads):
        if pg is None or not getattr(node.parents[i], "requires_grad", False):
            checked.append(pg)  # a gradient nobody needs: never made, never checked
            continue
        pg, values = pg.values(xp) if pg.__class__ in LAZY else (pg, pg)
        bad = ~xp.isfinite(values)
        count = int(bad.sum())
        if count:
            first = float(values[bad].ravel()[0])
            raise FloatingPointError(
                f"backward: the VJP of '{node.prim.name}' returned {first} in the gradient of "
                f"its input {i} (shape {node.parents[i].shape}; {count} of {values.size} "
                "entries not finite)")
        checked.append(pg)
    return checked


def backward(root: Tensor, gradient: Any, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into every leaf's ``.grad`` (``gradient`` seeds d(root)).

    Computed tensors are visited newest first (a heap on the creation order ``Node.seq``): a
    tensor is made after everything it reads, so when it is visited every tensor that read it
    has already passed its gradient on. Only tensors a gradient reached are visited, and the
    outputs of one split once, together. How gradients add up is ``cotangents.Cotangents``'.
    """
    cot = Cotangents()
    cot.seed(root, gradient)
    leaves: list[Tensor] = []
    heap: list[tuple[int, Tensor]] = []
    if root._node is None:
        leaves.append(root)
    else:
        heap.append((-root._node.seq, root))
    done: list[Node] = []  # freed at the end, so a failure leaves the graph as it was
    # ids of the ``Outputs`` (split) with one output in the heap: one stands for them all, as
    # every tensor that read any of them was made after all of them
    split_waiting: set[int] = set()
    pop, push = heapq.heappop, heapq.heappush
    epoch = _Writes.epoch  # a node made at this epoch saw every write there was
    anomaly = _mode.anomaly
    while heap:
        tensor = pop(heap)[1]
        node = tensor._node
        parents = node.parents
        if parents is None:
            raise _freed_error(node)
        xp = tensor.backend.xp
        outputs = node.outputs
        if outputs is None:
            if node.epoch != epoch:  # something was written in place since: was it saved here?
                _check_saved(node, tensor)
            done.append(node)
            g, args, vjp = cot.pop(tensor), node.args, node.prim.vjp
            if node.params:
                in_grads = vjp(xp, g, tensor.data, *args, **node.params)
            elif len(args) == 2:  # the common arities without a star call (several times faster)
                in_grads = vjp(xp, g, tensor.data, args[0], args[1])
            elif len(args) == 1:
                in_grads = vjp(xp, g, tensor.data, args[0])
            else:
                in_grads = vjp(xp, g, tensor.data, *args)
        else:  # an output of a split: its VJP, once, with every output's gradient
            gs = []
            for t in (ref() for ref in outputs.refs):
                if t is not None:
                    if node.epoch != epoch:
                        _check_saved(t._node, t)
                    done.append(t._node)
                gs.append(None if t is None else cot.pop(t))
            in_grads = node.prim.vjp(xp, tuple(gs), outputs.data, *node.args, **node.params)
        if len(in_grads) != len(parents):
            raise RuntimeError(f"{node.prim.name}: its VJP returned {len(in_grads)} gradients "
                               f"for {len(parents)} inputs")
        if anomaly:
            in_grads = _anomalous(node, in_grads, xp)
        fresh = node.prim.fresh_grads
        for parent, pg in zip(parents, in_grads, strict=False):  # lengths checked above
            if pg is None or not getattr(parent, "requires_grad", False):
                continue  # no gradient, or nobody needs it (a lazy product is never made)
            if cot.add(parent, pg, fresh):  # the first gradient to reach this tensor: visit it
                made_by = parent._node
                if made_by is None:
                    leaves.append(parent)
                elif made_by.outputs is None:
                    push(heap, (-made_by.seq, parent))
                elif id(made_by.outputs) not in split_waiting:
                    split_waiting.add(id(made_by.outputs))
                    push(heap, (-made_by.seq, parent))
    if not retain_graph:
        for node in done:
            node.parents = node.args = None
    wrap = sys.modules["tinygrad_lstm.tensor"].Tensor._wrap  # imports this module
    for leaf in leaves:
        g = cot.leaf(leaf)
        if g is None:
            continue
        if leaf.grad is not None:
            g = as_array(leaf.grad.data + g)
        leaf.grad = wrap(g, leaf.backend)  # a plain Tensor, as in PyTorch (not a Parameter)
