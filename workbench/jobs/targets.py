"""Sweep targets: what one point of ``workbench sweep`` computes (:data:`TARGETS`).

``bounds``  α bounds of one image/kernel/Δt/scheme (:func:`workbench.solvers.cnn.bounds.compute_bounds`);
``perturb`` final divergence of k-perturbed against unperturbed gradient descent on the
            one-layer CNN (:func:`workbench.solvers.cnn.perturbation.run_perturbed`);
``spin``    a CPU-bound toy point (repeated small matrix products), for tests and the
            executor benchmark.

Each target declares its parameters with a type and a default; :data:`TYPES` parses grid text
into those types (never evaluated), :data:`RANGES` bounds the integer axes that size a point's work.
The sweep machinery (grid, executors, resume, outputs) is :mod:`workbench.jobs.sweep`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from workbench.solvers.core.checks import ParameterError, check_finite, check_int, parse_number

__all__ = ["TARGETS", "Target", "TYPES", "RANGES", "get_target", "check_bounds_points"]

_WORDS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-:.,")


def _as_int(name: str, v: Any) -> int:
    if isinstance(v, str):
        return parse_number(f"grid: {name}", v, integer=True)
    try:
        return check_int(f"grid: {name}", v)
    except ParameterError:
        raise ParameterError(f"grid: {name}: expected an integer, got {v!r}") from None


def _as_float(name: str, v: Any) -> float:
    if isinstance(v, str):
        return parse_number(f"grid: {name}", v)
    if isinstance(v, bool):
        raise ParameterError(f"grid: {name}: expected a number, got {v!r}")
    return check_finite(f"grid: {name}", v)


def _as_word(name: str, v: Any) -> str:
    s = str(v)
    if not s or not set(s) <= _WORDS or len(s) > 200:
        raise ParameterError(f"grid: {name}: expected a plain word (letters, digits, _-:.,), got {v!r}")
    return s


TYPES: dict[str, Callable[[str, Any], Any]] = {"int": _as_int, "float": _as_float, "str": _as_word}


@dataclass(frozen=True)
class Target:
    """A sweepable function: ``func(params) -> dict`` of JSON numbers/strings.

    ``params`` maps each parameter name to ``(type, default)``, type one of int, float,
    str; a default of ``None`` means the parameter is optional and left out when absent.
    """

    name: str
    func: Callable[[dict], dict]
    params: dict[str, tuple[str, Any]]
    doc: str = ""


def _bounds_kwargs(p: dict) -> dict:
    kw = {k: p[k] for k in ("a", "beta", "mode", "backend", "rtol", "steps", "scheme", "dt", "lr", "momentum")
          if p.get(k) is not None}
    if p.get("d") is not None:
        kw["damping"] = p["d"]
    if kw.get("dt") is None and kw.get("lr") is None:
        kw["dt"] = 1e-6                                 # the target's default step
    kw["params"] = {k: p[k] for k in _HYPER_AXES if p.get(k) is not None}
    kw["methods"] = tuple(m for m in p["methods"].split(",") if m)
    return kw


def check_bounds_points(points: list[dict]) -> None:
    """Resolve (η, μ, Δt, d) of every distinct scheme setting of a bounds grid before any point runs:
    a grid that gives both a momentum and a damping that disagree is refused, not mixed."""
    from workbench.solvers.stepping.optimizers import resolve_scheme

    seen = set()
    for p in points:
        kw = _bounds_kwargs(p)
        key = tuple(sorted((k, v) for k, v in kw.items() if k in ("scheme", "dt", "lr", "momentum", "damping"))) \
            + tuple(sorted(kw["params"].items()))
        if key in seen:
            continue
        seen.add(key)
        try:
            resolve_scheme(kw["scheme"], kw.get("dt"), kw.get("lr"), kw["params"], kw.get("momentum"),
                           kw.get("damping"))
        except ParameterError as exc:
            raise ParameterError(f"grid: {exc}") from None


def _bounds_point(p: dict) -> dict:
    from workbench.solvers.cnn.bounds import compute_bounds

    from workbench.api.images import load_image

    kw = _bounds_kwargs(p)
    img = load_image(p["image"])
    r = compute_bounds(img, p["kernel"], **kw)
    out: dict[str, Any] = {"scheme_lr": r["lr"]}
    for m in ("theory", "theory_exact", "exact", "simulated"):
        if m in r:
            out[f"{m}_alpha_lower"] = r[m]["alpha_lower"]
            out[f"{m}_alpha_upper"] = r[m]["alpha_upper"]
            out[f"{m}_empty"] = bool(r[m].get("empty", False))
            if r[m].get("note"):
                out[f"{m}_note"] = str(r[m]["note"])
    return out


#: hyperparameters of the registered schemes that a bounds sweep takes as grid axes (qhm's beta: "momentum")
_HYPER_AXES = ("mu", "nu", "K", "base")


def _perturb_point(p: dict) -> dict:
    from workbench.solvers.core.backend import Fft, float_dtype, get_namespace
    from workbench.solvers.cnn.correlation import CnnOperator
    from workbench.solvers.cnn.perturbation import run_perturbed

    from workbench.api.images import load_image

    xp = get_namespace(p["backend"])
    img = xp.asarray(load_image(p["image"]), dtype=float_dtype(xp, p["dtype"]))
    op = CnnOperator(img, p["kernel"], fft=Fft(xp))
    ks = (1, p["k"]) if p["k"] != 1 else (1,)
    run = run_perturbed(op, [p["lr"]], ks, p["alpha"], p["seed"], steps=p["steps"], histories=False)
    i = len(ks) - 1                                       # the member with k = p["k"]
    return {"final_rel_l1": float(run.final_rel_l1[i]), "max_rel_l1": float(run.max_rel_l1[i]),
            "final_loss": float(run.final_loss[i]), "status": run.status[i], "first_above": int(run.first_above[i])}


def _spin_point(p: dict) -> dict:
    import numpy as np

    rng = np.random.default_rng(p["seed"])
    a = rng.standard_normal((p["size"], p["size"])) / p["size"]
    v = np.ones(p["size"])
    for _ in range(p["work"]):
        v = a @ v
        v /= np.linalg.norm(v)
    time.sleep(p["sleep"])
    return {"x": p["x"], "y": p["x"] ** 2, "v0": float(v[0])}


TARGETS: dict[str, Target] = {
    "bounds": Target("bounds", _bounds_point, {
        "image": ("str", "checkerboard:64"), "kernel": ("int", 8), "dt": ("float", None), "a": ("float", -0.5),
        "beta": ("float", 1.0), "mode": ("str", "valid"), "backend": ("str", "numpy"), "rtol": ("float", 1e-3),
        "steps": ("int", 1000), "scheme": ("str", "gd"), "momentum": ("float", None), "lr": ("float", None),
        "d": ("float", None), "mu": ("float", None), "nu": ("float", None), "K": ("int", None),
        "base": ("float", None),
        "methods": ("str", "theory,exact")}, "alpha bounds (workbench.solvers.cnn.bounds.compute_bounds)"),
    "perturb": Target("perturb", _perturb_point, {
        "image": ("str", "checkerboard:64"), "kernel": ("int", 8), "alpha": ("float", 20.0), "lr": ("float", 0.01),
        "k": ("int", 3), "seed": ("int", 0), "steps": ("int", 200), "dtype": ("str", "float64"),
        "backend": ("str", "numpy")}, "k-perturbed vs unperturbed GD on the one-layer CNN"),
    "spin": Target("spin", _spin_point, {
        "x": ("float", 0.0), "seed": ("int", 0), "size": ("int", 64), "work": ("int", 2000),
        "sleep": ("float", 0.0)}, "CPU-bound toy point (tests, executor benchmark)"),
}


#: Ranges of the integer axes that size a point's work (a point must finish: no unbounded loop).
RANGES: dict[str, tuple[int, int]] = {"steps": (2, 10**6), "kernel": (1, 8192), "k": (1, 10**6),
                                       "size": (1, 4096), "work": (0, 10**7)}


def get_target(name: str) -> Target:
    """The registered target ``name`` (a clear error naming the known ones otherwise)."""
    if name not in TARGETS:
        raise ParameterError(f"target: unknown {name!r}; available: {', '.join(TARGETS)}")
    return TARGETS[name]
