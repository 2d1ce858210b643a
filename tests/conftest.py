"""Shared fixtures: every test that takes ``backend`` runs once per registered backend.

A backend that cannot run here (CuPy without a CUDA device) is skipped with its reason.
``TINYGRAD_LSTM_TEST_BACKENDS=numpy,cupy`` restricts the set; ``strict`` (a NumPy backend that
refuses implicit conversion, as CuPy does) may be named there too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/ helpers: primitive_specs

import backends  # noqa: E402
import tinygrad_lstm as tl  # noqa: E402

# NumPy behind a wall, as CuPy is (strict_backend.py): TINYGRAD_LSTM_TEST_BACKENDS=strict runs
# the backend-parametrised tests on it; test_strict_backend.py runs the engine's core there
backends.register("strict", "strict_backend:StrictBackend")


def _backend_params() -> list:
    wanted = os.environ.get("TINYGRAD_LSTM_TEST_BACKENDS")
    names = wanted.split(",") if wanted else ["numpy", "cupy"]
    params = []
    for name in names:
        reason = backends.why_not(name)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


BACKEND_PARAMS = _backend_params()


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request: pytest.FixtureRequest):
    """The name of a backend that runs here, current for the duration of the test."""
    with tl.use_backend(request.param):
        yield request.param
