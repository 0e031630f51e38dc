"""The ``workbench`` command line: ``derive``, ``bounds``, ``validate``, ``sweep``, ``bench``.

Every bad input (a parameter out of its domain, a missing file, an unknown backend,
a usage error) ends the program with one line ``workbench: error: <message>`` on
stderr and exit status 2, never a traceback. ``validate`` exits 1 when a case fails
its own check. NumPy overflow warnings of diverging runs are silenced: the solvers
detect divergence on purpose.

The computational parts are imported lazily inside the commands:
``derivations.registry``, ``solvers.bounds.compute_bounds``,
``validation.registry`` and ``workbench.benchmarks.run_bench``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from solvers.checks import ParameterError, check_finite, check_positive

__all__ = ["main", "build_parser", "run_validation", "BACKENDS", "METHODS"]

BACKENDS = ("numpy", "cupy", "array_api_strict")
METHODS = ("theory", "theory_exact", "exact", "simulated")
SCHEMES = ("euler", "nesterov")
PROG = "workbench"


class UsageError(Exception):
    """A command-line usage error (raised instead of argparse's print-and-exit)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


# --- small parsers of option values ---------------------------------------------------

def parse_kernels(values: Sequence[str]) -> list[int]:
    """``["3", "5,7"]`` -> ``[3, 5, 7]``; each size a positive integer."""
    out: list[int] = []
    for value in values:
        for item in str(value).split(","):
            item = item.strip()
            if not item.isdigit() or len(item) > 6 or int(item) < 1:
                raise ParameterError(f"kernel: size must be a positive integer, got {item!r}")
            out.append(int(item))
    return out


def parse_methods(text: str) -> tuple[str, ...]:
    """``"theory,exact"`` -> ``("theory", "exact")``; each one of :data:`METHODS`."""
    items = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in items if m not in METHODS]
    if bad or not items:
        raise ParameterError(f"methods: unknown {bad or text!r}; choose from {','.join(METHODS)}")
    return tuple(dict.fromkeys(items))


def _positive_int(name: str, text: str) -> int:
    if not text.isdigit() or len(text) > 12 or int(text) < 1:
        raise ParameterError(f"{name}: must be a positive integer, got {text!r}")
    return int(text)


def _fmt(x: Any, digits: int = 6) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) or type(x).__name__.startswith("float"):
        return f"{float(x):.{digits}g}"
    return str(x)


def _print_table(columns: list[str], rows: list[list[Any]]) -> None:
    cells = [[_fmt(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def _dumps(obj: Any) -> str:
    from .report import to_jsonable

    return json.dumps(to_jsonable(obj), indent=2, allow_nan=False)


# --- derive --------------------------------------------------------------------------------

def cmd_derive(args: argparse.Namespace) -> int:
    import derivations.registry as registry

    if args.list or not args.name:
        if not args.list:
            raise ParameterError(f"derivation: name required; available: {', '.join(registry.available())}")
        print("\n".join(registry.available()))
        return 0
    d = registry.get(args.name)
    if args.json:
        print(_dumps(d.to_dict()))
    elif args.latex:
        print(d.latex())
    else:
        print(str(d))
    return 0


# --- bounds --------------------------------------------------------------------------------

def bounds_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Validated keyword arguments of ``compute_bounds`` from the parsed options."""
    kw: dict[str, Any] = {
        "a": check_finite("a", args.a),
        "beta": check_positive("beta", args.beta),
        "mode": args.mode,
        "backend": args.backend,
        "rtol": check_positive("rtol", args.rtol),
        "methods": parse_methods(args.methods) if args.methods else None,
        "dtype": args.dtype,
        "scheme": args.scheme,
    }
    if args.scheme == "euler" and (args.momentum is not None or args.damping is not None):
        raise ParameterError("momentum: --momentum/--damping need --scheme nesterov")
    if args.momentum is not None and args.damping is not None:
        raise ParameterError("momentum: give either --momentum or --damping, not both")
    if args.momentum is not None:
        kw["momentum"] = check_finite("momentum", args.momentum)
    if args.damping is not None:
        kw["damping"] = check_finite("damping", args.damping)
    if args.scheme == "nesterov":
        from solvers.momentum import momentum_params

        momentum_params(check_positive("dt", args.dt), kw.get("momentum"), kw.get("damping"))  # fail before loading
    if kw["rtol"] >= 1:
        raise ParameterError(f"rtol: must be < 1, got {args.rtol!r}")
    if args.steps is not None:
        kw["steps"] = _positive_int("steps", args.steps)
    return kw


def cmd_bounds(args: argparse.Namespace) -> int:
    from solvers.checks import check_kernel_size

    from .io import load_image

    dt = check_positive("dt", args.dt)
    kw = bounds_kwargs(args)
    kernels = parse_kernels(args.kernel)
    image = load_image(args.image, dtype=args.dtype)
    for w in kernels:
        check_kernel_size(w, image.shape, args.mode)
    from solvers.bounds import compute_bounds

    results = [compute_bounds(image, w, dt, **kw) for w in kernels]
    if args.json:
        print(_dumps({"results": results}))
        return 0
    scheme = f"scheme={args.scheme}"
    if args.scheme == "nesterov":
        r0 = results[0]
        scheme += f" (momentum={r0['momentum']:g}, d={r0['d']:.6g}, eta={r0['eta']:.6g})"
    print(f"image {args.image} {image.shape[0]}x{image.shape[1]}, dt={dt:g}, a={kw['a']:g}, "
          f"beta={kw['beta']:g}, mode={args.mode}, backend={args.backend}, dtype={args.dtype}, {scheme}")
    rows = []
    for w, res in zip(kernels, results):
        for m in kw["methods"] or [m for m in METHODS if m in res]:
            r = res.get(m) or {}
            rows.append([res.get("kernel", w), m, r.get("alpha_lower"), r.get("alpha_upper")])
    _print_table(["kernel", "method", "alpha_lower", "alpha_upper"], rows)
    return 0


# --- validate ------------------------------------------------------------------------------

def run_validation(case_ids: Sequence[str] | None, out_dir: str | Path, quick: bool = False,
                   echo: Callable[[str], None] | None = None) -> tuple[list[dict], dict[str, Path]]:
    """Run validation cases and write the report folder.

    Parameters
    ----------
    case_ids : sequence of str or None
        Cases to run (None or empty: all of ``validation.registry.list_cases()``).
    out_dir : str or Path
        Report folder; cases write their figures here.
    quick : bool
        Reduced versions of the cases.
    echo : callable, optional
        Called with one summary line per case.

    Returns
    -------
    (cases, paths)
        Case dicts and the files written by :func:`workbench.report.write_report`.
        A case that raises is recorded with verdict ``"error"`` and ``passed=False``.
    """
    import validation.registry as registry

    from .report import case_to_dict, write_report

    known = registry.list_cases()
    ids = list(dict.fromkeys(case_ids)) if case_ids else known
    unknown = [c for c in ids if c not in known]
    if unknown:
        raise ParameterError(f"case: unknown {', '.join(map(repr, unknown))}; available: {', '.join(known)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    t_all = time.perf_counter()
    for cid in ids:
        t0 = time.perf_counter()
        try:
            case = case_to_dict(registry.run_case(cid, out, quick=quick))
        except Exception as exc:  # a broken case must not lose the others' results
            case = case_to_dict({"id": cid, "verdict": "error", "passed": False,
                                 "notes": f"case raised {type(exc).__name__}: {exc}"})
        elapsed = time.perf_counter() - t0
        case.setdefault("seconds", round(elapsed, 3))
        cases.append(case)
        if echo is not None:
            echo(f"{cid:<28} {str(case['verdict']):<10} {'PASS' if case['passed'] else 'FAIL'}"
                 f"  ({elapsed:.1f} s)")
    meta = {
        "title": "Stability workbench validation report",
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": bool(quick),
        "cases": len(cases),
        "seconds": round(time.perf_counter() - t_all, 3),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    return cases, write_report(out, cases, meta)


def cmd_validate(args: argparse.Namespace) -> int:
    if args.list:
        import validation.registry as registry

        for cid in registry.list_cases():
            print(f"{cid:<28} {registry.get_case(cid).claim}".rstrip())
        return 0
    cases, paths = run_validation(args.cases, args.out, quick=args.quick, echo=print)
    failed = [c["id"] for c in cases if not c["passed"]]
    print(f"report: {paths['md']}  {paths['html']}  {paths['json']}")
    print(f"{len(cases) - len(failed)}/{len(cases)} passed" + (f"; failed: {', '.join(map(str, failed))}" if failed else ""))
    return 1 if failed else 0


# --- bench ---------------------------------------------------------------------------------

BENCH_COLUMNS = ["name", "ours", "baseline", "ours_s", "baseline_s", "ratio", "note"]


def cmd_bench(args: argparse.Namespace) -> int:
    from solvers.threads import fft_workers

    from . import _bench_module
    from .timing import format_report

    mod = _bench_module()
    rows = [dict(r) for r in mod.run_bench(quick=args.quick)]
    floor = getattr(mod, "LAST_FLOOR", None)
    doc = {"meta": {"generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "quick": bool(args.quick), "python": platform.python_version(),
                    "platform": platform.platform(), "threads": fft_workers(),
                    "floor": None if floor is None else vars(floor),
                    "part_s": dict(getattr(mod, "LAST_PARTS", {}))},
           "rows": rows}
    if args.out:
        from .io import atomic_write_text

        atomic_write_text(args.out, _dumps(doc) + "\n")
    if args.json:
        print(_dumps(doc))
    else:
        print(format_report(rows, floor))
    return 0


# --- sweep -------------------------------------------------------------------------------

def cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import TARGETS, parse_grid, run_sweep

    if args.list:
        for name, t in TARGETS.items():
            params = ", ".join(f"{k}={d}" if d is not None else k for k, (_, d) in t.params.items())
            print(f"{name}: {t.doc} [{params}]")
        return 0
    if not args.target:
        raise ParameterError(f"target: name required; available: {', '.join(TARGETS)}")
    workers = _positive_int("workers", args.workers) if args.workers is not None else None
    res = run_sweep(args.target, parse_grid(args.grid or []), args.out, executor=args.executor, workers=workers,
                    scheduler=args.scheduler, timeout=check_positive("timeout", args.timeout),
                    progress=None if not args.json else False)
    sm = res.summary
    if args.json:
        print(_dumps({"summary": sm, "records": res.records}))
    else:
        print(f"sweep {sm['target']}: {sm['points']} points, {sm['done']} done, {sm['failed']} failed, "
              f"{sm['skipped']} skipped, {sm['wall_s']:.2f} s ({sm['executor']}); results: {res.paths['results']}")
    return 1 if sm["failed"] else 0


# --- parser and main ---------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``workbench`` (usage errors raise :class:`UsageError`)."""
    p = _Parser(prog=PROG, description="Numerical stability workbench (one-layer CNN, first paper).")
    p.add_argument("--threads", default=None, metavar="N",
                   help="BLAS and FFT threads (default: the cores this process may use; sweep and validation "
                        "workers always use 1 each)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    d = sub.add_parser("derive", help="print a symbolic derivation")
    d.add_argument("name", nargs="?", help="derivation name (see --list)")
    d.add_argument("--list", action="store_true", help="list available derivations")
    g = d.add_mutually_exclusive_group()
    g.add_argument("--latex", action="store_true", help="print LaTeX")
    g.add_argument("--json", action="store_true", help="print JSON")
    d.set_defaults(func=cmd_derive)

    b = sub.add_parser("bounds", help="bounds on the weight decay alpha for an image and kernel sizes")
    b.add_argument("--image", required=True, help="checkerboard:N, smooth:N[:seed], noise:N[:seed], PATH.npy, PATH.png")
    b.add_argument("--kernel", required=True, action="append", metavar="W", help="kernel size (repeat or comma-separate)")
    b.add_argument("--dt", required=True, help="time step Delta_t > 0")
    b.add_argument("--a", default="-0.5", help="linearization coefficient a (default -0.5)")
    b.add_argument("--beta", default="1.0", help="Swish beta (default 1.0)")
    b.add_argument("--mode", choices=("valid", "periodic"), default="valid")
    b.add_argument("--backend", choices=BACKENDS, default="numpy")
    b.add_argument("--rtol", default="1e-3", help="bisection tolerance of the simulated bound")
    b.add_argument("--steps", default=None, help="time steps of the simulated bound")
    b.add_argument("--methods", default=None,
                   help="comma list of theory,theory_exact,exact,simulated (default: theory,exact,simulated for "
                        "euler, all four for nesterov)")
    b.add_argument("--scheme", choices=SCHEMES, default="euler",
                   help="euler: forward Euler (21); nesterov: the semi-implicit momentum scheme (37)-(38)")
    b.add_argument("--momentum", default=None, help="nesterov momentum coefficient in [0, 1) (default 0.9)")
    b.add_argument("--damping", default=None, help="nesterov damping d > 0 instead of --momentum")
    b.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bounds)

    v = sub.add_parser("validate", help="run validation cases and write a report")
    v.add_argument("cases", nargs="*", metavar="CASE")
    v.add_argument("--out", default="report", help="report folder (default ./report)")
    v.add_argument("--list", action="store_true", help="list the cases")
    v.add_argument("--quick", action="store_true", help="reduced versions of the cases")
    v.set_defaults(func=cmd_validate)

    w = sub.add_parser("sweep", help="map a target over a parameter grid (resumable; local, processes or dask)")
    w.add_argument("target", nargs="?", help="bounds, perturb or spin (see --list)")
    w.add_argument("--grid", action="append", metavar="NAME=V1,V2,...", help="a grid axis (repeat)")
    w.add_argument("--executor", choices=("local", "processes", "dask"), default="local")
    w.add_argument("--workers", default=None, help="pool size / LocalCluster workers")
    w.add_argument("--scheduler", default=None, help="Dask scheduler address (default: a LocalCluster)")
    w.add_argument("--timeout", default="5", help="seconds to wait for the scheduler (default 5)")
    w.add_argument("--out", default="sweep", help="sweep folder (default ./sweep); re-runs skip finished points")
    w.add_argument("--list", action="store_true", help="list targets and their parameters")
    w.add_argument("--json", action="store_true", help="print the summary and records as JSON")
    w.set_defaults(func=cmd_sweep)

    h = sub.add_parser("bench", help="benchmark our paths against the obvious alternatives")
    h.add_argument("--quick", action="store_true")
    h.add_argument("--json", action="store_true")
    h.add_argument("--out", default=None, metavar="FILE", help="also write the JSON to FILE")
    h.set_defaults(func=cmd_bench)
    return p


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No overflow/invalid RuntimeWarnings on the screen (divergence is detected on purpose)."""
    import numpy as np

    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore",
                                                 divide="ignore", under="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _error(message: str) -> int:
    text = " ".join(str(message).split()) or "unknown error"
    print(f"{PROG}: error: {text}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 1 a case failed, 2 bad input)."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        return _error(str(exc))
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    try:
        from solvers.threads import set_threads, tune_allocator

        set_threads(_positive_int("threads", args.threads) if args.threads is not None else None)
        tune_allocator()  # keep FFT-sized buffers in the heap (glibc): 1.6-1.9x on a 256^2 sweep
        with _quiet():
            code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below, not at exit
        return code
    except (ParameterError, ValueError) as exc:
        return _error(str(exc))
    except KeyError as exc:
        return _error(str(exc.args[0]) if exc.args else "unknown key")
    except BrokenPipeError:  # the reader went away (`workbench validate --list | head`): stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        return 141  # as a process killed by SIGPIPE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _error(f"{where}{exc.strerror or exc}")
    except ModuleNotFoundError as exc:
        return _error(f"not available in this installation: {exc}")
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
