"""``python -m workbench``: the ``workbench`` command line (see :mod:`workbench.cli.app`)."""
import sys

from workbench.cli.app import main

if __name__ == "__main__":
    sys.exit(main())
