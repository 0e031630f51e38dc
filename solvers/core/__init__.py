"""Core of the numeric layer: array back ends, threads, input checks, lambdified SymPy, objectives."""
