"""Seeded synthetic data sets: reproducible, backend-independent, well-formed."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.solvers.core.backend import get_namespace, to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.nets.datasets import blobs, image_blobs, spirals, teacher
from workbench.solvers.nets.networks import mlp


def test_same_seed_same_data_on_every_backend(xp):
    for make in (lambda x: blobs(30, 3, 4, seed=2, xp=x), lambda x: spirals(30, 3, seed=2, xp=x),
                 lambda x: teacher(20, (3, 5, 2), seed=2, xp=x), lambda x: image_blobs(9, (2, 5, 6), 3, seed=2, xp=x)):
        a, b = make(xp), make(get_namespace("numpy"))
        np.testing.assert_array_equal(to_numpy(a.X), to_numpy(b.X))
        np.testing.assert_array_equal(to_numpy(a.Y), to_numpy(b.Y))
    assert not np.array_equal(to_numpy(blobs(30, seed=1).X), to_numpy(blobs(30, seed=2).X))


def test_shapes_and_one_hot():
    d = blobs(31, dim=3, classes=4, seed=0)
    assert tuple(d.X.shape) == (31, 3) and tuple(d.Y.shape) == (31, 4) and d.task == "classification"
    Y = to_numpy(d.Y)
    assert np.all(Y.sum(axis=1) == 1.0) and np.array_equal(Y.argmax(axis=1), d.labels)
    assert np.bincount(d.labels).tolist() == [8, 8, 8, 7]  # round-robin classes
    im = image_blobs(12, (1, 8, 8), classes=3, noise=0.0, seed=1)
    X = to_numpy(im.X)
    assert X.shape == (12, 1, 8, 8)
    # noise 0: every image is its class prototype (zero mean, unit std)
    np.testing.assert_allclose(X[0], X[3], atol=0)
    assert abs(X[0].mean()) < 1e-12 and X[0].std() == pytest.approx(1.0, rel=1e-12)


def test_spirals_geometry():
    d = spirals(200, classes=2, noise=0.0, seed=0)
    r = np.linalg.norm(to_numpy(d.X), axis=1)
    assert r.min() >= 0.1 - 1e-12 and r.max() <= 1.0 + 1e-12
    # without noise the two arms are point reflections of each other at equal radius
    x = to_numpy(d.X)
    ang = np.arctan2(x[:, 1], x[:, 0]) - 2 * np.pi * r
    off = np.angle(np.exp(1j * (ang - np.pi * d.labels)))
    np.testing.assert_allclose(off, 0.0, atol=1e-9)


def test_teacher_targets_are_the_teacher_network():
    d = teacher(16, (3, 4, 2), activation="tanh", noise=0.0, seed=5)
    assert d.task == "regression" and d.labels is None and tuple(d.Y.shape) == (16, 2)
    # rebuild the teacher as documented: LeCun-normal weights from seed + 1, biases 0.1 N(0, 1) from seed
    npx = get_namespace("numpy")
    net = mlp((3, 4, 2), "tanh")
    theta = np.array(to_numpy(net.init(6, npx)))
    rng = np.random.default_rng(5)
    for sl in net.slices:
        for off, shape in sl[1:]:
            theta[off:off + shape[0]] = 0.1 * rng.standard_normal(shape[0])
    assert np.any(theta[12:16] != 0.0)
    np.testing.assert_allclose(to_numpy(d.Y), to_numpy(net.forward(npx.asarray(theta), d.X)), rtol=0, atol=1e-15)
    noisy = teacher(16, (3, 4, 2), activation="tanh", noise=0.5, seed=5)
    diff = to_numpy(noisy.Y) - to_numpy(d.Y)
    assert 0.2 < diff.std() < 0.8  # the stated noise level


def test_bad_arguments():
    with pytest.raises(ParameterError, match="n: expected an integer >= 1"):
        blobs(0)
    with pytest.raises(ParameterError, match="classes"):
        spirals(10, classes=1)
    with pytest.raises(ParameterError, match="noise"):
        image_blobs(4, noise=-1.0)
    with pytest.raises(ParameterError, match="shape"):
        image_blobs(4, shape=(8, 8))
    with pytest.raises(ParameterError, match="spread"):
        blobs(4, spread=float("nan"))
