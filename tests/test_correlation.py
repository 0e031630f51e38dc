"""FFT correlation and the windowed operators against direct sums (first paper, appendix D)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import array_api_compat.numpy as npx
from workbench.solvers.core.backend import to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.cnn.correlation import CnnOperator, DenseGram, correlate_direct, correlate_fft


@pytest.mark.parametrize("mode", ["valid", "periodic"])
def test_fft_equals_direct_sum(xp, rng, mode):
    img = xp.asarray(rng.standard_normal((13, 10)))
    ker = xp.asarray(rng.standard_normal((3, 4, 4)))
    d = to_numpy(correlate_direct(ker, img, mode))
    f = to_numpy(correlate_fft(ker, img, mode))
    assert d.shape == ((3, 10, 7) if mode == "valid" else (3, 13, 10))
    np.testing.assert_allclose(f, d, rtol=0, atol=1e-12 * np.abs(d).max())


def test_direct_sum_by_hand():
    img = npx.asarray(np.arange(12.0).reshape(3, 4))
    ker = npx.asarray(np.array([[1.0, 0.0], [0.0, 2.0]]))
    out = to_numpy(correlate_direct(ker, img, "valid"))
    # (K*I)(x) = I(x) + 2 I(x + (1,1))
    expected = np.arange(12.0).reshape(3, 4)[:2, :3] + 2 * np.arange(12.0).reshape(3, 4)[1:, 1:]
    np.testing.assert_array_equal(out, expected)


@settings(max_examples=25, deadline=None)
@given(h=st.integers(4, 12), wd=st.integers(4, 12), w=st.integers(1, 4), seed=st.integers(0, 2**16),
       mode=st.sampled_from(["valid", "periodic"]))
def test_gram_equals_dense_and_is_adjoint(h, wd, w, seed, mode):
    r = np.random.default_rng(seed)
    op = CnnOperator(npx.asarray(r.standard_normal((h, wd))), w, mode)
    k = r.standard_normal((w, w))
    g = op.gram_dense()
    np.testing.assert_allclose(to_numpy(op.gram(npx.asarray(k))).ravel(), g @ k.ravel(), atol=1e-11 * max(1, np.abs(g).max()))
    u = r.standard_normal(op.out_shape)
    lhs = float(np.sum(to_numpy(op.response(npx.asarray(k))) * u))
    rhs = float(np.sum(k * to_numpy(op.backproject(npx.asarray(u)))))
    assert abs(lhs - rhs) <= 1e-11 * (1 + abs(lhs))
    assert abs(op.trace_gram() - np.trace(g)) <= 1e-10 * (1 + np.trace(g))


def test_patch_sum_and_power_spectrum(xp, rng):
    img_h = rng.standard_normal((9, 8))
    op = CnnOperator(xp.asarray(img_h), 3, "valid")
    expected = np.array([[img_h[z1:z1 + 7, z2:z2 + 6].sum() for z2 in range(3)] for z1 in range(3)])
    np.testing.assert_allclose(to_numpy(op.patch_sum()), expected, atol=1e-12)
    p = to_numpy(op.power_spectrum())
    full = np.abs(np.fft.fft2(img_h)) ** 2
    assert np.isclose(p.max(), full.max()) and np.isclose(p.min(), full.min(), atol=1e-9)


def test_dense_gram_matches(xp, rng):
    op = CnnOperator(xp.asarray(rng.standard_normal((11, 11))), 4, "valid")
    dg = DenseGram(op)
    np.testing.assert_allclose(to_numpy(dg.matrix), op.gram_dense(), atol=1e-11)
    k = xp.asarray(rng.standard_normal((2, 4, 4)))
    np.testing.assert_allclose(to_numpy(dg.gram(k)), to_numpy(op.gram(k)), atol=1e-11)


@pytest.mark.parametrize("mode", ["valid", "periodic"])
@pytest.mark.parametrize("shape,w", [((13, 10), 5), ((9, 9), 1), ((12, 12), 12), ((7, 16), 7)])
def test_dense_gram_recursion_equals_fft_columns(xp, rng, mode, shape, w):
    """The sliding-window recursion (or the autocorrelation) equals G applied to every unit kernel (4 FFTs each)."""
    if mode == "periodic" and w > min(shape):
        pytest.skip("periodic window larger than the image")
    img = rng.standard_normal(shape)
    op = CnnOperator(xp.asarray(img), w, mode)
    eye = xp.reshape(xp.eye(w * w, dtype=xp.float64), (w * w, w, w))
    g = to_numpy(xp.reshape(op.gram(eye), (w * w, w * w)))
    ref = 0.5 * (g + g.T)
    dg = DenseGram(op)
    np.testing.assert_allclose(to_numpy(dg.matrix), ref, rtol=0, atol=1e-13 * np.abs(ref).max())
    np.testing.assert_allclose(to_numpy(DenseGram(op).matrix), op.gram_dense(), rtol=0,
                               atol=1e-13 * np.abs(ref).max())


def test_float32_stays_float32(rng):
    op = CnnOperator(npx.asarray(rng.standard_normal((16, 16)), dtype=npx.float32), 4)
    out = op.gram(npx.asarray(rng.standard_normal((4, 4)), dtype=npx.float32))
    assert out.dtype == npx.float32


@pytest.mark.parametrize("bad,msg", [
    (np.full((5, 5), np.nan), "image: contains NaN"),
    (np.zeros((0, 5)), "image: is empty"),
    (np.zeros(5), "image: expected a 2-D array"),
])
def test_bad_images(bad, msg):
    with pytest.raises(ParameterError, match=msg):
        CnnOperator(npx.asarray(bad), 1)


def test_kernel_larger_than_image():
    with pytest.raises(ParameterError, match="kernel: size 6 is larger than the image"):
        CnnOperator(npx.asarray(np.ones((5, 8))), 6)
    with pytest.raises(ParameterError, match="mode: unknown"):
        CnnOperator(npx.asarray(np.ones((5, 8))), 2, mode="same")


@pytest.mark.parametrize("shape,w", [((32, 32), 8), ((13, 10), 5), ((40, 24), 7), ((16, 16), 1)])
@pytest.mark.parametrize("mode", ["valid", "periodic"])
def test_pruned_fft_paths_bit_identical_to_full_grid(rng, shape, w, mode):
    """response/backproject/gram skip zero rows and unused output rows, yet equal the full 2-D FFTs bit for bit."""
    import scipy.fft as sf

    img = rng.standard_normal(shape)
    op = CnnOperator(npx.asarray(img), w, mode)
    s = tuple(shape)
    ihat = sf.rfft2(img, s=s)

    def full(x):
        return sf.irfft2(np.conj(sf.rfft2(x, s=s, axes=(-2, -1))) * ihat, s=s, axes=(-2, -1))

    k = rng.standard_normal((3, w, w))
    ho, wo = op.out_shape
    assert np.array_equal(to_numpy(op.response(npx.asarray(k))), full(k)[..., :ho, :wo])
    u = rng.standard_normal((3, ho, wo))
    assert np.array_equal(to_numpy(op.backproject(npx.asarray(u))), full(u)[..., :w, :w])
    if mode == "periodic":
        power = np.real(ihat * np.conj(ihat))
        ref = sf.irfft2(power * sf.rfft2(k, s=s, axes=(-2, -1)), s=s, axes=(-2, -1))[..., :w, :w]
        assert np.array_equal(to_numpy(op.gram(npx.asarray(k))), ref)
    else:
        mask = np.zeros(s)
        mask[:ho, :wo] = 1.0
        assert np.array_equal(to_numpy(op.gram(npx.asarray(k))), full(full(k) * mask)[..., :w, :w])
