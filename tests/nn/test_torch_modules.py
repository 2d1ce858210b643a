"""PyTorch's recurrent modules here, each compared with PyTorch itself (CPU, float64).

Cells (call convention, parameters, gradients), unbatched input, ``proj_size``, packed
sequences against ``lengths=``, ``pad_sequence``, state dicts of composite models, keywords
PyTorch has and this project does not, the plan's layout kept across calls. Losses, containers
and init: ``test_torch_nn_layers.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.cells.plan import _layout
from tinygrad_lstm.errors import ShapeError

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

IN, H, B, T = 3, 4, 2, 5


def _t(a: np.ndarray, grad: bool = False) -> tl.Tensor:
    return tl.Tensor(a, dtype="float64", requires_grad=grad)


def _copy(ours: tl.nn.Module, theirs) -> None:
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _close(ours, theirs, what: str = "") -> None:
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    ours = ours.numpy() if isinstance(ours, tl.Tensor) else ours
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=what)


# --- cells ----------------------------------------------------------------------------------

CELLS = [("LSTMCell", {}), ("GRUCell", {}), ("RNNCell", {}),
         ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {"bias": False})]


@pytest.mark.parametrize("name, opts", CELLS, ids=lambda v: str(v))
def test_cells_match_pytorch_with_its_call_convention(name: str, opts: dict) -> None:
    rng = np.random.default_rng(0)
    theirs = getattr(torch.nn, name)(IN, H, dtype=torch.float64, **opts)
    ours = getattr(tl.nn, name)(IN, H, dtype="float64", **opts)
    assert [n for n, _ in ours.named_parameters()] == list(theirs.state_dict())
    _copy(ours, theirs)
    x = rng.standard_normal((B, IN))
    lstm = name == "LSTMCell"
    states = [rng.standard_normal((B, H)) for _ in range(2 if lstm else 1)]
    tx = torch.tensor(x, requires_grad=True)
    ts = [torch.tensor(s) for s in states]
    ox = _t(x, grad=True)
    os_ = [_t(s) for s in states]
    if lstm:
        th, tc = theirs(tx, tuple(ts))
        oh, oc = ours(ox, tuple(os_))  # h, c = cell(x, (h, c))
        _close(oc, tc, "c")
        (th.sum() + (tc * tc).sum()).backward()
        (oh.sum() + (oc * oc).sum()).backward()
    else:
        th = theirs(tx, ts[0])
        oh = ours(ox, os_[0])
        th.sum().backward()
        oh.sum().backward()
    _close(oh, th, "h")
    _close(ox.grad, tx.grad, "dx")
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        _close(p.grad, q.grad, n)
    # no state: zeros; unbatched (features,) in, (features,) out
    first = ours(_t(x[0]))
    expect = theirs(torch.tensor(x[0]))
    for a, b in zip(first if lstm else (first,), expect if lstm else (expect,), strict=True):
        assert a.shape == (H,)
        _close(a, b, "unbatched")


def test_lstm_cell_refuses_a_bare_tensor_for_its_state() -> None:
    cell = tl.nn.LSTMCell(IN, H)
    with pytest.raises(ValueError, match=r"hx must be \(h, c\)"):
        cell(tl.Tensor(np.zeros((B, IN))), tl.Tensor(np.zeros((B, H))))


# --- the recurrent modules: unbatched input, projections, packed sequences ---------------------

@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_unbatched_input_matches_pytorch(kind: str) -> None:
    rng = np.random.default_rng(1)
    theirs = getattr(torch.nn, kind)(IN, H, num_layers=2, bidirectional=True,
                                     dtype=torch.float64)
    ours = getattr(tl.nn, kind)(IN, H, num_layers=2, bidirectional=True, dtype="float64")
    _copy(ours, theirs)
    x = rng.standard_normal((T, IN))
    t_out, t_state = theirs(torch.tensor(x))
    o_out, o_state = ours(_t(x))
    _close(o_out, t_out, "output")
    for a, b in zip(o_state if kind == "LSTM" else (o_state,),
                    t_state if kind == "LSTM" else (t_state,), strict=True):
        _close(a, b, "state")
    again, _ = ours(_t(x), o_state)  # and the unbatched state goes back in
    _close(again, theirs(torch.tensor(x), t_state)[0], "from a state")


@pytest.mark.parametrize("bidirectional", [False, True])
def test_projection_matches_pytorch(bidirectional: bool) -> None:
    rng = np.random.default_rng(2)
    opts = {"num_layers": 2, "proj_size": 2, "bidirectional": bidirectional}
    theirs = torch.nn.LSTM(IN, H, dtype=torch.float64, **opts)
    ours = tl.nn.LSTM(IN, H, dtype="float64", **opts)
    assert {n: p.shape for n, p in ours.named_parameters()} == \
        {n: tuple(p.shape) for n, p in theirs.named_parameters()}
    assert ours.weight_hr_l1.shape == (2, H)
    _copy(ours, theirs)
    d = 2 if bidirectional else 1
    x = rng.standard_normal((T, B, IN))
    h0, c0 = rng.standard_normal((2 * d, B, 2)), rng.standard_normal((2 * d, B, H))
    tx = torch.tensor(x, requires_grad=True)
    t_out, (th, tc) = theirs(tx, (torch.tensor(h0), torch.tensor(c0)))
    ox = _t(x, grad=True)
    o_out, (oh, oc) = ours(ox, (_t(h0), _t(c0)))
    _close(o_out, t_out, "output")
    _close(oh, th, "h_n")
    _close(oc, tc, "c_n")
    (t_out * t_out).sum().backward()
    (o_out * o_out).sum().backward()
    _close(ox.grad, tx.grad, "dx")
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        _close(p.grad, q.grad, n)


def test_packed_sequences_are_lengths_here() -> None:
    """The table in tl.nn.sequences: pad_sequence + lengths= gives what pack_padded_sequence
    gives PyTorch, outputs (as padded back) and final states."""
    rng = np.random.default_rng(3)
    theirs = torch.nn.LSTM(IN, H, bidirectional=True, dtype=torch.float64)
    ours = tl.nn.LSTM(IN, H, bidirectional=True, dtype="float64")
    _copy(ours, theirs)
    seqs = [rng.standard_normal((n, IN)) for n in (3, 5, 1)]
    padded, lengths = tl.nn.pad_sequence([_t(s) for s in seqs])
    t_padded = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs])
    _close(padded, t_padded, "pad_sequence")
    packed = torch.nn.utils.rnn.pack_padded_sequence(t_padded, torch.tensor(lengths),
                                                     enforce_sorted=False)
    t_out, (th, tc) = theirs(packed)
    t_out, t_lengths = torch.nn.utils.rnn.pad_packed_sequence(t_out)
    o_out, (oh, oc) = ours(padded, lengths=lengths)
    assert lengths.tolist() == t_lengths.tolist()
    _close(o_out, t_out, "output")
    _close(oh, th, "h_n")
    _close(oc, tc, "c_n")


def test_pad_sequence_batch_first_padding_value_and_gradients() -> None:
    a, b = _t(np.ones((2, 3)), grad=True), _t(np.full((4, 3), 2.0), grad=True)
    padded, lengths = tl.nn.pad_sequence([a, b], batch_first=True, padding_value=-1.0)
    assert padded.shape == (2, 4, 3) and lengths.tolist() == [2, 4]
    assert np.all(padded.numpy()[0, 2:] == -1.0)
    (padded * padded).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), 2 * np.ones((2, 3)))
    with pytest.raises(ShapeError, match="sequence 1 has shape"):
        tl.nn.pad_sequence([np.ones((2, 3)), np.ones((2, 4))])


def test_unknown_and_unsupported_keywords_say_what_to_do() -> None:
    with pytest.raises(TypeError, match="unknown keyword 'nonlinearity'.*this project adds"):
        tl.nn.LSTM(IN, H, nonlinearity="relu")
    with pytest.raises(ValueError, match="device='mps'.*backends"):
        tl.nn.GRU(IN, H, device="mps")
    packed = torch.nn.utils.rnn.pack_sequence([torch.zeros(2, IN)])
    with pytest.raises(TypeError, match=r"pad_sequence\(seqs\); lstm\(padded, lengths="):
        tl.nn.LSTM(IN, H)(packed)
    cpu = tl.nn.LSTM(IN, H, device="cpu")
    assert cpu.weight_ih_l0.backend.name == "numpy"


def test_torch_named_attributes_are_the_parameters() -> None:
    lstm = tl.nn.LSTM(IN, H, num_layers=2, bidirectional=True)
    params = dict(lstm.named_parameters())
    assert lstm.weight_hh_l1_reverse is params["weight_hh_l1_reverse"]
    tl.nn.init.zeros_(lstm.weight_ih_l0)  # in place: the module computes with it
    out, _ = lstm(tl.Tensor(np.ones((T, B, IN))))
    lstm2 = tl.nn.LSTM(IN, H, num_layers=2, bidirectional=True)
    lstm2.load_state_dict(lstm.state_dict())
    lstm2.weight_ih_l0 = tl.nn.Parameter(np.ones((4 * H, IN)))
    assert not np.allclose(lstm2(tl.Tensor(np.ones((T, B, IN))))[0].numpy(), out.numpy())
    with pytest.raises(ShapeError, match="weight_ih_l0"):
        lstm2.weight_ih_l0 = tl.nn.Parameter(np.ones((H, IN)))
    with pytest.raises(TypeError, match="weight_hh_l0: expected a tl.nn.Parameter"):
        lstm2.weight_hh_l0 = tl.Tensor(np.ones((4 * H, H)))
    with pytest.raises(AttributeError):
        _ = lstm.weight_ih_l2


# --- state dicts of whole models ----------------------------------------------------------------

class _TheirTagger(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(IN, H, batch_first=True)
        self.zoo = torch.nn.LSTM(H, H)
        self.cell = torch.nn.GRUCell(IN, H)
        self.head = torch.nn.Linear(H, 2)


class _OurTagger(tl.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = tl.nn.LSTM(IN, H, batch_first=True, dtype="float64")
        self.zoo = tl.nn.Recurrent(tl.cells.LSTM(H, H, dtype="float64"))  # single biases
        self.cell = tl.cells.TorchGRU(IN, H, dtype="float64")
        self.head = tl.nn.Linear(H, 2, dtype="float64")


def test_composite_model_loads_pytorch_state_dict_at_any_depth() -> None:
    theirs = _TheirTagger().double()
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    ours = _OurTagger()
    with pytest.raises(KeyError, match=r"Tagger: '[a-z_.]+' is a PyTorch name: .*layout='torch'"):
        ours.load_state_dict(sd)
    ours.load_state_dict(sd, layout="torch")
    x = np.random.default_rng(8).standard_normal((T, B, H))
    _close(ours.zoo(_t(x))[0], theirs.zoo(torch.tensor(x))[0], "zoo LSTM, biases added")
    xs = np.random.default_rng(9).standard_normal((B, IN))
    _close(ours.cell(_t(xs))[0], theirs.cell(torch.tensor(xs)), "zoo TorchGRU cell")
    _close(ours.head.weight, theirs.head.weight, "head")
    back = ours.state_dict(layout="torch")
    assert sorted(back) == sorted(sd)
    _close(back["lstm.bias_hh_l0"], sd["lstm.bias_hh_l0"], "PyTorch-shaped: both biases kept")
    _close(back["zoo.bias_ih_l0"] + back["zoo.bias_hh_l0"],
           sd["zoo.bias_ih_l0"] + sd["zoo.bias_hh_l0"], "zoo: the sum")
    del sd["cell.bias_hh"]
    with pytest.raises(KeyError, match=r"missing keys \['cell.bias_hh' \(12,\)\]"):
        _OurTagger().load_state_dict(sd, layout="torch")


def test_plan_layout_is_kept_and_parameters_are_read_at_each_call() -> None:
    """The plan's layout is made once per cell; the values come from the parameters as they
    are at each call: replaced, re-initialised in place, or loaded."""
    rng = np.random.default_rng(10)
    x = _t(rng.standard_normal((T, B, IN)))
    ours = tl.nn.GRU(IN, H, dtype="float64")
    ours(x)
    layout = _layout(ours.cells[0])
    assert _layout(ours.cells[0]) is layout
    theirs = torch.nn.GRU(IN, H, dtype=torch.float64)
    ours.weight_hh_l0 = tl.nn.Parameter(theirs.weight_hh_l0.detach().numpy(), dtype="float64")
    for name in ("weight_ih_l0", "bias_ih_l0", "bias_hh_l0"):
        getattr(ours, name).data[...] = getattr(theirs, name).detach().numpy()
    _close(ours(x)[0], theirs(torch.tensor(x.numpy()))[0], "after replacing parameters")
    assert _layout(ours.cells[0]) is layout
    fresh = tl.nn.GRU(IN, H, dtype="float64")
    ours.load_state_dict(fresh.state_dict())
    _close(ours(x)[0], fresh(x)[0].numpy(), "after load_state_dict")


def test_torch_cells_take_the_plain_path_and_gradcheck() -> None:
    """fused=False runs every gate on its own, from slices of PyTorch's tensors; it agrees
    with the planned path, and both agree with finite differences (float64)."""
    rng = np.random.default_rng(11)
    x = _t(rng.standard_normal((3, 2, IN)))
    planned = tl.nn.LSTM(IN, H, proj_size=2, bidirectional=True, dtype="float64")
    plain = tl.nn.LSTM(IN, H, proj_size=2, bidirectional=True, dtype="float64", fused=False)
    plain.load_state_dict(planned.state_dict())
    _close(plain(x)[0], planned(x)[0].numpy(), "plain == planned")
    for module in (planned, plain):
        for name in ("weight_hh_l0", "bias_ih_l0_reverse", "weight_hr_l0"):
            cell, kind = module._cell_for(name)
            loss = _with_tensor(cell, kind, lambda m=module: (m(x)[0] ** 2).sum())
            assert tl.gradcheck(loss, getattr(module, name)), name
    gru = tl.nn.GRUCell(IN, H, dtype="float64")
    xs = _t(rng.standard_normal((2, IN)))
    for kind in ("bias_hh", "weight_ih"):
        loss = _with_tensor(gru, kind, lambda: (gru(xs) ** 2).sum())
        assert tl.gradcheck(loss, gru._parameters[kind]), kind


def _with_tensor(cell: tl.Cell, kind: str, run):
    """``run`` as a function of the cell's tensor ``kind`` (gradcheck passes in its own copy:
    the cell computes with that copy while ``run`` runs)."""
    def loss(tensor: tl.Tensor) -> tl.Tensor:
        kept = cell._parameters[kind]
        cell._parameters[kind] = tensor
        try:
            return run()
        finally:
            cell._parameters[kind] = kept
    return loss


def test_cells_and_linear_refuse_unknown_keywords() -> None:
    with pytest.raises(TypeError, match="LSTMCell: unknown keyword 'batch_first'"):
        tl.nn.LSTMCell(IN, H, batch_first=True)
    assert tl.nn.Linear(2, 3, device="cpu").weight.backend.name == "numpy"
    tl.nn.LSTM(IN, H).flatten_parameters()  # PyTorch code calls it; nothing to do here
