"""Sweeps: grid parsing, executors giving identical results, resumability, killed workers, bad input."""
from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from workbench.solvers.cnn.bounds import compute_bounds
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.cnn.images import checkerboard
from workbench.cli.app import main
from workbench.jobs.sweep import expand_grid, parse_grid, point_id, run_sweep

SPIN = {"x": ["1", "2", "3"], "work": ["300"], "size": ["16"]}


def _results(res) -> list:
    return [(r["params"], r["result"]) for r in res.records]


def test_grid_parsing_and_expansion():
    g = parse_grid(["x=1,2", "seed=0,1,2"])
    pts = expand_grid("spin", g)
    assert len(pts) == 6 and pts[0]["x"] == 1.0 and pts[1]["seed"] == 1 and pts[0]["size"] == 64
    assert point_id("spin", pts[0]) != point_id("spin", pts[1])
    assert point_id("spin", dict(reversed(list(pts[0].items())))) == point_id("spin", pts[0])
    for items, match in ((["x"], "NAME=V1"), (["x="], "x: empty value list"), (["x=1", "x=2"], "given twice")):
        with pytest.raises(ParameterError, match=match):
            parse_grid(items)
    with pytest.raises(ParameterError, match="unknown parameter 'lr' for target 'spin'"):
        expand_grid("spin", {"lr": ["0.1"]})
    with pytest.raises(ParameterError, match="seed: expected an integer"):
        expand_grid("spin", {"seed": ["1.5"]})
    with pytest.raises(ParameterError, match="x: expected a number"):
        expand_grid("spin", {"x": ["nan"]})
    with pytest.raises(ParameterError, match="image: expected a plain word"):
        expand_grid("bounds", {"image": ["__import__('os')"]})
    with pytest.raises(ParameterError, match="target: unknown"):
        expand_grid("nope", {})


def test_executors_give_identical_results(tmp_path):
    local = run_sweep("spin", SPIN, tmp_path / "l")
    procs = run_sweep("spin", SPIN, tmp_path / "p", executor="processes", workers=2)
    assert local.summary["done"] == 3 and procs.summary["done"] == 3
    assert _results(local) == _results(procs)
    assert [r["result"]["y"] for r in local.records] == [1.0, 4.0, 9.0]
    pytest.importorskip("distributed")
    dask = run_sweep("spin", SPIN, tmp_path / "d", executor="dask", workers=2)
    assert _results(dask) == _results(local)
    rows = [json.loads(line) for line in (tmp_path / "d" / "results.jsonl").read_text().splitlines()]
    assert [r["result"]["y"] for r in rows] == [1.0, 4.0, 9.0] and all(r["status"] == "ok" for r in rows)


def test_resume_skips_finished_points_and_cleans_partial_files(tmp_path):
    first = run_sweep("spin", SPIN, tmp_path)
    stale = tmp_path / "points" / ".abc.json.wb-123abcde.tmp"
    stale.write_text('{"half": ')                       # what a killed write would leave
    more = dict(SPIN, x=["1", "2", "3", "4"])
    second = run_sweep("spin", more, tmp_path)
    assert second.summary["skipped"] == 3 and second.summary["done"] == 1
    assert _results(second)[:3] == _results(first)
    assert not stale.exists()
    for f in (tmp_path / "points").iterdir():
        assert json.loads(f.read_text())["status"] == "ok"
    assert "4 points: 1 done, 0 failed, 3 skipped" in (tmp_path / "report.md").read_text()


def test_failed_points_are_recorded_and_retried(tmp_path, capsys):
    # a 20x20 kernel does not fit the 8x8 board: that point fails, the others run
    grid = {"image": ["checkerboard:8"], "kernel": ["2", "20"], "dt": ["1e-3"]}
    res = run_sweep("bounds", grid, tmp_path)
    assert [r["status"] for r in res.records] == ["ok", "failed"]
    assert "kernel" in res.records[1]["error"]
    direct = compute_bounds(checkerboard(8), 2, 1e-3, methods=("theory", "exact"))
    assert res.records[0]["result"]["exact_alpha_lower"] == direct["exact"]["alpha_lower"]
    again = run_sweep("bounds", grid, tmp_path)
    assert again.summary["skipped"] == 1 and again.summary["failed"] == 1
    assert main(["sweep", "bounds", "--grid", "image=checkerboard:8", "--grid", "kernel=2,20",
                 "--out", str(tmp_path / "cli")]) == 1


def test_perturb_target_matches_k_invariance(tmp_path):
    grid = {"image": ["checkerboard:16"], "kernel": ["4"], "k": ["1", "2", "3"], "lr": ["0.05"], "steps": ["30"]}
    res = run_sweep("perturb", grid, tmp_path)
    l1 = [r["result"]["final_rel_l1"] for r in res.records]
    assert l1[0] == 0.0 and l1[1] == 0.0          # k = 1 vs itself, k = 2 = 2^1: bit-identical
    assert res.records[2]["status"] == "ok"


def test_bad_executor_and_unreachable_scheduler(tmp_path):
    with pytest.raises(ParameterError, match="executor: unknown 'ray'"):
        run_sweep("spin", SPIN, tmp_path, executor="ray")
    with pytest.raises(ParameterError, match="scheduler: only the dask executor"):
        run_sweep("spin", SPIN, tmp_path, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ParameterError, match=r"workers: must be in \[1, "):
        run_sweep("spin", SPIN, tmp_path, executor="processes", workers=0)
    pytest.importorskip("distributed")
    t0 = time.perf_counter()
    with pytest.raises(ParameterError, match="scheduler: cannot reach"):
        run_sweep("spin", SPIN, tmp_path, executor="dask", scheduler="tcp://127.0.0.1:1", timeout=1.0)
    assert time.perf_counter() - t0 < 30          # a clear error, not a hang
    assert not (tmp_path / "results.jsonl").exists()


def test_killed_worker_loses_only_points_in_flight(tmp_path):
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        pids = list(client.run(os.getpid).values())
        grid = {"x": [str(i) for i in range(8)], "work": ["10"], "size": ["8"], "sleep": ["0.4"]}
        box = {}
        th = threading.Thread(target=lambda: box.setdefault(
            "res", run_sweep("spin", grid, tmp_path, executor="dask", scheduler=cluster.scheduler_address)))
        th.start()
        deadline = time.time() + 60
        while time.time() < deadline and len(list((tmp_path / "points").glob("*.json"))) < 2:
            time.sleep(0.05)
        os.kill(pids[0], signal.SIGKILL)             # a worker dies with a point in flight
        th.join(120)
        assert not th.is_alive()
        res = box["res"]
        assert res.summary["done"] == 8 and res.summary["failed"] == 0
        assert [r["result"]["y"] for r in res.records] == [float(i) ** 2 for i in range(8)]
        files = list((tmp_path / "points").iterdir())
        assert len(files) == 8 and all(json.loads(f.read_text())["status"] == "ok" for f in files)
    finally:
        client.close()
        cluster.close()


def test_cli_sweep_list_and_errors(capsys, tmp_path):
    assert main(["sweep", "--list"]) == 0
    out = capsys.readouterr().out
    assert "bounds:" in out and "perturb:" in out and "spin:" in out
    assert main(["sweep", "spin", "--grid", "lr=1", "--out", str(tmp_path)]) == 2
    assert "unknown parameter 'lr'" in capsys.readouterr().err
    assert main(["sweep", "spin", "--grid", "x=1,2", "--out", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["points"] == 2 and len(doc["records"]) == 2


def test_cli_sweep_prints_one_line_per_point_like_validate(tmp_path, capsys):
    from workbench.cli.app import main

    args = ["sweep", "spin", "--grid", "x=1,2,3", "--grid", "work=5", "--grid", "size=4", "--out", str(tmp_path / "s")]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"sweep spin: 3 points to run into {tmp_path / 's'}"
    points = [ln for ln in out if ln.startswith("[")]
    assert [ln.split()[0] for ln in points] == ["[1/3]", "[2/3]", "[3/3]"]
    assert all(" ok " in ln for ln in points) and sorted(ln.split()[-1] for ln in points) == ["x=1.0", "x=2.0", "x=3.0"]
    assert out[-1].startswith("sweep spin: 3 points, 3 done, 0 failed, 0 skipped")
    args[3] = "x=1,2,3,4"                          # a re-run says what it kept
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("; 3 already finished there (resuming)") and out[0].startswith("sweep spin: 1 point to run")
    assert out[1].startswith("[1/1] ") and out[1].endswith("x=4.0")
    assert main(args + ["--json"]) == 0
    json.loads(capsys.readouterr().out)            # --json: nothing but the document on stdout
