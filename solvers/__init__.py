"""Numeric layer of the stability workbench (array API; NumPy, CuPy, array-api-strict)."""

__stability_workbench__ = True  # marker read by derivations/_shadow.py (name-clash check)


def _check_shadowing() -> None:
    # our own derivations/_shadow.py by path: a foreign `derivations` on sys.path must not answer for it
    import runpy
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    runpy.run_path(str(root / "derivations" / "_shadow.py"))["check"](__name__, root)


_check_shadowing()
