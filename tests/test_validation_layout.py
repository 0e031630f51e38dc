"""Layout of the validation layer: one case per module, named for it; no case module imports another."""
import ast
from pathlib import Path

import pytest

import workbench.validation.cases as cases_pkg
import workbench.validation.registry as reg
from workbench.validation.result import RESULT_KEYS, CaseResult

CASES_DIR = Path(cases_pkg.__file__).parent
MODULES = sorted(p.stem for p in CASES_DIR.glob("*.py") if p.stem != "__init__")


def _registered_by_module() -> dict[str, list[str]]:
    reg.list_cases()  # imports the package
    by_mod: dict[str, list[str]] = {}
    for cid in reg.list_cases():
        by_mod.setdefault(reg.get_case(cid).func.__module__, []).append(cid)
    return by_mod


def test_discovery_imports_every_module_in_name_order():
    assert list(cases_pkg.MODULES) == MODULES
    assert len(MODULES) == len(reg.list_cases())
    order = [reg.get_case(c).func.__module__.rsplit(".", 1)[-1] for c in reg.list_cases()]
    assert order == MODULES


@pytest.mark.parametrize("mod", MODULES)
def test_each_case_module_registers_exactly_one_case_named_for_it(mod):
    ids = _registered_by_module().get(f"workbench.validation.cases.{mod}", [])
    assert len(ids) == 1, f"validation/cases/{mod}.py registers {ids}"
    assert ids[0].replace("-", "_") == mod


def test_cases_are_registered_only_by_case_modules():
    outside = {m: ids for m, ids in _registered_by_module().items() if m.rsplit(".", 1)[0] != "workbench.validation.cases"}
    assert outside == {}


def _imported_case_modules(path: Path) -> set[str]:
    """Case modules that ``path`` imports, from every absolute or relative import form."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[:3] == ["workbench", "validation", "cases"] and len(parts) > 3:
                    found.add(parts[3])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                pkg = (node.module or "").split(".")
                base = pkg[:3] == ["workbench", "validation", "cases"]
                rest = pkg[3:]
            elif node.level == 1:  # inside validation/cases: "from . import x", "from .x import y"
                base, rest = True, (node.module or "").split(".") if node.module else []
            else:  # level 2 from validation/cases: "from ..cases.x import y", "from ..cases import x"
                pkg = (node.module or "").split(".")
                base, rest = pkg[:1] == ["cases"] and node.level == 2, pkg[1:]
            if not base:
                continue
            if rest and rest[0]:
                found.add(rest[0])
            else:
                found.update(a.name for a in node.names)
    return found & set(MODULES)


@pytest.mark.parametrize("mod", MODULES)
def test_no_case_module_imports_another(mod):
    assert _imported_case_modules(CASES_DIR / f"{mod}.py") - {mod} == set()


def test_import_scan_sees_every_form(tmp_path):
    # the scan above must not pass vacuously: each import form of a sibling case is caught
    f = tmp_path / "x.py"
    other = MODULES[0]
    for src in (f"from . import {other}", f"from .{other} import case", f"import workbench.validation.cases.{other}",
                f"from workbench.validation.cases import {other}", f"from workbench.validation.cases.{other} import x",
                f"from ..cases.{other} import x"):
        f.write_text(src + "\n")
        assert _imported_case_modules(f) == {other}, src
    f.write_text("from ..shared.diffusion import CRITERION\nfrom ..registry import case\n")
    assert _imported_case_modules(f) == set()


def test_case_result_round_trip(tmp_path):
    r = reg.run_case("uc-example4-smoothness", tmp_path, quick=True)
    assert isinstance(r, CaseResult)
    d = r.to_dict()
    assert tuple(d) == RESULT_KEYS
    assert d["id"] == "uc-example4-smoothness" and d["quick"] is True and d["passed"] is True
    assert CaseResult.from_dict(d) == r
    with pytest.raises(ValueError, match="missing keys"):
        CaseResult.from_dict({k: v for k, v in d.items() if k != "verdict"})
    with pytest.raises(ValueError, match="verdict"):
        CaseResult.from_dict({**d, "verdict": "error"})
    with pytest.raises(ValueError, match="unknown keys"):
        CaseResult.from_dict({**d, "extra": 1})
