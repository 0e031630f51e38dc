"""Validation cases; importing this package registers them (see :mod:`validation.registry`)."""
from . import (  # noqa: F401
    cnn_bounds, diffusion, diffusion_cnn_region, diffusion_training, linearization, linearized_regimes, multilayer,
    nesterov_table5, principal_flow, principal_flow_networks, restrained, scheme_atlas, unstable_convergence,
    unstable_convergence_sgd,
)
from . import derivation_checks  # noqa: F401,E402  (the papers' exact identities, last in the report)
