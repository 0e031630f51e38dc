"""Image specs, image files and atomic writes of workbench.api.images."""
from __future__ import annotations

import os

import numpy as np
import pytest

from workbench.solvers.core.checks import ParameterError
from workbench.api import images as wio
from workbench.api.images import load_image, parse_image_spec
from workbench.validation.files import atomic_write_bytes, atomic_write_text


# --- generated images --------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_checkerboard_parity(n):
    img = load_image(f"checkerboard:{n}")
    assert img.shape == (n, n) and img.dtype == np.float64
    for r in range(n):
        for c in range(n):
            assert img[r, c] == (-1.0 if (r + c) % 2 == 0 else 1.0)


def test_checkerboard_float32():
    img = load_image("checkerboard:4", dtype="float32")
    assert img.dtype == np.float32
    assert img[0, 0] == -1 and img[0, 1] == 1 and img.sum() == 0


def test_smooth_seeded_normalised_and_smooth():
    a = load_image("smooth:64:7")
    np.testing.assert_array_equal(a, load_image("smooth:64:7"))
    assert not np.allclose(a, load_image("smooth:64:8"))
    np.testing.assert_array_equal(load_image("smooth:64"), load_image("smooth:64:0"))
    assert abs(a.mean()) < 1e-12 and abs(a.std() - 1) < 1e-12
    # Gaussian filtering with sigma = 4 pixels: neighbours strongly correlated, unlike noise
    lag1 = np.mean(a * np.roll(a, 1, axis=1))
    assert lag1 > 0.9
    noise = load_image("noise:64:7")
    assert abs(np.mean(noise * np.roll(noise, 1, axis=1))) < 0.1


def test_smooth_matches_recipe():
    from scipy.ndimage import gaussian_filter

    raw = gaussian_filter(np.random.default_rng(3).standard_normal((32, 32)), 2.0, mode="wrap")
    expect = (raw - raw.mean()) / (raw - raw.mean()).std()
    np.testing.assert_allclose(load_image("smooth:32:3"), expect, rtol=0, atol=1e-12)


def test_noise_seeded():
    a = load_image("noise:16:5")
    np.testing.assert_array_equal(a, np.random.default_rng(5).standard_normal((16, 16)))
    np.testing.assert_array_equal(load_image("noise:16"), load_image("noise:16:0"))
    assert not np.array_equal(a, load_image("noise:16:6"))


def test_parse_spec_max_size_accepted():
    assert parse_image_spec("checkerboard:8192") == ("checkerboard", (8192,))
    assert parse_image_spec(" smooth:16:2 ") == ("smooth", (16, 2))
    assert parse_image_spec("dir/x.NPY")[0] == "file"


# --- files ---------------------------------------------------------------------------------

def test_npy_round_trip(tmp_path):
    arr = np.random.default_rng(1).standard_normal((7, 5))
    np.save(tmp_path / "a.npy", arr)
    np.testing.assert_array_equal(load_image(str(tmp_path / "a.npy")), arr)
    np.testing.assert_array_equal(load_image(tmp_path / "a.npy"), arr)  # Path accepted
    np.save(tmp_path / "i.npy", np.arange(6).reshape(2, 3))
    out = load_image(str(tmp_path / "i.npy"), dtype="float32")
    assert out.dtype == np.float32 and out[1, 2] == 5


def test_png_rgb_to_grayscale_bt601(tmp_path):
    import matplotlib.image as mpimg

    rgb = np.zeros((2, 3, 3))
    rgb[0, 0] = (1, 0, 0)
    rgb[0, 1] = (0, 1, 0)
    rgb[0, 2] = (0, 0, 1)
    rgb[1, :] = (1, 1, 1)
    path = tmp_path / "c.png"
    mpimg.imsave(path, rgb)
    gray = load_image(str(path))
    assert gray.shape == (2, 3)
    np.testing.assert_allclose(gray[0], [0.299, 0.587, 0.114], atol=1e-6)
    np.testing.assert_allclose(gray[1], 1.0, atol=1e-6)


def test_png_alpha_dropped(tmp_path):
    import matplotlib.image as mpimg

    rgba = np.zeros((1, 2, 4))
    rgba[0, 0] = (1, 0, 0, 0.2)
    rgba[0, 1] = (0, 1, 0, 1.0)
    mpimg.imsave(tmp_path / "a.png", rgba)
    np.testing.assert_allclose(load_image(str(tmp_path / "a.png"))[0], [0.299, 0.587], atol=1e-6)


# --- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("nosuch:3", "unknown spec kind 'nosuch'"),
        ("__import__('os').system('true')", "unknown spec kind"),
        ("checkerboard:0", "positive integer"),
        ("checkerboard:-2", "positive integer"),
        ("checkerboard:2.5", "positive integer"),
        ("checkerboard:1e3", "positive integer"),
        ("checkerboard:abc", "positive integer"),
        ("checkerboard:", "needs a size"),
        ("checkerboard", "needs a size"),
        ("checkerboard:8193", "too large"),
        ("noise:" + "9" * 5000, "too large"),
        ("smooth:8:-1", "seed must be a non-negative integer"),
        ("noise:4:1:2", "too many fields"),
        ("checkerboard:4:1", "too many fields"),
        ("", "empty spec"),
        ("nofile.npy", "file not found"),
        ("nofile.png", "file not found"),
    ],
)
def test_bad_spec(spec, fragment):
    with pytest.raises(ParameterError) as err:
        load_image(spec)
    msg = str(err.value)
    assert msg.startswith("image:") and fragment in msg


def test_unknown_kind_lists_known():
    with pytest.raises(ParameterError, match="checkerboard:N.*smooth:N.*noise:N.*npy.*png"):
        load_image("nosuch:3")


@pytest.mark.parametrize(
    "arr, fragment",
    [
        (np.zeros((2, 2, 2)), "2-D"),
        (np.zeros(4), "2-D"),
        (np.zeros((0, 3)), "empty"),
        (np.array([[1.0, np.nan]]), "NaN or infinite"),
        (np.array([[1.0, np.inf]]), "NaN or infinite"),
        (np.ones((2, 2), dtype=complex), "real"),
        (np.array([["a", "b"]]), "real"),
    ],
)
def test_bad_npy(tmp_path, arr, fragment):
    path = tmp_path / "bad.npy"
    np.save(path, arr)
    with pytest.raises(ParameterError, match="^image:") as err:
        load_image(str(path))
    assert fragment in str(err.value)


def test_pickled_npy_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([[{"x": 1}]], dtype=object), allow_pickle=True)
    with pytest.raises(ParameterError, match="^image: .* holds Python objects"):
        load_image(str(path))


def test_corrupt_png_and_directory(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"not a png at all")
    with pytest.raises(ParameterError, match="^image: .* is not a valid PNG file"):
        load_image(str(tmp_path / "junk.png"))
    (tmp_path / "dir.npy").mkdir()
    with pytest.raises(ParameterError, match="^image: not a regular file"):
        load_image(str(tmp_path / "dir.npy"))


def test_bad_dtype():
    with pytest.raises(ParameterError, match="^dtype:"):
        load_image("checkerboard:2", dtype="int8")


# --- atomic writes ----------------------------------------------------------------------------

def test_atomic_write_creates_parents_and_overwrites(tmp_path):
    path = tmp_path / "a" / "b" / "f.txt"
    assert atomic_write_text(path, "one") == path
    assert path.read_text() == "one"
    atomic_write_text(path, "two\u00e9")
    assert path.read_text(encoding="utf-8") == "two\u00e9"
    atomic_write_bytes(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(path.parent) == ["f.txt"]


def test_atomic_write_temp_in_same_directory(tmp_path, monkeypatch):
    seen = []
    real = os.replace

    def spy(src, dst):
        seen.append((os.path.dirname(src), os.path.dirname(dst)))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write_text(tmp_path / "f.txt", "x")
    assert seen == [(str(tmp_path), str(tmp_path))]


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch, where):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, where, boom)
    with pytest.raises(OSError):
        atomic_write_text(path, "new contents")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.txt"]
