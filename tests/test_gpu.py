"""CuPy runs the same code as NumPy (skipped without CuPy and a CUDA device)."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.solvers.core.backend import get_namespace, to_numpy
from workbench.solvers.cnn.bounds import exact_bounds
from workbench.solvers.cnn.simulated import simulated_bounds
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.cnn.images import checkerboard, smooth
from workbench.solvers.stepping.optimizers import resolve
from workbench.solvers.cnn.schemes import run_cnn

pytestmark = pytest.mark.gpu


def test_gram_and_run_match_numpy(gpu_xp):
    npx = get_namespace("numpy")
    img = smooth(64, 3)
    op_g, op_c = CnnOperator(gpu_xp.asarray(img), 8), CnnOperator(npx.asarray(img), 8)
    k = np.random.default_rng(0).standard_normal((4, 8, 8))
    np.testing.assert_allclose(to_numpy(op_g.gram(gpu_xp.asarray(k))), to_numpy(op_c.gram(npx.asarray(k))),
                               rtol=1e-10, atol=1e-9)
    dt = 1.0 / (0.25 * exact_bounds(op_c, resolve("gd", 1.0))["mu_max"])
    rg, rc = run_cnn(op_g, [0.5 / dt, 1.5 / dt], dt, steps=100), run_cnn(op_c, [0.5 / dt, 1.5 / dt], dt, steps=100)
    assert rg.diverged.tolist() == rc.diverged.tolist()


def test_checkerboard_bounds_on_gpu(gpu_xp):
    op = CnnOperator(gpu_xp.asarray(checkerboard(64)), 16)
    ex = exact_bounds(op, resolve("gd", 1e-6))
    assert ex["alpha_lower"] == pytest.approx(0.25 * 49 ** 2 * 256, rel=1e-10)
    sim = simulated_bounds(op, resolve("gd", 1e-6), rtol=1e-3, operator="fft")
    assert abs(sim["alpha_lower"] / ex["alpha_lower"] - 1) <= 1e-3
