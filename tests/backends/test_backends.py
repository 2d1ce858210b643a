"""The backend registry, switching backends, moving tensors, third-party backends, CuPy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import backends
import tinygrad_lstm as tl
from backends.cupy_backend import SIGMOID_SOURCE
from backends.numpy_backend import NumpyBackend

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())


class SecondCpu(NumpyBackend):
    """A real (NumPy-based) backend under another name, the way a third party would add one."""

    name = "second_cpu"


@pytest.fixture
def second_cpu():
    backends.register("second_cpu", SecondCpu)
    yield backends.get("second_cpu")
    backends._factories.pop("second_cpu", None)
    backends._instances.pop("second_cpu", None)


def test_registry_lists_and_gets() -> None:
    assert {"numpy", "cupy"} <= set(backends.names())
    assert "numpy" in backends.available() and "numpy" in tl.backends_available()
    b = backends.get("numpy")
    assert b is backends.get("numpy") and b.name == "numpy" and b.xp is np


def test_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown backend 'tpu'.*numpy"):
        backends.get("tpu")
    with pytest.raises(ValueError, match="unknown backend"):
        tl.set_backend("tpu")


def test_backends_package_never_imports_the_engine() -> None:
    code = ("import sys, backends; backends.get('numpy'); backends.available(); "
            "print(any(m.startswith('tinygrad_lstm') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_cupy_is_not_imported_until_asked_for() -> None:
    code = ("import sys, tinygrad_lstm as tl; x = tl.Tensor([1.0]); (x * 2).sum(); "
            "print('cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={**os.environ, "TINYGRAD_LSTM_BACKEND": "numpy"})
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(backends.why_not("cupy") is None, reason="CuPy runs here")
def test_cupy_unavailable_gives_one_clear_reason() -> None:
    reason = backends.why_not("cupy")
    assert reason.startswith("cupy backend: ")
    assert any(s in reason for s in ("not installed", "no NVIDIA driver or GPU found",
                                     "no CUDA device", "no usable CUDA device",
                                     "driver is too old"))
    with pytest.raises(tl.BackendUnavailable, match="cupy backend"):
        tl.set_backend("cupy")
    assert tl.get_backend().name != "cupy"  # the failed switch changed nothing


def test_use_backend_restores_the_previous_one(second_cpu) -> None:
    before = tl.get_backend()
    with tl.use_backend("second_cpu") as b:
        assert tl.get_backend() is b and tl.Tensor([1.0]).backend is b
    assert tl.get_backend() is before
    with pytest.raises(KeyError):
        with tl.use_backend("second_cpu"):
            raise KeyError("boom")
    assert tl.get_backend() is before


def test_environment_variable_picks_the_backend() -> None:
    code = "import tinygrad_lstm as tl; print(tl.get_backend().name, tl.Tensor([1.0]).backend.name)"
    env = {**os.environ, "TINYGRAD_LSTM_BACKEND": "numpy"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["numpy", "numpy"]
    env["TINYGRAD_LSTM_BACKEND"] = "nonsense"
    bad = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True)
    assert bad.returncode != 0
    assert "TINYGRAD_LSTM_BACKEND='nonsense'" in bad.stderr and "unknown backend" in bad.stderr


def test_mixing_backends_names_both(second_cpu) -> None:
    a = tl.Tensor([1.0, 2.0])
    b = tl.Tensor([1.0, 2.0], backend="second_cpu")
    with pytest.raises(tl.BackendMismatchError, match=r"add: .*'numpy' and 'second_cpu'"):
        a + b
    with pytest.raises(tl.BackendMismatchError, match="matmul"):
        a @ b


def test_to_moves_between_backends_and_gradients_come_back(second_cpu) -> None:
    x = tl.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.to("second_cpu")
    assert y.backend.name == "second_cpu" and y.requires_grad
    w = tl.Tensor([2.0, 2.0, 2.0], backend="second_cpu")
    (y * w).sum().backward()
    assert x.grad.backend.name == "numpy"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 2.0])
    assert x.to("numpy") is x
    assert x.to("float64").dtype == np.float64
    with pytest.raises(ValueError, match="neither a backend"):
        x.to("gpu0")


def test_third_party_backend_through_an_entry_point(tmp_path, monkeypatch) -> None:
    """A distribution that declares the entry point is found without any registration call."""
    pkg = tmp_path / "tl_extra_backend.py"
    pkg.write_text("from backends.numpy_backend import NumpyBackend\n"
                   "class ExtraBackend(NumpyBackend):\n    name = 'extra'\n")
    info = tmp_path / "tl_extra_backend-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tl-extra-backend\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text("[tinygrad_lstm.backends]\n"
                                           "extra = tl_extra_backend:ExtraBackend\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(backends, "_entry_points_loaded", False)
    monkeypatch.setattr(backends, "_factories", dict(backends._factories))
    monkeypatch.setattr(backends, "_instances", dict(backends._instances))
    assert "extra" in backends.names() and "extra" in backends.available()
    with tl.use_backend("extra"):
        assert (tl.Tensor([2.0]) * 3).backend.name == "extra"


def test_cupy_sigmoid_kernel_compiles_with_nvcc(tmp_path) -> None:
    """The fused kernel's CUDA source is real: nvcc compiles it to PTX, no GPU needed."""
    nvcc = shutil.which("nvcc") or next(
        (p for p in ("/usr/local/cuda/bin/nvcc",) if os.path.exists(p)), None)
    if nvcc is None:
        pytest.skip("nvcc is not installed here")
    src = tmp_path / "sigmoid.cu"
    src.write_text(SIGMOID_SOURCE)
    out = subprocess.run([nvcc, "-ptx", str(src), "-o", str(tmp_path / "sigmoid.ptx")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    ptx = (tmp_path / "sigmoid.ptx").read_text()
    assert ".entry tl_sigmoid_f32" in ptx and ".entry tl_sigmoid_f64" in ptx


def test_cupy_fused_sigmoid_matches_the_xp_form() -> None:
    """On a GPU: the fused kernel and the primitive's own xp forward agree, in both dtypes."""
    reason = backends.why_not("cupy")
    if reason:
        pytest.skip(reason)
    from tinygrad_lstm.primitives import PRIMITIVES

    b = backends.get("cupy")
    for dtype in (np.float32, np.float64):
        x = b.asarray(np.linspace(-1e4, 1e4, 10_001).astype(dtype))
        fused = b.kernels["sigmoid"](b.xp, x)
        plain = PRIMITIVES["sigmoid"].forward(b.xp, x)
        assert fused.dtype == dtype
        np.testing.assert_allclose(b.to_numpy(fused), b.to_numpy(plain), rtol=1e-6, atol=0)


def test_every_backend_kernel_agrees_with_the_table(backend: str) -> None:
    """A backend's fused kernels compute what the primitive table's xp forward computes."""
    from tinygrad_lstm.primitives import PRIMITIVES

    b = backends.get(backend)
    x = np.concatenate([np.linspace(-1e4, 1e4, 4001), np.linspace(-30, 30, 4001)])
    for name, kernel in b.kernels.items():
        for dtype in (np.float32, np.float64):
            data = b.asarray(x.astype(dtype))
            fused = kernel(b.xp, data)
            plain = PRIMITIVES[name].forward(b.xp, data)
            assert fused.dtype == dtype and fused.shape == plain.shape
            np.testing.assert_allclose(b.to_numpy(fused), b.to_numpy(plain), rtol=2e-6,
                                       atol=1e-37 if dtype == np.float32 else 1e-300)
