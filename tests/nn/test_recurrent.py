"""The sequence runner: lengths, layout, state passing, layers and directions, dropout (plain and
variational), truncated BPTT, and the errors bad input gets."""

from __future__ import annotations

import numpy as np
import pytest
from cell_references import REFERENCES, SQUARE, ZOO, run_stack

import tinygrad_lstm as tl

KEYS = list(REFERENCES)
F64 = tl.float64


def make(key: str, input_size: int, hidden_size: int, **options) -> tl.Cell:
    name, kwargs = ZOO[key]
    return tl.cells.create(name, input_size, hidden_size, dtype=F64, **kwargs, **options)


def T64(a: np.ndarray, requires_grad: bool = False) -> tl.Tensor:
    return tl.Tensor(a, dtype=F64, requires_grad=requires_grad)


def cell_params(rnn: tl.nn.Recurrent) -> list[dict[str, np.ndarray]]:
    return [{n: p.numpy().astype(np.float64) for n, p in c.named_parameters()} for c in rnn.cells]


def close(got, want, tol: float = 1e-12, what: str = "") -> None:
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=tol, atol=tol,
                               err_msg=what)


def lstm_rnn(**options) -> tl.nn.Recurrent:
    return tl.nn.Recurrent(tl.cells.LSTM(3, 4, dtype=F64), **options)


class Passthrough(tl.Cell):
    """Emits its input (input_size == hidden_size): shows what the runner fed it."""

    def step(self, x, h):
        return (x + 0 * h,)


class Accumulate(tl.Cell):
    """h_t = h_{t-1} + x_t: shows what h_{t-1} the runner fed it."""

    def step(self, x, h):
        return (h + x,)


# --- d. lengths: a padded batch is every sequence run alone ----------------------------------
@pytest.mark.parametrize("bidirectional", [False, True], ids=["forward", "bidirectional"])
@pytest.mark.parametrize("key", KEYS)
def test_lengths_equal_running_each_sequence_alone(backend: str, key: str,
                                                   bidirectional: bool) -> None:
    tl.manual_seed(30)
    hidden = 4
    width = hidden if key in SQUARE else 3
    layers = 1 if key in SQUARE and bidirectional else 2
    rnn = tl.nn.Recurrent(make(key, width, hidden), num_layers=layers,
                          bidirectional=bidirectional)
    lengths = [3, 5, 1, 4]  # unsorted
    steps = 5
    rng = np.random.default_rng(31)
    x = rng.standard_normal((steps, len(lengths), width))
    x_padded = x.copy()
    for b, n in enumerate(lengths):
        x_padded[n:, b] = rng.standard_normal((steps - n, width)) * 100  # garbage past the end
    out, finals = rnn(T64(x_padded), lengths=np.array(lengths))
    out = out.numpy()
    for b, n in enumerate(lengths):
        alone, alone_finals = rnn(T64(x[:n, b:b + 1]))
        close(out[:n, b], alone.numpy()[:, 0], what=f"outputs of sequence {b}")
        assert np.all(out[n:, b] == 0.0), f"outputs past length {n} are not zero"
        for k, (state, want) in enumerate(zip(finals, alone_finals, strict=True)):
            for s, w in zip(state, want, strict=True):
                close(s.numpy()[b], w.numpy()[0], what=f"final state {k} of sequence {b}")


def test_lengths_accepts_lists_arrays_and_tensors(backend: str) -> None:
    tl.manual_seed(32)
    rnn = lstm_rnn(bidirectional=True)
    x = T64(np.random.default_rng(0).standard_normal((4, 3, 3)))
    want, _ = rnn(x, lengths=[2, 4, 3])
    for lengths in (np.array([2, 4, 3], dtype=np.int32), (2, 4, 3), tl.Tensor([2, 4, 3]),
                    np.array([2.0, 4.0, 3.0])):
        got, _ = rnn(x, lengths=lengths)
        close(got.numpy(), want.numpy(), 0.0)
    full, _ = rnn(x)
    same, _ = rnn(x, lengths=[4, 4, 4])
    close(same.numpy(), full.numpy(), 0.0)


def test_padded_steps_get_no_gradient(backend: str) -> None:
    tl.manual_seed(33)
    rnn = lstm_rnn(num_layers=2, bidirectional=True)
    x = T64(np.random.default_rng(1).standard_normal((4, 2, 3)), requires_grad=True)
    out, finals = rnn(x, lengths=[4, 2])
    (out.sum() + sum(s.sum() for layer in finals for s in layer)).backward()
    g = x.grad.numpy()
    assert np.all(g[2:, 1] == 0.0) and np.all(g[:2, 1] != 0.0) and np.all(g[:, 0] != 0.0)


# --- f. the runner ---------------------------------------------------------------------------
def test_batch_first(backend: str) -> None:
    tl.manual_seed(34)
    rnn = lstm_rnn(num_layers=2, bidirectional=True)
    first = lstm_rnn(num_layers=2, bidirectional=True, batch_first=True)
    first.load_state_dict(rnn.state_dict())
    x = np.random.default_rng(2).standard_normal((5, 3, 3))
    for lengths in (None, [5, 2, 4]):
        want, want_finals = rnn(T64(x), lengths=lengths)
        got, finals = first(T64(x.transpose(1, 0, 2)), lengths=lengths)
        assert got.shape == (3, 5, 8)
        close(got.numpy(), want.numpy().transpose(1, 0, 2))
        for a, b in zip(finals, want_finals, strict=True):
            for s, w in zip(a, b, strict=True):
                assert s.shape == (3, 4)
                close(s.numpy(), w.numpy())


@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (3, False), (1, True),
                                                       (3, True)])
def test_shapes_and_state_order(backend: str, num_layers: int, bidirectional: bool) -> None:
    tl.manual_seed(35)
    rnn = lstm_rnn(num_layers=num_layers, bidirectional=bidirectional)
    directions = 2 if bidirectional else 1
    names = [n for n, _ in rnn.named_modules()][1:]
    want_names = [f"l{k}{suffix}" for k in range(num_layers)
                  for suffix in ("", "_reverse")[:directions]]
    assert names == want_names
    for layer in range(num_layers):
        for cell in rnn.cells[layer * directions:(layer + 1) * directions]:
            assert cell.input_size == (3 if layer == 0 else 4 * directions)
    x = np.random.default_rng(3).standard_normal((6, 2, 3))
    out, finals = rnn(T64(x))
    assert out.shape == (6, 2, 4 * directions)
    assert len(finals) == num_layers * directions
    assert all(len(s) == 2 and all(t.shape == (2, 4) for t in s) for s in finals)
    # the order: l0, l0_reverse, l1, ...: each final state is its own cell's run
    zeros = [(np.zeros((2, 4)), np.zeros((2, 4)))] * len(finals)
    want_out, want_finals = run_stack(REFERENCES["lstm"], cell_params(rnn), x, zeros,
                                      num_layers, bidirectional)
    close(out.numpy(), want_out, 1e-10)
    for got, want in zip(finals, want_finals, strict=True):
        for s, w in zip(got, want, strict=True):
            close(s.numpy(), w, 1e-10)
    if bidirectional and num_layers == 1:  # the reverse half is the sequence read backwards
        back, _ = tl.nn.Recurrent(rnn.cells[1])(T64(x[::-1].copy()))
        close(out.numpy()[:, :, 4:], back.numpy()[::-1])


def test_initial_state_is_used_and_continues_a_sequence(backend: str) -> None:
    tl.manual_seed(36)
    rnn = lstm_rnn(num_layers=2, bidirectional=False)
    x = np.random.default_rng(4).standard_normal((6, 2, 3))
    full, full_finals = rnn(T64(x))
    head, state = rnn(T64(x[:2]))
    tail, finals = rnn(T64(x[2:]), state)
    close(np.concatenate([head.numpy(), tail.numpy()]), full.numpy())
    for a, b in zip(finals, full_finals, strict=True):
        for s, w in zip(a, b, strict=True):
            close(s.numpy(), w.numpy())
    # a single-layer runner also takes the bare tuple
    one = lstm_rnn()
    h0 = np.random.default_rng(5).standard_normal((2, 4))
    c0 = np.random.default_rng(6).standard_normal((2, 4))
    a, _ = one(T64(x), (T64(h0), T64(c0)))
    b, _ = one(T64(x), [(T64(h0), T64(c0))])
    z, _ = one(T64(x))
    close(a.numpy(), b.numpy(), 0.0)
    assert np.abs(a.numpy() - z.numpy()).max() > 1e-3


def test_truncated_bptt_with_detach_state(backend: str) -> None:
    tl.manual_seed(37)
    rnn = lstm_rnn(num_layers=2, bidirectional=False)
    x = np.random.default_rng(7).standard_normal((6, 2, 3))
    full, full_finals = rnn(T64(x))
    x1, x2 = T64(x[:3], requires_grad=True), T64(x[3:], requires_grad=True)
    out1, state = rnn(x1)
    carried = tl.nn.detach_state(state)
    assert all(not s.requires_grad for layer in carried for s in layer)
    for a, b in zip(carried, state, strict=True):
        for s, w in zip(a, b, strict=True):
            np.testing.assert_array_equal(s.numpy(), w.numpy())
    out2, finals = rnn(x2, carried)
    close(np.concatenate([out1.numpy(), out2.numpy()]), full.numpy())
    for a, b in zip(finals, full_finals, strict=True):
        for s, w in zip(a, b, strict=True):
            close(s.numpy(), w.numpy())
    rnn.zero_grad()
    (out2 * out2).sum().backward()
    assert x1.grad is None  # the graph was cut at the chunk boundary
    assert x2.grad is not None and np.abs(x2.grad.numpy()).max() > 0
    # without the detach the gradient reaches the first chunk
    out1, state = rnn(x1)
    out2, _ = rnn(x2, state)
    (out2 * out2).sum().backward()
    assert x1.grad is not None and np.abs(x1.grad.numpy()).max() > 0


def _dropout_twin(**dropouts) -> tuple[tl.nn.Recurrent, tl.nn.Recurrent]:
    tl.manual_seed(38)
    with_dropout = lstm_rnn(num_layers=3, bidirectional=True, **dropouts)
    without = lstm_rnn(num_layers=3, bidirectional=True)
    without.load_state_dict(with_dropout.state_dict())
    return with_dropout, without


@pytest.mark.parametrize("option", ["dropout", "input_dropout", "recurrent_dropout"])
@pytest.mark.parametrize("variational", [False, True])
def test_dropout_only_in_training(backend: str, option: str, variational: bool) -> None:
    rnn, reference = _dropout_twin(**{option: 0.5}, variational=variational)
    x = T64(np.random.default_rng(8).standard_normal((4, 3, 3)))
    want, _ = reference(x)
    assert rnn.training
    train1, _ = rnn(x)
    train2, _ = rnn(x)
    assert np.abs(train1.numpy() - want.numpy()).max() > 1e-3
    assert np.abs(train1.numpy() - train2.numpy()).max() > 1e-3  # a new mask each call
    rnn.eval()
    assert not any(m.training for _, m in rnn.named_modules())
    a, _ = rnn(x)
    b, _ = rnn(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    close(a.numpy(), want.numpy(), 0.0)
    rnn.train()
    again, _ = rnn(x)
    assert np.abs(again.numpy() - want.numpy()).max() > 1e-3


def test_between_layer_dropout_needs_two_layers(backend: str) -> None:
    tl.manual_seed(39)
    one = lstm_rnn(dropout=0.5)
    ref = lstm_rnn()
    ref.load_state_dict(one.state_dict())
    x = T64(np.random.default_rng(9).standard_normal((4, 3, 3)))
    close(one(x)[0].numpy(), ref(x)[0].numpy(), 0.0)


def _masks(variational: bool, option: str, layers: int) -> np.ndarray:
    tl.manual_seed(40)
    rnn = tl.nn.Recurrent(Passthrough(6, 6, dtype=F64), num_layers=layers,
                          variational=variational, **{option: 0.5})
    out, _ = rnn(T64(np.ones((8, 40, 6))))
    return out.numpy()


@pytest.mark.parametrize("option, layers", [("input_dropout", 1), ("dropout", 2)])
def test_dropout_masks(backend: str, option: str, layers: int) -> None:
    """Inverted dropout: kept units scaled by 1/(1 - p); a fresh mask per step, or one per
    sequence (shared by every step) with variational=True."""
    for variational in (False, True):
        m = _masks(variational, option, layers)
        assert set(np.unique(m)) <= {0.0, 2.0}
        assert 0.4 < np.mean(m == 2.0) < 0.6
        same_over_time = all(np.array_equal(m[t], m[0]) for t in range(m.shape[0]))
        assert same_over_time == variational
        if variational:  # one mask per sequence, not one for the whole batch
            assert not all(np.array_equal(m[0, b], m[0, 0]) for b in range(m.shape[1]))


def test_recurrent_dropout_is_one_mask_per_sequence(backend: str) -> None:
    tl.manual_seed(41)
    rnn = tl.nn.Recurrent(Accumulate(5, 5, dtype=F64), recurrent_dropout=0.5)
    out, _ = rnn(T64(np.ones((4, 30, 5))))
    h = out.numpy()
    close(h[0], np.ones((30, 5)))  # h_0 = 0: nothing to drop
    mask = h[1] - 1.0  # h_1 = m ⊙ h_0... = m ⊙ 1 + 1
    assert set(np.unique(mask)) == {0.0, 2.0}
    for t in range(2, 4):  # the same m at every step: h_t = m ⊙ h_{t-1} + 1
        close(h[t], mask * h[t - 1] + 1.0)
    rnn.eval()
    close(rnn(T64(np.ones((4, 30, 5))))[0].numpy()[:, 0, 0], [1.0, 2.0, 3.0, 4.0])


# --- g. bad input ----------------------------------------------------------------------------
def test_bad_input_is_named(backend: str) -> None:
    rnn = lstm_rnn(num_layers=2)
    x = T64(np.zeros((4, 2, 3)))
    good = (T64(np.zeros((2, 4))), T64(np.zeros((2, 4))))
    with pytest.raises(tl.ShapeError, match=r"5 features.*input_size=3"):
        rnn(T64(np.zeros((4, 2, 5))))
    with pytest.raises(tl.ShapeError, match=r"input must be 3-D \(T, B, features\).*\(2, 3\)"):
        rnn(T64(np.zeros((2, 3))))
    with pytest.raises(tl.ShapeError, match=r"input must be 3-D.*\(1, 4, 2, 3\)"):
        rnn(T64(np.zeros((1, 4, 2, 3))))
    with pytest.raises(tl.ShapeError, match=r"3-D \(B, T, features\)"):
        lstm_rnn(batch_first=True)(T64(np.zeros((2, 3))))
    with pytest.raises(tl.ShapeError, match=r"empty \(T = 0\)"):
        rnn(T64(np.zeros((0, 2, 3))))
    with pytest.raises(TypeError, match="input must be a tl.Tensor, got numpy.ndarray"):
        rnn(np.zeros((4, 2, 3)))
    # state
    with pytest.raises(tl.ShapeError, match=r"state 'c' has shape \(3, 4\), expected \(2, 4\)"):
        rnn(x, [good, (good[0], T64(np.zeros((3, 4))))])
    with pytest.raises(tl.ShapeError, match=r"state 'h' has shape \(2, 5\), expected \(2, 4\)"):
        rnn(x, [(T64(np.zeros((2, 5))), good[1]), good])
    with pytest.raises(ValueError, match=r"state must be a list of 2 tuples.*length 1"):
        rnn(x, [good])
    with pytest.raises(ValueError, match=r"state must be a tuple of 2 tensors \('h', 'c'\)"):
        rnn(x, [good, (good[0],)])
    with pytest.raises(ValueError, match=r"state must be a list of 2 tuples"):
        rnn(x, good[0])
    # lengths
    for lengths, error, message in [
            ([4, 0], ValueError, r"lengths\[1\] = 0.*at least one step"),
            ([-1, 2], ValueError, r"lengths\[0\] = -1.*at least one step"),
            ([4, 5], ValueError, r"lengths\[1\] = 5 is longer than the sequence \(T = 4\)"),
            ([4, 4, 4], tl.ShapeError, r"lengths must have one entry per sequence \(2\)"),
            ([4], tl.ShapeError, r"one entry per sequence \(2\), got shape \(1,\)"),
            ([[4, 4]], tl.ShapeError, r"one entry per sequence"),
            ([2.5, 4], TypeError, r"lengths must be integers"),
    ]:
        with pytest.raises(error, match=message):
            rnn(x, lengths=lengths)


def test_bad_cell_input_is_named(backend: str) -> None:
    cell = tl.cells.LSTM(3, 4, dtype=F64)
    with pytest.raises(tl.ShapeError, match=r"LSTM expects input_size=3"):
        cell(T64(np.zeros((2, 5))))
    with pytest.raises(tl.ShapeError, match=r"input must be one step's x of shape \(batch, 3\)"):
        cell(T64(np.zeros((4, 2, 3))))
    with pytest.raises(ValueError, match=r"state must be a tuple of 2 tensors"):
        cell(T64(np.zeros((2, 3))), (T64(np.zeros((2, 4))),))
    with pytest.raises(tl.ShapeError, match=r"state 'h' has shape \(1, 4\), expected \(2, 4\)"):
        cell(T64(np.zeros((2, 3))), (T64(np.zeros((1, 4))), T64(np.zeros((2, 4)))))
    with pytest.raises(tl.ShapeError, match=r"state 'c' has shape ndarray"):
        cell(T64(np.zeros((2, 3))), (T64(np.zeros((2, 4))), np.zeros((2, 4))))


def test_bad_construction_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown cell 'nope'; available: rnn, rnn-relu"):
        tl.cells.create("nope", 3, 4)
    for args, message in [((0, 4), "input_size must be a positive int, got 0"),
                          ((3, -2), "hidden_size must be a positive int, got -2"),
                          ((3.5, 4), "input_size must be a positive int, got 3.5"),
                          ((True, 4), "input_size must be a positive int, got True")]:
        for name in ("lstm", "gru", "clockwork", "greff-fgr"):
            with pytest.raises(ValueError, match=message):
                tl.cells.create(name, *args)
    with pytest.raises(ValueError, match=r"init must be one of"):
        tl.cells.create("lstm", 3, 4, init="xavier")
    with pytest.raises(ValueError, match=r"couple must be 'f'.*or 'i'"):
        tl.cells.CIFG(3, 4, couple="o")
    with pytest.raises(ValueError, match=r"nonlinearity must be 'tanh' or 'relu'"):
        tl.cells.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match=r"hidden_size=6 does not split into 4 equal modules"):
        tl.cells.create("clockwork", 3, 6)
    with pytest.raises(ValueError, match=r"periods must be positive and increasing"):
        tl.cells.create("clockwork", 3, 4, periods=(2, 1))
    with pytest.raises(ValueError, match=r"peepholes must be among"):
        tl.cells.PeepholeLSTM(3, 4, peepholes=("x",))
    with pytest.raises(ValueError, match=r"unknown variant 'XYZ'"):
        tl.cells.greff_variant("XYZ", 3, 4)
    for name in ("mut1", "mut2"):
        with pytest.raises(tl.ShapeError, match=r"input_size \(3\) must equal hidden_size \(4\)"):
            tl.cells.create(name, 3, 4)
        with pytest.raises(tl.ShapeError, match=r"input_size \(8\) must equal hidden_size"):
            tl.nn.Recurrent(tl.cells.create(name, 4, 4), bidirectional=True, num_layers=2)
    cell = tl.cells.LSTM(3, 4)
    with pytest.raises(TypeError, match=r"cell must be a tl.Cell"):
        tl.nn.Recurrent("lstm")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match=r"num_layers must be a positive int"):
            tl.nn.Recurrent(cell, num_layers=bad)
    for option in ("dropout", "input_dropout", "recurrent_dropout"):
        for bad in (1.0, -0.1, "0.5"):
            with pytest.raises(ValueError, match=rf"{option} must be a probability in \[0, 1\)"):
                tl.nn.Recurrent(cell, **{option: bad})
