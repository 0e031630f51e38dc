"""Generic linear algebra: Lanczos extremes and Hessian spectra of an objective."""
