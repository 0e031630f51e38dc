"""The workbench CLI: one-line errors with exit 2, and the commands wired to stubs.

The computational functions (``workbench.solvers.cnn.bounds.compute_bounds``, the derivation and
validation registries, ``workbench.benchmarks.suite.run_bench``) are replaced by stub modules
so these tests check only the command-line layer.
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import types
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import workbench as wb
from workbench.solvers.core.checks import ParameterError
from workbench.cli.app import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def stub(monkeypatch, name: str, **attrs) -> types.ModuleType:
    """Install a stub module ``name`` (also as attribute of its parent package)."""
    mod = types.ModuleType(name)
    for k, v in attrs.items():
        setattr(mod, k, v)
    monkeypatch.setitem(sys.modules, name, mod)
    parent, _, child = name.rpartition(".")
    monkeypatch.setattr(importlib.import_module(parent), child, mod, raising=False)
    return mod


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("workbench: error: ")
    assert "Traceback" not in err
    return lines[0][len("workbench: error: "):]


# --- subprocess: the real entry point ------------------------------------------------------

@pytest.mark.parametrize(
    "args, fragment",
    [
        (["bounds", "--image", "nosuch:3", "--kernel", "3", "--dt", "0.1"], "image: unknown spec kind"),
        (["bounds", "--image", "checkerboard:8", "--kernel", "3", "--dt", "-1"], "dt: must be in [1e-12, 1e+12]"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_subprocess_errors(args, fragment):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert fragment in one_error_line(proc.stderr)
    assert proc.stdout == ""


def test_subprocess_help():
    proc = run_cli("--help")
    assert proc.returncode == 0 and "bounds" in proc.stdout and proc.stderr == ""


def test_subprocess_closed_pipe_is_quiet():
    # `workbench validate --list | head -1`: the reader closes the pipe before the listing is written
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "validate", "--list"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""


# --- in process: every bad input of bounds -----------------------------------------------------

BASE = ["bounds", "--image", "checkerboard:8", "--kernel", "3", "--dt", "0.1"]


def _replace(args, opt, value):
    out = list(args)
    out[out.index(opt) + 1] = value
    return out


@pytest.mark.parametrize(
    "args, prefix",
    [
        (_replace(BASE, "--dt", "abc"), "dt:"),
        (_replace(BASE, "--dt", "nan"), "dt:"),
        (_replace(BASE, "--dt", "0"), "dt:"),
        (_replace(BASE, "--kernel", "0"), "kernel:"),
        (_replace(BASE, "--kernel", "3,x"), "kernel:"),
        (_replace(BASE, "--kernel", "9"), "kernel:"),
        (_replace(BASE, "--image", "checkerboard:0"), "image:"),
        (_replace(BASE, "--image", "missing.npy"), "image:"),
        (BASE + ["--a", "inf"], "a:"),
        (BASE + ["--beta", "x"], "beta:"),
        (BASE + ["--rtol", "0"], "rtol:"),
        (BASE + ["--rtol", "2"], "rtol:"),
        (BASE + ["--steps", "0"], "steps:"),
        (BASE + ["--steps", "1.5"], "steps:"),
        (BASE + ["--methods", "theory,magic"], "methods:"),
        (BASE + ["--methods", ","], "methods:"),
        (BASE + ["--backend", "tpu"], "argument --backend: invalid choice"),
        (BASE + ["--mode", "same"], "argument --mode: invalid choice"),
        (BASE + ["--dtype", "float16"], "argument --dtype: invalid choice"),
        (["bounds", "--image", "checkerboard:8", "--kernel", "3"], "dt: give the step as --dt"),
        (["derive", "x", "--latex", "--json"], "argument --json: not allowed with argument --latex"),
    ],
)
def test_bounds_bad_input(capsys, args, prefix):
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert one_error_line(err).startswith(prefix) and out == ""


def _fake_bounds(calls):
    def compute_bounds(image, w, dt=None, **kw):
        if isinstance(kw.get("scheme"), str) or "scheme" not in kw:     # the REPL passes names through
            from workbench.solvers.stepping.optimizers import resolve_scheme
            kw["scheme"] = resolve_scheme(kw.get("scheme", "gd"), dt)
        calls.append((image, w, kw["scheme"].lr, kw))
        return {"kernel": w, "scheme": kw["scheme"].name, "lr": kw["scheme"].lr, "a": kw["a"], "beta": kw["beta"],
                "mode": kw["mode"],
                "theory": {"alpha_lower": 0.25, "alpha_upper": 19.75},
                "exact": {"alpha_lower": np.float64(0.125), "alpha_upper": 19.5 + w},
                "simulated": {"alpha_lower": 0.126, "alpha_upper": float("nan"), "rtol": kw["rtol"]}}
    return compute_bounds


def test_bounds_table_and_arguments(monkeypatch, capsys):
    calls = []
    stub(monkeypatch, "workbench.solvers.cnn.bounds", compute_bounds=_fake_bounds(calls))
    rc = main(["bounds", "--image", "checkerboard:6", "--kernel", "3", "--kernel", "4,5", "--dt", "0.1",
               "--a", "-0.25", "--beta", "2", "--mode", "periodic", "--rtol", "1e-4", "--steps", "500",
               "--methods", "exact,theory", "--dtype", "float32"])
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""
    assert [c[1] for c in calls] == [3, 4, 5]
    image, _, dt, kw = calls[0]
    assert dt == 0.1 and image.dtype == np.float32 and image[0, 0] == -1 and image.shape == (6, 6)
    scheme = kw.pop("scheme")
    assert scheme.name == "gd" and scheme.lr == 0.1 and scheme.given == {"dt": 0.1}
    assert kw == {"a": -0.25, "beta": 2.0, "mode": "periodic", "backend": "numpy", "rtol": 1e-4,
                  "methods": ("exact", "theory"), "dtype": "float32", "steps": 500}
    lines = out.splitlines()
    assert lines[1].split() == ["kernel", "method", "alpha_lower", "alpha_upper", "interval"]
    assert lines[3].split() == ["3", "exact", "0.125", "22.5", "stable"]
    assert lines[4].split() == ["3", "theory", "0.25", "19.75", "stable"]
    assert len(lines) == 3 + 6 and "simulated" not in out


def test_bounds_json_and_defaults(monkeypatch, capsys):
    calls = []
    stub(monkeypatch, "workbench.solvers.cnn.bounds", compute_bounds=_fake_bounds(calls))
    assert main(BASE + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out, parse_constant=lambda t: pytest.fail(t))
    assert len(data["results"]) == 1
    assert data["results"][0]["simulated"] == {"alpha_lower": 0.126, "alpha_upper": None, "rtol": 1e-3}
    kw = calls[0][3]
    assert kw["a"] == -0.5 and kw["beta"] == 1.0 and kw["mode"] == "valid" and "steps" not in kw
    # no --methods: the fast ones (theory, exact); simulated only when asked for
    assert kw["methods"] == ("theory", "exact") and kw["scheme"].name == "gd" and kw["backend"] == "numpy"
    assert "momentum" not in kw and "damping" not in kw


def test_overflow_warnings_silenced(monkeypatch, capsys):
    def compute_bounds(image, w, dt=None, **kw):
        np.exp(np.array([1000.0]))  # would warn (and fail under -W error::RuntimeWarning)
        warnings.warn("overflow encountered in multiply", RuntimeWarning)
        return {"kernel": w, "exact": {"alpha_lower": 0.0, "alpha_upper": 1.0}}

    stub(monkeypatch, "workbench.solvers.cnn.bounds", compute_bounds=compute_bounds)
    assert main(BASE + ["--methods", "exact"]) == 0
    assert capsys.readouterr().err == ""


def test_error_raised_inside_solver(monkeypatch, capsys):
    def compute_bounds(image, w, dt=None, **kw):
        raise ParameterError("beta: must be > 0 for Swish,\n got -1")

    stub(monkeypatch, "workbench.solvers.cnn.bounds", compute_bounds=compute_bounds)
    assert main(BASE) == 2
    assert one_error_line(capsys.readouterr().err) == "beta: must be > 0 for Swish, got -1"


# --- derive ----------------------------------------------------------------------------------

class FakeDerivation:
    def __str__(self):
        return "A = 1 - dt*(alpha + a*beta*P/2)   (23)"

    def latex(self):
        return r"A = 1 - \Delta_t \left(\alpha + \frac{a \beta P}{2}\right) \tag{23}"

    def to_dict(self):
        return {"name": "cnn", "steps": [{"name": "amplifier", "equation": "23"}]}


def _derive_stub(monkeypatch):
    def get(name):
        if name != "cnn":
            raise ValueError(f"derivation: unknown {name!r}; available: cnn")
        return FakeDerivation()

    stub(monkeypatch, "workbench.derivations.registry", get=get, available=lambda: ["cnn"])


def test_derive(monkeypatch, capsys):
    _derive_stub(monkeypatch)
    assert main(["derive", "cnn"]) == 0
    assert "(23)" in capsys.readouterr().out
    assert main(["derive", "cnn", "--latex"]) == 0
    assert r"\tag{23}" in capsys.readouterr().out
    assert main(["derive", "cnn", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"][0]["equation"] == "23"
    assert main(["derive", "--list"]) == 0
    assert capsys.readouterr().out.split() == ["cnn"]
    assert main(["derive", "nope"]) == 2
    assert one_error_line(capsys.readouterr().err) == "derivation: unknown 'nope'; available: cnn"
    assert main(["derive"]) == 2
    assert one_error_line(capsys.readouterr().err).startswith("derivation: name required")
    assert str(wb.derive("cnn")).startswith("A = 1")


# --- validate --------------------------------------------------------------------------------

def _validation_stub(monkeypatch, fail=("b",), crash=()):
    def run_case(cid, out_dir, quick=False):
        if cid in crash:
            raise RuntimeError("solver blew up")
        fig = Path(out_dir) / f"{cid}.png"
        import matplotlib.image as mpimg

        mpimg.imsave(fig, np.ones((2, 2, 3)))
        return {"id": cid, "claim": f"claim {cid}", "source": "first paper, eq. (26)",
                "prediction": 1.0, "measurement": 1.0005 if quick else 1.0, "tolerance": 1e-3,
                "verdict": "refuted" if cid in fail else "confirmed", "passed": cid not in fail,
                "numbers": {"quick": quick}, "tables": [], "figures": [fig.name], "notes": ""}

    # the same interface as workbench.validation.registry: ids from list_cases, claims from get_case
    stub(monkeypatch, "workbench.validation.registry", run_case=run_case, list_cases=lambda: ["a", "b"],
         get_case=lambda cid: SimpleNamespace(id=cid, claim=f"claim {cid}"))


def test_validate_failing_case_exit_1(monkeypatch, capsys, tmp_path):
    _validation_stub(monkeypatch)
    assert main(["validate", "--out", str(tmp_path / "rep"), "--quick", "--workers", "1"]) == 1
    cap = capsys.readouterr()
    out, err = cap.out, cap.err  # not a terminal: the plan and the per-case lines go to stderr
    assert "validate: 2 cases (quick)" in err and "confirmed" in err and "PASS" in err and "FAIL" in err
    assert "1/2 passed their self-check; failed: b" in out
    data = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert [c["id"] for c in data["cases"]] == ["a", "b"] and data["meta"]["quick"] is True
    assert data["cases"][0]["numbers"] == {"quick": True}
    assert "data:image/png;base64," in (tmp_path / "rep" / "report.html").read_text()


def test_validate_selected_pass_exit_0(monkeypatch, capsys, tmp_path):
    _validation_stub(monkeypatch)
    assert main(["validate", "a", "--out", str(tmp_path)]) == 0
    assert "1/1 passed" in capsys.readouterr().out
    assert [c["id"] for c in json.loads((tmp_path / "results.json").read_text())["cases"]] == ["a"]


def test_validate_list_unknown_and_crash(monkeypatch, capsys, tmp_path):
    _validation_stub(monkeypatch, crash=("a",), fail=())
    assert main(["validate", "--list"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["b", "claim", "b"]
    assert main(["validate", "zz", "--out", str(tmp_path)]) == 2
    assert one_error_line(capsys.readouterr().err) == "case: unknown 'zz'; available: a, b"
    assert main(["validate", "--out", str(tmp_path), "--workers", "1"]) == 1
    case_a = json.loads((tmp_path / "results.json").read_text())["cases"][0]
    assert case_a["verdict"] == "error" and case_a["passed"] is False
    assert "RuntimeError: solver blew up" in case_a["notes"]
    res = wb.validate("b", out=tmp_path / "r2", quick=True)
    assert res.passed is True and res.files["md"].exists() and res.verdicts == {"confirmed": 1}
    assert repr(res).startswith("ValidationRun(1 cases (quick): 1 passed; 1 confirmed; out=")


# --- bench and the REPL face --------------------------------------------------------------------

ROWS = [{"name": "fft-correlation", "ours": "scipy.fft", "baseline": "direct sum", "ours_s": 0.0012,
         "baseline_s": 0.25, "ratio": 208.3, "note": "w=7"}]


def test_bench(monkeypatch, capsys, tmp_path):
    seen = []
    stub(monkeypatch, "workbench.benchmarks.suite", run_bench=lambda quick=False: seen.append(quick) or ROWS)
    assert main(["bench", "--quick"]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:2] == ["#", "row"])
    assert lines[head + 2].split()[:5] == ["1", "fft-correlation", "1.2", "-", "250"]
    assert "208× faster" in lines[head + 2]
    assert any(line.startswith("[1] fft-correlation: ours = scipy.fft; baseline = direct sum; w=7") for line in lines)
    assert main(["bench", "--json", "--out", str(tmp_path / "b.json")]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == ROWS
    assert json.loads((tmp_path / "b.json").read_text())["rows"] == ROWS
    assert seen == [True, False]
    assert wb.bench() == ROWS and seen[-1] is True
    assert callable(wb.bench)  # importing workbench.benchmarks.suite did not replace the function


def test_repl_bounds_accepts_spec(monkeypatch):
    calls = []
    stub(monkeypatch, "workbench.solvers.cnn.bounds", compute_bounds=_fake_bounds(calls))
    res = wb.bounds("checkerboard:4", 3, 0.5, a=-0.5, beta=1.0, mode="valid", rtol=1e-3)
    assert res["kernel"] == 3 and calls[0][0].shape == (4, 4) and calls[0][0][0, 1] == 1
    assert [r["kernel"] for r in wb.bounds(np.ones((5, 5)), [2, 3], 0.5, a=-0.5, beta=1.0,
                                           mode="valid", rtol=1e-3)] == [2, 3]
