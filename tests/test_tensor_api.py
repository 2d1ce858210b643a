"""The public Tensor API: construction, dtypes, and bad input named early and clearly."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lstm as tl


def test_float32_by_default_float64_on_request(backend: str) -> None:
    assert tl.Tensor(np.random.randn(2, 3)).dtype == np.float32
    assert tl.Tensor([1, 2, 3]).dtype == np.float32
    assert tl.Tensor([True, False]).dtype == np.float32
    assert tl.Tensor(np.ones(2), dtype="float64").dtype == np.float64
    assert tl.Tensor(np.ones(2), dtype=tl.float64).dtype == np.float64
    assert tl.zeros((2, 3)).dtype == np.float32 and tl.ones(4, dtype="float64").dtype == np.float64


@pytest.mark.parametrize("scalar", [2, 2.5, np.float64(2.5), np.int64(3), True])
def test_scalars_never_upcast_float32(scalar, backend: str) -> None:
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    for y in (x + scalar, scalar + x, x * scalar, scalar * x, x - scalar, scalar - x,
              x / scalar, x ** 2, tl.maximum(x, scalar), tl.where([True, False], x, scalar)):
        assert y.dtype == np.float32
    (x * scalar).sum().backward()
    assert x.grad.dtype == np.float32


def test_numpy_arrays_combine_without_upcasting(backend: str) -> None:
    x = tl.Tensor([1.0, 2.0])
    assert (x * np.array([2.0, 3.0])).dtype == np.float32
    assert (np.array([2.0, 3.0]) * x).dtype == np.float32  # ndarray defers to Tensor
    np.testing.assert_allclose((np.array([2.0, 3.0]) - x).numpy(), [1.0, 1.0])


@pytest.mark.parametrize("data, message", [
    ("abc", "not numeric"),
    (np.array([1 + 2j]), "not numeric"),
    (np.array([object()], dtype=object), "not numeric"),
    ([[1.0, 2.0], [3.0]], "cannot make an array"),
])
def test_bad_data_is_refused(data, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        tl.Tensor(data)


@pytest.mark.parametrize("dtype", ["float16", "int32", "complex64", "not-a-dtype"])
def test_unsupported_dtypes_are_refused(dtype: str) -> None:
    with pytest.raises(tl.DTypeError, match="float32 or float64"):
        tl.Tensor([1.0], dtype=dtype)


def test_matmul_error_names_shapes() -> None:
    with pytest.raises(tl.ShapeError,
                       match=r"^matmul: shapes \(3, 8\) and \(5, 4\) do not align \(8 != 5\)$"):
        tl.Tensor(np.ones((3, 8))) @ tl.Tensor(np.ones((5, 4)))
    with pytest.raises(tl.ShapeError, match=r"matmul: .*at least one dim"):
        tl.Tensor(np.ones(())) @ tl.Tensor(np.ones((2, 2)))
    with pytest.raises(tl.ShapeError, match=r"matmul: cannot combine shapes \(2, 3, 4\) and "
                                            r"\(5, 4, 2\)"):
        tl.Tensor(np.ones((2, 3, 4))) @ tl.Tensor(np.ones((5, 4, 2)))


def test_broadcast_error_names_op_and_shapes() -> None:
    with pytest.raises(tl.ShapeError, match=r"^mul: cannot combine shapes \(3, 8\) and \(5, 4\)"):
        tl.Tensor(np.ones((3, 8))) * tl.Tensor(np.ones((5, 4)))


def test_shape_ops_validate() -> None:
    x = tl.Tensor(np.ones((3, 4)))
    with pytest.raises(tl.ShapeError, match=r"reshape: cannot reshape \(3, 4\) \(12 entries\)"):
        x.reshape(5, 3)
    with pytest.raises(tl.ShapeError, match="reshape"):
        x.reshape(-1, -1)
    with pytest.raises(TypeError, match="reshape: the shape must be ints"):
        x.reshape(2.5, 4)
    with pytest.raises(tl.ShapeError, match="not a permutation"):
        tl.Tensor(np.ones((2, 3, 4))).transpose(0, 0, 1)
    with pytest.raises(tl.ShapeError, match=r"concat: shapes \(3, 4\), \(2, 5\) differ outside"):
        tl.concat([x, tl.Tensor(np.ones((2, 5)))], axis=1)
    with pytest.raises(TypeError, match="concat: item 1 is a ndarray"):
        tl.concat([x, np.ones((3, 4))])
    with pytest.raises(ValueError, match="concat: needs at least one tensor"):
        tl.concat([])
    with pytest.raises(tl.ShapeError, match="split: sizes .* do not add up to 4"):
        x.split([1, 2], dim=1)
    with pytest.raises(tl.ShapeError, match="split: sizes .* do not add up to 3"):
        x.split([1, 1])  # the first axis by default, as in PyTorch
    assert [p.shape for p in x.split(3, dim=1)] == [(3, 3), (3, 1)]
    assert [p.shape for p in x.split(2)] == [(2, 4), (1, 4)]
    assert [p.shape for p in x.chunk(3)] == [(1, 4)] * 3
    # as torch.Tensor.chunk: pieces of ceil(n / chunks), fewer where they run out
    assert [p.shape for p in x.chunk(3, dim=1)] == [(3, 2), (3, 2)]
    assert [p.shape for p in tl.Tensor(np.ones(5)).chunk(2)] == [(3,), (2,)]
    assert [p.shape for p in tl.Tensor(np.ones((0, 2))).chunk(2)] == [(0, 2), (0, 2)]
    for bad in (0, -1, 2.0, True):
        with pytest.raises(tl.ShapeError, match="chunk: chunks must be a positive int"):
            x.chunk(bad)
    with pytest.raises(tl.ShapeError, match="stack: shapes"):
        tl.stack([x, x.T])


def test_reductions_validate_axes() -> None:
    x = tl.Tensor(np.ones((3, 4)))
    with pytest.raises(tl.ShapeError, match="sum: axis 2 is out of range .* 2 dims"):
        x.sum(axis=2)
    with pytest.raises(TypeError, match="mean: axis must be an int"):
        x.mean(axis="rows")
    with pytest.raises(tl.ShapeError, match="repeated axis"):
        x.sum(axis=(1, -1))
    with pytest.raises(tl.ShapeError, match=r"max: the tensor of shape \(0,\) is empty"):
        tl.Tensor(np.ones(0)).max()


def test_getitem_only_basic_indexing() -> None:
    x = tl.Tensor(np.arange(12.0).reshape(3, 4))
    with pytest.raises(TypeError, match="getitem: only basic indexing .* got list"):
        x[[0, 1]]
    with pytest.raises(TypeError, match="got ndarray"):
        x[np.array([True, False, True])]
    with pytest.raises(IndexError, match=r"getitem: index 5 does not fit shape \(3, 4\)"):
        x[5]
    assert [row.numpy().tolist() for row in x][1] == [4.0, 5.0, 6.0, 7.0]


def test_pow_needs_a_constant_exponent() -> None:
    x = tl.Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="pow: the exponent must be a constant number"):
        x ** x
    np.testing.assert_allclose((2 ** x).numpy(), [2.0, 4.0], rtol=1e-6)
    with pytest.raises(ValueError, match="positive base"):
        (-2) ** x


def test_unsupported_operands_are_named() -> None:
    with pytest.raises(TypeError, match="add: unsupported operand of type str"):
        tl.Tensor([1.0]) + "one"
    with pytest.raises(TypeError, match="where: a or b must be a Tensor"):
        tl.where([True], 1.0, 2.0)


def test_item_and_repr(backend: str) -> None:
    assert tl.Tensor([[3.5]]).item() == 3.5
    with pytest.raises(tl.ShapeError, match="item: needs a tensor with one element"):
        tl.Tensor([1.0, 2.0]).item()
    text = repr(tl.Tensor([1.0, 2.0], requires_grad=True))
    assert text.startswith("Tensor([1., 2.]") and "requires_grad=True" in text
    assert f"backend={backend}" in text


def test_requires_grad_cannot_be_dropped_on_computed_tensors() -> None:
    x = tl.Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        (x * 2).requires_grad_(False)
    assert tl.Tensor([1.0]).requires_grad_().requires_grad


def test_tensor_copies_its_data(backend: str) -> None:
    """Like torch.tensor: updating a parameter in place never changes the array it came from."""
    source = np.ones(3, dtype=np.float32)
    p = tl.nn.Parameter(source)
    p.data *= 2
    np.testing.assert_array_equal(source, np.ones(3, dtype=np.float32))
