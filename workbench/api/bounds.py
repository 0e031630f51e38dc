"""``wb.bounds``: the α bounds of the one-layer CNN as a small result object.

The default methods are the fast ones (the paper's Fourier bounds and the exact windowed
bounds: milliseconds once loaded); ``methods=`` names others, ``"simulated"`` adds the
bisection on time stepping (seconds to minutes), with an elapsed-time line on a terminal.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

__all__ = ["Bounds", "bounds", "fast_methods"]


def fast_methods(scheme: Any) -> tuple[str, ...]:
    """The default methods of ``scheme`` without ``simulated``: ``theory``, ``exact`` and, where
    the source states its own region, ``theory_exact``."""
    from workbench.derivations.schemes import derived as registry

    opt = scheme.optimizer if hasattr(scheme, "optimizer") else registry.get(scheme)
    return ("theory", "theory_exact", "exact") if opt.paper_region is not None else ("theory", "exact")


class Bounds(dict):
    """One kernel's result of :func:`bounds`: the JSON dict of ``workbench bounds --json``
    (``res["exact"]["alpha_upper"]`` and ``json.dumps(res)`` work as on a dict), with a
    one-line ``repr`` and an HTML table for notebooks."""

    def _methods(self) -> list[str]:
        from workbench.solvers.cnn.bounds import METHODS

        return [m for m in METHODS if isinstance(self.get(m), dict)]

    def __repr__(self) -> str:
        parts = []
        for m in self._methods():
            r = self[m]
            interval = f"[{r['alpha_lower']:.4g}, {r['alpha_upper']:.4g}]"
            parts.append(f"{m} {interval}{' empty' if r.get('empty') else ''}")
        return (f"Bounds({self.get('scheme')}, w={self.get('kernel')}, η={self.get('lr'):.4g}: "
                f"α in {'; '.join(parts) or 'no methods'})")

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(m)}</td><td>{self[m]['alpha_lower']:.6g}</td><td>{self[m]['alpha_upper']:.6g}</td>"
            f"<td>{'empty' if self[m].get('empty') else ''}</td></tr>" for m in self._methods())
        head = escape(f"{self.get('scheme')}, kernel {self.get('kernel')}, η = {self.get('lr'):.6g}, "
                      f"a = {self.get('a')}, Swish β = {self.get('beta')}, {self.get('mode')}")
        return (f"<table><caption>{head}</caption><thead><tr><th>method</th><th>α lower</th><th>α upper</th>"
                f"<th>interval</th></tr></thead><tbody>{rows}</tbody></table>")


class _Elapsed:
    """An elapsed-time line on stderr while a slow call runs (only on a terminal)."""

    def __init__(self, desc: str, enabled: bool):
        self.desc, self.enabled = desc, enabled

    def __enter__(self) -> "_Elapsed":
        if self.enabled:
            import threading

            from tqdm import tqdm

            self.bar = tqdm(total=None, desc=self.desc, bar_format="{desc}: {elapsed}", leave=False)
            self.stop = threading.Event()
            self.thread = threading.Thread(target=self._tick, daemon=True)
            self.thread.start()
        return self

    def _tick(self) -> None:
        while not self.stop.wait(0.5):
            self.bar.refresh()

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.stop.set()
            self.thread.join()
            self.bar.close()


def bounds(image: Any, kernel: int | Sequence[int], dt: float | None = None, *,
           progress: bool | None = None, **kw: Any) -> Bounds | list[Bounds]:
    """Bounds on the weight decay α; see :func:`workbench.bounds` (the public entry point)."""
    from workbench.api.images import load_image
    from workbench.solvers.cnn.bounds import compute_bounds
    from workbench.solvers.core.checks import ParameterError, check_real
    from workbench.solvers.stepping.optimizers import resolve_scheme

    if isinstance(image, (str, Path)):
        image = load_image(image, dtype=kw.get("dtype", "float64"))
    check_real("image", image)  # never drop an imaginary part silently
    if isinstance(kernel, (list, tuple)) and not kernel:
        raise ParameterError("kernel: empty list of kernel sizes")
    if isinstance(kw.get("methods"), str):
        kw["methods"] = (kw["methods"],)
    if kw.get("methods") is None:
        res = resolve_scheme(kw.get("scheme", "gd"), dt, kw.get("lr"), kw.get("params"), kw.get("momentum"),
                             kw.get("damping"))
        kw["methods"] = fast_methods(res)
    slow = "simulated" in kw["methods"]
    show = (sys.stderr.isatty() if progress is None else bool(progress)) and slow
    kernels = list(kernel) if isinstance(kernel, (list, tuple)) else [kernel]
    out = []
    for w in kernels:
        with _Elapsed(f"bounds, kernel {w}, simulated", show):
            out.append(Bounds(compute_bounds(image, w, dt, **kw)))
    return out if isinstance(kernel, (list, tuple)) else out[0]
