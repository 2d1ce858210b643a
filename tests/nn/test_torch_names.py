"""PyTorch's names (dim=, view, size, squeeze, argmax, topk, cat, ...), PyTorch-style
construction and devices, and nn.Embedding, each compared with torch where it has the same."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lstm as tl


def _x(shape=(2, 3, 4), seed=0, dtype="float64") -> tl.Tensor:
    return tl.Tensor(np.random.default_rng(seed).standard_normal(shape), dtype=dtype)


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_dim_is_axis(op: str) -> None:
    x = _x()
    for dim in (0, -1, (0, 2)):
        np.testing.assert_array_equal(getattr(x, op)(dim=dim).numpy(),
                                      getattr(x, op)(axis=dim).numpy())
    assert getattr(x, op)(dim=1, keepdim=True).shape == (2, 1, 4)
    with pytest.raises(TypeError, match=f"{op}: got both axis=0 and dim=1"):
        getattr(x, op)(axis=0, dim=1)
    with pytest.raises(TypeError, match="keepdim is PyTorch's name"):
        getattr(x, op)(dim=1, keepdims=True, keepdim=False)


def test_max_along_dim_is_pytorchs_values_and_indices() -> None:
    """x.max(dim) (positional or dim=) gives PyTorch's (values, indices), NaN and ties included,
    and its gradient goes to the entry each index names; axis= stays NumPy's values-only."""
    torch = pytest.importorskip("torch")
    data = np.array([[1.0, 5.0, 5.0], [np.nan, 2.0, 0.0], [3.0, 1.0, 2.0]])
    for dim, keepdim in ((1, False), (0, True), (-1, True)):
        ours = tl.Tensor(data, dtype="float64", requires_grad=True)
        theirs = torch.tensor(data, requires_grad=True)
        values, indices = ours.max(dim, keepdim=keepdim)
        want_values, want_indices = theirs.max(dim, keepdim=keepdim)
        np.testing.assert_array_equal(values.numpy(), want_values.detach().numpy())
        np.testing.assert_array_equal(indices, want_indices.numpy())
        weights = np.arange(1.0, values.numel() + 1).reshape(values.shape)
        (values * tl.Tensor(weights, dtype="float64")).sum().backward()
        (want_values * torch.tensor(weights)).sum().backward()
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    assert ours.max(dim=1).values.shape == (3,)
    np.testing.assert_array_equal(ours.max(axis=1).numpy(), np.max(data, axis=1))
    with pytest.raises(TypeError, match="not both"):
        ours.max(1, axis=1)
    with pytest.raises(tl.ShapeError, match="empty along dim 0"):
        tl.Tensor(np.ones((0, 2))).max(0)


def test_transpose_of_two_dims_swaps_them_as_pytorch() -> None:
    torch = pytest.importorskip("torch")
    for shape, dims in (((2, 3), (0, 1)), ((2, 3), (1, 0)), ((2, 3, 4), (0, 2)),
                        ((2, 3, 4), (-1, 1)), ((2, 3, 4), (1, 1))):
        data = np.arange(float(np.prod(shape))).reshape(shape)
        np.testing.assert_array_equal(tl.Tensor(data).transpose(*dims).numpy(),
                                      torch.tensor(data).transpose(*dims).numpy())
    assert tl.Tensor(np.ones((2, 3, 4))).transpose(2, 0, 1).shape == (4, 2, 3)  # NumPy's form


def test_dim_everywhere_axis_is_taken() -> None:
    x = _x()
    np.testing.assert_array_equal(x.log_softmax(dim=1).numpy(), x.log_softmax(axis=1).numpy())
    np.testing.assert_array_equal(x.softmax(dim=0).numpy(), x.softmax(axis=0).numpy())
    assert [p.shape for p in x.split(2, dim=2)] == [(2, 3, 2), (2, 3, 2)]
    assert [p.shape for p in x.chunk(3, dim=1)] == [(2, 1, 4)] * 3
    assert tl.concat([x, x], dim=0).shape == (4, 3, 4)
    assert tl.stack([x, x], dim=-1).shape == (2, 3, 4, 2)
    assert x.argmax(axis=1).shape == (2, 4)
    for call in (lambda: x.split(2, axis=2, dim=2), lambda: tl.stack([x], axis=0, dim=0),
                 lambda: tl.cat([x], axis=1, dim=1), lambda: x.softmax(axis=0, dim=0)):
        with pytest.raises(TypeError, match="give one of them"):
            call()


def test_shape_names_match_torch() -> None:
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(1).standard_normal((2, 1, 3, 1))
    x, t = tl.Tensor(a, dtype="float64"), torch.tensor(a)
    assert x.size() == tuple(t.size()) and x.size(2) == t.size(2) and x.size(-1) == t.size(-1)
    assert x.dim() == t.dim() == 4
    cases = [
        (lambda v: v.view(6), lambda v: v.view(6)),
        (lambda v: v.view(-1, 3), lambda v: v.view(-1, 3)),
        (lambda v: v.squeeze(), lambda v: v.squeeze()),
        (lambda v: v.squeeze(1), lambda v: v.squeeze(1)),
        (lambda v: v.squeeze(2), lambda v: v.squeeze(2)),     # size 3: left as it is
        (lambda v: v.squeeze((1, 3)), lambda v: v.squeeze((1, 3))),
        (lambda v: v.unsqueeze(0), lambda v: v.unsqueeze(0)),
        (lambda v: v.unsqueeze(-1), lambda v: v.unsqueeze(-1)),
        (lambda v: v.unsqueeze(2), lambda v: v.unsqueeze(2)),
        (lambda v: v.flatten(), lambda v: v.flatten()),
        (lambda v: v.flatten(1, 2), lambda v: v.flatten(1, 2)),
        (lambda v: v.permute(3, 0, 2, 1), lambda v: v.permute(3, 0, 2, 1)),
        (lambda v: v.swapaxes(0, 2), lambda v: v.transpose(0, 2)),
    ]
    for ours, theirs in cases:
        np.testing.assert_array_equal(ours(x).numpy(), theirs(t).numpy())
    with pytest.raises(tl.ShapeError, match="unsqueeze: dim 5 is out of range"):
        x.unsqueeze(5)
    with pytest.raises(tl.ShapeError, match="size: axis 4 is out of range"):
        x.size(4)


def test_shape_names_are_differentiable() -> None:
    x = _x((2, 1, 3))
    x.requires_grad = True
    assert tl.gradcheck(lambda v: v.squeeze(1).unsqueeze(0).view(3, 2).permute(1, 0).flatten(),
                        x)


def test_argmax_and_topk_match_torch() -> None:
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(2).standard_normal((3, 5, 4))
    a[0, 1, :] = a[0, 3, :]  # ties: the earlier index first, as torch (stable) does
    x, t = tl.Tensor(a, dtype="float64"), torch.tensor(a)
    assert int(x.argmax()) == int(t.argmax())
    for dim in (0, 1, -1):
        np.testing.assert_array_equal(x.argmax(dim=dim), t.argmax(dim=dim).numpy())
        np.testing.assert_array_equal(x.argmax(dim, keepdim=True),
                                      t.argmax(dim, keepdim=True).numpy())
        for k, largest in ((1, True), (3, True), (2, False)):
            values, indices = x.topk(k, dim=dim, largest=largest)
            t_values, t_indices = t.topk(k, dim=dim, largest=largest)
            np.testing.assert_array_equal(values.numpy(), t_values.numpy())
            np.testing.assert_array_equal(indices, t_indices.numpy())
    with pytest.raises(tl.ShapeError, match="topk: k=6"):
        x.topk(6, dim=1)


def test_gather_and_index_select_match_torch_with_gradients() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 5))
    index = np.array([[0, 0, 3], [1, 4, 4], [2, 2, 2]])
    x = tl.Tensor(a, dtype="float64", requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    weights = rng.standard_normal((3, 3))
    (x.gather(1, index) * weights).sum().backward()
    (t.gather(1, torch.tensor(index)) * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-15)
    x.grad, t.grad = None, None
    rows = [3, 0, 3, 3]
    (x.index_select(0, rows) * 2).sum().backward()
    (t.index_select(0, torch.tensor(rows)) * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    assert x.grad.numpy()[3, 0] == 6.0  # three reads of row 3 accumulate


@pytest.mark.parametrize("index, error, message", [
    ([0, 5], IndexError, "index_select: index 5 is out of range for size 5"),
    ([-1], IndexError, "index -1 is out of range"),
    ([0.0, 1.0], TypeError, "indices must be integers, got dtype float64"),
    (tl.Tensor([0.0]), TypeError, "got a float32 Tensor; Tensors here are always float"),
    ([[0, 1]], tl.ShapeError, "index_select: index must be 1-D"),
])
def test_bad_indices_are_refused(index, error, message: str, backend: str) -> None:
    with pytest.raises(error, match=message):
        _x((3, 5)).index_select(1, index)


def test_gather_refuses_an_index_longer_than_the_input() -> None:
    with pytest.raises(tl.ShapeError, match=r"gather: index of shape \(4, 1\) does not fit"):
        _x((3, 5)).gather(1, np.zeros((4, 1), dtype=int))


def test_cat_and_functions_match_torch() -> None:
    torch = pytest.importorskip("torch")
    a, b = np.ones((2, 3)), np.zeros((1, 3))
    np.testing.assert_array_equal(tl.cat([tl.Tensor(a), tl.Tensor(b)]).numpy(),
                                  torch.cat([torch.tensor(a), torch.tensor(b)]).numpy())
    assert tl.cat([tl.Tensor(a), tl.Tensor(a)], 1).shape == (2, 6)
    x = np.random.default_rng(4).standard_normal((3, 4))
    np.testing.assert_allclose(tl.log_softmax(tl.Tensor(x, dtype="float64"), 0).numpy(),
                               torch.log_softmax(torch.tensor(x), 0).numpy(), rtol=1e-14)
    np.testing.assert_allclose(tl.softmax(tl.Tensor(x, dtype="float64"), dim=1).numpy(),
                               torch.softmax(torch.tensor(x), dim=1).numpy(), rtol=1e-14)


def test_construction_from_torch_and_anything_with_array() -> None:
    torch = pytest.importorskip("torch")
    t64 = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    assert tl.Tensor(t64).dtype == np.float32  # tl.Tensor: float32 unless asked
    assert tl.tensor(t64).dtype == np.float64  # tl.tensor: a float64 source stays float64
    assert tl.tensor(torch.ones(2)).dtype == np.float32
    assert tl.tensor([1, 2]).dtype == np.float32
    np.testing.assert_array_equal(tl.Tensor(t64, dtype="float64").numpy(), t64.numpy())
    assert tl.tensor(torch.tensor([1, 2, 3])).numpy().tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="Tensor: cannot make an array from Tensor"):
        tl.Tensor(torch.ones(2, requires_grad=True))

    class Wrapper:  # any object with __array__
        def __array__(self, dtype=None, copy=None):
            return np.array([1.5, 2.5])

    assert tl.tensor(Wrapper()).numpy().tolist() == [1.5, 2.5]
    assert tl.tensor([1.0], requires_grad=True).requires_grad


def test_from_numpy_shares_memory_and_keeps_dtype() -> None:
    a = np.zeros(3)
    x = tl.from_numpy(a)
    a[1] = 7.0
    assert x.dtype == np.float64 and x.numpy()[1] == 7.0
    assert tl.from_numpy(np.zeros(2, np.float32)).dtype == np.float32
    with pytest.raises(tl.DTypeError, match="from_numpy: dtype int64 is not float32 or float64"):
        tl.from_numpy(np.zeros(2, dtype=np.int64))


def test_tl_tensor_is_still_the_module() -> None:
    assert tl.tensor.Tensor is tl.Tensor and callable(tl.tensor.apply)


def test_devices_and_dtypes() -> None:
    x = tl.Tensor([1.0, 2.0], requires_grad=True, device="cpu")
    assert x.backend.name == "numpy" and x.device == "cpu"
    assert x.cpu() is x and x.to("cpu") is x and x.float() is x
    y = x.double()
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.numpy().tolist() == [2.0, 4.0]
    assert x.double().float().dtype == np.float32
    with pytest.raises(ValueError, match="cuda:1.*CuPy's current device"):
        x.to("cuda:1")
    with pytest.raises(TypeError, match="both backend= and device="):
        tl.Tensor([1.0], backend="numpy", device="cpu")
    import backends

    if backends.why_not("cupy"):
        with pytest.raises(tl.BackendUnavailable):
            x.cuda()
    else:
        z = x.cuda()
        assert z.backend.name == "cupy" and z.device == "cuda"
        z.sum().backward()


def test_embedding_matches_torch_forward_and_gradients() -> None:
    torch = pytest.importorskip("torch")
    tl.manual_seed(0)
    ours = tl.nn.Embedding(7, 4, padding_idx=2, dtype="float64")
    theirs = torch.nn.Embedding(7, 4, padding_idx=2, dtype=torch.float64)
    assert ours.weight.numpy()[2].tolist() == [0.0] * 4  # zero-initialised, as torch
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
    tokens = np.array([[1, 2, 5, 5], [2, 0, 5, 6]])
    upstream = np.random.default_rng(5).standard_normal((2, 4, 4))
    out = ours(tokens)
    t_out = theirs(torch.tensor(tokens))
    np.testing.assert_array_equal(out.numpy(), t_out.detach().numpy())
    (out * tl.Tensor(upstream, dtype="float64")).sum().backward()
    (t_out * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-15)
    assert not ours.weight.grad.numpy()[2].any()  # the padding row gets no gradient
    assert ours.weight.grad.numpy()[5].any()


def test_embedding_padding_row_stays_put_under_training(backend: str) -> None:
    tl.manual_seed(1)
    emb = tl.nn.Embedding(5, 3, padding_idx=-1)  # -1 is row 4, as in torch
    assert emb.padding_idx == 4
    opt = tl.optim.SGD(emb.parameters(), lr=0.5)
    before = emb.weight.numpy().copy()
    for _ in range(3):
        opt.zero_grad()
        (emb([[4, 1, 4]]) ** 2).sum().backward()
        opt.step()
    after = emb.weight.numpy()
    np.testing.assert_array_equal(after[4], before[4])
    assert not np.array_equal(after[1], before[1])


def test_embedding_bad_input() -> None:
    emb = tl.nn.Embedding(5, 3)
    with pytest.raises(IndexError, match="embedding: index 5 is out of range for size 5"):
        emb([1, 5])
    with pytest.raises(TypeError, match="embedding: indices must be integers"):
        emb(tl.Tensor([1.0]))
    with pytest.raises(ValueError, match="padding_idx must be an int in"):
        tl.nn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(ValueError, match="max_norm is not supported"):
        tl.nn.Embedding(5, 3, max_norm=1.0)
    frozen = tl.nn.Embedding.from_pretrained(np.eye(3))
    assert not frozen.weight.requires_grad and frozen([2]).numpy().tolist() == [[0, 0, 1]]


def test_cross_entropy_takes_dim() -> None:
    logits = _x((3, 4, 2))
    target = np.array([[0, 1], [2, 3], [1, 1]])
    assert tl.nn.cross_entropy(logits, target, dim=1).item() == \
        tl.nn.cross_entropy(logits, target, axis=1).item()
    with pytest.raises(TypeError, match="cross_entropy: got both axis=1 and dim=1"):
        tl.nn.cross_entropy(logits, target, axis=1, dim=1)


def test_modules_move_by_pytorch_device_names() -> None:
    lstm = tl.nn.LSTM(3, 4)
    weight = lstm.weight_ih_l0
    assert lstm.to("cpu") is lstm and lstm.cpu() is lstm and lstm.weight_ih_l0 is weight
    assert weight.backend.name == "numpy"
    if "cupy" not in tl.backends_available():
        with pytest.raises(tl.BackendUnavailable):
            lstm.cuda()
    with pytest.raises(ValueError, match="neither a backend"):
        lstm.to("tpu")


@pytest.mark.parametrize(("shape", "how", "dim"), [
    ((5, 3), 2, None), ((5, 3), [1, 4], None), ((5, 3), 2, 1), ((6, 4), 4, None),
    ((4, 6), 3, -1), ((7,), 3, None), ((0, 2), 3, None), ((2, 3, 5), 2, 2)])
@pytest.mark.parametrize("op", ["split", "chunk"])
def test_split_and_chunk_cut_as_pytorch_does(op: str, shape, how, dim) -> None:
    """The pieces (shapes and values) of torch.Tensor.split / chunk, default dim included."""
    torch = pytest.importorskip("torch")
    if op == "chunk" and not isinstance(how, int):
        pytest.skip("chunk takes a number of pieces")
    data = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    kwargs = {} if dim is None else {"dim": dim}
    mine = getattr(tl.Tensor(data, dtype="float64"), op)(how, **kwargs)
    theirs = getattr(torch.from_numpy(data), op)(how, **kwargs)
    assert [p.shape for p in mine] == [tuple(p.shape) for p in theirs]
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
