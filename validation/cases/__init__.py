"""Validation cases; importing this package registers them (see :mod:`validation.registry`)."""
from . import cnn_bounds, linearization, nesterov_table5  # noqa: F401
