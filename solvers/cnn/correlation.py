"""CNN correlation on one image and the windowed linear operators built from it.

First paper (Sun et al. 2022), appendix D. With a w×w kernel K and an H×W image I:

* ``"valid"`` mode is a CNN layer without padding: (K⋆I)(x) = Σ_z K(z) I(x+z) for the
  (H−w+1)×(W−w+1) output pixels x; the paper's ∫dx is the sum over them.
* ``"periodic"`` mode is the circular correlation on the H×W grid; there the Fourier
  statements of the paper ((22)–(27)) are exact for w = H = W.

Both are computed with real FFTs on the H×W grid: in valid mode no index x + z leaves
the image, so circular and linear correlation agree on the output and no extra
padding is needed. Every FFT path has a direct-sum reference here
(:func:`correlate_direct`, :meth:`CnnOperator.gram_dense`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from workbench.solvers.core.backend import Fft, namespace_of, to_numpy
from workbench.solvers.core.checks import check_image, check_kernel_size, check_mode

__all__ = ["correlate_direct", "correlate_fft", "CnnOperator"]


def _out_shape(shape: tuple[int, int], w: int, mode: str) -> tuple[int, int]:
    h, wd = shape
    return (h - w + 1, wd - w + 1) if mode == "valid" else (h, wd)


def correlate_direct(kernel: Any, image: Any, mode: str = "valid") -> Any:
    """(K⋆I)(x) = Σ_z K(z) I(x+z) by a direct sum over the w² kernel offsets.

    The slow, readable reference for :func:`correlate_fft`. ``kernel`` may carry
    leading batch axes.
    """
    xp = namespace_of(kernel, image)
    check_mode(mode)
    w = int(kernel.shape[-1])
    check_kernel_size(w, tuple(image.shape), mode)
    ho, wo = _out_shape(tuple(image.shape), w, mode)
    out = xp.zeros(tuple(kernel.shape[:-2]) + (ho, wo), dtype=kernel.dtype)
    for z1 in range(w):
        for z2 in range(w):
            if mode == "valid":
                patch = image[z1:z1 + ho, z2:z2 + wo]
            else:
                patch = xp.roll(xp.roll(image, -z1, axis=0), -z2, axis=1)
            out = out + kernel[..., z1:z1 + 1, z2:z2 + 1] * patch
    return out


def correlate_fft(kernel: Any, image: Any, mode: str = "valid", fft: Fft | None = None) -> Any:
    """(K⋆I)(x) by real FFTs on the image grid (see the module docstring)."""
    return CnnOperator(image, int(kernel.shape[-1]), mode=mode, fft=fft).response(kernel)


class CnnOperator:
    """The linear maps of the one-layer CNN on a fixed image, for a w×w window.

    Parameters
    ----------
    image : array, shape (H, W)
        Finite, non-empty, real. Its namespace and dtype fix those of every result.
    w : int
        Kernel (window) size; w ≤ min(H, W).
    mode : {"valid", "periodic"}
    fft : Fft, optional
        FFT implementation (default: :class:`~workbench.solvers.core.backend.Fft` on the image's namespace).

    Notes
    -----
    ``response`` is K ↦ K⋆I; ``backproject`` is its adjoint u ↦ (u⋆I) restricted to the
    window, i.e. the ``r′(K⋆I) ⋆ I`` of eq. (8)–(11) with r′ replaced by the map u.
    ``gram`` = backproject ∘ response is the symmetric positive semi-definite operator
    G, (GK)(z) = Σ_x I(x+z) Σ_z′ K(z′) I(x+z′), whose spectrum replaces |Î(ω)|² once the
    window is finite: the linearized scheme (21) iterates K ↦ K − Δt(αK + ½aβ GK + ½a c)
    with c = backproject(1) (the paper's Ī, which depends on z in valid mode).
    """

    def __init__(self, image: Any, w: int, mode: str = "valid", fft: Fft | None = None):
        xp = namespace_of(image)
        check_image(image, xp)
        check_mode(mode)
        self.w = check_kernel_size(w, tuple(image.shape), mode)
        self.xp = xp
        self.mode = mode
        self.image = image
        self.dtype = image.dtype
        self.shape = (int(image.shape[0]), int(image.shape[1]))
        self.out_shape = _out_shape(self.shape, self.w, mode)
        self.fft = fft if fft is not None else Fft(xp)
        self._ihat = self.fft.rfft2_image(image)   # scipy.fft is imported only by the later transforms
        if mode == "periodic":
            self._power = xp.real(self._ihat * xp.conj(self._ihat))
            self._mask = None
        else:
            self._power = None
            ho, wo = self.out_shape
            mask = np.zeros(self.shape)
            mask[:ho, :wo] = 1.0
            self._mask = xp.asarray(mask, dtype=self.dtype)
        self._patch_sum = None

    # -- the three maps -------------------------------------------------------------
    def _correlate_full(self, x: Any, rows: int | None = None) -> Any:
        """Σ_y x(y) I(y + ·) on the H×W grid (its first ``rows`` rows): one real FFT pair (x zero-padded)."""
        spec = self.xp.conj(self.fft.rfft2(x, self.shape)) * self._ihat
        return self.fft.irfft2(spec, self.shape, rows=rows)

    def response(self, kernel: Any) -> Any:
        """K⋆I on the output grid; ``kernel`` has shape (..., w, w)."""
        ho, wo = self.out_shape
        return self._correlate_full(kernel, rows=ho)[..., :ho, :wo]

    def backproject(self, u: Any) -> Any:
        """(u⋆I)(z) = Σ_x u(x) I(x+z) for z in the w×w window; u on the output grid."""
        return self._correlate_full(u, rows=self.w)[..., :self.w, :self.w]

    def gram(self, kernel: Any) -> Any:
        """G K = backproject(response(K)); two FFTs in periodic mode, four in valid mode.

        Only the rows that are used are transformed back (the response's Ho rows, the
        window's w rows), and the w×w kernel's zero rows are not transformed forward;
        the numbers are those of the full-grid transforms (:class:`~workbench.solvers.core.backend.Fft`).
        """
        w = self.w
        if self._power is not None:
            full = self.fft.irfft2(self._power * self.fft.rfft2(kernel, self.shape), self.shape, rows=w)
        else:
            # mask to the valid output instead of crop + re-pad: same numbers, no copies
            ho = self.out_shape[0]
            full = self._correlate_full(self._correlate_full(kernel, rows=ho) * self._mask[:ho, :], rows=w)
        return full[..., :w, :w]

    # -- derived quantities ---------------------------------------------------------
    @property
    def output_count(self) -> int:
        """Number of output pixels (the paper's ∫dx of a constant 1)."""
        return self.out_shape[0] * self.out_shape[1]

    def patch_sum(self) -> Any:
        """c(z) = Σ_x I(x+z): the input sum Ī of eq. (19) seen through the window."""
        if self._patch_sum is None:
            ones = self.xp.ones(self.out_shape, dtype=self.dtype)
            self._patch_sum = self.backproject(ones)
        return self._patch_sum

    def power_spectrum(self) -> Any:
        """|Î(ω)|² of the whole image (unnormalised DFT), on the rfft half-grid.

        By Hermitian symmetry its min and max equal those over the full grid.
        """
        ih = self._ihat
        return self.xp.real(ih * self.xp.conj(ih))

    def trace_gram(self) -> float:
        """trace(G) = Σ_z Σ_x I(x+z)², an upper bound on the largest eigenvalue of G."""
        sq = self.image * self.image
        xp = self.xp
        if self.mode == "periodic":
            return float(self.w * self.w * xp.sum(sq))
        ho, wo = self.out_shape
        # Σ_z Σ_x I(x+z)²: w² window sums read off a summed-area table (exact, host).
        s = np.cumsum(np.cumsum(np.pad(to_numpy(sq).astype(np.float64), ((1, 0), (1, 0))), 0), 1)
        total = 0.0
        for z1 in range(self.w):
            for z2 in range(self.w):
                total += s[z1 + ho, z2 + wo] - s[z1, z2 + wo] - s[z1 + ho, z2] + s[z1, z2]
        return float(total)

    def patches_dense(self) -> np.ndarray:
        """Host matrix of image patches, shape (output pixels, w²): row x holds I(x+z)."""
        img = to_numpy(self.image).astype(np.float64)
        ho, wo = self.out_shape
        w = self.w
        if self.mode == "periodic":
            img = np.pad(img, ((0, w - 1), (0, w - 1)), mode="wrap")
        cols = [img[z1:z1 + ho, z2:z2 + wo].reshape(-1) for z1 in range(w) for z2 in range(w)]
        return np.stack(cols, axis=1)

    def gram_dense(self) -> np.ndarray:
        """Dense w²×w² Gram matrix G = PᵀP (float64 on the host): the slow reference."""
        p = self.patches_dense()
        return p.T @ p


class DenseGram:
    """The Gram operator of a :class:`CnnOperator` as an explicit w²×w² matrix.

    Built once, then applied by a matrix product: for the repeated runs of a bisection
    on small windows that is far cheaper than four full-image FFTs per step. Same
    interface as :class:`CnnOperator` for :func:`~workbench.solvers.cnn.schemes.linear_step`
    (``gram``, ``patch_sum``, ``w``, ``xp``, ``dtype``, ``image``).

    Construction (first paper, appendix D: (GK)(z) = Σ_x I(x+z) Σ_z′ K(z′) I(x+z′)), on the host in
    float64: G(z, z′) = Σ_x I(x+z) I(x+z′). In valid mode the sum over the Ho output rows is a
    sliding window, so moving both row offsets down by one adds the row pair that enters and
    removes the one that leaves:
    G(z₁+1, z₂; z₁′+1, z₂′) = G(z₁, z₂; z₁′, z₂′) + R(z₁+Ho, z₁′+Ho) − R(z₁, z₁′), with
    R(a, b)(z₂, z₂′) = Σ_{x₂<Wo} I(a, x₂+z₂) I(b, x₂+z₂′), two matrix products of the w rows at the top
    and the bottom; the rows z₁ = 0 start the recursion (w columns G e_z′, one backprojection each).
    That is O(w⁴ + w³·Wo) work instead of w² backprojections on the H×W grid. In periodic mode
    G(z, z′) = R(z′ − z), R the circular autocorrelation of the image (one inverse FFT of |Î|²).
    The slow reference is :meth:`CnnOperator.gram_dense` (patches, PᵀP).
    """

    def __init__(self, op: CnnOperator):
        xp = op.xp
        self.op, self.xp, self.w, self.dtype, self.image, self.mode = op, xp, op.w, op.dtype, op.image, op.mode
        g = self._periodic(op) if op.mode == "periodic" else self._valid(op)
        g = 0.5 * (g + g.T)                                  # symmetric to rounding
        self.matrix = xp.asarray(np.ascontiguousarray(g), dtype=op.dtype)

    @staticmethod
    def _valid(op: CnnOperator) -> np.ndarray:
        """The sliding-window recursion of the class docstring (float64, host)."""
        w, (ho, wo) = op.w, op.out_shape
        img = to_numpy(op.image).astype(np.float64)
        # rows z1 = 0: G(0, z2; ·) = backprojection of the crop I(x + (0, z2)), i.e. G e_(0, z2) by symmetry
        crops = op.xp.asarray(np.stack([img[:ho, z2:z2 + wo] for z2 in range(w)]), dtype=op.dtype)
        first = to_numpy(op.backproject(crops)).astype(np.float64).reshape(w, w, w)   # [z2, z1', z2']

        def rows(start: int) -> np.ndarray:                 # C[a, z2, x2] = I(start + a, x2 + z2)
            return np.stack([img[start:start + w - 1, z2:z2 + wo] for z2 in range(w)], axis=1)

        top, bot = rows(0), rows(ho)
        n1 = (w - 1) * w
        d = (bot.reshape(n1, wo) @ bot.reshape(n1, wo).T - top.reshape(n1, wo) @ top.reshape(n1, wo).T)
        d = d.reshape(w - 1, w, w - 1, w)                   # [z1, z2, z1', z2'] for z1, z1' < w - 1
        g = np.empty((w, w, w, w))
        g[0] = first
        for z1 in range(1, w):
            g[z1, :, 0, :] = first[:, z1, :].T               # G(z1, z2; 0, z2') = G(0, z2'; z1, z2)
            g[z1, :, 1:, :] = g[z1 - 1, :, :-1, :] + d[z1 - 1]
        return g.reshape(w * w, w * w)

    @staticmethod
    def _periodic(op: CnnOperator) -> Any:
        """G(z, z′) = R(z′ − z mod (H, W)) with R = irfft2(|Î|²), the circular autocorrelation."""
        xp, w = op.xp, op.w
        hh, ww = op.shape
        r = np.fft.irfft2(to_numpy(op.power_spectrum()).astype(np.float64), s=op.shape)  # host: G is w²×w²
        d = np.arange(w)
        d1 = (d[None, :] - d[:, None]) % hh                       # z1′ − z1
        d2 = (d[None, :] - d[:, None]) % ww                       # z2′ − z2
        g = r[d1[:, None, :, None], d2[None, :, None, :]]          # [z1, z2, z1′, z2′]
        return g.reshape(w * w, w * w)

    def gram(self, kernel: Any) -> Any:
        xp, w = self.xp, self.w
        flat = xp.reshape(kernel, tuple(kernel.shape[:-2]) + (w * w,))
        return xp.reshape(xp.matmul(flat, self.matrix), tuple(kernel.shape))

    def patch_sum(self) -> Any:
        return self.op.patch_sum()
