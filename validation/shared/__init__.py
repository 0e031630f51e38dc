"""Code shared by several validation cases (settings, problems, helpers); never a case itself.

One module per topic: :mod:`workbench.validation.shared.diffusion` (second paper, Algorithm 1
divergence tests and the β bisection), :mod:`workbench.validation.shared.linearized_regimes`
(first paper, appendix D.4/D.5 onsets), :mod:`workbench.validation.shared.principal_flow_networks`
(third paper, the regression MLPs), :mod:`workbench.validation.shared.restrained` (first paper,
checkerboard sweeps) and :mod:`workbench.validation.shared.unstable_convergence` (fourth paper,
Examples 2 and the edge-of-stability problem).
"""
