"""Bounds on the weight decay α of the linearized one-layer CNN, for every registered scheme, three ways.

First paper (Sun et al. 2022), appendices D.3 and E. A registered optimizer
(:mod:`workbench.derivations.schemes.registry`) with learning rate η acts on one eigencomponent of the
operator that replaces |Î(ω)|² through h = ηz, z = α + ½aβμ, and is stable iff every
h lies in the scheme's exact interval (h_lower, h_upper)
(:func:`workbench.solvers.stepping.optimizers.h_interval`): (0, 2) for gd, i.e. forward Euler (21) with
η = Δt; (0, 2(1+μ)/(1+2μ)) for Nesterov's semi-implicit scheme (37)-(38), i.e.
0 < z < 4(2 + dΔt)/((6 − dΔt)Δt²) in the paper's (Δt, d). The α interval
(:func:`workbench.derivations.regions.alpha_bounds_z`, read as a stored tree) is evaluated on three
spectra:

1. ``theory``       — min/max of |Î(ω)|² over the image's DFT with the region the
                      source states: (26)–(27) for gd, (45)–(47) for Nesterov (w → ∞);
                      the exact region for schemes whose source states none;
   ``theory_exact`` — the same Fourier extremes with the exact region (for schemes
                      whose stated region differs from the exact one);
2. ``exact``        — min/max eigenvalue of the windowed Gram operator G (Lanczos with
                      FFT products, certified residuals) with the exact region: what the
                      scheme really iterates; no time stepping;
3. ``simulated``    — the scheme is run (:mod:`workbench.solvers.cnn.simulated`): the predicted edges
                      (the exact bounds when computed) confirmed by two runs each over the horizon
                      the edge needs (repeated squaring of the one-step map where it applies), else
                      a scan placed by the prediction and bisection; an edge whose horizon is out of
                      the budget is reported as nan with the horizon it needs.

2 and 3 agree to the bisection tolerance (for runs long enough to resolve the
growth, see :mod:`workbench.solvers.stepping.divergence`). In periodic mode with w = H = W, theory_exact
and exact coincide; for a smaller window G is a compression of the circulant
operator, its eigenvalues interlace, and the windowed stable interval contains the
Fourier one. An empty stable interval is reported as ``"empty": true`` with the reason.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from workbench.derivations.schemes import derived as dopt
from workbench.derivations.schemes.trees import evaluate

from workbench.solvers.core.backend import Fft, float_dtype, get_namespace
from workbench.solvers.core.checks import ParameterError, check_finite, check_image, check_real, check_kernel_size, check_mode, check_positive
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.stepping.optimizers import Resolved, h_interval, paper_h_upper, resolve_scheme
from workbench.solvers.stepping.powers import DEFAULT_WORK

if TYPE_CHECKING:
    from workbench.solvers.stepping.divergence import DivergenceCriterion
# the stepper, the bisection, the simulated search and the Lanczos extremes are imported by the methods that use
# them, so that ``bounds --methods theory`` loads none of them (a fast start-up)

__all__ = ["alpha_bounds_from_spectrum", "z_region", "edge_gap", "disagreement", "theory_bounds", "exact_bounds",
           "compute_bounds", "METHODS", "default_methods", "resolve_scheme"]

METHODS = ("theory", "theory_exact", "exact", "simulated")
_ARGS = ("z_lo", "z_hi", "a", "beta", "P_min", "P_max")   # the symbols of regions.alpha_bounds_z


def default_methods(scheme: str | Resolved) -> tuple[str, ...]:
    """Methods run when none are named: ``theory_exact`` only where the source's region is not exact."""
    opt = scheme.optimizer if isinstance(scheme, Resolved) else dopt.get(scheme)
    return METHODS if opt.paper_region is not None else ("theory", "exact", "simulated")


def z_region(res: Resolved, region: str = "exact") -> tuple[float, float]:
    """``(z_lo, z_hi) = (h_lower, h_upper)/η`` of the resolved scheme; ``region="paper"`` uses the stated end."""
    reg = h_interval(res)
    hi = reg.upper
    if region == "paper":
        stated = paper_h_upper(res)
        hi = hi if stated is None else stated
    elif region != "exact":
        raise ParameterError(f"region: unknown {region!r}; use paper or exact")
    return reg.lower / res.lr, hi / res.lr


def alpha_bounds_from_spectrum(res: Resolved, a: float, beta: float, p_min: float, p_max: float, *,
                               region: str = "exact") -> tuple[float, float]:
    """(α_lower, α_upper) for a spectrum in [p_min, p_max] and the scheme's region (first paper (26)-(27), (46)-(47)).

    The expressions are :func:`workbench.derivations.regions.alpha_bounds_z` (general in the sign
    of a), evaluated from their stored trees (:func:`workbench.derivations.schemes.derived.alpha_bounds_z`).
    """
    a, beta = check_finite("a", a), check_positive("beta", beta)
    p_min, p_max = check_finite("p_min", p_min), check_finite("p_max", p_max)
    if p_min > p_max:
        raise ParameterError(f"p_min: {p_min!r} > p_max {p_max!r}")
    zl, zh = z_region(res, region)
    lower, upper = dopt.alpha_bounds_z()
    env = dict(zip(_ARGS, (zl, zh, a, beta, p_min, p_max)))
    try:
        lo, hi = float(evaluate(lower, env)), float(evaluate(upper, env))
    except OverflowError:
        lo = hi = math.inf
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ParameterError(f"a: the bounds overflow (a={a!r}, beta={beta!r}, spectrum up to {p_max:.3g}, "
                             f"z_hi={zh:.3g}); rescale the image or a")
    return lo, hi


def _empty(out: dict, z_lo: float, z_hi: float, a: float, beta: float, p_min: float, p_max: float) -> dict:
    if out["alpha_lower"] < out["alpha_upper"]:
        out["empty"] = False
        return out
    spread = 0.5 * abs(a) * beta * (p_max - p_min)
    out.update(empty=True, reason=f"the stable interval is empty: the spectrum's spread 1/2|a|beta(P_max - P_min) = "
                                   f"{spread:.6g} is not smaller than the region's width z_hi - z_lo = "
                                   f"{z_hi - z_lo:.6g}, so no alpha puts every mode inside the region")
    return out


def _source(res: Resolved, region: str) -> str:
    opt = res.optimizer
    if region == "paper" and opt.paper_region is not None:
        return f"{opt.paper_region_source}, over the extremes of |I^(w)|^2 (w -> infinity)"
    reg = h_interval(res)
    return (f"exact region of {opt.name} ({opt.citation}), {reg.lower:.6g} < eta*z < {reg.upper:.6g} "
            f"({reg.method}), over the extremes of |I^(w)|^2 (w -> infinity)")


def theory_bounds(op: CnnOperator, res: Resolved, a: float = -0.5, beta: float = 1.0, *,
                  region: str = "paper") -> dict:
    """Fourier bounds over the DFT of the whole image (w → ∞), with the source's or the exact region."""
    xp = op.xp
    power = op.power_spectrum()
    p_min, p_max = float(xp.min(power)), float(xp.max(power))
    lo, hi = alpha_bounds_from_spectrum(res, a, beta, p_min, p_max, region=region)
    zl, zh = z_region(res, region)
    out = {"alpha_lower": lo, "alpha_upper": hi, "P_min": p_min, "P_max": p_max, "z_upper": zh,
           "source": _source(res, region)}
    return _empty(out, zl, zh, a, beta, p_min, p_max)


def exact_bounds(op: CnnOperator, res: Resolved, a: float = -0.5, beta: float = 1.0, *, rtol: float = 1e-9,
                 eig_method: str = "auto") -> dict:
    """Bounds from the extreme eigenvalues of the windowed operator G and the scheme's exact region.

    First paper, (26)-(27) and appendix D.3, over the spectrum of the windowed G instead of
    the image's DFT. The Lanczos iteration stops each end of the spectrum when the α bound
    it fixes is known to ``rtol`` of its own value (:func:`~workbench.solvers.cnn.spectrum.alpha_extremes`;
    the lower end certified by G being positive semi-definite), so a bound fixed by a
    resolved end costs only the steps that end needs.

    Returns
    -------
    dict
        ``alpha_lower``, ``alpha_upper``, ``mu_min``, ``mu_max``, ``z_upper``, ``rtol``,
        ``eig_error`` (the larger end's certified error), ``eig_steps``, ``eig_method``,
        ``eig_converged`` (both ends), ``eig_converged_lower``/``eig_converged_upper``
        (the end that fixes each α bound met its tolerance), ``alpha_lower_error``/
        ``alpha_upper_error`` (certified bounds on each α bound's error: ½|a|β times the
        Lanczos residual of its end, or θ_min for the PSD lower end) and ``empty``.
    """
    from workbench.solvers.cnn.spectrum import alpha_extremes

    rtol = check_positive("rtol", rtol)
    zl, zh = z_region(res)
    s = 0.5 * float(a) * float(beta)
    ex = alpha_extremes(op, s, zh, rtol=rtol, method=eig_method, z_lo=zl)
    # PSD: eigenvalues below 0 are rounding
    mu_min, mu_max = max(ex.lambda_min, 0.0), ex.lambda_max
    lo, hi = alpha_bounds_from_spectrum(res, a, beta, mu_min, mu_max)
    fixes_lower, fixes_upper = (ex.converged_max, ex.converged_min) if s < 0 else (ex.converged_min, ex.converged_max)
    err_lower, err_upper = (ex.error_max, ex.error_min) if s < 0 else (ex.error_min, ex.error_max)
    out = {"alpha_lower": lo, "alpha_upper": hi, "mu_min": mu_min, "mu_max": mu_max, "z_upper": zh, "rtol": rtol,
           "eig_error": max(ex.error_min, ex.error_max), "eig_steps": ex.steps, "eig_method": ex.method,
           "eig_converged": ex.converged, "eig_converged_lower": bool(fixes_lower),
           "eig_converged_upper": bool(fixes_upper),
           "alpha_lower_error": abs(s) * err_lower, "alpha_upper_error": abs(s) * err_upper}
    return _empty(out, zl, zh, a, beta, mu_min, mu_max)


def edge_gap(simulated: dict, exact: dict, side: str) -> float:
    """How far the simulated edge can be from the exact bound, relative to it.

    The simulation places the edge inside its bracket (unstable side, stable side), so
    ``max(|u − e|, |s − e|)/|e|`` bounds the distance; for a confirmed seeded bracket
    this is rtol/2 (not 0: the midpoint equals the prediction by construction, the
    bracket is what was measured).  ``inf`` when the simulation found no edge.
    """
    e = exact[f"alpha_{side}"]
    u, s = simulated.get(f"bracket_{side}", [None, None])
    if u is None or s is None or not math.isfinite(e) or e == 0:
        return math.inf if u is None or s is None else max(abs(u - e), abs(s - e))
    return max(abs(u - e), abs(s - e)) / abs(e)


def compute_bounds(
    image: Any,
    kernel: int,
    dt: float | None = None,
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
    scheme: str = "gd",
    momentum: float | None = None,
    damping: float | None = None,
    lr: float | None = None,
    params: dict[str, Any] | None = None,
    seeded: bool = True,
    exact_rtol: float = 1e-9,
    max_steps: int = 2 ** 22,
    work: float = DEFAULT_WORK,
) -> dict:
    """Theory, exact windowed and simulated α bounds for one image, kernel size and scheme.

    Returns the JSON contract of ``workbench bounds --json``: ``kernel``, ``scheme`` (the
    registry name), ``lr``, ``params`` (the hyperparameters), ``dt`` (when given), ``a``,
    ``beta``, ``mode`` (momentum schemes also echo ``momentum``, ``d`` and ``eta``), then one
    dict per requested method with ``alpha_lower``/``alpha_upper`` and ``empty``:
    ``theory`` (the source's Fourier bounds), ``theory_exact`` (the exact region over the
    same Fourier extremes), ``exact`` (windowed) and ``simulated`` (which also has
    ``rtol``). ``methods=None`` runs :func:`default_methods` of the scheme. With
    ``seeded`` the simulated search starts from the exact bounds (when computed).
    ``exact_rtol`` is the relative tolerance of each exact α bound (:func:`exact_bounds`).
    """
    res = resolve_scheme(scheme, dt, lr, params, momentum, damping)
    shift = res.optimizer.extra.get("curvature_shift", "")
    if shift and float(res.hyper.get(shift, 0.0)) != 0.0:   # never silently ignored
        raise ParameterError(f"{shift}: the one-layer CNN's weight decay is α itself, and these are bounds on α; "
                             f"give {shift}=0 (a decay w shifts both bounds by -w)")
    a, beta = check_finite("a", a), check_positive("beta", beta)
    check_mode(mode)
    methods = tuple(default_methods(res) if methods is None else methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ParameterError(f"methods: unknown {unknown or list(methods)!r}; choose from {', '.join(METHODS)}")
    xp = get_namespace(backend)
    dt_x = float_dtype(xp, dtype)
    check_real("image", image if hasattr(image, "dtype") else np.asarray(image))
    img = xp.asarray(np.asarray(image, dtype=np.float64) if isinstance(image, (list, np.ndarray)) else image, dtype=dt_x)
    check_image(img, xp)
    check_kernel_size(kernel, tuple(img.shape), mode)
    op = CnnOperator(img, int(kernel), mode=mode, fft=Fft(xp, impl=fft))
    result: dict[str, Any] = {"kernel": int(kernel), "scheme": res.name, "lr": res.lr, "params": dict(res.hyper),
                              "a": a, "beta": beta, "mode": mode,
                              "image_shape": [int(img.shape[0]), int(img.shape[1])], "backend": backend, "dtype": dtype}
    result.update(res.given)
    if "mu" in res.hyper:
        result["momentum"] = res.hyper["mu"]
        result["eta"] = res.lr
    if "theory" in methods:
        result["theory"] = theory_bounds(op, res, a, beta, region="paper")
    if "theory_exact" in methods:
        result["theory_exact"] = theory_bounds(op, res, a, beta, region="exact")
    if "exact" in methods:
        result["exact"] = exact_bounds(op, res, a, beta, rtol=exact_rtol)
    if "simulated" in methods:
        guess = None
        if seeded and "exact" in result and not result["exact"]["empty"]:
            guess = {"lower": result["exact"]["alpha_lower"], "upper": result["exact"]["alpha_upper"]}
        from workbench.solvers.cnn.simulated import simulated_bounds

        result["simulated"] = simulated_bounds(op, res, a, beta, rtol=rtol, steps=steps, operator=operator,
                                               guess=guess, confirm=seeded, max_steps=max_steps, work=work)
        if "exact" in result:
            _note_disagreement(result["simulated"], result["exact"])
    return result


def disagreement(simulated: dict, exact: dict, side: str) -> float | None:
    """Distance of the simulated edge from the exact one in units of the tolerance (None: nothing to compare).

    Relative to the exact bound, or, for an edge at 0 on the interval's scale, absolute against
    ``zero_scale`` of the simulated result (the resolution ``1/(lr·steps)`` the finite
    horizon allows); a value above 1 is a disagreement.
    """
    if exact.get("empty") or simulated.get("empty"):
        return None if exact.get("empty") == simulated.get("empty") else math.inf
    e, v = exact[f"alpha_{side}"], simulated[f"alpha_{side}"]
    if not (math.isfinite(e) and math.isfinite(v)):
        return math.inf
    tol = float(simulated["rtol"]) * abs(e)
    zero = float(simulated.get("zero_scale", 0.0))
    if abs(e) <= zero:                          # an edge at 0 on the interval's scale: judged on that scale
        tol = max(tol, zero)
    return abs(v - e) / tol if tol > 0 else (0.0 if v == e else math.inf)


def _note_disagreement(sim: dict, ex: dict) -> None:
    """Add a note to ``sim`` for each edge that differs from the exact bound by more than the tolerance."""
    notes = list(sim.get("notes") or ([sim["note"]] if sim.get("note") else []))
    for side in ("lower", "upper"):
        d = disagreement(sim, ex, side)
        if d is None or d <= 1.0 or side in sim.get("unresolved", ()):
            continue
        need = sim.get("horizon_steps", {}).get(side)
        why = (f"a finite-horizon estimate: resolving this edge needs ~{need:.2g} steps, {sim['steps']} were run"
               if need is not None and need > sim["steps"] else
               "the simulation does not confirm the exact bound at this tolerance (check the criterion and steps)")
        if sim.get("empty") != ex.get("empty"):
            why = f"one method finds the interval empty, the other not; {why}"
        notes.append(f"alpha_{side}: simulated {sim[f'alpha_{side}']:.6g} differs from exact "
                     f"{ex[f'alpha_{side}']:.6g} by more than rtol={sim['rtol']:g}: {why}")
    if notes:
        sim["note"] = "; ".join(notes)
        sim["notes"] = notes
