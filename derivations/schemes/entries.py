"""The registered optimizers (:mod:`workbench.derivations.schemes.registry`), one entry each, with citations.

State-space convention: ``s' = A s − η B ∇f(C s)``, buffers that carry gradients
stored multiplied by η.  Each entry below is the whole definition of its scheme:
the analyzer, the numeric stepper and the bounds all read it.
"""
from __future__ import annotations

import sympy as sp

from workbench.derivations.schemes.registry import Hyper, Optimizer, Parametrization, register
from workbench.derivations.symbols import d as _d
from workbench.derivations.symbols import dt as _dt
from workbench.derivations.von_neumann import mu

_M = sp.Matrix
_INF = float("inf")

# -- the first paper's (Δt, d) parametrization of the momentum PDE (36) -----------
_P_DT = Hyper("dt", _dt, 0.1, 0.0, _INF, lower_open=True, doc="time step Δt of the momentum PDE (36)")
_P_D = Hyper("d", _d, 1.0, 0.0, _INF, lower_open=True, doc="damping d of (36); needs d·Δt ≤ 2")


def _pde_check(v: dict[str, float]) -> str | None:
    if v["d"] * v["dt"] > 2:
        return f"d: d*dt = {v['d'] * v['dt']:.6g} > 2 gives a negative momentum coefficient; need 0 < d*dt <= 2"
    return None


_PDE = Parametrization(
    "pde", (_P_DT, _P_D),
    {"lr": 2 * _dt ** 2 / (2 + _d * _dt), "mu": (2 - _d * _dt) / (2 + _d * _dt)},
    doc="Sun et al. 2022, appendix E: μ = (2 − dΔt)/(2 + dΔt), η = 2Δt²/(2 + dΔt)",
    check=_pde_check,
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
