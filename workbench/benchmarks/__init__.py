"""``workbench bench``: interleaved benchmarks against the alternative a user would pick."""
