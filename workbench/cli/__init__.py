"""The command line ``workbench`` (``python -m workbench``)."""
