"""solvers/stepping/root_sampling.py: the sampled reference for a scheme's exact region."""
from __future__ import annotations

import numpy as np

from workbench.solvers.stepping.root_sampling import Samples, hyper_grid, sample_region


def _heavy_ball_radius(h: float, mu: float) -> float:
    """Largest root modulus of xi^2 - (1 + mu - h) xi + mu, heavy ball written out (Polyak 1964)."""
    return float(np.max(np.abs(np.roots([1.0, -(1.0 + mu - h), mu]))))


def test_heavy_ball_samples_match_the_written_out_region_and_roots():
    mu = 0.5
    s = sample_region("heavy-ball", 300, seed=3, fixed={"mu": mu})
    assert np.all(s.hyper["mu"] == mu)
    # the exact region 0 < h < 2(1 + mu), written out here
    assert np.array_equal(s.inside, (s.h > 0) & (s.h < 2 * (1 + mu)))
    # the radius is the companion matrix's: compare with the characteristic polynomial's roots
    ref = np.array([_heavy_ball_radius(h, mu) for h in s.h])
    np.testing.assert_allclose(s.radius, ref, rtol=1e-9, atol=1e-12)
    assert s.inside.any() and (~s.inside).any()           # both sides of the region are sampled
    assert s.disagreements == 0


def test_samples_are_seeded_and_hyperparameters_drawn_in_range():
    a = sample_region("nesterov", 50, seed=1)
    b = sample_region("nesterov", 50, seed=1)
    c = sample_region("nesterov", 50, seed=2)
    assert np.array_equal(a.h, b.h) and np.array_equal(a.radius, b.radius)
    assert not np.array_equal(a.h, c.h)
    mu = a.hyper["mu"]
    assert np.all((mu >= 0) & (mu < 1)) and np.unique(mu).size > 1


def test_disagreements_count_only_kept_points():
    s = Samples({"mu": np.zeros(3)}, h=np.array([0.5, 2.5, 1.0]), radius=np.array([0.9, 0.95, 1.0 + 1e-12]),
                inside=np.array([True, False, False]), kept=np.array([True, True, False]))
    # point 2: outside the region but radius < 1 -> one disagreement; point 3 is in the band (not kept)
    assert s.disagreements == 1


def test_hyper_grid():
    name, vals = hyper_grid("heavy-ball", n=20)
    assert name == "mu" and vals.size == 20 and np.all(np.diff(vals) > 0)
    assert 0 < vals[0] and vals[-1] < 1
