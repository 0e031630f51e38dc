"""The optimizer registry's derived closed forms, read from data (no SymPy on this path).

The records of :mod:`workbench.derivations.schemes.entries` are SymPy matrices, and their
regions come from solving the Schur–Cohn conditions with SymPy (seconds of import and
algebra).  Everything the numeric side needs — names, hyperparameters and ranges,
parametrization maps, the coefficient matrices ``A, B, C``, the characteristic
polynomial's coefficients, the closed-form region ``h_lower < h < h_upper``, the first
paper's α bounds (26)-(27) in ``z_lo, z_hi`` — is derived once by
:mod:`workbench.derivations.schemes.cache` and stored as JSON expression trees
(:mod:`workbench.derivations.schemes.trees`, data only, never code) in ``derived.json``
beside this module.

Where the data comes from, in order:

1. the live registry, when :mod:`workbench.derivations.schemes.registry` is imported in
   this process (it imports SymPy anyway): each record's derivation is reused from the
   stored data while its record hash and the SymPy version match, and re-derived
   otherwise (so a scheme registered at run time is seen, see :func:`invalidate`);
2. ``derived.json`` in the package, when its ``source_key`` — a hash of the source text
   of the registry, its entries and the derivation modules, and the installed SymPy
   version (read from SymPy's ``release.py``, without importing it) — matches;
3. a copy in the user cache directory (``$WORKBENCH_CACHE_DIR``, else
   ``$XDG_CACHE_HOME/stability-workbench``, else ``~/.cache/stability-workbench``),
   written atomically after a fresh derivation when 2 did not match;
4. a fresh SymPy derivation (then written as 3; kept in memory if that fails).

``python -m workbench.derivations.schemes.cache write`` regenerates ``derived.json``
after a change to the entries (``check`` says whether it is current).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.derivations.schemes.trees import evaluate

__all__ = ["HyperRange", "HyperInfo", "ParamInfo", "SchemeInfo", "CHECKS", "get", "names", "canonical", "alpha_bounds_z",
           "invalidate", "source_key", "sympy_version", "PACKAGE_FILE", "FORMAT"]

#: the committed data file
PACKAGE_FILE = Path(__file__).with_name("derived.json")
#: bumped when the layout of the data changes
FORMAT = 1
_ROOT = Path(__file__).resolve().parents[1]
#: source files whose text keys the data (relative to the derivations folder)
SOURCES = ("schemes/entries.py", "schemes/registry.py", "schemes/cache.py", "schemes/trees.py",
           "von_neumann.py", "symbols.py", "regions.py", "unicode_printer.py")


class HyperRange:
    """``range_text`` and ``contains`` of a hyperparameter (shared with the registry's ``Hyper``)."""

    lower: float
    upper: float
    lower_open: bool
    upper_open: bool
    integer: bool

    def range_text(self) -> str:
        lo = "(" if self.lower_open else "["
        hi = ")" if self.upper_open else "]"
        up = "∞" if self.upper == float("inf") else f"{self.upper:g}"
        return f"{lo}{self.lower:g}, {up}{hi}"

    def contains(self, v: float) -> bool:
        lo_ok = v > self.lower if self.lower_open else v >= self.lower
        hi_ok = v < self.upper if self.upper_open else v <= self.upper
        return lo_ok and hi_ok and (not self.integer or float(v).is_integer())


@dataclass(frozen=True)
class HyperInfo(HyperRange):
    """A hyperparameter as data: ``symbol`` is the name of its SymPy symbol in the trees."""

    name: str
    symbol: str
    default: float
    lower: float
    upper: float
    lower_open: bool = False
    upper_open: bool = True
    doc: str = ""
    integer: bool = False
    aliases: tuple[str, ...] = ()
    unicode: str = ""


def pde_check(v: dict[str, float]) -> str | None:
    """Domain of the first paper's (Δt, d) parametrization (36): d·Δt ≤ 2 keeps μ ≥ 0."""
    if v["d"] * v["dt"] > 2:
        return f"d: d*dt = {v['d'] * v['dt']:.6g} > 2 gives a negative momentum coefficient; need 0 < d*dt <= 2"
    return None


#: domain checks of parametrizations, by the name the data stores (code stays code, never data)
CHECKS = {"pde": pde_check}


@dataclass(frozen=True)
class ParamInfo:
    """An alternative parametrization: ``maps`` (``"lr"`` and hyperparameter names -> trees in
    its parameters' symbols) and ``solve`` (a missing parameter -> tree through the others and
    the hyperparameters, or None)."""

    name: str
    params: tuple[HyperInfo, ...]
    maps: dict[str, Any]
    solve: dict[str, Any]
    doc: str = ""
    check_name: str | None = None

    def check(self, values: dict[str, float]) -> str | None:
        return CHECKS[self.check_name](values) if self.check_name else None


@dataclass(frozen=True)
class SchemeInfo:
    """One registered scheme as data (see :class:`workbench.derivations.schemes.registry.Optimizer`).

    ``records`` maps ``"K=3"`` (integer hyperparameters, sorted; ``""`` if none) to
    ``{"A", "B", "C", "kinds", "poly"}``; ``poly`` lists, highest power of ξ first, each
    coefficient of ``p(ξ)`` as ``[c0, c1]`` with the coefficient ``c0 + c1·h``.
    ``closed_region`` is ``[h_lower, h_upper]`` (trees) or None; ``paper_region`` the
    stated ``h_upper`` tree or None; ``texts`` the printed forms.
    """

    name: str
    title: str
    citation: str
    update: str
    hypers: tuple[HyperInfo, ...]
    aliases: tuple[str, ...] = ()
    parametrizations: tuple[ParamInfo, ...] = ()
    paper_region: Any = None
    paper_region_source: str = ""
    extra: dict = field(default_factory=dict)
    closed_region: Any = None
    records: dict = field(default_factory=dict)
    texts: dict = field(default_factory=dict)
    record_hash: str = ""

    def hyper(self, name: str) -> HyperInfo:
        for p in self.hypers:
            if p.name == name:
                return p
        raise KeyError(name)

    def record(self, ints: dict[str, int] | None = None) -> dict:
        """The record at the integer hyperparameters ``ints`` (their defaults where missing)."""
        key = ",".join(f"{p.name}={int((ints or {}).get(p.name, p.default))}" for p in self.hypers if p.integer)
        if key not in self.records:
            from workbench.derivations.schemes import cache  # an integer value outside the stored ones

            self.records[key] = cache.derive_record(self.name, key)
        return self.records[key]

    def env(self, values: dict[str, Any]) -> dict[str, Any]:
        """Symbol name -> value, from hyperparameter name -> value."""
        return {self.hyper(k).symbol: v for k, v in values.items()}


def _hyper(d: dict) -> HyperInfo:
    up = float("inf") if d["upper"] is None else d["upper"]
    return HyperInfo(d["name"], d["symbol"], d["default"], d["lower"], up, d["lower_open"], d["upper_open"],
                     d["doc"], d["integer"], tuple(d["aliases"]), d["unicode"])


def _scheme(d: dict) -> SchemeInfo:
    pars = tuple(ParamInfo(p["name"], tuple(_hyper(q) for q in p["params"]), p["maps"], p["solve"], p["doc"],
                           p["check"]) for p in d["parametrizations"])
    return SchemeInfo(d["name"], d["title"], d["citation"], d["update"], tuple(_hyper(h) for h in d["hypers"]),
                      tuple(d["aliases"]), pars, d["paper_region"], d["paper_region_source"], d["extra"],
                      d["closed_region"], d["records"], d["texts"], d["record_hash"])


def sympy_version() -> str:
    """The installed SymPy's version, read from its ``release.py`` (SymPy is not imported)."""
    mod = sys.modules.get("sympy")
    if mod is not None:
        return str(mod.__version__)
    spec = importlib.util.find_spec("sympy")
    if spec is None or spec.origin is None:
        return "none"
    try:
        text = Path(spec.origin).with_name("release.py").read_text(encoding="utf-8")
    except OSError:
        return "unknown"
    m = re.search(r"""__version__\s*=\s*["']([^"']+)["']""", text)
    return m.group(1) if m else "unknown"


def source_key() -> str:
    """Hash of the data's sources (see :data:`SOURCES`), the data format and the SymPy version."""
    h = hashlib.sha256(f"format {FORMAT}; sympy {sympy_version()}".encode())
    for rel in SOURCES:
        try:
            text = (_ROOT / rel).read_bytes()
        except OSError:             # an install without sources: the key cannot match, SymPy derives
            text = b"missing"
        h.update(rel.encode() + b"\0" + text + b"\0")
    return h.hexdigest()


def cache_dir() -> Path:
    """The user cache directory of the derived data (see the module docstring)."""
    if os.environ.get("WORKBENCH_CACHE_DIR"):
        return Path(os.environ["WORKBENCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stability-workbench"


def read(path: Path) -> dict | None:
    """The data at ``path`` if it is readable JSON of this :data:`FORMAT`, else None."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == FORMAT else None


def write(path: Path, doc: dict) -> None:
    """Write ``doc`` to ``path`` atomically (a temporary file in the same folder, then renamed)."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_STATE: dict[str, Any] = {}


def invalidate() -> None:
    """Forget the loaded data (the registry calls it on every :func:`register`)."""
    _STATE.clear()


def _load() -> dict:
    key = source_key()
    doc = read(PACKAGE_FILE)
    user = cache_dir() / f"derived-{key[:24]}.json"
    if "workbench.derivations.schemes.registry" in sys.modules:          # 1. the live registry
        from workbench.derivations.schemes import cache

        return cache.build(doc, read(user))     # never written: it may hold schemes registered at run time
    if doc is not None and doc.get("source_key") == key:                 # 2. the package's data
        return doc
    cached = read(user)
    if cached is not None and cached.get("source_key") == key:           # 3. the user cache
        return cached
    from workbench.derivations.schemes import cache                     # 4. fresh (SymPy)

    fresh = cache.build(doc)
    try:
        write(user, fresh)
    except OSError:
        pass                                                             # kept in memory only
    return fresh


def _data() -> dict:
    if not _STATE:
        doc = _load()
        _STATE["doc"] = doc
        _STATE["schemes"] = {d["name"]: _scheme(d) for d in doc["schemes"]}
        _STATE["aliases"] = {al: d["name"] for d in doc["schemes"] for al in d["aliases"]}
    return _STATE


def names() -> tuple[str, ...]:
    """Registered scheme names, in registration order (aliases excluded)."""
    return tuple(_data()["schemes"])


def canonical(name: str) -> str:
    """The registry name for ``name`` or one of its aliases; ``ValueError`` if unknown."""
    st = _data()
    if isinstance(name, str):
        if name in st["schemes"]:
            return name
        if name in st["aliases"]:
            return st["aliases"][name]
    raise ValueError(f"scheme: unknown {name!r}; registered: {', '.join(names())}")


def get(name: str) -> SchemeInfo:
    """The scheme registered under ``name`` (or an alias), as data."""
    return _data()["schemes"][canonical(name)]


def alpha_bounds_z() -> tuple[Any, Any]:
    """Trees of :func:`workbench.derivations.regions.alpha_bounds_z` (symbols z_lo, z_hi, a, beta, P_min, P_max)."""
    lo, hi = _data()["doc"]["alpha_bounds_z"]
    return lo, hi


def value(tree: Any, env: dict[str, Any]) -> float:
    """A tree's float value (:func:`workbench.derivations.schemes.trees.evaluate`)."""
    return float(evaluate(tree, env))


_SUPER = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _number(v: Any, digits: int | None) -> str:
    from fractions import Fraction

    if isinstance(v, Fraction) and digits is None:
        return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"
    return f"{float(v):.{digits or 15}g}"


def polynomial_text(opt: SchemeInfo, values: dict[str, Any], *, unicode: bool = False,
                    digits: int | None = None) -> str:
    """``p(ξ)`` at the hyperparameter ``values`` with its coefficients' numbers, as text.

    ``digits=None`` computes exactly with each value as the fraction of its shortest
    decimal form (0.9 -> 9/10, as the user wrote it); else floats printed to ``digits``
    significant digits.  SymPy syntax (``xi**2 + (h - 3/2)*xi + 1/2``) or, with
    ``unicode``, the notation of ``derive`` (``ξ² + (h - 3/2)·ξ + 1/2``).
    """
    from fractions import Fraction

    ints = {k: int(v) for k, v in values.items() if opt.hyper(k).integer}
    env = {opt.hyper(k).symbol: (Fraction(repr(float(v))) if digits is None else float(v))
           for k, v in values.items() if not opt.hyper(k).integer}
    coeffs = opt.record(ints)["poly"]
    x, times = ("ξ", "·") if unicode else ("xi", "*")
    terms: list[str] = []
    for i, (t0, t1) in enumerate(coeffs):
        k = len(coeffs) - 1 - i
        c0, c1 = evaluate(t0, env, exact=digits is None), evaluate(t1, env, exact=digits is None)
        parts = [p for p in ((f"{_number(c1, digits)}{times}h" if c1 not in (1, -1) else ("h" if c1 == 1 else "-h"))
                             if c1 != 0 else "", _number(c0, digits) if c0 != 0 else "") if p]
        if not parts:
            continue
        coef = parts[0] + "".join(f" - {p[1:]}" if p.startswith("-") else f" + {p}" for p in parts[1:])
        mono = "" if k == 0 else (x if k == 1 else (x + str(k).translate(_SUPER) if unicode else f"{x}**{k}"))
        if not mono:
            terms.append(coef)
        elif coef in ("1", "-1"):
            terms.append(mono if coef == "1" else "-" + mono)
        else:
            terms.append(f"({coef}){times}{mono}" if len(parts) > 1 else f"{coef}{times}{mono}")
    if not terms:
        return "0"
    return terms[0] + "".join(f" - {t[1:]}" if t.startswith("-") else f" + {t}" for t in terms[1:])
