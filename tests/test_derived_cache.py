"""The registry's derived closed forms as data (issue 26, "Start-up").

``derivations/schemes/derived.json`` must equal a fresh SymPy derivation, a changed
record must miss the cache and be re-derived, the command-line fast paths must not
import SymPy, and the tree evaluator must refuse what it does not know.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import zlib
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from workbench.derivations.schemes import cache, derived
from workbench.derivations.schemes import registry as reg
from workbench.derivations.schemes.trees import TreeError, evaluate

REFRESH = "python -m workbench.derivations.schemes.cache write"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fresh() -> dict:
    return json.loads(json.dumps(cache.build(), sort_keys=True))


def test_committed_data_equals_a_fresh_derivation(fresh):
    stored = derived.read(derived.PACKAGE_FILE)
    assert stored is not None, f"{derived.PACKAGE_FILE} is missing or unreadable; run {REFRESH}"
    assert stored["source_key"] == derived.source_key(), f"the registry's sources changed; run {REFRESH}"
    for new in fresh["schemes"]:
        old = next((s for s in stored["schemes"] if s["name"] == new["name"]), None)
        assert old == new, f"scheme {new['name']!r}: stored data differs from a fresh derivation; run {REFRESH}"
    assert stored == fresh, f"derived.json differs from a fresh derivation; run {REFRESH}"


def _points(opt: reg.Optimizer, rng: np.random.Generator, n: int = 4) -> list[dict]:
    out = []
    for _ in range(n):
        vals: dict = {}
        for p in opt.hypers:
            if p.integer:
                vals[p.name] = int(p.default)
                continue
            top = p.upper if math.isfinite(p.upper) else 5.0
            vals[p.name] = float(rng.uniform(p.lower, top) if top > p.lower else p.lower)
        out.append(vals)
    return out


@pytest.mark.parametrize("name", reg.names())
def test_trees_give_the_sympy_numbers(name):
    """Closed region, stated region, matrices and p(ξ) coefficients at several points, against SymPy."""
    opt, info = reg.get(name), derived.get(name)
    closed = reg.closed_region(name)
    assert (closed is None) == (info.closed_region is None)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for vals in _points(opt, rng):
        env = info.env({k: v for k, v in vals.items() if not opt.hyper(k).integer})
        subs = {opt.hyper(k).symbol: v for k, v in vals.items() if not opt.hyper(k).integer}
        if closed is not None:
            for tree, expr in zip(info.closed_region, closed):
                assert evaluate(tree, env) == pytest.approx(float(expr.subs(subs)), rel=1e-13, abs=1e-15)
        if opt.paper_region is not None:
            stated = opt.paper_region({p.name: p.symbol for p in opt.hypers}).subs(subs)
            assert evaluate(info.paper_region, env) == pytest.approx(float(stated), rel=1e-13)
        A, B, C, kinds = opt.matrices({k: v for k, v in vals.items() if opt.hyper(k).integer})
        rec = info.record({k: v for k, v in vals.items() if opt.hyper(k).integer})
        assert tuple(rec["kinds"]) == tuple(kinds)
        for tree, expr in zip([t for row in rec["A"] for t in row] + rec["B"] + rec["C"], list(A) + list(B) + list(C)):
            assert evaluate(tree, env) == pytest.approx(float(expr.subs(subs)), rel=1e-13, abs=1e-15)
        poly = reg.polynomial(opt, {k: v for k, v in vals.items() if opt.hyper(k).integer} or None)
        for (t0, t1), c in zip(rec["poly"], poly.all_coeffs()):
            c = sp.expand(c.subs(subs))
            assert evaluate(t0, env) == pytest.approx(float(c.subs(reg.h, 0)), rel=1e-12, abs=1e-14)
            assert evaluate(t1, env) == pytest.approx(float(c.coeff(reg.h)), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("name,values", [("gd", {}), ("heavy-ball", {"mu": 0.5}), ("nesterov", {"mu": 0.9}),
                                         ("qhm", {"nu": 0.7, "beta": 0.999}), ("aggmo", {"K": 3, "base": 0.1})])
def test_printed_polynomial_is_the_sympy_polynomial(name, values):
    """The exact text of p(ξ) at values (SymPy syntax) is SymPy's polynomial there (our own output parsed)."""
    info = derived.get(name)
    text = derived.polynomial_text(info, values)
    parsed = sp.parse_expr(text, local_dict={"xi": reg.xi, "h": reg.h})
    exact = {k: (int(v) if info.hyper(k).integer else sp.Rational(repr(float(v)))) for k, v in values.items()}
    assert sp.expand(parsed - reg.polynomial(reg.get(name), exact).as_expr()) == 0
    uni = derived.polynomial_text(info, values, unicode=True)
    assert "ξ" in uni and "xi" not in uni


def test_a_changed_record_changes_its_hash_and_is_rederived(monkeypatch):
    base = reg.get("heavy-ball")
    same = replace(base, name="heavy-ball-cache-test", aliases=())
    changed = replace(same, record=lambda v: (sp.Matrix([[1 + v["mu"], -v["mu"]], [1, 0]]), sp.Matrix([2, 0]),
                                              sp.Matrix([[1, 0]]), ("theta", "theta")))
    assert cache.record_hash(same) != cache.record_hash(changed)
    assert cache.record_hash(same) == cache.record_hash(replace(base, name="heavy-ball-cache-test", aliases=()))
    calls: list[str] = []
    real = cache.derive
    monkeypatch.setattr(cache, "derive", lambda opt: calls.append(opt.name) or real(opt))
    try:
        reg.register(same)
        first = derived.get("heavy-ball-cache-test")           # a new record: derived once
        assert calls == ["heavy-ball-cache-test"]
        doc = cache.build(derived.read(derived.PACKAGE_FILE))
        assert calls == ["heavy-ball-cache-test"] * 2           # the package file does not hold it
        calls.clear()
        assert cache.build(doc) == doc and calls == []          # stored with a matching hash: reused
        del reg._REGISTRY["heavy-ball-cache-test"]
        reg.register(changed)                                   # the record changes: its hash misses
        second = derived.get("heavy-ball-cache-test")
        assert calls == ["heavy-ball-cache-test"]
        assert second.record_hash != first.record_hash
        assert evaluate(first.closed_region[1], {"mu": 0.5}) == 3.0
        assert evaluate(second.closed_region[1], {"mu": 0.5}) == 1.5     # h B C doubled: half the region
    finally:
        reg._REGISTRY.pop("heavy-ball-cache-test", None)
        derived.invalidate()
    assert "heavy-ball-cache-test" not in derived.names()


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKBENCH_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)


@pytest.mark.parametrize("argv", [["schemes"], ["schemes", "--json"], ["region", "gd"],
                                  ["region", "nesterov", "--param", "mu=0.9", "--json"],
                                  ["bounds", "--image", "checkerboard:64", "--kernel", "8", "--dt", "1e-6",
                                   "--methods", "theory"]])
def test_fast_paths_do_not_import_sympy(argv, tmp_path):
    code = ("import sys\nfrom workbench.cli.app import main\n"
            f"assert main({argv!r}) == 0\n"
            "heavy = sorted(m for m in ('sympy', 'scipy.fft', 'matplotlib', 'dask') if m in sys.modules)\n"
            "assert not heavy, heavy\n")
    proc = _run(code, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:] + f"\n(if derived.json is stale, run {REFRESH})"
    assert not (tmp_path / "cache").exists()             # the package's data was used, nothing derived


def test_stale_sources_derive_once_into_the_user_cache(tmp_path):
    """A source key that does not match: derived with SymPy, written to the user cache, then read without SymPy."""
    patch = "from workbench.derivations.schemes import derived\nderived.source_key = lambda: 'f' * 64\n"
    first = _run(patch + "import sys\nprint(len(derived.names()), 'sympy' in sys.modules)", tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stdout.split() == [str(len(reg.names())), "True"]
    files = list((tmp_path / "cache").glob("derived-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["source_key"] == "f" * 64
    second = _run(patch + "import sys\nprint(len(derived.names()), 'sympy' in sys.modules)", tmp_path)
    assert second.stdout.split() == [str(len(reg.names())), "False"]


@pytest.mark.parametrize("tree", [["exec", ["sym", "x"]], ["__import__", ["int", 1]], ["call", "os.system", "ls"],
                                  ["lambda"], [], "x", ["sym"], ["sym", "missing"], ["int", "1"], ["rat", 1, 0],
                                  ["float", 1.0], ["pow", ["int", 1]], ["abs", ["int", 1], ["int", 2]], ["add"]])
def test_evaluator_refuses_what_it_does_not_know(tree):
    with pytest.raises(TreeError):
        evaluate(tree, {"x": 1.0})


def test_evaluator_exact_and_float():
    tree = ["add", ["mul", ["rat", 3, 2], ["sym", "mu"]], ["pow", ["sym", "mu"], ["int", 2]]]
    assert evaluate(tree, {"mu": Fraction(1, 2)}, exact=True) == Fraction(1)
    assert evaluate(tree, {"mu": 0.5}) == 1.0
    assert evaluate(["pow", ["int", 4], ["rat", 1, 2]], {}) == 2.0


@pytest.mark.parametrize("shape", [(64, 64), (65, 63), (31, 40)])
def test_image_transform_is_scipys_bit_for_bit(shape):
    """``Fft.rfft2_image`` (numpy.fft, keeps scipy.fft off the theory path) equals scipy.fft.rfft2 exactly."""
    import scipy.fft

    from workbench.solvers.core.backend import Fft, get_namespace

    x = np.random.default_rng(1).standard_normal(shape)
    got = Fft(get_namespace("numpy")).rfft2_image(x)
    assert np.array_equal(got, scipy.fft.rfft2(x, s=shape, axes=(-2, -1), workers=2))


@pytest.mark.parametrize("name", [n for n in reg.names() if reg.closed_region(n) is not None])
def test_trees_round_as_the_lambdified_forms_did(name):
    """Bit-for-bit the numbers of ``lambdify(..., cse=True)`` (what the solvers evaluated before the data)."""
    from workbench.derivations import regions
    from workbench.solvers.core.lambdify import lambdify

    opt, info = reg.get(name), derived.get(name)
    args = tuple(p.symbol for p in opt.hypers)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    zargs = (regions.z_lo, regions.z_hi, regions.a, regions.beta, regions.P_min, regions.P_max)
    for _ in range(50):
        vals = [float(rng.uniform(p.lower, min(p.upper, 4.0))) for p in opt.hypers]
        env = {p.symbol.name: v for p, v in zip(opt.hypers, vals)}
        for tree, expr in zip(info.closed_region, reg.closed_region(name)):
            assert evaluate(tree, env) == float(lambdify(expr, args)(*vals))
        zv = [float(v) for v in rng.uniform(-1e3, 1e3, 2)] + [float(rng.uniform(-2, 2)), float(rng.uniform(0.1, 3)),
                                                             float(rng.uniform(0, 10)), float(rng.uniform(10, 1e4))]
        for tree, expr in zip(derived.alpha_bounds_z(), regions.alpha_bounds_z()):
            assert evaluate(tree, dict(zip(("z_lo", "z_hi", "a", "beta", "P_min", "P_max"), zv))) == \
                float(lambdify(expr, zargs)(*zv))
