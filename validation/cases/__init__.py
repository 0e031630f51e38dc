"""Validation cases; importing this package registers them (see :mod:`validation.registry`)."""
from . import cnn_bounds, linearization, linearized_regimes, multilayer, nesterov_table5, restrained  # noqa: F401
