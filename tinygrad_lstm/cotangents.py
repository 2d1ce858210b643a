"""Cotangents: how the gradients reaching one tensor add up, during one backward pass.

The walker in ``tape.py`` hands every VJP result here (``Cotangents.add``) and takes each
tensor's total back when it visits that tensor (``pop``) or ends at a leaf (``leaf``). What a
VJP may return, and how each kind adds itself into a tensor's pending gradient (its *slot*):

    a dense array    summed back to the input's shape (``unbroadcast``, the only place that
                     undoes broadcasting) and to its dtype, then added
    ``SliceGrad``    zero except on ``x[index]`` (getitem's VJP): added in place into one buffer,
                     O(slice) per slice instead of O(tensor)
    ``Product``      a @ b, an operand's gradient of a matrix product (g b^T, a^T g),
                     multiplied only if that operand needs a gradient (a frozen weight, the
                     input sequence of a first layer do not)

A slot holds None (no gradient yet) or a dense array. The tape may
add in place only into arrays it allocated itself (``owned``): any other may be shared, e.g.
add's VJP hands one array to both its inputs. A new kind of gradient is a class here with an
``add_into(cotangents, slot, tensor)`` method returning the new slot, and an entry in ``LAZY``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_lstm.errors import ShapeError

__all__ = ["LAZY", "Cotangents", "Product", "SliceGrad", "as_array", "unbroadcast"]


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

    def add(self, tensor: Any, g: Any, fresh: bool = False) -> bool:
        """Add one VJP result into ``tensor``'s slot; True when it is the first to reach it.
        ``fresh``: ``g`` was made for this backward and nobody else holds it
        (``Primitive.fresh_grads``)."""
        slots = self.slots
        slot = slots.get(tensor)
        if g.__class__ in LAZY:
            slots[tensor] = g.add_into(self, slot, tensor)
        elif slot is None and g.shape == tensor.data.shape and g.dtype == tensor.data.dtype:
            slots[tensor] = g  # the most common edge, kept short: the first, as it is
            if fresh:
                self.owned.add(id(g))
        else:
            slots[tensor] = self.add_dense(slot, g, tensor.data, fresh)
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
        if id(slot) in self.owned:
            slot += g
            return slot
        total = as_array(slot + g)
        self.owned.add(id(total))
        return total

    def pop(self, tensor: Any) -> Any:
        """``tensor``'s total gradient, taken out to be handed to a VJP (which may keep it)."""
        g = self.slots.pop(tensor, None)
        self.owned.discard(id(g))  # no longer the tape's alone
        return g

    def leaf(self, tensor: Any) -> Any:
        """A leaf's total gradient as an array of its own, or None if none reached it."""
        g = self.slots.pop(tensor, None)
        if g is None:
            return None
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


class Product:
    """A gradient that is the matrix product ``a @ b``, multiplied only when the tensor it
    belongs to needs a gradient. matmul's VJP returns one per operand (g b^T for the left,
    a^T g for the right): a frozen weight needs none, nor does the input sequence of a first
    layer, whose product is the largest GEMM of the backward pass."""

    __slots__ = ("a", "b")

    def __init__(self, a: Any, b: Any) -> None:
        self.a = a
        self.b = b

    def add_into(self, cot: Cotangents, slot: Any, tensor: Any) -> Any:
        return cot.add_dense(slot, tensor.backend.xp.dot(self.a, self.b), tensor.data, True)

    def values(self, xp: Any) -> tuple[Any, Any]:
        product = xp.dot(self.a, self.b)
        return product, product


#: the lazy kinds: a VJP result of one of these classes adds itself (``add_into``)
LAZY = frozenset({SliceGrad, Product})
