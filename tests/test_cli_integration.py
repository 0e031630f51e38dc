"""The CLI end to end, on the real derivations, solvers and validation cases (small sizes)."""
from __future__ import annotations

import json
import math
import types

import pytest

from workbench.cli.app import main


def run_cli(capsys, *args: str) -> types.SimpleNamespace:
    """``main([...])`` in process, as ``python -m workbench`` calls it (issue 26: a subprocess per test re-imported
    the package); the real entry point in a subprocess is tested in test_cli_errors and test_bad_inputs."""
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return types.SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


def test_bounds_json_contract(capsys):
    p = run_cli(capsys, "bounds", "--image", "checkerboard:32", "--kernel", "8", "--kernel", "12", "--dt", "1e-5",
                "--steps", "300", "--rtol", "1e-2", "--methods", "theory,exact,simulated", "--json")
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    doc = json.loads(p.stdout)
    assert [r["kernel"] for r in doc["results"]] == [8, 12]
    for r in doc["results"]:
        assert r["scheme"] == "gd" and r["mode"] == "valid" and r["dt"] == 1e-5 and r["lr"] == 1e-5
        assert r["a"] == -0.5 and r["beta"] == 1.0
        w = r["kernel"]
        assert r["exact"]["alpha_lower"] == pytest.approx(0.25 * (32 - w + 1) ** 2 * w ** 2, rel=1e-12)
        assert r["theory"]["alpha_lower"] == pytest.approx(0.25 * 32 ** 4, rel=1e-12)
        assert abs(r["simulated"]["alpha_lower"] / r["exact"]["alpha_lower"] - 1) <= 1e-2
        assert r["simulated"]["rtol"] == 1e-2
        assert all(math.isfinite(r[m][k]) for m in ("theory", "exact", "simulated") for k in ("alpha_lower", "alpha_upper"))


def test_bounds_nesterov_json_contract(capsys):
    p = run_cli(capsys, "bounds", "--image", "checkerboard:32", "--kernel", "8", "--dt", "1e-3", "--scheme", "nesterov",
                "--momentum", "0.9", "--steps", "400", "--rtol", "1e-2", "--methods",
                "theory,theory_exact,exact,simulated", "--json")
    assert p.returncode == 0, p.stderr
    (r,) = json.loads(p.stdout)["results"]
    assert r["scheme"] == "nesterov" and r["momentum"] == 0.9
    assert r["d"] == pytest.approx(0.2 / (1.9 * 1e-3)) and r["eta"] == pytest.approx(0.95e-6)
    assert set(r) >= {"theory", "theory_exact", "exact", "simulated"}
    assert r["theory"]["alpha_upper"] == pytest.approx(4 / 3e-6 + 0.25 * r["theory"]["P_min"])
    assert r["theory_exact"]["alpha_upper"] == pytest.approx(4 / 2.8e-6 + 0.25 * r["theory"]["P_min"])
    for k in ("alpha_lower", "alpha_upper"):
        assert abs(r["simulated"][k] / r["exact"][k] - 1) <= 1e-2


def test_bounds_table_periodic(capsys):
    assert main(["bounds", "--image", "noise:16:3", "--kernel", "16", "--dt", "1e-3", "--mode", "periodic",
                 "--methods", "theory,exact"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = {line.split()[1]: line.split()[2:] for line in out[3:]}
    assert rows["theory"] == rows["exact"] or all(
        math.isclose(float(a), float(b), rel_tol=1e-5) for a, b in zip(rows["theory"], rows["exact"]))


def test_derive_latex_and_json(capsys):
    assert main(["derive", "cnn", "--latex"]) == 0
    tex = capsys.readouterr().out
    assert "\\tag{23}" in tex and "\\tag{27}" in tex and "\\alpha" in tex
    assert main(["derive", "forward-euler", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert any(s["equation"] == "(23)" for s in doc["steps"])


def test_validate_list_and_unknown(capsys):
    assert main(["validate", "--list"]) == 0
    ids = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert {"cnn-gd-bounds", "cnn-linearization"} <= set(ids)
    assert main(["validate", "no-such-case"]) == 2


def test_validate_quick_writes_report(tmp_path, capsys):
    assert main(["validate", "cnn-linearization", "--quick", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    (case,) = doc["cases"]
    assert case["id"] == "cnn-linearization" and case["verdict"] == "confirmed"
    assert case["passed"] is True and abs(case["numbers"]["slope"] - case["numbers"]["predicted_order"]) <= 0.15
    assert (tmp_path / "cnn_linearization.png").stat().st_size > 1000
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "cnn-linearization" in html
    assert "cnn-linearization" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize("args,needle", [
    (["bounds", "--image", "checkerboard:8", "--kernel", "9", "--dt", "1e-3"], "kernel: size 9 is larger"),
    (["bounds", "--image", "checkerboard:8", "--kernel", "2", "--dt", "0"], "dt:"),
    (["bounds", "--image", "checkerboard:8", "--kernel", "2", "--dt", "1e-3", "--beta", "0"], "beta:"),
    (["derive", "nope"], "derivation: unknown"),
    (["bounds", "--image", "checkerboard:8", "--kernel", "2", "--dt", "1e-3", "--scheme", "nesterov",
      "--momentum", "1"], "momentum: must be in [0, 1)"),
    (["bounds", "--image", "checkerboard:8", "--kernel", "2", "--dt", "1e-3", "--scheme", "nesterov",
      "--damping", "-2"], "damping: must be in [1e-12, 1e+12]"),
    (["bounds", "--image", "checkerboard:8", "--kernel", "2", "--dt", "1e-3", "--momentum", "0.9"],
     "momentum: unknown hyperparameter of gd"),
    (["bounds", "--image", "checkerboard:8", "--kernel", "2", "--dt", "1e-3", "--scheme", "heavy"], "scheme"),
])
def test_cli_errors_one_line(args, needle, capsys):
    p = run_cli(capsys, *args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in p.stderr
