"""Validation cases, one module per case, named for it; importing this package registers them all.

Every module of this package is imported (sorted by module name), so adding a case is
adding a file: ``validation/cases/<case_id with _>.py`` holding one function decorated
with :func:`workbench.validation.registry.case`.  Code several cases share lives in
:mod:`workbench.validation.shared`, never in a case module (no case imports another;
``tests/test_validation_layout.py`` checks both rules).
"""
import importlib
import pkgutil

#: the case modules, in the order their cases are registered (and reported)
MODULES = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.ispkg))

for _name in MODULES:
    importlib.import_module(f"{__name__}.{_name}")
