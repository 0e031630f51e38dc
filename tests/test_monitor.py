"""wb.Monitor in a plain PyTorch loop, train-mode safety of every wb call, and wb.plot leaving matplotlib alone."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import workbench as wb  # noqa: E402
from workbench.solvers.core.checks import ParameterError  # noqa: E402


def _snapshot(model):
    return ({n: p.detach().clone() for n, p in model.named_parameters()},
            {n: b.detach().clone() for n, b in model.named_buffers()},
            [m.training for m in model.modules()],
            [None if p.grad is None else p.grad.clone() for p in model.parameters()])


def _same(a, b):
    pa, ba, ta, ga = a
    pb, bb, tb, gb = b
    assert pa.keys() == pb.keys() and ba.keys() == bb.keys()
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert all(torch.equal(ba[k], bb[k]) for k in ba)
    assert ta == tb
    assert all((x is None and y is None) or torch.equal(x, y) for x, y in zip(ga, gb))


def _train_mode_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.BatchNorm1d(16), torch.nn.Tanh(),
                                torch.nn.Dropout(0.3), torch.nn.Linear(16, 1)).double()
    X = torch.randn(40, 6, dtype=torch.float64)
    Y = torch.randn(40, 1, dtype=torch.float64)
    # some history in the running statistics, then left in train mode
    with torch.no_grad():
        model(X)
    model.train()
    return model, X, Y


def test_every_wb_call_leaves_a_train_mode_model_bit_identical():
    model, X, Y = _train_mode_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    before = _snapshot(model)
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    assert obj.train_mode_modules == ["1", "3"]                          # the BatchNorm and the Dropout
    s = [wb.sharpness(obj).value for _ in range(3)]
    assert s[0] == s[1] == s[2] and s[0] > 0                             # eval mode: deterministic
    wb.max_stable_lr(obj)
    r = wb.stability(obj, optimizer=opt)
    assert r.sharpness == pytest.approx(s[0], rel=1e-5)                 # SGD sees H itself
    mon = wb.Monitor(model, torch.nn.functional.mse_loss, opt, data=(X, Y), every=10)
    for _ in range(100):
        mon.step()
    assert len(mon.records) == 10
    _same(before, _snapshot(model))
    assert model.training and model[1].num_batches_tracked.item() == 1


def test_eval_mode_loss_is_the_models_eval_loss():
    model, X, Y = _train_mode_model()
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    model.eval()
    with torch.no_grad():
        ref = float(torch.nn.functional.mse_loss(model(X), Y))
    model.train()
    assert obj.value(obj.theta0) == pytest.approx(ref, rel=1e-14)


@pytest.mark.parametrize("loss_fn, match", [
    (lambda out, y: torch.nn.functional.mse_loss(out, y).detach(), "loss_fn: the loss has no gradient path"),
    (lambda out, y: torch.nn.functional.mse_loss(out, y) * float("nan"), "loss_fn: the loss at the model's parameters is nan"),
])
def test_losses_without_gradient_or_finite_value_are_refused(loss_fn, match):
    model, X, Y = _train_mode_model()
    with pytest.raises(ParameterError, match=match):
        wb.from_torch(model, loss_fn, X, Y)


def test_meta_device_model_is_refused():
    with torch.device("meta"):
        model = torch.nn.Linear(3, 1)
    with pytest.raises(ParameterError, match="model: its parameters are on the 'meta' device"):
        wb.from_torch(model, torch.nn.functional.mse_loss, torch.zeros(2, 3, device="meta"),
                      torch.zeros(2, 1, device="meta"))


def _linear(seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(64, 12, generator=g, dtype=torch.float64)
    Y = torch.randn(64, 1, generator=g, dtype=torch.float64)
    torch.manual_seed(seed)
    return torch.nn.Linear(12, 1).double(), X, Y


def test_monitor_flags_the_limit_and_the_edge_and_warm_starts():
    model, X, Y = _linear()
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    lam = wb.sharpness(obj, tol=1e-12).value
    # GD with 2/η = 1.02 λ: 2 % below the edge, stable
    opt = torch.optim.SGD(model.parameters(), lr=2 / (1.02 * lam))
    mon = wb.Monitor(model, torch.nn.functional.mse_loss, opt, data=(X, Y), every=5, window=3, tol=1e-10)
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(X), Y).backward()
        opt.step()
        mon.step()
    rows = mon.records
    assert [r["step"] for r in rows] == [5, 10, 15, 20, 25, 30]
    assert all(r["sharpness"] == pytest.approx(lam, rel=1e-8) for r in rows)     # constant Hessian
    assert [r["at_edge"] for r in rows] == [False, False, True, True, True, True]
    assert not any(r["lr_above_limit"] for r in rows)
    assert rows[1]["hvps"] < rows[0]["hvps"]                           # warm start from the last eigenvector
    assert all(r["loss"] < rows[0]["loss"] * 1.0001 for r in rows) and rows[-1]["loss"] < rows[0]["loss"]
    for g in opt.param_groups:                                         # now 10 % above the limit
        g["lr"] = 1.1 * 2 / lam
    assert mon.record()["lr_above_limit"] and "above the stable limit" in mon.alerts[-1]
    assert repr(mon).startswith("Monitor(SGD as gd") and "\n" not in repr(mon)


def test_monitor_refuses_bad_arguments():
    model, X, Y = _linear()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ParameterError, match="track: unknown tracker 'curvature'"):
        wb.Monitor(model, torch.nn.functional.mse_loss, opt, data=(X, Y), track=("curvature",))
    with pytest.raises(ParameterError, match="every: expected an integer >= 1"):
        wb.Monitor(model, torch.nn.functional.mse_loss, opt, data=(X, Y), every=0)
    with pytest.raises(ParameterError, match="data: expected a pair"):
        wb.Monitor(model, torch.nn.functional.mse_loss, opt, data=X)
    with pytest.raises(ParameterError, match="optimizer: "):
        wb.Monitor(model, torch.nn.functional.mse_loss, torch.optim.Adagrad(model.parameters()), data=(X, Y))


def test_plot_functions_leave_matplotlib_backend_and_rcparams_alone():
    import matplotlib

    model, X, Y = _linear()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    mon = wb.Monitor(model, torch.nn.functional.mse_loss, opt, data=(X, Y), every=1)
    mon.step()
    mon.step()
    run = wb.train(wb.from_torch(model, torch.nn.functional.mse_loss, X, Y), lr=0.01, steps=4, every=1,
                   track=("loss", "sharpness"))
    backend, rc = matplotlib.get_backend(), dict(matplotlib.rcParams)
    figs = [wb.plot.sharpness(mon), wb.plot.sharpness(run), wb.plot.loss(run),
            wb.plot.region("adam", beta1=0.9)]
    assert all(type(f).__name__ == "Figure" for f in figs)
    assert matplotlib.get_backend() == backend
    after = dict(matplotlib.rcParams)
    assert {k for k in rc if not (rc[k] is after[k] or np.array_equal(np.asarray(rc[k], dtype=object),
                                                                       np.asarray(after[k], dtype=object)))} == set()
