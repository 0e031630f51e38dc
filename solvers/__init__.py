"""Numeric layer of the stability workbench (array API; NumPy, CuPy, array-api-strict)."""

__stability_workbench__ = True  # marker read by derivations/_shadow.py (name-clash check)


def _check_shadowing() -> None:
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("_stability_workbench_shadow", root / "derivations" / "_shadow.py")
    if spec is None or spec.loader is None:  # pragma: no cover - our own file is missing
        return
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.check(__name__, root)


_check_shadowing()
