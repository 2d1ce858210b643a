"""Scalar operations for generated kernels that Numba cannot spell, written in LLVM IR."""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

#: per float type: the integer of its width, the exponent bias, the mantissa bits
_IEEE = {types.float32: (32, 127, 23), types.float64: (64, 1023, 52)}


@intrinsic
def pow2_neg(typingctx: Any, n: Any) -> Any:
    """In Numba: 2^-n for a float ``n`` holding an integer with 2^-n a normal number
    (0 <= n <= 126 in float32, <= 1022 in float64), built from its bits: (bias - n) placed in
    the exponent field. It vectorises; the loop it replaces (one select per binary digit of n)
    cost a third of an LSTM forward kernel's time. Out of that range the result is wrong."""
    if n not in _IEEE:
        return None
    width, bias, shift = _IEEE[n]

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        it = ir.IntType(width)
        exponent = builder.sub(ir.Constant(it, bias), builder.fptosi(args[0], it))
        bits = builder.shl(exponent, ir.Constant(it, shift))
        return builder.bitcast(bits, context.get_value_type(signature.return_type))

    return n(n), codegen
