"""The optimizer registry: each scheme a record of coefficients (analysed, stepped and bounded from one record).

:mod:`.registry` holds the record type and the look-ups, :mod:`.entries` registers the
schemes (importing either loads both; entries imports the registry, and the registry
imports entries on its last line).  :mod:`.derived` serves the derived closed forms as
data without SymPy (the fast path of the command line); :mod:`.cache` derives them.
Importing this package imports nothing, so that :mod:`.derived` stays SymPy-free.
"""
