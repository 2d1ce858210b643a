"""``tl.nn.LSTM``, ``tl.nn.GRU``, ``tl.nn.RNN`` in PyTorch's layout.

* ``state_dict(layout="torch")`` has exactly PyTorch's keys, in its order, with its shapes;
  native and torch-layout round trips are exact.
* Independent NumPy float64 implementations of PyTorch's LSTM (gates i, f, g, o; two biases),
  GRU (r, z, n; r applied after the recurrent matmul, b_hn inside it; h' = (1 - z) n + z h) and
  RNN (tanh, relu), multi-layer and bidirectional, fed random weights in PyTorch's layout, agree
  with ours to 1e-10 (outputs and final states, from non-zero initial states).
* When ``import torch`` works: the same against ``torch.nn.LSTM/GRU/RNN`` in double precision,
  weights copied both ways, gradients included.
* Bad input: missing, unexpected and misshaped keys, a failed load changes nothing, unknown
  layouts, badly shaped ``hx``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.errors import ShapeError

T, B, IN, H = 5, 3, 2, 4  # small on purpose (the file runs in seconds), all different
ATOL = 1e-10

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
KINDS = tuple(GATES)
CONFIGS = [(kind, layers, bidirectional, bias)
           for kind in KINDS for layers in (1, 2) for bidirectional in (False, True)
           for bias in (True, False)]


def _config_id(config: tuple) -> str:
    kind, layers, bidirectional, bias = config
    return f"{kind}-L{layers}-{'bi' if bidirectional else 'uni'}-{'bias' if bias else 'nobias'}"


def _make(kind: str, layers: int, bidirectional: bool, bias: bool, dtype: str = "float64",
          input_size: int = IN) -> tl.nn.Recurrent:
    common = {"num_layers": layers, "bidirectional": bidirectional, "bias": bias, "dtype": dtype}
    if kind == "lstm":
        m = tl.nn.LSTM(input_size, H, **common)
    elif kind == "gru":
        m = tl.nn.GRU(input_size, H, **common)
    else:
        m = tl.nn.RNN(input_size, H, nonlinearity=kind[4:], **common)
    return m  # fresh: the torch-layout methods build the cells themselves


def _torch_shapes(kind: str, layers: int, bidirectional: bool, bias: bool,
                  input_size: int = IN) -> dict[str, tuple[int, ...]]:
    """PyTorch's keys, in PyTorch's order, and their shapes (written from its docs)."""
    rows = GATES[kind] * H
    out: dict[str, tuple[int, ...]] = {}
    for layer in range(layers):
        for direction in range(2 if bidirectional else 1):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            width = input_size if layer == 0 else H * (2 if bidirectional else 1)
            out["weight_ih" + suffix] = (rows, width)
            out["weight_hh" + suffix] = (rows, H)
            if bias:
                out["bias_ih" + suffix] = (rows,)
                out["bias_hh" + suffix] = (rows,)
    return out


def _random_torch_state(kind: str, layers: int, bidirectional: bool, bias: bool,
                        rng: np.random.Generator) -> dict[str, np.ndarray]:
    k = 1 / np.sqrt(H)
    return {key: rng.uniform(-k, k, shape)
            for key, shape in _torch_shapes(kind, layers, bidirectional, bias).items()}


def _random_hx(kind: str, layers: int, bidirectional: bool,
               rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    count = layers * (2 if bidirectional else 1)
    return tuple(rng.uniform(-1, 1, (count, B, H)) for _ in range(2 if kind == "lstm" else 1))


def _call(module: tl.nn.Recurrent, kind: str, x: np.ndarray, hx: tuple[np.ndarray, ...]
          ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    tensors = tuple(tl.Tensor(s, dtype="float64") for s in hx)
    out, final = module(tl.Tensor(x, dtype="float64"), tensors if kind == "lstm" else tensors[0])
    final = final if kind == "lstm" else (final,)
    return out.numpy(), tuple(f.numpy() for f in final)


# --- the NumPy reference: PyTorch's equations, written out ------------------------------------

def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def _reference_step(kind: str, x: np.ndarray, state: tuple[np.ndarray, ...], W_ih: np.ndarray,
                    W_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray
                    ) -> tuple[np.ndarray, ...]:
    h = state[0]
    gi = x @ W_ih.T + b_ih
    gh = h @ W_hh.T + b_hh
    if kind == "lstm":
        i, f, g, o = np.split(gi + gh, 4, axis=1)
        c = _sigmoid(f) * state[1] + _sigmoid(i) * np.tanh(g)
        return _sigmoid(o) * np.tanh(c), c
    if kind == "gru":
        i_r, i_z, i_n = np.split(gi, 3, axis=1)
        h_r, h_z, h_n = np.split(gh, 3, axis=1)  # h_n = W_hn h + b_hn: reset after the matmul
        r = _sigmoid(i_r + h_r)
        z = _sigmoid(i_z + h_z)
        n = np.tanh(i_n + r * h_n)
        return ((1 - z) * n + z * h,)
    a = gi + gh
    return (np.tanh(a) if kind == "rnn_tanh" else np.maximum(a, 0.0),)


def _reference(kind: str, sd: dict[str, np.ndarray], x: np.ndarray,
               hx: tuple[np.ndarray, ...], layers: int, bidirectional: bool
               ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """PyTorch's stacked, maybe bidirectional network: output (T, B, D*H), finals (L*D, B, H)."""
    directions = 2 if bidirectional else 1
    steps = x.shape[0]
    zeros = np.zeros(GATES[kind] * H)
    layer_in = x
    finals = []
    for layer in range(layers):
        outs = []
        for direction in range(directions):
            index = layer * directions + direction
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            weights = (sd["weight_ih" + suffix], sd["weight_hh" + suffix],
                       sd.get("bias_ih" + suffix, zeros), sd.get("bias_hh" + suffix, zeros))
            state = tuple(s[index] for s in hx)
            out = np.empty((steps, x.shape[1], H))
            for t in (range(steps - 1, -1, -1) if direction else range(steps)):
                state = _reference_step(kind, layer_in[t], state, *weights)
                out[t] = state[0]
            outs.append(out)
            finals.append(state)
        layer_in = np.concatenate(outs, axis=-1)
    return layer_in, tuple(np.stack([f[k] for f in finals]) for k in range(len(hx)))


def _assert_close(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=ATOL, err_msg=what)


# --- keys, shapes, round trips ----------------------------------------------------------------

@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_torch_keys_and_shapes_are_pytorchs(config: tuple) -> None:
    m = _make(*config)
    sd = m.state_dict(layout="torch")
    expected = _torch_shapes(*config)
    assert list(sd) == list(expected)  # same keys, same order as torch's state_dict()
    assert {k: v.shape for k, v in sd.items()} == expected
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in sd.values())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_round_trips_are_exact(config: tuple, dtype: str) -> None:
    tl.manual_seed(1)
    source = _make(*config, dtype=dtype)
    tl.manual_seed(2)
    target = _make(*config, dtype=dtype)
    native = source.state_dict()

    # native -> native
    target.load_state_dict(native)
    again = target.state_dict()
    assert list(again) == list(native)
    for key, value in native.items():
        assert again[key].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(again[key], value, err_msg=key)

    # ours -> torch layout -> ours: every native parameter comes back bit for bit
    tl.manual_seed(3)
    target = _make(*config, dtype=dtype)
    exported = source.state_dict(layout="torch")
    target.load_state_dict(exported, layout="torch")
    for key, value in target.state_dict().items():
        np.testing.assert_array_equal(value, native[key], err_msg=key)
    reexported = target.state_dict(layout="torch")
    for key, value in exported.items():
        assert reexported[key].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(reexported[key], value, err_msg=key)


@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_torch_weights_round_trip(config: tuple) -> None:
    """torch layout -> ours -> torch layout: every tensor exact, both biases kept apart (they
    are two parameters here too, as in PyTorch)."""
    sd = _random_torch_state(*config, np.random.default_rng(4))
    m = _make(*config)
    m.load_state_dict(sd, layout="torch")
    out = m.state_dict(layout="torch")
    assert list(out) == list(sd)
    for key, value in sd.items():
        np.testing.assert_array_equal(out[key], value, err_msg=key)
    assert list(out) == [name for name, _ in m.named_parameters()]  # the native names too


# --- against the NumPy reference ---------------------------------------------------------------

@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_matches_numpy_reference(config: tuple) -> None:
    kind, layers, bidirectional, _ = config
    rng = np.random.default_rng(5)
    sd = _random_torch_state(*config, rng)
    x = rng.uniform(-1, 1, (T, B, IN))
    hx = _random_hx(kind, layers, bidirectional, rng)
    m = _make(*config)
    m.load_state_dict(sd, layout="torch")
    out, finals = _call(m, kind, x, hx)
    ref_out, ref_finals = _reference(kind, sd, x, hx, layers, bidirectional)
    _assert_close(out, ref_out, "output")
    assert len(finals) == len(ref_finals)
    for name, ours, ref in zip(("h_n", "c_n"), finals, ref_finals, strict=False):
        _assert_close(ours, ref, name)
    # non-zero initial states matter: from zeros the answer is different
    zero = tuple(np.zeros_like(s) for s in hx)
    assert not np.allclose(_call(m, kind, x, zero)[0], ref_out, rtol=0, atol=1e-6)


def test_reference_gru_is_not_the_essays() -> None:
    """Guard on the reference itself: PyTorch's GRU (reset after the matmul, z keeps the old
    state) differs from Cho's (reset before, z admits the new state) with the same weights."""
    rng = np.random.default_rng(6)
    sd = _random_torch_state("gru", 1, False, True, rng)
    x, h = rng.uniform(-1, 1, (B, IN)), rng.uniform(-1, 1, (B, H))
    (ours,) = _reference_step("gru", x, (h,), sd["weight_ih_l0"], sd["weight_hh_l0"],
                              sd["bias_ih_l0"], sd["bias_hh_l0"])
    W_ir, W_iz, W_in = np.split(sd["weight_ih_l0"], 3)
    W_hr, W_hz, W_hn = np.split(sd["weight_hh_l0"], 3)
    r = _sigmoid(x @ W_ir.T + h @ W_hr.T)
    z = _sigmoid(x @ W_iz.T + h @ W_hz.T)
    cho = (1 - z) * h + z * np.tanh(x @ W_in.T + (r * h) @ W_hn.T)
    assert not np.allclose(ours, cho, atol=1e-3)


def test_batch_first_matches_reference() -> None:
    rng = np.random.default_rng(7)
    sd = _random_torch_state("lstm", 2, True, True, rng)
    x = rng.uniform(-1, 1, (T, B, IN))
    hx = _random_hx("lstm", 2, True, rng)
    m = tl.nn.LSTM(IN, H, num_layers=2, bidirectional=True, batch_first=True, dtype="float64")
    m.load_state_dict(sd, layout="torch")
    out, (h_n, c_n) = m(tl.Tensor(x.transpose(1, 0, 2), dtype="float64"),
                        tuple(tl.Tensor(s, dtype="float64") for s in hx))
    ref_out, (ref_h, ref_c) = _reference("lstm", sd, x, hx, 2, True)
    _assert_close(out.numpy(), ref_out.transpose(1, 0, 2), "output")
    _assert_close(h_n.numpy(), ref_h, "h_n")  # h_n, c_n stay (L*D, B, H), as in PyTorch
    _assert_close(c_n.numpy(), ref_c, "c_n")


# --- against PyTorch itself --------------------------------------------------------------------

def _torch_module(torch, kind: str, layers: int, bidirectional: bool, bias: bool):
    common = {"num_layers": layers, "bidirectional": bidirectional, "bias": bias,
              "dtype": torch.float64}
    if kind == "lstm":
        return torch.nn.LSTM(IN, H, **common)
    if kind == "gru":
        return torch.nn.GRU(IN, H, **common)
    return torch.nn.RNN(IN, H, nonlinearity=kind[4:], **common)


def _torch_run(torch, net, kind: str, x: np.ndarray, hx: tuple[np.ndarray, ...],
               weights: np.ndarray):
    """Forward, then backward of sum(out * weights): (out, finals, dx, dhx, grads by key)."""
    xt = torch.tensor(x, requires_grad=True)
    hxt = tuple(torch.tensor(s, requires_grad=True) for s in hx)
    net.zero_grad()
    out, final = net(xt, hxt if kind == "lstm" else hxt[0])
    final = final if kind == "lstm" else (final,)
    (out * torch.from_numpy(weights)).sum().backward()
    grads = {k: p.grad.numpy().copy() for k, p in net.named_parameters()}
    return (out.detach().numpy(), tuple(f.detach().numpy() for f in final), xt.grad.numpy(),
            tuple(s.grad.numpy() for s in hxt), grads)


def _our_run(m, kind: str, config: tuple, x: np.ndarray, hx: tuple[np.ndarray, ...],
             weights: np.ndarray):
    """The same on our side; parameter gradients exported in PyTorch's layout."""
    xt = tl.Tensor(x, dtype="float64", requires_grad=True)
    hxt = tuple(tl.Tensor(s, dtype="float64", requires_grad=True) for s in hx)
    m.zero_grad()
    out, final = m(xt, hxt if kind == "lstm" else hxt[0])
    final = final if kind == "lstm" else (final,)
    (out * tl.Tensor(weights, dtype="float64")).sum().backward()
    holder = _make(*config)  # a module whose "parameters" are our gradients, to export them
    holder.load_state_dict({k: p.grad.numpy() for k, p in m.named_parameters()})
    return (out.numpy(), tuple(f.numpy() for f in final), xt.grad.numpy(),
            tuple(s.grad.numpy() for s in hxt), holder.state_dict(layout="torch"))


def _compare_grads(kind: str, ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> None:
    """Weight gradients match key by key. We hold one bias per gate where PyTorch holds two
    (b_ih + b_hh), so its two bias gradients both equal ours (exported as bias_ih); GRU's b_hn
    is separate on both sides (the last H rows of bias_hh)."""
    assert set(ours) == set(theirs)
    for key, g in theirs.items():
        if key.startswith("weight") or key.startswith("bias_ih"):
            _assert_close(ours[key], g, f"grad {key}")
        else:
            ih = ours["bias_ih" + key[len("bias_hh"):]]
            if kind == "gru":
                _assert_close(ih[:2 * H], g[:2 * H], f"grad {key} (r, z)")
                _assert_close(ours[key][2 * H:], g[2 * H:], f"grad {key} (b_hn)")
            else:
                _assert_close(ih, g, f"grad {key}")


@pytest.mark.parametrize("direction", ["torch_to_ours", "ours_to_torch"])
@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_matches_pytorch(config: tuple, direction: str) -> None:
    torch = pytest.importorskip("torch")
    kind, layers, bidirectional, _ = config
    rng = np.random.default_rng(8)
    x = rng.uniform(-1, 1, (T, B, IN))
    hx = _random_hx(kind, layers, bidirectional, rng)
    weights = rng.standard_normal((T, B, H * (2 if bidirectional else 1)))
    torch.manual_seed(0)
    tl.manual_seed(0)
    net = _torch_module(torch, *config)
    m = _make(*config)
    if direction == "torch_to_ours":
        sd = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
        assert list(sd) == list(m.state_dict(layout="torch"))
        m.load_state_dict(sd, layout="torch")
    else:
        sd = m.state_dict(layout="torch")
        assert list(sd) == list(net.state_dict())
        net.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    ours = _our_run(m, kind, config, x, hx, weights)
    theirs = _torch_run(torch, net, kind, x, hx, weights)
    _assert_close(ours[0], theirs[0], "output")
    assert len(ours[1]) == len(theirs[1]) == len(ours[3]) == len(theirs[3]) == len(hx)
    for name, a, b in zip(("h_n", "c_n"), ours[1], theirs[1], strict=False):
        _assert_close(a, b, name)
    _assert_close(ours[2], theirs[2], "grad x")
    for name, a, b in zip(("grad h_0", "grad c_0"), ours[3], theirs[3], strict=False):
        _assert_close(a, b, name)
    _compare_grads(kind, ours[4], theirs[4])


# --- bad input ---------------------------------------------------------------------------------

def _lstm_and_state() -> tuple[tl.nn.LSTM, dict[str, np.ndarray]]:
    m = _make("lstm", 2, True, True)
    return m, _random_torch_state("lstm", 2, True, True, np.random.default_rng(9))


def _assert_unchanged(m: tl.nn.Recurrent, before: dict[str, np.ndarray]) -> None:
    after = m.state_dict()
    assert list(after) == list(before)
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=f"{key} changed")


def test_missing_key_is_named_and_nothing_changes() -> None:
    m, sd = _lstm_and_state()
    before = m.state_dict()
    del sd["weight_hh_l1_reverse"]
    with pytest.raises(KeyError, match=r"missing keys \['weight_hh_l1_reverse' \(16, 4\)\]"):
        m.load_state_dict(sd, layout="torch")
    _assert_unchanged(m, before)


def test_missing_key_error_gives_expected_shape() -> None:
    m, sd = _lstm_and_state()
    del sd["weight_hh_l1_reverse"]
    with pytest.raises(KeyError, match=r"weight_hh_l1_reverse.*\(16, 4\)"):
        m.load_state_dict(sd, layout="torch")


def test_unexpected_key_is_named_and_nothing_changes() -> None:
    m, sd = _lstm_and_state()
    before = m.state_dict()
    sd["weight_ih_l2"] = np.zeros((16, 8))
    with pytest.raises(KeyError, match=r"unexpected keys \['weight_ih_l2'\]"):
        m.load_state_dict(sd, layout="torch")
    _assert_unchanged(m, before)


@pytest.mark.parametrize("key, bad, want", [
    ("weight_ih_l0", (16, 4), (16, IN)),
    ("weight_ih_l1", (16, 4), (16, 8)),  # layer 1 reads both directions: 2H features
    ("weight_hh_l0", (4, 16), (16, 4)),  # transposed
    ("bias_hh_l1_reverse", (12,), (16,)),  # the last key: everything before it was fine
])
def test_misshaped_key_is_named_with_expected_shape(key: str, bad: tuple, want: tuple) -> None:
    m, sd = _lstm_and_state()
    before = m.state_dict()
    sd[key] = np.zeros(bad)
    with pytest.raises(ShapeError) as info:
        m.load_state_dict(sd, layout="torch")
    message = str(info.value)
    assert repr(key) in message and str(bad) in message and f"expected {want}" in message
    _assert_unchanged(m, before)


def test_non_float_key_is_rejected_and_nothing_changes() -> None:
    m, sd = _lstm_and_state()
    before = m.state_dict()
    sd["bias_ih_l1_reverse"] = np.zeros(16, dtype=np.int64)
    with pytest.raises(TypeError, match="bias_ih_l1_reverse"):
        m.load_state_dict(sd, layout="torch")
    _assert_unchanged(m, before)


def test_native_load_failure_changes_nothing() -> None:
    m = _make("gru", 2, True, True)
    sd = m.state_dict()
    before = {k: v.copy() for k, v in sd.items()}
    sd = {k: v + 1.0 for k, v in sd.items()}
    last = list(sd)[-1]
    sd[last] = np.zeros(sd[last].shape[0] + 1)
    with pytest.raises(ShapeError, match=last.replace(".", r"\.")):
        m.load_state_dict(sd)
    _assert_unchanged(m, before)


@pytest.mark.parametrize("layout", ["keras", "TORCH", "", None])
def test_unknown_layout(layout: str | None) -> None:
    m, sd = _lstm_and_state()
    before = m.state_dict()
    with pytest.raises(ValueError, match="layout must be one of"):
        m.state_dict(layout=layout)
    with pytest.raises(ValueError, match="layout must be one of"):
        m.load_state_dict(sd, layout=layout)
    _assert_unchanged(m, before)


def _zeros(*shape: int) -> tl.Tensor:
    return tl.Tensor(np.zeros(shape), dtype="float64")


@pytest.mark.parametrize("hx, error, pattern", [
    pytest.param((_zeros(3, B, H), _zeros(4, B, H)), ShapeError,
                 r"h_0 must have shape .* = \(4, 3, 4\), got \(3, 3, 4\)", id="h0-wrong-count"),
    pytest.param((_zeros(4, B, H), _zeros(4, B + 1, H)), ShapeError,
                 r"c_0 must have shape .* = \(4, 3, 4\), got \(4, 4, 4\)", id="c0-wrong-batch"),
    pytest.param((_zeros(4, B, H + 1), _zeros(4, B, H)), ShapeError,
                 r"h_0 must have shape .* = \(4, 3, 4\), got \(4, 3, 5\)", id="h0-wrong-width"),
    pytest.param((_zeros(B, H), _zeros(B, H)), ShapeError, r"= \(4, 3, 4\), got \(3, 4\)",
                 id="2d-state"),
    pytest.param(_zeros(4, B, H), ValueError, r"\(h_0, c_0\)", id="h0-only"),
    pytest.param((_zeros(4, B, H),) * 3, ValueError, r"\(h_0, c_0\)", id="three-tensors"),
    pytest.param((np.zeros((4, B, H)), np.zeros((4, B, H))), TypeError,
                 r"^LSTM: h_0 must be a tl.Tensor of shape \(4, 3, 4\), got ndarray$",
                 id="numpy-not-tensor"),
])
def test_bad_hx_lstm(hx, error: type, pattern: str) -> None:
    m = _make("lstm", 2, True, True)
    with pytest.raises(error, match=pattern):
        m(_zeros(T, B, IN), hx)


@pytest.mark.parametrize("kind", ["gru", "rnn_tanh"])
def test_bad_hx_single_state(kind: str) -> None:
    m = _make(kind, 1, False, True)
    with pytest.raises(ShapeError, match=r"= \(1, 3, 4\), got \(2, 3, 4\)"):
        m(_zeros(T, B, IN), _zeros(2, B, H))
    with pytest.raises(ValueError, match="h_0"):
        m(_zeros(T, B, IN), (_zeros(1, B, H), _zeros(1, B, H)))


# --- fresh modules (bugs found and fixed) ---------------------------------------------------

def test_fresh_module_state_dict_torch_layout() -> None:
    lstm = tl.nn.LSTM(3, 4, num_layers=2)  # the module docstring's own example
    assert lstm.state_dict(layout="torch")["weight_ih_l0"].shape == (16, 3)


def test_fresh_module_load_torch_layout() -> None:
    sd = _random_torch_state("gru", 1, False, True, np.random.default_rng(10))
    gru = tl.nn.GRU(IN, H, dtype="float64")  # the usual import path: a new module, torch weights
    gru.load_state_dict(sd, layout="torch")
    assert np.array_equal(gru.state_dict(layout="torch")["weight_ih_l0"], sd["weight_ih_l0"])


def test_module_zero_grad_as_pytorch() -> None:
    m = tl.nn.LSTM(2, 3)
    m(tl.Tensor(np.ones((2, 1, 2))))[0].sum().backward()
    grad = m.weight_ih_l0.grad
    m.zero_grad(set_to_none=False)  # zeros in place, the same tensors
    assert m.weight_ih_l0.grad is grad and not grad.numpy().any()
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


@pytest.mark.parametrize("module", ["LSTM", "GRU", "RNN"])
def test_dropout_with_one_layer_warns_as_pytorch(module: str) -> None:
    with pytest.warns(UserWarning, match=r"non-zero dropout expects num_layers greater than 1, "
                                         r"but got dropout=0.5 and num_layers=1") as caught:
        getattr(tl.nn, module)(2, 3, dropout=0.5)
    assert caught[0].filename == __file__  # the user's line, not the library's
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(tl.nn, module)(2, 3, dropout=0.5, num_layers=2)


def test_load_state_dict_returns_the_unmatched_keys_as_pytorch() -> None:
    m = tl.nn.LSTM(2, 3)
    state = m.state_dict()
    assert m.load_state_dict(state) == ([], [])
    state["extra"] = np.zeros(1)
    del state["bias_hh_l0"]
    keys = m.load_state_dict(state, strict=False)
    assert keys.missing_keys == ["bias_hh_l0"] and keys.unexpected_keys == ["extra"]
    r = tl.nn.Recurrent(tl.cells.LSTM(2, 3))
    assert r.load_state_dict({}, strict=False).missing_keys == sorted(r.state_dict())


def test_to_takes_pytorch_forms() -> None:
    """m.to(dtype), m.to(device, dtype), m.to(device=, dtype=), the same Parameters after."""
    m = tl.nn.LSTM(2, 3)
    params = list(m.parameters())
    assert m.to("cpu", "float64") is m and m.weight_ih_l0.dtype == np.float64
    m.to(device="cpu", dtype=np.float32)
    assert all(p.dtype == np.float32 for p in m.parameters())
    assert all(a is b for a, b in zip(m.parameters(), params, strict=True))
    t = tl.Tensor(np.ones(2)).to("cpu", dtype="float64")
    assert t.dtype == np.float64
    with pytest.raises(TypeError, match=r"^LSTM.to: give a backend, a device or a dtype$"):
        m.to()
    with pytest.raises(ValueError, match=r"^LSTM.to: 'gpu0' is neither a backend"):
        m.to("float64", "gpu0")
    assert m.weight_ih_l0.dtype == np.float32  # every target is checked before anything moves
    with pytest.raises(TypeError, match=r"^LSTM.to: two dtypes given, float32 and float64$"):
        m.to("float32", dtype="float64")
    with pytest.raises(TypeError, match=r"^to: two dtypes given"):
        tl.Tensor([1.0]).to("float32", "float64")
    torch = pytest.importorskip("torch")
    m.to(torch.float64)
    assert m.weight_hh_l0.dtype == np.float64
    assert tl.nn.GRU(2, 3, dtype=torch.float64).weight_hh_l0.dtype == np.float64
    assert tl.Tensor(np.ones(2)).to(dtype=torch.float64).dtype == np.float64


def test_non_strict_torch_layout_load_reports_what_it_left_out() -> None:
    """strict=False with layout='torch': a missing PyTorch key is not an error; the native
    parameters it feeds are left as they were (a bias is never set to half of its sum) and
    returned as missing."""
    tl.manual_seed(0)
    rnn = tl.nn.Recurrent(tl.cells.LSTM(2, 3))
    state = {k: v + 1.0 for k, v in rnn.state_dict(layout="torch").items()}
    del state["bias_hh_l0"]
    before = {n: p.numpy().copy() for n, p in rnn.named_parameters()}
    keys = rnn.load_state_dict(state, strict=False, layout="torch")
    assert keys.missing_keys == ["l0.b_C", "l0.b_f", "l0.b_i", "l0.b_o"]
    for name, p in rnn.named_parameters():
        changed = not np.array_equal(p.numpy(), before[name])
        assert changed == (".b_" not in name), name
