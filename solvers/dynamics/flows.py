"""Continuous-time models of gradient descent: NGF, IGR, third-order flow and the principal flow.

Third paper (Rosca et al. 2023). For an objective E with gradient g = ∇E and Hessian
H = ∇²E = Σ λᵢ uᵢuᵢᵀ, all flows but the third-order one have the form
θ̇ = Σᵢ α(hλᵢ)(gᵀuᵢ)uᵢ (Table 1):

=========  ============================================  ==========================
``ngf``    −g                                            (2), α = −1
``igr``    −g − (h/2) H g                                (3), α = −(1 + hλ/2)
``third``  −g − (h/2)Hg − h²[(1/3)H²g + (1/12)∇³E[g,g]]  (8)
``pf``     Σ α_PF(hλᵢ)(gᵀuᵢ)uᵢ, α_PF(z) = log(1−z)/z     (12)
``pf+``    pf − (h²/12) ∇³E[g,g]                         (14)
=========  ============================================  ==========================

Complex values. For hλ > 1, log(1 − hλ) is complex and so is the PF: θ(t) leaves ℝᴰ.
The branch is the paper's (§3.1): for real z = hλ > 1, log(1 − z) = log(z − 1) + iπ.
For complex z (a complex θ gives a complex-symmetric Hessian, eigen-decomposed with
``numpy.linalg.eig``) the rule is extended as: Re z < 1 → principal log(1 − z);
Re z ≥ 1 → log(z − 1) + iπ. Each half-plane is then free of branch cuts; the two
branches differ by 2πi across Re z = 1 when Im z > 0. On a quadratic every branch
k gives (1 − hλ)^{t/h} e^{2πikt/h}, equal to GD at t = nh, so the choice only affects
the path between iterates. At hλ = 1 exactly, log 0 = −∞: GD removes that component
in one step and no finite vector field does; the field raises :class:`ParameterError`
when |1 − hλ| < :data:`SINGULAR_TOL` (the quadratic closed form handles it exactly,
0^{t/h} = 0 for t > 0). For |hλ| < 1e-6 the series −1 − z/2 − z²/3 − z³/4 is used
(α_PF → −1 as λ → 0, so flat directions are fine).

Complex θ needs E's analytic continuation: :meth:`FlowProblem.from_symbolic` lambdifies
the exact gradient, Hessian and third-derivative contraction of a
:class:`workbench.derivations.objectives.SymbolicObjective` for complex NumPy arrays;
:meth:`FlowProblem.from_objective` wraps any real :class:`workbench.solvers.core.objectives.Objective`
(NGF, IGR, third-order and the PF while hλ < 1 stay real) and refuses a complex θ;
:meth:`FlowProblem.from_network` runs a tanh/linear MSE :class:`workbench.solvers.nets.networks.NetworkObjective`'s
backprop and R-operator on complex arrays (its analytic continuation), for the PF on networks.

Integration: SciPy ``solve_ivp`` with DOP853 (8th-order Dormand–Prince with error
control), rtol = 1e-13, atol = 1e-14 by default, on NumPy (complex128 when the PF needs it).
A trajectory whose norm passes ``blowup`` stops and is reported as diverged, never as
NaN. Each PF evaluation costs one dense eigendecomposition (O(D³)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from workbench.solvers.core.backend import to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.stepping.divergence import DivergenceCriterion
from workbench.solvers.stepping.tracking import Stop, run_tracked
from workbench.solvers.dynamics.rk4 import rk4_samples
from workbench.solvers.dynamics.dal import dal_learning_rate  # DAL (18)-(19) lives in workbench.solvers.dynamics.dal; kept importable here

__all__ = [
    "FLOWS", "FLOW_TABLE", "Flow", "ALPHAS", "SINGULAR_TOL", "FlowProblem", "alpha", "vector_field", "FlowResult", "integrate",
    "gradient_descent", "quadratic_flow", "stability_coefficients", "dal_learning_rate", "pf_jacobian_eigenvalues",
]

FLOWS = ("ngf", "igr", "third", "pf", "pf+")
#: |1 − hλ| below this is treated as the hλ = 1 singularity of the PF.
SINGULAR_TOL = 1e-12


def _check_h(hv: Any) -> float:
    try:
        hv = float(hv)
    except (TypeError, ValueError):
        raise ParameterError(f"h: must be a number, got {hv!r}") from None
    if not (math.isfinite(hv) and hv > 0):
        raise ParameterError(f"h: the learning rate must be finite and > 0, got {hv}")
    return hv


def _check_flow(flow: str) -> str:
    if flow not in FLOWS:
        raise ParameterError(f"flow: unknown {flow!r}; expected one of {', '.join(FLOWS)}")
    return flow


def _alpha_ngf(zs: np.ndarray) -> np.ndarray:
    return -np.ones_like(zs, dtype=complex if np.iscomplexobj(zs) else float)


def _alpha_igr(zs: np.ndarray) -> np.ndarray:
    return -(1.0 + zs / 2.0)


def _alpha_pf(zs: np.ndarray) -> np.ndarray:
    zc = zs.astype(complex)
    if np.any(np.abs(1.0 - zc) < SINGULAR_TOL):
        raise ParameterError("h: h*lambda = 1 for a Hessian eigenvalue: the principal flow is singular there "
                             "(log 0; GD removes that component in one step); perturb h")
    small = np.abs(zc) < 1e-6
    safe = np.where(small, 0.5, zc)
    right = safe.real >= 1.0
    logv = np.where(right, np.log(np.where(right, safe - 1.0, 1.0)) + 1j * math.pi,
                    np.log(np.where(right, 1.0, 1.0 - safe)))
    out = np.where(small, -1.0 - zc / 2 - zc ** 2 / 3 - zc ** 3 / 4, logv / safe)
    if not np.iscomplexobj(zs) and bool(np.all(zs < 1.0)):
        return out.real.copy()  # log(1 - z) is real for every z < 1: no complex dtype where none is needed
    return out


#: Table 1's coefficients α(z): the flow θ̇ = α(h∇²E)∇E on a quadratic
ALPHAS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"ngf": _alpha_ngf, "igr": _alpha_igr, "pf": _alpha_pf}


def alpha(flow: str, zs: Any) -> np.ndarray:
    """Table 1's coefficient α(z), z = hλ, elementwise (:data:`ALPHAS`).

    For the PF the result is real (float) when every z is real and < 1, where
    log(1 − z) is real; complex otherwise (z > 1 or complex z).

    Parameters
    ----------
    flow : {"ngf", "igr", "pf"}
    zs : array_like, real or complex

    Raises
    ------
    ParameterError
        The PF at |1 − z| < :data:`SINGULAR_TOL` (hλ = 1).
    """
    if flow not in ALPHAS:
        raise ParameterError(f"flow: alpha is defined for ngf, igr and pf, got {flow!r}")
    return ALPHAS[flow](np.asarray(zs))


@dataclass
class FlowProblem:
    """What the flows need from an objective, on NumPy (real or complex θ).

    Attributes
    ----------
    size : int
    grad : callable θ ↦ ∇E(θ)
    hess : callable θ ↦ ∇²E(θ), dense D×D
    third : callable (θ, v) ↦ ∇³E(θ)[v, v], or None (then a central difference of
        Hessians along v, step ε^{1/3}·max(1, ‖θ‖)/‖v‖, real θ only)
    analytic : bool
        True when the callables accept complex θ (E's analytic continuation).
    hvp : callable (θ, v) ↦ ∇²E(θ)v, or None
        When given, the IGR and third-order fields use it instead of the dense Hessian
        (two products instead of D); :meth:`from_network` also differences it for ``third``.
    """

    size: int
    grad: Callable[[np.ndarray], np.ndarray]
    hess: Callable[[np.ndarray], np.ndarray]
    third: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    analytic: bool = False
    name: str = ""
    hvp: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    @classmethod
    def from_symbolic(cls, sym: Any, **params: float) -> "FlowProblem":
        """Exact, complex-capable callables from a ``SymbolicObjective`` (constants by name).

        Raises
        ------
        ParameterError
            An unknown constant, or a non-smooth objective (``Max``, ``Min``, ``Abs``,
            ``Heaviside``, ``Piecewise``, ``sign``: a ReLU network, say).
        """
        import sympy as sp

        from workbench.derivations.bea import third_contraction

        from workbench.solvers.core.lambdify import lambdify

        non_smooth = (sp.Max, sp.Min, sp.Abs, sp.Heaviside, sp.Piecewise, sp.sign)
        kinks = sorted({type(a).__name__ for a in sym.expr.atoms(*non_smooth)})
        if kinks:
            raise ParameterError(f"objective: {sym.name!r} is not smooth (it contains {', '.join(kinks)}); the "
                                 "modified flows need its Hessian and third derivatives, and the PF a complex "
                                 "continuation")
        names = {s.name: (s, v) for s, v in sym.params}
        unknown = set(params) - set(names)
        if unknown:
            raise ParameterError(f"params: unknown constant(s) {sorted(unknown)} for objective {sym.name!r}")
        consts = [float(params.get(k, float(v))) for k, (s, v) in names.items()]
        xs = tuple(sym.variables)
        n = len(xs)
        vs = sp.symbols(f"v_1:{n + 1}")
        args = xs + tuple(s for s, _ in names.values())
        g = lambdify(sp.Tuple(*sym.gradient), args, np)
        hf = lambdify(sp.Tuple(*[sym.hessian[i, j] for i in range(n) for j in range(n)]), args, np)
        t3 = lambdify(sp.Tuple(*third_contraction(sym.expr, xs, vs, vs)), args + tuple(vs), np)

        def _vec(parts: Sequence[Any], th: np.ndarray) -> np.ndarray:
            dt = complex if np.iscomplexobj(th) else float
            return np.array([np.asarray(p, dtype=dt) + 0 * th[0] for p in parts], dtype=dt)

        def grad(th: np.ndarray) -> np.ndarray:
            return _vec(g(*th, *consts), th)

        def hess(th: np.ndarray) -> np.ndarray:
            return _vec(hf(*th, *consts), th).reshape(n, n)

        def third(th: np.ndarray, v: np.ndarray) -> np.ndarray:
            return _vec(t3(*th, *consts, *v), th)

        return cls(n, grad, hess, third, True, sym.name)

    @classmethod
    def from_objective(cls, obj: Any) -> "FlowProblem":
        """Wrap a real :class:`workbench.solvers.core.objectives.Objective` (any backend and device; fields on the host).

        The objective's own Hessian-vector product is passed through (``hvp``), so IGR and
        the third-order flow cost two HVPs per field evaluation, not a dense Hessian, and
        ∇³E[v, v] is the central difference of HVPs along v. The PF, which needs the
        eigendecomposition, builds the dense Hessian (D HVPs); it stays real while every
        hλ < 1 and raises where it would turn complex (a real objective has no analytic
        continuation; use :meth:`from_symbolic` or :meth:`from_network` there).
        """
        xp = obj.xp
        device = getattr(obj, "device", None)

        def conv(th: np.ndarray) -> Any:
            if np.iscomplexobj(th):
                raise ParameterError(
                    "theta: this flow has become complex (h*lambda > 1 for the PF) but the objective is real-only; "
                    "use FlowProblem.from_symbolic for its analytic continuation")
            return xp.asarray(np.ascontiguousarray(th), dtype=obj.dtype, device=device)

        def grad(th: np.ndarray) -> np.ndarray:
            return np.asarray(to_numpy(obj.gradient(conv(th))), dtype=float)

        def hess(th: np.ndarray) -> np.ndarray:
            return np.asarray(to_numpy(obj.hessian(conv(th))), dtype=float)

        def hvp(th: np.ndarray, v: np.ndarray) -> np.ndarray:
            return np.asarray(to_numpy(obj.hvp(conv(th), conv(v))), dtype=float)

        return cls(int(obj.size), grad, hess, None, False, type(obj).__name__, hvp)

    @classmethod
    def from_network(cls, obj: Any) -> "FlowProblem":
        """Complex-capable callables for a :class:`workbench.solvers.nets.networks.NetworkObjective` (NumPy, MSE).

        The network's own backprop gradient and R-operator HVP are run on complex128
        arrays, which evaluates the analytic continuation of E (tanh and linear
        activations and the MSE ½Σr² are analytic; no conjugates appear), so the PF can
        leave ℝᴰ for hλ > 1 (§4, Fig. 7; Remark 4.1). The dense Hessian is D HVPs with the
        unit vectors; ∇³E[v, v] is the central difference of HVPs along v (step
        ε^{1/3}·max(1, ‖θ‖)/‖v‖, error ~1e-10 relative).

        Raises
        ------
        ParameterError
            Not a NetworkObjective on NumPy, a cross-entropy loss (its log-sum-exp takes a
            max, not analytic), or a ReLU / Swish activation (not analytic: the complex flow
            and the Hessian-based fields are undefined where they are not smooth).
        """
        from workbench.solvers.core.backend import backend_name
        from workbench.solvers.nets.networks import Activation, NetworkObjective

        if not isinstance(obj, NetworkObjective):
            raise ParameterError(f"obj: expected a workbench.solvers.nets.networks.NetworkObjective, got {type(obj).__name__}")
        if backend_name(obj.xp) != "numpy":
            raise ParameterError(f"obj: from_network needs the numpy backend, got {backend_name(obj.xp)}")
        if obj.loss != "mse":
            raise ParameterError(f"obj: loss {obj.loss!r} has no analytic continuation here; use loss='mse'")
        bad = sorted({layer.name for layer in obj.net.layers if isinstance(layer, Activation)
                      and layer.name not in ("tanh", "linear")})
        if bad:
            raise ParameterError(f"obj: activation(s) {', '.join(bad)} are not analytic (non-smooth or built from "
                                 "|z|); the flows need Hessians and the PF a complex continuation: use tanh or linear")
        n = int(obj.size)
        raw = obj.unchecked  # no input checks: the backprop gradient and R-operator HVP accept complex arrays
        hv_ = raw.hvp

        def _dt(th: np.ndarray) -> type:
            return complex if np.iscomplexobj(th) else float

        def grad(th: np.ndarray) -> np.ndarray:
            return np.asarray(raw.gradient(np.asarray(th, dtype=_dt(th))))

        def hvp(th: np.ndarray, v: np.ndarray) -> np.ndarray:
            dt = complex if (np.iscomplexobj(th) or np.iscomplexobj(v)) else float
            return np.asarray(hv_(np.asarray(th, dtype=dt), np.asarray(v, dtype=dt)))

        def hess(th: np.ndarray) -> np.ndarray:
            th = np.asarray(th, dtype=_dt(th))
            eye = np.eye(n, dtype=th.dtype)
            H = np.stack([hv_(th, eye[j]) for j in range(n)], axis=1)
            return 0.5 * (H + H.T)

        def third(th: np.ndarray, v: np.ndarray) -> np.ndarray:
            nv = float(np.linalg.norm(v))
            if nv == 0.0:
                return np.zeros_like(np.asarray(th) + np.asarray(v))
            eps = np.finfo(float).eps ** (1 / 3) * max(1.0, float(np.linalg.norm(th))) / nv
            return (hvp(th + eps * v, v) - hvp(th - eps * v, v)) / (2 * eps)

        return cls(n, grad, hess, third, True, f"NetworkObjective({n} parameters)", hvp)

    def third_term(self, th: np.ndarray, v: np.ndarray) -> np.ndarray:
        """∇³E(θ)[v, v], exact where available, else a central difference of HVPs (or Hessians) along v."""
        if self.third is not None:
            return self.third(th, v)
        nv = float(np.linalg.norm(v))
        if nv == 0.0:
            return np.zeros_like(th)
        eps = np.finfo(float).eps ** (1 / 3) * max(1.0, float(np.linalg.norm(th))) / nv
        if self.hvp is not None:
            return (self.hvp(th + eps * v, v) - self.hvp(th - eps * v, v)) / (2 * eps)
        return (self.hess(th + eps * v) - self.hess(th - eps * v)) @ v / (2 * eps)


def _pf_matrix_apply(H: np.ndarray, g: np.ndarray, hv: float) -> np.ndarray:
    """α_PF(hH) g through the eigendecomposition of H (eigh when real, eig when complex)."""
    if not np.iscomplexobj(H):
        lam, U = np.linalg.eigh(0.5 * (H + H.T))
        coef = U.T @ g
        return U @ (alpha("pf", hv * lam) * coef)
    lam, V = np.linalg.eig(H)
    coef = np.linalg.solve(V, g)
    return V @ (alpha("pf", hv * lam) * coef)


def _products(problem: FlowProblem, th: np.ndarray, g: np.ndarray, second: bool) -> tuple[np.ndarray, Any]:
    """(∇²E g, (∇²E)² g or None), by HVPs where the problem has them, else the dense Hessian."""
    if problem.hvp is not None:
        Hg = problem.hvp(th, g)
        return Hg, (problem.hvp(th, Hg) if second else None)
    H = problem.hess(th)
    Hg = H @ g
    return Hg, (H @ Hg if second else None)


def _field_ngf(problem: FlowProblem, th: np.ndarray, g: np.ndarray, hv: float) -> np.ndarray:
    return -g


def _field_igr(problem: FlowProblem, th: np.ndarray, g: np.ndarray, hv: float) -> np.ndarray:
    Hg, _ = _products(problem, th, g, False)
    return -g - 0.5 * hv * Hg


def _field_third(problem: FlowProblem, th: np.ndarray, g: np.ndarray, hv: float) -> np.ndarray:
    Hg, H2g = _products(problem, th, g, True)
    out = -g - 0.5 * hv * Hg
    return out - hv ** 2 * (H2g / 3.0 + problem.third_term(th, g) / 12.0)


def _field_pf(problem: FlowProblem, th: np.ndarray, g: np.ndarray, hv: float) -> np.ndarray:
    out = _pf_matrix_apply(problem.hess(th), g, hv)
    if np.iscomplexobj(out) and not problem.analytic:  # alpha is real wherever every h*lambda < 1
        raise ParameterError("theta: the principal flow is complex here (h*lambda > 1) but the objective is "
                             "real-only; use FlowProblem.from_symbolic")
    return out


def _field_pf_plus(problem: FlowProblem, th: np.ndarray, g: np.ndarray, hv: float) -> np.ndarray:
    return _field_pf(problem, th, g, hv) - hv ** 2 / 12.0 * problem.third_term(th, g)


@dataclass(frozen=True)
class Flow:
    """One row of the flow table: its vector field ``field(problem, θ, ∇E(θ), h)`` and whether it may leave ℝᴰ."""

    field: Callable[[FlowProblem, np.ndarray, np.ndarray, float], np.ndarray]
    complex: bool = False


#: The modified flows (table in the module docstring), by name
FLOW_TABLE: dict[str, Flow] = {"ngf": Flow(_field_ngf), "igr": Flow(_field_igr), "third": Flow(_field_third),
                               "pf": Flow(_field_pf, True), "pf+": Flow(_field_pf_plus, True)}


def vector_field(problem: FlowProblem, flow: str, h: float) -> Callable[[np.ndarray], np.ndarray]:
    """The modified vector field θ ↦ θ̇ of ``flow`` (:data:`FLOW_TABLE`; table in the module docstring)."""
    field_ = FLOW_TABLE[_check_flow(flow)].field
    hv = _check_h(h)

    def f(th: np.ndarray) -> np.ndarray:
        return field_(problem, th, problem.grad(th), hv)

    return f


@dataclass
class FlowResult:
    """A flow sampled at ``t``; ``theta[k]`` at ``t[k]``; rows past a divergence are absent."""

    flow: str
    h: float
    t: np.ndarray
    theta: np.ndarray
    diverged: bool = False
    nfev: int = 0
    message: str = ""
    extra: dict = field(default_factory=dict)


class _Budget(Exception):
    pass


def integrate(problem: FlowProblem, flow: str, h: float, theta0: Any, times: Sequence[float], *,
              rtol: float = 1e-13, atol: float = 1e-14, blowup: float = 1e8, method: str = "DOP853",
              substeps: float = 100, max_nfev: int = 200_000) -> FlowResult:
    """Integrate a flow from θ(0) = θ₀ and sample it at ``times`` (≥ 0, increasing).

    ``method="DOP853"`` (default): SciPy's adaptive 8th-order Runge–Kutta with error
    control (``rtol``, ``atol``), complex state for the PF and PF+ when the problem is
    analytic. Where the PF's field is nearly singular along the path (an eigenvalue
    of H(θ(t)) crossing hλ = 1, where α_PF = log(1 − hλ)/(hλ) → −∞ logarithmically, or
    the branch jump at Re hλ = 1, Im hλ > 0) the adaptive steps shrink without end;
    after ``max_nfev`` field evaluations it stops with ``message="budget"``.
    ``method="rk4"``: classical RK4 with ``substeps`` steps per unit h (no error control,
    for such paths; compare two ``substeps`` to estimate its error). Integration stops
    when ‖θ‖ exceeds ``blowup`` (``diverged=True``); rows past it are absent.
    """
    from scipy.integrate import solve_ivp

    hv = _check_h(h)
    flow = _check_flow(flow)
    th0 = np.asarray(to_numpy(theta0))
    if th0.shape != (problem.size,):
        raise ParameterError(f"theta0: expected shape ({problem.size},), got {th0.shape}")
    if not np.all(np.isfinite(th0)):
        raise ParameterError("theta0: contains NaN or infinite values")
    ts = np.asarray(times, dtype=float)
    if ts.ndim != 1 or ts.size == 0 or np.any(ts < 0) or np.any(np.diff(ts) <= 0):
        raise ParameterError("times: need a non-empty increasing sequence of times >= 0")
    cplx = FLOW_TABLE[flow].complex and problem.analytic
    y0 = th0.astype(complex if cplx else float)
    f = vector_field(problem, flow, hv)

    if method == "rk4":
        if not (float(substeps) >= 1):
            raise ParameterError(f"substeps: must be >= 1, got {substeps}")
        tt, yy, div, nfev = rk4_samples(f, y0, ts, float(substeps), hv, blowup)
        return FlowResult(flow, hv, tt, yy.reshape(len(tt), problem.size), div, nfev, "rk4")
    if method != "DOP853":
        raise ParameterError(f"method: expected 'DOP853' or 'rk4', got {method!r}")
    count = [0]

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        count[0] += 1
        if count[0] > max_nfev:
            raise _Budget
        return f(y)

    def big(_t: float, y: np.ndarray) -> float:
        return blowup - float(np.linalg.norm(y))

    big.terminal = True  # type: ignore[attr-defined]
    if ts[-1] == 0:
        return FlowResult(flow, hv, ts, y0[None, :].copy(), False, 0, "t = 0 only")
    try:
        sol = solve_ivp(rhs, (0.0, float(ts[-1])), y0, method="DOP853", t_eval=ts, rtol=rtol, atol=atol,
                        events=big)
    except _Budget:
        return FlowResult(flow, hv, ts[:0], np.zeros((0, problem.size), dtype=y0.dtype), False, max_nfev, "budget")
    diverged = sol.status == 1
    if sol.status == -1:
        raise ParameterError(f"integration failed for flow {flow}: {sol.message}")
    return FlowResult(flow, hv, sol.t, sol.y.T.copy(), bool(diverged), int(sol.nfev), str(sol.message))


class _NormPath:
    """Tracker of :func:`gradient_descent`: keeps θ₁, θ₂, … until ‖θ‖ exceeds ``blowup`` (then stops)."""

    def __init__(self, theta0: np.ndarray, blowup: float) -> None:
        self.path, self.blowup = [theta0], blowup

    def start(self, visit: Any) -> None:
        return None

    def handle(self, step: int, v: Any) -> None:
        if step:
            if float(np.linalg.norm(v.theta)) > self.blowup:
                raise Stop("norm")
            self.path.append(v.theta.copy())

    def finish(self, run: Any) -> None:
        return None


def gradient_descent(problem: FlowProblem, h: float, theta0: Any, steps: int, blowup: float = 1e8) -> np.ndarray:
    """GD iterates θ₀ … θ_steps (1); stops early (fewer rows) once ‖θ‖ > ``blowup``.

    :func:`workbench.solvers.stepping.tracking.run_tracked` of the registered ``gd``; ``blowup`` is
    the absolute norm bound that :func:`integrate` stops the flows at, so GD and the flows it
    is compared with end on the same rule.
    """
    hv = _check_h(h)
    th = np.asarray(to_numpy(theta0), dtype=float)
    keep = _NormPath(th, blowup)
    if int(steps) > 0:
        run_tracked(None, "gd", th, hv, [keep], DivergenceCriterion(blowup=math.inf), steps=int(steps),
                    force=lambda v: problem.grad(v.theta))
    return np.array(keep.path)


def _growth_pf(ts: np.ndarray, hv: float, li: float, flow: str) -> np.ndarray:
    """e^{t log(1 − hλ)/h} along an eigenvector of the quadratic (0 after t = 0 at hλ = 1)."""
    zi = hv * li
    if abs(1.0 - zi) < SINGULAR_TOL:
        return np.where(ts > 0, 0.0, 1.0).astype(complex)
    logv = complex(math.log1p(-zi)) if zi < 1 else complex(math.log(zi - 1.0), math.pi)
    return np.exp(ts / hv * logv)


def _growth_alpha(ts: np.ndarray, hv: float, li: float, flow: str) -> np.ndarray:
    """e^{α(hλ)λt} along an eigenvector of the quadratic (real α)."""
    return np.exp(float(alpha(flow, hv * li)) * li * ts).astype(complex)


_GROWTH = {"ngf": _growth_alpha, "igr": _growth_alpha, "pf": _growth_pf}


def quadratic_flow(A: Any, b: Any, theta0: Any, h: float, t: Any, flow: str = "pf") -> np.ndarray:
    """Closed-form solution of a Table-1 flow on E = ½θᵀAθ + bᵀθ (Remark 3.1, corrected for b).

    Along each eigenvector uᵢ of A (xᵢ = θᵀuᵢ, bᵢ = bᵀuᵢ) the flow is ẋ = α(hλ)(λx + b), so
    xᵢ(t) = (xᵢ(0) + bᵢ/λᵢ) e^{α(hλᵢ)λᵢt} − bᵢ/λᵢ, and xᵢ(t) = xᵢ(0) + α(0)bᵢ t for λᵢ = 0.
    For the PF, e^{α λ t} = (1 − hλ)^{t/h} with log(1 − hλ) = log(hλ − 1) + iπ for hλ > 1,
    and 0 for t > 0 at hλ = 1 (GD's exact one-step annihilation).

    Returns
    -------
    ndarray, shape (len(t), D), complex for the PF.
    """
    hv = _check_h(h)
    if flow not in _GROWTH:
        raise ParameterError(f"flow: closed form available for ngf, igr and pf, got {flow!r}")
    A = np.asarray(A, dtype=float)
    b = np.zeros(A.shape[0]) if b is None else np.asarray(b, dtype=float)
    lam, U = np.linalg.eigh(0.5 * (A + A.T))
    x0 = U.T @ np.asarray(theta0, dtype=float)
    bb = U.T @ b
    ts = np.atleast_1d(np.asarray(t, dtype=float))
    out = np.zeros((ts.size, lam.size), dtype=complex)
    for i, (li, xi, bi) in enumerate(zip(lam, x0, bb)):
        if li == 0.0:
            out[:, i] = xi - bi * ts
            continue
        growth = _GROWTH[flow](ts, hv, float(li), flow)
        out[:, i] = (xi + bi / li) * growth - bi / li
    return out @ U.T


def pf_jacobian_eigenvalues(hessian_eigenvalues: Any, h: float) -> np.ndarray:
    """log(1 − hλ*)/h (16), the PF Jacobian's eigenvalues at a critical point (complex)."""
    hv = _check_h(h)
    lam = np.asarray(hessian_eigenvalues, dtype=float)
    return np.asarray(alpha("pf", hv * lam) * lam, dtype=complex)


def stability_coefficients(problem: FlowProblem, theta: Any, h: float) -> dict[str, np.ndarray]:
    """scᵢ = α_PF(hλᵢ)·gᵀuᵢ with Re(gᵀuᵢ) ≥ 0 (Definition 3.4), eigenvalues in descending order."""
    hv = _check_h(h)
    th = np.asarray(to_numpy(theta), dtype=float)
    H = problem.hess(th)
    lam, U = np.linalg.eigh(0.5 * (H + H.T))
    lam, U = lam[::-1], U[:, ::-1]
    gu = U.T @ problem.grad(th)
    sign = np.where(gu < 0, -1.0, 1.0)
    gu = gu * sign
    return {"lambda": lam, "grad_dot_u": gu, "alpha_pf": alpha("pf", hv * lam), "sc": alpha("pf", hv * lam) * gu}
