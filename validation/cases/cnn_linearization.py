"""Case ``cnn-linearization``: the nonlinear scheme reproduces its linearization near K = 0.

First paper (Sun et al. 2022), appendix D.2, eqs. (17)–(20): with r′(x) ≈ r′(0) + r″(0)x
= ½ + ½βx the gradient (11) becomes the linear operator of (20). One step of the
nonlinear scheme (13) from K = εK̃ and one step of the linearized scheme (21) with
a = ŷ(εK̃) − y then differ by Δt·(ŷ − y)·Σ_x [r′(u) − ½ − ½βu] I(x+z), u = ε(K̃⋆I): the
order of that remainder in ε is read off the Taylor series of the Swish derivative
(SymPy), and measured as the slope of log‖difference‖ against log ε.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from workbench.derivations import symbols as S
from workbench.derivations.cnn import swish
from workbench.solvers.core.backend import get_namespace, to_numpy
from workbench.solvers.cnn.bounds import exact_bounds
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.cnn.images import smooth
from workbench.solvers.stepping import stepper
from workbench.solvers.stepping.optimizers import resolve
from workbench.solvers.cnn.schemes import linear_force, linear_step, nonlinear_gradient, run_cnn

from workbench.validation.plots import pyplot
from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict

BETA, B, Y = 1.0, 0.0, 1.0


def remainder_order() -> int:
    """Leading power of u in r′(u) − r′(0) − r″(0)u for the Swish r (SymPy series)."""
    r1 = sp.diff(swish(S.u), S.u)
    rem = r1 - r1.subs(S.u, 0) - sp.diff(r1, S.u).subs(S.u, 0) * S.u
    lead = sp.series(rem, S.u, 0, 8).removeO().as_ordered_terms()[-1]
    return int(sp.degree(lead, S.u))


#: slope tolerance of the log-log fit, and the largest departure (in log) of a point from the fitted line
SLOPE_TOL, FIT_TOL = 0.15, 0.1
RULE = (f"inconclusive if the log-log points depart from their fitted line by more than {FIT_TOL} (not in the "
        f"asymptotic range, the slope means nothing); confirmed if |slope - order| <= {SLOPE_TOL}, order being the "
        "Taylor remainder's order derived symbolically; refuted otherwise")


def judge(numbers: dict) -> Verdict:
    """Verdict of the linearization (17)-(20) of the first paper (Sun et al. 2022, appendix D.2).

    Parameters
    ----------
    numbers : dict
        ``slope``, ``predicted_order``, ``fit_max_residual``.
    """
    if numbers["fit_max_residual"] > FIT_TOL:
        return Verdict("inconclusive", RULE, f"log-log residual {numbers['fit_max_residual']:.3g}")
    gap = abs(numbers["slope"] - numbers["predicted_order"])
    why = f"slope {numbers['slope']:.3f} vs order {numbers['predicted_order']}"
    return Verdict("confirmed" if gap <= SLOPE_TOL else "refuted", RULE, why)


def figures(numbers: dict) -> list[tuple]:
    """The case's figure, from its ``numbers`` alone: (file name, Figure, caption)."""
    plt = pyplot()
    eps, diff = np.asarray(numbers["eps"]), np.asarray(numbers["difference"])
    order, slope = numbers["predicted_order"], numbers["slope"]
    fig, ax = plt.subplots(figsize=(7.0, 4.2), layout="constrained")
    ax.loglog(eps, diff, "o-", label="‖∇L_nonlinear − ∇L_linearized‖")
    ax.loglog(eps, diff[-1] * (eps / eps[-1]) ** order, "k--", label=f"slope {order} (Taylor remainder)")
    ax.set_xlabel("ε  (K = ε·K̃, max|K̃⋆I| = 1)")
    ax.set_ylabel("one-step gradient difference")
    ax.set_title(f"Linearization (17)-(20): measured slope {slope:.3f}")
    ax.legend(fontsize=8)
    return [("cnn_linearization.png", fig, (
        "Difference between one step of the nonlinear gradient (13) and of the linearized one (21) from "
        "K = εK̃, against ε, log-log; dashed: the slope the Taylor remainder of the Swish derivative predicts."))]


@case(
    "cnn-linearization",
    claim="For small K the nonlinear gradient-descent step (13) agrees with the linearized step (21) "
          "up to terms of higher order in K",
    source="Sun et al. 2022, appendix D.2 eqs. (17)-(20)", paper=1,
      where='appendix D.2, eqs. (17)-(20)')
def cnn_linearization(ctx: Context) -> dict:
    xp = get_namespace("numpy")
    n, w = (24, 5) if ctx.quick else (48, 7)
    op = CnnOperator(xp.asarray(smooth(n, seed=0)), w)
    rng = np.random.default_rng(1)
    kt = rng.standard_normal((w, w))
    kt /= float(np.max(np.abs(to_numpy(op.response(xp.asarray(kt))))))  # max |K~ * I| = 1
    eps = np.logspace(-3.5, -1.5, 7)  # asymptotic range: max|K*I| = eps
    K = xp.asarray(eps[:, None, None] * kt[None], dtype=xp.float64)
    ex = exact_bounds(op, resolve("gd", 1.0), -0.5, BETA)
    dt = 0.5 / (0.25 * ex["mu_max"])  # lower bound 0.5/dt: stable interval (0.5/dt, ~2/dt)
    alpha = 1.25 / dt
    al = xp.full((eps.size, 1, 1), alpha, dtype=xp.float64)
    grad, yhat = nonlinear_gradient(op, K, al, BETA, B, Y)
    nl = K - dt * grad  # the nonlinear step (13), as in workbench.solvers.cnn.schemes.nonlinear_step
    a_k = xp.reshape(yhat - Y, (-1, 1, 1))
    lin = linear_step(op, K, al, dt, a_k, BETA)
    diff = to_numpy(xp.sqrt(xp.sum(xp.sum((nl - lin) ** 2, axis=-1), axis=-1))) / dt
    slope = float(np.polyfit(np.log(eps), np.log(diff), 1)[0])
    order = remainder_order()
    fit = np.polyfit(np.log(eps), np.log(diff), 1)
    fit_residual = float(np.max(np.abs(np.polyval(fit, np.log(eps)) - np.log(diff))))
    # trajectories from K0 = 0.01 K~: nonlinear GD (13) against the linearized scheme (21) with
    # (i) a frozen at its K = 0 value s(-b) - y, as the paper's model (20) assumes, and
    # (ii) a = yhat(K_n) - y re-evaluated every step (isolates the Taylor remainder of r')
    a0 = float(1.0 / (1.0 + np.exp(B)) - Y)
    steps = 200 if ctx.quick else 500
    K0 = xp.asarray(1e-2 * kt)
    al1 = xp.asarray([[[alpha]]])

    def lin_force_updated(Kc):
        _, yh = nonlinear_gradient(op, Kc, al1, BETA, B, Y)
        return linear_force(op, Kc, al1, xp.reshape(yh - Y, (-1, 1, 1)), BETA)

    rn = run_cnn(op, [alpha], dt, force="nonlinear", beta=BETA, b=B, y=Y, steps=steps, K0=K0)
    rl = run_cnn(op, [alpha], dt, force="linear", a=a0, beta=BETA, steps=steps, K0=K0)
    ru = stepper.run("gd", lin_force_updated, xp.reshape(K0, (1, w, w)), dt, steps, members=[alpha])
    kn = to_numpy(rn.kernel)[0]
    traj_frozen = float(np.linalg.norm(kn - to_numpy(rl.kernel)[0]) / np.linalg.norm(kn))
    traj_updated = float(np.linalg.norm(kn - to_numpy(ru.kernel)[0]) / np.linalg.norm(kn))
    u_max = float(np.max(np.abs(to_numpy(op.response(xp.asarray(kn))))))

    ctx.save_figures(figures({"eps": eps.tolist(), "difference": diff.tolist(), "slope": slope,
                              "predicted_order": order}))
    return {
        "prediction": f"difference of the two steps is O(eps^{order}): r'(u) - 1/2 - beta*u/2 = "
                      f"{sp.series(sp.diff(swish(S.u), S.u), S.u, 0, 5).removeO() - sp.Rational(1, 2) - S.beta * S.u / 2}"
                      " + ... (r'''(0) = 0 for Swish, so the linearization is accurate to second order)",
        "measurement": f"log-log slope of the one-step gradient difference over eps in [{eps[0]:.1e}, {eps[-1]:.2g}]",
        "tolerance": "|slope - order| <= 0.15",
        **judge({"slope": slope, "predicted_order": order, "fit_max_residual": fit_residual}).fields(),
        "numbers": {"fit_max_residual": fit_residual, "image": f"smooth:{n}:0", "kernel": w, "dt": dt, "alpha": alpha, "beta": BETA, "b": B, "y": Y,
                    "eps": eps.tolist(), "difference": diff.tolist(), "slope": slope, "predicted_order": order,
                    "trajectory_steps": steps, "trajectory_rel_diff_frozen_a": traj_frozen,
                    "trajectory_rel_diff_updated_a": traj_updated,
                    "trajectory_max_preactivation": u_max, "a_frozen": a0},
        "tables": [{"title": "one-step difference of the gradients",
                    "columns": ["eps", "difference", "difference / eps^order"],
                    "rows": [[e, d, d / e ** order] for e, d in zip(eps, diff)]}],
        "notes": f"Trajectories over {steps} steps from K0 = 0.01*K~ (dt = {dt:.3g}, alpha = {alpha:.3g}): "
                 f"relative difference of the final kernels {traj_updated:.3g} against the linearized scheme with "
                 f"a = yhat(K_n) - y updated every step, and {traj_frozen:.3g} with a frozen at s(-b) - y = {a0:g} "
                 f"(the paper's a = -0.5 for y = 1, b = 0); largest final pre-activation |K*I| = {u_max:.3g}. "
                 "The Taylor step (17)-(19) is accurate; holding a = yhat - y constant, as (20) does, is the larger "
                 "approximation here: yhat depends on the sum of r(K*I) over all output pixels.",
    }
