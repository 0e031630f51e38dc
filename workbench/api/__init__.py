"""The Python API: ``workbench.bounds`` and friends live in ``workbench/__init__.py``; models, training, plots and images here."""
