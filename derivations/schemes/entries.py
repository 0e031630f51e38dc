"""The registered optimizers (:mod:`workbench.derivations.schemes.registry`), one entry each, with citations.

State-space convention: ``s' = A s − η B ∇f(C s)``, buffers that carry gradients
stored multiplied by η.  Each entry below is the whole definition of its scheme:
the analyzer, the numeric stepper and the bounds all read it.
"""
from __future__ import annotations

import sympy as sp

from workbench.derivations.schemes.derived import pde_check
from workbench.derivations.schemes.registry import Hyper, Optimizer, Parametrization, register
from workbench.derivations.symbols import d as _d
from workbench.derivations.symbols import dt as _dt
from workbench.derivations.von_neumann import mu

_M = sp.Matrix
_INF = float("inf")

# -- the first paper's (Δt, d) parametrization of the momentum PDE (36) -----------
_P_DT = Hyper("dt", _dt, 0.1, 0.0, _INF, lower_open=True, doc="time step Δt of the momentum PDE (36)")
_P_D = Hyper("d", _d, 1.0, 0.0, _INF, lower_open=True, doc="damping d of (36); needs d·Δt ≤ 2")


_PDE = Parametrization(
    "pde", (_P_DT, _P_D),
    {"lr": 2 * _dt ** 2 / (2 + _d * _dt), "mu": (2 - _d * _dt) / (2 + _d * _dt)},
    doc="Sun et al. 2022, appendix E: μ = (2 − dΔt)/(2 + dΔt), η = 2Δt²/(2 + dΔt)",
    check=pde_check,
)
_MU = Hyper("mu", mu, 0.9, 0.0, 1.0, doc="momentum coefficient μ", aliases=("momentum",))


def _heavy_ball(v: dict) -> tuple:
    m = v["mu"]
    return _M([[1 + m, -m], [1, 0]]), _M([1, 0]), _M([[1, 0]]), ("theta", "theta")


register(Optimizer(
    name="gd",
    title="gradient descent (forward Euler)",
    citation="Sun, Lao, Sundaramoorthi, Yezzi, NeurIPS 2022, appendix D.3, eq. (21)",
    hypers=(),
    record=lambda v: (_M([[1]]), _M([1]), _M([[1]]), ("theta",)),
    update="θ' = θ − η∇f(θ)",
    aliases=("euler", "forward-euler"),
    parametrizations=(Parametrization("pde", (Hyper("dt", _dt, 0.1, 0.0, _INF, lower_open=True,
                                                    doc="time step Δt = η"),),
                                      {"lr": _dt}, doc="forward Euler of the gradient flow: η = Δt"),),
))

register(Optimizer(
    name="heavy-ball",
    title="Polyak's heavy-ball momentum",
    citation="B. T. Polyak, Some methods of speeding up the convergence of iteration methods, "
             "USSR Comput. Math. Math. Phys. 4(5), 1964",
    hypers=(_MU,),
    record=_heavy_ball,
    update="θ' = θ + μ(θ − θ₋) − η∇f(θ)",
))

register(Optimizer(
    name="nesterov",
    title="Nesterov's accelerated gradient (the semi-implicit scheme of the momentum PDE)",
    citation="Y. Nesterov, Soviet Math. Dokl. 27, 1983; as the semi-implicit scheme (37)-(38) of "
             "Sun, Lao, Sundaramoorthi, Yezzi, NeurIPS 2022, appendix E",
    hypers=(_MU,),
    record=lambda v: (_M([[1 + v["mu"], -v["mu"]], [1, 0]]), _M([1, 0]), _M([[1 + v["mu"], -v["mu"]]]),
                      ("theta", "theta")),
    update="V = θ + μ(θ − θ₋),  θ' = V − η∇f(V)",
    parametrizations=(_PDE,),
    paper_region=lambda v: 2 * (1 + v["mu"]) / 3,
    paper_region_source="Sun et al. 2022, appendix E, eq. (45): Δt < 2/√(3z), i.e. h < 2(1 + μ)/3",
))

register(Optimizer(
    name="central-difference",
    title="central-difference scheme of the momentum PDE (heavy ball in (Δt, d))",
    citation="Sun, Lao, Sundaramoorthi, Yezzi, NeurIPS 2022, appendix E, eqs. (39)-(40)",
    hypers=(_MU,),
    record=_heavy_ball,
    update="K' = K + μ(K − K₋) − η∇L(K),  μ = (2 − dΔt)/(2 + dΔt), η = 2Δt²/(2 + dΔt)",
    parametrizations=(_PDE,),
))

_NU = Hyper("nu", sp.Symbol("nu", positive=True), 0.7, 0.0, 1.0, upper_open=False,
            doc="immediate discount ν (ν = 1: heavy ball in EMA form, ν = 0: gd)")
_BQ = Hyper("beta", sp.Symbol("beta", positive=True), 0.999, 0.0, 1.0,
            doc="EMA factor β of the momentum buffer", aliases=("momentum",))


def _qhm(v: dict) -> tuple:
    nu, b = v["nu"], v["beta"]
    # g_buf' = β g_buf + (1−β) g;  θ' = θ − η[(1−ν) g + ν g_buf'];  u = η g_buf
    return (_M([[1, -nu * b], [0, b]]), _M([1 - nu * b, -(1 - b)]), _M([[1, 0]]), ("theta", "buffer"))


register(Optimizer(
    name="qhm",
    title="quasi-hyperbolic momentum",
    citation="J. Ma, D. Yarats, Quasi-hyperbolic momentum and Adam for deep learning, ICLR 2019",
    hypers=(_NU, _BQ),
    record=_qhm,
    update="m' = βm + (1 − β)∇f(θ),  θ' = θ − η[(1 − ν)∇f(θ) + ν m']",
    extra={"solve_on_ranges": True},        # the region 0 < h < 2(1 + β)/(1 + β − 2βν) needs β < 1, ν ≤ 1
))

_K = Hyper("K", sp.Symbol("K", positive=True, integer=True), 3, 1, 8, upper_open=False,
           doc="number of velocity buffers", integer=True)
_BASE = Hyper("base", sp.Symbol("a", positive=True), 0.1, 0.0, 1.0, lower_open=True,
              doc="damping base a: β_i = 1 − a^(i−1), i = 1..K")


def _aggmo(v: dict) -> tuple:
    K, a = int(v["K"]), v["base"]
    betas = [1 - a ** i for i in range(K)]
    A = sp.zeros(K + 1, K + 1)
    A[0, 0] = 1
    for i, b in enumerate(betas, start=1):
        A[0, i] = b / K
        A[i, i] = b
    return A, _M([1] * (K + 1)), _M([[1] + [0] * K]), ("theta",) + ("buffer",) * K


register(Optimizer(
    name="aggmo",
    title="aggregated momentum (K velocity buffers)",
    citation="J. Lucas, S. Sun, R. Zemel, R. Grosse, Aggregated Momentum: Stability Through Passive "
             "Damping, ICLR 2019",
    hypers=(_K, _BASE),
    record=_aggmo,
    update="v_i' = β_i v_i − ∇f(θ),  θ' = θ + (η/K) Σ_i v_i',  β_i = 1 − a^(i−1)",
))

# -- the schemes of the training loops people run (torch.optim, optax) ----------------------
# Weight decay. L2 ("coupled") decay adds wd·θ to the gradient, i.e. it is gradient descent on
# f + (wd/2)‖θ‖²: the scheme sees the curvature H + wd·I. The record says so in
# ``extra["curvature_shift"]`` (the hyperparameter that shifts H), which the analysis and the
# stepper read; A, B, C stay those of the scheme on H. Decoupled decay (AdamW) multiplies θ by
# 1 − η·wd outside the preconditioned step: it enters A as ``decay`` = η·wd (the per-step factor).
_WD = Hyper("weight_decay", sp.Symbol("w_d", nonnegative=True), 0.0, 0.0, _INF,
            doc="L2 weight decay wd: the gradient is ∇f(θ) + wd·θ (curvature H + wd·I)")
_TAU = Hyper("dampening", sp.Symbol("tau", nonnegative=True), 0.0, 0.0, 1.0,
             doc="dampening τ of the momentum buffer (torch.optim.SGD)")
_B1 = Hyper("beta1", sp.Symbol("beta_1", nonnegative=True), 0.9, 0.0, 1.0,
            doc="EMA factor β₁ of the first moment", aliases=("b1",))
_DECAY = Hyper("decay", sp.Symbol("c", nonnegative=True), 0.0, 0.0, 2.0,
               doc="decoupled weight decay per step c = η·wd (AdamW): θ ← (1 − c)θ before the step; |1 − c| < 1")
_L2 = {"curvature_shift": "weight_decay"}


def _dampened(v: dict) -> tuple:
    m, tau = v["mu"], v["dampening"]
    # b' = μ b + (1 − τ) g;  θ' = θ − η b';  u = η b
    return _M([[1, -m], [0, m]]), _M([1 - tau, -(1 - tau)]), _M([[1, 0]]), ("theta", "buffer")


register(Optimizer(
    name="heavy-ball-dampened",
    title="momentum SGD with dampening and L2 weight decay (torch.optim.SGD without Nesterov)",
    citation="PyTorch documentation, torch.optim.SGD (the Sutskever et al. 2013 form of Polyak's heavy ball: "
             "ICML 2013, eq. (1)-(2)); L2 decay as the gradient of (wd/2)‖θ‖²",
    hypers=(_MU, _TAU, _WD),
    record=_dampened,
    update="b' = μb + (1 − τ)(∇f(θ) + wd·θ),  θ' = θ − η b'",
    extra=dict(_L2),
))


def _lookahead(v: dict) -> tuple:
    m = v["mu"]  # buffer u = ηb: u' = μu + η g, θ' = θ − μ²u − η(1 + μ) g
    return _M([[1, -m ** 2], [0, m]]), _M([1 + m, -1]), _M([[1, 0]]), ("theta", "buffer")


register(Optimizer(
    name="nesterov-lookahead",
    title="Nesterov momentum as torch.optim.SGD(nesterov=True) stores it (the look-ahead point)",
    citation="I. Sutskever, J. Martens, G. Dahl, G. Hinton, On the importance of initialization and momentum "
             "in deep learning, ICML 2013, eq. (3)-(4), in the variables of PyTorch's torch.optim.SGD",
    hypers=(_MU, _WD),
    record=_lookahead,
    update="b' = μb + ∇f(θ) + wd·θ,  θ' = θ − η(∇f(θ) + wd·θ + μ b')   (θ is the look-ahead point V)",
    extra=dict(_L2),
))


def _adam(v: dict) -> tuple:
    b1, c = v["beta1"], v["decay"]
    # frozen preconditioner P: in the coordinates of P^{-1}(H + wd I), u = η P^{-1} m:
    # u' = β₁u + η(1 − β₁)g,  θ' = (1 − c)θ − u'
    return _M([[1 - c, -b1], [0, b1]]), _M([1 - b1, -(1 - b1)]), _M([[1, 0]]), ("theta", "buffer")


register(Optimizer(
    name="adam",
    title="Adam / AdamW on the frozen-preconditioner linearization",
    citation="D. P. Kingma, J. Ba, Adam, ICLR 2015; I. Loshchilov, F. Hutter, Decoupled Weight Decay "
             "Regularization, ICLR 2019 (AdamW); frozen preconditioner and threshold (2 + 2β₁)/((1 − β₁)η) on "
             "λ₁(P⁻¹H), P = (1 − β₁ᵗ)·diag(√v̂ + ε): J. Cohen et al., Adaptive Gradient Methods at the Edge of "
             "Stability, arXiv 2207.14484, section 2",
    hypers=(_B1, _DECAY, _WD),
    record=_adam,
    update="m' = β₁m + (1 − β₁)(∇f(θ) + wd·θ),  θ' = (1 − c)θ − η P⁻¹ m'   (h = η·λ(P⁻¹(H + wd I)))",
    extra={**_L2, "preconditioner": "P = (1 − β₁ᵗ)·diag(√(v/(1 − β₂ᵗ)) + ε), frozen at the optimizer's step t"},
))

register(Optimizer(
    name="rmsprop",
    title="RMSprop (with optional heavy-ball momentum) on the frozen-preconditioner linearization",
    citation="T. Tieleman, G. Hinton, Lecture 6.5 RMSprop, COURSERA: Neural Networks for Machine Learning, 2012; "
             "PyTorch documentation, torch.optim.RMSprop; frozen-preconditioner analysis as in J. Cohen et al., "
             "arXiv 2207.14484, section 2",
    hypers=(Hyper("mu", mu, 0.0, 0.0, 1.0, doc="momentum μ of the preconditioned step", aliases=("momentum",)), _WD),
    record=_heavy_ball,
    update="b' = μb + P⁻¹(∇f(θ) + wd·θ),  θ' = θ − η b'   (P = diag(√v + ε), centered: √(v − ḡ²) + ε)",
    extra={**_L2, "preconditioner": "P = diag(√v + ε) (centered: √(v − ḡ²) + ε), frozen"},
))

# -- the second paper's Algorithm 1: a record whose coefficients involve the Laplacian ----------------
# v' = γv + ∇J(θ) + β∇²v (6),  θ' = θ − η[∇J(θ) + γv' + β∇²v'] (7).  With M = γ + βL (L the discrete
# Laplacian (5)) and the buffer u = ηv: u' = Mu + η∇J,  θ' = θ − M²u − η(1 + M)∇J — the Nesterov look-ahead
# record with μ replaced by the operator M.  On a Fourier mode L acts as −κ (κ = Σ_k 2(1 − cos ω_kΔx)/Δx²
# ∈ [0, κ_max], κ_max = 4N/Δx² periodic, < 4N/Δx² Neumann), so the analysis sees M = γ − βκ.
_GAMMA = Hyper("gamma", sp.Symbol("gamma", nonnegative=True), 0.9, 0.0, 1.0, doc="momentum γ of (6)-(7)",
               aliases=("momentum", "mu"))
_BETA_D = Hyper("beta", sp.Symbol("beta", nonnegative=True), 0.1, 0.0, _INF,
                doc="diffusion β of the velocity, (6)-(7); stable for every mode iff β < (1 + γ)/κ_max as h → 0 (11)")
_KAPPA = Hyper("kappa", sp.Symbol("kappa", nonnegative=True), 4.0, 0.0, _INF,
               doc="the Fourier mode analysed: the Laplacian (5) acts on it as −κ, κ ∈ [0, κ_max] "
                   "(κ_max = 4N for Δx = 1, periodic, even sizes)")


def _diffusion_nesterov(v: dict) -> tuple:
    return _lookahead({"mu": v["gamma"] + v["beta"] * v["L"]})   # the look-ahead record with μ → M = γ + βL


register(Optimizer(
    name="diffusion-nesterov",
    title="SGD-Nesterov with diffusion of the velocity (Algorithm 1; coefficients in the Laplacian L)",
    citation="Sun, Lao, Sundaramoorthi, Yezzi, Accelerated PDEs for Construction and Theoretical Analysis of an "
             "SGD Extension, eqs. (6)-(7) and Algorithm 1 (lines 6-8); Laplacian (5); CFL (10)-(11), Theorem 2",
    hypers=(_GAMMA, _BETA_D, _KAPPA),
    record=_diffusion_nesterov,
    update="v' = γv + ∇J(θ) + β∇²v,  θ' = θ − η[∇J(θ) + γv' + β∇²v']   (M = γ + βL, L = ∇² (5); a mode: L = −κ)",
    extra={"operator": "kappa",
           "cfl": "h → 0: the velocity mode γ − βκ must satisfy |γ − βκ| ≤ 1, i.e. β ≤ (1 + γ)/κ_max (11), "
                  "b·Δt ≤ Δx²/(2N) (10)"},
))
