"""The diagnostics-free restrained sweep (cnn-precision-amplification) gives the same trajectories as the full one."""
from __future__ import annotations

from workbench.validation.shared.restrained import restrained_sweep, sweep_rows

TRAJECTORY = ("status_k1", "status_k3", "final_loss_k1", "final_loss_k3", "max_rel_l1", "final_rel_l1",
              "max_rel_l2", "first_above_1e-3", "class", "yhat_equal_fraction", "diverged_at_k1")


def test_sweep_without_diagnostics_has_the_same_trajectories():
    full = sweep_rows(restrained_sweep(True, "float32"), "float32")
    bare = sweep_rows(restrained_sweep(True, "float32", diagnostics=False), "float32")
    assert len(full) == len(bare) == 15
    for a, b in zip(full, bare):
        assert {k: a[k] for k in TRAJECTORY} == {k: b[k] for k in TRAJECTORY}
        assert b["mean_log_rho_k1"] is None and b["tangent_amplification_k3"] is None
    assert any(a["class"] == "separated" for a in full) and any(a["class"] == "rounding" for a in full)
