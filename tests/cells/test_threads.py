"""One model, several threads: the gate strategy of a running step is the step's, not the cell's.

The sequence plan, the compiler's tracer and the symbolic printer each answer a cell's gates
while a step runs; they reach ``Cell.gate`` through the step's frame (a context variable), so
threads running one cell at once must each get exactly what one thread alone gets.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.compile import kernels

THREADS = 4
ROUNDS = 6


def _in_threads(work: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """``work(k)`` in ``count`` threads started together; their results, or the first error."""
    barrier = threading.Barrier(count)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: more of their steps interleave
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            barrier.wait()
            results[k] = work(k)
        except BaseException as err:  # noqa: BLE001 - re-raised in the main thread below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    if errors:
        raise errors[0]
    return results


def _forward_backward(rnn: tl.nn.Recurrent, xs_data: np.ndarray) -> tuple[np.ndarray, ...]:
    """Outputs, final state and the gradient of the input (the thread's own tensor)."""
    xs = tl.Tensor(xs_data, requires_grad=True)
    out, state = rnn(xs)
    ((out * out).sum() + state[-1][-1].sum()).backward()
    finals = [s.numpy() for layer in state for s in layer]
    return (out.numpy(), *finals, xs.grad.numpy())


@pytest.mark.parametrize("built", [False, True], ids=["unbuilt", "built"])
@pytest.mark.parametrize("compiled", [False, True], ids=["tape", "compiled"])
@pytest.mark.parametrize("cell_name", ["LSTM", "GRU"])
def test_threads_running_one_model_get_what_one_thread_gets(compiled: bool, cell_name: str,
                                                            built: bool) -> None:
    if compiled:
        pytest.importorskip("numba")
    tl.manual_seed(0)
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal((7, 3, 4)).astype(np.float32) for _ in range(THREADS)]

    def fresh() -> tl.nn.Recurrent:
        tl.manual_seed(0)
        return tl.nn.Recurrent(getattr(tl.cells, cell_name)(4, 6), compile=compiled)

    # one thread alone, on a model of its own
    alone = [_forward_backward(fresh(), xs) for xs in inputs]
    if compiled:  # the compiled path really runs (not the tape behind it)
        assert not isinstance(kernels.for_cell(fresh().cells[0]), str)
    # THREADS threads on one model: unbuilt, building and planning (and tracing) race too
    shared = fresh()
    if built:
        shared.parameters()  # builds the cell: its gates are found by running step once
    got = _in_threads(lambda k: [_forward_backward(shared, inputs[k]) for _ in range(ROUNDS)])
    for k in range(THREADS):
        for result in got[k]:
            for a, b in zip(alone[k], result, strict=True):
                np.testing.assert_array_equal(a, b)


def test_printing_equations_while_another_thread_trains() -> None:
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((20, 2, 3)).astype(np.float32)
    target = rng.standard_normal((20, 2, 5)).astype(np.float32)

    def train(rnn: tl.nn.Recurrent, steps: int = 20) -> list[np.ndarray]:
        opt = tl.optim.Adam(rnn.parameters(), lr=1e-2)
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            out, _ = rnn(tl.Tensor(xs))
            loss = ((out - tl.Tensor(target)) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.numpy())
        return [*losses, *(p.numpy() for p in rnn.parameters())]

    def model() -> tl.nn.Recurrent:
        tl.manual_seed(3)
        return tl.nn.Recurrent(tl.cells.PeepholeLSTM(3, 5), compile=False)

    alone = train(model())
    equations = tl.symbolic.latex(model().cells[0])
    rnn = model()
    rnn.parameters()  # built here: what is tested is the running step, not the building
    stop = threading.Event()

    def work(k: int) -> Any:
        if k == 0:
            try:
                return train(rnn)
            finally:
                stop.set()
        printed = set()
        while not stop.is_set():
            printed.add(tl.symbolic.latex(rnn.cells[0]))
        printed.add(tl.symbolic.latex(rnn.cells[0]))  # at least once, even after a quick train
        return printed

    got = _in_threads(work)  # one trains, the others print
    for a, b in zip(alone, got[0], strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(printed == {equations} for printed in got[1:])
