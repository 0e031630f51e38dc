"""Every CLI entry point on bad input: exit 2, one stderr line naming the parameter, no traceback.

The CLI runs in-process (``workbench.cli.app.main([...])`` with capsys); a few subprocess
smoke tests check the real entry point. The computational functions that a wrongly
accepted input would reach (the benchmark, validation cases, the bounds in the
hypothesis test) are replaced by stubs that fail the test, so a silently accepted bad
input shows as a failure, never as a long run.
"""
from __future__ import annotations

import importlib
import json
import math
import os
import re
import struct
import subprocess
import sys
import types
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.cli.app import NUMERIC, main

ROOT = Path(__file__).resolve().parents[1]
BASE = ["bounds", "--image", "checkerboard:8", "--kernel", "3", "--dt", "0.1"]


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1))) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bad")
    f = {k: str(d / k) for k in ("zero.npy", "complex.npy", "object.npy", "huge.npy", "trunc.npy", "junk.npy",
                                 "cube.npy", "e300.npy", "nan.npy", "huge.png", "zero.png", "junk.png",
                                 "empty.npy", "a_file", "a_dir")}
    Path(f["zero.npy"]).write_bytes(b"")
    np.save(f["complex.npy"], np.ones((4, 4), complex))
    np.save(f["object.npy"], np.array([[1, None]], dtype=object), allow_pickle=True)
    for name, shape, extra in (("huge.npy", (100000, 100000), b""), ("trunc.npy", (100, 100), b"\0" * 80)):
        with open(f[name], "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": shape})
            fh.write(extra)
    Path(f["junk.npy"]).write_bytes(b"hello world" * 8)
    np.save(f["cube.npy"], np.zeros((3, 3, 3)))
    np.save(f["e300.npy"], np.full((8, 8), 1e300))
    np.save(f["nan.npy"], np.full((8, 8), np.nan))
    np.save(f["empty.npy"], np.zeros((0, 5)))
    Path(f["huge.png"]).write_bytes(_png(20000, 20000))
    Path(f["zero.png"]).write_bytes(b"")
    Path(f["junk.png"]).write_bytes(b"not a png")
    Path(f["a_file"]).write_text("x")
    Path(f["a_dir"]).mkdir()
    return f


@pytest.fixture(autouse=True)
def no_work(monkeypatch):
    """A bad input must fail before any work: the benchmark and validation cases fail the test."""
    def forbidden(*a, **k):
        raise AssertionError("a bad input reached the computation")

    bench = types.ModuleType("workbench.benchmarks.suite")
    bench.run_bench = forbidden
    monkeypatch.setitem(sys.modules, "workbench.benchmarks.suite", bench)
    reg = types.ModuleType("workbench.validation.registry")
    reg.run_case, reg.list_cases = forbidden, lambda: ["a", "b"]
    reg.get_case = lambda cid: SimpleNamespace(id=cid, claim="c")
    monkeypatch.setitem(sys.modules, "workbench.validation.registry", reg)
    monkeypatch.setattr(importlib.import_module("workbench.validation"), "registry", reg, raising=False)


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("workbench: error: "), err
    return lines[0][len("workbench: error: "):]


def B(*extra: str) -> list[str]:
    """bounds with one option replaced or added."""
    args = list(BASE)
    for flag, value in zip(extra[::2], extra[1::2]):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return args


NESTEROV = ("--scheme", "nesterov")
# (argv, the parameter the one line must start with); {name} is replaced by a fixture file
CASES: list[tuple[list[str], str]] = [
    # --kernel
    (B("--kernel", "²"), "kernel:"), (B("--kernel", "٣"), "kernel:"), (B("--kernel", "0"), "kernel:"),
    (B("--kernel", "-3"), "kernel:"), (B("--kernel", "3.5"), "kernel:"), (B("--kernel", ""), "kernel:"),
    (B("--kernel", "1e3"), "kernel:"), (B("--kernel", "99999"), "kernel:"), (B("--kernel", "9"), "kernel:"),
    (B("--kernel", "3,,4"), "kernel:"), (B("--kernel", "３"), "kernel:"),
    # --dt
    (B("--dt", "5e-324"), "dt:"), (B("--dt", "0"), "dt:"), (B("--dt", "-1"), "dt:"), (B("--dt", "nan"), "dt:"),
    (B("--dt", "inf"), "dt:"), (B("--dt", "1e200"), "dt:"), (B("--dt", "abc"), "dt:"), (B("--dt", "١"), "dt:"),
    (B("--dt", "1_0"), "dt:"), (B("--dt", "0x10"), "dt:"), (B("--dt", ""), "dt:"), (B("--dt", "1e-400"), "dt:"),
    (B("--dt", "1e999"), "dt:"), (B(*NESTEROV, "--dt", "1e200"), "dt:"), (B(*NESTEROV, "--dt", "1e-200"), "dt:"),
    # --a, --beta, --rtol
    (B("--a", "1e308"), "a:"), (B("--a", "nan"), "a:"), (B("--a", "½"), "a:"), (B("--beta", "0"), "beta:"),
    (B("--beta", "-1"), "beta:"), (B("--beta", "1e7"), "beta:"), (B("--rtol", "1"), "rtol:"),
    (B("--rtol", "0"), "rtol:"), (B("--rtol", "1e-20"), "rtol:"),
    # --steps (range, and memory checked before any allocation)
    (B("--steps", "999999999999"), "steps:"), (B("--steps", "2.7"), "steps:"), (B("--steps", "1"), "steps:"),
    (B("--steps", "100000000"), "steps:"), (B("--steps", "٣"), "steps:"),
    # --methods, --mode, --backend, --scheme, --dtype, a missing required option
    (B("--methods", "foo"), "methods:"), (B("--methods", ","), "methods:"), (B("--mode", "foo"), "argument --mode"),
    (B("--backend", "torch"), "argument --backend"), (B("--scheme", "rk4"), "scheme:"),
    (B("--dtype", "float16"), "argument --dtype"), (BASE[:-2], "dt:"),
    # --momentum / --damping
    (B(*NESTEROV, "--momentum", "1"), "momentum:"), (B(*NESTEROV, "--momentum", "-0.1"), "momentum:"),
    (B("--momentum", "0.5"), "momentum:"), (B(*NESTEROV, "--momentum", "0.5", "--damping", "1"), "momentum:"),
    (B(*NESTEROV, "--damping", "1e-300"), "damping:"), (B(*NESTEROV, "--damping", "0"), "damping:"),
    (B(*NESTEROV, "--dt", "1e-3", "--damping", "3000"), "damping:"),
    (B(*NESTEROV, "--dt", "1e300", "--damping", "1e-300"), "dt:"),
    # --image
    (B("--image", "nosuch:3"), "image:"), (B("--image", "checkerboard:0"), "image:"),
    (B("--image", "checkerboard:99999"), "image:"), (B("--image", "missing.npy"), "image:"),
    (B("--image", ""), "image:"), (B("--image", "checkerboard:٣"), "image:"), (B("--image", "{zero.npy}"), "image:"),
    (B("--image", "{complex.npy}"), "image:"), (B("--image", "{object.npy}"), "image:"),
    (B("--image", "{huge.npy}"), "image:"), (B("--image", "{trunc.npy}"), "image:"),
    (B("--image", "{junk.npy}"), "image:"), (B("--image", "{cube.npy}"), "image:"),
    (B("--image", "{e300.npy}"), "image:"), (B("--image", "{nan.npy}"), "image:"),
    (B("--image", "{empty.npy}"), "image:"), (B("--image", "{huge.png}"), "image:"),
    (B("--image", "{zero.png}"), "image:"), (B("--image", "{junk.png}"), "image:"),
    (B("--image", "{a_dir}/x.npy"), "image:"),
    # derive
    (["derive", "nope"], "derivation:"), (["derive"], "derivation:"),
    # validate
    (["validate", "zz", "--out", "{a_dir}/v1"], "case:"), (["validate", "--out", ""], "out:"),
    (["validate", "--out", "{a_file}"], "out:"), (["validate", "--out", "{a_file}/sub"], "out:"),
    (["validate", "--out", "/proc/workbench-test"], "out:"), (["validate", "--fresh", "--resume"], "fresh:"),
    # sweep
    (["sweep"], "target:"), (["sweep", "nope"], "target:"), (["sweep", "spin", "--workers", "0"], "workers:"),
    (["sweep", "spin", "--workers", "999999999999"], "workers:"), (["sweep", "spin", "--workers", "٣"], "workers:"),
    (["sweep", "spin", "--executor", "dask", "--workers", "999999999999"], "workers:"),
    (["sweep", "spin", "--grid", "lr=1"], "grid:"), (["sweep", "spin", "--grid", "x=nan"], "grid:"),
    (["sweep", "spin", "--grid", "x="], "grid:"), (["sweep", "spin", "--grid", "seed=1.5"], "grid:"),
    (["sweep", "spin", "--grid", "x=١"], "grid:"), (["sweep", "spin", "--grid", "x=1", "--grid", "x=2"], "grid:"),
    (["sweep", "spin", "--grid", "x=" + ",".join(map(str, range(400))), "--grid", "seed=" +
      ",".join(map(str, range(400)))], "grid:"),
    (["sweep", "bounds", "--grid", "image=__import__('os')"], "grid:"),
    (["sweep", "spin", "--timeout", "0"], "timeout:"), (["sweep", "spin", "--timeout", "inf"], "timeout:"),
    (["sweep", "spin", "--out", ""], "out:"), (["sweep", "spin", "--out", "{a_file}"], "out:"),
    (["sweep", "spin", "--scheduler", "tcp://127.0.0.1:1"], "scheduler:"),
    (["sweep", "spin", "--executor", "ray"], "argument --executor"),
    # bench (the output is checked before the benchmark runs)
    (["bench", "--out", ""], "out:"), (["bench", "--out", "{a_dir}"], "out:"),
    (["bench", "--out", "{a_file}/b.json"], "out:"), (["bench", "--out", "/proc/workbench-test/b.json"], "out:"),
    (["bench", "--frob"], "unrecognized arguments: --frob"),
    # the command itself
    (["frobnicate"], "argument COMMAND: invalid choice"), (BASE[:-2] + ["--lr", "٣"], "lr:"),
]


def _fill(args: list[str], files: dict[str, str]) -> list[str]:
    return [re.sub(r"\{([^}]+)\}", lambda m: files[m.group(1)], a) for a in args]


def test_enough_distinct_inputs():
    assert len({tuple(a) for a, _ in CASES}) == len(CASES) >= 60
    assert {a[0] if a else "" for a, _ in CASES} >= {"bounds", "derive", "validate", "sweep", "bench"}


@pytest.mark.parametrize("args, param", CASES, ids=[" ".join(a)[-60:] or "(none)" for a, _ in CASES])
def test_bad_input_one_line_exit_2(args, param, files, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative outputs (sweep's default ./sweep) land here
    code = main(_fill(args, files))
    cap = capsys.readouterr()
    assert code == 2, (code, cap.out, cap.err)
    line = _one_line(cap.err)
    if param.endswith(":"):
        assert line.startswith(param), line
    else:
        assert param in line, line
    assert cap.out == ""


# --- hypothesis: any text given to a numeric flag -----------------------------------------------

_ASCII_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def _valid(name: str, text: str) -> bool:
    """An independent oracle of what the flag should accept."""
    spec = NUMERIC[name]
    t = text.strip()
    if spec.get("integer"):
        if not re.fullmatch(r"[+-]?[0-9]+", t, re.ASCII):
            return False
        v: float = int(t)
    else:
        if not _ASCII_NUMBER.fullmatch(t):
            return False
        v = float(t)
        if not math.isfinite(v) or (v != 0 and abs(v) < sys.float_info.min):
            return False
        if v == 0 and re.search(r"[1-9]", re.split(r"[eE]", t)[0]):   # 1e-1000: not the 0 it rounds to
            return False
    lo, hi = spec.get("lo"), spec.get("hi")
    if lo is not None and (v <= lo if spec.get("lo_open") else v < lo):
        return False
    return not (hi is not None and (v >= hi if spec.get("hi_open") else v > hi))


FLAGS = ["dt", "a", "beta", "rtol", "steps", "kernel", "momentum"]
TEXTS = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"\A[+-]?[0-9٠-٩²³.]{0,6}([eE][+-]?[0-9]{1,4})?\Z"),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-10**20, max_value=10**20).map(str),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flag=st.sampled_from(FLAGS), text=TEXTS)
def test_numeric_flags_any_text(flag, text, capsys, monkeypatch):
    """Either a clean one-line error naming the flag, or a value the oracle accepts (never ٣ taken as 3)."""
    seen = []

    def fake_bounds(image, w, dt=None, **kw):
        seen.append((w, kw))
        return {"kernel": w, "momentum": 0.9, "d": 1.0, "eta": 1.0, "theory": {"alpha_lower": 0.0, "alpha_upper": 1.0}}

    mod = types.ModuleType("workbench.solvers.cnn.bounds")
    mod.compute_bounds = fake_bounds
    monkeypatch.setitem(sys.modules, "workbench.solvers.cnn.bounds", mod)
    monkeypatch.setattr(importlib.import_module("workbench.solvers.cnn"), "bounds", mod, raising=False)
    args = ["bounds", "--image", "checkerboard:8", "--kernel", "3", "--dt", "1e-3", "--methods", "theory"]
    if flag == "momentum":
        args += ["--scheme", "nesterov"]
    args += [f"--{flag}={text}"]
    code = main(args)
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    if code == 0:
        assert _valid(flag, text), (flag, text)
        assert seen
    else:
        assert code == 2, (code, cap.err)
        line = _one_line(cap.err)
        assert line.startswith(f"{flag}:") or f"--{flag}" in line, line
        if flag != "kernel" and flag != "momentum":     # kernel: also refused when larger than the image
            assert not _valid(flag, text) or flag == "steps", (flag, text, line)


# --- the real entry point ----------------------------------------------------------------------------

def _run(*args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, param", [
    (B("--kernel", "²"), "kernel:"), (B("--dt", "5e-324"), "dt:"), (["sweep", "spin", "--workers", "٣"], "workers:"),
])
def test_subprocess_smoke(args, param):
    proc = _run(*args)
    assert proc.returncode == 2 and _one_line(proc.stderr).startswith(param) and proc.stdout == ""


def test_limits_can_be_raised_by_environment(files, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_MAX_PIXELS", "10")
    assert main(B()) == 2
    assert "64 pixels is over the limit of 10; raise it with WORKBENCH_MAX_PIXELS" in _one_line(capsys.readouterr().err)
    monkeypatch.setenv("WORKBENCH_MAX_PIXELS", "٣")
    assert main(B()) == 2
    assert _one_line(capsys.readouterr().err).startswith("WORKBENCH_MAX_PIXELS:")
    monkeypatch.delenv("WORKBENCH_MAX_PIXELS")
    monkeypatch.setenv("WORKBENCH_MAX_BYTES", "1000")
    assert main(B("--steps", "100")) == 2
    assert "over the limit of 1000 B" in _one_line(capsys.readouterr().err)


def test_users_own_solvers_validation_derivations_do_not_matter(tmp_path):
    """One installed name: a user's ``solvers.py``, ``validation.py``, ``derivations.py`` (or
    package folders of those names) in the working folder never answer for ours."""
    for name in ("solvers", "validation", "derivations"):
        (tmp_path / f"{name}.py").write_text("raise SystemExit('user module imported')\n")
    (tmp_path / "pkg" / "solvers").mkdir(parents=True)
    (tmp_path / "pkg" / "solvers" / "__init__.py").write_text("raise SystemExit('user package imported')\n")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path / 'pkg'}{os.pathsep}{ROOT}")
    code = ("import workbench, workbench.solvers.cnn.bounds as b, workbench.validation.registry as r, "
            "workbench.derivations.regions as g; print(b.__file__, r.__file__, g.__file__)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path) not in proc.stdout and proc.stdout.count(str(ROOT)) == 3
    proc = _run("--help", env={"PYTHONPATH": env["PYTHONPATH"]}, cwd=tmp_path)
    assert proc.returncode == 0 and "usage: workbench" in proc.stdout


# --- the same promise at the API: ParameterError naming the parameter -----------------------------

def _api_cases(files: dict[str, str], tmp: Path) -> list[tuple[str, object]]:
    import workbench as wb
    from workbench.jobs.sweep import run_sweep

    spin = {"x": ["1"], "work": ["1"], "size": ["2"]}
    return [
        ("image:", lambda: wb.load_image(files["huge.npy"])),
        ("image:", lambda: wb.load_image(Path(files["zero.npy"]))),
        ("image:", lambda: wb.load_image(files["huge.png"])),
        ("image:", lambda: wb.load_image("checkerboard:٣")),
        ("dtype:", lambda: wb.load_image("checkerboard:4", dtype="float16")),
        ("image:", lambda: wb.bounds(np.ones((4, 4)) * 1j, 2, 0.1)),
        ("kernel:", lambda: wb.bounds(np.ones((4, 4)), [], 0.1)),
        ("image:", lambda: wb.bounds(np.full((8, 8), 1e300), 3, 1e-3)),
        ("workers:", lambda: run_sweep("spin", spin, tmp / "s", executor="processes", workers=True)),
        ("workers:", lambda: run_sweep("spin", spin, tmp / "s", executor="processes", workers=10**12)),
        ("workers:", lambda: run_sweep("spin", spin, tmp / "s", executor="processes", workers="٣")),
        ("workers:", lambda: run_sweep("spin", spin, tmp / "s", executor="processes", workers=2.5)),
        ("timeout:", lambda: run_sweep("spin", spin, tmp / "s", timeout=float("nan"))),
        ("timeout:", lambda: run_sweep("spin", spin, tmp / "s", timeout=0)),
        ("out:", lambda: run_sweep("spin", spin, "")),
        ("out:", lambda: run_sweep("spin", spin, files["a_file"])),
        ("grid:", lambda: run_sweep("spin", {"seed": [True]}, tmp / "s")),
        ("grid:", lambda: run_sweep("spin", {"x": [float("inf")]}, tmp / "s")),
        ("grid:", lambda: run_sweep("spin", {"seed": [1.5]}, tmp / "s")),
        ("out:", lambda: wb.validate(["a"], out=files["a_file"], verbose=False)),
        ("out:", lambda: wb.validate(["a"], out="", verbose=False)),
        ("case:", lambda: wb.validate(["zz"], out=tmp / "v", verbose=False)),
        ("mode:", lambda: importlib.import_module("workbench.jobs.validate").run_validation(["a"], tmp / "v", mode="x")),
    ]


def test_api_bad_inputs(files, tmp_path, monkeypatch):
    from workbench.solvers.core.checks import ParameterError

    monkeypatch.chdir(tmp_path)  # out="" must be refused, not taken as the current folder

    cases = _api_cases(files, tmp_path)
    assert len(cases) >= 20
    assert not list(tmp_path.glob("*.json"))
    for i, (param, call) in enumerate(cases):
        try:
            call()
        except ParameterError as err:
            assert str(err).startswith(param), (i, param, str(err))
        else:
            pytest.fail(f"API case {i} ({param}) raised nothing")
    assert not (tmp_path / "results.json").exists() and not (tmp_path / "points").exists()
