"""The cell zoo against independent NumPy references, the planned path against the plain one,
gradients against central differences, and the cell API (calling, custom cells, init, clone)."""

from __future__ import annotations

import numpy as np
import pytest
from cell_references import RECURRENT_BLOCKS, REFERENCES, SQUARE, ZOO, parameter_shapes, run_stack
from example_cells import CoupledLSTM

import tinygrad_lstm as tl
from tinygrad_lstm.cells.plan import StepPlan

KEYS = list(REFERENCES)
F64 = tl.float64


def make(key: str, input_size: int, hidden_size: int, **options) -> tl.Cell:
    name, kwargs = ZOO[key]
    return tl.cells.create(name, input_size, hidden_size, dtype=F64, **kwargs, **options)


def sizes(key: str, input_size: int = 3, hidden_size: int = 4) -> tuple[int, int]:
    return (hidden_size, hidden_size) if key in SQUARE else (input_size, hidden_size)


def params_of(module: tl.nn.Module) -> dict[str, np.ndarray]:
    return {name: np.array(p.numpy(), dtype=np.float64) for name, p in module.named_parameters()}


def cell_params(rnn: tl.nn.Recurrent) -> list[dict[str, np.ndarray]]:
    return [params_of(c) for c in rnn.cells]


def T64(a: np.ndarray, requires_grad: bool = False) -> tl.Tensor:
    return tl.Tensor(a, dtype=F64, requires_grad=requires_grad)


def random_state(key: str, batch: int, hidden: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, ...]:
    ref = REFERENCES[key]
    out = []
    for name in ref.state:
        if name == "t":  # the clockwork's step counter: integers, not all 0
            out.append(rng.integers(0, 9, size=(batch, 1)).astype(np.float64))
        else:
            out.append(rng.uniform(-0.9, 0.9, size=(batch, ref.state_size(name, hidden))))
    return tuple(out)


def stack_config(key: str) -> tuple[int, bool]:
    """Two layers, bidirectional where the cell allows it (MUT1/2 cannot read 2H inputs)."""
    return 2, key not in SQUARE


def objective(out: tl.Tensor, finals: list, w_out: np.ndarray, w_state: list) -> tl.Tensor:
    """A scalar that reads every output and every differentiable final state."""
    total = (out * T64(w_out)).sum()
    for layer, weights in zip(finals, w_state, strict=True):
        for s, w in zip(layer, weights, strict=True):
            if w is not None:
                total = total + (s * T64(w)).sum()
    return total


def state_weights(key: str, states: list, rng: np.random.Generator) -> list:
    """Random weights for every state of every cell (None for the clockwork's counter)."""
    names = REFERENCES[key].state
    return [[None if n == "t" else rng.standard_normal(s.shape)
             for n, s in zip(names, layer, strict=True)] for layer in states]


def assert_close(got, want, tol: float = 1e-10, what: str = "") -> None:
    """Within ``tol`` (rtol and atol); the references' own tolerances live in their table."""
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=tol, atol=tol,
                               err_msg=what)


# --- the table covers the zoo ----------------------------------------------------------------
def test_every_builtin_cell_has_a_reference() -> None:
    assert {name for name, _ in ZOO.values()} == set(tl.cells.available())


@pytest.mark.parametrize("key", KEYS)
def test_parameters_are_what_the_equations_need(key: str) -> None:
    """Names and shapes: nothing the paper's equations lack, nothing missing."""
    n_in, H = sizes(key, 3, 4)
    cell = make(key, n_in, H)
    got = {name: p.shape for name, p in cell.named_parameters()}
    want = parameter_shapes(key, n_in, H)
    assert sorted(set(got) - set(want)) == [], "parameters the equations do not have"
    assert sorted(set(want) - set(got)) == [], "parameters the equations need"
    assert got == want


# --- a. numerics against the references ------------------------------------------------------
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "plain"])
@pytest.mark.parametrize("key", KEYS)
def test_sequence_matches_reference(backend: str, key: str, fused: bool) -> None:
    rng = np.random.default_rng(KEYS.index(key))
    tl.manual_seed(1)
    n_in, H = sizes(key)
    if key == "clockwork":
        H = 8  # two units per module
    steps, batch = 5, 3
    cell = make(key, n_in, H)
    rnn = tl.nn.Recurrent(cell, fused=fused)
    x = rng.standard_normal((steps, batch, n_in))
    s0 = random_state(key, batch, H, rng)
    out, finals = rnn(T64(x), [tuple(T64(s) for s in s0)])
    want_out, want_finals = run_stack(REFERENCES[key], cell_params(rnn), x, [s0])
    assert out.shape == (steps, batch, H)
    assert_close(out.numpy(), want_out, REFERENCES[key].tol, "outputs")
    assert len(finals) == 1 and len(finals[0]) == len(REFERENCES[key].state)
    for name, got, want in zip(REFERENCES[key].state, finals[0], want_finals[0], strict=True):
        assert_close(got.numpy(), want, REFERENCES[key].tol, f"final {name}")
    # from zeros (state=None) too
    out0, _ = rnn(T64(x))
    zeros = tuple(np.zeros((batch, REFERENCES[key].state_size(n, H)))
                  for n in REFERENCES[key].state)
    assert_close(out0.numpy(), run_stack(REFERENCES[key], cell_params(rnn), x, [zeros])[0],
                 REFERENCES[key].tol)


@pytest.mark.parametrize("key", KEYS)
def test_stack_matches_reference(backend: str, key: str) -> None:
    """Layers, directions, unsorted lengths, a random initial state for every layer and
    direction, and the order of the returned state list (l0, l0 reverse, l1, ...)."""
    rng = np.random.default_rng(7)
    tl.manual_seed(2)
    n_in, H = sizes(key, 2, 4)
    num_layers, bidirectional = stack_config(key)
    rnn = tl.nn.Recurrent(make(key, n_in, H), num_layers=num_layers, bidirectional=bidirectional)
    steps, lengths = 4, [2, 4, 1]
    x = rng.standard_normal((steps, len(lengths), n_in))
    s0 = [random_state(key, len(lengths), H, rng) for _ in rnn.cells]
    out, finals = rnn(T64(x), [tuple(T64(s) for s in layer) for layer in s0], lengths=lengths)
    want_out, want_finals = run_stack(REFERENCES[key], cell_params(rnn), x, s0, num_layers,
                                      bidirectional, lengths)
    assert_close(out.numpy(), want_out, REFERENCES[key].tol, "outputs")
    assert len(finals) == len(want_finals) == num_layers * (2 if bidirectional else 1)
    for k, (got, want) in enumerate(zip(finals, want_finals, strict=True)):
        for name, g, w in zip(REFERENCES[key].state, got, want, strict=True):
            assert_close(g.numpy(), w, REFERENCES[key].tol, f"final {name} of cell {k}")


def test_depth_gate_reads_the_layer_below() -> None:
    """The depth-gated LSTM's second layer really depends on the first layer's cell state."""
    tl.manual_seed(3)
    rnn = tl.nn.Recurrent(make("depth-gated-lstm", 3, 4), num_layers=2)
    x = np.random.default_rng(0).standard_normal((3, 2, 3))
    out, _ = rnn(T64(x))
    p = cell_params(rnn)
    zeros = [(np.zeros((2, 4)), np.zeros((2, 4)))] * 2
    assert_close(out.numpy(), run_stack(REFERENCES["depth-gated-lstm"], p, x, zeros, 2)[0])
    p[1]["w_d_l"] = np.zeros(4)  # cut the link: the result must change
    cut = run_stack(REFERENCES["depth-gated-lstm"], p, x, zeros, 2)[0]
    assert np.abs(out.numpy() - cut).max() > 1e-4


def test_clockwork_slow_modules_hold_their_value() -> None:
    tl.manual_seed(4)
    cell = make("clockwork", 3, 4)  # periods (1, 2, 4, 8), one unit each
    out, [(final_h, final_t)] = tl.nn.Recurrent(cell)(
        T64(np.random.default_rng(1).standard_normal((9, 2, 3))))
    h = out.numpy()
    for t in range(1, 9):
        for unit, period in enumerate((1, 2, 4, 8)):
            if t % period:
                assert_close(h[t, :, unit], h[t - 1, :, unit])
            else:
                assert np.all(h[t, :, unit] != h[t - 1, :, unit])
    assert_close(final_t.numpy(), np.full((2, 1), 9.0))


# --- b. the planned path equals the plain one ------------------------------------------------
def _run_with_grads(rnn: tl.nn.Recurrent, x: np.ndarray, s0, lengths, w_out, w_state):
    for p in rnn.parameters():
        p.grad = None
    xt = T64(x, requires_grad=True)
    state = [tuple(T64(s, requires_grad=True) for s in layer) for layer in s0]
    out, finals = rnn(xt, state, lengths=lengths)
    objective(out, finals, w_out, w_state).backward()
    grads = {name: p.grad.numpy().copy() for name, p in rnn.named_parameters()
             if p.grad is not None}
    return out.numpy().copy(), [[s.numpy().copy() for s in f] for f in finals], grads, \
        xt.grad.numpy().copy(), [[s.grad for s in layer] for layer in state]


@pytest.mark.parametrize("key", KEYS)
def test_fused_equals_plain(backend: str, key: str) -> None:
    rng = np.random.default_rng(11)
    tl.manual_seed(5)
    n_in, H = sizes(key, 3, 4)
    num_layers, bidirectional = stack_config(key)
    fused = tl.nn.Recurrent(make(key, n_in, H), num_layers, bidirectional, fused=True)
    plain = tl.nn.Recurrent(make(key, n_in, H), num_layers, bidirectional, fused=False)
    plain.load_state_dict(fused.state_dict())
    steps, lengths = 4, [3, 4, 1]
    x = rng.standard_normal((steps, len(lengths), n_in))
    s0 = [random_state(key, len(lengths), H, rng) for _ in fused.cells]
    w_out = rng.standard_normal((steps, len(lengths), H * (2 if bidirectional else 1)))
    w_state = state_weights(key, s0, rng)
    a = _run_with_grads(fused, x, s0, lengths, w_out, w_state)
    b = _run_with_grads(plain, x, s0, lengths, w_out, w_state)
    assert_close(a[0], b[0], 1e-12, "outputs")
    for fa, fb in zip(a[1], b[1], strict=True):
        for sa, sb in zip(fa, fb, strict=True):
            assert_close(sa, sb, 1e-12, "final states")
    assert a[2].keys() == b[2].keys() == {name for name, _ in fused.named_parameters()}
    for name in a[2]:
        assert_close(a[2][name], b[2][name], 1e-12, f"gradient of {name}")
    assert_close(a[3], b[3], 1e-12, "gradient of x")
    for la, lb in zip(a[4], b[4], strict=True):
        for ga, gb in zip(la, lb, strict=True):
            assert (ga is None) == (gb is None)
            if ga is not None:
                assert_close(ga.numpy(), gb.numpy(), 1e-12, "gradient of the initial state")


# --- c. gradients against central differences ------------------------------------------------
def _gradcheck_configs(key: str) -> list[tuple[int, bool]]:
    return [(2, False), (1, True)] if key in SQUARE else [(2, True)]


def _gradcheck_stack(key: str, n_in: int, H: int, num_layers: int, bidirectional: bool) -> None:
    steps, lengths = 3, [3, 2]
    rng = np.random.default_rng(13)
    tl.manual_seed(6)
    rnn = tl.nn.Recurrent(make(key, n_in, H), num_layers, bidirectional)
    x = T64(rng.standard_normal((steps, 2, n_in)), requires_grad=True)
    s0 = [random_state(key, 2, H, rng) for _ in rnn.cells]
    names = REFERENCES[key].state
    state_in = [T64(s, requires_grad=n != "t") for layer in s0
                for n, s in zip(names, layer, strict=True)]
    w_out = rng.standard_normal((steps, 2, H * (2 if bidirectional else 1)))
    w_state = state_weights(key, s0, rng)
    k = len(names)

    def fn(xs: tl.Tensor, *flat: tl.Tensor) -> tl.Tensor:
        state = [tuple(flat[i:i + k]) for i in range(0, len(flat), k)]
        out, finals = rnn(xs, state, lengths=lengths)
        return objective(out, finals, w_out, w_state)

    assert tl.gradcheck(fn, x, *state_in)

    # parameters: analytic gradients from one backward ...
    rnn.zero_grad()
    fn(x, *state_in).backward()
    analytic = {name: p.grad.numpy().copy() for name, p in rnn.named_parameters()}
    base = rnn.state_dict()

    def value(overrides: dict[str, np.ndarray]) -> float:
        rnn.load_state_dict({**base, **overrides})
        with tl.no_grad():
            result = fn(x, *state_in).item()
        rnn.load_state_dict(base)
        return result

    def central(name: str, step: np.ndarray) -> float:
        return (value({name: base[name] + step}) - value({name: base[name] - step})) / 2e-6

    # ... against a random directional derivative for every parameter tensor ...
    for name, theta in base.items():
        u = rng.standard_normal(theta.shape)
        numeric, by_grad = central(name, 1e-6 * u), float(np.sum(analytic[name] * u))
        assert abs(by_grad - numeric) <= 1e-6 + 1e-5 * abs(numeric), \
            f"{name}: <grad, u> = {by_grad} but central differences give {numeric}"
    # ... and entry by entry for the first cell
    for name, theta in base.items():
        if not name.startswith("l0."):
            continue
        for idx in np.ndindex(theta.shape):
            bump = np.zeros_like(theta)
            bump[idx] = 1e-6
            numeric = central(name, bump)
            assert abs(analytic[name][idx] - numeric) <= 1e-6 + 1e-5 * abs(numeric), \
                f"d/d {name}{list(idx)}: {analytic[name][idx]} by backward, {numeric} by " \
                "central differences"


@pytest.mark.parametrize("key", KEYS)
def test_gradcheck(backend: str, key: str) -> None:
    """x and the initial state by tl.gradcheck (full Jacobian); every parameter tensor by a
    directional central difference, and every entry of the first cell's parameters; through
    two layers, both directions (MUT1/2: two layers one way, one layer both ways) and lengths."""
    n_in, H = (2, 4) if key == "clockwork" else sizes(key, 2, 2)
    for num_layers, bidirectional in _gradcheck_configs(key):
        _gradcheck_stack(key, n_in, H, num_layers, bidirectional)


# --- e. the cell API -------------------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_single_step_call(backend: str, key: str) -> None:
    rng = np.random.default_rng(17)
    n_in, H = sizes(key)
    cell = make(key, n_in, H)
    x = rng.standard_normal((3, n_in))
    ref = REFERENCES[key]
    zeros = tuple(np.zeros((3, ref.state_size(n, H))) for n in ref.state)
    h, state = cell(T64(x))
    h0, state0 = cell(T64(x), tuple(T64(s) for s in zeros))
    want = ref(params_of(cell), x, zeros)
    assert h.shape == (3, H) and len(state) == len(ref.state)
    assert_close(h.numpy(), want[0])
    assert_close(h0.numpy(), want[0])
    for a, b, w in zip(state, state0, want, strict=True):
        assert_close(a.numpy(), w)
        assert_close(b.numpy(), w)
    s = random_state(key, 3, H, rng)
    h, state = cell(T64(x), tuple(T64(v) for v in s))
    want = ref(params_of(cell), x, s)
    assert_close(h.numpy(), want[0])
    for a, w in zip(state, want, strict=True):
        assert_close(a.numpy(), w)


def _count_matmuls(t: tl.Tensor) -> int:
    seen, todo, count = set(), [t], 0
    while todo:
        node = todo.pop()._node
        # the outputs of one call of a primitive with several (addmm_split) are one product
        key = id(node) if node is None or node.outputs is None else id(node.outputs)
        if node is None or key in seen:
            continue
        seen.add(key)
        count += node.prim.name in ("matmul", "addmm", "addmm_split")  # c + a @ b, one GEMM
        todo.extend(p for p in node.parents if isinstance(p, tl.Tensor))
    return count


def test_custom_cell_is_named_planned_and_right(backend: str) -> None:
    tl.manual_seed(8)
    cell = CoupledLSTM(3, 4, dtype=F64)
    names = [n for n, _ in cell.named_parameters()]
    assert names == ["W_f_h", "W_f_x", "b_f", "W_C_h", "W_C_x", "b_C", "W_o_h", "W_o_x", "b_o"]
    assert {g: spec.sources for g, spec in cell.gates.items()} == \
        {"f": ("h", "x"), "C": ("h", "x"), "o": ("h", "x")}
    steps, batch = 5, 2
    x = np.random.default_rng(2).standard_normal((steps, batch, 3))
    plan = StepPlan(cell, T64(x))
    assert len(plan.groups) == 1 and len(plan.groups[0].gates) == 3  # f, C, o side by side
    assert plan.projection.shape == (steps, batch, 12)  # every x block hoisted, one GEMM
    # on the tape: one hoisted GEMM + one h product per step, against three per step plain
    fused_out, _ = tl.nn.Recurrent(cell, compile=False)(T64(x, requires_grad=True))
    plain_out, _ = tl.nn.Recurrent(cell, fused=False)(T64(x, requires_grad=True))
    assert _count_matmuls(fused_out) == 1 + steps
    assert _count_matmuls(plain_out) == 3 * steps
    assert_close(fused_out.numpy(), plain_out.numpy(), 1e-12)
    # it is the essay's CIFG
    zeros = (np.zeros((batch, 4)), np.zeros((batch, 4)))
    want, _ = run_stack(REFERENCES["cifg"], [params_of(cell)], x, [zeros])
    assert_close(fused_out.numpy(), want)
    # and its gradients through the plan are those of the plain path
    for fused in (True, False):
        cell.zero_grad()
        out, [(h, c)] = tl.nn.Recurrent(cell, fused=fused)(T64(x))
        ((out * out).sum() + (c * h).sum()).backward()
        grads = {n: p.grad.numpy().copy() for n, p in cell.named_parameters()}
        if fused:
            first = grads
    for n in names:
        assert_close(first[n], grads[n], 1e-12, n)


@pytest.mark.parametrize("key", [k for k in KEYS if RECURRENT_BLOCKS[k]])
def test_orthogonal_init_covers_the_recurrent_blocks(key: str) -> None:
    """init="orthogonal": every square block that multiplies the previous state (h, r ⊙ h,
    f ⊙ h, tanh h, C, i/f/o) is orthogonal; the input blocks stay U(-1/√H, 1/√H)."""
    tl.manual_seed(9)
    H = 5
    n_in = H if key in SQUARE else 3
    params = params_of(make(key, n_in, H, init="orthogonal"))
    for name in RECURRENT_BLOCKS[key]:
        W = params[name]
        assert_close(W @ W.T, np.eye(H), 1e-12, f"{name} is not orthogonal")
    for name, W in params.items():
        if name.startswith("W_") and name.endswith("_x"):
            assert np.abs(W).max() <= 1 / np.sqrt(H)
            assert np.abs(W @ W.T - np.eye(H)).max() > 0.1
    uniform = params_of(make(key, n_in, H))
    for name in RECURRENT_BLOCKS[key]:
        assert np.abs(uniform[name]).max() <= 1 / np.sqrt(H)


FORGET_GATED = ["lstm", "peephole", "peephole-full", "cifg", "layernorm-lstm",
                "depth-gated-lstm", "greff-nig", "greff-nog", "greff-niaf", "greff-noaf",
                "greff-np", "greff-fgr"]


@pytest.mark.parametrize("key", FORGET_GATED)
def test_forget_bias_opens_the_forget_gate(key: str) -> None:
    """forget_bias=b: with every weight and every other bias zero, the forget gate is σ(b), so
    one step from (h, C) = (0, C_0) on x = 0 gives C_1 = σ(b) C_0 (the block input is 0)."""
    cell = make(key, 3, 4, forget_bias=1.0)
    params = params_of(cell)
    for bias in ("b_f", "beta_f"):
        if bias in params:
            assert_close(params[bias], np.ones(4), 0.0)
    # b_f, or β_f for the layer-normalised LSTM (its shift replaces the bias)
    cell.load_state_dict({name: value if name in ("b_f", "beta_f") or name.startswith("gamma_")
                          else
                          np.zeros_like(value) for name, value in params.items()})
    ref = REFERENCES[key]
    state = [np.zeros((1, 4)) for _ in ref.state]
    state[1] = np.array([[1.0, -2.0, 0.5, 3.0]])
    _, new = cell(T64(np.zeros((1, 3))), tuple(T64(s) for s in state))
    sig = 1 / (1 + np.exp(-1.0))
    assert_close(new[1].numpy(), sig * state[1], 1e-12, "C_1 = σ(forget_bias) C_0")


def test_manual_seed_makes_init_reproducible() -> None:
    def weights(seed: int, key: str = "lstm") -> dict[str, np.ndarray]:
        tl.manual_seed(seed)
        return params_of(tl.nn.Recurrent(make(key, 3, 4), num_layers=2, bidirectional=True))

    a, b, c = weights(21), weights(21), weights(22)
    assert a.keys() == b.keys() == c.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        assert not np.array_equal(a[name], c[name])
    tl.manual_seed(23)
    o1 = params_of(make("gru", 3, 4, init="orthogonal"))
    tl.manual_seed(23)
    o2 = params_of(make("gru", 3, 4, init="orthogonal"))
    for name in o1:
        np.testing.assert_array_equal(o1[name], o2[name])


def test_clone_keeps_options_and_draws_new_weights() -> None:
    tl.manual_seed(10)
    cases = [
        tl.cells.create("rnn-relu", 3, 4, dtype=F64),
        tl.cells.PeepholeLSTM(3, 4, peepholes=("f",), output_activation=False, dtype=F64),
        tl.cells.CIFG(3, 4, couple="f", forget_bias=2.0, dtype=F64),
        tl.cells.create("clockwork", 3, 4, periods=(1, 3), dtype=F64),
        tl.cells.create("greff-fgr", 3, 4, bias=False),
    ]
    rng = np.random.default_rng(3)
    for cell in cases:
        twin = cell.clone()
        assert type(twin) is type(cell) and twin.dtype == cell.dtype
        assert twin.init == cell.init and twin.use_bias == cell.use_bias
        assert twin.forget_bias == cell.forget_bias and twin.state == cell.state
        a, b = params_of(cell), params_of(twin)
        assert {n: v.shape for n, v in a.items()} == {n: v.shape for n, v in b.items()}
        assert all(not np.array_equal(a[n], b[n]) for n in a if np.ptp(a[n]) > 0)
        # same function once the weights agree
        twin.load_state_dict(cell.state_dict())
        x = rng.standard_normal((2, 3))
        s = tuple(rng.integers(0, 5, (2, 1)).astype(float) if n == "t" else
                  rng.standard_normal((2, 4)) for n in cell.state)
        h1, _ = cell(tl.Tensor(x, dtype=cell.dtype), tuple(tl.Tensor(v, dtype=cell.dtype)
                                                         for v in s))
        h2, _ = twin(tl.Tensor(x, dtype=cell.dtype), tuple(tl.Tensor(v, dtype=cell.dtype)
                                                         for v in s))
        np.testing.assert_array_equal(h1.numpy(), h2.numpy())
        wider = cell.clone(input_size=7)
        assert wider.input_size == 7 and wider.hidden_size == 4
        assert all(p.shape[-1] == 7 for n, p in wider.named_parameters() if n.endswith("_x"))
    assert cases[0].clone().nonlinearity == "relu"
    assert cases[1].clone().peepholes == ("f",) and not cases[1].clone().output_activation
    assert cases[2].clone().couple == "f"
    assert cases[3].clone().periods == (1, 3)


def test_gate_and_param_errors() -> None:
    class NoInputs(tl.Cell):
        def step(self, x, h):
            return (self.gate("h"),)

    with pytest.raises(ValueError, match="needs at least one input"):
        NoInputs(2, 2)(T64(np.ones((1, 2))))

    class WrongArity(tl.Cell):
        def step(self, x):
            return (x,)

    with pytest.raises(TypeError, match="must take 2 arguments"):
        WrongArity(2, 2)(T64(np.ones((1, 2))))

    class ReturnsTensor(tl.Cell):
        def step(self, x, h):
            return self.gate("h", h, x)

    with pytest.raises(TypeError, match="ReturnsTensor.step returned"):
        ReturnsTensor(2, 2)(T64(np.ones((1, 2))))

    class Clash(tl.Cell):
        def step(self, x, h):
            return (self.gate("h", h, h),)

    with pytest.raises(ValueError, match="'W_h_h'.*pass names="):
        Clash(2, 2, dtype=F64).named_parameters().__next__()


@pytest.mark.parametrize("key", ["gru", "torch-gru", "greff-nfg", "greff-cifg", "rnn"])
def test_forget_bias_without_a_forget_gate_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="forget_bias .* named 'f', and this cell has none"):
        make(key, 3, 4, forget_bias=1.0).parameters()


def test_gate_bias_sets_named_biases_and_refuses_unknown_gates() -> None:
    cell = tl.cells.GRU(3, 4, gate_bias={"z": -2.0, "r": 0.5})
    values = dict(cell.named_parameters())
    np.testing.assert_array_equal(values["b_z"].numpy(), np.full(4, -2.0, dtype=np.float32))
    np.testing.assert_array_equal(values["b_r"].numpy(), np.full(4, 0.5, dtype=np.float32))
    with pytest.raises(ValueError, match=r"gate_bias names \['q'\], but the gates with a bias"):
        tl.cells.LSTM(3, 4, gate_bias={"q": 1.0}).parameters()


def test_absurd_sizes_fail_early_and_say_why() -> None:
    with pytest.raises(MemoryError, match=r"W_f_h would be 10000000 x 10000000.*smaller "
                                          r"hidden_size"):
        tl.cells.LSTM(3, 10**7).parameters()
