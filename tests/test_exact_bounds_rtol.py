"""exact_bounds: each alpha bound to rtol of its own value, convergence and a certified error per bound."""
from __future__ import annotations

import numpy as np
import pytest

import array_api_compat.numpy as npx
from workbench.solvers.cnn.bounds import alpha_bounds_from_spectrum, exact_bounds
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.cnn.images import noise, smooth
from workbench.solvers.stepping.optimizers import resolve


@pytest.mark.parametrize("make", [lambda: noise(40, 5), lambda: smooth(40, 2)])
@pytest.mark.parametrize("a", [-0.5, 0.5])
@pytest.mark.parametrize("rtol", [1e-6, 1e-9])
def test_each_bound_within_rtol_of_its_value_or_its_certified_error(make, a, rtol):
    op = CnnOperator(npx.asarray(make()), 12)
    res = resolve("gd", 1e-3)
    ev = np.linalg.eigvalsh(op.gram_dense())
    ref = alpha_bounds_from_spectrum(res, a, 1.0, max(ev[0], 0.0), ev[-1])
    ex = exact_bounds(op, res, a, 1.0, rtol=rtol, eig_method="lanczos")
    scale = 0.5 * abs(a) * ev[-1]  # the alpha scale: the floor of a bound near zero
    for key, r in zip(("alpha_lower", "alpha_upper"), ref):
        side = key.split("_")[1]
        err = abs(ex[key] - r)
        assert err <= ex[f"alpha_{side}_error"] * (1 + 1e-6) + 1e-12 * scale  # certified
        if ex[f"eig_converged_{side}"]:
            assert err <= rtol * max(abs(r), scale) * (1 + 1e-6) + 1e-12 * scale
    assert ex["eig_converged"] == (ex["eig_converged_lower"] and ex["eig_converged_upper"])
    assert ex["rtol"] == rtol and ex["eig_steps"] <= 144


def test_looser_rtol_takes_fewer_steps():
    op = CnnOperator(npx.asarray(noise(64, 3)), 24)
    res = resolve("gd", 1e-4)
    loose, tight = (exact_bounds(op, res, rtol=r, eig_method="lanczos") for r in (1e-4, 1e-10))
    assert loose["eig_converged"] and loose["eig_steps"] < tight["eig_steps"]
    assert abs(loose["alpha_lower"] - tight["alpha_lower"]) <= 1e-4 * tight["alpha_lower"]
