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
re-run of the same sweep skips the points already done (failed points are retried).
At the end ``DIR/results.jsonl`` (one row per point, in grid order), ``DIR/summary.json``
and ``DIR/report.md`` are written, atomically.

Targets (:data:`TARGETS`):

``bounds``  α bounds of one image/kernel/Δt/scheme (:func:`solvers.bounds.compute_bounds`);
``perturb`` final divergence of k-perturbed against unperturbed gradient descent on the
            one-layer CNN (:func:`solvers.perturbation.run_perturbed`);
``spin``    a CPU-bound toy point (repeated small matrix products), for tests and the
            executor benchmark.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from solvers.checks import ParameterError
from validation.files import atomic_write_text

__all__ = ["TARGETS", "EXECUTORS", "Target", "parse_grid", "expand_grid", "point_id", "run_point", "run_sweep"]

EXECUTORS = ("local", "processes", "dask")
_WORDS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-:.,")


def _as_int(name: str, v: Any) -> int:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ParameterError(f"grid: {name}: expected an integer, got {v!r}") from None
    if not math.isfinite(f) or f != int(f):
        raise ParameterError(f"grid: {name}: expected an integer, got {v!r}")
    return int(f)


def _as_float(name: str, v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ParameterError(f"grid: {name}: expected a number, got {v!r}") from None
    if not math.isfinite(f):
        raise ParameterError(f"grid: {name}: must be finite, got {v!r}")
    return f


def _as_word(name: str, v: Any) -> str:
    s = str(v)
    if not s or not set(s) <= _WORDS or len(s) > 200:
        raise ParameterError(f"grid: {name}: expected a plain word (letters, digits, _-:.,), got {v!r}")
    return s


_TYPES: dict[str, Callable[[str, Any], Any]] = {"int": _as_int, "float": _as_float, "str": _as_word}


@dataclass(frozen=True)
class Target:
    """A sweepable function: ``func(params) -> dict`` of JSON numbers/strings.

    ``params`` maps each parameter name to ``(type, default)``, type one of int, float,
    str; a default of ``None`` means the parameter is optional and left out when absent.
    """

    name: str
    func: Callable[[dict], dict]
    params: dict[str, tuple[str, Any]]
    doc: str = ""


def _bounds_point(p: dict) -> dict:
    from solvers.bounds import compute_bounds

    from .io import load_image

    kw = {k: p[k] for k in ("a", "beta", "mode", "backend", "rtol", "steps", "scheme") if k in p}
    if p.get("momentum") is not None:
        kw["momentum"] = p["momentum"]
    kw["methods"] = tuple(m for m in p["methods"].split(",") if m)
    img = load_image(p["image"])
    r = compute_bounds(img, p["kernel"], p["dt"], **kw)
    out: dict[str, Any] = {}
    for m in ("theory", "theory_exact", "exact", "simulated"):
        if m in r:
            out[f"{m}_alpha_lower"] = r[m]["alpha_lower"]
            out[f"{m}_alpha_upper"] = r[m]["alpha_upper"]
    return out


def _perturb_point(p: dict) -> dict:
    from solvers.backend import Fft, float_dtype, get_namespace
    from solvers.correlation import CnnOperator
    from solvers.perturbation import run_perturbed

    from .io import load_image

    xp = get_namespace(p["backend"])
    img = xp.asarray(load_image(p["image"]), dtype=float_dtype(xp, p["dtype"]))
    op = CnnOperator(img, p["kernel"], fft=Fft(xp))
    ks = (1, p["k"]) if p["k"] != 1 else (1,)
    run = run_perturbed(op, [p["lr"]], ks, p["alpha"], p["seed"], steps=p["steps"], histories=False)
    i = len(ks) - 1                                       # the member with k = p["k"]
    return {"final_rel_l1": float(run.final_rel_l1[i]), "max_rel_l1": float(run.max_rel_l1[i]),
            "final_loss": float(run.final_loss[i]), "status": run.status[i], "first_above": int(run.first_above[i])}


def _spin_point(p: dict) -> dict:
    import numpy as np

    rng = np.random.default_rng(p["seed"])
    a = rng.standard_normal((p["size"], p["size"])) / p["size"]
    v = np.ones(p["size"])
    for _ in range(p["work"]):
        v = a @ v
        v /= np.linalg.norm(v)
    time.sleep(p["sleep"])
    return {"x": p["x"], "y": p["x"] ** 2, "v0": float(v[0])}


TARGETS: dict[str, Target] = {
    "bounds": Target("bounds", _bounds_point, {
        "image": ("str", "checkerboard:64"), "kernel": ("int", 8), "dt": ("float", 1e-6), "a": ("float", -0.5),
        "beta": ("float", 1.0), "mode": ("str", "valid"), "backend": ("str", "numpy"), "rtol": ("float", 1e-3),
        "steps": ("int", 1000), "scheme": ("str", "euler"), "momentum": ("float", None),
        "methods": ("str", "theory,exact")}, "alpha bounds (solvers.bounds.compute_bounds)"),
    "perturb": Target("perturb", _perturb_point, {
        "image": ("str", "checkerboard:64"), "kernel": ("int", 8), "alpha": ("float", 20.0), "lr": ("float", 0.01),
        "k": ("int", 3), "seed": ("int", 0), "steps": ("int", 200), "dtype": ("str", "float64"),
        "backend": ("str", "numpy")}, "k-perturbed vs unperturbed GD on the one-layer CNN"),
    "spin": Target("spin", _spin_point, {
        "x": ("float", 0.0), "seed": ("int", 0), "size": ("int", 64), "work": ("int", 2000),
        "sleep": ("float", 0.0)}, "CPU-bound toy point (tests, executor benchmark)"),
}


def _target(name: str) -> Target:
    if name not in TARGETS:
        raise ParameterError(f"target: unknown {name!r}; available: {', '.join(TARGETS)}")
    return TARGETS[name]


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
    t = _target(target)
    unknown = [n for n in grid if n not in t.params]
    if unknown:
        raise ParameterError(f"grid: unknown parameter {unknown[0]!r} for target {target!r}; "
                             f"known: {', '.join(t.params)}")
    typed: dict[str, list] = {}
    for name, values in grid.items():
        vals = list(values) if isinstance(values, (list, tuple)) else [values]
        if not vals:
            raise ParameterError(f"grid: {name}: empty value list")
        typed[name] = [_TYPES[t.params[name][0]](name, v) for v in vals]
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


def run_point(target: str, params: dict, out_dir: str) -> dict:
    """Compute one point and write ``out_dir/points/<id>.json`` atomically; returns the record.

    Runs wherever the executor puts it (this process, a pool process, a Dask worker).
    An exception inside the target is recorded as ``status: "failed"`` with its message.
    """
    t = _target(target)
    pid = point_id(target, params)
    t0 = time.perf_counter()
    try:
        result = {k: _clean(v) for k, v in t.func(dict(params)).items()}
        rec = {"id": pid, "target": target, "params": params, "status": "ok", "result": result}
    except Exception as exc:  # noqa: BLE001 - a failed point is data, not a crash of the sweep
        rec = {"id": pid, "target": target, "params": params, "status": "failed",
               "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:500]}
    rec["seconds"] = time.perf_counter() - t0
    atomic_write_text(Path(out_dir) / "points" / f"{pid}.json", json.dumps(rec, sort_keys=True))
    return rec


def _load_done(points_dir: Path) -> dict[str, dict]:
    done: dict[str, dict] = {}
    if not points_dir.is_dir():
        return done
    for f in points_dir.iterdir():
        if f.name.startswith(".") and f.name.endswith(".tmp"):
            f.unlink(missing_ok=True)            # left by a point killed mid-write: never a result
            continue
        if f.suffix != ".json":
            continue
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if rec.get("status") == "ok":
            done[rec.get("id", f.stem)] = rec
    return done


@dataclass
class SweepResult:
    """Outcome of :func:`run_sweep`: the records in grid order and the summary."""

    records: list[dict]
    summary: dict
    paths: dict = field(default_factory=dict)


def _progress(total: int, enabled: bool | None) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="pt", disable=(None if enabled is None else not enabled), leave=False)


def _run_local(todo: list[tuple[str, dict]], target: str, out: str, bar: Any) -> list[dict]:
    recs = []
    for _, p in todo:
        recs.append(run_point(target, p, out))
        bar.update(1)
    return recs


def _run_processes(todo: list[tuple[str, dict]], target: str, out: str, bar: Any, workers: int) -> list[dict]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    recs = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futs = [pool.submit(run_point, target, p, out) for _, p in todo]
        for f in as_completed(futs):
            recs.append(f.result())
            bar.update(1)
    return recs


def _dask_client(scheduler: str | None, workers: int, timeout: float) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ParameterError("executor: 'dask' needs Dask distributed; pip install 'stability-workbench[dask]'") from None
    if scheduler:
        try:
            return Client(scheduler, timeout=f"{timeout}s"), None
        except (OSError, TimeoutError) as exc:
            raise ParameterError(f"scheduler: cannot reach {scheduler!r} within {timeout:g} s ({type(exc).__name__})") \
                from None
        except ValueError as exc:
            raise ParameterError(f"scheduler: invalid address {scheduler!r} ({exc})") from None
    import dask

    from solvers.threads import WORKER_ENV

    # one BLAS/FFT thread per worker and a 16 MiB mmap threshold (the nanny's default
    # MALLOC_TRIM_THRESHOLD_=65536 makes every FFT buffer a fresh mmap: 2.5x slower points)
    env = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **WORKER_ENV}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    return Client(cluster), cluster


def _run_dask(todo: list[tuple[str, dict]], target: str, out: str, bar: Any, workers: int,
              scheduler: str | None, timeout: float) -> list[dict]:
    from distributed import as_completed

    client, cluster = _dask_client(scheduler, workers, timeout)
    try:
        futs = [client.submit(run_point, target, p, out, key=f"point-{pid}", pure=False, retries=2)
                for pid, p in todo]
        recs = []
        for f in as_completed(futs):
            recs.append(f.result())
            bar.update(1)
        return recs
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_sweep(
    target: str,
    grid: dict[str, Sequence[Any]],
    out: str | os.PathLike,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    timeout: float = 5.0,
    progress: bool | None = None,
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
        Sweep folder (created). Re-running with the same folder skips finished points.
    executor : {"local", "processes", "dask"}
    workers : int, optional
        Pool size / LocalCluster workers (default: ``os.cpu_count()``, at most 8).
    scheduler : str, optional
        Dask scheduler address; without it a LocalCluster is started.
    timeout : float
        Seconds to wait for a scheduler before giving up with a clear error.
    progress : bool, optional
        Progress bar on stderr (default: only when stderr is a terminal).

    Returns
    -------
    SweepResult
        ``records`` in grid order; ``summary`` with ``points``, ``done``, ``failed``,
        ``skipped`` (already finished before this run), ``wall_s``.
    """
    if executor not in EXECUTORS:
        raise ParameterError(f"executor: unknown {executor!r}; use {', '.join(EXECUTORS)}")
    if scheduler and executor != "dask":
        raise ParameterError("scheduler: only the dask executor takes a scheduler address")
    n_workers = min(os.cpu_count() or 1, 8) if workers is None else _as_int("workers", workers)
    if n_workers < 1:
        raise ParameterError(f"workers: must be >= 1, got {workers!r}")
    timeout = _as_float("timeout", timeout)
    points = expand_grid(target, grid)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = [point_id(target, p) for p in points]
    done = _load_done(out_dir / "points")
    todo = [(i, p) for i, p in zip(ids, points) if i not in done]
    todo = list({i: (i, p) for i, p in todo}.values())       # identical points once
    skipped = len(set(ids)) - len(todo)
    t0 = time.perf_counter()
    bar = _progress(len(todo), progress)
    try:
        if not todo:
            recs: list[dict] = []
        elif executor == "local":
            recs = _run_local(todo, target, str(out_dir), bar)
        elif executor == "processes":
            recs = _run_processes(todo, target, str(out_dir), bar, n_workers)
        else:
            recs = _run_dask(todo, target, str(out_dir), bar, n_workers, scheduler, timeout)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    by_id = {**done, **{r["id"]: r for r in recs}}
    records = [by_id[i] for i in ids]
    failed = sum(r["status"] != "ok" for r in recs)
    summary = {"target": target, "executor": executor, "workers": n_workers if executor != "local" else 1,
               "points": len(ids), "done": len(recs) - failed, "failed": failed, "skipped": skipped,
               "wall_s": wall, "grid": {k: [str(v) for v in (vs if isinstance(vs, (list, tuple)) else [vs])]
                                        for k, vs in grid.items()}}
    paths = _write_outputs(out_dir, records, summary)
    return SweepResult(records, summary, paths)


def _write_outputs(out_dir: Path, records: list[dict], summary: dict) -> dict:
    rows = [{"id": r["id"], "status": r["status"], **r["params"], **r.get("result", {}),
             **({"error": r["error"]} if "error" in r else {})} for r in records]
    jl = atomic_write_text(out_dir / "results.jsonl", "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))
    sm = atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2, sort_keys=True))
    cols = list(dict.fromkeys(k for row in rows for k in row if k != "id"))
    lines = [f"# Sweep `{summary['target']}`", "",
             f"{summary['points']} points: {summary['done']} done, {summary['failed']} failed, "
             f"{summary['skipped']} skipped (already done); executor {summary['executor']}, "
             f"wall time {summary['wall_s']:.2f} s.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c, "")) for c in cols) + " |")
    md = atomic_write_text(out_dir / "report.md", "\n".join(lines) + "\n")
    return {"results": jl, "summary": sm, "report": md}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v).replace("|", "\\|")
