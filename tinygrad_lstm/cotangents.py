"""Cotangents: how the gradients reaching one tensor add up, during one backward pass.

The walker in ``tape.py`` hands every VJP result here (``Cotangents.add``) and takes each
tensor's total back when it visits that tensor (``pop``) or ends at a leaf (``leaf``). What a
VJP may return, and how each kind adds itself into a tensor's pending gradient (its *slot*):

    a dense array    summed back to the input's shape (``unbroadcast``, the only place that
                     undoes broadcasting) and to its dtype, then added
    ``SliceGrad``    zero except on ``x[index]`` (getitem's VJP): added in place into one buffer,
                     O(slice) per slice instead of O(tensor)
    ``MatmulGrad``   a^T g, the right operand's gradient of a matrix product, multiplied only if
                     that operand needs a gradient; a weight read at every step gathers its
                     pairs into blocks of rows (``Products``), one GEMM per block
    ``LeftProduct``  g m, the left operand's, multiplied only if needed (the input sequence of
                     a first layer is not)

A slot holds None (no gradient yet), a dense array, or a pending ``Products``. The tape may
add in place only into arrays it allocated itself (``owned``): any other may be shared, e.g.
add's VJP hands one array to both its inputs. A new kind of gradient is a class here with an
``add_into(cotangents, slot, like)`` method returning the new slot, and an entry in ``LAZY``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_lstm.errors import ShapeError

__all__ = ["LAZY", "Cotangents", "LeftProduct", "MatmulGrad", "Products", "SliceGrad", "as_array",
           "unbroadcast"]


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


def as_array(a: Any) -> Any:
    """``a`` as an array: NumPy turns 0-d results into immutable scalars, which an in-place
    sum would silently rebind instead of updating."""
    return np.asarray(a) if isinstance(a, np.generic) else a


class Cotangents:
    """The slots of one backward pass, keyed by tensor (Tensor hashes by identity)."""

    __slots__ = ("slots", "owned")

    def __init__(self) -> None:
        self.slots: dict[Any, Any] = {}
        self.owned: set[int] = set()  # ids of the arrays the tape allocated: add into in place

    def seed(self, tensor: Any, g: Any) -> None:
        """Start ``tensor``'s slot with ``g`` (the caller's array: never written into)."""
        self.slots[tensor] = g

    def add(self, tensor: Any, g: Any) -> bool:
        """Add one VJP result into ``tensor``'s slot; True when it is the first to reach it."""
        slots = self.slots
        slot = slots.get(tensor)
        if g.__class__ in LAZY:
            slots[tensor] = g.add_into(self, slot, tensor)
        elif slot is None and g.shape == tensor.data.shape and g.dtype == tensor.data.dtype:
            slots[tensor] = g  # the most common edge, kept short: the first, as it is
        else:
            slots[tensor] = self.add_dense(slot, g, tensor.data, False)
        return slot is None

    def add_dense(self, slot: Any, g: Any, like: Any, fresh: bool) -> Any:
        """``slot + g`` for a dense ``g``, in place where the tape owns the slot; ``fresh``:
        ``g`` was made for this sum and nobody else holds it."""
        if g.shape != like.shape:
            g = unbroadcast(g, like.shape)
        if g.dtype is not like.dtype and g.dtype != like.dtype:  # mixed precision
            g = g.astype(like.dtype)
        if slot is None:
            if fresh:
                g = as_array(g)
                self.owned.add(id(g))
            return g
        if slot.__class__ is Products:  # a gradient of another kind: settle the blocks first
            slot = self.settle(slot, like)
        if id(slot) in self.owned:
            slot += g
            return slot
        total = as_array(slot + g)
        self.owned.add(id(total))
        return total

    def settle(self, slot: Any, like: Any) -> Any:
        """A pending slot as a dense array the tape owns."""
        total = as_array(slot.total(like.dtype))
        self.owned.add(id(total))
        return total

    def pop(self, tensor: Any) -> Any:
        """``tensor``'s total gradient, taken out to be handed to a VJP (which may keep it)."""
        g = self.slots.pop(tensor, None)
        if g.__class__ is Products:
            return g.total(tensor.data.dtype)
        self.owned.discard(id(g))  # no longer the tape's alone
        return g

    def leaf(self, tensor: Any) -> Any:
        """A leaf's total gradient as an array of its own, or None if none reached it."""
        g = self.slots.pop(tensor, None)
        if g is None:
            return None
        if g.__class__ is Products:
            return as_array(g.total(tensor.data.dtype))
        if id(g) not in self.owned:
            g = g.copy()  # the caller's array or one a VJP may share: the leaf gets its own
        return as_array(g)


class SliceGrad:
    """A gradient that is zero except on ``x[index]``, where it is ``g``.

    getitem's VJP returns this instead of a dense array, so that a tensor sliced many times (the
    hoisted input projection of a sequence, read once per time step) costs O(slice) per slice
    in backward: each slice is added in place into one buffer for the whole tensor.
    """

    __slots__ = ("index", "g")

    def __init__(self, index: Any, g: Any) -> None:
        self.index = index
        self.g = g

    def add_into(self, cot: Cotangents, slot: Any, tensor: Any) -> Any:
        like = tensor.data
        if slot is None:
            buf = tensor.backend.xp.zeros(like.shape, like.dtype)  # calloc: no memset pass
        elif slot.__class__ is Products:
            buf = cot.settle(slot, like)
        elif id(slot) in cot.owned:
            buf = slot
        else:
            buf = as_array(slot.copy())
        buf[self.index] += self.g
        cot.owned.add(id(buf))
        return buf

    def values(self, xp: Any) -> tuple[Any, Any]:
        """(the gradient to hand on, its entries) for detect_anomaly's check."""
        return self, self.g


class MatmulGrad:
    """The gradient a^T g of the right operand of a matrix product, multiplied only when that
    operand needs a gradient (a frozen weight does not). For a weight read at every step each
    step's a and g are copied, while they are still in cache, into a block of rows and a full
    block is multiplied at once (``Products``): one GEMM per block of steps instead of a small
    one per step, and no large concatenation at the end."""

    __slots__ = ("a", "g")

    def __init__(self, a: Any, g: Any) -> None:
        self.a = a
        self.g = g

    def product(self, xp: Any) -> Any:
        return xp.dot(self.a.T, self.g)

    def add_into(self, cot: Cotangents, slot: Any, tensor: Any) -> Any:
        if slot is None and Products.takes(self):  # a weight's first step: a block
            return Products(tensor.backend.xp, self)
        if slot.__class__ is Products and slot.accepts(self):
            slot.add(self)
            return slot
        return cot.add_dense(slot, self.product(tensor.backend.xp), tensor.data, True)

    def values(self, xp: Any) -> tuple[Any, Any]:
        product = self.product(xp)
        return product, product


class LeftProduct:
    """The gradient g m (m = b^T) of the left operand of a matrix product, multiplied only when
    that operand needs a gradient: the input sequence of a first layer does not, and its
    product is the largest GEMM of the backward pass."""

    __slots__ = ("g", "m")

    def __init__(self, g: Any, m: Any) -> None:
        self.g = g
        self.m = m

    def product(self, xp: Any) -> Any:
        return xp.dot(self.g, self.m)

    def add_into(self, cot: Cotangents, slot: Any, tensor: Any) -> Any:
        return cot.add_dense(slot, self.product(tensor.backend.xp), tensor.data, True)

    def values(self, xp: Any) -> tuple[Any, Any]:
        product = self.product(xp)
        return product, product


#: the lazy kinds: a VJP result of one of these classes adds itself (``add_into``)
LAZY = frozenset({SliceGrad, MatmulGrad, LeftProduct})


class Products:
    """The pending sum of products a_t^T g_t that is one tensor's gradient (a weight read at
    every step). Each pair is copied, while it is still in cache, into a block of rows; a full
    block is multiplied at once, one GEMM of ``ROWS`` rows instead of a small one per step."""

    __slots__ = ("xp", "a", "g", "rows", "sum")
    ROWS = 256

    def __init__(self, xp: Any, first: MatmulGrad) -> None:
        a, g = first.a, first.g
        self.xp = xp
        self.a = xp.empty((self.ROWS, a.shape[1]), a.dtype)
        self.g = xp.empty((self.ROWS, g.shape[1]), g.dtype)
        self.rows = 0
        self.sum: Any = None
        self.add(first)

    @staticmethod
    def takes(grad: MatmulGrad) -> bool:
        """Whether a pair can join a block: matrices of one dtype, a few rows (a step's batch)."""
        a, g = grad.a, grad.g
        return a.ndim == 2 and g.ndim == 2 and a.dtype == g.dtype \
            and a.shape[0] <= Products.ROWS // 2

    def accepts(self, grad: MatmulGrad) -> bool:
        """Whether a later pair can join: as ``takes``, and of the blocks' dtypes."""
        return self.takes(grad) and grad.a.dtype == self.a.dtype and grad.g.dtype == self.g.dtype

    def add(self, grad: MatmulGrad) -> None:
        a, g = grad.a, grad.g
        n = a.shape[0]
        if self.rows + n > self.ROWS:
            self._flush()
        self.a[self.rows:self.rows + n] = a
        self.g[self.rows:self.rows + n] = g
        self.rows += n

    def _flush(self) -> None:
        product = self.xp.dot(self.a[:self.rows].T, self.g[:self.rows])
        if self.sum is None:
            self.sum = product
        else:
            self.sum += product
        self.rows = 0

    def total(self, dtype: Any) -> Any:
        if self.rows:
            self._flush()
        out = self.sum
        if out is None:  # only pairs of 0 rows (an empty batch): a zero gradient
            out = self.xp.zeros((self.a.shape[1], self.g.shape[1]), dtype)
        return out if out.dtype == dtype else out.astype(dtype)
