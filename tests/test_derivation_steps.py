"""Printing, lookup and registry of derivations (workbench.derivations.steps, workbench.derivations.registry)."""
from __future__ import annotations

import json
import re

import pytest
import sympy as sp

import workbench.derivations as derivations
from workbench.derivations import Derivation, Step, available, get
from workbench.derivations.steps import difference
from workbench.derivations.symbols import P, a, alpha, beta, dt

A = sp.Symbol(r"A(\omega)")
AMP = sp.Eq(A, 1 - dt * (alpha + a * beta * P / 2))


@pytest.fixture(scope="module")
def cnn_chain(derivation) -> Derivation:
    return derivation("cnn")


@pytest.fixture(scope="module")
def euler(derivation) -> Derivation:
    return derivation("forward-euler")


def _small() -> Derivation:
    return Derivation("demo", "Demo", "nowhere", [
        Step("amplifier", "(23)", AMP, "A from the scheme"),
        Step("helper", "", sp.Gt(alpha, 0), "no number"),
    ])


def test_step_str_names_label_and_expression():
    st = Step("amplifier", "(23)", AMP, "A from the scheme")
    text = str(st)
    assert text.startswith("(23) amplifier: ")
    assert text == "(23) amplifier: A(ω) = 1 - Δt·(α + P·a·β/2)" or (
        "α" in text and "Δt" in text and "β" in text and "\\" not in text and "Eq(" not in text)


def test_step_latex_has_tag_alpha_and_comment():
    st = Step("amplifier", "(23)", AMP, "A from the scheme")
    tex = st.latex()
    assert r"\tag{23}" in tex
    assert r"\alpha" in tex and r"\beta" in tex
    assert tex.startswith("% amplifier: A from the scheme")
    assert r"\begin{equation}" in tex and r"\end{equation}" in tex
    assert st._repr_latex_().startswith("$$") and r"\tag{23}" in st._repr_latex_()


def test_unnumbered_step_has_no_tag():
    st = Step("helper", "", sp.Gt(alpha, 0))
    assert r"\tag" not in st.latex()
    assert r"\begin{equation*}" in st.latex()
    assert str(st) == "helper: α > 0"


def test_step_to_dict_is_json_safe_with_contract_keys():
    d = Step("amplifier", "(23)", AMP, "A from the scheme").to_dict()
    assert set(d) == {"name", "equation", "text", "sympy", "latex", "description"}
    assert d["equation"] == "(23)" and d["name"] == "amplifier"
    assert r"\alpha" in d["latex"]
    assert d["sympy"] == sp.sstr(AMP) and "alpha" in d["sympy"]
    assert "α" in d["text"] and "Δt" in d["text"] and "alpha" not in d["text"]
    assert json.loads(json.dumps(d)) == d


@pytest.mark.parametrize("kwargs", [
    dict(name="", equation="(1)", expr=sp.S(1)),
    dict(name="x", equation=23, expr=sp.S(1)),
    dict(name="x", equation="(1)", expr="alpha + 1"),
])
def test_step_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        Step(**kwargs)


def test_derivation_lookup_by_name_label_and_index():
    der = _small()
    assert der["amplifier"] is der["(23)"] is der["23"] is der[0]
    assert len(der) == 2 and [s.name for s in der] == ["amplifier", "helper"]
    assert "helper" in der and "nothere" not in der
    with pytest.raises(KeyError, match="amplifier, helper"):
        der["nothere"]


def test_derivation_rejects_duplicate_names():
    with pytest.raises(ValueError, match="duplicate"):
        Derivation("d", "D", "s", [Step("x", "", sp.S(1)), Step("x", "", sp.S(2))])


def test_derivation_printing():
    der = _small()
    text = str(der)
    assert text.splitlines()[0] == "Demo [demo] (nowhere)"
    assert "(23) amplifier" in text and "helper: α > 0" in text
    tex = der.latex()
    assert tex.count(r"\tag{") == 1 and tex.count(r"\begin{equation") == 2
    assert "% helper" in tex
    assert der._repr_latex_().startswith("$$") and "(23)" in der._repr_latex_()
    d = der.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert [s["name"] for s in d["steps"]] == ["amplifier", "helper"]


def test_difference_of_relationals():
    assert sp.simplify(difference(sp.Gt(alpha, 1), sp.Lt(1, alpha))) == 0
    assert sp.simplify(difference(sp.Gt(alpha, 1), sp.Gt(alpha, 2))) != 0
    assert difference(sp.Eq(A, alpha), alpha) == 0
    with pytest.raises(ValueError, match="stated"):
        difference(sp.Gt(alpha, 1), sp.Eq(alpha, 1))


def test_registry_names_and_error(derivation):
    names = available()
    assert names[:4] == ["cnn", "forward-euler", "von-neumann-nesterov", "momentum"]
    assert all(derivation(n).name == n for n in names)
    with pytest.raises(ValueError) as err:
        get("x")
    assert str(err.value) == "derivation: unknown 'x'; available: " + ", ".join(names)
    assert derivations.get is get


def _labels(der: Derivation) -> list[int]:
    return [int(s.equation.strip("()")) for s in der if s.equation]


def test_cnn_chain_covers_every_equation_in_order(cnn_chain):
    labels = _labels(cnn_chain)
    assert labels == sorted(labels)
    assert set(labels) == set(range(1, 28))
    assert cnn_chain.names()[0] == "model" and cnn_chain.names()[-1] == "alpha_upper"


def test_forward_euler_chain(euler):
    assert set(_labels(euler)) == set(range(20, 28))
    assert _labels(euler) == sorted(_labels(euler))


def test_amplifier_step_latex(cnn_chain, euler):
    for der in (cnn_chain, euler):
        tex = der["(23)"].latex() + der["amplifier"].latex()
        assert r"\tag{23}" in tex and r"\alpha" in tex and r"\Delta_{t}" in tex
    body = cnn_chain.latex()
    tags = re.findall(r"\\tag\{([^}]*)\}", body)
    assert sorted(tags, key=int) == [str(n) for n in range(1, 28)]  # every equation once: no (18), (23) twice
    assert r"\tag{12}" in body and r"\star" in body
    d = cnn_chain.to_dict()
    assert json.loads(json.dumps(d)) == d and len(d["steps"]) == len(cnn_chain)


def test_get_returns_fresh_objects(cnn_chain):
    other = get("cnn")
    other["model"].description = "changed"
    assert get("cnn")["model"].description != "changed"


# --- readable text and one tag per equation (issue 17) ------------------------------------------

def test_text_mode_is_unicode_math_without_latex(derivation):
    for name in available():
        text = str(derivation(name))
        assert "\\" not in text, (name, [ln for ln in text.splitlines() if "\\" in ln][:2])
        assert "Eq(" not in text and "**" not in text and "Delta_t" not in text, name
    cnn = str(derivation("cnn"))
    assert "K̂ⁿ⁺¹ = A(ω)·K̂ⁿ - Δt·Ī·a/2" in cnn
    assert "(24) dt_bound_pointwise: Δt < 2/(P·a·β/2 + α)" in cnn
    assert "Δt = √2·√η/√(μ + 1)" in str(derivation("momentum"))


@pytest.mark.parametrize("name", available())
def test_each_paper_equation_tagged_once(name, derivation):
    tags = re.findall(r"\\tag\{([^}]*)\}", derivation(name).latex())
    assert len(tags) == len(set(tags)), name
    assert all(")" not in t and "(" not in t for t in tags), tags


def test_range_tag_as_the_paper_writes_it(derivation):
    tex = derivation("momentum").latex()
    assert r"\tag{42–43}" in tex and "42)-(43" not in tex
    from workbench.derivations.steps import _tag
    assert _tag("(42)-(43)") == "42–43" and _tag("(23)") == "23" and _tag("Def. 1") == "Def. 1"
    assert _tag("(45), (46)") == "45, 46"
    two = Derivation("t", "T", "s", [Step("a", "(18)", sp.Eq(alpha, 1)), Step("b", "(18)", sp.Eq(beta, 2)),
                                      Step("c", "(19)", sp.Eq(a, 0)), Step("d", "(18)", sp.Eq(dt, 1))])
    tex = two.latex()
    assert tex.count(r"\tag{18}") == 1 and r"\begin{gathered}" in tex and r"\tag*{cf.~(18)}" in tex
