"""Gradient-descent PDE of the one-layer CNN and its linearization.

Sun et al. 2022 (first paper), appendix D.1 (eqs. (1)-(13)) and D.2 (eqs.
(14)-(20)).  Every equation is *derived* here by SymPy operations (``diff``
under the integral sign, ``series``, ``subs``, ``solve``) from the model
(1)-(3); the paper's printed form is kept beside it in ``Step.stated``.

Conventions.  Positions ``x, z`` are single real symbols standing for points of
R^2; integrals run over the whole line (the paper's "finite support" functions
extended by zero).  ``(F ⋆ I)(z) = ∫ F(x) I(x + z) dx`` is the correlation of
the paper (written ``∗`` there).  The discrete model of the tests is the "valid"
CNN correlation ``(K ⋆ I)(x) = Σ_z K(z) I(x + z)`` over the
``(H - w + 1) × (W - w + 1)`` output, ``∫ dx`` a sum over output pixels.

Paper inconsistencies found while deriving (see also ``forward_euler``):

* eq. (16), the second derivative of Swish, has the wrong sign in front of
  ``βx``: SymPy gives ``β e^{-βx}[βx(e^{-βx} - 1) + 2(1 + e^{-βx})]/(1 + e^{-βx})^3``
  (:data:`SWISH_D2_PAPER` vs :data:`SWISH_D2_CORRECTED`).  The value at 0,
  ``r''(0) = β/2`` (18), is unaffected, so (17)-(27) stand.
* eq. (5) integrates over ``y`` but writes ``dz``: the variable is ``z``.
* eq. (19) treats the input sum ``Ī = ∫ I(x + z) dx`` as a constant.  That is
  exact on all of R^2 (a translation, step ``input_sum``) and for circular
  ("periodic") correlation, but in the CNN's valid mode ``Σ_x I(x + z)`` over
  the output window depends on ``z`` (:func:`discrete_input_sum`).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import sympy as sp

from workbench.derivations.steps import Derivation, Step
from workbench.derivations.symbols import a, alpha, b, beta, g, u, y, yhat

__all__ = [
    "swish", "sigmoid", "cross_entropy", "steps", "derivation",
    "SWISH_D1_PAPER", "SWISH_D2_PAPER", "SWISH_D2_CORRECTED",
    "kernel_symbols", "discrete_input_sum", "discrete_loss", "discrete_gradient_formula",
]

x, z = sp.symbols("x z", real=True)
t = sp.Symbol("t", nonnegative=True)
eps = sp.Symbol("epsilon", real=True)
L = sp.Symbol("L", real=True)
Ibar = sp.Symbol("Ibar", real=True)
_LIM_X = (x, -sp.oo, sp.oo)
_LIM_Z = (z, -sp.oo, sp.oo)


def _fn(clsname: str, latex_head: str, text_head: str) -> type:
    """A one-argument undefined function that prints as ``latex_head(arg)``."""

    def _latex(self, printer, exp=None):  # noqa: ANN001
        s = rf"{latex_head}\left({printer._print(self.args[0])}\right)"
        return s if exp is None else rf"\left({s}\right)^{{{exp}}}"

    def _sympystr(self, printer):  # noqa: ANN001
        return f"{text_head}({printer._print(self.args[0])})"

    return type(clsname, (sp.Function,), {
        "nargs": 1, "_diff_wrt": True, "_latex": _latex, "_sympystr": _sympystr,
        "__module__": __name__})


I = sp.Function("I")          # noqa: E741  input image
K = sp.Function("K")          # kernel; K(z, t) once time enters (12)
r = sp.Function("r")          # activation (generic in D.1)
s = sp.Function("s")          # sigmoid (generic until (10))
ell = sp.Function("ell")      # loss ℓ(y, ŷ) (generic until (11))
dK = _fn("deltaK", r"\delta K", "deltaK")
KI = _fn("KstarI", r"(K \star I)", "(K⋆I)")
dKI = _fn("dKstarI", r"(\delta K \star I)", "(δK⋆I)")
RI = _fn("RpKIstarI", r"\left(r'(K \star I) \star I\right)", "(r'(K⋆I)⋆I)")
KII = _fn("KIstarI", r"\left((K \star I) \star I\right)", "((K⋆I)⋆I)")
W = _fn("Window", "W", "W")
grad_g = _fn("GradG", r"\nabla_K g", "grad_K g")
grad_L = _fn("GradL", r"\nabla_K L", "grad_K L")
rp = _fn("RPrime", "r'", "r'")
rpp = _fn("RPrime2", "r''", "r''")


def swish(v: sp.Expr, beta_: sp.Expr = beta) -> sp.Expr:
    """Swish activation ``r(v) = v / (1 + e^{-βv})`` (Sun et al. 2022, appendix D.2, eq. (14))."""
    return v / (1 + sp.exp(-beta_ * v))


def sigmoid(v: sp.Expr, b_: sp.Expr = b) -> sp.Expr:
    """Sigmoid with bias ``s(v) = 1 / (1 + e^{-(v - b)})`` (Sun et al. 2022, appendix D.1, after eq. (9))."""
    return 1 / (1 + sp.exp(-(v - b_)))


def cross_entropy(y_: sp.Expr, yhat_: sp.Expr) -> sp.Expr:
    """Binary cross-entropy ``ℓ(y, ŷ) = -y log ŷ - (1 - y) log(1 - ŷ)`` (appendix D.1, eq. (2))."""
    return -y_ * sp.log(yhat_) - (1 - y_) * sp.log(1 - yhat_)


#: r'(u) as printed in eq. (15) (correct)
SWISH_D1_PAPER = (1 + (1 + beta * u) * sp.exp(-beta * u)) / (1 + sp.exp(-beta * u)) ** 2
#: r''(u) as printed in eq. (16) -- wrong sign of the βu term
SWISH_D2_PAPER = (beta * sp.exp(-beta * u) * (beta * u * (1 - sp.exp(-beta * u))
                  + 2 * (1 + sp.exp(-beta * u))) / (1 + sp.exp(-beta * u)) ** 3)
#: r''(u), corrected: (1 - e^{-βu}) -> (e^{-βu} - 1)
SWISH_D2_CORRECTED = (beta * sp.exp(-beta * u) * (beta * u * (sp.exp(-beta * u) - 1)
                      + 2 * (1 + sp.exp(-beta * u))) / (1 + sp.exp(-beta * u)) ** 3)


# -- small pure integral manipulations (SymPy leaves undefined integrands alone) --
def _rename_derivative(expr: sp.Basic, fn: Any, new: Any) -> sp.Basic:
    """Replace ``Subs(Derivative(fn(ξ), ξ), ξ, v)`` by ``new(v)``."""
    return expr.replace(
        lambda e: isinstance(e, sp.Subs) and isinstance(e.expr, sp.Derivative)
        and e.expr.expr.func == fn,
        lambda e: new(*e.point))


def _merge_inner(expr: sp.Integral) -> sp.Integral:
    """``∫ A ∫ B dz dx -> ∬ A B dz dx`` (move a factor into the inner integral)."""
    inner = [f for f in sp.Mul.make_args(expr.function) if isinstance(f, sp.Integral)][0]
    rest = expr.function / inner
    return sp.Integral(rest * inner.function, *inner.limits, *expr.limits)


def _swap(expr: sp.Integral) -> sp.Integral:
    """Fubini: ``∬ F dz dx -> ∫ F_z (∫ F_xz dx) dz`` with ``F_z`` free of ``x``."""
    (zl, xl) = expr.limits
    fz, fxz = expr.function.as_independent(xl[0], as_Add=False)
    return sp.Integral(fz * sp.Integral(fxz, xl), zl)


def _split(expr: sp.Integral) -> sp.Expr:
    """Linearity: ``∫ Σ c_i f_i dx -> Σ c_i ∫ f_i dx`` (constants pulled out)."""
    var = expr.limits[0][0]
    out = sp.S.Zero
    for term in sp.Add.make_args(sp.expand(expr.function)):
        c, f = term.as_independent(var, as_Add=False)
        out += c * sp.Integral(f, *expr.limits)
    return out


def _collect(expr: sp.Expr, limits: tuple) -> sp.Integral:
    """``Σ c_i ∫ f_i dz -> ∫ Σ c_i f_i dz`` over the same limits."""
    total = sp.S.Zero
    for term in sp.Add.make_args(sp.expand(expr)):
        integ = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Integral)][0]
        total += (term / integ) * integ.function
    return sp.Integral(total, limits)


def _star(F: sp.Expr) -> sp.Integral:
    """Definition ``(F ⋆ I)(z) = ∫ F(x) I(x + z) dx`` for ``F`` an expression in ``x``."""
    return sp.Integral(F * I(x + z), _LIM_X)


def steps() -> list[Step]:
    """All steps of appendix D.1-D.2 in paper order, eqs. (1)-(20).

    Returns
    -------
    list of Step
        Fresh Step objects (the SymPy work is cached), each with the paper's
        printed form in ``stated`` (for (16) the printed form is wrong; see the
        module docstring).
    """
    return [Step(n, e, x_, d, stated=st, where=dict(wh)) for n, e, x_, d, st, wh in _derived()]


@lru_cache(maxsize=None)
def _derived() -> tuple:
    return tuple((st.name, st.equation, st.expr, st.description, st.stated, tuple(st.where.items()))
                 for st in _build())


def _build() -> list[Step]:
    out: list[Step] = []
    add = out.append
    kstar = sp.Integral(K(z) * I(x + z), _LIM_Z)           # (K ⋆ I)(x)
    dkstar = sp.Integral(dK(z) * I(x + z), _LIM_Z)         # (δK ⋆ I)(x)
    names = {kstar: KI(x), dkstar: dKI(x)}

    # (1)-(3): the model
    g_def = sp.Integral(r(KI(x)), _LIM_X)
    add(Step("model", "(1)", sp.Eq(yhat, s(g_def)), "one-layer CNN f(I) = s(∫ r(K⋆I)(x) dx), ŷ = f(I)"))
    add(Step("loss", "(2)", sp.Eq(L, ell(y, yhat) + alpha / 2 * sp.Integral(K(z) ** 2, _LIM_Z)),
             "regularized loss: cross-entropy plus (α/2)||K||²"))
    add(Step("g", "(3)", sp.Eq(g, g_def), "g(I) = ∫ r(K⋆I)(x) dx"))

    # (4): first variation of g, differentiating under the integral sign
    g_eps = sp.Integral(r(sp.Integral((K(z) + eps * dK(z)) * I(x + z), _LIM_Z)), _LIM_X)
    var = _rename_derivative(sp.diff(g_eps, eps).subs(eps, 0), r, rp)
    dg = sp.Symbol(r"\delta g")
    e4 = var.xreplace(names)
    add(Step("variation_g", "(4)", sp.Eq(dg, e4), "d/dε g(K + εδK) at ε = 0",
             stated=sp.Eq(dg, sp.Integral(rp(KI(x)) * dKI(x), _LIM_X))))
    e5 = _merge_inner(var.xreplace({kstar: KI(x)}))
    add(Step("variation_g_double", "(5)", sp.Eq(dg, e5), "expand (δK⋆I)(x) = ∫ δK(z) I(x+z) dz",
             stated=sp.Eq(dg, sp.Integral(rp(KI(x)) * I(x + z) * dK(z), _LIM_Z, _LIM_X))))
    e6 = _swap(e5)
    add(Step("variation_g_swapped", "(6)", sp.Eq(dg, e6), "exchange the order of integration",
             stated=sp.Eq(dg, sp.Integral(dK(z) * sp.Integral(rp(KI(x)) * I(x + z), _LIM_X), _LIM_Z))))
    e7 = e6.xreplace({_star(rp(KI(x))): RI(z)})
    add(Step("variation_g_corr", "(7)", sp.Eq(dg, e7), "recognise the correlation (r'(K⋆I) ⋆ I)(z)",
             stated=sp.Eq(dg, sp.Integral(dK(z) * RI(z), _LIM_Z))))
    add(Step("grad_g", "(8)", sp.Eq(grad_g(z), sp.diff(e7.function, dK(z))),
             "gradient = density of δg with respect to δK(z)",
             stated=sp.Eq(grad_g(z), RI(z))))

    # (9): first variation of L, chain rule through ℓ and s
    G = sp.Function("g")
    L_eps = ell(y, s(G(eps))) + alpha / 2 * sp.Integral((K(z) + eps * dK(z)) ** 2, _LIM_Z)
    dL = sp.diff(L_eps, eps).subs(eps, 0)
    dL = dL.replace(lambda e: isinstance(e, sp.Subs) and e.expr == sp.Derivative(G(eps), eps), lambda e: e7)
    dL = dL.subs(G(0), g).replace(  # evaluate ∂ℓ/∂ŷ at ŷ = s(g)
        lambda e: isinstance(e, sp.Derivative) and e.expr.func == ell, lambda e: e.subs(s(g), yhat))
    e9 = sp.diff(_collect(dL, _LIM_Z).function, dK(z))
    dl_dyhat = sp.Derivative(ell(y, yhat), yhat)
    ds_dg = sp.Derivative(s(g), g)
    add(Step("grad_L", "(9)", sp.Eq(grad_L(z), e9), "chain rule d/dε L(K + εδK) at ε = 0",
             stated=sp.Eq(grad_L(z), dl_dyhat * ds_dg * RI(z) + alpha * K(z))))

    # (10): s' = s(1 - s) = ŷ(1 - ŷ) for the sigmoid with bias
    E = sp.Symbol("E", positive=True)
    ds = sp.diff(sigmoid(g), g).subs(sp.exp(b - g), E)
    E_of_yhat = sp.solve(sp.Eq(sigmoid(g).subs(sp.exp(b - g), E), yhat), E)[0]
    s1 = sp.factor(sp.simplify(ds.subs(E, E_of_yhat)))
    add(Step("sigmoid_derivative", "", sp.Eq(ds_dg, s1), "s'(g) = s(g)(1 - s(g)) = ŷ(1 - ŷ)",
             stated=sp.Eq(ds_dg, yhat * (1 - yhat))))
    e10 = e9.subs(ds_dg, s1)
    add(Step("grad_L_sigmoid", "(10)", sp.Eq(grad_L(z), e10), "substitute s'(g(I)) = ŷ(1 - ŷ)",
             stated=sp.Eq(grad_L(z), yhat * (1 - yhat) * dl_dyhat * RI(z) + alpha * K(z))))

    # (11): cross-entropy identity ŷ(1 - ŷ) ∂ℓ/∂ŷ = ŷ - y
    ce_prime = sp.diff(cross_entropy(y, yhat), yhat)
    ident = sp.factor(sp.cancel(yhat * (1 - yhat) * ce_prime))
    add(Step("cross_entropy_identity", "", sp.Eq(yhat * (1 - yhat) * dl_dyhat, ident),
             "ℓ = cross-entropy: ŷ(1-ŷ)(-y/ŷ + (1-y)/(1-ŷ))",
             stated=sp.Eq(yhat * (1 - yhat) * dl_dyhat, yhat - y)))
    e11 = e10.subs(dl_dyhat, ce_prime)
    e11 = sp.factor(sp.cancel(e11.coeff(RI(z)))) * RI(z) + e11.coeff(RI(z), 0)
    add(Step("grad_L_ce", "(11)", sp.Eq(grad_L(z), e11), "∇L for the cross-entropy loss",
             stated=sp.Eq(grad_L(z), (yhat - y) * RI(z) + alpha * K(z))))

    # (12)-(13): gradient flow and windowed gradient flow
    dKdt = sp.Derivative(K(z, t), t)
    e12 = -e11.xreplace({K(z): K(z, t)})
    add(Step("gradient_pde", "(12)", sp.Eq(dKdt, e12), "∂_t K = -∇_K L",
             stated=sp.Eq(dKdt, -(yhat - y) * RI(z) - alpha * K(z, t))))
    e13 = e12 * W(z)
    add(Step("windowed_pde", "(13)", sp.Eq(dKdt, e13), "K kept in the window [-w/2, w/2]²: multiply by W",
             stated=sp.Eq(dKdt, (-(yhat - y) * RI(z) - alpha * K(z, t)) * W(z))))

    # D.2: Swish (14)-(18)
    r1, r2 = sp.diff(swish(u), u), sp.diff(swish(u), u, 2)
    add(Step("swish", "(14)", sp.Eq(r(u), swish(u)), "Swish activation with parameter β > 0"))
    add(Step("swish_d1", "(15)", sp.Eq(rp(u), r1), "first derivative of Swish",
             stated=sp.Eq(rp(u), SWISH_D1_PAPER)))
    add(Step("swish_d2", "(16)", sp.Eq(rpp(u), r2),
             "second derivative of Swish (the paper's (16) has the wrong sign of the βu term)",
             stated=sp.Eq(rpp(u), SWISH_D2_PAPER)))
    lin = sp.series(r1, u, 0, 2).removeO()
    r1_0, r2_0 = sp.simplify(r1.subs(u, 0)), sp.simplify(r2.subs(u, 0))
    add(Step("swish_taylor", "(17)", sp.Eq(rp(u), lin), "Taylor expansion of r' to first order at 0",
             stated=sp.Eq(rp(u), sp.Rational(1, 2) + beta / 2 * u)))
    add(Step("swish_d1_at_0", "(18)", sp.Eq(rp(0), r1_0), "r'(0)", stated=sp.Eq(rp(0), sp.Rational(1, 2))))
    add(Step("swish_d2_at_0", "(18)", sp.Eq(rpp(0), r2_0), "r''(0)", stated=sp.Eq(rpp(0), beta / 2)))

    # (19): linearized correlation; Ī(z) = ∫ I(x + z) dx is z-free on R² (translation x -> x - z)
    v = sp.Symbol("v", real=True)
    ibar_z = sp.Integral(I(x + z), _LIM_X)
    add(Step("input_sum", "", sp.Eq(Ibar, ibar_z.transform(x, (v - z, v))),
             "Ī = ∫ I(x+z) dx does not depend on z on all of R² (not so in valid mode)",
             stated=sp.Eq(Ibar, sp.Integral(I(v), (v, -sp.oo, sp.oo)))))
    e19 = _split(_star(lin.subs(u, KI(x))))
    e19 = e19.xreplace({ibar_z: Ibar, _star(KI(x)): KII(z)}) * W(z)
    add(Step("linearized_corr", "(19)", sp.Eq(RI(z) * W(z), e19), "substitute (17) into (r'(K⋆I) ⋆ I), window",
             stated=sp.Eq(RI(z) * W(z), sp.Rational(1, 2) * (Ibar + beta * KII(z)) * W(z))))

    # (20): a = ŷ - y held constant
    e20 = e13.subs(RI(z), e19 / W(z)).subs(yhat, a + y)
    e20 = sp.collect(sp.expand(e20 / W(z)), a) * W(z)
    add(Step("linearized_pde", "(20)", sp.Eq(dKdt, e20), "substitute (19) and a = ŷ - y into (13)",
             stated=sp.Eq(dKdt, (-a / 2 * (Ibar + beta * KII(z)) - alpha * K(z, t)) * W(z))))
    return out


def derivation() -> Derivation:
    """Appendix D.1-D.2 as a :class:`Derivation` (Sun et al. 2022, eqs. (1)-(20))."""
    return Derivation("cnn-pde", "Gradient PDE of a one-layer CNN and its linearization",
                      "Sun et al. 2022, appendix D.1-D.2, eqs. (1)-(20)", steps())


# -- discrete model (valid or periodic correlation) for the tests ------------------
def kernel_symbols(w: int, name: str = "k") -> sp.Matrix:
    """A ``w × w`` matrix of real kernel symbols ``k_i_j`` for the discrete model of appendix D.1, eq. (1)."""
    if not isinstance(w, int) or w < 1:
        raise ValueError(f"w: must be an integer >= 1, got {w!r}")
    return sp.Matrix(w, w, lambda i, j: sp.Symbol(f"{name}_{i}_{j}", real=True))


def _grid(K_: Any, I_: Any, mode: str) -> tuple[sp.Matrix, sp.Matrix, int, int]:
    Km, Im = sp.Matrix(K_), sp.Matrix(I_)
    if Km.rows != Km.cols:
        raise ValueError(f"K: must be square, got {Km.rows}x{Km.cols}")
    if mode not in ("valid", "periodic"):
        raise ValueError(f"mode: must be 'valid' or 'periodic', got {mode!r}")
    if mode == "valid" and (Im.rows < Km.rows or Im.cols < Km.cols):
        raise ValueError(f"I: must be at least {Km.rows}x{Km.cols}, got {Im.rows}x{Im.cols}")
    oh, ow = (Im.rows - Km.rows + 1, Im.cols - Km.cols + 1) if mode == "valid" else Im.shape
    return Km, Im, oh, ow


def _pix(Im: sp.Matrix, i: int, j: int) -> sp.Expr:
    return Im[i % Im.rows, j % Im.cols]


def _corr(Km: sp.Matrix, Im: sp.Matrix, oh: int, ow: int) -> sp.Matrix:
    w = Km.rows
    return sp.Matrix(oh, ow, lambda i, j: sum(
        Km[p, q] * _pix(Im, i + p, j + q) for p in range(w) for q in range(w)))


def discrete_input_sum(I_: Any, w: int, mode: str = "valid") -> sp.Matrix:
    """``Ī(z) = Σ_x I(x + z)`` over the output pixels, a ``w × w`` matrix.

    The paper's Ī (appendix D.2, eq. (19)) is constant; that holds in periodic
    mode but not in valid mode, where the sum runs over a window shifted by z.
    """
    Km, Im, oh, ow = _grid(sp.ones(w, w), I_, mode)
    return sp.Matrix(w, w, lambda p, q: sum(
        _pix(Im, i + p, j + q) for i in range(oh) for j in range(ow)))


def discrete_loss(K_: Any, I_: Any, alpha_: Any = alpha, beta_: Any = beta, b_: Any = b,
                  y_: Any = y, mode: str = "valid") -> sp.Expr:
    """Loss (2) of the discrete one-layer CNN (1) (Sun et al. 2022, appendix D.1).

    ``L = ℓ(y, s(Σ_x r((K ⋆ I)(x)))) + (α/2) Σ_z K(z)²`` with Swish ``r`` (14),
    biased sigmoid ``s`` and cross-entropy ``ℓ``.

    Parameters
    ----------
    K_ : sympy.Matrix
        ``w × w`` kernel (symbols, see :func:`kernel_symbols`, or numbers).
    I_ : matrix-like
        ``H × W`` image (exact rationals keep everything exact).
    alpha_, beta_, b_, y_ : sympy.Expr or number
        Weight decay, Swish parameter, sigmoid bias, label.
    mode : {"valid", "periodic"}
        Valid CNN correlation or circular correlation on the image grid.
    """
    Km, Im, oh, ow = _grid(K_, I_, mode)
    gsum = sum(swish(v, beta_) for v in _corr(Km, Im, oh, ow))
    return cross_entropy(y_, sigmoid(gsum, b_)) + sp.Rational(1, 2) * alpha_ * sum(k ** 2 for k in Km)


def discrete_gradient_formula(K_: Any, I_: Any, alpha_: Any = alpha, beta_: Any = beta, b_: Any = b,
                              y_: Any = y, mode: str = "valid") -> sp.Matrix:
    """Gradient (11) in discrete form (Sun et al. 2022, appendix D.1, eq. (11)).

    ``∇L(z) = (ŷ - y) Σ_x r'((K ⋆ I)(x)) I(x + z) + α K(z)``, ``ŷ = s(Σ_x r((K ⋆ I)(x)))``,
    with ``r'`` the derived Swish derivative (15).  Same parameters as
    :func:`discrete_loss`; returns a ``w × w`` matrix.
    """
    Km, Im, oh, ow = _grid(K_, I_, mode)
    w = Km.rows
    pre = _corr(Km, Im, oh, ow)
    yh = sigmoid(sum(swish(v, beta_) for v in pre), b_)
    r1 = sp.Lambda(u, sp.diff(swish(u, beta_), u))
    d = [[r1(pre[i, j]) for j in range(ow)] for i in range(oh)]
    return sp.Matrix(w, w, lambda p, q: (yh - y_) * sum(
        d[i][j] * _pix(Im, i + p, j + q) for i in range(oh) for j in range(ow)) + alpha_ * Km[p, q])
