"""Image input of the workbench: image specs, .npy and .png files.

An *image spec* is the short text a user types on the command line or in the REPL
to name the input image I of the one-layer CNN (first paper, appendix D):

``checkerboard:N``
    N x N checkerboard of +-1, value -1 where ``row + col`` is even and +1
    elsewhere: the input of the first paper's experiments.
``smooth:N[:seed]``
    seeded smooth random image: white noise (standard normal, ``seed`` default 0)
    filtered by :func:`scipy.ndimage.gaussian_filter` with ``sigma = N/16`` and
    periodic (``mode="wrap"``) boundaries, then normalised to zero mean and unit
    standard deviation.
``noise:N[:seed]``
    seeded standard normal white noise (``seed`` default 0).
``path/to/file.npy``
    a 2-D real array; the header is read first (shape, dtype), so an over-large,
    complex, object or truncated file is refused before anything is allocated; the
    data are then read with ``numpy.lib.format.read_array(allow_pickle=False)``.
``path/to/file.png``
    the width, height, bit depth and colour type are read from the IHDR header
    before decoding (the pixels against ``$WORKBENCH_MAX_PIXELS``, the decoded bytes
    against ``$WORKBENCH_MAX_BYTES``), then the
    image is read with :func:`matplotlib.image.imread`, which gives values in [0, 1].
    Colour images are converted to grayscale with the ITU-R BT.601 luma weights
    ``0.299 R + 0.587 G + 0.114 B``; an alpha channel is dropped (not composited).

Images larger than ``$WORKBENCH_MAX_PIXELS`` pixels (default 8192², see
:func:`workbench.solvers.core.checks.pixel_limit`) are refused with a message saying how to raise
the limit. Complex arrays are refused, never silently cut to their real part.

The spec is parsed by splitting on ``:`` and matching whole decimal integers; it is
never evaluated. Every error is a :class:`workbench.solvers.core.checks.ParameterError` whose
message starts with ``image:`` (or ``dtype:``).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import numpy as np

from workbench.solvers.cnn import images
from workbench.solvers.core.checks import MEMORY_ENV, ParameterError, check_pixels, check_real, memory_limit

__all__ = [
    "MAX_SIZE",
    "GENERATORS",
    "load_image",
    "parse_image_spec",
    "png_size",
    "png_decoded_bytes",
]

#: Largest side N accepted by the generated images (N x N float64 is 512 MiB at 8192).
MAX_SIZE = 8192

#: Luma weights of ITU-R BT.601 used for RGB -> grayscale.
BT601 = (0.299, 0.587, 0.114)

_INT = re.compile(r"[0-9]+", re.ASCII)


#: spec kind -> (generator, accepts a seed)
GENERATORS: dict[str, tuple[Callable[..., np.ndarray], bool]] = {
    "checkerboard": (images.checkerboard, False),
    "smooth": (images.smooth, True),
    "noise": (images.noise, True),
}

_FILE_KINDS = (".npy", ".png")


def _known() -> str:
    gens = ", ".join(f"{k}:N[:seed]" if s else f"{k}:N" for k, (_, s) in GENERATORS.items())
    return f"{gens}, PATH.npy, PATH.png"


def _parse_int(text: str, what: str, spec: str) -> int:
    if not _INT.fullmatch(text):
        kind = "non-negative" if what == "seed" else "positive"
        raise ParameterError(f"image: {what} must be a {kind} integer, got {text!r} in {spec!r}")
    if len(text) > 19:  # also keeps int() clear of its digit limit
        raise ParameterError(f"image: {what} {text[:12]}... is too large")
    return int(text)


def _check_dtype(dtype: object) -> np.dtype:
    if dtype in ("float64", "float32", np.float64, np.float32):
        return np.dtype(dtype)
    raise ParameterError(f"dtype: {dtype!r} is not float32 or float64")


def parse_image_spec(spec: str) -> tuple[str, tuple]:
    """Split an image spec into ``(kind, args)`` without reading or generating anything.

    Returns ``("file", (Path,))`` for a ``.npy``/``.png`` path and
    ``(kind, (n,))`` or ``(kind, (n, seed))`` for a generator.

    Raises
    ------
    ParameterError
        unknown kind, N not a positive integer or larger than :data:`MAX_SIZE`,
        a seed that is not a non-negative integer, or extra fields.
    """
    if not isinstance(spec, str):
        raise ParameterError(f"image: expected a spec string or an array, got {type(spec).__name__}")
    text = spec.strip()
    if not text:
        raise ParameterError(f"image: empty spec; use one of {_known()}")
    if text.lower().endswith(_FILE_KINDS):
        return "file", (Path(text),)
    kind, _, rest = text.partition(":")
    if kind not in GENERATORS:
        raise ParameterError(f"image: unknown spec kind {kind!r} in {spec!r}; use one of {_known()}")
    _, seeded = GENERATORS[kind]
    fields = rest.split(":") if rest else []
    if not fields:
        raise ParameterError(f"image: {kind} needs a size, e.g. '{kind}:64', got {spec!r}")
    if len(fields) > (2 if seeded else 1):
        form = f"{kind}:N[:seed]" if seeded else f"{kind}:N"
        raise ParameterError(f"image: too many fields in {spec!r}; expected {form}")
    n = _parse_int(fields[0], "N", spec)
    if n < 1:
        raise ParameterError(f"image: N must be a positive integer, got {fields[0]!r} in {spec!r}")
    if n > MAX_SIZE:
        raise ParameterError(f"image: N={n} is too large (at most {MAX_SIZE})")
    check_pixels("image", n, n)
    if len(fields) == 2:
        return kind, (n, _parse_int(fields[1], "seed", spec))
    return kind, (n,)


def _to_gray(rgb: np.ndarray) -> np.ndarray:
    """Grayscale from an (H, W, C) image: BT.601 luma for C >= 3, channel 0 for C <= 2."""
    c = rgb.shape[2]
    if c >= 3:
        r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
        return BT601[0] * r + BT601[1] * g + BT601[2] * b
    if c >= 1:  # luminance (+ alpha)
        return rgb[..., 0].astype(np.float64)
    raise ParameterError(f"image: PNG has no colour channels (shape {rgb.shape})")


def _read_npy(path: Path) -> np.ndarray:
    """Read a ``.npy`` file, checking its header (shape, dtype) before any allocation."""
    fmt = np.lib.format
    name = f"image: {str(path)!r}"
    try:
        with open(path, "rb") as fh:
            try:
                version = fmt.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = fmt.read_array_header_1_0(fh)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = fmt.read_array_header_2_0(fh)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
            except (ValueError, EOFError, SyntaxError, TypeError) as exc:
                size = path.stat().st_size
                why = "is empty (0 bytes)" if size == 0 else f"is not a valid .npy file ({exc})"
                raise ParameterError(f"{name} {why}") from None
            if dtype.hasobject:
                raise ParameterError(f"{name} holds Python objects (dtype {dtype}); only numeric arrays are read")
            check_real(name, np.empty(0, dtype=dtype))
            if len(shape) != 2:
                raise ParameterError(f"{name} must be a 2-D array, got shape {tuple(shape)}")
            if not all(isinstance(d, int) and d >= 1 for d in shape):  # a negative one would pass every size check
                raise ParameterError(f"{name}: its header gives the shape {tuple(shape)}; dimensions must be positive")
            check_pixels(name, shape[0], shape[1])
            need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            have = path.stat().st_size - fh.tell()
            if have < need:
                raise ParameterError(f"{name} is truncated: its header says {tuple(shape)} {dtype} "
                                     f"({need} bytes) but the file holds {have} bytes of data")
            fh.seek(0)
            return fmt.read_array(fh, allow_pickle=False)
    except ParameterError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise ParameterError(f"{name}: cannot read: {exc}") from None


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


#: Channels of a decoded PNG by IHDR colour type (a palette is expanded to RGBA).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 4, 4: 2, 6: 4}


def _png_header(path: str | os.PathLike) -> tuple[int, int, int, int]:
    with open(path, "rb") as fh:
        head = fh.read(26)
    if len(head) < 26 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        size = os.path.getsize(path)
        why = "is empty (0 bytes)" if size == 0 else "is not a valid PNG file (no PNG signature and IHDR header)"
        raise ParameterError(f"image: {str(path)!r} {why}")
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return height, width, head[24], head[25]


def png_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of a PNG from its IHDR header, without decoding it."""
    h, w, _, _ = _png_header(path)
    return h, w


def png_decoded_bytes(height: int, width: int, bit_depth: int, colour_type: int) -> int:
    """Bytes that decoding a PNG of this IHDR header takes at its peak (an upper estimate).

    The decoder's own buffer (channels × bytes per sample), Matplotlib's float32 copy
    (4 bytes per channel) and the float64 grayscale with its temporaries (32 bytes per
    pixel): 64 bytes per pixel for 16-bit RGBA.
    """
    ch = _PNG_CHANNELS.get(int(colour_type), 4)
    per_sample = max(1, int(bit_depth) // 8)
    return int(height) * int(width) * (2 * ch * per_sample + 4 * ch + 32)


def _read_png(path: Path) -> np.ndarray:
    h, w, depth, colour = _png_header(path)
    check_pixels(f"image: {str(path)!r}", h, w)
    need, limit = png_decoded_bytes(h, w, depth, colour), memory_limit()
    if need > limit:  # checked before decoding: a small file can decode to gigabytes
        raise ParameterError(f"image: {str(path)!r} ({h}x{w}, {depth}-bit, colour type {colour}) needs about "
                             f"{need / 2**30:.3g} GiB to decode, over the limit of {limit / 2**30:.3g} GiB; "
                             f"use a smaller image or raise the limit with {MEMORY_ENV}=<bytes>")
    import matplotlib.image as mpimg

    try:
        arr = np.asarray(mpimg.imread(path))
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # corrupt data after a valid header
        raise ParameterError(f"image: cannot read {str(path)!r}: {exc}") from None
    if arr.ndim == 3:
        arr = _to_gray(arr)
    return arr


def _read_file(path: Path) -> np.ndarray:
    shown = str(path) if len(str(path)) <= 80 else str(path)[:60] + "..." + str(path)[-12:]
    try:
        if not path.exists():
            raise ParameterError(f"image: file not found: {shown!r}")
        if not path.is_file():
            raise ParameterError(f"image: not a regular file: {shown!r}")
        if path.suffix.lower() == ".npy":
            return _read_npy(path)
        return _read_png(path)
    except OSError as exc:  # a name too long, a permission, a folder in the way: one line naming the file
        raise ParameterError(f"image: cannot read {shown!r} ({exc.strerror or exc})") from None


def _validated(arr: np.ndarray, origin: str, dtype: np.dtype) -> np.ndarray:
    check_real(f"image: {origin}", arr)
    if arr.dtype.kind not in "biuf":
        raise ParameterError(f"image: {origin} must be real numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ParameterError(f"image: {origin} must be a 2-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ParameterError(f"image: {origin} is empty (shape {arr.shape})")
    out = np.ascontiguousarray(arr, dtype=dtype)
    if not np.all(np.isfinite(out)):
        raise ParameterError(f"image: {origin} contains NaN or infinite values")
    peak = float(np.max(np.abs(out)))
    cap = float(np.sqrt(np.finfo(dtype).max / (16.0 * out.size)))
    if peak > cap:  # the Gram operator sums I(x)² over the image: it would overflow
        raise ParameterError(f"image: {origin} has values up to {peak:.3g}; sums of their squares overflow "
                             f"{dtype.name} (limit {cap:.3g} for {out.size} pixels); rescale the image")
    return out


def load_image(spec: str | os.PathLike, dtype: str = "float64") -> np.ndarray:
    """Load or generate the image named by ``spec`` (see the module docstring).

    Parameters
    ----------
    spec : str or path-like
        ``checkerboard:N``, ``smooth:N[:seed]``, ``noise:N[:seed]``, or a path to a
        ``.npy``/``.png`` file. A ``pathlib.Path`` is read as a file.
    dtype : {"float64", "float32"}
        dtype of the returned array.

    Returns
    -------
    numpy.ndarray
        2-D, finite, C-contiguous array of ``dtype``.

    Raises
    ------
    ParameterError
        message ``image: ...`` for any bad spec or file, ``dtype: ...`` for a bad dtype.

    Examples
    --------
    >>> load_image("checkerboard:2")
    array([[-1.,  1.],
           [ 1., -1.]])
    """
    dt = _check_dtype(dtype)
    if isinstance(spec, os.PathLike):
        kind, args = "file", (Path(spec),)
    else:
        kind, args = parse_image_spec(spec)
    if kind == "file":
        path = args[0]
        return _validated(_read_file(path), f"{str(path)!r}", dt)
    gen, _ = GENERATORS[kind]
    return _validated(np.asarray(gen(*args)), repr(spec), dt)
