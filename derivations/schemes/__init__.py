"""The optimizer registry: each scheme a record of coefficients (analysed, stepped and bounded from one record).

:mod:`.registry` holds the record type and the look-ups; :mod:`.entries` registers the schemes.
Importing the package (or either module) loads both, with no import circle: entries
imports the registry, never the other way.
"""
from workbench.derivations.schemes import entries as entries  # noqa: F401  (registers the schemes)
