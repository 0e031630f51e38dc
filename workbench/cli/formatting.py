"""Help of the ``workbench`` command line: the formatter of every parser, the program's
description and the examples shown under each command's ``--help``."""
from __future__ import annotations

import argparse

__all__ = ["DESCRIPTION", "EPILOGS", "HelpFormatter"]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written; every option's default appended to its help
    (unless the help states it, or there is none: a flag or an unset option)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default in (None, False, argparse.SUPPRESS) or not action.option_strings
                or isinstance(action, (argparse._HelpAction, argparse._VersionAction))):
            return text
        return f"{text} (default: %(default)s)"


DESCRIPTION = """\
Numerical stability of neural-network training dynamics: symbolic derivations,
stability bounds, validation reports and benchmarks for four papers:
  1. Sun, Lao, Sundaramoorthi, Yezzi: Surprising Instabilities in Training Deep
     Networks and a Theoretical Analysis (NeurIPS 2022) -- one-layer CNN, CFL bounds on α
  2. Sun, Lao, Sundaramoorthi, Yezzi: Accelerated PDEs for Construction and
     Theoretical Analysis of an SGD Extension (NeurIPS 2021 DLDE workshop)
     -- diffusion on the velocity, CFL bound β_max
  3. Rosca, Wu, Qin, Dherin: On a continuous time model of gradient descent
     dynamics and instability in deep learning (TMLR 2023) -- principal flow, DAL
  4. Ahn, Zhang, Sra: Understanding the unstable convergence of gradient
     descent (ICML 2022) -- relative progress, edge of stability"""

EPILOGS = {
    None: """examples:
  workbench derive --list                      # the symbolic derivations
  workbench derive momentum --latex            # LaTeX to paste into a paper
  workbench bounds --image checkerboard:64 --kernel 8 --dt 1e-6
  workbench schemes                            # the registered optimizers
  workbench region heavy-ball --param mu=0.5   # exact region in h = eta*lambda
  workbench validate --quick --out report-quick
  workbench <command> --help                   # options of one command""",
    "derive": """examples:
  workbench derive --list
  workbench derive cnn                         # Unicode text, one step per line
  workbench derive momentum --latex > momentum.tex
  workbench derive diffusion --json""",
    "bounds": """examples:
  workbench bounds --image checkerboard:64 --kernel 8,16 --dt 1e-6
  workbench bounds --image checkerboard:64 --kernel 8 --dt 1e-3 --scheme nesterov --momentum 0.9
  workbench bounds --image smooth:32:0 --kernel 5 --dt 1e-3 --mode periodic --methods theory,exact --json
  workbench bounds --image smooth:32 --kernel 4 --scheme heavy-ball --lr 1e-3 --param mu=0.5""",
    "validate": """examples:
  workbench validate --list                    # case ids and the claims they check
  workbench validate --quick --out report-quick   # all cases, reduced sizes
  workbench validate cnn-gd-bounds cnn-nesterov-table5 --out report-bounds
The report folder holds report.html, report.md, results.json and the figures.
Exit status 1 when a case fails its own check.""",
    "sweep": """examples:
  workbench sweep --list
  workbench sweep bounds --grid kernel=3,5,7 --grid dt=1e-3,1e-4 --out sweep-bounds
  workbench sweep bounds --grid kernel=3,5 --executor processes --workers 2
Re-running with the same --out skips the points already done.""",
    "report": """example:
  workbench report report-quick""",
    "bench": """examples:
  workbench bench --quick                      # reduced sizes, a minute or two
  workbench bench --json --out bench.json""",
}
