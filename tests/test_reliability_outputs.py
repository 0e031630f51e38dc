"""Nothing outside ``--out`` is touched: special files, system folders, the lock, the clean-up,
the kind of a report folder, resume checks, SIGTERM, disk full, and output folders that grow."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import workbench as wb
from workbench.cli.app import main
from workbench.jobs.outputs import (check_output_dir, check_output_file, claim_folder, clean_own_leftovers,
                                    folder_lock)
from workbench.jobs.sweep import point_id, run_sweep
from workbench.solvers.core.checks import ParameterError
from workbench.validation.files import atomic_write_bytes, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
SPIN = {"x": ["1", "2"], "work": ["10"], "size": ["8"]}


def _specials(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    link = tmp_path / "link.json"
    link.symlink_to(notes)
    return {"FIFO": fifo, "symbolic link": link}


def test_atomic_writer_refuses_fifo_and_symlink(tmp_path):
    for what, path in _specials(tmp_path).items():
        with pytest.raises(ParameterError, match=f"^out: .*{path.name}.* is a {what}, not a regular file"):
            atomic_write_text(path, "x")
    assert (tmp_path / "fifo").is_fifo() and (tmp_path / "link.json").is_symlink()
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert atomic_write_bytes(tmp_path / "ok.bin", b"1").read_bytes() == b"1"   # a plain file still works


def test_output_checks_refuse_special_files_and_system_folders(tmp_path):
    for what, path in _specials(tmp_path).items():
        with pytest.raises(ParameterError, match=f"is a {what}"):
            check_output_file("out", path)
    with pytest.raises(ParameterError, match="is a symbolic link"):
        check_output_dir("out", tmp_path / "link.json")
    with pytest.raises(ParameterError, match="^out: '/dev/null' is a character device"):
        check_output_file("out", "/dev/null")
    for bad in ("/dev/wb-new.json", "/etc/workbench.json", "/x.json", "/usr/share/x.json"):
        with pytest.raises(ParameterError, match="^out: .*system folder"):
            check_output_file("out", bad)
    for bad in ("/", "/etc", "/dev/shm/x", "/usr/local/rep", "/home", "/tmp"):
        with pytest.raises(ParameterError, match="^out: .*system folder"):
            check_output_dir("out", bad)
    with pytest.raises(ParameterError, match="^out: '~nouser_wb_x/x': no home folder for nouser_wb_x"):
        check_output_dir("out", "~nouser_wb_x/x")
    with pytest.raises(ParameterError, match="no home folder"):
        check_output_file("out", "~nouser_wb_x/x.json")


def test_cli_bench_and_region_refuse_special_targets_before_work(tmp_path, monkeypatch, capsys):
    import workbench

    monkeypatch.setattr(workbench, "_bench_module", lambda: pytest.fail("benchmark ran before --out was checked"))
    fifo = _specials(tmp_path)["FIFO"]
    assert main(["bench", "--quick", "--out", str(fifo)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a FIFO" in err and fifo.is_fifo()
    assert main(["bench", "--quick", "--out", "/dev/null"]) == 2
    assert "'/dev/null' is a character device" in capsys.readouterr().err
    assert main(["sweep", "spin", "--out", "~nouser_wb_x/s"]) == 2
    assert "no home folder" in capsys.readouterr().err


def test_lock_never_follows_a_symlink_nor_truncates_a_foreign_file(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    out = tmp_path / "o"
    out.mkdir()
    (out / ".workbench.lock").symlink_to(notes)
    with pytest.raises(ParameterError, match="symbolic link"):
        with folder_lock("out", out):
            pass
    assert notes.read_text() == "my notes\n"
    with pytest.raises(ParameterError, match="symbolic link"):
        run_sweep("spin", SPIN, out)
    assert notes.read_text() == "my notes\n" and not (out / "points").exists()
    (out / ".workbench.lock").unlink()
    (out / ".workbench.lock").write_text("a file somebody else wrote\n")
    with folder_lock("out", out):
        pass
    assert (out / ".workbench.lock").read_text() == "a file somebody else wrote\n"
    (out / ".workbench.lock").unlink()
    with folder_lock("out", out):                      # its own lock file: the pid is recorded
        assert (out / ".workbench.lock").read_text() == f"pid {os.getpid()}\n"


def test_clean_up_removes_only_the_workbenchs_own_leftovers(tmp_path, monkeypatch):
    from test_resume import _stub_registry

    out = tmp_path / "rep"
    out.mkdir()
    foreign = [out / ".vim.swp.tmp", out / ".results.json.abc.tmp", out / ".staging-x" / "keep.txt",
               out / ".staging-0123456789ab" / "keep.txt"]           # a staging name, but no marker
    for f in foreign:
        f.parent.mkdir(exist_ok=True)
        f.write_text("not yours")
    own = [out / ".results.json.wb-abc12345.tmp", out / "cases" / ".a.json.wb-zz_99xyz.tmp"]
    for f in own:
        f.parent.mkdir(exist_ok=True)
        f.write_text("half")
    staged = out / ".staging-abcdef012345"
    staged.mkdir()
    (staged / ".workbench-staging").touch()
    calls: list = []
    _stub_registry(monkeypatch, calls)
    assert wb.validate(["a"], out=out, quick=True, verbose=False).passed
    assert all(f.read_text() == "not yours" for f in foreign)
    assert not any(f.exists() for f in own) and not staged.exists()
    assert clean_own_leftovers(out) == 0


def test_report_folder_records_its_kind_and_refuses_the_other(tmp_path, monkeypatch, capsys):
    from test_resume import _stub_registry

    _stub_registry(monkeypatch, [])
    sweep_dir, val_dir = tmp_path / "s", tmp_path / "v"
    run_sweep("spin", SPIN, sweep_dir)
    report = (sweep_dir / "report.md").read_text()
    assert main(["validate", "a", "--quick", "--out", str(sweep_dir)]) == 2
    assert "holds a sweep report" in capsys.readouterr().err and (sweep_dir / "report.md").read_text() == report
    wb.validate(["a"], out=val_dir, quick=True, verbose=False)
    assert json.loads((val_dir / ".workbench-folder.json").read_text()) == {"kind": "validation"}
    with pytest.raises(ParameterError, match="holds a validation report"):
        run_sweep("spin", SPIN, val_dir)
    legacy = tmp_path / "old"                         # a sweep folder written before the kind file existed
    (legacy / "points").mkdir(parents=True)
    with pytest.raises(ParameterError, match="holds a sweep report"):
        claim_folder("out", legacy, "validation")


def test_resume_rejects_a_point_whose_params_do_not_hash_to_its_id(tmp_path):
    first = run_sweep("spin", SPIN, tmp_path)
    a, b = first.records
    forged = dict(a, params=b["params"], result={"x": 99.0, "y": 0.0, "v0": 0.0})   # a's id, b's params
    (tmp_path / "points" / f"{a['id']}.json").write_text(json.dumps(forged))
    (tmp_path / "points" / ".x.json.wb-0000abcd.tmp").write_text("{")            # a kill mid-write
    again = run_sweep("spin", SPIN, tmp_path)
    assert again.summary["skipped"] == 1 and again.summary["done"] == 1
    assert [r["params"]["x"] for r in again.records] == [1.0, 2.0]
    assert [r["result"]["x"] for r in again.records] == [1.0, 2.0]
    assert all(point_id("spin", r["params"]) == r["id"] for r in again.records)
    assert not list((tmp_path / "points").glob(".*.tmp"))


def test_sweep_grid_steps_is_bounded(capsys):
    assert main(["sweep", "perturb", "--grid", "steps=1000000000"]) == 2
    err = capsys.readouterr().err
    assert "grid: steps: must be in [2, 1,000,000]" in err and err.count("\n") == 1


def test_sweeps_default_to_a_folder_per_target(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "spin", "--grid", "x=1", "--grid", "work=10", "--grid", "size=8"]) == 0
    assert (tmp_path / "sweep-spin" / "results.jsonl").is_file() and not (tmp_path / "sweep").exists()


def test_disk_full_names_the_path_and_says_finished_work_is_kept(tmp_path, monkeypatch, capsys):
    import workbench

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(workbench, "_bench_module", lambda: type("M", (), {"run_bench": staticmethod(
        lambda quick: [{"name": "n", "ours": "o", "baseline": "b", "ours_s": 1.0, "baseline_s": 1.0,
                        "ratio": 1.0, "note": ""}])}))
    monkeypatch.setattr(os, "fsync", full)
    target = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert str(target) in err and "No space left on device" in err and "saved" in err and err.count("\n") == 1
    assert not target.exists() and not list(tmp_path.glob(".*.tmp"))


def test_running_some_cases_into_a_report_folder_never_shrinks_it(tmp_path, monkeypatch, capsys):
    from test_resume import _stub_registry

    calls: list = []
    _stub_registry(monkeypatch, calls)
    out = tmp_path / "rep"
    assert main(["validate", "--quick", "--out", str(out), "--workers", "1"]) == 0 and calls == ["a", "b", "c", "d"]
    assert main(["validate", "b", "--quick", "--fresh", "--out", str(out)]) == 0 and calls[4:] == ["b"]
    ids = [c["id"] for c in json.loads((out / "results.json").read_text())["cases"]]
    assert ids == ["a", "b", "c", "d"]
    run = wb.validate(["c"], out=out, quick=True, verbose=False)      # Python: resumes like the CLI
    assert calls[5:] == [] and [c["id"] for c in run.cases] == ["c"]
    assert [c["id"] for c in json.loads((out / "results.json").read_text())["cases"]] == ["a", "b", "c", "d"]
    wb.validate(["d"], out=out, quick=True, fresh=True, verbose=False)
    assert calls[5:] == ["d"]
    assert [c["id"] for c in json.loads((out / "results.json").read_text())["cases"]] == ["a", "b", "c", "d"]


SWEEP_SCRIPT = """
import sys
from workbench.cli.app import main
sys.exit(main(["sweep", "spin", "--grid", "x=" + ",".join(map(str, range(12))), "--grid", "sleep=0.4",
               "--grid", "work=1", "--grid", "size=4", "--out", sys.argv[1]]))
"""


def test_sigterm_writes_results_and_summary_like_ctrl_c(tmp_path):
    out = tmp_path / "s"
    script = tmp_path / "s.py"
    script.write_text(SWEEP_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(out)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            if (out / "points").is_dir() and len(list((out / "points").glob("*.json"))) >= 2:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted" in err
    summary = json.loads((out / "summary.json").read_text())
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert summary["interrupted"] is True and len(rows) == 12 and summary["pending"] >= 1
    assert sum(r["status"] == "ok" for r in rows) == summary["done"] >= 2


def test_point_timeout_records_the_point_failed(tmp_path, capsys):
    from workbench.jobs.sweep import default_point_timeout, expand_grid

    grid = {"x": ["1", "2"], "work": ["1"], "size": ["4"], "sleep": ["0", "30"]}
    t0 = time.monotonic()
    res = run_sweep("spin", grid, tmp_path / "s", point_timeout=0.5)
    assert time.monotonic() - t0 < 25                               # the 30 s points were stopped
    status = [(r["params"]["sleep"], r["status"]) for r in res.records]
    assert status == [(0.0, "ok"), (30.0, "failed"), (0.0, "ok"), (30.0, "failed")]
    assert all("point-timeout" in r["error"] for r in res.records if r["status"] == "failed")
    assert res.summary["point_timeout_s"] == 0.5
    assert default_point_timeout("spin", expand_grid("spin", {"sleep": ["30"]})) > 30 + 60
    assert main(["sweep", "spin", "--point-timeout", "0", "--out", str(tmp_path / "t")]) == 2
    assert "point-timeout: must be in (0" in capsys.readouterr().err
