"""Kill-and-resume: no finished sweep point or validation case is lost or computed twice.

Sweeps run in a subprocess (``python -m workbench sweep spin ...``) that is sent SIGINT
(Ctrl-C) or SIGKILL once a few points are on disk; the re-run must finish the rest
and take the finished ones from disk. Each kill test runs a few seconds (small grids
of the cheapest target, ``spin``, with a short sleep per point).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import workbench as wb
from workbench.solvers.core.checks import ParameterError
from workbench.cli.app import main
from workbench.jobs.sweep import load_point
from workbench.jobs.validate import ValidationRun, case_file
from workbench.jobs.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def _spin_grid(n: int, sleep: float) -> list[str]:
    return ["--grid", "x=" + ",".join(str(i) for i in range(n)), "--grid", f"sleep={sleep}",
            "--grid", "work=5", "--grid", "size=4"]


def _wait_for(pred, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def _points(out: Path) -> list[Path]:
    return sorted((out / "points").glob("*.json")) if (out / "points").is_dir() else []


def _children(pid: int) -> list[int]:
    """Pids of the live processes whose parent is ``pid`` (Linux /proc)."""
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                kids.append(int(d.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def _check_resumed(out: Path, before: dict[str, float], n: int) -> None:
    """The re-run finished every point, took the earlier ones from disk unchanged, duplicated none."""
    rows = _rows(out)
    assert len(rows) == n and len({r["id"] for r in rows}) == n
    assert all(r["status"] == "ok" for r in rows)
    assert sorted(r["result"]["x"] for r in rows) == [float(i) for i in range(n)]
    files = _points(out)
    assert len(files) == n
    for f in files:  # a point finished before the kill was not recomputed (same file, same time)
        if f.stem in before:
            assert f.stat().st_mtime == before[f.stem]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped"] == len(before) and summary["done"] == n - len(before)


@pytest.mark.parametrize("executor, sig", [("local", signal.SIGINT), ("processes", signal.SIGINT),
                                           ("processes", signal.SIGKILL), ("dask", signal.SIGINT),
                                           ("dask", signal.SIGKILL)])
def test_sweep_kill_and_resume(tmp_path, executor, sig):
    """SIGINT goes to the whole process group, as Ctrl-C in a terminal does; SIGKILL to the main process only."""
    if executor == "dask":
        pytest.importorskip("distributed")
    n, out = 10, tmp_path / "sw"
    args = [sys.executable, "-m", "workbench", "sweep", "spin", *_spin_grid(n, 0.4), "--executor", executor,
            "--workers", "2", "--out", str(out)]
    proc = subprocess.Popen(args, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _wait_for(lambda: len(_points(out)) >= 2)
        kids = _children(proc.pid)
        if sig == signal.SIGINT:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig == signal.SIGINT:
        assert proc.returncode == 130, stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("workbench: error: interrupted:") and "Traceback" not in stderr
        rows = _rows(out)  # Ctrl-C wrote results.jsonl: every point once, finished ones ok
        assert len(rows) == n and {r["status"] for r in rows} <= {"ok", "pending"}
        ok = {r["id"] for r in rows if r["status"] == "ok"}
        assert ok == {f.stem for f in _points(out)} and len(ok) >= 2
        assert json.loads((out / "summary.json").read_text())["interrupted"] is True
    else:
        assert proc.returncode == -signal.SIGKILL
    # the workers go with the main process (the pool's, or the LocalCluster's)
    _wait_for(lambda: not any(_alive(k) for k in kids), timeout=30)
    before = {f.stem: f.stat().st_mtime for f in _points(out)}
    assert all(load_point(out, pid) is not None for pid in before)
    res = subprocess.run(args, cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    _check_resumed(out, before, n)


def test_corrupt_point_files_are_recomputed(tmp_path):
    grid = {"x": ["1", "2", "3", "4"], "work": ["5"], "size": ["4"]}
    first = run_sweep("spin", grid, tmp_path)
    files = _points(tmp_path)
    for f, text in zip(files, ["null", "[]", '{"id": "x"}', "{not json"]):
        f.write_text(text)
    again = run_sweep("spin", grid, tmp_path)
    assert again.summary["skipped"] == 0 and again.summary["done"] == 4
    assert [r["result"] for r in again.records] == [r["result"] for r in first.records]
    assert all(load_point(tmp_path, f.stem) is not None for f in files)


def test_relative_out_is_resolved_and_row_status_never_collides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run_sweep("perturb", {"lr": ["0.01"], "steps": ["20"], "image": ["checkerboard:8"], "kernel": ["3"]},
                    "rel")
    assert res.summary["out"] == str(tmp_path / "rel") and Path(res.summary["out"]).is_absolute()
    row = _rows(tmp_path / "rel")[0]
    assert row["status"] == "ok"                             # the row's status ...
    assert row["result"]["status"] == res.records[0]["result"]["status"] != "ok"   # ... and the target's own


def _killer_point(target: str, params: dict, out: str) -> dict:
    """run_point, except that the point x = 2 kills its worker process every time (as an OOM kill would)."""
    from workbench.jobs.sweep import run_point

    if params["x"] == 2.0:
        os.kill(os.getpid(), signal.SIGKILL)
    return run_point(target, params, out)


def test_dead_pool_worker_is_retried_then_recorded_failed(tmp_path):
    from workbench.jobs.executors import run_processes
    from workbench.jobs.sweep import expand_grid, point_id

    pts = expand_grid("spin", {"x": ["1", "2", "3", "4"], "work": ["5"], "size": ["4"]})
    recs: list = []
    run_processes([(point_id("spin", p), p) for p in pts], "spin", str(tmp_path), recs.append, _killer_point, 2,
                  load_point=load_point)
    status = {r["params"]["x"]: r["status"] for r in recs}
    assert status == {1.0: "ok", 2.0: "failed", 3.0: "ok", 4.0: "ok"} and len(recs) == 4
    failed = [r for r in recs if r["status"] == "failed"][0]
    assert "worker process died" in failed["error"] and "3 attempts" in failed["error"]


def test_pool_worker_killed_mid_sweep_loses_nothing(tmp_path):
    import threading

    box: dict = {}
    grid = {"x": [str(i) for i in range(8)], "work": ["5"], "size": ["4"], "sleep": ["0.3"]}
    th = threading.Thread(target=lambda: box.setdefault("res", run_sweep(
        "spin", grid, tmp_path, executor="processes", workers=2)))
    th.start()
    _wait_for(lambda: len(_points(tmp_path)) >= 2)
    workers = [k for k in _children(os.getpid())
               if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]
    assert workers
    os.kill(workers[0], signal.SIGKILL)               # an OOM kill of one pool worker
    th.join(120)
    assert not th.is_alive()
    res = box["res"]
    assert res.summary["done"] == 8 and res.summary["failed"] == 0
    assert [r["result"]["y"] for r in res.records] == [float(i) ** 2 for i in range(8)]


def test_lost_dask_scheduler_records_points_failed(tmp_path):
    pytest.importorskip("distributed")
    sched = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import asyncio, sys
        from distributed import Scheduler, Worker
        async def main():
            async with Scheduler(host="127.0.0.1", port=0, dashboard_address=None) as s:
                async with Worker(s.address, nthreads=1):
                    print(s.address, flush=True)
                    await asyncio.sleep(600)
        asyncio.run(main())
        """)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = sched.stdout.readline().strip()
        assert address.startswith("tcp://127.0.0.1:")
        grid = {"x": [str(i) for i in range(6)], "work": ["5"], "size": ["4"], "sleep": ["0.5"]}
        import threading

        box: dict = {}
        th = threading.Thread(target=lambda: box.setdefault("res", run_sweep(
            "spin", grid, tmp_path, executor="dask", scheduler=address, timeout=2)))
        th.start()
        _wait_for(lambda: len(_points(tmp_path)) >= 1)
        sched.kill()                                   # the scheduler (and its worker) are gone
        th.join(120)
        assert not th.is_alive()
        res = box["res"]
        on_disk = {f.stem for f in _points(tmp_path)}
        status = {r["id"]: r["status"] for r in res.records}
        assert all(status[i] == "ok" for i in on_disk) and len(status) == 6
        assert res.summary["failed"] == 6 - len(on_disk) >= 1
        assert all("lost" in r["error"] for r in res.records if r["status"] == "failed")
    finally:
        sched.kill()
        sched.wait()


# --- validate: resume, --fresh, Ctrl-C, refusing another run's folder ------------------------------

def _stub_registry(monkeypatch, calls: list, interrupt_at: str | None = None):
    import importlib
    import types

    def run_case(cid, out_dir, quick=False):
        if cid == interrupt_at:
            raise KeyboardInterrupt
        calls.append(cid)
        return {"id": cid, "claim": f"claim {cid}", "source": "s", "prediction": 1.0, "measurement": 1.0,
                "tolerance": 1e-3, "verdict": "confirmed" if cid != "c" else "refuted", "passed": True,
                "numbers": {"quick": quick}, "tables": [], "figures": [], "notes": ""}

    mod = types.ModuleType("workbench.validation.registry")
    mod.run_case = run_case
    mod.list_cases = lambda: ["a", "b", "c", "d"]
    mod.get_case = lambda cid: SimpleNamespace(id=cid, claim=f"claim {cid}")
    monkeypatch.setitem(sys.modules, "workbench.validation.registry", mod)
    monkeypatch.setattr(importlib.import_module("workbench.validation"), "registry", mod, raising=False)


def test_validate_interrupt_writes_report_and_resumes(monkeypatch, capsys, tmp_path):
    calls: list = []
    _stub_registry(monkeypatch, calls, interrupt_at="c")
    out = tmp_path / "rep"
    (out).mkdir()
    (out / ".results.json.wb-abc12345.tmp").write_text("half")  # left by an earlier kill (the writers' pattern)
    assert main(["validate", "--out", str(out), "--quick", "--workers", "1"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("validate: 4 cases (quick)") and len(err) == 4
    assert err[-1].startswith("workbench: error: interrupted after 2 of 4 cases")
    data = json.loads((out / "results.json").read_text())
    assert [c["id"] for c in data["cases"]] == ["a", "b"] and data["meta"]["interrupted"] is True
    assert not list(out.glob(".*.tmp")) and calls == ["a", "b"]
    assert case_file(out, "a").exists() and not case_file(out, "c").exists()
    _stub_registry(monkeypatch, calls)
    assert main(["validate", "--out", str(out), "--quick", "--workers", "1"]) == 0
    assert calls == ["a", "b", "c", "d"]                      # a and b were not run again
    data = json.loads((out / "results.json").read_text())
    assert [c["id"] for c in data["cases"]] == ["a", "b", "c", "d"] and data["meta"]["resumed"] == 2
    run_id = data["meta"]["run_id"]
    assert run_id in (out / "report.md").read_text() and run_id in (out / "report.html").read_text()
    assert main(["validate", "--out", str(out)]) == 2        # full into a quick folder: refused, not mixed
    assert "holds quick results" in capsys.readouterr().err and calls[4:] == []
    assert main(["validate", "--out", str(out), "--fresh", "--workers", "1"]) == 0
    assert calls[4:] == ["a", "b", "c", "d"]
    assert main(["validate", "--out", str(out), "--fresh", "--resume"]) == 2


def test_wb_validate_result_and_refusal(monkeypatch, tmp_path):
    calls: list = []
    _stub_registry(monkeypatch, calls)
    run = wb.validate(["a", "c"], out=tmp_path / "r", quick=True)
    assert isinstance(run, ValidationRun) and run.passed and run.verdicts == {"confirmed": 1, "refuted": 1}
    assert repr(run) == f"ValidationRun(2 cases (quick): 2 passed; 1 confirmed, 1 refuted; out={str(tmp_path / 'r')!r})"
    assert wb.validate(["a", "c"], out=tmp_path / "r", quick=True).passed and calls == ["a", "c"]  # resumed
    assert wb.validate(["a"], out=tmp_path / "r", quick=True, fresh=True).passed and calls == ["a", "c", "a"]


def test_partial_rerun_header_counts_the_kept_cases(monkeypatch, capsys, tmp_path):
    """Rerunning one case into a report folder: the header says what this invocation did and what it kept (issue 25)."""
    calls: list = []
    _stub_registry(monkeypatch, calls)
    out = tmp_path / "rep"
    assert main(["validate", "--out", str(out), "--quick", "--workers", "1"]) == 0
    first = json.loads((out / "results.json").read_text())["cases"]
    assert main(["validate", "c", "--out", str(out), "--quick", "--workers", "1", "--fresh"]) == 0
    assert calls == ["a", "b", "c", "d", "c"]
    data = json.loads((out / "results.json").read_text())
    meta = data["meta"]
    assert [c["id"] for c in data["cases"]] == ["a", "b", "c", "d"]
    assert (meta["cases"], meta["kept"], meta["resumed"], meta["workers"]) == (4, 3, 0, 1)
    kept_seconds = sum(c["seconds"] for c in first if c["id"] != "c")
    c_seconds = next(c["seconds"] for c in data["cases"] if c["id"] == "c")
    assert meta["case_seconds"] == pytest.approx(kept_seconds + c_seconds, abs=2e-3)
    md = (out / "report.md").read_text()
    for label in ("cases kept from earlier runs", "run time (this invocation)", "workers (this invocation)",
                  "cases resumed (this invocation)", "case time, every case in the report"):
        assert label in md, label


VALIDATE_SCRIPT = """
import sys, time, types, importlib
from pathlib import Path
from types import SimpleNamespace
log = Path(sys.argv[1])
def run_case(cid, out_dir, quick=False):
    with open(log, "a") as fh:
        fh.write(cid + "\\n")
    time.sleep(0.3)
    return {"id": cid, "claim": "c", "source": "s", "prediction": 1, "measurement": 1, "tolerance": 0,
            "verdict": "confirmed", "passed": True}
mod = types.ModuleType("workbench.validation.registry")
mod.run_case, mod.list_cases = run_case, lambda: [f"case{i}" for i in range(8)]
mod.get_case = lambda cid: SimpleNamespace(id=cid, claim="c")
sys.modules["workbench.validation.registry"] = mod
importlib.import_module("workbench.validation").registry = mod
from workbench.cli.app import main
sys.exit(main(["validate", "--out", sys.argv[2], "--workers", "1"]))
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_validate_kill_and_resume(tmp_path, sig):
    script, log, out = tmp_path / "v.py", tmp_path / "log", tmp_path / "rep"
    script.write_text(VALIDATE_SCRIPT)
    cmd = [sys.executable, str(script), str(log), str(out)]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (out / "cases").is_dir() and len(list((out / "cases").glob("*.json"))) >= 2)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    finished = sorted(f.stem for f in (out / "cases").glob("*.json"))
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "Traceback" not in stderr
        assert [c["id"] for c in json.loads((out / "results.json").read_text())["cases"]] == finished
    else:
        assert proc.returncode == -signal.SIGKILL
    res = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    ran = log.read_text().split()
    cases = json.loads((out / "results.json").read_text())["cases"]
    assert [c["id"] for c in cases] == [f"case{i}" for i in range(8)]      # none lost, none duplicated
    assert all(ran.count(c) == 1 for c in finished)                           # finished ones not rerun
    assert not list(out.glob(".*.tmp")) and not list(out.glob(".staging-*"))


def test_npy_and_png_headers_are_read_before_allocation(tmp_path):
    import struct
    import zlib

    f = tmp_path / "huge.npy"
    with open(f, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (100000, 100000)})
    with pytest.raises(ParameterError, match=r"10,000,000,000 pixels is over the limit .*WORKBENCH_MAX_PIXELS"):
        wb.load_image(str(f))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = tmp_path / "black.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
                    + chunk(b"IDAT", zlib.compress(b"\0" * 20001)) + chunk(b"IEND", b""))
    with pytest.raises(ParameterError, match="20000x20000 = 400,000,000 pixels"):
        wb.load_image(str(png))
    with pytest.raises(ParameterError, match="complex values are not accepted"):
        wb.bounds(np.ones((4, 4)) * (1 + 1j), 2, 0.1)
    with pytest.raises(ParameterError, match="kernel: empty list"):
        wb.bounds(np.ones((4, 4)), [], 0.1)


def test_report_files_come_from_one_staging_folder(monkeypatch, tmp_path):
    """Everything the renderer writes (also files it does not list) is renamed into the folder; a
    renderer that fails leaves the previous report untouched and no staging folder behind."""
    import workbench.report.render as report
    from workbench.jobs.validate import _write_report_together

    (tmp_path / "fig.png").write_bytes(b"png")

    def fake_write(out_dir, cases, meta):
        out_dir = Path(out_dir)
        assert (out_dir / "fig.png").read_bytes() == b"png"          # figures are visible to the renderer
        (out_dir / "style.css").write_text("css")
        (out_dir / "results.json").write_text(meta["run_id"])
        return {"json": out_dir / "results.json"}

    monkeypatch.setattr(report, "write_report", fake_write)
    paths = _write_report_together(tmp_path, [], {"run_id": "r1"})
    assert paths == {"json": tmp_path / "results.json"} and (tmp_path / "results.json").read_text() == "r1"
    assert (tmp_path / "style.css").read_text() == "css" and (tmp_path / "fig.png").read_bytes() == b"png"

    def broken(out_dir, cases, meta):
        (Path(out_dir) / "results.json").write_text("half")
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(report, "write_report", broken)
    with pytest.raises(RuntimeError):
        _write_report_together(tmp_path, [], {"run_id": "r2"})
    assert (tmp_path / "results.json").read_text() == "r1" and not list(tmp_path.glob(".staging-*"))


def test_case_context_track():
    from workbench.validation.registry import Context

    assert list(Context(Path("."), progress=None).track(range(3), desc="x")) == [0, 1, 2]
    seen = []
    ctx = Context(Path("."), progress=lambda it, total=None, desc="": seen.append((total, desc)) or it)
    assert list(ctx.track(range(2), total=2, desc="alphas")) == [0, 1] and seen == [(2, "alphas")]


def test_one_run_per_folder(tmp_path, monkeypatch):
    """A second run into a folder in use is refused at once (it would delete the first one's files)."""
    from workbench.jobs.outputs import folder_lock

    calls: list = []
    _stub_registry(monkeypatch, calls)
    with folder_lock("out", tmp_path):
        with pytest.raises(ParameterError, match=r"^out: .* is in use by another run \(pid \d+\)"):
            run_sweep("spin", {"x": ["1"], "work": ["1"], "size": ["2"]}, tmp_path)
        with pytest.raises(ParameterError, match="is in use by another run"):
            wb.validate(["a"], out=tmp_path, verbose=False)
    assert calls == [] and not (tmp_path / "points").exists()
    assert run_sweep("spin", {"x": ["1"], "work": ["1"], "size": ["2"]}, tmp_path).summary["done"] == 1
