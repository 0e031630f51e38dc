"""``workbench schemes`` and ``workbench region``: the optimizer registry on the command line.

``schemes [--json]`` lists the registered optimizers (name, hyperparameters with
defaults and ranges, citation); ``--json`` prints
``{"schemes": [{"name", "title", "aliases", "params", "citation", "update"}, …]}``.

``region SCHEME [--param NAME=VALUE …] [--json] [--latex] [--plot FILE]`` gives the
exact stable interval in h = η·λ at the given hyperparameters, printed in the same
Unicode notation as ``derive`` (``--latex`` for LaTeX); ``--json`` prints
``{"scheme", "params", "h_lower", "h_upper", "polynomial", "closed_form", "method", …}``
(``polynomial`` and ``region_symbolic`` in SymPy syntax, ``polynomial_text`` and
``region_text`` in Unicode).
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Sequence

from workbench.solvers.core.checks import ParameterError, parse_number

__all__ = ["add_parsers", "cmd_schemes", "cmd_region", "scheme_table", "region_result", "parse_params"]


def parse_params(items: Sequence[str] | None) -> dict[str, float]:
    """``["mu=0.5", "nu=0.7"]`` -> ``{"mu": 0.5, "nu": 0.7}``; names are identifiers, values finite numbers."""
    out: dict[str, float] = {}
    for item in items or ():
        name, sep, value = str(item).partition("=")
        name = name.strip()
        if not sep or not name.isascii() or not name.isidentifier():
            raise ParameterError(f"param: expected NAME=VALUE, got {item!r}")
        if name in out:
            raise ParameterError(f"{name}: given twice")
        out[name] = parse_number(name, value.strip(), lo=-1e12, hi=1e12)
    return out


def scheme_table() -> list[dict[str, Any]]:
    """One dict per registered scheme (the ``schemes --json`` rows)."""
    from workbench.derivations.schemes import derived as reg

    rows = []
    for name in reg.names():
        o = reg.get(name)
        params = {p.name: {"default": p.default, "range": p.range_text(), "lower": p.lower,
                           "upper": p.upper if p.upper != float("inf") else None, "integer": p.integer,
                           "aliases": list(p.aliases), "doc": p.doc} for p in o.hypers}
        rows.append({"name": name, "title": o.title, "aliases": list(o.aliases), "params": params,
                     "citation": o.citation, "update": o.update,
                     "parametrizations": {par.name: [q.name for q in par.params] for par in o.parametrizations}})
    return rows


def region_result(scheme: str, params: dict[str, float]) -> dict[str, Any]:
    """The exact region of ``scheme`` at ``params`` (the ``region --json`` object).

    Read from the registry's derived data (:mod:`workbench.derivations.schemes.derived`),
    without SymPy: ``polynomial`` at the values is exact (each value as the fraction of its
    shortest decimal form) where the region has a closed form, else in floats (15 digits;
    6 in ``polynomial_text``).
    """
    from workbench.derivations.schemes import derived as reg
    from workbench.solvers.stepping.optimizers import h_interval, paper_h_upper, resolve

    try:
        opt = reg.get(scheme)
    except ValueError as err:
        raise ParameterError(str(err)) from None
    alt = [q.name for par in opt.parametrizations for q in par.params if q.name in params]
    if alt:
        raise ParameterError(f"{alt[0]}: region takes the hyperparameters of {opt.name} "
                             f"({', '.join(p.name for p in opt.hypers) or 'none'}), not the step or its (dt, d) "
                             "parametrization: the region is in h = eta*lambda")
    res = resolve(scheme, 1.0, params)          # validates names and ranges (lr is irrelevant here)
    r = h_interval(res)
    exact = None if r.closed_form else 15
    out: dict[str, Any] = {"scheme": res.name, "params": dict(res.hyper), "h_lower": r.lower, "h_upper": r.upper,
                           "empty": r.empty, "polynomial": reg.polynomial_text(opt, res.hyper, digits=exact),
                           "polynomial_text": reg.polynomial_text(opt, res.hyper, unicode=True,
                                                                  digits=None if r.closed_form else 6),
                           "polynomial_symbolic": opt.texts["polynomial_symbolic"],
                           "closed_form": r.closed_form, "method": r.method, "citation": opt.citation}
    if opt.closed_region is not None:
        out["region_symbolic"] = opt.texts["region_symbolic"]
        out["region_text"] = opt.texts["region_text"]
    stated = paper_h_upper(res)
    if stated is not None:
        out["h_upper_stated"] = stated
        out["stated_source"] = opt.paper_region_source
    return out


def cmd_schemes(args: argparse.Namespace) -> int:
    rows = scheme_table()
    if args.json:
        print(json.dumps({"schemes": rows}, indent=2, ensure_ascii=False))
        return 0
    for r in rows:
        hyp = ", ".join(f"{k}={v['default']:g} in {v['range']}" for k, v in r["params"].items()) or "-"
        alias = f" (alias {', '.join(r['aliases'])})" if r["aliases"] else ""
        print(f"{r['name']}{alias}: {r['title']}")
        print(f"    update: {r['update']}")
        print(f"    hyperparameters: {hyp}")
        print(f"    source: {r['citation']}")
    return 0


def cmd_region(args: argparse.Namespace) -> int:
    from workbench.derivations.schemes import derived as reg

    params = parse_params(args.param)
    if args.plot:  # every output and option checked before anything is computed
        from workbench.jobs.outputs import check_output_file

        check_output_file("plot", args.plot)
        try:
            opt = reg.get(args.scheme)
        except ValueError as err:
            raise ParameterError(str(err)) from None
        names = [p.name for p in opt.hypers if not p.integer]
        if args.over is not None and args.over not in names:
            raise ParameterError(f"over: {opt.name} has no continuous hyperparameter {args.over!r} to plot against; "
                                 + (f"choose from {', '.join(names)}" if names else "it has none"))
    out = region_result(args.scheme, params)
    if args.plot:
        from workbench.validation.files import atomic_write_bytes
        from workbench.validation.region_figure import region_figure

        fig = region_figure(out["scheme"], out["params"], over=args.over)
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format=args.plot.rsplit(".", 1)[-1] if "." in args.plot else "png")
        atomic_write_bytes(args.plot, buf.getvalue())
        out["plot"] = args.plot
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False, allow_nan=False, default=str))
        return 0
    if args.latex:
        from workbench.derivations.schemes import registry  # SymPy's LaTeX printer

        print(registry.describe(registry.get(out["scheme"]), latex=True))
        return 0
    opt = reg.get(out["scheme"])
    hyp = ", ".join(f"{opt.hyper(k).unicode}={v:g}" for k, v in out["params"].items()) or "no hyperparameters"
    print(f"{out['scheme']} ({hyp})")
    print(f"  p(ξ) = {out['polynomial_text']}   (h = ηλ)")
    if out["empty"]:
        print("  region: empty (no h > 0 is stable)")
    else:
        print(f"  stable for {out['h_lower']:.12g} < h < {out['h_upper']:.12g}   ({out['method']})")
    if "region_text" in out:
        print(f"  closed form: {out['region_text']}")
    if "h_upper_stated" in out:
        print(f"  the source states h < {out['h_upper_stated']:.12g} ({out['stated_source']})")
    if args.plot:
        print(f"  figure: {args.plot}")
    return 0


def add_parsers(sub: Any) -> None:
    """Add ``schemes`` and ``region`` to the ``workbench`` subparsers."""
    from workbench.cli.formatting import HelpFormatter

    s = sub.add_parser("schemes", help="list the registered optimizers (name, hyperparameters, citation)",
                       description="List the optimizers of the registry: each one's update rule, its "
                                   "hyperparameters with defaults and ranges, and its source.",
                       epilog="example: workbench schemes --json", formatter_class=HelpFormatter)
    s.add_argument("--json", action="store_true", help="print {\"schemes\": [...]} as JSON")
    s.set_defaults(func=cmd_schemes, numeric=False)   # reads data only: NumPy stays unimported

    r = sub.add_parser("region", help="exact stability region of a scheme in h = ηλ",
                       description="The exact stable interval in h = ηλ (learning rate times a Hessian "
                                   "eigenvalue) of a registered scheme at given hyperparameters: its "
                                   "characteristic polynomial p(ξ), the interval, and the closed form where "
                                   "SymPy reduces the Schur-Cohn conditions.",
                       epilog="examples:\n  workbench region heavy-ball --param mu=0.5\n"
                              "  workbench region qhm --latex\n  workbench region heavy-ball --param mu=0.5 --json",
                       formatter_class=HelpFormatter)
    r.add_argument("scheme", help="a registered scheme (see `workbench schemes`)")
    r.add_argument("--param", action="append", metavar="NAME=VALUE", help="a hyperparameter (repeat; default: the scheme's defaults, see `workbench schemes`)")
    r.add_argument("--json", action="store_true", help="print the region as JSON")
    r.add_argument("--latex", action="store_true", help="print the record, polynomial and region as LaTeX")
    r.add_argument("--plot", default=None, metavar="FILE", help="draw the region over a hyperparameter range with "
                   "root-sampling points overlaid (PNG/PDF/SVG by extension)")
    r.add_argument("--over", default=None, metavar="NAME", help="the hyperparameter on the plot's x axis (default: the scheme's main one)")
    r.set_defaults(func=cmd_region)
