"""The tape: reverse-mode differentiation over the graph the primitives recorded.

Each tensor computed from a tensor that requires grad carries a ``Node``: the primitive, its
inputs (tensors or Python scalars), its constant params, and its place in the order the nodes
were made. ``backward`` walks from the root back to the leaves, newest node first (a tensor is
made after everything it reads, so that order is topological), calls each primitive's VJP,
undoes broadcasting (``unbroadcast``, the only place that does), and sums the gradients of
tensors used more than once. Leaves collect theirs in ``.grad``; then the graph is freed unless
``retain_graph=True``. The sums are made cheaply where it matters: slices added in place into
one buffer, and the per-step products of a weight gathered into blocks of rows (``_Products``).

Arrays a node saved and then changed in place are caught, as PyTorch's version counters do
(``versions.py``): each node records the write epoch it was made in (``Node.epoch``), and
backward checks its inputs and output against later writes. In ``detect_anomaly()`` every
VJP's result is checked for NaN and Inf.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_lstm.errors import GraphFreedError, ShapeError
from tinygrad_lstm.primitives import LeftProduct, MatmulGrad, SliceGrad
from tinygrad_lstm.versions import _check_saved, _Writes, bump_version, version

__all__ = ["backward", "bump_version", "detect_anomaly", "enable_grad", "is_grad_enabled",
           "no_grad", "recording", "unbroadcast", "version"]

if TYPE_CHECKING:
    from tinygrad_lstm.primitives import Primitive
    from tinygrad_lstm.tensor import Tensor


class _GradMode(threading.local):
    enabled: bool = True
    anomaly: bool = False  # check every primitive's output for NaN and Inf (detect_anomaly)
    trace: list[Any] | None = None  # every tensor apply() makes, in order (symbolic tracing)
    watched: bool = False  # anomaly or trace: apply() looks at neither unless this is set


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


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes broadcasting added or stretched, so it has ``shape`` again."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead < 0:
        raise ShapeError(f"backward: gradient of shape {g.shape} cannot reduce to {shape}")
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    axes = tuple(range(lead)) + stretched
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _freed_error(node: Node) -> GraphFreedError:
    return GraphFreedError(
        f"backward: the graph through '{node.prim.name}' was freed by an earlier backward(); "
        "pass retain_graph=True to that first call to backward through it again")


class _Products:
    """The pending sum of products a_t^T g_t that is one tensor's gradient (a weight read at
    every step). Each pair is copied, while it is still in cache, into a block of rows; a full
    block is multiplied at once, one GEMM of ``ROWS`` rows instead of a small one per step."""

    __slots__ = ("a", "g", "rows", "sum")
    ROWS = 256

    def __init__(self, xp: Any, first: MatmulGrad) -> None:
        a, g = first.a, first.g
        self.a = xp.empty((self.ROWS, a.shape[1]), a.dtype)
        self.g = xp.empty((self.ROWS, g.shape[1]), g.dtype)
        self.rows = 0
        self.sum: Any = None
        self.add(xp, first)

    @staticmethod
    def takes(grad: MatmulGrad) -> bool:
        """Whether a pair can join a block: matrices of one dtype, a few rows (a step's batch)."""
        a, g = grad.a, grad.g
        return a.ndim == 2 and g.ndim == 2 and a.dtype == g.dtype \
            and a.shape[0] <= _Products.ROWS // 2

    def accepts(self, grad: MatmulGrad) -> bool:
        """Whether a later pair can join: as ``takes``, and of the blocks' dtypes."""
        return self.takes(grad) and grad.a.dtype == self.a.dtype and grad.g.dtype == self.g.dtype

    def add(self, xp: Any, grad: MatmulGrad) -> None:
        a, g = grad.a, grad.g
        n = a.shape[0]
        if self.rows + n > self.ROWS:
            self._flush(xp)
        self.a[self.rows:self.rows + n] = a
        self.g[self.rows:self.rows + n] = g
        self.rows += n

    def _flush(self, xp: Any) -> None:
        product = xp.dot(self.a[:self.rows].T, self.g[:self.rows])
        if self.sum is None:
            self.sum = product
        else:
            self.sum += product
        self.rows = 0

    def total(self, xp: Any, dtype: Any) -> Any:
        if self.rows:
            self._flush(xp)
        out = self.sum
        if out is None:  # only pairs of 0 rows (an empty batch): a zero gradient
            out = xp.zeros((self.a.shape[1], self.g.shape[1]), dtype)
        return out if out.dtype == dtype else out.astype(dtype)


def _array(a: Any) -> Any:
    """``a`` as an array: NumPy turns 0-d results into immutable scalars, which an in-place
    sum would silently rebind instead of updating."""
    return np.asarray(a) if isinstance(a, np.generic) else a


def _anomalous(node: Node, in_grads: tuple[Any, ...], xp: Any) -> list[Any]:
    """detect_anomaly() in backward: raise naming the primitive and the input whose gradient
    holds a NaN or an Inf. Deferred products are multiplied here, and handed on multiplied."""
    checked = []
    for i, pg in enumerate(in_grads):
        if pg is None or not getattr(node.parents[i], "requires_grad", False):
            checked.append(pg)  # a gradient nobody needs: never made, never checked
            continue
        if pg.__class__ is MatmulGrad or pg.__class__ is LeftProduct:
            pg = pg.product(xp)
        values = pg.g if pg.__class__ is SliceGrad else pg
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
    outputs of one split once, together.
    """
    from tinygrad_lstm.tensor import Tensor

    # keyed by the tensors themselves: Tensor hashes and compares by identity
    grads: dict[Tensor, Any] = {root: gradient}
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
    # ids of the arrays in ``grads`` that the tape allocated itself: only those may be added
    # into in place (any other may be shared, e.g. add's VJP hands one array to both inputs).
    owned: set[int] = set()
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
            g = grads.pop(tensor)
            if g.__class__ is _Products:
                g = g.total(xp, tensor.data.dtype)
            else:
                owned.discard(id(g))  # handed to a VJP: no longer the tape's alone
            args = node.args
            if node.params:
                in_grads = node.prim.vjp(xp, g, tensor.data, *args, **node.params)
            elif len(args) == 2:  # the common arities without a star call
                in_grads = node.prim.vjp(xp, g, tensor.data, args[0], args[1])
            elif len(args) == 1:
                in_grads = node.prim.vjp(xp, g, tensor.data, args[0])
            else:
                in_grads = node.prim.vjp(xp, g, tensor.data, *args)
        else:  # an output of a split: its VJP, once, with every output's gradient
            gs = []
            for ref in outputs.refs:
                t = ref()
                if t is None:
                    gs.append(None)
                    continue
                if node.epoch != epoch:
                    _check_saved(t._node, t)
                done.append(t._node)
                g = grads.pop(t, None)
                if g.__class__ is _Products:
                    g = g.total(xp, t.data.dtype)
                owned.discard(id(g))
                gs.append(g)
            in_grads = node.prim.vjp(xp, tuple(gs), outputs.data, *node.args, **node.params)
        if len(in_grads) != len(parents):
            raise RuntimeError(f"{node.prim.name}: its VJP returned {len(in_grads)} gradients "
                               f"for {len(parents)} inputs")
        if anomaly:
            in_grads = _anomalous(node, in_grads, xp)
        for parent, pg in zip(parents, in_grads, strict=False):  # lengths checked above
            if pg is None or not getattr(parent, "requires_grad", False):
                continue  # a lazy product (MatmulGrad, LeftProduct) nobody needs: never made
            seen = grads.get(parent)
            if seen is None:  # the first gradient to reach this tensor
                made_by = parent._node
                if made_by is None:
                    leaves.append(parent)
                elif made_by.outputs is None:
                    push(heap, (-made_by.seq, parent))
                elif id(made_by.outputs) not in split_waiting:
                    split_waiting.add(id(made_by.outputs))
                    push(heap, (-made_by.seq, parent))
            cls = pg.__class__
            if cls is MatmulGrad:
                if seen is None and _Products.takes(pg):  # a weight's first step: a block
                    grads[parent] = _Products(xp, pg)
                    continue
                if seen.__class__ is _Products and seen.accepts(pg):
                    seen.add(xp, pg)
                    continue
            if seen.__class__ is _Products:  # a gradient of another kind: settle them first
                seen = grads[parent] = seen.total(xp, parent.data.dtype)
                owned.add(id(seen))
            fresh = cls is MatmulGrad or cls is LeftProduct
            if fresh:  # a product nobody else holds: multiplied now that it is needed
                pg = pg.product(xp)
            data = parent.data
            if cls is SliceGrad:  # add the slice into one buffer, in place
                if seen is None:
                    buf = xp.zeros(data.shape, data.dtype)  # calloc: no memset pass
                elif id(seen) in owned:
                    buf = seen
                else:
                    buf = _array(seen.copy())
                buf[pg.index] += pg.g
            else:
                if pg.shape != data.shape:
                    pg = unbroadcast(pg, data.shape)
                if pg.dtype is not data.dtype and pg.dtype != data.dtype:  # mixed precision
                    pg = pg.astype(data.dtype)
                if seen is None:
                    grads[parent] = pg
                    if fresh:
                        grads[parent] = pg = _array(pg)
                        owned.add(id(pg))
                    continue
                if id(seen) in owned:
                    seen += pg
                    continue
                buf = _array(seen + pg)
            grads[parent] = buf
            owned.add(id(buf))
    if not retain_graph:
        for node in done:
            node.parents = node.args = None
    for leaf in leaves:
        g = grads.pop(leaf, None)
        if g is None:
            continue
        if g.__class__ is _Products:
            g = g.total(leaf.backend.xp, leaf.data.dtype)
        elif id(g) not in owned:
            g = g.copy()  # the caller's array or one a VJP may share: the leaf gets its own
        if leaf.grad is None:
            leaf.grad = Tensor._wrap(_array(g), leaf.backend)
        else:
            leaf.grad = Tensor._wrap(_array(leaf.grad.data + g), leaf.backend)
