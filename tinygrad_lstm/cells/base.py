"""The Cell base class: a recurrent cell is one ``step`` written from primitives.

A cell declares the names of its state and writes ``step(x, *state) -> new state``. Its learned
affine maps are ``self.gate(name, *inputs)``: W_name·[inputs] + b_name, a yellow box in the
essay's diagrams. Gates are discovered by running ``step`` once (on zeros, batch 1) the first
time the parameters are needed; each gate keeps one weight block per input, named after the
gate and the input (``W_f_h``, ``W_f_x``, ``b_f``), so the sequence runner can stack the blocks
of gates that share an input into one matmul and hoist every block that reads x_t out of the
time loop (``tinygrad_lstm.cells.plan``). A custom cell gets that without doing anything.

>>> import numpy as np, tinygrad_lstm as tl
>>> class Elman(tl.Cell):
...     state = ("h",)
...     def step(self, x, h):
...         return (self.gate("h", h, x).tanh(),)
>>> cell = Elman(input_size=3, hidden_size=4)
>>> [name for name, _ in cell.named_parameters()]
['W_h_h', 'W_h_x', 'b_h']
>>> h, state = cell(tl.Tensor(np.ones((2, 3))))
>>> h.shape
(2, 4)
"""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_lstm import random as tl_random
from tinygrad_lstm.cells.chrono import check_chrono
from tinygrad_lstm.cells.gate_params import GateParameters, GateSpec
from tinygrad_lstm.cells.step import GateStrategy, StepFrame, frame_of
from tinygrad_lstm.cells.step import run as run_frame
from tinygrad_lstm.checks import check_dtype, check_int, check_real
from tinygrad_lstm.errors import ShapeError
from tinygrad_lstm.module import Module, Parameter
from tinygrad_lstm.tape import no_grad
from tinygrad_lstm.tensor import Tensor, _as_dtype, concat, zeros

INITS = ("uniform", "orthogonal", "chrono")
# re-entrant: building a cell may build the cells it holds
_BUILD_LOCK = threading.RLock()


class Cell(GateParameters, Module):
    """Base class of every recurrent cell, built-in or custom.

    Subclasses set ``state`` (the names of the state tensors, the output first) and write
    ``step(self, x, *state)`` returning the new state as a tuple in the same order; inside it,
    the state is known by the names in ``state`` and the input as ``x``. Options:

    * ``bias``: give gates a bias (default True).
    * ``init``: ``"uniform"`` (PyTorch's U(-1/√H, 1/√H) for every weight and bias),
      ``"orthogonal"`` for the recurrent blocks (those that read a state), uniform elsewhere, or
      ``"chrono"`` (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?", eq. 16):
      uniform weights, and the gates named in the cell's ``chrono_gates`` start with biases
      b = ±log(u), u ~ U(1, t_max - 1) per unit, one draw shared by the gates: + for a gate that
      keeps the old state (the LSTM's f, PyTorch's GRU z), - for one that admits the new (the
      LSTM's i, the essay's GRU z). A keep gate then starts open for about u steps, so the
      cell's memory spans 1 to t_max - 1 steps from the start. Needs ``t_max``, the longest
      dependency expected (in steps; >= 2).
    * ``forget_bias``: if given, the bias of the gate named ``f`` starts at this value
      (Jozefowicz et al. 2015 recommend 1.0); a cell without such a gate refuses it.
    * ``gate_bias``: starting biases by gate name, e.g. ``{"z": -2.0}`` for a GRU whose update
      gate should start out keeping the old state.
    * ``t_max``: for ``init="chrono"`` only: the longest dependency, in steps.
    * ``dtype``: of the parameters (float32 unless float64 is asked for).
    """

    state: tuple[str, ...] = ("h",)
    #: names of extra per-step inputs the runner supplies, each mapped to the state name it is
    #: read from in the layer below (e.g. ``{"c_below": "c"}`` for the depth-gated LSTM)
    context: dict[str, str] = {}
    description: str = ""
    #: for ``init="chrono"``: gate name -> +1 (the gate keeps the old state, like a forget
    #: gate) or -1 (it admits the new, like an input gate). A cell without any refuses chrono.
    chrono_gates: dict[str, int] = {}

    def __new__(cls, *args: Any, **kwargs: Any) -> Cell:
        obj = super().__new__(cls)
        object.__setattr__(obj, "_init_args", (args, kwargs))  # for clone()
        return obj

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True,
                 init: str = "uniform", forget_bias: float | None = None,
                 gate_bias: dict[str, float] | None = None, t_max: float | None = None,
                 dtype: Any = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = check_int(owner, "input_size", input_size)
        self.hidden_size = check_int(owner, "hidden_size", hidden_size)
        if init not in INITS:
            raise ValueError(f"{owner}: init must be one of {INITS}, got {init!r}")
        self.use_bias = bool(bias)
        self.init = init
        self.forget_bias = None if forget_bias is None else check_real(owner, "forget_bias",
                                                                        forget_bias)
        if gate_bias is not None and not (
                isinstance(gate_bias, dict) and all(isinstance(k, str) for k in gate_bias)):
            raise TypeError(f"{owner}: gate_bias must be a dict of gate name -> number, got "
                            f"{gate_bias!r}")
        self.gate_bias = {k: check_real(owner, f"gate_bias[{k!r}]", v)
                          for k, v in (gate_bias or {}).items()}
        self.t_max = check_chrono(owner, init, t_max, self.forget_bias, self.gate_bias,
                                   type(self).chrono_gates)
        self._chrono_draw: np.ndarray | None = None
        self.dtype = _as_dtype(np.float32 if dtype is None else dtype, owner)
        self.gates: dict[str, GateSpec] = {}
        self._args: tuple[str, ...] = ()  # the step's argument names, in order
        self._built = False
        self._forget_bias_used = False
        self._chrono_used = False

    # --- what a cell declares ----------------------------------------------------------------
    def state_size(self, name: str) -> int:
        """The width of state ``name`` (``hidden_size`` unless a cell says otherwise)."""
        return self.hidden_size

    def output(self, state: tuple[Tensor, ...]) -> Tensor:
        """What the cell emits at each step: its first state, h_t."""
        return state[0]

    def output_size(self) -> int:
        """The width of ``output``: the first state's."""
        return self.state_size(self.state[0])

    def _state_index_below(self, name: str) -> int:
        return self.state.index(self.context[name])

    def step(self, x: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        raise NotImplementedError(f"{type(self).__name__} must define step(x, *state)")

    # --- gates -------------------------------------------------------------------------------
    def gate(self, name: str, *inputs: Tensor, size: int | None = None, bias: bool = True,
             names: Sequence[str] | None = None) -> Tensor:
        """The learned affine map W_name·[inputs] + b_name, created the first time it is used.

        ``size`` is its output width (``hidden_size`` by default); ``names`` names the weight
        blocks of inputs that are not step arguments (else ``in0``, ``in1``, ...).
        """
        frame = frame_of(self)
        if frame.strategy is not None:  # a runner, tracer or printer in charge of this step
            out = frame.strategy.gate(frame, name, inputs)
            if out is not None:
                return out
        return self.plain_gate(frame, name, inputs, size=size, bias=bias, names=names)

    def plain_gate(self, frame: StepFrame, name: str, inputs: Sequence[Tensor], *,
                   size: int | None = None, bias: bool = True,
                   names: Sequence[str] | None = None) -> Tensor:
        """``gate`` without a strategy: W·[inputs] + b from this gate's own blocks, the gate
        made (while the cell is being built) the first time. ``frame`` tells which step
        argument each input is. Raises ValueError/TypeError for no or non-Tensor inputs,
        RuntimeError for a gate first seen after the cell was built, ShapeError for inputs of
        the wrong width."""
        if not inputs:
            raise ValueError(f"{type(self).__name__}.gate({name!r}): needs at least one input")
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"{type(self).__name__}.gate({name!r}): input {i} is a "
                                f"{type(t).__name__}, expected a Tensor")
        spec = self.gates.get(name)
        if spec is None:
            if self._built:
                raise RuntimeError(f"{type(self).__name__}: gate {name!r} was not used when the "
                                   "cell was built; every gate must run on every step")
            spec = self._new_gate(name, inputs, self._sources(frame.current, inputs), size,
                                  bias, names)
        return self._affine(spec, inputs)

    def param(self, name: str, shape: tuple[int, ...],
              init: float | np.ndarray | None = None) -> Parameter:
        """A learned tensor other than a gate (a peephole vector, a gain), made on first use.

        Initialised like the gates (uniform) unless ``init`` gives a constant (or an array of
        ``shape``).
        """
        p = self._parameters.get(name)
        if p is None:
            if self._built:
                raise RuntimeError(f"{type(self).__name__}: parameter {name!r} was not used "
                                   "when the cell was built")
            if init is None:
                k = 1 / math.sqrt(self.hidden_size)
                value = tl_random.generator().uniform(-k, k, shape)
            elif isinstance(init, np.ndarray):
                value = np.broadcast_to(init, shape).copy()
            else:
                value = np.full(shape, float(init))
            p = self.register_parameter(name, Parameter(value, dtype=self.dtype))
        return p

    def _sources(self, current: Sequence[Tensor], inputs: Sequence[Tensor]
                 ) -> tuple[str | None, ...]:
        """Per input, the step argument it is (x, h, c, ...) or None for a computed value
        (``current``: the tensors bound to the arguments); the first name wins when one tensor
        was passed as two arguments."""
        names = dict(zip(map(id, reversed(current)), reversed(self._args), strict=False))
        return tuple(names.get(id(t)) for t in inputs)

    def _affine(self, spec: GateSpec, inputs: Sequence[Tensor]) -> Tensor:
        """W·[inputs] + b written as the essay writes it: one matrix over the concatenation."""
        for t, n, w in zip(inputs, spec.in_sizes, spec.weights, strict=True):
            if t.shape[-1] != n:
                raise ShapeError(f"{type(self).__name__}.gate({spec.name!r}): input for {w} has "
                                 f"{t.shape[-1]} features, expected {n}")
        blocks = [self.stacked_parameters((w,)) for w in spec.weights]
        if len(inputs) == 1:
            out = inputs[0] @ blocks[0].T
        else:
            out = concat(list(inputs), axis=-1) @ concat(blocks, axis=1).T
        return out if spec.bias is None else out + self.stacked_parameters((spec.bias,))

    def stacked_parameters(self, names: Sequence[str]) -> Tensor:
        """The gate parameters ``names`` (weight blocks or biases) stacked along their first
        axis, as the plan and ``gate`` read them. A cell that stores its gates' parameters in
        another layout (``tl.nn.LSTMCell``: PyTorch's stacked tensors and two biases) answers
        here with slices and sums of its own tensors, so the plan still applies to it."""
        blocks = [self._parameters[n] for n in names]
        return blocks[0] if len(blocks) == 1 else concat(blocks, axis=0)

    def _parameter_backend(self) -> Any:
        """The Backend the cell's parameters live on (None before it has any): where a tracer
        of its step (the compiler's, the symbolic printer's) makes its leaves."""
        return next((p.backend for p in self._parameters.values()), None)

    def stores_stacked(self, names: Sequence[str]) -> bool:
        """Whether ``stacked_parameters(names)`` is a tensor the cell stores (at most a sum of
        such tensors), not made from blocks: the compiled layer then takes it as it is, and its
        gradient whole. The zoo's cells store each block apart: False."""
        return False

    # --- building and calling ----------------------------------------------------------------
    def _ensure_built(self) -> None:
        if self._built:
            return
        with _BUILD_LOCK:  # two threads meeting an unbuilt cell: one builds, the other waits
            if not self._built:
                self._build()

    def _build(self) -> None:
        names = ("x", *self.state, *self.context)
        try:
            inspect.signature(self.step).bind(*names)
        except TypeError:
            raise TypeError(f"{type(self).__name__}.step must take {len(names)} arguments: x, "
                            f"then the state {self.state}"
                            + (f", then {tuple(self.context)}" if self.context else "")
                            ) from None
        self._args = names
        with no_grad():
            x = zeros((1, self.input_size), dtype=self.dtype)
            self.run_step(x, self.init_state(1), self._zero_context(1))
        if self.forget_bias is not None and not self._forget_bias_used:
            raise ValueError(f"{type(self).__name__}: forget_bias sets the bias of a forget gate "
                             "named 'f', and this cell has none")
        if self.init == "chrono" and not self._chrono_used:
            raise ValueError(f"{type(self).__name__}: init='chrono' sets the biases of the gates "
                             f"{sorted(self.chrono_gates)}, and this cell has none with a bias")
        unknown = sorted(set(self.gate_bias) - {g for g, spec in self.gates.items() if spec.bias})
        if unknown:
            raise ValueError(f"{type(self).__name__}: gate_bias names {unknown}, but the gates "
                             f"with a bias are {[g for g, s in self.gates.items() if s.bias]}")
        self._built = True

    def _zero_context(self, batch: int, backend: Any = None) -> tuple[Tensor, ...]:
        return tuple(zeros((batch, self.state_size(s)), dtype=self.dtype, backend=backend)
                     for s in self.context.values())

    def _own_parameters(self) -> dict[str, Parameter]:
        self._ensure_built()
        return self._parameters

    def init_state(self, batch: int, backend: Any = None) -> tuple[Tensor, ...]:
        """Zeros (batch, size) for every state, in the cell's dtype, on ``backend`` (a name or
        a backend; default the current one). The modules pass their input's backend, so a
        model moved with ``.to("cupy")`` starts from zeros on the GPU, as PyTorch's h_0 does."""
        return tuple(zeros((batch, self.state_size(s)), dtype=self.dtype, backend=backend)
                     for s in self.state)

    def run_step(self, x: Tensor, state: Sequence[Tensor], context: Sequence[Tensor] = (), *,
                 strategy: GateStrategy | None = None) -> tuple[Tensor, ...]:
        """One step with the state checked on the way out (the runner's entry point).

        ``strategy`` answers the step's gates (``tinygrad_lstm.cells.step``): the sequence
        plan, the compiler's tracer or the symbolic printer; None computes each gate plainly.
        It reaches ``gate`` through a context variable, so the cell itself is not written and
        threads running one cell do not meet."""
        new = run_frame(self, (x, *state, *context), strategy)
        if not isinstance(new, tuple | list) or len(new) != len(self.state):
            got = len(new) if isinstance(new, tuple | list) else type(new).__name__
            raise TypeError(f"{type(self).__name__}.step returned {got}; expected a tuple of "
                            f"{len(self.state)} tensors {self.state}")
        for name, before, after in zip(self.state, state, new, strict=True):
            if not isinstance(after, Tensor):
                raise TypeError(f"{type(self).__name__}.step returned state {name!r} as "
                                f"{type(after).__name__}; a step returns tl.Tensors")
            if after.shape != before.shape:
                raise ShapeError(f"{type(self).__name__}.step returned state {name!r} as "
                                 f"{after.shape}; it came in as {before.shape} (a step keeps each "
                                 "state's shape)")
        return tuple(new)

    def check_state(self, state: Sequence[Any], batch: int, where: str | None = None
                    ) -> tuple[Tensor, ...]:
        """Validate a user-given state (a tuple of tensors, one per state name): shapes, and
        dtypes equal to the parameters' (``where`` names the module in errors)."""
        owner = where or type(self).__name__
        if isinstance(state, Tensor):
            state = (state,)
        if not isinstance(state, tuple | list) or len(state) != len(self.state):
            raise ValueError(f"{owner}: state must be a tuple of {len(self.state)} tensors "
                             f"{self.state}, got {type(state).__name__}"
                             + (f" of length {len(state)}" if hasattr(state, "__len__") else ""))
        for name, s in zip(self.state, state, strict=True):
            want = (batch, self.state_size(name))
            if not isinstance(s, Tensor) or s.shape != want:
                got = s.shape if isinstance(s, Tensor) else type(s).__name__
                raise ShapeError(f"{owner}: state {name!r} has shape {got}, expected {want}")
            check_dtype(owner, f"state {name!r}", s, self.dtype)
        return tuple(state)

    def check_input(self, x: Any, where: str, ndims: tuple[int, ...] = (),
                    layout: str = "") -> None:
        """Raise one line naming what is wrong with an input ``x``: not a tl.Tensor
        (``TypeError``), not ``ndims``-D (``layout`` says how it should be; ``ShapeError``),
        the wrong number of features (``ShapeError``) or dtype (``DTypeError``)."""
        if not isinstance(x, Tensor):
            kind = type(x)
            name = kind.__name__ if kind.__module__ == "builtins" else \
                f"{kind.__module__.split('.')[0]}.{kind.__name__}"
            raise TypeError(f"{where}: input must be a tl.Tensor, got {name}"
                            + (" (wrap it: tl.Tensor(x))" if hasattr(x, "__array__") else ""))
        if ndims and x.ndim not in ndims:
            raise ShapeError(f"{where}: input must be {layout}, got shape {x.shape}")
        if x.shape[-1:] != (self.input_size,):
            raise ShapeError(f"{where}: input has shape {x.shape}: {x.shape[-1:] and x.shape[-1]}"
                             f" features, but {type(self).__name__} expects input_size="
                             f"{self.input_size}")
        check_dtype(where, "input", x, self.dtype)

    def __call__(self, x: Tensor, state: Sequence[Tensor] | None = None
                 ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """One step: ``h, state = cell(x_t, state)``; ``state=None`` means zeros."""
        self._ensure_built()
        self.check_input(x, type(self).__name__, (2,),
                         f"one step's x of shape (batch, {self.input_size})")
        batch = x.shape[0]
        state = self.init_state(batch, x.backend) if state is None else \
            self.check_state(state, batch)
        new = self.run_step(x, state, self._zero_context(batch, x.backend))
        return self.output(new), new

    def clone(self, input_size: int | None = None) -> Cell:
        """A new cell of the same kind and options, freshly initialised (maybe another width)."""
        args, kwargs = self._init_args
        bound = inspect.signature(type(self).__init__).bind(self, *args, **kwargs)
        bound.arguments.pop("self")
        if input_size is not None:
            bound.arguments["input_size"] = input_size
        clone = type(self)(*bound.args, **bound.kwargs)
        if clone.dtype != self.dtype:  # cast since it was made (module.to(dtype))
            clone.to(self.dtype)
        return clone

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}"
