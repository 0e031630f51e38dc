"""Bounds on the weight decay α of the linearized schemes, three ways.

First paper (Sun et al. 2022), appendices D.3 and E. Each linearized scheme acts on
one eigencomponent of the operator that replaces |Î(ω)|² through the scalar symbol
z = α + ½aβμ, and is stable iff every z lies in the scheme's region
z_lo < z < z_hi, derived by the Von Neumann analyzer
(:func:`derivations.regions.z_interval`): (0, 2/Δt) for forward Euler (21),
(0, 4(2 + dΔt)/((6 − dΔt)Δt²)) for Nesterov's semi-implicit scheme (37)-(38). The
same derived α-interval expressions (:func:`derivations.regions.alpha_bounds`,
lambdified once) are evaluated on three spectra:

1. ``theory``       — min/max of |Î(ω)|² over the image's DFT with the region the
                      paper states: (26)–(27) for Euler, (45)–(47) for Nesterov (w → ∞);
   ``theory_exact`` — the same Fourier extremes with the analyzer's exact region
                      (identical to ``theory`` for Euler);
2. ``exact``        — min/max eigenvalue of the windowed Gram operator G (Lanczos with
                      FFT products, certified residuals) with the exact region: what the
                      scheme really iterates; no time stepping;
3. ``simulated``    — time stepping of the scheme with bisection on α to a stated
                      relative tolerance and the divergence criterion of
                      :class:`~solvers.schemes.DivergenceCriterion`.

2 and 3 agree to the bisection tolerance (for runs long enough to resolve the
growth, see the criterion). In periodic mode with w = H = W, theory_exact and exact
coincide; for a smaller window G is a compression of the circulant operator, its
eigenvalues interlace, and the windowed stable interval contains the Fourier one.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from derivations import regions, symbols as S

from .backend import Fft, float_dtype, get_namespace
from .checks import ParameterError, check_finite, check_image, check_kernel_size, check_mode, check_positive
from .correlation import CnnOperator, DenseGram
from .lambdify import lambdify
from .momentum import MomentumParams, momentum_params, run_nesterov_linear
from .schemes import DivergenceCriterion, run_linear
from .spectrum import gram_extremes

__all__ = ["alpha_bounds_from_spectrum", "z_upper", "theory_bounds", "exact_bounds", "simulated_bounds",
           "compute_bounds", "METHODS", "SCHEMES", "default_methods"]

METHODS = ("theory", "theory_exact", "exact", "simulated")
SCHEMES = ("euler", "nesterov")
_ARGS = (S.dt, S.d, S.a, S.beta, S.P_min, S.P_max)


def default_methods(scheme: str) -> tuple[str, ...]:
    """Methods run when none are named: Euler's theory is already exact, Nesterov's is not."""
    return ("theory", "exact", "simulated") if scheme == "euler" else METHODS


def _scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ParameterError(f"scheme: unknown {scheme!r}; use {' or '.join(SCHEMES)}")
    return scheme


def alpha_bounds_from_spectrum(dt: float, a: float, beta: float, p_min: float, p_max: float, *,
                               scheme: str = "euler", region: str = "exact", damping: float = 0.0
                               ) -> tuple[float, float]:
    """(α_lower, α_upper) for a spectrum in [p_min, p_max] and a scheme's region.

    The expressions are ``derivations.regions.alpha_bounds(scheme, region)`` (general
    in the sign of a), lambdified once and cached. ``damping`` is d (Nesterov only).
    """
    lower, upper = regions.alpha_bounds(_scheme(scheme), region)
    vals = (float(dt), float(damping), float(a), float(beta), float(p_min), float(p_max))
    return float(lambdify(lower, _ARGS)(*vals)), float(lambdify(upper, _ARGS)(*vals))


def z_upper(dt: float, scheme: str = "euler", damping: float = 0.0, region: str = "exact") -> float:
    """The region's upper end z_hi (2/Δt for Euler; 4(2 + dΔt)/((6 − dΔt)Δt²) for Nesterov)."""
    hi = regions.z_interval(_scheme(scheme), region)[1]
    return float(lambdify(hi, (S.dt, S.d))(float(dt), float(damping)))


def _check(dt: float, a: float, beta: float) -> tuple[float, float, float]:
    return check_positive("dt", dt), check_finite("a", a), check_positive("beta", beta)


def _params(scheme: str, dt: float, momentum: float | None, damping: float | None) -> MomentumParams | None:
    """Nesterov's (Δt, μ, d, η); ``None`` for Euler (where momentum/damping are refused)."""
    if _scheme(scheme) == "euler":
        if momentum is not None or damping is not None:
            raise ParameterError("momentum: only the nesterov scheme takes momentum or damping")
        return None
    return momentum_params(dt, momentum, damping)


def _damping(p: MomentumParams | None) -> float:
    return 0.0 if p is None else p.damping


_SOURCES = {
    ("euler", "paper"): "first paper, appendix D.3, eqs. (26)-(27): extremes of |I^(w)|^2 (w -> infinity)",
    ("euler", "exact"): "exact Schur-Cohn region of (21) (= (26)-(27)) over the extremes of |I^(w)|^2 (w -> infinity)",
    ("nesterov", "paper"): "first paper, appendix E, eqs. (45)-(47): z < 4/(3 dt^2) over the extremes of |I^(w)|^2 "
                           "(w -> infinity)",
    ("nesterov", "exact"): "exact Schur-Cohn region of (42)-(43), 0 < z < 4(2+d dt)/((6-d dt) dt^2), over the "
                           "extremes of |I^(w)|^2 (w -> infinity)",
}


def theory_bounds(op: CnnOperator, dt: float, a: float = -0.5, beta: float = 1.0, *, scheme: str = "euler",
                  region: str = "paper", momentum: float | None = None, damping: float | None = None) -> dict:
    """Fourier bounds over the DFT of the whole image (w → ∞), with the paper's or the exact region."""
    dt, a, beta = _check(dt, a, beta)
    p = _params(scheme, dt, momentum, damping)
    if region not in ("paper", "exact"):
        raise ParameterError(f"region: unknown {region!r}; use paper or exact")
    xp = op.xp
    power = op.power_spectrum()
    p_min, p_max = float(xp.min(power)), float(xp.max(power))
    lo, hi = alpha_bounds_from_spectrum(dt, a, beta, p_min, p_max, scheme=scheme, region=region, damping=_damping(p))
    return {"alpha_lower": lo, "alpha_upper": hi, "P_min": p_min, "P_max": p_max,
            "z_upper": z_upper(dt, scheme, _damping(p), region), "source": _SOURCES[(scheme, region)]}


def exact_bounds(op: CnnOperator, dt: float, a: float = -0.5, beta: float = 1.0, *, tol: float = 1e-10,
                 eig_method: str = "auto", scheme: str = "euler", momentum: float | None = None,
                 damping: float | None = None) -> dict:
    """Bounds from the extreme eigenvalues of the windowed operator G and the scheme's exact region."""
    dt, a, beta = _check(dt, a, beta)
    p = _params(scheme, dt, momentum, damping)
    ex = gram_extremes(op, tol=tol, method=eig_method)
    # PSD: eigenvalues below 0 are rounding
    mu_min, mu_max = max(ex.lambda_min, 0.0), ex.lambda_max
    lo, hi = alpha_bounds_from_spectrum(dt, a, beta, mu_min, mu_max, scheme=scheme, damping=_damping(p))
    return {"alpha_lower": lo, "alpha_upper": hi, "mu_min": mu_min, "mu_max": mu_max,
            "z_upper": z_upper(dt, scheme, _damping(p)),
            "eig_error": max(ex.error_min, ex.error_max), "eig_steps": ex.steps, "eig_method": ex.method,
            "eig_converged": ex.converged}


def _classify(op: Any, alphas: Sequence[float], dt: float, a: float, beta: float, steps: int, seed: int,
              criterion: DivergenceCriterion, p: MomentumParams | None = None) -> np.ndarray:
    """Stable (True) / diverged (False) for each α, in one batched run."""
    if p is None:
        res = run_linear(op, list(alphas), dt, a, beta, steps=steps, seed=seed, criterion=criterion)
    else:
        res = run_nesterov_linear(op, list(alphas), dt, a, beta, momentum=p.momentum, steps=steps, seed=seed,
                                  criterion=criterion)
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
    scheme: str = "euler",
    momentum: float | None = None,
    damping: float | None = None,
) -> dict:
    """α bounds measured by running the linearized scheme and bisecting on α.

    ``scheme="euler"`` runs forward Euler (21); ``"nesterov"`` the semi-implicit
    scheme (37)-(38) with ``momentum`` μ (or ``damping`` d).

    Procedure. Every stable α satisfies 0 < α + ½aβμ < z_hi for all μ ∈ [0, tr G]
    (z_hi = 2/Δt for Euler, the exact region's end for Nesterov), so the stable set
    lies in [α_a, α_b] = [min(0, −½aβ·tr G), z_hi + max(0, −½aβ·tr G)] (tr G is an
    upper bound on the spectrum that needs no eigen-solve). If a scan end is itself
    stable, the result says so in ``note``. ``scan``
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
    p = _params(scheme, dt, momentum, damping)
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
    # both regions start at z = 0 (derivations.regions.z_interval)
    lo_a, hi_b = min(0.0, -s * tr), z_upper(dt, scheme, _damping(p)) + max(0.0, -s * tr)
    grid = np.linspace(lo_a, hi_b, int(scan))
    stable = _classify(stepper, grid, dt, a, beta, steps, seed, crit, p)
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
        st = _classify(stepper, batch, dt, a, beta, steps, seed, crit, p)
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
    methods: Sequence[str] | None = None,
    dtype: str = "float64",
    fft: str = "auto",
    operator: str = "auto",
    scheme: str = "euler",
    momentum: float | None = None,
    damping: float | None = None,
) -> dict:
    """Theory, exact windowed and simulated α bounds for one image and kernel size.

    Returns the JSON contract of ``workbench bounds --json``: ``kernel``, ``scheme``
    (``"euler"`` or ``"nesterov"``), ``dt``, ``a``, ``beta``, ``mode`` (Nesterov also
    echoes ``momentum``, ``d`` and ``eta``), then one dict per requested method with
    ``alpha_lower``/``alpha_upper``: ``theory`` (the paper's Fourier bounds),
    ``theory_exact`` (the analyzer's exact region over the same Fourier extremes),
    ``exact`` (windowed) and ``simulated`` (which also has ``rtol``). ``methods=None``
    runs :func:`default_methods` of the scheme.
    """
    dt, a, beta = _check(dt, a, beta)
    check_mode(mode)
    p = _params(scheme, dt, momentum, damping)
    methods = tuple(default_methods(scheme) if methods is None else methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ParameterError(f"methods: unknown {unknown or list(methods)!r}; choose from {', '.join(METHODS)}")
    xp = get_namespace(backend)
    dt_x = float_dtype(xp, dtype)
    img = xp.asarray(np.asarray(image, dtype=np.float64) if isinstance(image, (list, np.ndarray)) else image, dtype=dt_x)
    check_image(img, xp)
    check_kernel_size(kernel, tuple(img.shape), mode)
    op = CnnOperator(img, int(kernel), mode=mode, fft=Fft(xp, impl=fft))
    result: dict[str, Any] = {"kernel": int(kernel), "scheme": scheme, "dt": dt, "a": a, "beta": beta, "mode": mode,
                              "image_shape": [int(img.shape[0]), int(img.shape[1])], "backend": backend, "dtype": dtype}
    kw: dict[str, Any] = {"scheme": scheme}
    if p is not None:
        result.update(momentum=p.momentum, d=p.damping, eta=p.eta)
        kw["damping"] = p.damping
    if "theory" in methods:
        result["theory"] = theory_bounds(op, dt, a, beta, region="paper", **kw)
    if "theory_exact" in methods:
        result["theory_exact"] = theory_bounds(op, dt, a, beta, region="exact", **kw)
    if "exact" in methods:
        result["exact"] = exact_bounds(op, dt, a, beta, **kw)
    if "simulated" in methods:
        result["simulated"] = simulated_bounds(op, dt, a, beta, rtol=rtol, steps=steps, operator=operator, **kw)
    return result
