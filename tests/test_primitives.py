"""Every primitive, driven by the spec table, on every available backend.

Forward against NumPy, VJP against central differences in float64 (full Jacobian plus the
inner-product identity, both in ``tl.gradcheck``), the symbolic rule against the forward through
``sympy.lambdify``, and extreme inputs for the primitives that promise stability.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy
from primitive_specs import CASES, Case

import tinygrad_lstm as tl

CASE_PARAMS = [pytest.param(case, id=case.id) for case in CASES]


def _tensors(case: Case, dtype: str, requires_grad: bool = False, seed: int = 0) -> tuple:
    arrays = case.inputs(np.random.default_rng(seed))
    tensors = [tl.Tensor(a, dtype=dtype, requires_grad=requires_grad) for a in arrays]
    return arrays, tensors


def test_tables_agree() -> None:
    """The spec table covers exactly the primitives the engine has."""
    assert {case.prim for case in CASES} == set(tl.PRIMITIVES)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_call_records_its_primitive(case: Case) -> None:
    _, tensors = _tensors(case, "float64", requires_grad=True)
    out = case.call(*tensors)
    assert out._node is not None and out._node.prim.name == case.prim


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_forward_float64(case: Case, backend: str) -> None:
    arrays, tensors = _tensors(case, "float64")
    out = case.call(*tensors)
    assert out.dtype == np.float64 and out.backend.name == backend
    case.forward64.check(out.numpy(), case.ref(*arrays))


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_forward_float32_stays_float32(case: Case, backend: str) -> None:
    """Python scalars and constants never upcast a float32 computation."""
    arrays, tensors = _tensors(case, "float32")
    out = case.call(*tensors)
    expected_dtype = np.float64 if case.prim == "astype" else np.float32
    assert out.dtype == expected_dtype
    reference = case.ref(*[a.astype(np.float32).astype(np.float64) for a in arrays])
    case.forward32.check(out.numpy(), reference)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_vjp_against_central_differences(case: Case, backend: str) -> None:
    _, tensors = _tensors(case, "float64", requires_grad=True, seed=1)
    assert tl.gradcheck(case.call, *tensors, eps=case.eps)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_symbolic_rule_matches_forward(case: Case) -> None:
    """The SymPy rule, lambdified, computes what the forward computes (NumPy backend)."""
    with tl.use_backend("numpy"):
        _, tensors = _tensors(case, "float64", requires_grad=True, seed=2)
        out = case.call(*tensors)
    node = out._node
    # One symbol per entry of each tensor input of the recorded node; numbers stay numbers.
    symbols: list[sympy.Symbol] = []
    values: list[float] = []
    sym_inputs = []
    for i, parent in enumerate(node.parents):
        if not isinstance(parent, tl.Tensor):
            sym_inputs.append(parent)
            continue
        data = parent.numpy()
        names = [sympy.Symbol(f"x{i}_{k}") for k in range(data.size)]
        symbols += names
        values += data.astype(np.float64).ravel().tolist()
        sym_inputs.append(np.array(names, dtype=object).reshape(data.shape))
    expr = node.prim.symbolic(*sym_inputs, **node.params)
    if node.prim.multiple:  # a tuple of outputs: the one this tensor is
        expr = expr[node.index]
    assert np.shape(expr) == out.shape
    flat = list(np.asarray(expr, dtype=object).ravel())
    fn = sympy.lambdify(symbols, flat, modules="numpy")
    got = np.array(fn(*values), dtype=np.float64).reshape(out.shape)
    case.symbolic.check(got, out.numpy())


EXTREMES = np.array([-1e4, -1e3, -100.0, -20.0, -1.0, 0.0, 1.0, 20.0, 100.0, 1e3, 1e4])


@pytest.mark.parametrize("op", ["sigmoid", "tanh"])
def test_squashing_is_stable_at_extremes(op: str, backend: str) -> None:
    x = tl.Tensor(EXTREMES, dtype="float32", requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        y = getattr(x, op)()
        y.sum().backward()
    expected = {
        "sigmoid": np.where(EXTREMES >= 0, 1 / (1 + np.exp(-np.abs(EXTREMES))),
                            np.exp(-np.abs(EXTREMES)) / (1 + np.exp(-np.abs(EXTREMES)))),
        "tanh": np.tanh(EXTREMES),
    }[op]
    assert np.all(np.isfinite(y.numpy())) and np.all(np.isfinite(x.grad.numpy()))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6, atol=1e-30)
    assert y.numpy()[-1] == 1.0 and y.numpy()[0] == (0.0 if op == "sigmoid" else -1.0)


def test_sigmoid_keeps_relative_precision_in_the_tail(backend: str) -> None:
    """σ(-30) ≈ 9.4e-14: the overflow-free form keeps it, 1 - σ(30) would round it to 0."""
    y = tl.Tensor([-30.0, -80.0], dtype="float32").sigmoid().numpy()
    np.testing.assert_allclose(y, np.exp([-30.0, -80.0]) / (1 + np.exp([-30.0, -80.0])),
                               rtol=1e-5)


def test_log_softmax_is_stable_at_extremes(backend: str) -> None:
    rows = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4], [-1e4, -1e4 + 1, -1e4]])
    x = tl.Tensor(rows, dtype="float32", requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x.log_softmax()
        (y * tl.Tensor(rows / 1e4, dtype="float32")).sum().backward()
    got = y.numpy()
    assert np.all(np.isfinite(got)) and np.all(np.isfinite(x.grad.numpy()))
    np.testing.assert_allclose(np.exp(got).sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(got[1], np.log([1 / 3] * 3), rtol=1e-6)
    lse = np.log1p(2 * np.exp(-1.0))  # log(e^-1 + e^0 + e^-1), after the shift by the max
    np.testing.assert_allclose(got[2], [-1 - lse, -lse, -1 - lse], rtol=1e-5)


def test_a_wrong_vjp_is_caught() -> None:
    """gradcheck can fail: a primitive whose VJP is off by a factor is refused, with details."""
    from tinygrad_lstm.tensor import apply

    broken = tl.Primitive("double_wrong", 1, lambda xp, x: 2 * x,
                          lambda xp, g, out, x: (3 * g,), lambda x: 2 * x, "2x with a bad VJP")
    x = tl.Tensor(np.ones((2, 2)), dtype="float64", requires_grad=True)
    with pytest.raises(tl.GradcheckError, match=r"input 0 .*backward\(\).*central"):
        tl.gradcheck(lambda x: apply(broken, x), x)
    assert tl.gradcheck(lambda x: apply(broken, x), x, raise_exception=False) is False


def test_addmm_with_a_given_transpose_has_the_same_gradients(backend: str) -> None:
    """The plan hands addmm b^T in C order (``bt``) for the backward pass: same numbers."""
    rng = np.random.default_rng(3)
    c, a, b = (tl.Tensor(rng.standard_normal(s), dtype="float64", requires_grad=True)
               for s in [(5, 3, 2), (3, 4), (4, 2)])
    grads = []
    for bt in (None, np.ascontiguousarray(b.numpy().T)):
        for t in (c, a, b):
            t.grad = None
        params = {"index": 1} if bt is None else {"index": 1, "bt": bt}
        out = tl.tensor.apply(tl.PRIMITIVES["addmm"], c, a, b, **params)
        (out * out).sum().backward()
        grads.append([t.grad.numpy() for t in (c, a, b)])
    for g0, g1 in zip(*grads, strict=True):
        np.testing.assert_allclose(g1, g0, rtol=1e-13)
    assert tl.gradcheck(lambda c, a, b: tl.tensor.apply(
        tl.PRIMITIVES["addmm"], c, a, b, index=1, bt=np.ascontiguousarray(b.numpy().T)), c, a, b)

    def gates(c: tl.Tensor, a: tl.Tensor, b: tl.Tensor) -> tl.Tensor:  # every piece used
        f, g = tl.tensor.apply(tl.PRIMITIVES["addmm_split"], c, a, b, index=1,
                               bt=np.ascontiguousarray(b.numpy().T), sizes=(1, 1))
        return f.sigmoid() * g.tanh()

    assert tl.gradcheck(gates, c, a, b)
