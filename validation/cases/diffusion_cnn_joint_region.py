"""Case ``diffusion-cnn-joint-region``: Algorithm 1's stability region with the one-layer CNN's z(ω).

Sun, Lao, Sundaramoorthi, Yezzi, "Accelerated PDEs for Construction and Theoretical Analysis of an
SGD Extension", (4), (11), (17)-(20) and appendix B footnote 2, with the gradient of the first
paper's linearized one-layer CNN (appendix D-E, eq. (44)) kept.  The quadratic version is
``diffusion-joint-region`` (:mod:`workbench.validation.cases.diffusion_joint_region`).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from workbench.solvers.stepping.bisect import bracket_gap
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.dynamics.diffusion import beta_max
from workbench.solvers.core.lambdify import lambdify

from workbench.validation.plots import pyplot
from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict
from workbench.validation.shared.diffusion import CRITERION, bisect_beta, diverging

__all__ = ["cnn_diverges", "cnn_joint_beta_max", "cnn_mode_spectrum"]

# ==========================================================================================
# Case ``diffusion-cnn-joint-region``: the joint region with the one-layer CNN's z(ω)
# ==========================================================================================
#
# Beyond the paper (its footnote 2): keep the gradient of the linearized one-layer CNN of the
# first paper, ∇E(K) = αK + c·GK (+ a constant forcing, irrelevant to stability), with
# c = aβ/2 and G the image's Gram operator (:class:`workbench.solvers.cnn.correlation.CnnOperator`).  In
# "periodic" mode with a kernel as large as the image (w = H = W, the w → ∞ limit of the
# first paper's Fourier bounds), G and the periodic Laplacian (5) on the kernel are both
# circulant on the same grid, so they share the DFT modes: mode ω has Hessian eigenvalue
# z(ω) = α + c|Î(ω)|² (first paper, (44)) and Laplacian eigenvalue −κ(ω),
# κ(ω) = Σ_k (2 − 2cos ω_k).  Each mode then obeys the joint polynomial of
# :func:`workbench.derivations.diffusion.joint_polynomial` with h = ηz(ω), m = γ − βκ(ω), so the largest
# stable β is  min over modes with κ > 0 of  B(h(ω))/κ(ω),  where B(h) = 4N·β_max(h) of
# :func:`workbench.derivations.diffusion.joint_beta_max` (N-free), provided 0 < h(ω) < 2(1+γ)/(1+2γ)
# for every mode (Nesterov's region; otherwise no β is stable).

def _b_numerators() -> tuple[Any, Any, Any]:
    """Compiled ``B(h) = 4N β_max(h)`` for 0 < h < 1 and h > 1, and the h range's upper end in γ.

    Through :func:`workbench.solvers.core.lambdify.lambdify`, which compiles each expression once and caches it.
    """
    import sympy as sp

    from workbench.derivations import diffusion as Dd

    lo, hi, up = Dd.joint_beta_max()
    return (lambdify(sp.expand(4 * Dd.N * lo), (Dd.gamma, Dd.h), np),
            lambdify(sp.expand(4 * Dd.N * hi), (Dd.gamma, Dd.h), np),
            lambdify(up, (Dd.gamma,)))


def cnn_mode_spectrum(image: np.ndarray, alpha: float, c: float, eta: float) -> tuple[np.ndarray, np.ndarray]:
    """``(h(ω), κ(ω))`` on the full DFT grid of ``image``: h = η(α + c|Î(ω)|²), κ = Σ(2 − 2cos ω_k)."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or min(img.shape) < 2 or not np.all(np.isfinite(img)):
        raise ParameterError(f"image: expected a finite 2-D array of size >= 2x2, got shape {img.shape}")
    eta = float(eta)
    if not (math.isfinite(eta) and eta > 0):
        raise ParameterError(f"eta: must be finite and > 0, got {eta!r}")
    power = np.abs(np.fft.fft2(img)) ** 2
    w1 = 2 * np.pi * np.fft.fftfreq(img.shape[0])
    w2 = 2 * np.pi * np.fft.fftfreq(img.shape[1])
    kap = (2 - 2 * np.cos(w1))[:, None] + (2 - 2 * np.cos(w2))[None, :]
    return eta * (float(alpha) + float(c) * power), kap


def cnn_joint_beta_max(h: np.ndarray, kappa: np.ndarray, gamma: float) -> dict[str, Any]:
    """Largest stable β of Algorithm 1 over the modes ``(h, κ)`` (joint region, strict conditions).

    Returns ``beta_max`` (``inf`` if no mode with κ > 0 constrains β; ``0`` with
    ``feasible = False`` if some h lies outside ``(0, 2(1+γ)/(1+2γ))``) and the binding mode's
    index, h and κ.
    """
    blo, bhi, up = _b_numerators()
    g = float(gamma)
    h = np.asarray(h, dtype=np.float64)
    kappa = np.asarray(kappa, dtype=np.float64)
    h_hi = float(up(g))
    feasible = bool(np.all((h > 0) & (h < h_hi)))
    if not feasible:
        return {"beta_max": 0.0, "feasible": False, "h_upper": h_hi, "mode": None, "h": None, "kappa": None}
    with np.errstate(divide="ignore", invalid="ignore"):
        B = np.where(h < 1, blo(g, h), np.where(h > 1, bhi(g, h), np.inf))
        per = np.where(kappa > 1e-12, B / kappa, np.inf)
    i = int(np.argmin(per))
    idx = tuple(int(k) for k in np.unravel_index(i, per.shape))
    return {"beta_max": float(per.flat[i]), "feasible": True, "h_upper": h_hi, "mode": list(idx),
            "h": float(h.flat[i]), "kappa": float(kappa.flat[i]), "per_mode": per}


def cnn_diverging(betas: Any, gamma: float, eta: float, image: np.ndarray, alpha: float, c: float, steps: int,
                  seed: int = 0) -> np.ndarray:
    """Algorithm 1 (periodic Laplacian on the whole kernel) with ∇E(K) = αK + c·GK from random (K^0, v^0).

    :func:`workbench.validation.shared.diffusion.diverging` with that gradient (one batch over ``betas``),
    so the same divergence criterion (``CRITERION`` there); G is
    :meth:`workbench.solvers.cnn.correlation.CnnOperator.gram` in periodic mode with w = H = W.
    """
    from workbench.solvers.cnn.correlation import CnnOperator

    img = np.asarray(image, dtype=np.float64)
    op = CnnOperator(img, img.shape[0], "periodic")
    return diverging(betas, gamma, eta, img.shape, "periodic", steps, seed=seed,
                     grad=lambda th: alpha * th + c * op.gram(th))


def cnn_diverges(beta: float, *args: Any, **kw: Any) -> bool:
    """:func:`cnn_diverging` at one β."""
    return bool(cnn_diverging([beta], *args, **kw)[0])


def _images(size: int) -> dict[str, np.ndarray]:
    ii, jj = np.indices((size, size))
    checker = np.where((ii + jj) % 2 == 0, -1.0, 1.0)          # the first paper's input, at size x size
    noise = np.random.default_rng(11).standard_normal((size, size))
    return {"checkerboard": checker, "white noise (seed 11)": noise}


RULE = ("confirmed if for every image the predicted joint region is feasible and the simulated bracket of the "
        "largest stable beta lies within 2 rtol (relative) of min_omega B(eta z(omega))/kappa(omega); refuted otherwise")


def judge(numbers: dict) -> Verdict:
    """Verdict of the joint region with the one-layer CNN's z(omega) (second paper with the first's (44); beyond both).

    Parameters
    ----------
    numbers : dict
        ``rtol`` and ``rows``: per image ``feasible`` and ``rel_diff`` (bracket vs prediction).
    """
    bad = [r["image"] for r in numbers["rows"] if not (r["feasible"] and r["rel_diff"] <= 2 * numbers["rtol"])]
    worst = max(r["rel_diff"] for r in numbers["rows"])
    if bad:
        return Verdict("refuted", RULE, f"prediction missed for {', '.join(bad)} (largest gap {worst:.3g})")
    return Verdict("confirmed", RULE, f"largest |simulated - predicted|/predicted = {worst:.3g}")


@case("diffusion-cnn-joint-region",
      claim="(beyond the paper; its footnote 2) with the one-layer CNN's linearized gradient kept, z(omega) = "
            "alpha + c|I^(omega)|^2, the largest stable diffusion on the kernel is min over modes of "
            "B(eta z(omega))/kappa(omega), B(h) = 4N beta_max(h) of the quadratic joint region; (11) is its "
            "z -> 0 limit",
      source="Sun, Lao, Sundaramoorthi, Yezzi, 'Accelerated PDEs ... SGD Extension', (4), (11), (17)-(20), "
             "appendix B footnote 2; first paper (Surprising Instabilities...), appendix D-E, eq. (44)", paper=0,
      where="second paper (4), (11), (17)-(20) with the first paper's (44) (beyond the papers)")
def diffusion_cnn_joint_region(ctx: Context) -> dict:
    quick = ctx.quick
    rtol = 1e-2 if quick else 2e-3
    steps = 1500 if quick else 4000
    size, gamma = 8, 0.9
    imgs = _images(size)
    h_hi = float(_b_numerators()[2](gamma))
    # (image, c, alpha, eta): c = a*beta/2 of the first paper (a = -0.5, beta = 1 -> c = -1/4), and the sign flipped
    configs = []
    for name, img in imgs.items():
        pmax = float(np.max(np.abs(np.fft.fft2(img)) ** 2))
        for c in (-0.25, 0.25):
            if c < 0:      # alpha just above the lower bound c*pmax: z smallest at the image's strongest mode
                alpha = 1.05 * (-c) * pmax
                eta = 0.8 * h_hi / (alpha + c * float(np.min(np.abs(np.fft.fft2(img)) ** 2)))
            else:          # small alpha: z largest at the strongest mode, eta puts it at h = 0.9
                alpha = 1.0
                eta = 0.9 / (alpha + c * pmax)
            configs.append((name, c, alpha, eta))
    if quick:
        configs = configs[:2]
    rows, table = [], []
    for name, c, alpha, eta in configs:
        img = imgs[name]
        h, kap = cnn_mode_spectrum(img, alpha, c, eta)
        pr = cnn_joint_beta_max(h, kap, gamma)
        paper = beta_max(gamma, 2)
        sim, br = bisect_beta(pr["beta_max"], rtol, cnn_diverging, gamma=gamma, eta=eta, image=img, alpha=alpha, c=c,
                              steps=steps)
        rel = bracket_gap(br, pr["beta_max"])                   # the measured bracket vs the prediction
        rows.append({"image": name, "c": c, "alpha": alpha, "eta": eta, "gamma": gamma, "h_min": float(np.min(h)),
                     "h_max": float(np.max(h)), "h_upper": pr["h_upper"], "binding_mode": pr["mode"],
                     "binding_h": pr["h"], "binding_kappa": pr["kappa"], "beta_max_paper": paper,
                     "beta_max_predicted": pr["beta_max"], "beta_max_simulated": sim, "bracket": br,
                     "rel_diff": rel, "feasible": bool(pr["feasible"]), "shift_vs_paper": pr["beta_max"] / paper - 1,
                     "h_modes": h.ravel().tolist(), "kappa_modes": kap.ravel().tolist(),
                     "per_mode_bound": [v if math.isfinite(v) else None for v in pr["per_mode"].ravel().tolist()]})
        table.append([name, c, alpha, eta, float(np.min(h)), float(np.max(h)), str(pr["mode"]), pr["h"], pr["kappa"],
                      paper, pr["beta_max"], sim, rel, pr["beta_max"] / paper - 1])
    ctx.save_figures(figures({"rows": rows}))
    return {
        "prediction": "beta_max = min_omega B(eta z(omega))/kappa(omega), B(h) = gamma + (2-h)/(2(1-h)) (h < 1), "
                      "gamma + 1/(h-1) (h > 1), z(omega) = alpha + c|I^(omega)|^2, kappa = sum 2 - 2cos(omega_k)",
        "measurement": ("largest stable beta of Algorithm 1 on the kernel (w = H = W = 8, periodic Laplacian on both "
                        "axes, N = 2) with grad = alpha K + c G K (CnnOperator.gram, periodic), bisection"),
        "tolerance": f"|simulated - predicted| <= {2 * rtol:g} predicted ({steps} steps per run)",
        **judge({"rtol": rtol, "rows": rows}).fields(),
        "numbers": {"rtol": rtol, "steps": steps, "gamma": gamma, "size": size,
                    "criterion": "as diffusion-cfl: " + CRITERION, "rows": rows},
        "tables": [{"title": "joint region with the one-layer CNN's z(omega) (periodic, w = H = W = 8, N = 2)",
                    "columns": ["image", "c = a beta/2", "alpha", "eta", "h min", "h max", "binding mode",
                                "h there", "kappa there", "beta_max (11)", "predicted", "simulated",
                                "|sim - pred|/pred", "pred/(11) - 1"],
                    "rows": table}],
        "notes": ("Periodic mode with the kernel as large as the image: the Gram operator and the Laplacian share "
                  "the DFT modes, so the stability is exact per mode. The paper's (11) is the bound of a mode with "
                  "h = 0 and kappa = 4N; once the gradient is kept, each mode's bound rises with h (B(h) > 1 + "
                  "gamma for 0 < h < 2(1+gamma)/(1+2gamma)), so b_max moves up by an amount set by the smallest "
                  "h among the modes of largest kappa. With c < 0 (the first paper's a = -0.5) and alpha near its "
                  "lower bound, the strongest image mode has the smallest h; for the checkerboard that is the "
                  "Laplacian's top mode (pi, pi), so (11) barely moves. Flipping the sign of c gives that mode "
                  "h = 0.9 and moves the binding mode to a neighbour with smaller kappa: the shift is then "
                  "set by 8/kappa of that neighbour. In valid mode or with w < H the two operators do not "
                  "commute and the per-mode formula is not exact (not covered here)."),
    }
def figures(numbers: dict) -> list[tuple]:
    """The case's figure, from its ``numbers`` alone: (file name, Figure, caption)."""
    return [_cnn_region_figure(numbers["rows"])]




def _cnn_region_figure(rows: list[dict]) -> tuple:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7.0, 5.0), layout="constrained")
    for r in rows:
        k = np.asarray(r["kappa_modes"])
        b = np.asarray([np.inf if v is None else v for v in r["per_mode_bound"]])
        sel = np.isfinite(b)
        lab = f"{r['image']}, c = {r['c']:+g}"
        pts = ax.scatter(k[sel], b[sel], s=10, alpha=0.6, label=f"{lab}: per-mode bound B(h)/κ")
        ax.scatter([r["binding_kappa"]], [r["beta_max_simulated"]], marker="*", s=120, color=pts.get_facecolor()[0],
                   edgecolor="k", zorder=4, label=f"{lab}: simulated β_max")
    ks = np.linspace(0.5, 8, 100)
    ax.plot(ks, (1 + rows[0]["gamma"]) / ks, "k--", lw=0.8, label="(1+γ)/κ (h = 0)")
    ax.axhline(rows[0]["beta_max_paper"], color="k", ls=":", lw=0.8, label="(11), N = 2")
    ax.set_yscale("log")
    ax.set_ylim(0.1, 20)
    ax.set_xlabel("κ(ω), magnitude of the Laplacian eigenvalue of the mode")
    ax.set_ylabel("largest stable diffusion β for the mode")
    ax.set_title("Joint region with the one-layer CNN's z(ω): modes and the binding one")
    fig.legend(loc="outside lower center", ncol=2, frameon=False)
    return ("diffusion_cnn_joint_region.png", fig, (
        "Per Fourier mode ω of the kernel, the largest stable diffusion β = B(η z(ω))/κ(ω) of the joint region "
        "(dots), for each image; the star is the simulated β_max at the binding mode. Dashed: (1+γ)/κ, the "
        "bound without the gradient term (h = 0); dotted: the paper's (11) for N = 2. Log scale in β."))
