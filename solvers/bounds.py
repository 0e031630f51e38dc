"""Bounds on the weight decay α of the forward-Euler scheme (21), three ways.

First paper (Sun et al. 2022), appendix D.3. The scheme iterates the symmetric map
T = (1 − Δtα) − ½aβΔt·G on the w×w window, so it is stable iff
0 < α + ½aβμ < 2/Δt for every eigenvalue μ of the operator that replaces |Î(ω)|².
The same derived bound expressions (``derivations.forward_euler.alpha_bounds``,
lambdified once) are evaluated on three spectra:

1. ``theory``    — min/max of |Î(ω)|² over the image's DFT: the paper's (26)–(27),
                   the w → ∞ limit;
2. ``exact``     — min/max eigenvalue of the windowed Gram operator G (Lanczos with
                   FFT products, certified residuals): what the scheme really iterates;
3. ``simulated`` — time stepping of the scheme with bisection on α to a stated
                   relative tolerance and the divergence criterion of
                   :class:`~solvers.schemes.DivergenceCriterion`.

2 and 3 agree to the bisection tolerance (for runs long enough to resolve the
growth, see the criterion). In periodic mode with w = H = W, 1 and 2 coincide; for
a smaller window G is a compression of the circulant operator, its eigenvalues
interlace, and the windowed stable interval contains the theoretical one.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from derivations import forward_euler, symbols as S

from .backend import Fft, float_dtype, get_namespace
from .checks import ParameterError, check_finite, check_image, check_kernel_size, check_mode, check_positive
from .correlation import CnnOperator, DenseGram
from .lambdify import lambdify
from .schemes import DivergenceCriterion, run_linear
from .spectrum import gram_extremes

__all__ = ["alpha_bounds_from_spectrum", "theory_bounds", "exact_bounds", "simulated_bounds", "compute_bounds", "METHODS"]

METHODS = ("theory", "exact", "simulated")
_ARGS = (S.dt, S.a, S.beta, S.P_min, S.P_max)


def alpha_bounds_from_spectrum(dt: float, a: float, beta: float, p_min: float, p_max: float) -> tuple[float, float]:
    """(α_lower, α_upper) from the derived conditions (24)–(27), for a spectrum in [p_min, p_max].

    The expressions are ``derivations.forward_euler.alpha_bounds()`` (general in the
    sign of a), lambdified once and cached.
    """
    lower, upper = forward_euler.alpha_bounds()
    f_lo = lambdify(lower, _ARGS)
    f_hi = lambdify(upper, _ARGS)
    vals = (float(dt), float(a), float(beta), float(p_min), float(p_max))
    return float(f_lo(*vals)), float(f_hi(*vals))


def _check(dt: float, a: float, beta: float) -> tuple[float, float, float]:
    return check_positive("dt", dt), check_finite("a", a), check_positive("beta", beta)


def theory_bounds(op: CnnOperator, dt: float, a: float = -0.5, beta: float = 1.0) -> dict:
    """The paper's Fourier bounds (26)–(27) over the DFT of the whole image."""
    dt, a, beta = _check(dt, a, beta)
    xp = op.xp
    power = op.power_spectrum()
    p_min, p_max = float(xp.min(power)), float(xp.max(power))
    lo, hi = alpha_bounds_from_spectrum(dt, a, beta, p_min, p_max)
    return {"alpha_lower": lo, "alpha_upper": hi, "P_min": p_min, "P_max": p_max,
            "source": "first paper, appendix D.3, eqs. (26)-(27): extremes of |I^(w)|^2 (w -> infinity)"}


def exact_bounds(op: CnnOperator, dt: float, a: float = -0.5, beta: float = 1.0, *, tol: float = 1e-10,
                 eig_method: str = "auto") -> dict:
    """Bounds from the extreme eigenvalues of the windowed operator G (Lanczos or dense)."""
    dt, a, beta = _check(dt, a, beta)
    ex = gram_extremes(op, tol=tol, method=eig_method)
    # PSD: eigenvalues below 0 are rounding
    mu_min, mu_max = max(ex.lambda_min, 0.0), ex.lambda_max
    lo, hi = alpha_bounds_from_spectrum(dt, a, beta, mu_min, mu_max)
    return {"alpha_lower": lo, "alpha_upper": hi, "mu_min": mu_min, "mu_max": mu_max,
            "eig_error": max(ex.error_min, ex.error_max), "eig_steps": ex.steps, "eig_method": ex.method,
            "eig_converged": ex.converged}


def _classify(op: Any, alphas: Sequence[float], dt: float, a: float, beta: float, steps: int, seed: int,
              criterion: DivergenceCriterion) -> np.ndarray:
    """Stable (True) / diverged (False) for each α, in one batched run."""
    res = run_linear(op, list(alphas), dt, a, beta, steps=steps, seed=seed, criterion=criterion)
    return ~res.diverged


def simulated_bounds(
    op: CnnOperator,
    dt: float,
    a: float = -0.5,
    beta: float = 1.0,
    *,
    rtol: float = 1e-3,
    steps: int = 1000,
    scan: int = 16,
    points: int = 1,
    seed: int = 0,
    operator: str = "auto",
    criterion: DivergenceCriterion | None = None,
    max_rounds: int = 60,
) -> dict:
    """α bounds measured by running the linearized scheme (21) and bisecting on α.

    Procedure. Every stable α satisfies 0 < α + ½aβμ < 2/Δt for all μ ∈ [0, tr G], so
    the stable set lies in [α_a, α_b] = [min(0, −½aβ·tr G), 2/Δt + max(0, −½aβ·tr G)]
    (tr G is an upper bound on the spectrum that needs no eigen-solve). ``scan``
    equally spaced α in that interval (ends included) are run in one batch; the first
    and last stable ones and their unstable neighbours bracket the two bounds. Then
    both brackets are refined together, ``points`` new α inside each per batched run
    (``points = 1`` is plain bisection), until each bracket is narrower than
    ``rtol`` × its endpoint magnitude. The reported bound is the bracket midpoint.

    Parameters
    ----------
    operator : {"auto", "fft", "matrix"}
        How the scheme applies G: FFTs on the image grid every step, or a dense w²×w²
        matrix built once from FFT products (:class:`~solvers.correlation.DenseGram`).
        Both iterate the same linear map; ``auto`` uses the matrix for w ≤ 32.
    """
    dt, a, beta = _check(dt, a, beta)
    rtol = check_positive("rtol", rtol)
    if rtol >= 1:
        raise ParameterError(f"rtol: must be < 1, got {rtol}")
    if int(scan) < 3:
        raise ParameterError(f"scan: need at least 3 scan points, got {scan}")
    if int(points) < 1:
        raise ParameterError(f"points: need at least 1 point per bracket, got {points}")
    crit = criterion or DivergenceCriterion()
    if operator not in ("auto", "fft", "matrix"):
        raise ParameterError(f"operator: unknown {operator!r}; use auto, fft or matrix")
    use_matrix = operator == "matrix" or (operator == "auto" and op.w <= 32)
    stepper = DenseGram(op) if use_matrix else op
    s = 0.5 * a * beta
    tr = op.trace_gram()
    lo_a, hi_b = min(0.0, -s * tr), 2.0 / dt + max(0.0, -s * tr)
    grid = np.linspace(lo_a, hi_b, int(scan))
    stable = _classify(stepper, grid, dt, a, beta, steps, seed, crit)
    runs, rounds = len(grid), 1
    out: dict[str, Any] = {"rtol": rtol, "steps": int(steps), "operator": "matrix" if use_matrix else "fft",
                           "criterion": "increment growth over the last {:.0%} of the run, blow-up x{:.0e}, non-finite".format(
                               crit.window, crit.blowup), "scan": [float(lo_a), float(hi_b), int(scan)]}
    if not stable.any():
        out.update(alpha_lower=math.nan, alpha_upper=math.nan, runs=runs, rounds=rounds,
                   note=f"no stable alpha among {scan} values in [{lo_a:.4g}, {hi_b:.4g}]: the stable interval "
                        "is empty or narrower than the scan spacing")
        return out
    idx = np.flatnonzero(stable)
    first, last = int(idx[0]), int(idx[-1])
    notes = []
    if not stable[first:last + 1].all():
        notes.append("the scan found unstable alpha between stable ones; the outermost stable values were used")
    # brackets as (unstable side, stable side)
    brackets = {
        "lower": [grid[first - 1] if first > 0 else None, grid[first]],
        "upper": [grid[last + 1] if last + 1 < len(grid) else None, grid[last]],
    }
    for key in ("lower", "upper"):
        if brackets[key][0] is None:
            notes.append(f"alpha_{key}: the scan end is stable; the bound lies beyond the a-priori interval")

    def done(br: list) -> bool:
        if br[0] is None:
            return True
        width = abs(br[1] - br[0])
        return width <= rtol * max(abs(br[0]), abs(br[1]), 1e-12 / dt)

    while not all(done(br) for br in brackets.values()) and rounds < max_rounds:
        batch, owners = [], []
        for key, br in brackets.items():
            if done(br):
                continue
            pts = np.linspace(br[0], br[1], int(points) + 2)[1:-1]
            batch.extend(pts.tolist())
            owners.extend([key] * len(pts))
        st = _classify(stepper, batch, dt, a, beta, steps, seed, crit)
        runs += len(batch)
        rounds += 1
        for key in brackets:
            pts = [(x, ok) for x, ok, o in zip(batch, st, owners) if o == key]
            if not pts:
                continue
            br = brackets[key]
            # walk from the unstable end towards the stable end
            ordered = pts if br[0] < br[1] else pts[::-1]
            for x, ok in ordered:
                if ok:
                    br[1] = x
                    break
                br[0] = x
    for key, br in brackets.items():
        out[f"alpha_{key}"] = math.nan if br[0] is None else 0.5 * (br[0] + br[1])
        out[f"bracket_{key}"] = [None if br[0] is None else float(br[0]), float(br[1])]
    out.update(runs=runs, rounds=rounds)
    if not all(done(br) for br in brackets.values()):
        notes.append(f"stopped after {max_rounds} rounds before reaching rtol")
    if notes:
        out["note"] = "; ".join(notes)
    return out


def compute_bounds(
    image: Any,
    kernel: int,
    dt: float,
    a: float = -0.5,
    beta: float = 1.0,
    mode: str = "valid",
    backend: str = "numpy",
    rtol: float = 1e-3,
    steps: int = 1000,
    methods: Sequence[str] = METHODS,
    dtype: str = "float64",
    fft: str = "auto",
    operator: str = "auto",
) -> dict:
    """Theory, exact windowed and simulated α bounds for one image and kernel size.

    Returns the JSON contract of ``workbench bounds --json``: ``kernel``, ``scheme``
    (``"euler"``), ``dt``, ``a``, ``beta``, ``mode``, then one dict per requested
    method with ``alpha_lower``/``alpha_upper`` (the simulated one also has ``rtol``).
    """
    dt, a, beta = _check(dt, a, beta)
    check_mode(mode)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ParameterError(f"methods: unknown {unknown or methods!r}; choose from {', '.join(METHODS)}")
    xp = get_namespace(backend)
    dt_x = float_dtype(xp, dtype)
    img = xp.asarray(np.asarray(image, dtype=np.float64) if isinstance(image, (list, np.ndarray)) else image, dtype=dt_x)
    check_image(img, xp)
    check_kernel_size(kernel, tuple(img.shape), mode)
    op = CnnOperator(img, int(kernel), mode=mode, fft=Fft(xp, impl=fft))
    result: dict[str, Any] = {"kernel": int(kernel), "scheme": "euler", "dt": dt, "a": a, "beta": beta, "mode": mode,
                              "image_shape": [int(img.shape[0]), int(img.shape[1])], "backend": backend, "dtype": dtype}
    if "theory" in methods:
        result["theory"] = theory_bounds(op, dt, a, beta)
    if "exact" in methods:
        result["exact"] = exact_bounds(op, dt, a, beta)
    if "simulated" in methods:
        result["simulated"] = simulated_bounds(op, dt, a, beta, rtol=rtol, steps=steps, operator=operator)
    return result
