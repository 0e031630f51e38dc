"""Parameter sweeps: a target function mapped over a grid, resumable and loss-free.

``run_sweep(target, grid, executor=..., out=DIR)`` evaluates a registered *target*
(one point = one call with a dict of parameters) at every point of the Cartesian
product ``grid``. Batching inside a point stays on the array backend (GPU when
present); the executor distributes points:

``"local"``      in-process, one point after the other (the default; no extra library);
``"processes"``  a local process pool (``concurrent.futures``, spawn start method);
``"dask"``       Dask distributed: a ``distributed.Client`` to ``scheduler`` (an address
                 such as ``tcp://host:8786``), or a ``LocalCluster`` with ``workers``
                 worker processes when none is given (needs the ``dask`` extra).

Every finished point is written atomically by whoever computed it, as
``DIR/points/<id>.json`` (``id`` = a hash of the target and the point's full
parameters), so a crash or a killed worker loses at most the points in flight, and a
re-run of the same sweep skips the points already done (failed points are retried;
corrupt point files are recomputed). ``DIR`` is resolved to an absolute path first:
Dask workers on other machines must see it at the same path (a shared filesystem).
At the end ``DIR/results.jsonl`` (one row per point, in grid order: ``id``, ``status``
(ok, failed, pending), the parameters, the target's own result nested under
``result``, and ``error``), ``DIR/summary.json`` and ``DIR/report.md`` are written,
atomically. A dead worker or a lost scheduler marks its points failed (see
:mod:`workbench.jobs.executors`); Ctrl-C cancels the pending points, waits for the running
ones, writes these files and raises :class:`SweepInterrupted` (exit 130 on the CLI).

The targets (what one point computes, and the types and ranges of their parameters) are in
:mod:`workbench.jobs.targets`.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from workbench.jobs.targets import RANGES, TARGETS, TYPES, Target, check_bounds_points, get_target
from workbench.solvers.core.checks import ParameterError, check_int, parse_number
from workbench.validation.files import atomic_write_text

__all__ = ["TARGETS", "EXECUTORS", "Target", "SweepResult", "SweepInterrupted", "parse_grid", "expand_grid",
           "point_id", "run_point", "run_sweep", "max_workers", "max_points", "default_point_timeout", "PointTimeout"]

EXECUTORS = ("local", "processes", "dask")


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``["lr=0.01,0.02", "k=1,3"]`` -> ``{"lr": ["0.01", "0.02"], "k": ["1", "3"]}`` (text only, not evaluated)."""
    grid: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = str(item).partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"grid: expected NAME=V1,V2,..., got {item!r}")
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not vals:
            raise ParameterError(f"grid: {name}: empty value list")
        if name in grid:
            raise ParameterError(f"grid: {name}: given twice")
        grid[name] = vals
    return grid


def expand_grid(target: str, grid: dict[str, Sequence[Any]]) -> list[dict]:
    """The grid's points in C order (last name fastest), each with the target's defaults filled in."""
    t = get_target(target)
    unknown = [n for n in grid if n not in t.params]
    if unknown:
        raise ParameterError(f"grid: unknown parameter {unknown[0]!r} for target {target!r}; "
                             f"known: {', '.join(t.params)}")
    sizes = [len(v) if isinstance(v, (list, tuple)) else 1 for v in grid.values()]
    total = math.prod(sizes)
    if total > max_points():
        raise ParameterError(f"grid: {' x '.join(map(str, sizes))} = {total:,} points is over the limit of "
                             f"{max_points():,}; raise it with WORKBENCH_MAX_POINTS=<n>")
    typed: dict[str, list] = {}
    for name, values in grid.items():
        vals = list(values) if isinstance(values, (list, tuple)) else [values]
        if not vals:
            raise ParameterError(f"grid: {name}: empty value list")
        typed[name] = [TYPES[t.params[name][0]](name, v) for v in vals]
    for name, (lo, hi) in RANGES.items():
        for v in typed.get(name, ()):
            if not lo <= v <= hi:
                raise ParameterError(f"grid: {name}: must be in [{lo:,}, {hi:,}], got {v!r}")
    base = {k: d for k, (_, d) in t.params.items() if d is not None}
    names = list(typed)
    return [{**base, **dict(zip(names, combo))} for combo in itertools.product(*(typed[n] for n in names))]


def point_id(target: str, params: dict) -> str:
    """Stable id of a point: the first 16 hex digits of sha256 of its canonical JSON."""
    blob = json.dumps({"target": target, "params": params}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


class PointTimeout(Exception):
    """A point ran over its ``point_timeout``."""


@contextlib.contextmanager
def _alarm(seconds: float | None) -> Iterator[bool]:
    """Raise :class:`PointTimeout` after ``seconds`` (SIGALRM; only in a main thread on Unix, i.e. the
    local and processes executors). Yields whether the limit is enforced."""
    import signal
    import threading

    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield False
        return

    def ring(signum: int, frame: Any) -> None:
        raise PointTimeout(f"point-timeout: the point ran over {seconds:g} s and was stopped")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def load_point(out: str | Path, pid: str, target: str | None = None) -> dict | None:
    """The finished record ``out/points/<pid>.json``, or None when absent, corrupt or not ``ok``.

    A file holding ``null``, ``[]``, a record of another id or target, one whose
    ``params`` do not hash to its id, or one missing ``params``/``result`` counts as absent: the point is recomputed and the file replaced.
    """
    f = Path(out) / "points" / f"{pid}.json"
    try:
        rec = json.loads(f.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if (not isinstance(rec, dict) or rec.get("id") != pid or rec.get("status") != "ok"
            or not isinstance(rec.get("params"), dict) or not isinstance(rec.get("result"), dict)
            or (target is not None and rec.get("target") != target)):
        return None
    try:  # a record whose params do not hash to its id would list one point twice and lose another
        if point_id(str(rec.get("target")), rec["params"]) != pid:
            return None
    except (TypeError, ValueError):
        return None
    return rec


def run_point(target: str, params: dict, out_dir: str, point_timeout: float | None = None) -> dict:
    """Compute one point and write ``out_dir/points/<id>.json`` atomically; returns the record.

    Runs wherever the executor puts it (this process, a pool process, a Dask worker).
    An exception inside the target is recorded as ``status: "failed"`` with its message;
    so is a point that runs over ``point_timeout`` seconds (enforced where the point runs
    in a process's main thread: the local and processes executors).
    """
    t = get_target(target)
    pid = point_id(target, params)
    t0 = time.perf_counter()
    try:
        with _alarm(point_timeout):
            result = {k: _clean(v) for k, v in t.func(dict(params)).items()}
        rec = {"id": pid, "target": target, "params": params, "status": "ok", "result": result}
    except Exception as exc:  # noqa: BLE001 - a failed point is data, not a crash of the sweep
        rec = {"id": pid, "target": target, "params": params, "status": "failed",
               "error": (str(exc) if isinstance(exc, PointTimeout) else
                         f"{type(exc).__name__}: {exc}").splitlines()[0][:500]}
    rec["seconds"] = time.perf_counter() - t0
    atomic_write_text(Path(out_dir) / "points" / f"{pid}.json", json.dumps(rec, sort_keys=True))
    return rec


def _load_done(out_dir: Path, target: str) -> dict[str, dict]:
    """Finished records in ``out_dir/points``; stale temporary files of the workbench's own pattern are
    removed, corrupt files and records whose params do not hash to their id ignored (their points are
    recomputed and the files replaced)."""

    done: dict[str, dict] = {}
    points_dir = out_dir / "points"
    if not points_dir.is_dir():
        return done
    from workbench.jobs.outputs import clean_own_leftovers

    clean_own_leftovers(points_dir)              # left by a point killed mid-write: never a result
    for f in points_dir.iterdir():
        if f.suffix != ".json":
            continue
        rec = load_point(out_dir, f.stem, target)
        if rec is not None:
            done[f.stem] = rec
    return done


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_sweep`, raised after ``results.jsonl`` and the summary were written.

    ``result`` is the :class:`SweepResult` of the points settled so far (the others are
    ``pending``); re-running the same sweep computes only those.
    """

    def __init__(self, result: "SweepResult"):
        super().__init__("sweep interrupted")
        self.result = result


@dataclass
class SweepResult:
    """Outcome of :func:`run_sweep`: the records in grid order and the summary."""

    records: list[dict]
    summary: dict
    paths: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.summary
        return (f"SweepResult({s['target']}: {s['points']} points, {s['done']} done, {s['failed']} failed, "
                f"{s['skipped']} skipped, {s.get('pending', 0)} pending; out={s.get('out')!r})")


def _progress(total: int, enabled: bool | None) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="pt", disable=(None if enabled is None else not enabled), leave=False)


def _line_writer(echo: Callable[[str], None] | None, bar: Any) -> Callable[[str], None]:
    """``echo``, or nothing; above the progress bar when the bar is shown (``tqdm.write``)."""
    if echo is None:
        return lambda text: None
    if getattr(bar, "disable", True):
        return echo
    from tqdm import tqdm

    return lambda text: tqdm.write(text)


def _image_side(spec: Any) -> int:
    kind, _, rest = str(spec).partition(":")
    head = rest.split(":")[0]
    return int(head) if kind in ("checkerboard", "smooth", "noise") and head.isdigit() else 1024


def default_point_timeout(target: str, points: Sequence[dict]) -> float:
    """Seconds one point may run: derived from the largest point's work (its steps, image size,
    kernel) at a pessimistic 10^8 operations per second, times 10, plus 60 s of start-up."""
    worst = 0.0
    for p in points:
        n = _image_side(p.get("image", "checkerboard:64"))
        if target == "bounds":
            ops = 40 * 16 * p.get("steps", 1000) * max(p.get("kernel", 8) ** 4, 20 * n * n)
        elif target == "perturb":
            ops = 3 * p.get("steps", 200) * 20 * n * n
        else:
            ops = 2 * p.get("work", 1) * p.get("size", 1) ** 2 + 1e8 * p.get("sleep", 0.0)
        worst = max(worst, float(ops))
    return 60.0 + 10.0 * worst / 1e8


def max_workers() -> int:
    """Largest ``workers``: ``$WORKBENCH_MAX_WORKERS`` or 4 × the CPUs of this machine (at least 8)."""
    text = os.environ.get("WORKBENCH_MAX_WORKERS", "").strip()
    if text:
        return parse_number("WORKBENCH_MAX_WORKERS", text, integer=True, lo=1)
    return max(8, 4 * (os.cpu_count() or 1))


def max_points() -> int:
    """Largest sweep: ``$WORKBENCH_MAX_POINTS`` or 100000 points."""
    text = os.environ.get("WORKBENCH_MAX_POINTS", "").strip()
    return parse_number("WORKBENCH_MAX_POINTS", text, integer=True, lo=1) if text else 100_000


def check_workers(workers: Any) -> int:
    """``workers`` as an int in [1, :func:`max_workers`] (the message states the limit and how to raise it)."""
    hi = max_workers()
    why = "(at most 4 x the CPUs here; raise with WORKBENCH_MAX_WORKERS=<n>)"
    try:
        w = parse_number("workers", workers, integer=True) if isinstance(workers, str) else check_int("workers", workers)
    except ParameterError as exc:
        raise ParameterError(f"{exc}; must be in [1, {hi}] {why}") from None
    if not 1 <= w <= hi:
        raise ParameterError(f"workers: must be in [1, {hi}] {why}, got {workers!r}")
    return w


def run_sweep(
    target: str,
    grid: dict[str, Sequence[Any]],
    out: str | os.PathLike,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    timeout: float = 5.0,
    progress: bool | None = None,
    point_timeout: float | None = None,
    echo: Callable[[str], None] | None = None,
) -> SweepResult:
    """Evaluate ``target`` on every point of ``grid``; resumable, every point saved as it completes.

    Parameters
    ----------
    target : str
        A name in :data:`TARGETS`.
    grid : dict
        Parameter name -> values (strings are parsed to the parameter's type; never
        evaluated). Unnamed parameters take the target's defaults.
    out : path
        Sweep folder (created; resolved to an absolute path before it goes to workers,
        which must see the same filesystem). Re-running with the same folder skips
        finished points; corrupt point files are recomputed.
    executor : {"local", "processes", "dask"}
    workers : int, optional
        Pool size / LocalCluster workers (default: ``os.cpu_count()``, at most 8; at
        most :func:`max_workers`).
    scheduler : str, optional
        Dask scheduler address; without it a LocalCluster is started.
    timeout : float
        Seconds to wait for a scheduler before giving up with a clear error.
    progress : bool, optional
        Progress bar on stderr (default: only when stderr is a terminal).
    point_timeout : float, optional
        Seconds one point may run before it is stopped and recorded failed (default
        :func:`default_point_timeout`, derived from the work; enforced by the local and
        processes executors; Dask points run in worker threads and are not stopped).
    echo : callable, optional
        Called with one line when the sweep starts and one per settled point, as ``workbench validate`` prints
        its cases: ``[k/N] <id> ok|failed (<s> s) <the parameters that vary>``; written above the bar when there
        is one. The CLI passes ``print`` (none with ``--json``).

    Returns
    -------
    SweepResult
        ``records`` in grid order; ``summary`` with ``points``, ``done``, ``failed``,
        ``skipped`` (already finished before this run), ``pending`` (not settled:
        only after Ctrl-C), ``wall_s``, ``out``.

    Raises
    ------
    SweepInterrupted
        on Ctrl-C or SIGTERM, after the settled points' ``results.jsonl`` and summary were written.
    """
    from workbench.jobs import executors as ex
    from workbench.jobs.outputs import check_output_dir, claim_folder, folder_lock

    if executor not in EXECUTORS:
        raise ParameterError(f"executor: unknown {executor!r}; use {', '.join(EXECUTORS)}")
    if scheduler and executor != "dask":
        raise ParameterError("scheduler: only the dask executor takes a scheduler address")
    n_workers = min(os.cpu_count() or 1, 8) if workers is None else check_workers(workers)
    if isinstance(timeout, bool) or not isinstance(timeout, (str, int, float)):
        raise ParameterError(f"timeout: expected a number of seconds, got {timeout!r}")
    timeout = parse_number("timeout", timeout if isinstance(timeout, str) else repr(float(timeout)),
                           lo=0, hi=3600, lo_open=True)
    points = expand_grid(target, grid)
    if point_timeout is None:
        point_timeout = default_point_timeout(target, points)
    elif isinstance(point_timeout, bool) or not isinstance(point_timeout, (int, float, str)):
        raise ParameterError(f"point_timeout: expected a number of seconds, got {point_timeout!r}")
    else:
        point_timeout = parse_number("point_timeout", str(point_timeout), lo=0, hi=1e7, lo_open=True)
    runner = functools.partial(run_point, point_timeout=point_timeout)
    if target == "bounds":
        check_bounds_points(points)
    out_dir = check_output_dir("out", out)
    with folder_lock("out", out_dir), ex.sigterm_as_interrupt():  # one run per folder; SIGTERM as Ctrl-C
        claim_folder("out", out_dir, "sweep")
        ids = [point_id(target, p) for p in points]
        done = _load_done(out_dir, target)
        todo = [(i, p) for i, p in zip(ids, points) if i not in done]
        todo = list({i: (i, p) for i, p in todo}.values())       # identical points once
        skipped = len(set(ids)) - len(todo)
        t0 = time.perf_counter()
        bar = _progress(len(todo), progress)
        say = _line_writer(echo, bar)
        varying = [k for k in (points[0] if points else {}) if len({repr(p.get(k)) for p in points}) > 1]
        say(f"sweep {target}: {len(todo)} point{'s' if len(todo) != 1 else ''} to run into {out_dir}"
            + (f"; {skipped} already finished there (resuming)" if skipped else ""))
        recs: dict[str, dict] = {}

        def on_done(rec: dict) -> None:
            if rec["id"] not in recs:
                recs[rec["id"]] = rec
                bar.update(1)
                where = " ".join(f"{k}={rec.get('params', {}).get(k)}" for k in varying)
                secs = rec.get("seconds")  # None for a point whose worker was lost
                say(f"[{len(recs)}/{len(todo)}] {rec['id']} {rec['status']:<6} "
                    + (f"({secs:.1f} s)" if isinstance(secs, (int, float)) else "(no time)")
                    + (f"  {where}" if where else ""))

        interrupted = False
        try:
            if not todo:
                pass
            elif executor == "local":
                ex.run_local(todo, target, str(out_dir), on_done, runner)
            elif executor == "processes":
                ex.run_processes(todo, target, str(out_dir), on_done, runner, n_workers, load_point=load_point)
            else:
                ex.run_dask(todo, target, str(out_dir), on_done, runner, n_workers, scheduler, timeout,
                           load_point=load_point)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
        wall = time.perf_counter() - t0
        for i, _ in todo:  # finished by a worker whose answer never reached us (Ctrl-C, a lost scheduler)
            if recs.get(i, {}).get("status") != "ok" and (rec := load_point(out_dir, i, target)) is not None:
                recs[i] = rec
        by_id = {**done, **recs}
        records = [by_id.get(i) or {"id": i, "target": target, "params": p, "status": "pending"}
                   for i, p in zip(ids, points)]
        failed = sum(r["status"] != "ok" for r in recs.values())
        summary = {"target": target, "executor": executor, "workers": n_workers if executor != "local" else 1,
                   "points": len(ids), "done": len(recs) - failed, "failed": failed, "skipped": skipped,
                   "pending": len(todo) - len(recs), "interrupted": interrupted, "wall_s": wall, "out": str(out_dir),
                   "point_timeout_s": point_timeout,
                   "grid": {k: [str(v) for v in (vs if isinstance(vs, (list, tuple)) else [vs])]
                            for k, vs in grid.items()}}
        paths = _write_outputs(out_dir, records, summary)
    result = SweepResult(records, summary, paths)
    if interrupted:
        raise SweepInterrupted(result)
    return result


#: Keys of a results.jsonl row besides the parameters; the target's own result is nested under "result".
ROW_KEYS = ("id", "status", "result", "error", "seconds")


def _write_outputs(out_dir: Path, records: list[dict], summary: dict) -> dict:
    rows = [{"id": r["id"], "status": r["status"], **r["params"],
             **({"result": r["result"]} if "result" in r else {}),
             **({"error": r["error"]} if "error" in r else {})} for r in records]
    jl = atomic_write_text(out_dir / "results.jsonl", "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))
    sm = atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2, sort_keys=True))
    params = list(dict.fromkeys(k for r in records for k in r["params"]))
    results = list(dict.fromkeys(k for r in records for k in r.get("result", {})))
    cols = ["status", *params, *(f"result.{k}" if k in params or k == "status" else k for k in results), "error"]
    lines = [f"# Sweep `{summary['target']}`", "",
             f"{summary['points']} points: {summary['done']} done, {summary['failed']} failed, "
             f"{summary['skipped']} skipped (already done), {summary['pending']} pending"
             f"{' (interrupted)' if summary['interrupted'] else ''}; executor {summary['executor']}, "
             f"wall time {summary['wall_s']:.2f} s.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in records:
        cells = [r["status"], *(r["params"].get(k, "") for k in params),
                 *(r.get("result", {}).get(k, "") for k in results), r.get("error", "")]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    md = atomic_write_text(out_dir / "report.md", "\n".join(lines) + "\n")
    return {"results": jl, "summary": sm, "report": md}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v).replace("|", "\\|").replace("\n", " ")
