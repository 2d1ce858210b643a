"""Reliability: hostile checkpoints, anomaly detection, clipping, memory that stays flat."""

from __future__ import annotations

import gc
import io
import pickle
import tracemalloc
import zipfile

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import checkpoint
from tinygrad_lstm.checkpoint import CheckpointError


def _saved(tmp_path) -> tuple[tl.nn.LSTM, bytes]:
    tl.manual_seed(0)
    model = tl.nn.LSTM(3, 4)
    opt = tl.optim.Adam(model.parameters())
    path = tmp_path / "model.npz"
    tl.save(model, path, optimizer=opt, step=3)
    return model, path.read_bytes()


def _npz(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


class Boom:
    """Unpickling this would run code: a loader that executes anything fails the test."""

    ran = False

    def __reduce__(self):
        return (Boom._explode, ())

    @staticmethod
    def _explode():
        Boom.ran = True
        return "exploded"


def test_round_trip_and_what_is_recorded(tmp_path) -> None:
    model, raw = _saved(tmp_path)
    arrays, meta = checkpoint.read(tmp_path / "model.npz")
    assert meta["step"] == 3 and meta["format"] == checkpoint.FORMAT
    assert meta["model"]["cell"] == "LSTMCell" and meta["model"]["hidden_size"] == 4
    assert meta["model"]["cell_options"] == {"bias": True}
    peep = tl.nn.Recurrent(tl.cells.PeepholeLSTM(3, 4, peepholes=("f",), coupled=True))
    tl.save(peep, tmp_path / "peep.npz")
    options = checkpoint.read(tmp_path / "peep.npz")[1]["model"]["cell_options"]
    assert options == {"peepholes": ["f"], "coupled": True}
    twin = tl.nn.LSTM(3, 4)
    tl.load(twin, tmp_path / "model.npz")
    for (name, a), (_, b) in zip(model.named_parameters(), twin.named_parameters(),
                                 strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


@pytest.mark.parametrize("make, message", [
    (lambda raw: pickle.dumps({"param/x": Boom()}), "not a valid .npz"),
    (lambda raw: b"", "not a valid .npz"),
    (lambda raw: raw[: len(raw) // 2], "not a valid .npz"),
    (lambda raw: bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
     "not a valid .npz"),
    (lambda raw: _npz({"__meta__.npy": _npy(np.frombuffer(b"{}", np.uint8)),
                       "param/x.npy": _npy(np.array([Boom()], dtype=object))}),
     "not a readable array|not a tinygrad-lstm checkpoint"),
    (lambda raw: _npz({"param/x.npy": _npy(np.ones(2))}), "no __meta__ entry"),
    (lambda raw: _npz({"__meta__.npy": _npy(np.frombuffer(b"not json", np.uint8))}),
     "not valid JSON"),
    (lambda raw: _npz({"__meta__.npy": b"\x93NUMPY\x01\x00\xff\xff" + b" " * 70000}),
     "not a readable array"),
    (lambda raw: _npz({"__meta__.npy": _npy(np.zeros(3)), "notes.txt": b"hi"}),
     "not .npy arrays"),
])
def test_hostile_files_are_refused_and_run_nothing(tmp_path, make, message) -> None:
    _, raw = _saved(tmp_path)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(make(raw))
    Boom.ran = False
    with pytest.raises(CheckpointError, match=message):
        checkpoint.read(bad)
    assert not Boom.ran


def test_duplicate_entries_are_refused(tmp_path) -> None:
    _, raw = _saved(tmp_path)
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        first = z.namelist()[1]
        data = z.read(first)
    buf = io.BytesIO(raw)
    with pytest.warns(UserWarning), zipfile.ZipFile(buf, "a") as z:
        z.writestr(first, data)  # the same name twice, as a hand-made archive could hold
    bad = tmp_path / "dup.npz"
    bad.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="duplicate entries"):
        checkpoint.read(bad)


def test_a_tampered_array_fails_its_checksum(tmp_path) -> None:
    _, raw = _saved(tmp_path)
    arrays, meta = checkpoint.read(tmp_path / "model.npz")
    name = next(k for k in arrays if k.startswith("param/"))
    entries = {f"{k}.npy": _npy(v) for k, v in arrays.items()}
    entries[f"{name}.npy"] = _npy(arrays[name] + 1)  # well-formed, but not what was saved
    import json

    entries["__meta__.npy"] = _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))
    bad = tmp_path / "tampered.npz"
    bad.write_bytes(_npz(entries))
    with pytest.raises(CheckpointError, match=f"checksum mismatch in '{name}'"):
        checkpoint.read(bad)


@pytest.mark.slow
def test_fuzzed_checkpoints_load_or_are_refused_cleanly(tmp_path) -> None:
    """3,000 mutated copies of a real checkpoint: each loads, or raises CheckpointError."""
    model, raw = _saved(tmp_path)
    rng = np.random.default_rng(1234)
    path = tmp_path / "fuzz.npz"
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(3000):
        data = bytearray(raw)
        kind = rng.integers(4)
        if kind == 0:  # flip a few bytes
            for pos in rng.integers(0, len(data), rng.integers(1, 8)):
                data[pos] ^= int(rng.integers(1, 256))
        elif kind == 1:  # truncate
            del data[int(rng.integers(0, len(data))):]
        elif kind == 2:  # insert junk
            pos = int(rng.integers(0, len(data)))
            data[pos:pos] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        else:  # overwrite a run with one value
            pos = int(rng.integers(0, len(data)))
            data[pos:pos + int(rng.integers(1, 32))] = bytes([int(rng.integers(256))]) * 8
        path.write_bytes(bytes(data))
        try:
            tl.load(tl.nn.LSTM(3, 4), path)
        except CheckpointError:
            outcomes["refused"] += 1
        else:
            outcomes["loaded"] += 1
    assert outcomes["refused"] > 2500  # almost every mutation is caught (checksums, zip CRCs)


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch) -> None:
    model, raw = _saved(tmp_path)
    path = tmp_path / "model.npz"

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match="No space left"):
        tl.save(model, path, step=4)
    assert path.read_bytes() == raw
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left


def test_loading_into_another_model_says_what_differs(tmp_path) -> None:
    _saved(tmp_path)
    other = tl.nn.LSTM(3, 8)
    before = {k: v.copy() for k, v in other.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"saved from cell=LSTMCell, input_size=3, "
                                              r"hidden_size=4.*'weight_hh_l0' has shape \(16, 4\) "
                                              r"in the file, \(32, 8\) in the model"):
        tl.load(other, tmp_path / "model.npz")
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_loading_a_different_dtype_is_refused_and_named(tmp_path) -> None:
    _saved(tmp_path)  # float32
    wide = tl.nn.LSTM(3, 4, dtype="float64")
    with pytest.raises(CheckpointError, match=r"'weight_ih_l0' has dtype float32 in the file, "
                                              r"float64 in the model"):
        tl.load(wide, tmp_path / "model.npz")


def test_detect_anomaly_names_the_first_bad_primitive(backend: str) -> None:
    x = tl.Tensor([[0.0, 1.0], [2.0, 3.0]])
    y = x * 0  # fine
    with tl.detect_anomaly():
        with pytest.raises(FloatingPointError,
                           match=r"^div produced nan \(1 of 4 entries not finite\) from inputs "
                                 r"of shapes \(2, 2\), \(2, 2\)"):
            with np.errstate(invalid="ignore", divide="ignore"):
                (y / x).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (y / x).sum()  # outside the block nothing is checked
    assert np.isnan(z.item())


def test_stable_primitives_stay_finite_under_detect_anomaly(backend: str) -> None:
    x = tl.Tensor([[-1e4, 0.0, 1e4]], requires_grad=True)
    with tl.detect_anomaly():
        y = x.sigmoid().sum() + x.tanh().sum() + x.log_softmax().sum()
        y.backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_clipping_keeps_an_exploding_rnn_finite() -> None:
    tl.manual_seed(0)
    cell = tl.cells.RNN(4, 16, nonlinearity="relu")
    rnn = tl.nn.Recurrent(cell)
    for name, p in cell.named_parameters():
        if name == "W_h_h":
            p.data = p.data * 0 + np.eye(16, dtype=np.float32) * 1.5  # grows 1.5x a step
    opt = tl.optim.SGD(rnn.parameters(), lr=0.1)
    x = tl.Tensor(np.random.default_rng(0).uniform(0.5, 1.0, (60, 8, 4)))
    for _ in range(5):
        out, _ = rnn(x)
        loss = (out[-1] ** 2).mean()
        opt.zero_grad()
        loss.backward()
        norm = tl.optim.clip_grad_norm_(rnn.parameters(), 1.0)
        clipped = np.sqrt(sum(float((p.grad.numpy().astype(np.float64) ** 2).sum())
                              for p in rnn.parameters()))
        assert norm > 1e6 and clipped <= 1.0 + 1e-5
        opt.step()
        assert all(np.isfinite(p.numpy()).all() for p in rnn.parameters())


@pytest.mark.slow
def test_memory_does_not_grow_with_training_steps(tmp_path) -> None:
    """The tape is freed after each step: what is held after 300 steps equals what is held after
    50 (tracemalloc sees NumPy's allocations; a leak of 64 bytes a step would show)."""
    config = tl.train.TrainConfig(cell="lstm", task="france", task_options={"gap": 5},
                                  hidden=16, batch_size=8, steps=10_000, eval_size=16)
    trainer = tl.train.Trainer(config, tmp_path)
    for _ in range(20):
        trainer.train_step()
    tracemalloc.start()
    try:
        for _ in range(50):
            trainer.train_step()
        gc.collect()
        early, _ = tracemalloc.get_traced_memory()
        for _ in range(250):
            trainer.train_step()
        gc.collect()
        late, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert late <= early * 1.05 + 16 * 1024, (early, late)
