"""PyTorch's loss modules, containers, activations, Dropout, init and module walking, each
compared with PyTorch itself (CPU, float64) where PyTorch has the same thing."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.errors import ShapeError

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def _t(a: np.ndarray, grad: bool = False) -> tl.Tensor:
    return tl.Tensor(a, dtype="float64", requires_grad=grad)


def _close(ours, theirs, what: str = "") -> None:
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    ours = ours.numpy() if isinstance(ours, tl.Tensor) else ours
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=what)


# --- losses -----------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(6, 5), (3, 5, 4), (5,)], ids=["NC", "NCd", "C"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_and_nll_match_pytorch(reduction: str, shape: tuple, weighted: bool
                                             ) -> None:
    rng = np.random.default_rng(4)
    logits = rng.standard_normal(shape)
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    target = rng.integers(0, 5, target_shape)
    if target.ndim:
        target.flat[0] = 2  # the ignored class below
    weight = rng.uniform(0.5, 2.0, 5) if weighted else None
    tw = None if weight is None else torch.tensor(weight)
    for ours_cls, theirs_cls, transform in [
            (tl.nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss, None),
            (tl.nn.NLLLoss, torch.nn.NLLLoss, "log_softmax")]:
        x = logits if transform is None else logits - np.log(np.exp(logits).sum(
            axis=1 if len(shape) > 1 else 0, keepdims=True))
        tx = torch.tensor(x, requires_grad=True)
        ox = _t(x, grad=True)
        ignore = 2 if target.ndim else -100
        t_loss = theirs_cls(weight=tw, ignore_index=ignore, reduction=reduction)(
            tx, torch.tensor(target))
        o_loss = ours_cls(weight=weight, ignore_index=ignore, reduction=reduction)(ox, target)
        _close(o_loss, t_loss, ours_cls.__name__)
        t_loss.sum().backward()
        o_loss.sum().backward()
        _close(ox.grad, tx.grad, ours_cls.__name__ + " grad")


def test_nll_loss_function_and_refusals() -> None:
    logp = _t(np.log(np.full((2, 3), 1 / 3)))
    assert np.isclose(tl.nn.nll_loss(logp, np.array([0, 2])).item(), np.log(3))
    with pytest.raises(ValueError, match="target 3 at .*out of range for 3 classes"):
        tl.nn.nll_loss(logp, np.array([0, 3]))
    with pytest.raises(ValueError, match="every target is ignore_index"):
        tl.nn.nll_loss(logp, np.array([-100, -100]))
    with pytest.raises(ShapeError, match=r"needs a target of shape \(2,\)"):
        tl.nn.CrossEntropyLoss()(logp, np.array([[0, 1]]))
    with pytest.raises(TypeError, match="deprecated.*reduction="):
        tl.nn.NLLLoss(size_average=False)
    with pytest.raises(ValueError, match="label_smoothing"):
        tl.nn.CrossEntropyLoss(label_smoothing=0.1)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_and_bce_modules_match_pytorch(reduction: str) -> None:
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((4, 3)), rng.uniform(0, 1, (4, 3))
    weight = rng.uniform(0.5, 2, (3,))
    cases = [(tl.nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction)),
             (tl.nn.BCEWithLogitsLoss(reduction=reduction),
              torch.nn.BCEWithLogitsLoss(reduction=reduction)),
             (tl.nn.BCEWithLogitsLoss(weight=weight, reduction=reduction),
              torch.nn.BCEWithLogitsLoss(weight=torch.tensor(weight), reduction=reduction))]
    for ours, theirs in cases:
        tx, ox = torch.tensor(x, requires_grad=True), _t(x, grad=True)
        t_loss, o_loss = theirs(tx, torch.tensor(y)), ours(ox, y)
        _close(o_loss, t_loss, type(ours).__name__)
        t_loss.sum().backward()
        o_loss.sum().backward()
        _close(ox.grad, tx.grad, type(ours).__name__ + " grad")


# --- containers, activations, dropout, init, module walking -------------------------------------

def test_sequential_and_module_list_match_pytorch_names_and_values() -> None:
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2),
                                 torch.nn.LogSoftmax(dim=-1)).double()
    ours = tl.nn.Sequential(tl.nn.Linear(3, 4), tl.nn.Tanh(), tl.nn.Linear(4, 2),
                            tl.nn.LogSoftmax(dim=-1)).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(6).standard_normal((5, 3))
    np.testing.assert_allclose(ours(_t(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    layers = tl.nn.ModuleList([tl.nn.Linear(2, 2)])
    layers.append(tl.nn.Linear(2, 3))
    layers.insert(0, tl.nn.ReLU())
    assert [type(m).__name__ for m in layers] == ["ReLU", "Linear", "Linear"]
    assert [n for n, _ in layers.named_parameters()] == ["1.weight", "1.bias", "2.weight",
                                                         "2.bias"]
    assert len(layers[1:]) == 2
    with pytest.raises(TypeError, match="expected a tl.nn.Module"):
        layers.append(np.zeros(3))


def test_activations_match_pytorch() -> None:
    x = np.random.default_rng(7).standard_normal((3, 4))
    pairs = [(tl.nn.Tanh(), torch.nn.Tanh()), (tl.nn.Sigmoid(), torch.nn.Sigmoid()),
             (tl.nn.ReLU(), torch.nn.ReLU()), (tl.nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
             (tl.nn.Softmax(dim=0), torch.nn.Softmax(dim=0)),
             (tl.nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1)),
             (tl.nn.Identity(), torch.nn.Identity())]
    for ours, theirs in pairs:
        _close(ours(_t(x)), theirs(torch.tensor(x)), type(ours).__name__)


def test_dropout_trains_and_evaluates() -> None:
    tl.manual_seed(0)
    drop = tl.nn.Dropout(0.25)
    x = tl.Tensor(np.ones((200, 50)), requires_grad=True)
    y = drop(x).numpy()
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    assert drop.eval()(x) is x
    with pytest.raises(ValueError, match="probability"):
        tl.nn.Dropout(1.5)


def test_init_functions() -> None:
    tl.manual_seed(1)
    w = tl.nn.Parameter(np.zeros((300, 200)))
    array = w.data
    tl.nn.init.xavier_uniform_(w, gain=tl.nn.init.calculate_gain("tanh"))
    bound = 5 / 3 * np.sqrt(6 / 500)
    assert w.data is array and np.abs(w.numpy()).max() <= bound
    assert np.abs(w.numpy()).max() > 0.95 * bound
    tl.nn.init.xavier_normal_(w)
    assert abs(w.numpy().std() - np.sqrt(2 / 500)) < 0.005
    tl.nn.init.kaiming_uniform_(w, nonlinearity="relu")
    assert np.abs(w.numpy()).max() <= np.sqrt(6 / 200) + 1e-6
    tl.nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - np.sqrt(2 / 300)) < 0.005
    q = tl.nn.init.orthogonal_(tl.nn.Parameter(np.zeros((3, 5)), dtype="float64"), gain=2.0)
    np.testing.assert_allclose(q.numpy() @ q.numpy().T, 4 * np.eye(3), atol=1e-12)
    assert np.all(tl.nn.init.constant_(w, 0.5).numpy() == 0.5)
    assert np.all(tl.nn.init.ones_(w).numpy() == 1) and np.all(tl.nn.init.zeros_(w).numpy() == 0)
    for name in ("linear", "tanh", "relu", "sigmoid", "selu"):
        assert np.isclose(tl.nn.init.calculate_gain(name), torch.nn.init.calculate_gain(name))
    assert np.isclose(tl.nn.init.calculate_gain("leaky_relu", 0.2),
                      torch.nn.init.calculate_gain("leaky_relu", 0.2))
    with pytest.raises(ValueError, match="2 or more dims"):
        tl.nn.init.xavier_uniform_(tl.nn.Parameter(np.zeros(3)))


def test_modules_children_apply_requires_grad() -> None:
    net = tl.nn.Sequential(tl.nn.Linear(2, 3), tl.nn.Sequential(tl.nn.Tanh(), tl.nn.Linear(3, 1)))
    assert [type(m).__name__ for m in net.children()] == ["Linear", "Sequential"]
    assert [type(m).__name__ for m in net.modules()] == ["Sequential", "Linear", "Sequential",
                                                         "Tanh", "Linear"]
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Tanh", "Linear", "Sequential", "Sequential"]  # children first
    net.apply(lambda m: isinstance(m, tl.nn.Linear) and tl.nn.init.zeros_(m.bias))
    assert all(np.all(m.bias.numpy() == 0) for m in net.modules() if isinstance(m, tl.nn.Linear))
    net[0].requires_grad_(False)
    net(tl.Tensor(np.ones((4, 2)))).sum().backward()
    assert net[0].weight.grad is None and net[1][1].weight.grad is not None
