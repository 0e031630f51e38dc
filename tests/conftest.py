"""Shared fixtures: the array backends every numeric test runs on."""
from __future__ import annotations

import functools

import numpy as np
import pytest

from workbench.solvers.core.backend import get_namespace, gpu_available

_BACKENDS = ["numpy", "array_api_strict"]
_GPU = gpu_available()
if _GPU:
    _BACKENDS.append("cupy")


@pytest.fixture(params=_BACKENDS)
def xp(request):
    """Array namespace: numpy, array-api-strict, and CuPy when a GPU is present."""
    return get_namespace(request.param)


@pytest.fixture
def gpu_xp():
    if not _GPU:
        pytest.skip("no CuPy / CUDA device on this machine")
    return get_namespace("cupy")


@pytest.fixture(scope="session")
def derivation():
    """``derivation(name)``: the named SymPy derivation, built once per test run (issue 26: building all of them
    took ~15 s of CPU, and three tests each built every one). Read only: a test that changes one calls
    ``workbench.derivations.get`` itself."""
    from workbench.derivations import get

    return functools.cache(get)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _raise_on_fp_errors():
    """Silent overflow in numeric code is a bug: make NumPy raise (py-pde's habit).

    Code that diverges on purpose silences this itself (workbench.solvers.core.backend.quiet_overflow).
    """
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        yield
