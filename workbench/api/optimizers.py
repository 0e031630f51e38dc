"""Your optimizer as a registered scheme: ``wb.scheme_of``, ``wb.max_stable_lr(obj, optimizer=opt)``, ``wb.stability``.

A ``torch.optim`` optimizer is read, param group by param group, into the registered
scheme whose record iterates what it does (:mod:`workbench.derivations.schemes.entries`):

=========================================  ==========================  ==============================
torch.optim                                 scheme                      hyperparameters
=========================================  ==========================  ==============================
SGD(momentum=0, weight_decay=0)             ``gd``
SGD(momentum=μ, dampening=0, wd=0)          ``heavy-ball``              mu
SGD(momentum=μ, dampening=τ, wd)            ``heavy-ball-dampened``     mu, dampening, weight_decay
SGD(momentum=μ, nesterov=True, wd)          ``nesterov-lookahead``      mu, weight_decay
Adam(betas=(β₁, β₂), eps, wd)               ``adam``                    beta1, decay=0, weight_decay
AdamW(betas, eps, wd) / decoupled decay     ``adam``                    beta1, decay=η·wd
RMSprop(alpha, eps, momentum, wd, centered) ``rmsprop``                 mu, weight_decay
=========================================  ==========================  ==============================

``maximize=True`` and ``amsgrad=True`` are refused (ascent is not a descent scheme; the
AMSGrad maximum ``max(v)`` is not a frozen-preconditioner EMA).

Adaptive methods are analysed on the frozen-preconditioner linearization of Cohen et al.,
"Adaptive Gradient Methods at the Edge of Stability" (arXiv 2207.14484, section 2): with
P fixed, the update is a preconditioned momentum scheme whose stability is set by the
*preconditioned sharpness* λ₁(P⁻¹H); for Adam P = (1 − β₁ᵗ)·diag(√v̂ + ε),
v̂ = v/(1 − β₂ᵗ), read from the optimizer's state at its current step t, and the
threshold is (2 + 2β₁)/((1 − β₁)η). L2 weight decay shifts the Hessian the scheme sees
to H + wd·I (before preconditioning); AdamW's decoupled decay enters the record's A.
Several param groups are one scheme with a per-coordinate step: their learning rates
relative to the first group's enter the diagonal preconditioner, and the returned
``max_lr`` is the first group's (the others scaled with it).
"""
from __future__ import annotations

import math
from functools import partial
from dataclasses import dataclass, field
from typing import Any

from workbench.solvers.core.checks import ParameterError

__all__ = ["GroupScheme", "SchemeOf", "Stability", "scheme_of", "optimizer_max_stable_lr", "stability"]


@dataclass(frozen=True)
class GroupScheme:
    """One param group of an optimizer as a registered scheme.

    ``params`` are the registry hyperparameters (``decay`` = η·wd at the group's lr for
    AdamW); ``decoupled`` is AdamW's wd itself; ``preconditioner`` is ``""``, ``"adam"`` or
    ``"rmsprop"`` with its ``settings`` (eps, beta2 / alpha, centered); ``tensors`` are the
    group's parameters.
    """

    scheme: str
    lr: float
    params: dict
    decoupled: float = 0.0
    preconditioner: str = ""
    settings: dict = field(default_factory=dict)
    tensors: tuple = field(default=(), repr=False, compare=False)


@dataclass(frozen=True)
class SchemeOf:
    """An optimizer read as registered schemes (:func:`scheme_of`), one :class:`GroupScheme` per param group."""

    framework: str
    optimizer: str
    groups: tuple[GroupScheme, ...]

    @property
    def scheme(self) -> str:
        """The scheme (the same for every group: :func:`scheme_of` refuses mixtures)."""
        return self.groups[0].scheme

    @property
    def params(self) -> dict:
        """The first group's hyperparameters."""
        return dict(self.groups[0].params)

    @property
    def lr(self) -> float:
        """The first group's learning rate."""
        return self.groups[0].lr

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        more = f", {len(self.groups)} param groups" if len(self.groups) > 1 else ""
        pre = f", preconditioner {self.groups[0].preconditioner}" if self.groups[0].preconditioner else ""
        return f"SchemeOf({self.optimizer} -> {self.scheme}({p}), lr={self.lr:g}{pre}{more})"


def _num(name: str, v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ParameterError(f"optimizer: {name} = {v!r} is not a number") from None
    if not math.isfinite(x):
        raise ParameterError(f"optimizer: {name} = {x!r} is not finite")
    return x


def _torch_group(opt: Any, kind: str, g: dict) -> GroupScheme:
    """One param group of a ``torch.optim`` optimizer as a registered scheme (the reader of its class)."""
    if g.get("maximize", False):
        raise ParameterError(f"optimizer: {kind}(maximize=True) ascends the loss; its linear stability is not that "
                             "of a descent scheme (negate the loss instead)")
    lr = _num("lr", g["lr"])
    wd = _num("weight_decay", g.get("weight_decay", 0.0))
    return _TORCH_READERS[kind](kind, g, lr, wd, tuple(g["params"]))


def _sgd_group(kind: str, g: dict, lr: float, wd: float, tensors: tuple) -> GroupScheme:
    """torch.optim.SGD: gd, heavy ball (with dampening and L2 decay) or Nesterov's look-ahead form."""
    mu, tau = _num("momentum", g.get("momentum", 0.0)), _num("dampening", g.get("dampening", 0.0))
    if g.get("nesterov", False):
        return GroupScheme("nesterov-lookahead", lr, {"mu": mu, "weight_decay": wd}, tensors=tensors)
    if mu == 0.0:
        if wd == 0.0:
            return GroupScheme("gd", lr, {}, tensors=tensors)
        return GroupScheme("heavy-ball-dampened", lr, {"mu": 0.0, "dampening": 0.0, "weight_decay": wd},
                           tensors=tensors)
    if tau == 0.0 and wd == 0.0:
        return GroupScheme("heavy-ball", lr, {"mu": mu}, tensors=tensors)
    return GroupScheme("heavy-ball-dampened", lr, {"mu": mu, "dampening": tau, "weight_decay": wd}, tensors=tensors)


def _adam_group(kind: str, g: dict, lr: float, wd: float, tensors: tuple, decoupled: bool = False) -> GroupScheme:
    """torch.optim.Adam / AdamW: the frozen-preconditioner Adam record, L2 or decoupled decay."""
    if g.get("amsgrad", False):
        raise ParameterError(f"optimizer: {kind}(amsgrad=True) divides by the running maximum of v, which is not "
                             "the EMA preconditioner of the frozen-preconditioner analysis (Cohen et al. 2022); "
                             "use amsgrad=False")
    b1, b2 = (_num("betas", b) for b in g["betas"])
    decoupled = decoupled or bool(g.get("decoupled_weight_decay", False))
    settings = {"beta2": b2, "eps": _num("eps", g["eps"]), "beta1": b1}
    if decoupled:
        return GroupScheme("adam", lr, {"beta1": b1, "decay": lr * wd, "weight_decay": 0.0}, decoupled=wd,
                           preconditioner="adam", settings=settings, tensors=tensors)
    return GroupScheme("adam", lr, {"beta1": b1, "decay": 0.0, "weight_decay": wd}, preconditioner="adam",
                       settings=settings, tensors=tensors)


def _rmsprop_group(kind: str, g: dict, lr: float, wd: float, tensors: tuple) -> GroupScheme:
    """torch.optim.RMSprop: the frozen-preconditioner RMSprop record (optional heavy-ball momentum)."""
    settings = {"alpha": _num("alpha", g["alpha"]), "eps": _num("eps", g["eps"]),
                "centered": bool(g.get("centered", False))}
    return GroupScheme("rmsprop", lr, {"mu": _num("momentum", g.get("momentum", 0.0)), "weight_decay": wd},
                       preconditioner="rmsprop", settings=settings, tensors=tensors)


#: the reader of each supported torch.optim class
_TORCH_READERS = {"SGD": _sgd_group, "Adam": _adam_group, "AdamW": partial(_adam_group, decoupled=True),
                  "RMSprop": _rmsprop_group}


_TORCH_KINDS = tuple(_TORCH_READERS)


_OPTAX = {"sgd": ("learning_rate", "momentum", "nesterov"), "add_decayed_weights": ("weight_decay",),
          "adam": ("learning_rate", "b1", "b2", "eps"), "adamw": ("learning_rate", "b1", "b2", "eps", "weight_decay"),
          "rmsprop": ("learning_rate", "decay", "eps", "momentum")}


def _optax_chain(chain: Any) -> SchemeOf:
    """An optax chain named as ``[(name, {kwargs}), ...]`` (optax's transformations hide their hyperparameters)."""
    wd, main = 0.0, None
    for item in chain:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], dict)):
            raise ParameterError("optimizer: an optax chain is named as [(name, {keyword: value}), ...], e.g. "
                                 "[('add_decayed_weights', {'weight_decay': 1e-4}), ('sgd', {'learning_rate': 0.1})]")
        name, kw = item
        if name not in _OPTAX:
            raise ParameterError(f"optimizer: optax.{name} is not supported; supported: optax."
                                 f"{', optax.'.join(_OPTAX)}")
        unknown = sorted(set(kw) - set(_OPTAX[name]))
        if unknown:
            raise ParameterError(f"optimizer: optax.{name} has no keyword {unknown[0]!r} here; it takes "
                                 f"{', '.join(_OPTAX[name])}")
        if name == "add_decayed_weights":
            if main is not None:
                raise ParameterError("optimizer: add_decayed_weights after the optimizer is decoupled decay scaled "
                                     "by -lr; name it before (L2) or use adamw")
            wd += _num("weight_decay", kw.get("weight_decay", 0.0))
        elif main is not None:
            raise ParameterError(f"optimizer: the chain names two optimizers ({main[0]}, {name})")
        else:
            main = (name, kw)
    if main is None:
        raise ParameterError("optimizer: the chain names no optimizer (sgd, adam, adamw, rmsprop)")
    name, kw = main
    lr = _num("learning_rate", kw["learning_rate"]) if "learning_rate" in kw else None
    if lr is None:
        raise ParameterError(f"optimizer: optax.{name} needs learning_rate")
    if name == "sgd":
        mu = _num("momentum", kw.get("momentum") or 0.0)
        if kw.get("nesterov", False):
            return SchemeOf("optax", "sgd", (GroupScheme("nesterov-lookahead", lr, {"mu": mu, "weight_decay": wd}),))
        if mu == 0.0 and wd == 0.0:
            return SchemeOf("optax", "sgd", (GroupScheme("gd", lr, {}),))
        if wd == 0.0:
            return SchemeOf("optax", "sgd", (GroupScheme("heavy-ball", lr, {"mu": mu}),))
        return SchemeOf("optax", "sgd", (GroupScheme("heavy-ball-dampened", lr,
                                                     {"mu": mu, "dampening": 0.0, "weight_decay": wd}),))
    if name in ("adam", "adamw"):
        b1 = _num("b1", kw.get("b1", 0.9))
        settings = {"beta1": b1, "beta2": _num("b2", kw.get("b2", 0.999)), "eps": _num("eps", kw.get("eps", 1e-8))}
        dec = _num("weight_decay", kw.get("weight_decay", 1e-4 if name == "adamw" else 0.0))
        return SchemeOf("optax", name, (GroupScheme("adam", lr, {"beta1": b1, "decay": lr * dec, "weight_decay": wd},
                                                    decoupled=dec, preconditioner="adam", settings=settings),))
    settings = {"alpha": _num("decay", kw.get("decay", 0.9)), "eps": _num("eps", kw.get("eps", 1e-8)),
                "centered": False}
    return SchemeOf("optax", "rmsprop", (GroupScheme("rmsprop", lr, {"mu": _num("momentum", kw.get("momentum") or 0.0),
                                                                     "weight_decay": wd},
                                                     preconditioner="rmsprop", settings=settings),))


def scheme_of(optimizer: Any) -> SchemeOf:
    """The registered scheme and hyperparameters of a ``torch.optim`` optimizer, per param group.

    Parameters
    ----------
    optimizer : torch.optim.SGD, Adam, AdamW or RMSprop, or an optax chain named as a list
        As configured (its ``param_groups``); the module docstring gives the mapping. optax
        transformations do not expose their hyperparameters, so an optax chain is named:
        ``[("add_decayed_weights", {"weight_decay": 1e-4}), ("sgd", {"learning_rate": 0.1,
        "momentum": 0.9, "nesterov": True})]`` (also ``adam``, ``adamw``, ``rmsprop``).

    Returns
    -------
    SchemeOf
        ``.scheme``, ``.params``, ``.lr`` (the first group's), ``.groups``.

    Raises
    ------
    ParameterError
        Another optimizer class, ``maximize=True``, ``amsgrad=True``, param groups with
        different schemes or hyperparameters (other than lr and L2 weight decay).

    Examples
    --------
    >>> wb.scheme_of(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True))  # doctest: +SKIP
    SchemeOf(SGD -> nesterov-lookahead(mu=0.9, weight_decay=0), lr=0.1)
    """
    if isinstance(optimizer, (list, tuple)):
        return _optax_chain(optimizer)
    kind = type(optimizer).__name__
    mod = type(optimizer).__module__ or ""
    if not mod.startswith("torch.optim") or kind not in _TORCH_KINDS:
        raise ParameterError(f"optimizer: {mod}.{kind} is not supported; supported: torch.optim."
                             f"{', torch.optim.'.join(_TORCH_KINDS)}")
    groups = tuple(_torch_group(optimizer, kind, g) for g in optimizer.param_groups)
    first = groups[0]
    for i, g in enumerate(groups[1:], start=1):
        same = {k: v for k, v in g.params.items() if k not in ("weight_decay", "decay")}
        ref = {k: v for k, v in first.params.items() if k not in ("weight_decay", "decay")}
        if g.scheme != first.scheme or same != ref or g.settings != first.settings or g.decoupled != first.decoupled:
            raise ParameterError(f"optimizer: param group {i} runs {g.scheme}{g.params} but group 0 runs "
                                 f"{first.scheme}{first.params}; the analysis needs one scheme across groups "
                                 "(learning rates and L2 weight decay may differ)")
    return SchemeOf("torch", kind, groups)


# -- the operator the scheme sees ------------------------------------------------------------------
def _slices(obj: Any) -> dict[int, tuple[int, int]]:
    """id(model parameter) -> (start, stop) in the objective's flat θ."""
    model = getattr(obj, "model", None)
    if model is None or not hasattr(obj, "names"):
        raise ParameterError(f"obj: optimizer= needs an objective of a torch model (wb.from_torch), got "
                             f"{type(obj).__name__}")
    named = dict(model.named_parameters())
    out, start = {}, 0
    for name, n in zip(obj.names, obj._numels):
        out[id(named[name])] = (start, start + n)
        start += n
    return out


def _preconditioner(optimizer: Any, g: GroupScheme, p: Any) -> Any:
    """P for one parameter tensor from the optimizer's state (flat, the parameter's dtype)."""
    st = optimizer.state.get(p, {})
    if g.preconditioner == "adam":
        if "exp_avg_sq" not in st or "step" not in st:
            raise ParameterError("optimizer: Adam has no state yet (no step taken); its preconditioner "
                                 "P = (1 - beta1^t) diag(sqrt(v_hat) + eps) exists from step 1 on")
        t = float(st["step"])
        b1, b2, eps = g.settings["beta1"], g.settings["beta2"], g.settings["eps"]
        v_hat = st["exp_avg_sq"].detach().reshape(-1) / (1.0 - b2 ** t)
        return (1.0 - b1 ** t) * (v_hat.sqrt() + eps)
    if g.preconditioner == "rmsprop":
        if "square_avg" not in st:
            raise ParameterError("optimizer: RMSprop has no state yet (no step taken); its preconditioner "
                                 "P = diag(sqrt(v) + eps) exists from step 1 on")
        v = st["square_avg"].detach().reshape(-1)
        if g.settings["centered"]:
            ga = st["grad_avg"].detach().reshape(-1)
            v = v - ga * ga
        return v.sqrt() + g.settings["eps"]
    return None


def _diagonals(obj: Any, optimizer: Any, so: SchemeOf) -> tuple[Any, Any]:
    """``(scale, shift)`` over θ: the step of each coordinate relative to the first group's lr
    (1/P for adaptive methods, 0 for parameters the optimizer does not update) and its L2 decay."""
    torch = obj._torch
    where = _slices(obj)
    scale = torch.zeros(obj.size, dtype=obj.dtype, device=obj.device)
    shift = torch.zeros(obj.size, dtype=obj.dtype, device=obj.device)
    lr0 = so.lr
    for g in so.groups:
        for p in g.tensors:
            if id(p) not in where:
                if p.requires_grad:
                    raise ParameterError("optimizer: it updates a tensor that is not a trainable parameter of the "
                                         "objective's model; build the objective from the same model")
                continue
            a, b = where[id(p)]
            pre = _preconditioner(optimizer, g, p)
            r = g.lr / lr0
            with torch.no_grad():
                scale[a:b] = r if pre is None else r / pre.to(dtype=obj.dtype, device=obj.device)
                shift[a:b] = g.params.get("weight_decay", 0.0)
    return scale, shift


def _preconditioned_top(obj: Any, theta: Any, scale: Any, shift: Any, tol: float, which: str = "largest",
                        start: Any = None, hvp: Any = None, check_every: int = 5) -> Any:
    """Extreme eigenpair of S = D^½(H + W)D^½ (D = diag(scale), W = diag(shift)), similar to D(H + W)."""
    from workbench.solvers.linalg.hessian import _device, lanczos

    d = obj.xp.sqrt(scale)
    if hvp is None:
        hvp = obj.hvp_operator(theta) if hasattr(obj, "hvp_operator") else (lambda u: obj.hvp(theta, u))

    def mv(u: Any) -> Any:
        w = d * u
        return d * (hvp(w) + shift * w)

    return lanczos(mv, obj.size, obj.xp, obj.dtype, which=which, tol=tol, device=_device(theta), start=start,
                   check_every=check_every)


def _max_lr(so: SchemeOf, lam: float, lam_min: float | None = None) -> float:
    """The largest first-group lr with every h = ηλ in the scheme's region (AdamW: decay = η·wd moves with η)."""
    from workbench.solvers.stepping import optimizers

    g = so.groups[0]
    params = dict(g.params)
    if g.decoupled == 0.0:
        lmin = lam if lam_min is None else lam_min
        return float(optimizers.max_stable_lr(min(lmin, lam), lam, g.scheme, **params))
    if lam <= 0:
        return math.inf

    def excess(eta: float) -> float:  # > 0: unstable at eta
        c = eta * g.decoupled
        if c >= 2.0:                                     # |1 − c| >= 1: θ itself does not contract
            return 1.0
        return eta * lam - optimizers.h_interval(g.scheme, **{**params, "decay": c}).upper

    lo, hi = 0.0, optimizers.h_interval(g.scheme, **{**params, "decay": 0.0}).upper / lam
    for _ in range(200):                                 # bisection to the float's resolution
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (lo, mid) if excess(mid) > 0 else (mid, hi)
    return lo


def optimizer_max_stable_lr(obj: Any, theta: Any, optimizer: Any, tol: float = 1e-8) -> tuple[float, float, SchemeOf]:
    """``(max_lr, preconditioned sharpness, scheme)`` of the optimizer at θ; see :func:`stability`."""
    so = scheme_of(optimizer)
    if so.framework == "optax":
        if so.groups[0].preconditioner:
            raise ParameterError(f"optimizer: optax.{so.optimizer}'s preconditioner lives in its opt_state, which a "
                                 "named chain does not carry; the frozen-preconditioner analysis needs it")
        xp = obj.xp
        scale = xp.ones((obj.size,), dtype=obj.dtype)
        shift = so.groups[0].params.get("weight_decay", 0.0) * scale
    else:
        scale, shift = _diagonals(obj, optimizer, so)
    lam = float(_preconditioned_top(obj, theta, scale, shift, tol).values[0])
    return _max_lr(so, lam), lam, so


@dataclass(frozen=True)
class Stability:
    """The optimizer's linear stability at θ (:func:`stability`).

    ``lr`` the optimizer's current (first group's) learning rate, ``max_lr`` the largest
    stable one, ``margin`` = lr / max_lr (< 1: stable), ``sharpness`` λ₁ of the Hessian the
    scheme sees (preconditioned for Adam/RMSprop, L2 decay included), ``threshold`` the
    sharpness limit at the current lr, ``scheme``/``params`` the registered scheme.
    """

    lr: float
    max_lr: float
    margin: float
    sharpness: float
    threshold: float
    scheme: str
    params: dict
    optimizer: str = ""

    @property
    def stable(self) -> bool:
        return self.margin < 1.0

    def __repr__(self) -> str:
        state = "stable" if self.stable else "UNSTABLE"
        p = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return (f"Stability({self.optimizer} as {self.scheme}({p}): lr={self.lr:.6g}, max_lr={self.max_lr:.6g}, "
                f"margin={self.margin:.3f} {state}, sharpness={self.sharpness:.6g} vs threshold {self.threshold:.6g})")


def stability(obj: Any, theta: Any, optimizer: Any, tol: float = 1e-8) -> Stability:
    """Is the optimizer, as configured and in its current state, linearly stable at θ?

    The preconditioned sharpness λ₁(D(H + W)) by Lanczos on exact HVPs (D the optimizer's
    diagonal step relative to its lr: 1/P for Adam/RMSprop, read from its state, bias
    corrections included; W its L2 decay), then the registered scheme's exact region
    (Cohen et al., arXiv 2207.14484, section 2, for Adam: threshold (2 + 2β₁)/((1 − β₁)η)).
    """
    max_lr, lam, so = optimizer_max_stable_lr(obj, theta, optimizer, tol)
    lr = so.lr
    thr = _threshold(so, lr)
    margin = lr / max_lr if max_lr > 0 else math.inf
    return Stability(lr, max_lr, margin, lam, thr, so.scheme, so.params, so.optimizer)


def _threshold(so: SchemeOf, lr: float) -> float:
    """The sharpness limit h_upper/lr at the optimizer's lr."""
    from workbench.solvers.stepping import optimizers

    return float(optimizers.h_interval(so.scheme, **so.params).upper) / lr
