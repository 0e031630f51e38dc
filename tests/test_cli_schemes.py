"""``workbench schemes`` and ``workbench region``: the JSON keys scripts depend on, and one-line errors."""
from __future__ import annotations

import json

import pytest

from workbench.derivations.schemes import registry as reg
from workbench.cli.app import main


def test_schemes_json_lists_the_registry(capsys):
    assert main(["schemes", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = [s["name"] for s in doc["schemes"]]
    assert names == list(reg.names()) and {"gd", "heavy-ball", "nesterov", "qhm", "aggmo"} <= set(names)
    for s in doc["schemes"]:
        assert {"name", "params", "citation"} <= set(s) and s["citation"]
    qhm = next(s for s in doc["schemes"] if s["name"] == "qhm")
    assert set(qhm["params"]) == {"nu", "beta"} and qhm["params"]["nu"]["range"] == "[0, 1]"


@pytest.mark.parametrize("scheme, params, h_upper", [
    ("gd", [], 2.0), ("heavy-ball", ["mu=0.5"], 3.0), ("nesterov", ["mu=0.9"], 19 / 14),
    ("central-difference", ["mu=0"], 2.0), ("qhm", ["nu=1", "beta=0.5"], 6.0), ("aggmo", ["K=1"], 2.0),
])
def test_region_json(capsys, scheme, params, h_upper):
    argv = ["region", scheme, "--json"] + [x for p in params for x in ("--param", p)]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"scheme", "params", "h_lower", "h_upper", "polynomial"} <= set(doc)
    assert doc["h_lower"] == 0.0 and doc["h_upper"] == pytest.approx(h_upper, rel=1e-12)
    assert "xi" in doc["polynomial"]


def test_region_exact_values_and_plot(capsys, tmp_path):
    assert main(["region", "heavy-ball", "--param", "mu=0.5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["h_upper"] == 3.0                  # exactly 2(1 + mu)
    assert main(["region", "nesterov", "--param", "mu=0.9", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["h_upper"] == 19 / 14
    png = tmp_path / "r.png"
    assert main(["region", "qhm", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "figure:" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["region", "lion"], "scheme: unknown 'lion'"),
    (["region", "heavy-ball", "--param", "mu=1"], "mu: must lie in [0, 1)"),
    (["region", "qhm", "--param", "nu=1.5"], "nu: must lie in [0, 1]"),
    (["region", "qhm", "--param", "nu"], "param: expected NAME=VALUE"),
    (["region", "qhm", "--param", "zeta=1"], "zeta: unknown hyperparameter of qhm"),
    (["region", "aggmo", "--param", "K=2.5"], "K: must lie an integer"),
    (["region", "nesterov", "--param", "dt=0.1"], "dt: region takes the hyperparameters"),
    (["bounds", "--image", "checkerboard:8", "--kernel", "2", "--scheme", "heavy-ball"], "dt: give the step"),
    (["bounds", "--image", "checkerboard:8", "--kernel", "2", "--lr", "-1", "--scheme", "qhm"], "lr:"),
    (["bounds", "--image", "checkerboard:8", "--kernel", "2", "--lr", "0.1", "--scheme", "lion"], "scheme: unknown"),
    (["bounds", "--image", "checkerboard:8", "--kernel", "2", "--lr", "0.1", "--scheme", "heavy-ball",
      "--param", "nu=0.5"], "nu: unknown hyperparameter of heavy-ball"),
])
def test_scheme_errors_are_one_line(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0]


def test_bounds_for_a_registered_scheme_by_lr_and_param(capsys):
    argv = ["bounds", "--image", "smooth:16", "--kernel", "3", "--scheme", "heavy-ball", "--lr", "1e-3",
            "--param", "mu=0.5", "--methods", "exact,simulated", "--steps", "400", "--rtol", "1e-2", "--json"]
    assert main(argv) == 0
    r = json.loads(capsys.readouterr().out)["results"][0]
    assert r["scheme"] == "heavy-ball" and r["params"] == {"mu": 0.5} and r["lr"] == 1e-3
    assert r["exact"]["z_upper"] == pytest.approx(3.0 / 1e-3, rel=1e-12)
    for k in ("alpha_lower", "alpha_upper"):
        assert abs(r["simulated"][k] - r["exact"][k]) <= 1e-2 * abs(r["exact"][k])


@pytest.mark.parametrize("name", reg.names())
def test_derive_scheme_prints_record_polynomial_and_region(capsys, name):
    assert main(["derive", f"scheme-{name}"]) == 0
    out = capsys.readouterr().out
    assert "characteristic_polynomial" in out and "ξ" in out and "False" not in out
    assert main(["derive", f"scheme-{name}", "--latex"]) == 0
    tex = capsys.readouterr().out
    assert "\\xi" in tex and "\\text{False}" not in tex


def test_region_prints_unicode_like_derive_and_latex_on_request(capsys):
    assert main(["region", "heavy-ball", "--param", "mu=0.9"]) == 0
    out = capsys.readouterr().out
    assert "heavy-ball (μ=0.9)" in out
    assert "ξ²" in out and "**" not in out and "xi" not in out  # Unicode, not SymPy syntax
    assert "closed form: 0 < h < 2⋅(μ + 1)" in out or "closed form: 0 < h < 2·(μ + 1)" in out, out
    assert main(["region", "heavy-ball", "--latex"]) == 0
    assert "\\" in capsys.readouterr().out


def test_schemes_and_region_help_have_a_description(capsys):
    for cmd in ("schemes", "region"):
        assert main([cmd, "--help"]) == 0
        out = capsys.readouterr().out
        assert out.split("\n\n")[1].strip() and not out.split("\n\n")[1].startswith("positional"), cmd
