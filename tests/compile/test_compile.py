"""The cell compiler: compiled layers against the tape path, for every cell of the zoo and for
random custom cells; finite differences, anomaly mode, a second backward, checkpoints, explain.

Kernels are cached on disk (``$TINYGRAD_LSTM_CACHE_DIR``): a cold cache costs about two seconds
of compilation per cell kind and dtype, a warm one a fraction of a second.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_lstm as tl
from tinygrad_lstm.compile import emit_numba, kernels, runner

pytest.importorskip("numba")

COMPILED = {"rnn", "rnn-relu", "lstm", "peephole", "cifg", "torch-gru", "greff-nig",
            "greff-nfg", "greff-nog", "greff-niaf", "greff-noaf", "greff-np", "greff-cifg",
            "greff-fgr", "gru", "mgu", "mut1", "mut2", "mut3", "peephole-full",
            "depth-gated-lstm"}
FLOAT32_CHECKED = ("lstm", "peephole", "torch-gru", "gru")


def _run(cell: tl.Cell, compile: bool, x: np.ndarray, dtype: str, layers: int = 1,
         bidirectional: bool = False, lengths=None, with_state: bool = False,
         recurrent_dropout: float = 0.0):
    tl.manual_seed(0)
    rnn = tl.nn.Recurrent(cell, num_layers=layers, bidirectional=bidirectional, compile=compile,
                          recurrent_dropout=recurrent_dropout)
    xs = tl.Tensor(x, dtype=dtype, requires_grad=True)
    state = None
    if with_state:
        rng = np.random.default_rng(5)
        state = [tuple(tl.Tensor(rng.standard_normal((x.shape[1], c.state_size(n))),
                                 dtype=dtype, requires_grad=True) for n in c.state)
                 for c in rnn.cells]
    out, final = rnn(xs, state=state, lengths=lengths)
    w = np.random.default_rng(9).standard_normal(out.shape)
    loss = (out * tl.Tensor(w, dtype=dtype)).sum()
    for layer in final:
        for s in layer:
            loss = loss + (s * s).sum()
    loss.backward()
    grads = {n: p.grad.numpy() for n, p in rnn.named_parameters()}
    grads["input"] = xs.grad.numpy()
    if with_state:
        for k, layer in enumerate(state):
            for j, s in enumerate(layer):
                grads[f"state{k}.{j}"] = s.grad.numpy()
    return out.numpy(), [s.numpy() for layer in final for s in layer], grads


def _compare(make, dtype: str, **options) -> None:
    x = np.random.default_rng(1).standard_normal((6, 3, make().input_size))
    a = _run(make(), True, x, dtype, **options)
    b = _run(make(), False, x, dtype, **options)
    tol = dict(rtol=1e-9, atol=1e-11) if dtype == "float64" else dict(rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(a[0], b[0], **tol)
    for u, v in zip(a[1], b[1], strict=True):
        np.testing.assert_allclose(u, v, **tol)
    assert a[2].keys() == b[2].keys()
    for name in a[2]:
        np.testing.assert_allclose(a[2][name], b[2][name], err_msg=name, **tol)


def _compiles(cell: tl.Cell) -> bool:
    return not isinstance(kernels.for_cell(cell), str)


@pytest.mark.parametrize("name", sorted(tl.cells.available()))
def test_every_zoo_cell_compiled_matches_tape_float64(name: str) -> None:
    make = lambda: tl.cells.create(name, 4, 4, dtype="float64")  # noqa: E731
    cell = make()
    text = tl.cells.explain(cell)
    assert text.startswith(f"{type(cell).__name__}: ")
    assert _compiles(cell) == (name in COMPILED), text
    assert ("tape path" in text.splitlines()[0]) != (name in COMPILED)
    # the layer gives the tape's values and gradients either way (a tape-path cell trivially)
    _compare(make, "float64", lengths=[6, 2, 4], with_state=True)


@pytest.mark.parametrize("name", FLOAT32_CHECKED)
def test_compiled_matches_tape_float32(name: str) -> None:
    _compare(lambda: tl.cells.create(name, 5, 4), "float32", lengths=[6, 2, 4],
             with_state=True)


@pytest.mark.parametrize("name", ["lstm", "torch-gru", "gru", "depth-gated-lstm"])
def test_layers_and_directions_compile(name: str) -> None:
    _compare(lambda: tl.cells.create(name, 5, 4, dtype="float64"), "float64", layers=2,
             bidirectional=True, lengths=[6, 1, 3])


@pytest.mark.parametrize("name", ["lstm", "torch-gru", "gru", "mut1", "peephole",
                                  "depth-gated-lstm"])
def test_recurrent_dropout_compiles_and_matches_tape(name: str) -> None:
    """The mask on h_{t-1} (one per sequence) inside the compiled time loop: values and
    gradients as the tape's ``state[0] * h_mask``, padded steps and both directions included."""
    make = lambda: tl.cells.create(name, 4, 4, dtype="float64")  # noqa: E731
    layers = 1 if name == "mut1" else 2  # MUT1 needs input_size == hidden_size
    _compare(make, "float64", layers=layers, bidirectional=True, lengths=[6, 2, 4],
             with_state=True, recurrent_dropout=0.4)
    tl.manual_seed(0)
    rnn = tl.nn.Recurrent(make(), recurrent_dropout=0.4)
    out, _ = rnn(tl.Tensor(np.ones((3, 2, 4)), dtype="float64", requires_grad=True))
    assert out._node.prim.name == "recurrent_layer"  # one node: the compiled path


def test_depth_gated_stack_compiles_every_layer() -> None:
    """The depth-gated LSTM reads the cell state of the layer below at each step: each layer
    is one compiled node, which hands its per-step c to the layer above (and takes that
    layer's gradient of it back); three layers, both directions, padding, float32 and
    float64, against the tape."""
    make = lambda: tl.cells.create("depth-gated-lstm", 5, 4, dtype="float64")  # noqa: E731
    _compare(make, "float64", layers=3, bidirectional=True, lengths=[6, 2, 4],
             with_state=True)
    _compare(lambda: tl.cells.create("depth-gated-lstm", 5, 4), "float32", layers=3,
             lengths=[6, 2, 4])
    seen = []
    real = runner.run_layer

    def spy(cell, kernels_, xs, state, valid, reverse, h_mask=None, context=(), seqs=()):
        seen.append((len(context), seqs))
        return real(cell, kernels_, xs, state, valid, reverse, h_mask, context, seqs)

    runner.run_layer = spy
    try:
        rnn = tl.nn.Recurrent(make(), num_layers=3, bidirectional=True)
        rnn(tl.Tensor(np.ones((3, 2, 5)), dtype="float64"))
    finally:
        runner.run_layer = real
    # every layer and direction compiled; the two lower layers hand c (state 1) upwards
    assert seen == [(1, (1,))] * 4 + [(1, ())] * 2


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("make", [tl.cells.LSTM, tl.cells.DepthGatedLSTM])
def test_per_step_states_output_gradients(make, reverse: bool) -> None:
    """A compiled layer's per-step states (what a layer above reads) as outputs with their own
    gradients, against finite differences: in the compiled time loop (a context cell) and in
    the Python loop (any other), padded rows included."""
    cell = make(3, 4, dtype="float64")
    compiled = kernels.for_cell(cell)
    rng = np.random.default_rng(0)
    x = tl.Tensor(rng.standard_normal((5, 2, 3)), dtype="float64", requires_grad=True)
    w_out, w_c = (tl.Tensor(rng.standard_normal((5, 2, 4)), dtype="float64") for _ in "ab")
    context = tuple(tl.Tensor(rng.standard_normal((5, 2, 4)), dtype="float64",
                              requires_grad=True) for _ in cell.context)

    def loss(x, *context):
        out, _, per_step = runner.run_layer(cell, compiled, x, cell.init_state(2),
                                            np.array([5, 3]), reverse, None, context, (1,))
        return (out * w_out).sum() + (per_step[1] * w_c).sum()

    assert tl.gradcheck(loss, x, *context)


def test_dropout_between_layers_matches_tape() -> None:
    x = np.random.default_rng(3).standard_normal((5, 2, 3))
    outs = []
    for compile in (True, False):
        tl.manual_seed(4)
        rnn = tl.nn.Recurrent(tl.cells.LSTM(3, 4, dtype="float64"), num_layers=2, dropout=0.5,
                              input_dropout=0.3, compile=compile)
        out, _ = rnn(tl.Tensor(x, dtype="float64"))
        outs.append(out.numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12)


def test_padding_nan_does_not_leak() -> None:
    x = np.random.default_rng(2).standard_normal((5, 2, 3))
    x[3:, 1] = np.nan  # sequence 1 has length 3; its padding is NaN
    rnn = tl.nn.Recurrent(tl.cells.LSTM(3, 4, dtype="float64"))
    xs = tl.Tensor(x, dtype="float64", requires_grad=True)
    out, state = rnn(xs, lengths=[5, 3])
    (out.sum() + state[0][0].sum()).backward()
    assert np.isfinite(out.numpy()).all() and np.isfinite(state[0][1].numpy()).all()
    assert np.all(out.numpy()[3:, 1] == 0)
    for _, p in rnn.named_parameters():
        assert np.isfinite(p.grad.numpy()).all()
    assert np.all(xs.grad.numpy()[3:, 1] == 0)


def test_one_tape_node_per_layer() -> None:
    rnn = tl.nn.Recurrent(tl.cells.LSTM(3, 4))
    out, _ = rnn(tl.Tensor(np.ones((7, 2, 3)), requires_grad=True))
    # out is the first output of the recurrent_layer node itself
    assert out._node.prim.name == "recurrent_layer"


@pytest.mark.parametrize("module", ["LSTM", "GRU", "RNN"])
def test_torch_shaped_modules_compile_and_match_tape(module: str) -> None:
    """tl.nn.LSTM / GRU / RNN: PyTorch's stacked tensors feed the compiled layer whole, with no
    slice of them on the tape (all but the GRU's weight_hh, whose gate order differs from its
    kernels': its blocks), and give the tape path's values and gradients."""
    def run(compile: bool):
        tl.manual_seed(4)
        rnn = getattr(tl.nn, module)(3, 4, num_layers=2, bidirectional=True, compile=compile,
                                     dtype="float64")
        x = tl.Tensor(np.random.default_rng(2).standard_normal((5, 2, 3)), dtype="float64",
                      requires_grad=True)
        out, _ = rnn(x, lengths=[5, 3])
        node = out._node  # the last layer's: its outputs are concatenated
        while node.prim.name != "recurrent_layer" and compile:
            node = node.parents[0]._node
        parents = set(map(id, node.parents))  # before backward frees them
        (out * tl.Tensor(np.random.default_rng(3).standard_normal(out.shape))).sum().backward()
        grads = {n: p.grad.numpy() for n, p in rnn.named_parameters()}
        return out.numpy(), grads, x.grad.numpy(), parents, node.params, rnn
    out, grads, dx, parents, params, rnn = run(True)
    out_t, grads_t, dx_t, *_ = run(False)
    np.testing.assert_allclose(out, out_t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-10, atol=1e-12)
    assert grads.keys() == grads_t.keys()
    for name in grads:
        np.testing.assert_allclose(grads[name], grads_t[name], rtol=1e-10, atol=1e-12,
                                   err_msg=name)
    stored = dict(rnn.named_parameters())
    tail = "_l1" + "_reverse" * params["reverse"]
    assert id(stored["weight_ih" + tail]) in parents
    assert (id(stored["weight_hh" + tail]) in parents) == (module != "GRU")

@pytest.mark.parametrize("case", ["peephole, bidirectional", "depth-gated, two layers"])
def test_finite_differences_through_compiled_layer(case: str) -> None:
    tl.manual_seed(1)
    if case.startswith("peephole"):
        rnn = tl.nn.Recurrent(tl.cells.PeepholeLSTM(2, 3, dtype="float64"), bidirectional=True)
    else:  # each layer reads the cell state of the one below at each step
        rnn = tl.nn.Recurrent(tl.cells.DepthGatedLSTM(2, 3, dtype="float64"), num_layers=2)
    assert all(_compiles(cell) for cell in rnn.cells)
    x = tl.Tensor(np.random.default_rng(0).standard_normal((4, 2, 2)), dtype="float64",
                  requires_grad=True)
    params = [p for _, p in rnn.named_parameters()]

    def loss(x, *ps):
        out, state = rnn(x, lengths=[4, 2])
        return (out * out).sum() + (state[-1][1] * 0.5).sum()

    assert tl.gradcheck(loss, x, *params)


def test_anomaly_mode_checks_outputs_and_gradients() -> None:
    rnn = tl.nn.Recurrent(tl.cells.LSTM(3, 4))
    x = np.ones((4, 2, 3))
    x[2, 0, 1] = np.nan
    with tl.detect_anomaly(), pytest.raises(FloatingPointError, match="recurrent_layer"):
        rnn(tl.Tensor(x, requires_grad=True))
    out, _ = rnn(tl.Tensor(np.ones((4, 2, 3)), requires_grad=True))
    seed = np.ones(out.shape, dtype=np.float32)
    seed[1, 1, 2] = np.nan
    with tl.detect_anomaly(), pytest.raises(FloatingPointError, match="gradient"):
        out.backward(gradient=seed)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_compiled_model_runs_and_trains_like_the_original(how: str) -> None:
    """copy.deepcopy(model) (a best-model snapshot) after compiled calls: the copy's tensors
    share the process's backend (tensors compare backends by identity), it shares the
    kernels, and it gives the original's numbers."""
    import copy
    import pickle

    tl.manual_seed(0)
    model = tl.nn.Recurrent(tl.cells.LSTM(3, 4), num_layers=2)
    x = tl.Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)), requires_grad=True)
    model(x)[0].sum().backward()
    twin = copy.deepcopy(model) if how == "deepcopy" else pickle.loads(pickle.dumps(model))
    assert all(p.backend is x.backend for p in twin.parameters())
    if how == "deepcopy":
        assert twin.cells[0]._compiled[1] is model.cells[0]._compiled[1]
    results = []
    for m in (model, twin):
        m.zero_grad()
        out, _ = m(x)
        (out * out).sum().backward()
        tl.optim.SGD(m.parameters(), lr=0.1).step()
        results.append([out.numpy(), *(p.numpy() for p in m.parameters())])
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_second_backward_needs_retain_graph() -> None:
    rnn = tl.nn.Recurrent(tl.cells.LSTM(3, 4, dtype="float64"))
    x = tl.Tensor(np.ones((4, 2, 3)), dtype="float64", requires_grad=True)
    out, _ = rnn(x)
    loss = out.sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()  # the saved values survived the first backward: gradients add up
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-12)
    with pytest.raises(tl.GraphFreedError, match="retain_graph"):
        loss.backward()


def test_checkpoints_unaffected(tmp_path) -> None:
    tl.manual_seed(3)
    compiled = tl.nn.Recurrent(tl.cells.LSTM(3, 4), num_layers=2)
    tape = tl.nn.Recurrent(tl.cells.LSTM(3, 4), num_layers=2, compile=False)
    tl.save(compiled, tmp_path / "m.npz")
    tl.load(tape, tmp_path / "m.npz")
    x = tl.Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)))
    np.testing.assert_allclose(compiled(x)[0].numpy(), tape(x)[0].numpy(), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("name", sorted(tl.cells.available()))
def test_trace_does_not_depend_on_where_the_parameters_live(name: str) -> None:
    """A cell moved to another backend (here the strict one, NumPy behind CuPy's wall) traces
    to the same graph: the traced leaves live where its parameters do. They used to be NumPy
    arrays, so a step multiplying a state by a parameter (the peephole LSTM's) failed to trace
    once the cell was on CuPy, and such cells silently ran on the tape there."""
    from tinygrad_lstm.compile.trace import NotCompilable, trace

    def key(cell: tl.Cell) -> str:
        try:
            return trace(cell).key("float64")
        except NotCompilable as err:
            return f"tape path: {err}"

    here = tl.cells.create(name, 4, 4, dtype="float64")
    there = tl.cells.create(name, 4, 4, dtype="float64").to("strict")
    assert next(iter(there.parameters())).backend.name == "strict"
    assert key(there) == key(here)


@pytest.mark.parametrize("read", ["numpy", "item", "float", "tolist"])
def test_a_step_branching_on_values_keeps_the_tape_path(read: str) -> None:
    """A Python branch on a tensor's value would be frozen by the trace (it saw one set of
    values): reading values while tracing raises, so such a cell runs on the tape, explain
    says why, and the symbolic printer refuses rather than print one branch."""
    reads = {"numpy": lambda t: t.numpy().mean(), "item": lambda t: t.sum().item(),
             "float": lambda t: float(t.sum()), "tolist": lambda t: t.tolist()[0][0]}

    class Branchy(tl.Cell):
        state = ("h",)

        def step(self, x, h):
            a = self.gate("a", h, x).tanh()
            b = self.gate("b", h, x).sigmoid()
            return (a if reads[read](h) >= 0 else b,)

    text = tl.cells.explain(Branchy(2, 3))
    assert "tape path" in text.splitlines()[0] and "depends on its data" in text
    tl.manual_seed(0)
    cell = Branchy(2, 3, dtype="float64")
    x = tl.Tensor(np.random.default_rng(0).standard_normal((6, 2, 2)), dtype="float64")
    out, _ = tl.nn.Recurrent(cell)(x)
    assert out._node.prim.name != "recurrent_layer"
    np.testing.assert_array_equal(out.numpy(),
                                  tl.nn.Recurrent(cell, compile=False)(x)[0].numpy())
    with pytest.raises(tl.DataDependentError, match=r"^tl.symbolic: the step reads the values "
                                                    r"of a tensor of shape \(.*\) that depends"):
        tl.symbolic.equations(cell)


def test_a_step_reading_a_constant_still_compiles() -> None:
    """Only tensors that depend on the inputs or parameters count as data: a constant tensor
    read with float() is the same number at every step."""
    class Scaled(tl.Cell):
        state = ("h",)

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.scale = tl.Tensor([0.5])

        def step(self, x, h):
            return (self.gate("a", h, x).tanh() * float(self.scale),)

    assert "compiled" in tl.cells.explain(Scaled(2, 3)).splitlines()[0]
    assert "0.5" in str(tl.symbolic.equations(Scaled(2, 3)))


def test_explain_takes_modules_and_refuses_other_things() -> None:
    text = tl.cells.explain(tl.nn.LSTM(3, 4, num_layers=2, bidirectional=True))
    assert text.startswith("LSTM (2 layers x 2 directions of LSTMCell):\nLSTMCell: compiled")
    assert tl.cells.explain(tl.nn.GRU(3, 4, compile=False)) == \
        "GRU (1 layer of GRUCell): tape path: the module was built with compile=False"
    assert "tape path: the module was built with fused=False" in \
        tl.cells.explain(tl.nn.Recurrent(tl.cells.LSTM(3, 4), fused=False))
    assert "LSTMCell: tape path: state 'h' has width 2" in \
        tl.cells.explain(tl.nn.LSTM(3, 4, proj_size=2))
    assert "its parameters live on the 'strict' backend" in \
        tl.cells.explain(tl.cells.PeepholeLSTM(3, 4).to("strict"))
    with pytest.raises(TypeError, match=r"explain: takes a tl.Cell or a module .* got str"):
        tl.cells.explain("lstm")


def test_explain_says_why_not() -> None:
    text = tl.cells.explain(tl.cells.LSTM(3, 4))
    assert "compiled" in text and "saved per step" in text and "5 x H" in text
    assert "'mean'" in tl.cells.explain(tl.cells.LayerNormLSTM(3, 4))
    gru = tl.cells.explain(tl.cells.GRU(3, 4))
    assert "2 kernels per step" in gru and "s_h*sigmoid(z_r) read by h" in gru
    assert "context c_below (the c of the layer below)" in \
        tl.cells.explain(tl.cells.DepthGatedLSTM(3, 4))
    kernels.set_enabled(False)
    try:
        assert "switched off" in tl.cells.explain(tl.cells.LSTM(3, 4))
        out, _ = tl.nn.Recurrent(tl.cells.LSTM(3, 4))(tl.Tensor(np.ones((2, 1, 3)),
                                                               requires_grad=True))
        assert out._node.prim.name != "recurrent_layer"
    finally:
        kernels.set_enabled(True)


def test_unwritable_cache_warns_once_and_runs_tape(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TINYGRAD_LSTM_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setitem(kernels._state, "warned", False)

    class Unseen(tl.Cell):  # a graph no other test compiled, so nothing is cached in memory
        state = ("h",)

        def step(self, x, h):
            return ((self.gate("a", h, x).tanh() * 0.25 + h * 0.75).tanh(),)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rnn = tl.nn.Recurrent(Unseen(2, 3))
        out, _ = rnn(tl.Tensor(np.ones((3, 1, 2)), requires_grad=True))
        rnn(tl.Tensor(np.ones((3, 1, 2)), requires_grad=True))
    assert out._node.prim.name != "recurrent_layer"
    messages = [str(w.message) for w in caught if "tinygrad_lstm.compile" in str(w.message)]
    assert len(messages) == 1 and "cannot be written" in messages[0]


def test_float32_tanh_and_sigmoid_bounds() -> None:
    numba = pytest.importorskip("numba")
    compiled = kernels.for_cell(tl.cells.LSTM(3, 4))
    module = __import__(f"tinygrad_lstm_kernels_{compiled.key}")

    @numba.njit
    def apply(fn, a, out):  # the generated float32 helpers, as the kernels inline them
        for i in range(a.size):
            out[i] = fn(a[i])

    x = np.linspace(-86, 30, 1_160_001, dtype=np.float32)
    out = np.empty_like(x)
    apply(module._tanh, x, out)
    err = np.abs(out.astype(np.float64) - np.tanh(x.astype(np.float64))).max()
    assert err <= emit_numba.TANH32_MAX_ERROR
    apply(module._sigmoid, x, out)
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    assert np.all(np.abs(out / exact - 1) < 2e-6)  # relative: also at x = -86 (4e-38)
    # the clamps pass NaN on (a select, not a NumPy minimum) and saturate the infinities
    edges = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30], dtype=np.float32)
    out = np.empty_like(edges)
    apply(module._tanh, edges, out)
    assert np.isnan(out[0]) and list(out[1:]) == [1, -1, 1, -1]
    apply(module._sigmoid, edges, out)
    assert np.isnan(out[0]) and out[1] == 1 and out[3] == 1
    assert 0 <= out[2] < 1e-37 and 0 <= out[4] < 1e-37


# --- random custom cells: compositions of elementwise primitives ----------------------------

UNARY = ["tanh", "sigmoid", "neg", "exp_small", "square", "relu"]
BINARY = ["add", "sub", "mul"]


def _unary(op: str, t: tl.Tensor) -> tl.Tensor:
    if op == "exp_small":
        return (t.tanh() * 0.5).exp()
    if op == "square":
        return t * t
    return {"tanh": t.tanh, "sigmoid": t.sigmoid, "neg": t.__neg__, "relu": t.relu}[op]()


@st.composite
def programs(draw):
    """A step: two gates, then a few unary/binary operations over gates, h and c."""
    n = draw(st.integers(2, 5))
    ops = []
    for k in range(n):
        if draw(st.booleans()):
            ops.append(("u", draw(st.sampled_from(UNARY)), draw(st.integers(0, 3 + k))))
        else:
            ops.append(("b", draw(st.sampled_from(BINARY)), draw(st.integers(0, 3 + k)),
                        draw(st.integers(0, 3 + k))))
    return ops


def _custom(program):
    class Random(tl.Cell):
        state = ("h", "c")

        def step(self, x, h, c):
            values = [self.gate("a", h, x).sigmoid(), self.gate("b", h, x), h, c]
            for op in program:
                if op[0] == "u":
                    values.append(_unary(op[1], values[op[2]]))
                else:
                    a, b = values[op[2]], values[op[3]]
                    values.append({"add": a + b, "sub": a - b, "mul": a * b}[op[1]])
            new_c = values[-1].tanh() * values[0] + c * 0.5
            return (new_c.tanh() * values[0], new_c)

    return Random


@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(programs())
def test_random_custom_cells_compile_and_match_tape(program) -> None:
    Random = _custom(program)
    assert _compiles(Random(5, 4, dtype="float64"))
    _compare(lambda: Random(5, 4, dtype="float64"), "float64", lengths=[6, 3, 5])


class _HFirst(tl.Cell):
    """A gate reading h only (bias included) before one reading x: the input GEMM covers the
    second gate alone, a strided block of dZ's columns."""

    state = ("h",)

    def step(self, x, h):
        a = self.gate("a", h).sigmoid()
        return ((1 - a) * h + a * self.gate("n", h, x).tanh(),)


class _HMiddle(tl.Cell):
    """An h-only gate written between x-reading ones (as TorchGRU's r, z | hn | in): the
    compiler puts it first, so the x-reading columns of dZ are one run."""

    state = ("h",)

    def step(self, x, h):
        a = self.gate("a", h, x).sigmoid()
        m = self.gate("m", h).tanh()
        return ((1 - a) * h + a * (m + self.gate("n", x).tanh()),)


class _TwoRuns(tl.Cell):
    """x-reading gates on both sides of one that reads only r ⊙ h: kernels in phases, and the
    x-reading columns of dZ are two runs (r | m | n), so dW_x is two GEMMs and dX their sum."""

    state = ("h",)

    def step(self, x, h):
        r = self.gate("r", h, x).sigmoid()
        u = r * h
        m = self.gate("m", u).tanh()
        n = self.gate("n", u, x).tanh()
        return ((1 - r) * h + r * (m * n),)


@pytest.mark.parametrize(("make", "runs"), [(_HFirst, 1), (_HMiddle, 1), (_TwoRuns, 2)])
def test_h_only_gates_stay_out_of_the_input_gemm(make, runs: int) -> None:
    cell = make(5, 4, dtype="float64")
    assert _compiles(cell)
    compiled = kernels.for_cell(cell)
    g = compiled.graph
    assert len(g.x_gates()) < len(g.gates), g.gates
    x_cols = compiled.x_columns[0]
    assert 1 + sum(b != a + 1 for a, b in zip(x_cols[:-1], x_cols[1:], strict=True)) == runs
    _compare(lambda: make(5, 4, dtype="float64"), "float64", lengths=[6, 3, 5])
    _compare(lambda: make(5, 4, dtype="float64"), "float64", layers=2, bidirectional=True)


# --- CUDA source: compiled here by nvcc (the GPU run itself is tests/test_gpu.py) -----------

class _Minimal(tl.Cell):
    """A custom cell for the CUDA source test: a relu candidate, a gate, a per-column gain."""

    state = ("h",)

    def step(self, x, h):
        a = self.gate("a", h, x).sigmoid()
        cand = self.gate("n", h, x).relu() * self.param("gain", (self.hidden_size,))
        return ((1 - a) * h + a * cand,)


@pytest.mark.slow
def test_cuda_source_compiles_with_nvcc(tmp_path) -> None:
    """The LSTM, the GRU of tl.nn.GRU, the essay's GRU (kernels in phases), MUT1 (it reads x_t
    itself), the depth-gated LSTM (it reads the layer below) and a custom cell, float32 and
    float64: one nvcc run."""
    import shutil
    import subprocess

    from tinygrad_lstm.compile import emit_cuda
    from tinygrad_lstm.compile.derive import derive
    from tinygrad_lstm.compile.trace import trace

    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc (the CUDA compiler) is not installed here")
    files = []
    makes = {"lstm": tl.cells.LSTM, "torch-gru": tl.cells.TorchGRU, "gru": tl.cells.GRU,
             "mut1": lambda i, h, dtype: tl.cells.create("mut1", i, h, dtype=dtype),
             "depth-gated": tl.cells.DepthGatedLSTM, "minimal": _Minimal}
    for label, make in makes.items():
        for dtype in ("float32", "float64"):
            text = emit_cuda.source(derive(trace(make(4, 4, dtype=dtype))), dtype, name="tl_k")
            assert "tl_k_forward" in text and "tl_k_backward" in text
            assert ("tl_k_forward_0" in text) == (label in ("gru", "mut1"))  # in phases
            assert ("double" in text) == (dtype == "float64")
            path = tmp_path / f"{label}_{dtype}.cu"
            path.write_text(text)
            files.append(path.name)
    done = subprocess.run([nvcc, "-arch=sm_80", "-c", *files], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.glob("*.o"))) == len(files)


# --- boundary values: compiled kernels select as the tape's VJPs do (issue 10's kind 3) ------
_EDGE_VALUES = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan])
_ELEMENTWISE_CASES = {  # every primitive the compiler takes, on gate pre-activations a, b
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "neg": lambda a, b: -a, "pow": lambda a, b: a ** 2,
    "exp": lambda a, b: a.exp(), "log": lambda a, b: a.log(), "sigmoid": lambda a, b: a.sigmoid(),
    "tanh": lambda a, b: a.tanh(), "relu": lambda a, b: a.relu(),
    "maximum": lambda a, b: tl.maximum(a, b),
}


def test_edge_cases_cover_every_compilable_primitive() -> None:
    from tinygrad_lstm.compile.trace import ELEMENTWISE

    assert set(_ELEMENTWISE_CASES) == set(ELEMENTWISE)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log(-1), 0/0 ...: the values are kept
@pytest.mark.parametrize("prim", sorted(_ELEMENTWISE_CASES))
def test_compiled_matches_tape_at_boundary_values(prim: str) -> None:
    """Every pair of 0, -0, ±1, ±inf and nan as the pre-activations (the weights are zero, the
    biases hold the values): the compiled values and gradients equal the tape's, ties and NaN
    included (relu'(0) = 0, a tie of maximum splits the gradient, NaN passes it on)."""
    op = _ELEMENTWISE_CASES[prim]
    n = len(_EDGE_VALUES)

    class Edge(tl.Cell):
        state = ("h",)

        def step(self, x, h):
            return (op(self.gate("a", h, x), self.gate("b", h, x)),)

    results = []
    for compile in (True, False):
        cell = Edge(2, n * n, dtype="float64")
        params = dict(cell.named_parameters())
        for p in params.values():
            p.data[...] = 0.0
        params["b_a"].data[...] = np.repeat(_EDGE_VALUES, n)
        params["b_b"].data[...] = np.tile(_EDGE_VALUES, n)
        rnn = tl.nn.Recurrent(cell, compile=compile)
        assert _compiles(cell)
        out, _ = rnn(tl.Tensor(np.ones((2, 1, 2)), dtype="float64"))
        out.sum().backward()
        results.append((out.numpy(), params["b_a"].grad.numpy(), params["b_b"].grad.numpy()))
    for got, want, what in zip(*results, ("output", "grad b_a", "grad b_b"), strict=False):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0, err_msg=f"{prim}: {what}")
