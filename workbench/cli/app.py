"""The ``workbench`` command line: ``derive``, ``bounds``, ``validate``, ``sweep``, ``bench``.

Every bad input (a parameter out of its domain, a missing file, an unknown backend,
a usage error) ends the program with one line ``workbench: error: <message>`` on
stderr and exit status 2, never a traceback. ``validate`` exits 1 when a case fails
its own check. NumPy overflow warnings of diverging runs are silenced: the solvers
detect divergence on purpose.

The computational parts are imported lazily inside the commands:
``workbench.derivations.registry``, ``workbench.solvers.cnn.bounds.compute_bounds``,
``workbench.validation.registry`` and ``workbench.benchmarks.suite.run_bench``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from workbench.cli.formatting import DESCRIPTION, EPILOGS, HelpFormatter
from workbench.solvers.core.checks import ParameterError, parse_number

from workbench.cli.schemes import parse_params  # noqa: F401  (re-exported: the bounds options use it)

__all__ = ["main", "build_parser", "run_validation", "BACKENDS", "METHODS"]


def __getattr__(name: str) -> Any:
    """``run_validation`` is re-exported (it used to live here), imported on first use."""
    if name == "run_validation":
        from workbench.jobs.validate import run_validation

        return run_validation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

BACKENDS = ("numpy", "cupy", "array_api_strict")
METHODS = ("theory", "theory_exact", "exact", "simulated")
PROG = "workbench"


class UsageError(Exception):
    """A command-line usage error (raised instead of argparse's print-and-exit)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


# --- small parsers of option values ---------------------------------------------------

#: Range of every numeric flag: name -> keyword arguments of :func:`workbench.solvers.core.checks.parse_number`.
NUMERIC: dict[str, dict[str, Any]] = {
    "kernel": dict(integer=True, lo=1, hi=8192),
    "dt": dict(lo=1e-12, hi=1e12),
    "lr": dict(lo=1e-12, hi=1e12),
    "a": dict(lo=-1e6, hi=1e6),
    "beta": dict(lo=0, hi=1e6, lo_open=True),
    "rtol": dict(lo=1e-12, hi=1, hi_open=True),
    "steps": dict(integer=True, lo=2, hi=10**9),
    "momentum": dict(lo=0, hi=1, hi_open=True),
    "damping": dict(lo=1e-12, hi=1e12),
    "timeout": dict(lo=0, hi=3600, lo_open=True),
}


def number(name: str, text: Any) -> Any:
    """Parse the numeric flag ``name`` with its range from :data:`NUMERIC` (ASCII, finite, in range)."""
    return parse_number(name, text, **NUMERIC[name])


def parse_kernels(values: Sequence[str]) -> list[int]:
    """``["3", "5,7"]`` -> ``[3, 5, 7]``; each size an integer in [1, 8192] written in ASCII digits."""
    out: list[int] = []
    for value in values:
        for item in str(value).split(","):
            out.append(number("kernel", item))
    return out


def parse_methods(text: str) -> tuple[str, ...]:
    """``"theory,exact"`` -> ``("theory", "exact")``; each one of :data:`METHODS`."""
    items = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in items if m not in METHODS]
    if bad or not items:
        raise ParameterError(f"methods: unknown {bad or text!r}; choose from {','.join(METHODS)}")
    return tuple(dict.fromkeys(items))


def _fmt(x: Any, digits: int = 6) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) or type(x).__name__.startswith("float"):
        return f"{float(x):.{digits}g}"
    return str(x)


def _print_table(columns: list[str], rows: list[list[Any]], notes: Sequence[Sequence[str]] = ()) -> None:
    """Print an aligned table; ``notes[i]`` are printed under row ``i``, one ``note:`` line each."""
    cells = [[_fmt(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for i, r in enumerate(cells):
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
        for n in (notes[i] if i < len(notes) else ()):
            print(f"  note: {n}")


def _dumps(obj: Any) -> str:
    from workbench.report.render import to_jsonable

    return json.dumps(to_jsonable(obj), indent=2, allow_nan=False)


# --- derive --------------------------------------------------------------------------------

def cmd_derive(args: argparse.Namespace) -> int:
    import workbench.derivations.registry as registry

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
    """Validated keyword arguments of ``compute_bounds`` from the parsed options (scheme resolved first)."""
    from workbench.solvers.stepping.optimizers import resolve_scheme

    kw: dict[str, Any] = {
        "a": number("a", args.a),
        "beta": number("beta", args.beta),
        "mode": args.mode,
        "backend": args.backend,
        "rtol": number("rtol", args.rtol),
        "methods": parse_methods(args.methods) if args.methods else None,
        "dtype": args.dtype,
    }
    dt = None if args.dt is None else number("dt", args.dt)
    lr = None if args.lr is None else number("lr", args.lr)
    momentum = None if args.momentum is None else number("momentum", args.momentum)
    damping = None if args.damping is None else number("damping", args.damping)
    if momentum is not None and damping is not None:
        raise ParameterError("momentum: give either --momentum or --damping, not both")
    if dt is None and lr is None:
        raise ParameterError("dt: give the step as --dt (the paper's time step) or --lr (the learning rate)")
    # fail before loading anything: the scheme and its numbers
    try:
        kw["scheme"] = resolve_scheme(args.scheme, dt, lr, parse_params(args.param), momentum, damping)
    except ParameterError as exc:  # name the flag the user typed, not only the paper's symbol
        sym, sep, rest = str(exc).partition(":")
        flag = {"d": "damping", "mu": "momentum"}.get(sym)
        if sep and flag and getattr(args, flag) is not None:
            raise ParameterError(f"{flag}: {rest.strip()}") from None
        raise
    if args.steps is not None:
        kw["steps"] = number("steps", args.steps)
    return kw


def cmd_bounds(args: argparse.Namespace) -> int:
    from workbench.solvers.core.checks import check_kernel_size

    from workbench.api.images import load_image

    kw = bounds_kwargs(args)
    res = kw["scheme"]
    defaulted = kw["methods"] is None
    if defaulted:
        from workbench.api.bounds import fast_methods

        kw["methods"] = fast_methods(res)
    kernels = parse_kernels(args.kernel)
    image = load_image(args.image, dtype=args.dtype)
    for w in kernels:  # a kernel that does not fit the image is named as such, before any memory estimate
        check_kernel_size(w, image.shape, args.mode)
    if "simulated" in kw["methods"] or "steps" in kw:  # a --steps that would not fit is refused either way
        from workbench.solvers.core.checks import check_memory, run_memory

        steps, w = kw.get("steps", 1000), max(kernels)
        driver = "kernel" if 8 * w * w > 2 * (steps + 1) else "steps"   # the larger term of run_memory
        check_memory(driver, run_memory(steps, 16, w, 4 if args.dtype == "float32" else 8))
    from workbench.api.bounds import _Elapsed
    from workbench.solvers.cnn.bounds import compute_bounds

    show = "simulated" in kw["methods"] and sys.stderr.isatty()
    results = []
    for w in kernels:
        with _Elapsed(f"bounds, kernel {w}, simulated", show):
            results.append(compute_bounds(image, w, **kw))
    if args.json:
        print(_dumps({"results": results}))
        return 0
    hyper = ", ".join(f"{k}={v:g}" for k, v in {**res.hyper, **res.given}.items())
    print(f"image {args.image} {image.shape[0]}x{image.shape[1]}, scheme {res.name} (lr={res.lr:.6g}"
          f"{', ' + hyper if hyper else ''}), linearization a={kw['a']:g}, Swish β={kw['beta']:g}, "
          f"mode={args.mode}, backend={args.backend}, dtype={args.dtype}")
    rows, notes = [], []
    for w, out in zip(kernels, results):
        for m in kw["methods"]:
            r = out.get(m) or {}
            mine = [str(r["reason"])] if r.get("empty") and r.get("reason") else []
            listed = r.get("notes") or ([r["note"]] if r.get("note") else [])
            mine += [str(n) for n in listed if str(n) not in mine]
            empty = bool(r.get("empty"))
            if empty:
                mine = mine or ["no stable alpha"]
            rows.append([out.get("kernel", w), m, r.get("alpha_lower"), r.get("alpha_upper"),
                         "empty (lower > upper)" if empty else "stable"])
            notes.append(mine)  # every note the JSON has, under its row
    _print_table(["kernel", "method", "alpha_lower", "alpha_upper", "interval"], rows, notes)
    if defaulted:
        print("(theory and exact only; add --methods theory,exact,simulated for the bisection on time stepping)")
    return 0


# --- validate ------------------------------------------------------------------------------

def cmd_validate(args: argparse.Namespace) -> int:
    if args.list:
        import workbench.validation.registry as registry

        for cid in registry.list_cases():
            print(f"{cid:<28} {registry.get_case(cid).claim}".rstrip())
        return 0
    from workbench.jobs.validate import ValidationInterrupted, default_workers, run_validation

    if args.resume and args.fresh:
        raise ParameterError("fresh: give either --resume or --fresh, not both")
    tty = sys.stdout.isatty()
    echo = print if tty else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        run = run_validation(args.cases, args.out, quick=args.quick, echo=echo,
                             mode="fresh" if args.fresh else "resume", progress=tty,
                             workers=default_workers() if args.workers is None else args.workers)
    except ValidationInterrupted as stop:
        r = stop.run
        return _error(f"interrupted after {len(r.cases)} of {r.planned} cases; report of the finished cases in "
                      f"{r.out}; re-run the same command to resume") and 130
    from workbench.report.render import tally

    print(f"report: {run.files['md']}  {run.files['html']}  {run.files['json']}")
    failed = run.failed
    print(f"verdicts: {tally(run.cases)}")
    print(f"{len(run.cases) - len(failed)}/{len(run.cases)} passed their self-check"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


# --- report --------------------------------------------------------------------------------

def cmd_report(args: argparse.Namespace) -> int:
    from workbench.report.render import rerender

    files = rerender(args.dir)
    print(f"report: {files['md']}  {files['html']}  (from {files['json']})")
    return 0


# --- bench ---------------------------------------------------------------------------------

BENCH_COLUMNS = ["name", "ours", "baseline", "ours_s", "baseline_s", "ratio", "note"]


def cmd_bench(args: argparse.Namespace) -> int:
    from workbench.solvers.core.threads import fft_workers

    if args.out is not None:  # checked before the benchmark runs, not after
        from workbench.jobs.outputs import check_output_file

        check_output_file("out", args.out)
    from workbench import _bench_module
    from workbench.benchmarks.timing import format_report

    mod = _bench_module()
    from workbench.api.bounds import _Elapsed

    with _Elapsed("bench" + (" --quick" if args.quick else ""), sys.stderr.isatty()):  # quiet when not a terminal
        rows = [dict(r) for r in mod.run_bench(quick=args.quick)]
    floor = getattr(mod, "LAST_FLOOR", None)
    doc = {"meta": {"generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "quick": bool(args.quick), "python": platform.python_version(),
                    "platform": platform.platform(), "threads": fft_workers(),
                    "floor": None if floor is None else vars(floor),
                    "part_s": dict(getattr(mod, "LAST_PARTS", {}))},
           "rows": rows}
    if args.out:
        from workbench.validation.files import atomic_write_text

        atomic_write_text(args.out, _dumps(doc) + "\n")
    if args.json:
        print(_dumps(doc))
    else:
        print(format_report(rows, floor))
    return 0


# --- sweep -------------------------------------------------------------------------------

def cmd_sweep(args: argparse.Namespace) -> int:
    from workbench.jobs.sweep import TARGETS, parse_grid, run_sweep

    if args.list:
        for name, t in TARGETS.items():
            params = ", ".join(f"{k}={d}" if d is not None else k for k, (_, d) in t.params.items())
            print(f"{name}: {t.doc} [{params}]")
        return 0
    if not args.target:
        raise ParameterError(f"target: name required; available: {', '.join(TARGETS)}")
    from workbench.jobs.sweep import SweepInterrupted, check_workers

    workers = check_workers(args.workers) if args.workers is not None else None
    try:
        res = run_sweep(args.target, parse_grid(args.grid or []), args.out if args.out is not None else f"sweep-{args.target}", executor=args.executor,
                        workers=workers, scheduler=args.scheduler, timeout=number("timeout", args.timeout),
                        point_timeout=None if args.point_timeout is None else
                        parse_number("point-timeout", args.point_timeout, lo=0, hi=1e7, lo_open=True),
                        progress=None if not args.json else False, echo=None if args.json else print)
    except SweepInterrupted as stop:
        sm = stop.result.summary
        return _error(f"interrupted: {sm['done'] + sm['skipped']} of {sm['points']} points done, "
                      f"{sm['pending']} pending; results so far in {stop.result.paths['results']}; "
                      "re-run the same command to resume") and 130
    sm = res.summary
    if args.json:
        print(_dumps({"summary": sm, "records": res.records}))
    else:
        print(f"sweep {sm['target']}: {sm['points']} points, {sm['done']} done, {sm['failed']} failed, "
              f"{sm['skipped']} skipped, {sm['wall_s']:.2f} s ({sm['executor']}); results: {res.paths['results']}")
    return 1 if sm["failed"] else 0


# --- parser and main ---------------------------------------------------------------------

def _sub(sub: Any, name: str, help: str, description: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=description, epilog=EPILOGS[name],
                          formatter_class=HelpFormatter)


def _version() -> str:
    from workbench import __version__

    return f"{PROG} {__version__}"


class _VersionAction(argparse.Action):
    """``--version``: the version is looked up only when asked (importlib.metadata costs 0.1 s of start-up)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: Any = argparse.SUPPRESS, help: str | None = None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option_string: Any = None) -> None:
        print(_version())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``workbench`` (usage errors raise :class:`UsageError`)."""
    p = _Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOGS[None], formatter_class=HelpFormatter)
    p.add_argument("--version", action=_VersionAction, help="show program's version number and exit")
    p.add_argument("--threads", default=None, metavar="N",
                   help="BLAS and FFT threads (default: the cores this process may use; sweep and validation "
                        "workers always use 1 each)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    d = _sub(sub, "derive", "print a symbolic derivation (Unicode text, LaTeX or JSON)",
             "Print a named derivation of the papers step by step, each step with its paper equation.")
    d.add_argument("name", nargs="?", help="derivation name (see --list)")
    d.add_argument("--list", action="store_true", help="list available derivations")
    g = d.add_mutually_exclusive_group()
    g.add_argument("--latex", action="store_true", help="print LaTeX, one tagged equation per paper equation")
    g.add_argument("--json", action="store_true", help="print JSON (text, SymPy string and LaTeX per step)")
    d.set_defaults(func=cmd_derive)

    b = _sub(sub, "bounds", "bounds on the weight decay α for an image and kernel sizes",
             "Stable interval of the weight decay α for the linearized one-layer CNN (first paper): "
             "the Fourier bounds (theory), the exact windowed bounds and the simulated ones.")
    b.add_argument("--image", required=True, help="checkerboard:N, smooth:N[:seed], noise:N[:seed], PATH.npy, PATH.png")
    b.add_argument("--kernel", required=True, action="append", metavar="W", help="kernel size (repeat or comma-separate)")
    b.add_argument("--dt", default=None, help="time step Delta_t > 0 of the paper's parametrization (gd: the "
                   "learning rate; nesterov/central-difference: with --damping or --momentum)")
    b.add_argument("--lr", default=None, help="learning rate eta > 0 (any scheme; for gd the same as --dt)")
    b.add_argument("--a", default="-0.5", help="linearization coefficient a")
    b.add_argument("--beta", default="1.0", help="the Swish activation's β (not a scheme's β: give that as "
                   "--param beta=VALUE)")
    b.add_argument("--mode", choices=("valid", "periodic"), default="valid",
                   help="valid: CNN correlation without padding; periodic: circular (Fourier bounds exact)")
    b.add_argument("--backend", choices=BACKENDS, default="numpy", help="array library")
    b.add_argument("--rtol", default="1e-3", help="bisection tolerance of the simulated bound")
    b.add_argument("--steps", default=None, help="time steps of the simulated bound (default 1000)")
    b.add_argument("--methods", default=None,
                   help="comma list of theory,theory_exact,exact,simulated (default: theory,exact, and "
                        "theory_exact where the source states its own region, e.g. nesterov; these take "
                        "milliseconds once loaded; add simulated for the bisection on time stepping, seconds "
                        "to minutes)")
    b.add_argument("--scheme", default="gd",
                   help="a registered optimizer (`workbench schemes`; default gd = forward Euler (21), alias euler)")
    b.add_argument("--param", action="append", metavar="NAME=VALUE", help="a hyperparameter of the scheme (repeat)")
    b.add_argument("--momentum", default=None, help="momentum coefficient in [0, 1) (mu; qhm: beta)")
    b.add_argument("--damping", default=None, help="damping d > 0 of the momentum PDE instead of --momentum")
    b.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="floating-point type")
    b.add_argument("--json", action="store_true", help="print JSON instead of the table")
    b.set_defaults(func=cmd_bounds)

    v = _sub(sub, "validate", "run validation cases and write a report",
             "Check the papers' claims against simulation: each case states the claim, the prediction, "
             "the measurement, the tolerance and a verdict (confirmed, refined, refuted).")
    v.add_argument("cases", nargs="*", metavar="CASE", help="case ids (default: all; see --list)")
    v.add_argument("--out", default="report", help="report folder")
    v.add_argument("--list", action="store_true", help="list the cases and their claims")
    v.add_argument("--quick", action="store_true", help="reduced versions of the cases (minutes instead of tens of minutes)")
    v.add_argument("--resume", action="store_true",
                   help="keep the cases already finished in --out (the default; see --fresh)")
    v.add_argument("--fresh", action="store_true", help="recompute every case, ignoring finished ones in --out")
    v.add_argument("--workers", default=None, metavar="N",
                   help="cases run at once, each in a process with one thread, longest first "
                        "(default: the cores; 1 runs them here one after the other)")
    v.set_defaults(func=cmd_validate)

    w = _sub(sub, "sweep", "map a target over a parameter grid (resumable; local, processes or dask)",
             "Evaluate a target at every point of a parameter grid; results go to a folder, one record per point.")
    w.add_argument("target", nargs="?", help="bounds, perturb or spin (see --list)")
    w.add_argument("--grid", action="append", metavar="NAME=V1,V2,...", help="a grid axis (repeat)")
    w.add_argument("--executor", choices=("local", "processes", "dask"), default="local",
                   help="where points run: this process, a process pool, or a Dask cluster")
    w.add_argument("--workers", default=None, help="pool size / LocalCluster workers (default: the cores available)")
    w.add_argument("--scheduler", default=None, help="Dask scheduler address (default: a LocalCluster)")
    w.add_argument("--timeout", default="5", help="seconds to wait for the scheduler")
    w.add_argument("--point-timeout", default=None, metavar="S",
                   help="seconds one point may run before it is recorded failed (default: derived from the work)")
    w.add_argument("--out", default=None, help="sweep folder (default ./sweep-TARGET); re-runs skip finished points")
    w.add_argument("--list", action="store_true", help="list targets and their parameters")
    w.add_argument("--json", action="store_true", help="print the summary and records as JSON")
    w.set_defaults(func=cmd_sweep)

    h = _sub(sub, "bench", "benchmark our paths against the obvious alternatives",
             "Time each fast path against the obvious alternative on this machine, in one run.")
    h.add_argument("--quick", action="store_true", help="reduced sizes (a minute or two instead of several)")
    h.add_argument("--json", action="store_true", help="print JSON instead of the table")
    h.add_argument("--out", default=None, metavar="FILE", help="also write the JSON to FILE")
    h.set_defaults(func=cmd_bench)

    r = _sub(sub, "report", "render a report folder again from its results.json",
             "Write report.md and report.html of a validation report folder again from its results.json "
             "alone, without recomputing any case (figures are kept, or redrawn from the numbers where "
             "the case can).")
    r.add_argument("dir", metavar="DIR", help="a report folder written by `workbench validate`")
    r.set_defaults(func=cmd_report)

    from workbench.cli.schemes import add_parsers

    add_parsers(sub)
    return p


@contextlib.contextmanager
def _quiet(numeric: bool = True) -> Iterator[None]:
    """No overflow/invalid RuntimeWarnings on the screen (divergence is detected on purpose).

    ``numeric=False`` (commands that never compute, e.g. ``schemes``) leaves NumPy unimported.
    """
    with warnings.catch_warnings(), contextlib.ExitStack() as stack:
        if numeric:
            import numpy as np

            stack.enter_context(np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"))
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


#: Spelling of the non-ASCII characters the CLI prints, for a terminal that cannot encode them.
_ASCII = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "Δ": "Delta", "ε": "eps", "η": "eta",
          "θ": "theta", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi", "ρ": "rho",
          "σ": "sigma", "τ": "tau", "φ": "phi", "ω": "omega", "∇": "nabla", "∂": "d", "∫": "int", "∑": "sum",
          "≤": "<=", "≥": ">=", "≠": "!=", "≈": "~", "→": "->", "←": "<-", "⇒": "=>", "×": "x", "·": "*",
          "−": "-", "–": "-", "—": "--", "²": "^2", "³": "^3", "√": "sqrt", "∞": "inf", "±": "+-", "⋆": "*",
          "‖": "||", "…": "...", "’": "'", "“": '"', "”": '"', "⁻": "^-", "¹": "^1", "½": "1/2"}


def _ascii_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a readable ASCII spelling of what the stream cannot encode."""
    import unicodedata

    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = ""
    for ch in exc.object[exc.start:exc.end]:
        plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
        word = _ASCII.get(ch) or plain or "?"
        text += (" " if text[-1:].isalpha() and word[:1].isalpha() else "") + word   # ηλ -> "eta lambda"
    after = exc.object[exc.end:exc.end + 1]
    return text + (" " if text[-1:].isalpha() and after.isalpha() else ""), exc.end   # Δt -> "Delta t"


def _ascii_safe_streams() -> None:
    """Where stdout/stderr cannot encode Unicode (``PYTHONIOENCODING=ascii``, a C locale), print
    ASCII spellings (α -> alpha, ≤ -> <=) instead of stopping mid-line with UnicodeEncodeError."""
    import codecs

    try:
        codecs.lookup_error("workbench-ascii")
    except LookupError:
        codecs.register_error("workbench-ascii", _ascii_fallback)
    for stream in (sys.stdout, sys.stderr):
        enc = getattr(stream, "encoding", None) or "ascii"
        try:
            "αβξ≤−".encode(enc)
        except (UnicodeEncodeError, LookupError):
            try:
                stream.reconfigure(errors="workbench-ascii")  # type: ignore[union-attr]
            except (AttributeError, ValueError):
                pass


def _error(message: str) -> int:
    text = " ".join(str(message).split()) or "unknown error"
    print(f"{PROG}: error: {text}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 1 a case failed, 2 bad input)."""
    _ascii_safe_streams()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return _error(str(exc))
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    if getattr(args, "func", None) is None:  # bare `workbench`: what it does and how to call it
        parser.print_help()
        return 0
    try:
        from workbench.solvers.core.threads import parse_threads, set_threads, tune_allocator

        set_threads(parse_threads("threads", args.threads) if args.threads is not None else None)
        tune_allocator()  # keep FFT-sized buffers in the heap (glibc): 1.6-1.9x on a 256^2 sweep
        with _quiet(getattr(args, "numeric", True)):
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
        import errno

        where = f"{exc.filename}: " if exc.filename else ""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # files written before stay whole (atomic writes)
            return _error(f"{where}{exc.strerror or exc}; the work finished before was saved and is kept "
                          "(re-run the same command after freeing space to resume)")
        return _error(f"{where}{exc.strerror or exc}")
    except ModuleNotFoundError as exc:
        return _error(f"not available in this installation: {exc}")
    except MemoryError:  # a last resort: sizes are checked up front (workbench.solvers.core.checks.check_memory)
        return _error("memory: out of memory; lower --steps, the kernel size or the image size")
    except ArithmeticError as exc:  # a last resort: an overflow the range checks did not foresee
        return _error(f"overflow: {exc} (a parameter is too large or too small for float64)")
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
