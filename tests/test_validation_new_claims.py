"""The eight cases of claims that had none: each runs at quick size, and each judge's outcomes from fixed numbers.

Cases: uc-proposition2-weight-decay, uc-remark3-step-size-speed, pf-gradient-alignment,
pf-one-eigendirection, pf-saddle-escape, pf-banana-nonprincipal, dal-p-tradeoff,
diffusion-fixed-beta-lr. The judge tests drive ``judge`` with hand-made numbers, one test per
outcome the rule can return.
"""
from __future__ import annotations

import cmath
import math

import pytest

from workbench.validation.cases import (
    dal_p_tradeoff,
    diffusion_fixed_beta_lr,
    pf_banana_nonprincipal,
    pf_gradient_alignment,
    pf_one_eigendirection,
    pf_saddle_escape,
    uc_proposition2_weight_decay,
    uc_remark3_step_size_speed,
)
from workbench.validation.registry import get_case, run_case

NEW = ("uc-proposition2-weight-decay", "uc-remark3-step-size-speed", "pf-gradient-alignment", "pf-one-eigendirection",
       "pf-saddle-escape", "pf-banana-nonprincipal", "dal-p-tradeoff", "diffusion-fixed-beta-lr")

# quick-size verdicts of the cases whose margins are wide (effect many intervals from the threshold)
PINNED = {"pf-saddle-escape": "confirmed", "pf-banana-nonprincipal": "confirmed",
          "uc-proposition2-weight-decay": "confirmed", "pf-gradient-alignment": "confirmed"}


# ---- each case at quick size -------------------------------------------------------------------------------------

@pytest.mark.parametrize("cid", NEW)
def test_case_runs_quick_and_reports_a_verdict_with_numbers(cid, tmp_path):
    c = get_case(cid)
    assert c.paper in (2, 3, 4) and c.where
    res = run_case(cid, tmp_path, quick=True)
    assert res.verdict != "inconclusive", res.reason  # the case's own consistency checks hold
    assert res.passed
    if cid in PINNED:
        assert res.verdict == PINNED[cid], res.reason
    assert res.rule and res.reason and res.numbers and res.tables
    assert res.figures and all((tmp_path / f).is_file() for f in res.figures)


# ---- pf-saddle-escape --------------------------------------------------------------------------------------------

def _saddle_row(h_a, final, fd_shift=0.0, rate_shift=0.0):
    h = h_a / 10.0
    j = cmath.log(complex(1 - h_a)) / h
    return {"h_a": h_a, "pf_jacobian": [j.real, j.imag], "pf_jacobian_paper": [j.real, j.imag],
            "pf_jacobian_fd": [j.real + fd_shift, j.imag], "gd_linear_rate": abs(1 - h_a) + rate_shift,
            "predicted_rate": abs(1 - h_a), "gd_final_abs_x": final}


def test_saddle_confirmed():
    n = {"x0": 1e-4, "rows": [_saddle_row(1.8, 1e-20), _saddle_row(2.2, 0.7)]}
    assert pf_saddle_escape.judge(n).verdict == "confirmed"


def test_saddle_refuted_when_gd_converges_above_2_over_lambda():
    n = {"x0": 1e-4, "rows": [_saddle_row(1.8, 1e-20), _saddle_row(2.2, 1e-9)]}
    assert pf_saddle_escape.judge(n).verdict == "refuted"


def test_saddle_inconclusive_when_the_jacobian_checks_disagree():
    n = {"x0": 1e-4, "rows": [_saddle_row(1.8, 1e-20), _saddle_row(2.2, 0.7, fd_shift=1e-2)]}
    assert pf_saddle_escape.judge(n).verdict == "inconclusive"
    n = {"x0": 1e-4, "rows": [_saddle_row(1.8, 1e-20, rate_shift=1e-3), _saddle_row(2.2, 0.7)]}
    assert pf_saddle_escape.judge(n).verdict == "inconclusive"


# ---- pf-gradient-alignment ---------------------------------------------------------------------------------------

def _align_run(e_ngf, e_igr, e_pf, formula_shift=0.0):
    meas = [1.0, -2.0, 3.0, -4.0, 5.0]
    pred = {f: [m * (1 + e) for m in meas] for f, e in (("ngf", e_ngf), ("igr", e_igr), ("pf", e_pf))}
    direct = {f: [v * (1 + formula_shift) for v in p] for f, p in pred.items()}
    return {"measured": meas, "predicted": pred, "paper_formula": direct, "max_lanczos_residual": 1e-9}


def test_alignment_confirmed():
    n = {"runs": [_align_run(1.0, 0.9, 0.1), _align_run(1.1, 0.8, 0.12), _align_run(1.0, 1.0, 0.09)]}
    assert pf_gradient_alignment.judge(n).verdict == "confirmed"


def test_alignment_refuted():
    n = {"runs": [_align_run(0.1, 0.2, 1.0), _align_run(0.12, 0.2, 0.9), _align_run(0.1, 0.3, 1.1)]}
    assert pf_gradient_alignment.judge(n).verdict == "refuted"


def test_alignment_not_reproduced():
    n = {"runs": [_align_run(0.2, 0.3, 0.1), _align_run(0.1, 0.3, 0.2)]}
    assert pf_gradient_alignment.judge(n).verdict == "not reproduced"


def test_alignment_inconclusive_when_the_multiplier_differs_from_the_corollaries():
    n = {"runs": [_align_run(1.0, 0.9, 0.1, formula_shift=0.01), _align_run(1.0, 0.9, 0.1)]}
    assert pf_gradient_alignment.judge(n).verdict == "inconclusive"


# ---- pf-one-eigendirection ---------------------------------------------------------------------------------------

def _eig_run(seed, flip_end, ngf_end, h_lam=2.1, coarse_shift=0.0, dense_shift=0.0):
    return {"seed": seed, "h_lambda0_start": h_lam, "lambda0_lanczos": 4.2, "lambda0_dense": 4.2 + dense_shift,
            "dEdt_flip_measured": 0.3, "dEdt_flip_formula": 0.3,
            "ngf": {"loss": [1.0, ngf_end]}, "flip": {"loss": [1.0, flip_end]},
            "ngf_coarse_final_loss": ngf_end, "flip_coarse_final_loss": flip_end + coarse_shift}


def test_one_eigendirection_confirmed():
    n = {"h": 0.5, "runs": [_eig_run(0, 2.0, 0.9), _eig_run(1, 2.5, 0.95), _eig_run(2, 1.8, 0.92)]}
    assert pf_one_eigendirection.judge(n).verdict == "confirmed"


def test_one_eigendirection_refuted():
    n = {"h": 0.5, "runs": [_eig_run(0, 0.8, 0.9), _eig_run(1, 0.85, 0.95), _eig_run(2, 0.9, 0.92)]}
    assert pf_one_eigendirection.judge(n).verdict == "refuted"


def test_one_eigendirection_not_reproduced_off_the_edge_or_not_significant():
    n = {"h": 0.5, "runs": [_eig_run(0, 2.0, 0.9, h_lam=1.2), _eig_run(1, 2.5, 0.95)]}
    assert pf_one_eigendirection.judge(n).verdict == "not reproduced"
    n = {"h": 0.5, "runs": [_eig_run(0, 3.0, 0.9), _eig_run(1, 0.99, 0.95)]}
    assert pf_one_eigendirection.judge(n).verdict == "not reproduced"


def test_one_eigendirection_inconclusive():
    n = {"h": 0.5, "runs": [_eig_run(0, 2.0, 0.9, coarse_shift=0.8), _eig_run(1, 2.5, 0.95)]}
    assert pf_one_eigendirection.judge(n).verdict == "inconclusive"
    n = {"h": 0.5, "runs": [_eig_run(0, 2.0, 0.9, dense_shift=0.01), _eig_run(1, 2.5, 0.95)]}
    assert pf_one_eigendirection.judge(n).verdict == "inconclusive"


# ---- pf-banana-nonprincipal --------------------------------------------------------------------------------------

def _banana_run(pf, pfp, coarse_rel=0.0):
    return {"c": 1.5, "theta0": [-0.5, 0.5], "pf": {"max_distance": pf, "max_distance_coarse": pf * (1 + coarse_rel)},
            "pf+": {"max_distance": pfp, "max_distance_coarse": pfp}}


def test_banana_confirmed():
    n = {"runs": [_banana_run(30.0, 1.1), _banana_run(1e12, 1.2), _banana_run(25.0, 1.3), _banana_run(20.0, 1.0)]}
    assert pf_banana_nonprincipal.judge(n).verdict == "confirmed"


def test_banana_refuted():
    n = {"runs": [_banana_run(1.1, 30.0), _banana_run(1.0, 20.0), _banana_run(1.2, 25.0)]}
    assert pf_banana_nonprincipal.judge(n).verdict == "refuted"


def test_banana_not_reproduced():
    n = {"runs": [_banana_run(2.0, 1.0), _banana_run(1.0, 2.0)]}
    assert pf_banana_nonprincipal.judge(n).verdict == "not reproduced"


def test_banana_inconclusive_when_rk4_step_counts_disagree():
    n = {"runs": [_banana_run(30.0, 1.1, coarse_rel=0.2), _banana_run(20.0, 1.0)]}
    assert pf_banana_nonprincipal.judge(n).verdict == "inconclusive"


# ---- uc-proposition2-weight-decay --------------------------------------------------------------------------------

def _prop2(fd=1e-9, ident=1e-15, ratios=(3.0, 1.0000001), search=(1.001,), inner_shift=0.0):
    return {"fd_rel_error": [fd], "identity_rel": [ident], "gd": {"ratio": list(ratios)},
            "search": [{"ratio": r, "grad_norm": 1e-5, "zeta_inner": 2e-8 * (1 + inner_shift), "paper_inner": 2e-8}
                       for r in search]}


def test_prop2_confirmed():
    assert uc_proposition2_weight_decay.judge(_prop2()).verdict == "confirmed"


def test_prop2_refuted_by_a_point_below_the_bound():
    assert uc_proposition2_weight_decay.judge(_prop2(search=(0.5,))).verdict == "refuted"
    assert uc_proposition2_weight_decay.judge(_prop2(ratios=(3.0, 0.9))).verdict == "refuted"


def test_prop2_inconclusive_when_the_gradient_or_the_identities_fail():
    assert uc_proposition2_weight_decay.judge(_prop2(fd=1e-3)).verdict == "inconclusive"
    assert uc_proposition2_weight_decay.judge(_prop2(ident=1e-3)).verdict == "inconclusive"
    assert uc_proposition2_weight_decay.judge(_prop2(inner_shift=1e-3)).verdict == "inconclusive"


def test_prop2_model_gradient_matches_finite_differences_and_the_identity():
    import numpy as np

    m = uc_proposition2_weight_decay.NormalizedModel(0)
    th = np.random.default_rng(5).standard_normal(m.size)
    fd = np.array([(m.loss(th + 1e-6 * e) - m.loss(th - 1e-6 * e)) / 2e-6 for e in np.eye(m.size)])
    assert np.allclose(fd, m.grad(th), rtol=1e-6, atol=1e-8)
    g = m.grad(th)
    # <grad_zeta l, zeta> = 2 gamma ||zeta||^2 (the proof of Proposition 2), to rounding
    assert abs(g[2:] @ th[2:] - 2 * m.gamma * th[2:] @ th[2:]) < 1e-12


# ---- uc-remark3-step-size-speed ----------------------------------------------------------------------------------

def _speed(seed_steps, budget=100, recomputed_shift=0.0):
    runs = []
    for seed, steps in enumerate(seed_steps):
        for k, st in enumerate(steps):
            eta = 0.1 * 2 ** k
            div = st == "div"
            runs.append({"seed": seed, "eta": eta, "status": "diverged" if div else "completed",
                         "steps_to_threshold": None if div else st, "last_finite_loss": 0.1,
                         "recomputed_loss": 0.1 + recomputed_shift})
    return {"budget": budget, "threshold": 0.2, "runs": runs}


def test_speed_confirmed():
    n = _speed([[40, 20, 10, 5, "div"], [50, 25, 12, 6, "div"], [45, 22, 11, 7, "div"]])
    assert uc_remark3_step_size_speed.judge(n).verdict == "confirmed"


def test_speed_refined_when_the_speed_up_stops_before_divergence():
    n = _speed([[40, 20, 10, 15, "div"], [50, 25, 12, 6, "div"], [45, 22, 11, 7, "div"]])
    assert uc_remark3_step_size_speed.judge(n).verdict == "refined"


def test_speed_refuted_when_larger_steps_are_slower():
    n = _speed([[5, 10, 20, 40, "div"], [6, 12, 25, 50, "div"], [7, 11, 22, 45, "div"]])
    assert uc_remark3_step_size_speed.judge(n).verdict == "refuted"


def test_speed_not_reproduced_without_divergence_or_trend():
    n = _speed([[40, 20, 10, 5, 3], [50, 25, 12, 6, "div"]])
    assert uc_remark3_step_size_speed.judge(n).verdict == "not reproduced"
    n = _speed([[40, 20, 30, 50, "div"], [10, 30, 20, 5, "div"]])
    assert uc_remark3_step_size_speed.judge(n).verdict == "not reproduced"


def test_speed_inconclusive_when_the_recorded_loss_is_wrong():
    n = _speed([[40, 20, 10, 5, "div"], [50, 25, 12, 6, "div"]], recomputed_shift=1e-6)
    assert uc_remark3_step_size_speed.judge(n).verdict == "inconclusive"


# ---- diffusion-fixed-beta-lr -------------------------------------------------------------------------------------

def _diff(gains_hi, gains_lo, bm_shift=0.0, diverged=False):
    runs = []
    for lr, gains in ((0.2, gains_hi), (0.01, gains_lo)):
        for t, g in enumerate(gains):
            runs.append({"lr": lr, "trial": t, "acc_sgd": 0.8, "acc_diffusion": 0.8 + g,
                         "diverged_diffusion": diverged and lr == 0.2 and t == 0})
    return {"beta_max": 0.475 + bm_shift, "beta_max_paper": 0.475, "lrs": [0.2, 0.01], "runs": runs}


def test_diffusion_lr_confirmed():
    n = _diff([0.05, 0.06, 0.055], [-0.03, -0.035, -0.02])
    assert diffusion_fixed_beta_lr.judge(n).verdict == "confirmed"


def test_diffusion_lr_refined_when_the_large_rate_gain_is_not_significant():
    n = _diff([0.01, -0.005, 0.02], [-0.04, -0.045, -0.03])
    assert diffusion_fixed_beta_lr.judge(n).verdict == "refined"


def test_diffusion_lr_refuted():
    n = _diff([-0.03, -0.035, -0.02], [0.05, 0.06, 0.055])
    assert diffusion_fixed_beta_lr.judge(n).verdict == "refuted"


def test_diffusion_lr_not_reproduced():
    n = _diff([0.02, -0.02, 0.01], [0.0, 0.01, -0.01])
    assert diffusion_fixed_beta_lr.judge(n).verdict == "not reproduced"


def test_diffusion_lr_inconclusive():
    assert diffusion_fixed_beta_lr.judge(_diff([0.05, 0.06], [-0.03, -0.02], bm_shift=0.005)).verdict == "inconclusive"
    assert diffusion_fixed_beta_lr.judge(_diff([0.05, 0.06], [-0.03, -0.02], diverged=True)).verdict == "inconclusive"


# ---- dal-p-tradeoff ----------------------------------------------------------------------------------------------

def _dalp(per_seed, lr_shift=0.0):
    """per_seed: list of [(p, drift, increases, test_loss or None)]."""
    runs = []
    for seed, rows in enumerate(per_seed):
        for p, drift, inc, test in rows:
            runs.append({"seed": seed, "p": p, "status": "diverged" if test is None else "completed",
                         "mean_drift": drift, "n_increases": inc, "test_loss": test,
                         "lr_first": 1.0 + lr_shift, "lr_first_dense": 1.0})
    return {"steps": 100, "runs": runs}


_GOOD = [(0.5, 1.0, 40, 0.10), (0.75, 0.5, 20, 0.12), (1.0, 0.2, 10, 0.15), (1.5, 0.05, 0, 0.20)]


def test_dalp_confirmed():
    assert dal_p_tradeoff.judge(_dalp([_GOOD, _GOOD, _GOOD])).verdict == "confirmed"


def test_dalp_refuted_when_drift_grows_with_p():
    bad = [(p, 1.0 / d, i, t) for p, d, i, t in _GOOD]
    assert dal_p_tradeoff.judge(_dalp([bad, bad, bad])).verdict == "refuted"


def test_dalp_not_reproduced_when_test_loss_goes_the_other_way():
    opp = [(p, d, i, 0.3 - t) for p, d, i, t in _GOOD]
    v = dal_p_tradeoff.judge(_dalp([opp, opp, opp]))
    assert v.verdict == "not reproduced" and "opposite" in v.reason


def test_dalp_inconclusive_when_the_rate_differs_from_the_formula():
    assert dal_p_tradeoff.judge(_dalp([_GOOD, _GOOD], lr_shift=1e-6)).verdict == "inconclusive"


def test_kendall_tau_sees_order_ties_and_nan():
    from workbench.validation.verdict import kendall_tau

    x = [1.0, 2.0, 3.0, 4.0]
    assert kendall_tau(x, [4.0, 3.0, 2.0, 1.0]) == -1.0
    assert kendall_tau(x, [1.0, 3.0, 2.0, 4.0]) == pytest.approx(2 / 3)
    assert kendall_tau(x, [1.0, 1.0, 1.0, 1.0]) == 0.0
    assert math.isnan(kendall_tau(x, [1.0, float("nan"), 2.0, 3.0]))
