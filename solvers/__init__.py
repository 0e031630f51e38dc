"""Numeric layer of the stability workbench (array API; NumPy, CuPy, array-api-strict).

By concern, one layer on the next (import-linter checks the order, setup.cfg):

``core``      back ends, threads, input checks, lambdify, objectives
``linalg``    Lanczos and Hessian spectra of any objective
``nets``      layers, networks and their data sets
``stepping``  the optimizer records resolved to numbers, the one stepper, divergence, bisection
``cnn``       the one-layer CNN of the first paper: correlation, images, bounds, onset, perturbation
``dynamics``  the papers' dynamics: diffusion, flows, DAL, convergence diagnostics
"""
