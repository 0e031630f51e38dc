"""Benchmark rows: backward error analysis and the principal flow (third paper; ``workbench bench``).

Rosca et al. 2023. Rows of :func:`workbench.benchmarks.timing.compare` (interleaved repetitions,
ratio = baseline min / ours min, > 1: ours is faster):
* ``PF matrix function: eigh vs logm`` — α_PF(hH)∇E = log(I − hH)(hH)⁻¹∇E (12) for a fixed dense
  D×D Hessian: one symmetric eigendecomposition (``numpy.linalg.eigh``, ≈ 9D³ flops) against
  the obvious alternative ``scipy.linalg.logm`` (Schur + inverse scaling and squaring,
  complex arithmetic, several D³ products) followed by a linear solve with hH. The note
  gives the residual of hH·a = log(I − hH)∇E for the eigh result a (well conditioned) and
  the difference of the two results, which is the logm route's loss in the solve with a
  near-singular hH (networks have near-zero Hessian eigenvalues; the eigh route uses the
  series of log(1 − z)/z there and never divides by λ ≈ 0).
* ``PF field vs NGF field`` — one full PF evaluation on a network (dense Hessian from D exact
  Hessian-vector products, each ≈ 2.4 gradients, plus the eigendecomposition) against one
  gradient (the NGF's whole cost); ``kind = "factor"``: the PF's cost in gradients.
* ``PF field: real (eigh) vs complex (eig)`` — the same evaluation at a real θ and at a
  complex θ (θ + 10⁻³ i·ξ: complex Hessian, ``numpy.linalg.eig`` and a solve instead of eigh).
"""
from __future__ import annotations

import numpy as np

from workbench.benchmarks.timing import Floor, compare

__all__ = ["bench_rows"]


def bench_rows(quick: bool = False, repeat: int = 3, floor: Floor | None = None) -> list[dict]:
    """PF evaluation rows; ``quick`` uses a smaller network."""
    from scipy.linalg import logm

    from workbench.solvers.core.backend import get_namespace
    from workbench.solvers.dynamics.flows import FlowProblem, vector_field
    from workbench.solvers.nets.networks import NetworkObjective, mlp

    rows: list[dict] = []
    xp = get_namespace("numpy")
    sizes, n = ([2, 6, 6, 1], 16) if quick else ([2, 14, 14, 1], 32)
    rng = np.random.default_rng(0)
    obj = NetworkObjective(mlp(sizes, "tanh"), xp.asarray(rng.standard_normal((n, 2))),
                           xp.asarray(rng.standard_normal((n, 1))), "mse")
    D = obj.size
    P = FlowProblem.from_network(obj)
    th = np.asarray(obj.initial(0), dtype=float)
    H = P.hess(th)
    g = P.grad(th)
    lam = np.linalg.eigvalsh(H)
    h = 0.5 / float(np.max(np.abs(lam)))  # h|lambda| <= 0.5: the real PF, logm well defined, hH invertible
    what = f"MLP {'-'.join(map(str, sizes))} tanh, MSE, N={n}, D={D} parameters"

    fixed = FlowProblem(D, lambda _t: g, lambda _t: H, analytic=True, name="fixed Hessian")
    f_eig = vector_field(fixed, "pf", h)

    def via_logm() -> np.ndarray:
        L = logm(np.eye(D) - h * H)
        return np.real_if_close(np.linalg.solve(h * H, L @ g))

    a, b = f_eig(th), via_logm()
    rel = float(np.linalg.norm(a - b) / np.linalg.norm(a))
    # well-conditioned consistency check: hH·a = log(I − hH)·g (no solve with the near-singular hH)
    Lg = logm(np.eye(D) - h * H) @ g
    resid = float(np.linalg.norm(h * H @ a - Lg) / np.linalg.norm(Lg))
    cond = float(np.max(np.abs(lam)) / max(np.min(np.abs(lam)), 1e-300))
    rows.append(compare("PF matrix function: eigh vs logm", "eigh + Table-1 coefficients",
                        "scipy.linalg.logm + solve", lambda: f_eig(th), via_logm, repeat,
                        work={"flops": 9.0 * D ** 3}, floor=floor, floor_kind="gemm",
                        note=f"{what}; h*max|lambda| = 0.5; hH a = log(I - hH) g to {resid:.1e}; the two results "
                             f"differ by {rel:.1e} relative, the logm route's error from its solve with hH "
                             f"(cond {cond:.1e})"))
    rows[-1]["residual"] = resid  # eigh result satisfies hH a = log(I - hH) g (checked by tests)
    rows[-1]["rel_diff"] = rel

    f_pf = vector_field(P, "pf", h)
    f_ngf = vector_field(P, "ngf", h)
    rows.append(compare("PF field vs NGF field", "PF field (D HVPs + eigh)", "NGF field (one gradient)",
                        lambda: f_pf(th), lambda: f_ngf(th), repeat, kind="factor",
                        note=f"{what}; the PF's cost in gradients"))

    thc = th + 1e-3j * rng.standard_normal(D)
    rows.append(compare("PF field: real (eigh) vs complex (eig)", "real theta, eigh", "complex theta, eig + solve",
                        lambda: f_pf(th), lambda: f_pf(thc), repeat,
                        note=f"{what}; the PF is complex once h*lambda > 1 (§3.1)"))
    return rows
