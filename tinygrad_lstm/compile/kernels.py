"""Which path a cell takes: trace, derive and load its kernels once, or say why not.

Results are kept per process, keyed by the hash of the traced graph and the dtype (cells of one
kind and options share them, whatever their sizes), and on each cell for its dtype.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_lstm.compile import emit_loop
from tinygrad_lstm.compile.trace import Graph, NotCompilable, trace

if TYPE_CHECKING:
    from tinygrad_lstm.cells.base import Cell
    from tinygrad_lstm.compile.derive import Derivation

_state: dict[str, Any] = {"enabled": None, "unavailable": None, "warned": False}
_by_key: dict[str, Any] = {}


def set_enabled(flag: bool) -> None:
    """Turn the compiler on or off for this process (``TINYGRAD_LSTM_COMPILE=0`` starts off)."""
    _state["enabled"] = bool(flag)


def is_enabled() -> bool:
    """Whether ``Recurrent(..., compile=True)`` layers may run compiled."""
    if _state["enabled"] is None:
        _state["enabled"] = os.environ.get("TINYGRAD_LSTM_COMPILE", "1").strip().lower() not in (
            "0", "false", "no", "off")
    return bool(_state["enabled"])


def _numba_problem() -> str | None:
    """Why Numba cannot be used here, or None (checked once per process)."""
    if _state["unavailable"] is None:
        try:
            import numba  # noqa: F401
        except Exception as err:  # a broken install raises more than ImportError
            _state["unavailable"] = f"numba cannot be imported ({type(err).__name__}: {err})"
        else:
            _state["unavailable"] = ""
    return _state["unavailable"] or None


def _warn_once(reason: str) -> None:
    if not _state["warned"]:
        _state["warned"] = True
        warnings.warn(f"tinygrad_lstm.compile: {reason}; recurrent layers run on the tape "
                      "path (same results, slower)", RuntimeWarning, stacklevel=4)


@dataclass
class Compiled:
    """A cell's kernels and what they need: the graph, the derivation, the loaded module."""

    graph: Graph
    derivation_: Derivation | None  # None when the kernels came from the disk cache
    key: str
    dtype: np.dtype
    forward: Any
    backward: Any
    source: str
    timings: dict[str, float] = field(default_factory=dict)
    phases: tuple[Any, ...] = ()  # forward_0, forward_1, ...: the values later gates read
    phase_backward: dict[int, Any] = field(default_factory=dict)  # level -> backward_<level>

    saved: list[str] = field(default_factory=list)  # the saved values' names, in order
    #: the whole time loop in one call (``emit_loop``) and the address of the BLAS GEMM it
    #: calls; None where NumPy's BLAS has no such symbol (or on CuPy): the loop runs in Python
    run_forward: Any = None
    run_backward: Any = None
    gemm: int | None = None
    #: per product: kind, index, first and end gate, phase made after, first reader's level
    layout: list[tuple[str, int, int, int, int, int]] = field(default_factory=list)
    #: gate indices inside the input GEMM (the gates reading x_t) and outside it
    x_columns: tuple[list[int], list[int]] = ([], [])
    #: the runner's entry points called once already (compiled, under ``vectorising``)
    called: set[str] = field(default_factory=set)

    def __deepcopy__(self, memo: dict[int, Any]) -> Compiled:
        # compiled code is shared, as the process shares it between cells of one kind
        # (``_by_key``): a copied model keeps its kernels instead of rebuilding Numba's
        return self

    @property
    def derivation(self) -> Derivation:
        """The SymPy derivation (made now if the kernels were loaded from the cache)."""
        if self.derivation_ is None:
            from tinygrad_lstm.compile.derive import derive

            self.derivation_ = derive(self.graph)
        return self.derivation_


def _x_columns(g: Graph) -> tuple[list[int], list[int]]:
    xg = g.x_gates()
    return ([k for k, x in enumerate(g.gates) if x in xg],
            [k for k, x in enumerate(g.gates) if x not in xg])


def compile_graph(graph: Graph, dtype: Any, backend: str = "numpy") -> Compiled:
    """Derive and emit ``graph``'s kernels in ``dtype`` for ``backend`` ("numpy": Numba,
    "cupy": CUDA), cached; raises ``NotCompilable`` or ``OSError`` (cache not writable)."""
    dtype = np.dtype(dtype)
    key = graph.key(dtype)
    hit = _by_key.get((key, backend))
    if isinstance(hit, Compiled):
        return hit
    if isinstance(hit, NotCompilable):
        raise hit
    start = time.perf_counter()
    cached = None
    if backend == "numpy":  # a warm start: the kernels on disk, no SymPy
        from tinygrad_lstm.compile import emit_numba

        cached = emit_numba.load_cached(key)
    d = None
    if cached is None:
        from tinygrad_lstm.compile.derive import derive  # SymPy: imported only when deriving

        try:
            d = derive(graph)
        except NotCompilable as err:
            _by_key[(key, backend)] = err
            raise
    derived = time.perf_counter()
    phases: tuple[Any, ...] = ()
    phase_backward: dict[int, Any] = {}
    loops: dict[str, Any] = {}
    if backend == "cupy":
        from tinygrad_lstm.compile import emit_cuda

        assert d is not None
        text = emit_cuda.source(d, dtype, name=f"tl_{key}")
        cuda = emit_cuda.load(text, f"tl_{key}", graph.phases)
        forward, backward = cuda["forward"], cuda["backward"]
        phases = tuple(cuda[f"forward_{p}"] for p in range(graph.phases))
        phase_backward = {p: cuda[f"backward_{p}"] for p in range(1, graph.phases + 1)}
    else:
        from tinygrad_lstm.compile import emit_numba

        if cached is None:
            assert d is not None
            text = emit_numba.source(d, dtype)
            module = emit_numba.load(key, text)
        else:
            module, text = cached
        forward, backward = module.forward, module.backward
        phases = tuple(getattr(module, f"forward_{p}") for p in range(graph.phases))
        phase_backward = {p: getattr(module, f"backward_{p}")
                          for p in range(1, graph.phases + 1)}
        from tinygrad_lstm.compile.blas import gemm_address

        address = gemm_address(dtype)
        if address is not None:
            loops = {"run_forward": module.run_forward, "run_backward": module.run_backward,
                     "gemm": address}
    loaded = time.perf_counter()
    saved = [v.name for v in d.saved] if d is not None else list(module.SAVED)
    out = Compiled(graph, d, key, dtype, forward, backward, text,
                   {"derive_s": derived - start, "load_s": loaded - derived}, phases,
                   phase_backward, saved, **loops, layout=emit_loop.layout(graph),
                   x_columns=_x_columns(graph))
    _by_key[(key, backend)] = out
    return out


def for_cell(cell: Cell, warn: bool = True, backend: str = "numpy") -> Compiled | str:
    """The cell's kernels for its dtype on ``backend`` ("numpy" or "cupy"), or the reason (one
    line) it runs on the tape."""
    if not is_enabled():
        return "the compiler is switched off (tl.compile.set_enabled / TINYGRAD_LSTM_COMPILE)"
    problem = _numba_problem() if backend == "numpy" else None
    if problem:
        if warn:
            _warn_once(problem)
        return problem
    memo = cell.__dict__.get("_compiled")
    if memo is not None and memo[0] == (cell.dtype, backend):
        return memo[1]
    try:
        result: Compiled | str = compile_graph(trace(cell), cell.dtype, backend)
    except NotCompilable as err:
        name = type(cell).__name__
        result = str(err) if str(err).startswith(name) else f"{name}: {err}"
    except OSError as err:
        result = f"the kernel cache cannot be written ({err})"
        if warn:
            _warn_once(result)
        return result
    object.__setattr__(cell, "_compiled", ((cell.dtype, backend), result))
    return result
