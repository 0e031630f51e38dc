"""Framework adapters: a PyTorch or JAX model as a workbench Objective.

:mod:`workbench.adapters.torch` (``wb.from_torch``) and :mod:`workbench.adapters.jax`
(``wb.from_jax``). Nothing here imports a framework until one of them is called; each
framework is an optional extra (``pip install 'stability-workbench[torch]'`` or ``[jax]``).
"""
