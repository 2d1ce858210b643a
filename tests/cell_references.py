"""Independent NumPy float64 references for every built-in cell and for the sequence runner.

Written from the papers' equations (``shared/REFERENCE.md`` and the cell docstrings), sharing no
code with ``tinygrad_lstm``. Parameters come in as a dict of arrays keyed by the cell's parameter
names; weights are (out, in) and applied as ``x @ W.T``; every step takes and returns (B, width)
arrays. σ is the logistic function, ⊙ the elementwise product.

* ``REFERENCES[key]``: the step function of each cell, its state names and options.
* ``parameter_shapes(key, n_in, H)``: the parameters the equations need, with their shapes.
* ``RECURRENT_BLOCKS[key]``: the square weights that multiply something made from the previous
  state (h_{t-1}, r ⊙ h_{t-1}, C_{t-1}, ...), i.e. what ``init="orthogonal"`` should cover.
* ``run_sequence`` / ``run_stack``: the runner's semantics, one sequence at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Params = dict[str, np.ndarray]
State = tuple[np.ndarray, ...]


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def affine(p: Params, gate: str, inputs: dict[str, np.ndarray], bias: bool = True
           ) -> np.ndarray:
    """W_gate·[inputs] + b_gate written block by block: Σ_k inputs[k] @ W_{gate}_{k}.T (+ b)."""
    out = sum(value @ p[f"W_{gate}_{name}"].T for name, value in inputs.items())
    return out + p[f"b_{gate}"] if bias else out


# --- the vanilla RNN -----------------------------------------------------------------------------
def rnn(p: Params, x: np.ndarray, state: State, nonlinearity: str = "tanh") -> State:
    (h,) = state
    a = h @ p["W_h_h"].T + x @ p["W_h_x"].T + p["b_h"]
    return (np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0),)


# --- the LSTM family -----------------------------------------------------------------------------
def lstm(p: Params, x: np.ndarray, state: State) -> State:
    """Colah's essay (Hochreiter & Schmidhuber 1997 with Gers' forget gate)."""
    h, c = state
    f = sigmoid(h @ p["W_f_h"].T + x @ p["W_f_x"].T + p["b_f"])
    i = sigmoid(h @ p["W_i_h"].T + x @ p["W_i_x"].T + p["b_i"])
    c_tilde = np.tanh(h @ p["W_C_h"].T + x @ p["W_C_x"].T + p["b_C"])
    c_new = f * c + i * c_tilde
    o = sigmoid(h @ p["W_o_h"].T + x @ p["W_o_x"].T + p["b_o"])
    return o * np.tanh(c_new), c_new


def cifg(p: Params, x: np.ndarray, state: State, couple: str = "f") -> State:
    """Coupled input/forget: through f (essay, C = f C + (1 - f) C̃) or through i (Greff)."""
    h, c = state
    if couple == "f":
        f = sigmoid(affine(p, "f", {"h": h, "x": x}))
        i = 1.0 - f
    else:
        i = sigmoid(affine(p, "i", {"h": h, "x": x}))
        f = 1.0 - i
    c_new = f * c + i * np.tanh(affine(p, "C", {"h": h, "x": x}))
    o = sigmoid(affine(p, "o", {"h": h, "x": x}))
    return o * np.tanh(c_new), c_new


def greff_lstm(p: Params, x: np.ndarray, state: State, *, peepholes: Sequence[str] = "ifo",
               input_gate: bool = True, forget_gate: bool = True, output_gate: bool = True,
               input_activation: bool = True, output_activation: bool = True,
               coupled: bool = False, full_gate_recurrence: bool = False) -> State:
    """Greff et al. 2015's vanilla LSTM (peepholes) with each of its eight switches.

    z = g(W_z x + R_z y + b_z);  i = σ(W_i x + R_i y + p_i ⊙ c_{t-1} + b_i)
    f = σ(W_f x + R_f y + p_f ⊙ c_{t-1} + b_f);  c = z ⊙ i + c_{t-1} ⊙ f
    o = σ(W_o x + R_o y + p_o ⊙ c_t + b_o);  y = h(c) ⊙ o
    FGR: i, f and o (the gates, not the block input z) also read i_{t-1}, f_{t-1}, o_{t-1}
    through 9 extra matrices R_{g'g}. State (h, c) or, with FGR, (h, c, i, f, o).
    """
    h, c = state[:2]
    recur: dict[str, np.ndarray] = {}
    if full_gate_recurrence:
        recur = {"i": state[2], "f": state[3], "o": state[4]}

    def gate(name: str, cell_state: np.ndarray) -> np.ndarray:
        pre = affine(p, name, {"h": h, "x": x, **recur})
        if name in peepholes:
            pre = pre + p[f"p_{name}"] * cell_state
        return sigmoid(pre)

    i = gate("i", c) if input_gate else np.ones_like(c)
    if coupled:
        f = 1.0 - i
    else:
        f = gate("f", c) if forget_gate else np.ones_like(c)
    z = affine(p, "C", {"h": h, "x": x})
    z = np.tanh(z) if input_activation else z
    c_new = z * i + c * f
    o = gate("o", c_new) if output_gate else np.ones_like(c)
    y = (np.tanh(c_new) if output_activation else c_new) * o
    if full_gate_recurrence:
        return y, c_new, i, f, o
    return y, c_new


def peephole_full(p: Params, x: np.ndarray, state: State) -> State:
    """The essay's peephole drawing: full matrices over [C, h, x]; o looks at the new C_t."""
    h, c = state
    f = sigmoid(affine(p, "f", {"c": c, "h": h, "x": x}))
    i = sigmoid(affine(p, "i", {"c": c, "h": h, "x": x}))
    c_new = f * c + i * np.tanh(affine(p, "C", {"h": h, "x": x}))
    o = sigmoid(affine(p, "o", {"c": c_new, "h": h, "x": x}))
    return o * np.tanh(c_new), c_new


def layer_norm(a: np.ndarray, gain: np.ndarray, shift: np.ndarray, eps: float = 1e-5
               ) -> np.ndarray:
    """Ba et al. 2016 over the feature axis, with the biased variance."""
    mu = a.mean(axis=-1, keepdims=True)
    var = ((a - mu) ** 2).mean(axis=-1, keepdims=True)
    return (a - mu) / np.sqrt(var + eps) * gain + shift


def layernorm_lstm(p: Params, x: np.ndarray, state: State, eps: float = 1e-5) -> State:
    """Each gate is σ/tanh of LN(W_g·[h, x]) (β replaces the bias); h = o ⊙ tanh(LN(C_t))."""
    h, c = state

    def pre(g: str) -> np.ndarray:
        a = affine(p, g, {"h": h, "x": x}, bias=False)
        return layer_norm(a, p[f"gamma_{g}"], p[f"beta_{g}"], eps)

    f, i, o = sigmoid(pre("f")), sigmoid(pre("i")), sigmoid(pre("o"))
    c_new = f * c + i * np.tanh(pre("C"))
    h_new = o * np.tanh(layer_norm(c_new, p["gamma_c"], p["beta_c"], eps))
    return h_new, c_new


def depth_gated_lstm(p: Params, x: np.ndarray, state: State, c_below: np.ndarray | None = None
                     ) -> State:
    """Yao et al. 2015: d = σ(W_d x + w_dc ⊙ C_{t-1} + w_dl ⊙ C_t^{below} + b_d);
    C_t = d ⊙ C_t^{below} + f ⊙ C_{t-1} + i ⊙ C̃_t; the rest as the LSTM."""
    h, c = state
    if c_below is None:
        c_below = np.zeros_like(c)
    f = sigmoid(affine(p, "f", {"h": h, "x": x}))
    i = sigmoid(affine(p, "i", {"h": h, "x": x}))
    c_tilde = np.tanh(affine(p, "C", {"h": h, "x": x}))
    d = sigmoid(x @ p["W_d_x"].T + p["w_d_c"] * c + p["w_d_l"] * c_below + p["b_d"])
    c_new = d * c_below + f * c + i * c_tilde
    o = sigmoid(affine(p, "o", {"h": h, "x": x}))
    return o * np.tanh(c_new), c_new


# --- gated recurrent units -----------------------------------------------------------------------
def gru(p: Params, x: np.ndarray, state: State) -> State:
    """Cho et al. 2014 as the essay writes it: reset before the matmul, z admits h̃."""
    (h,) = state
    z = sigmoid(h @ p["W_z_h"].T + x @ p["W_z_x"].T + p["b_z"])
    r = sigmoid(h @ p["W_r_h"].T + x @ p["W_r_x"].T + p["b_r"])
    h_tilde = np.tanh((r * h) @ p["W_h_rh"].T + x @ p["W_h_x"].T + p["b_h"])
    return ((1.0 - z) * h + z * h_tilde,)


def torch_gru(p: Params, x: np.ndarray, state: State) -> State:
    """PyTorch's GRU: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); h' = (1 - z) n + z h."""
    (h,) = state
    r = sigmoid(x @ p["W_r_x"].T + h @ p["W_r_h"].T + p["b_r"])
    z = sigmoid(x @ p["W_z_x"].T + h @ p["W_z_h"].T + p["b_z"])
    n = np.tanh(x @ p["W_in_x"].T + p["b_in"] + r * (h @ p["W_hn_h"].T + p["b_hn"]))
    return ((1.0 - z) * n + z * h,)


def mgu(p: Params, x: np.ndarray, state: State) -> State:
    """Zhou et al. 2016: f = σ(W_f·[h, x] + b_f); h̃ = tanh(W_h·[f ⊙ h, x] + b_h)."""
    (h,) = state
    f = sigmoid(h @ p["W_f_h"].T + x @ p["W_f_x"].T + p["b_f"])
    h_tilde = np.tanh((f * h) @ p["W_h_fh"].T + x @ p["W_h_x"].T + p["b_h"])
    return ((1.0 - f) * h + f * h_tilde,)


def mut1(p: Params, x: np.ndarray, state: State) -> State:
    """Jozefowicz et al. 2015, MUT1."""
    (h,) = state
    z = sigmoid(x @ p["W_z_x"].T + p["b_z"])
    r = sigmoid(x @ p["W_r_x"].T + h @ p["W_r_h"].T + p["b_r"])
    cand = np.tanh((r * h) @ p["W_h_rh"].T + np.tanh(x) + p["b_h"])
    return (cand * z + h * (1.0 - z),)


def mut2(p: Params, x: np.ndarray, state: State) -> State:
    """Jozefowicz et al. 2015, MUT2: x enters the reset gate unweighted."""
    (h,) = state
    z = sigmoid(x @ p["W_z_x"].T + h @ p["W_z_h"].T + p["b_z"])
    r = sigmoid(x + h @ p["W_r_h"].T + p["b_r"])
    cand = np.tanh((r * h) @ p["W_h_rh"].T + x @ p["W_h_x"].T + p["b_h"])
    return (cand * z + h * (1.0 - z),)


def mut3(p: Params, x: np.ndarray, state: State) -> State:
    """Jozefowicz et al. 2015, MUT3: the update gate reads tanh(h)."""
    (h,) = state
    z = sigmoid(x @ p["W_z_x"].T + np.tanh(h) @ p["W_z_tanh_h"].T + p["b_z"])
    r = sigmoid(x @ p["W_r_x"].T + h @ p["W_r_h"].T + p["b_r"])
    cand = np.tanh((r * h) @ p["W_h_rh"].T + x @ p["W_h_x"].T + p["b_h"])
    return (cand * z + h * (1.0 - z),)


# --- the Clockwork RNN ---------------------------------------------------------------------------
def clockwork(p: Params, x: np.ndarray, state: State, periods: Sequence[int] = (1, 2, 4, 8)
              ) -> State:
    """Koutník et al. 2014: module k (period T_k, sorted ascending) updates when t mod T_k = 0
    and keeps its value otherwise; it reads the modules as slow as itself or slower (block upper
    triangular W_H). State (h, t): t is the per-sequence step counter, from 0."""
    h, t = state
    hidden = h.shape[1]
    per_module = hidden // len(periods)
    module_of = np.arange(hidden) // per_module
    W_H = p["W_h_h"].copy()
    for row in range(hidden):
        for col in range(hidden):
            if module_of[col] < module_of[row]:  # a faster module: not read
                W_H[row, col] = 0.0
    cand = np.tanh(h @ W_H.T + x @ p["W_h_x"].T + p["b_h"])
    steps = np.rint(t[:, 0]).astype(np.int64)
    period_of = np.asarray(periods)[module_of]
    ticks = steps[:, None] % period_of[None, :] == 0
    return np.where(ticks, cand, h), t + 1.0


# --- the registry --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reference:
    step: Callable[..., State]
    state: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    context: bool = False  # takes c_below, the cell state of the layer below
    tol: float = 1e-10  # rtol and atol of a float64 run against this reference

    def state_size(self, name: str, hidden: int) -> int:
        return 1 if name == "t" else hidden

    def __call__(self, p: Params, x: np.ndarray, state: State,
                 c_below: np.ndarray | None = None) -> State:
        if self.context:
            return self.step(p, x, state, c_below=c_below, **self.options)
        return self.step(p, x, state, **self.options)


HC = ("h", "c")
REFERENCES: dict[str, Reference] = {
    "rnn": Reference(rnn, ("h",)),
    "rnn-relu": Reference(rnn, ("h",), {"nonlinearity": "relu"}),
    "lstm": Reference(lstm, HC),
    "peephole": Reference(greff_lstm, HC),
    "peephole-full": Reference(peephole_full, HC),
    "cifg": Reference(cifg, HC, {"couple": "f"}),
    "cifg-i": Reference(cifg, HC, {"couple": "i"}),
    "gru": Reference(gru, ("h",)),
    "torch-gru": Reference(torch_gru, ("h",)),
    "mgu": Reference(mgu, ("h",)),
    "mut1": Reference(mut1, ("h",)),
    "mut2": Reference(mut2, ("h",)),
    "mut3": Reference(mut3, ("h",)),
    "layernorm-lstm": Reference(layernorm_lstm, HC),
    "clockwork": Reference(clockwork, ("h", "t")),
    "depth-gated-lstm": Reference(depth_gated_lstm, HC, context=True),
    "greff-nig": Reference(greff_lstm, HC, {"input_gate": False}),
    "greff-nfg": Reference(greff_lstm, HC, {"forget_gate": False}),
    "greff-nog": Reference(greff_lstm, HC, {"output_gate": False}),
    "greff-niaf": Reference(greff_lstm, HC, {"input_activation": False}),
    "greff-noaf": Reference(greff_lstm, HC, {"output_activation": False}),
    "greff-np": Reference(greff_lstm, HC, {"peepholes": ""}),
    "greff-cifg": Reference(greff_lstm, HC, {"coupled": True}),
    "greff-fgr": Reference(greff_lstm, ("h", "c", "i", "f", "o"),
                           {"full_gate_recurrence": True}),
}


def _hx(gates: str, n_in: int, H: int, bias: bool = True) -> dict[str, tuple[int, ...]]:
    """W_g_h (H, H), W_g_x (H, n_in) and b_g (H,) for each gate g."""
    out: dict[str, tuple[int, ...]] = {}
    for g in gates.split():
        out[f"W_{g}_h"], out[f"W_{g}_x"] = (H, H), (H, n_in)
        if bias:
            out[f"b_{g}"] = (H,)
    return out


def parameter_shapes(key: str, n_in: int, H: int) -> dict[str, tuple[int, ...]]:
    """Every parameter the cell's equations use, by the package's naming scheme."""
    sq, vec = (H, H), (H,)
    if key in ("rnn", "rnn-relu"):
        return _hx("h", n_in, H)
    if key == "lstm":
        return _hx("f i C o", n_in, H)
    if key == "cifg":
        return _hx("f C o", n_in, H)
    if key == "cifg-i":
        return _hx("i C o", n_in, H)
    if key == "peephole-full":
        return {**_hx("i f C o", n_in, H), "W_i_c": sq, "W_f_c": sq, "W_o_c": sq}
    if key == "gru":
        return {**_hx("z r", n_in, H), "W_h_rh": sq, "W_h_x": (H, n_in), "b_h": vec}
    if key == "torch-gru":
        return {**_hx("r z", n_in, H), "W_in_x": (H, n_in), "b_in": vec, "W_hn_h": sq, "b_hn": vec}
    if key == "mgu":
        return {**_hx("f", n_in, H), "W_h_fh": sq, "W_h_x": (H, n_in), "b_h": vec}
    if key == "mut1":
        return {"W_z_x": (H, n_in), "b_z": vec, **_hx("r", n_in, H), "W_h_rh": sq, "b_h": vec}
    if key == "mut2":
        return {**_hx("z", n_in, H), "W_r_h": sq, "b_r": vec, "W_h_rh": sq, "W_h_x": (H, n_in),
                "b_h": vec}
    if key == "mut3":
        return {"W_z_tanh_h": sq, "W_z_x": (H, n_in), "b_z": vec, **_hx("r", n_in, H),
                "W_h_rh": sq, "W_h_x": (H, n_in), "b_h": vec}
    if key == "layernorm-lstm":
        out = _hx("f i C o", n_in, H, bias=False)
        for g in ("f", "i", "C", "o", "c"):
            out[f"gamma_{g}"], out[f"beta_{g}"] = vec, vec
        return out
    if key == "clockwork":
        return _hx("h", n_in, H)
    if key == "depth-gated-lstm":
        return {**_hx("f i C o", n_in, H), "W_d_x": (H, n_in), "b_d": vec, "w_d_c": vec,
                "w_d_l": vec}
    if key in REFERENCES and REFERENCES[key].step is greff_lstm:
        opts = REFERENCES[key].options
        gates = ["C"]
        gates += ["i"] if opts.get("input_gate", True) else []
        forget = opts.get("forget_gate", True) and not opts.get("coupled", False)
        gates += ["f"] if forget else []
        gates += ["o"] if opts.get("output_gate", True) else []
        out = _hx(" ".join(gates), n_in, H)
        for g in gates:
            if g != "C" and g in opts.get("peepholes", "ifo"):
                out[f"p_{g}"] = vec
        if opts.get("full_gate_recurrence"):
            for g in ("i", "f", "o"):  # the 9 gate-to-gate matrices; z reads only h and x
                for src in ("i", "f", "o"):
                    out[f"W_{g}_{src}"] = sq
        return out
    raise KeyError(f"no reference for cell {key!r}")


def _recurrent_blocks(key: str) -> set[str]:
    shapes = parameter_shapes(key, 1, 2)  # n_in != H: square blocks are the recurrent ones
    if key == "clockwork":  # W_H is masked block-triangular: no orthogonal init is claimed
        return set()
    if key == "peephole-full":  # W_o_c reads the new C_t, not a previous state
        return {n for n, s in shapes.items() if s == (2, 2) and n != "W_o_c"}
    return {n for n, s in shapes.items() if s == (2, 2)}


RECURRENT_BLOCKS: dict[str, set[str]] = {key: _recurrent_blocks(key) for key in REFERENCES}


# --- the runner's semantics ----------------------------------------------------------------------
def run_sequence(ref: Reference, p: Params, xs: np.ndarray, state: State, reverse: bool = False,
                 below: list[np.ndarray] | None = None
                 ) -> tuple[np.ndarray, State, list[State]]:
    """Every step of one (unpadded) sequence xs (L, B, F); returns the outputs (L, B, width),
    the final state and the state after each step (indexed by time, in either direction)."""
    steps = xs.shape[0]
    outs: list[np.ndarray | None] = [None] * steps
    trail: list[State] = [()] * steps
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    for t in order:
        state = ref(p, xs[t], state, None if below is None else below[t])
        outs[t], trail[t] = state[0], state
    return np.stack(outs), state, trail


def run_stack(ref: Reference, params: Sequence[Params], x: np.ndarray, states: Sequence[State],
              num_layers: int = 1, bidirectional: bool = False,
              lengths: Sequence[int] | None = None) -> tuple[np.ndarray, list[State]]:
    """The runner: x (T, B, n_in); params and states per cell in the order layer 0 forward, layer
    0 reverse, layer 1 forward, ...; each sequence is run alone over its first ``lengths[b]``
    steps (outputs past it are zeros). The depth-gated context is the cell state of the layer
    below in the same direction at the same step."""
    steps, batch = x.shape[:2]
    lengths = [steps] * batch if lengths is None else list(lengths)
    directions = 2 if bidirectional else 1
    finals: list[list[np.ndarray]] = [[] for _ in range(num_layers * directions)]
    out_all: np.ndarray | None = None
    for b in range(batch):
        n = lengths[b]
        layer_in = x[:n, b:b + 1]
        below: list[list[np.ndarray] | None] = [None] * directions
        for layer in range(num_layers):
            outs, here = [], []
            for d in range(directions):
                k = layer * directions + d
                init = tuple(s[b:b + 1] for s in states[k])
                out, final, trail = run_sequence(ref, params[k], layer_in, init,
                                                 reverse=d == 1, below=below[d])
                outs.append(out)
                here.append([s[1] for s in trail] if ref.context else None)
                finals[k].append(final)
            below = here
            layer_in = np.concatenate(outs, axis=-1)
        if out_all is None:
            out_all = np.zeros((steps, batch, layer_in.shape[-1]))
        out_all[:n, b] = layer_in[:, 0]
    final_states = [tuple(np.concatenate([f[j] for f in per_b], axis=0)
                          for j in range(len(per_b[0]))) for per_b in finals]
    return out_all, final_states


#: how each reference key is built with ``tl.cells.create(name, n_in, H, **options)``
ZOO: dict[str, tuple[str, dict[str, Any]]] = {
    key: ("cifg", {"couple": "i"}) if key == "cifg-i" else (key, {}) for key in REFERENCES
}
#: cells that need input_size == hidden_size (they add x to an H-wide pre-activation)
SQUARE = frozenset({"mut1", "mut2"})
