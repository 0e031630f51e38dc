"""Lanczos extremes against dense eigvalsh and scipy's eigsh."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator, eigsh

from workbench.solvers.core.backend import to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.cnn.images import checkerboard, noise, smooth
from workbench.solvers.cnn.spectrum import alpha_extremes, gram_extremes, lanczos_extremes


@pytest.mark.parametrize("make", [lambda: noise(24, 3), lambda: smooth(24, 1), lambda: checkerboard(24)])
@pytest.mark.parametrize("mode", ["valid", "periodic"])
def test_gram_extremes_match_dense(xp, make, mode):
    op = CnnOperator(xp.asarray(make()), 6, mode)
    lz = gram_extremes(op, method="lanczos", tol=1e-11)
    ev = np.linalg.eigvalsh(op.gram_dense())
    assert lz.converged
    scale = ev[-1]
    assert abs(lz.lambda_max - ev[-1]) <= 1e-9 * scale
    assert abs(lz.lambda_min - ev[0]) <= 1e-9 * scale
    # the certified error bound really bounds the error
    assert abs(lz.lambda_min - ev[0]) <= lz.error_min + 1e-11 * scale


def test_checkerboard_rank_one_breakdown(xp):
    n, w = 32, 8
    op = CnnOperator(xp.asarray(checkerboard(n)), w)
    e = gram_extremes(op, method="lanczos")
    assert e.steps == 2 and e.converged  # invariant subspace found at once
    assert e.lambda_max == pytest.approx((n - w + 1) ** 2 * w ** 2, rel=1e-12)
    assert abs(e.lambda_min) <= 1e-9 * e.lambda_max


def test_lanczos_against_eigsh(rng):
    import array_api_compat.numpy as npx

    a = rng.standard_normal((60, 60))
    a = a @ a.T + np.diag(np.linspace(0, 5, 60))
    lz = lanczos_extremes(lambda v: npx.asarray(a @ to_numpy(v)), 60, npx, npx.float64, tol=1e-12)
    lo = eigsh(LinearOperator((60, 60), matvec=lambda v: a @ v), k=1, which="SA")[0][0]
    hi = eigsh(LinearOperator((60, 60), matvec=lambda v: a @ v), k=1, which="LA")[0][0]
    assert lz.lambda_min == pytest.approx(lo, abs=1e-9 * hi)
    assert lz.lambda_max == pytest.approx(hi, rel=1e-11)


def test_bad_method():
    import array_api_compat.numpy as npx

    with pytest.raises(ParameterError, match="method"):
        gram_extremes(CnnOperator(npx.asarray(noise(8)), 2), method="qr")


@pytest.mark.parametrize("make", [lambda: noise(40, 5), lambda: smooth(40, 2)])
@pytest.mark.parametrize("s", [-0.25, 0.25])
def test_alpha_extremes_fix_each_bound_to_rtol(make, s):
    """Each α bound computed from alpha_extremes is within rtol of the one from the dense spectrum."""
    import array_api_compat.numpy as npx

    op = CnnOperator(npx.asarray(make()), 12)
    ev = np.linalg.eigvalsh(op.gram_dense())
    lmin, lmax = max(ev[0], 0.0), ev[-1]
    for z_hi, rtol in [(4 * abs(s) * lmax, 1e-6), (1e4 * abs(s) * lmax, 1e-9)]:
        e = alpha_extremes(op, s, z_hi, rtol=rtol, method="lanczos")
        assert e.converged

        def bounds(lo: float, hi: float) -> tuple[float, float]:
            return max(-s * lo, -s * hi), z_hi - max(s * lo, s * hi)

        ref, got = bounds(lmin, lmax), bounds(max(e.lambda_min, 0.0), e.lambda_max)
        floor = abs(s) * lmax
        for r, g in zip(ref, got):
            assert abs(g - r) <= rtol * max(abs(r), floor) * (1 + 1e-9)
        # certified: the reported values bracket the true ones within their error bounds
        assert abs(e.lambda_min - ev[0]) <= e.error_min + 1e-12 * lmax
        assert abs(e.lambda_max - ev[-1]) <= e.error_max + 1e-12 * lmax


def test_loose_lambda_min_tolerance_stops_early():
    """A loose λ_min tolerance stops long before the tight one (and λ_max still meets tol)."""
    import array_api_compat.numpy as npx

    op = CnnOperator(npx.asarray(noise(48, 1)), 16)
    tight = gram_extremes(op, method="lanczos", tol=1e-10, tol_min=1e-10)
    loose = gram_extremes(op, method="lanczos", tol=1e-10, tol_min=1e-2)
    ev = np.linalg.eigvalsh(op.gram_dense())
    assert loose.converged and loose.steps < tight.steps
    assert abs(loose.lambda_max - ev[-1]) <= 1e-9 * ev[-1]
    assert 0.0 <= ev[0] <= loose.lambda_min + 1e-12 * ev[-1]      # θ_min is an upper bound (PSD)
    assert loose.lambda_min - ev[0] <= 1e-2 * ev[-1]
