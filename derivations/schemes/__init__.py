"""The optimizer registry: each scheme a record of coefficients (analysed, stepped and bounded from one record)."""
