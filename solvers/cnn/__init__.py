"""The one-layer CNN of the first paper: correlation, images, its Hessian and Gram spectrum, bounds, onset, perturbation."""
