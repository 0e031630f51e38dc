"""Your torch.optim optimizer as a registered scheme: wb.scheme_of, wb.max_stable_lr(optimizer=), wb.stability.

On a linear model with MSE the Hessian is constant, H = (2/N)·X̃ᵀX̃ (X̃ = [X, 1]), so the
closed forms below use a dense H computed here with NumPy and the preconditioner read
from the optimizer's state by hand; the optimizer itself is then run with its
preconditioner frozen at 0.98x and 1.02x of the value (Cohen et al., arXiv 2207.14484).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import workbench as wb  # noqa: E402
from workbench.solvers.core.checks import ParameterError  # noqa: E402

N, D = 128, 4


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, D, generator=g, dtype=torch.float64)
    Y = X @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]], dtype=torch.float64) + 0.1 * torch.randn(N, 1, generator=g,
                                                                                                  dtype=torch.float64)
    return X, Y


def _model(seed=1):
    torch.manual_seed(seed)
    return torch.nn.Linear(D, 1).to(torch.float64)


def _dense_h(X):
    Xt = np.hstack([X.numpy(), np.ones((N, 1))])
    return 2.0 / N * Xt.T @ Xt, Xt


def _flat(model, t):
    """A per-parameter tensor in θ's layout (W row-major, then b)."""
    return np.concatenate([t[p].detach().numpy().reshape(-1) for p in model.parameters()])


def _warm(model, opt, X, Y, steps=50):
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(X), Y).backward()
        opt.step()


def _closed_form(kind, model, opt, H):
    g = opt.param_groups[0]
    wd = g["weight_decay"]
    lmax = lambda M: float(np.linalg.eigvalsh(0.5 * (M + M.T))[-1])  # noqa: E731
    if kind == "sgd-dampened":
        mu, tau = g["momentum"], g["dampening"]
        return 2 * (1 + mu) / ((1 - tau) * lmax(H + wd * np.eye(D + 1)))
    if kind == "sgd-nesterov":
        mu = g["momentum"]
        return 2 * (1 + mu) / ((1 + 2 * mu) * lmax(H + wd * np.eye(D + 1)))
    if kind == "rmsprop":
        P = _flat(model, {p: opt.state[p]["square_avg"].sqrt() + g["eps"] for p in model.parameters()})
        S = np.diag(P ** -0.5) @ (H + wd * np.eye(D + 1)) @ np.diag(P ** -0.5)
        return 2 * (1 + g["momentum"]) / lmax(S)
    b1, b2 = g["betas"]
    t = float(opt.state[next(model.parameters())]["step"])
    P = _flat(model, {p: (1 - b1 ** t) * ((opt.state[p]["exp_avg_sq"] / (1 - b2 ** t)).sqrt() + g["eps"])
                      for p in model.parameters()})
    S = np.diag(P ** -0.5) @ H @ np.diag(P ** -0.5)
    lam = lmax(S)
    if kind == "adamw":   # ηλ < (2 − η·wd)(1 + β₁)/(1 − β₁) (p(−1) > 0 of the record with decay c = η·wd)
        return 2 * (1 + b1) / ((1 - b1) * lam + (1 + b1) * wd)
    return 2 * (1 + b1) / ((1 - b1) * lam)


OPTS = {
    "sgd-dampened": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, dampening=0.3, weight_decay=0.01),
    "sgd-nesterov": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01),
    "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=0.001, foreach=False),
    "adam": lambda ps: torch.optim.Adam(ps, lr=0.01, foreach=False),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.5, foreach=False),
}


def _freeze(kind, model, opt):
    """Run the optimizer itself with its preconditioner frozen at the current state."""
    g = opt.param_groups[0]
    if kind == "rmsprop":
        g["alpha"] = 1.0                       # v' = 1·v + 0·g²: exactly frozen
    elif kind in ("adam", "adamw"):
        b2 = g["betas"][1]
        frozen = {p: (opt.state[p]["exp_avg_sq"].clone(), float(opt.state[p]["step"])) for p in model.parameters()}

        def hook(optimizer, args, kwargs):    # v before the step such that v after it is the frozen one
            for p, (v, t) in frozen.items():
                st = optimizer.state[p]
                st["exp_avg_sq"].copy_((v - (1 - b2) * p.grad * p.grad) / b2)
                st["step"].fill_(t - 1)

        opt.register_step_pre_hook(hook)


def _distance_ratio(kind, factor, steps=1500):
    X, Y = _data()
    model = _model()
    opt = OPTS[kind](model.parameters())
    _warm(model, opt, X, Y)
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    eta = wb.max_stable_lr(obj, optimizer=opt)
    H, Xt = _dense_h(X)
    expected = _closed_form(kind, model, opt, H)
    assert eta == pytest.approx(expected, rel=1e-6), (kind, eta, expected)
    if kind == "adamw":
        return None
    wd = opt.param_groups[0]["weight_decay"]
    star = np.linalg.solve(H + wd * np.eye(D + 1), 2.0 / N * Xt.T @ Y.numpy().ravel())
    th = lambda: np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])  # noqa: E731
    d0 = np.linalg.norm(th() - star)
    _freeze(kind, model, opt)
    for grp in opt.param_groups:
        grp["lr"] = factor * eta
    for i in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(X), Y).backward()
        opt.step()
        if i % 50 == 49 and (not np.all(np.isfinite(th())) or np.linalg.norm(th() - star) > 1e8 * d0):
            return math.inf
    return np.linalg.norm(th() - star) / d0


@pytest.mark.parametrize("kind", ["sgd-dampened", "sgd-nesterov", "rmsprop", "adam"])
def test_max_stable_lr_of_the_optimizer_is_the_closed_form_and_the_edge_of_the_run(kind):
    assert _distance_ratio(kind, 0.98) < 1e-3
    assert _distance_ratio(kind, 1.02) > 1e3


def test_adamw_decoupled_decay_closed_form():
    assert _distance_ratio("adamw", 1.0) is None   # asserts the closed form inside


def test_stability_result_reads_the_optimizer():
    X, Y = _data()
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    _warm(model, opt, X, Y, 5)
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    r = wb.stability(obj, optimizer=opt)
    assert r.scheme == "adam" and r.params["beta1"] == 0.9 and r.lr == 0.01
    assert r.margin == pytest.approx(r.lr / r.max_lr, rel=1e-15)
    assert r.threshold == pytest.approx(38 / 0.01, rel=1e-9)            # (2 + 2β₁)/((1 − β₁)η)
    assert r.max_lr == pytest.approx(38 / r.sharpness, rel=1e-9)
    assert "\n" not in repr(r) and "adam" in repr(r)


@pytest.mark.parametrize("make, scheme, params", [
    (lambda ps: torch.optim.SGD(ps, lr=0.1), "gd", {}),
    (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.8), "heavy-ball", {"mu": 0.8}),
    (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.8, dampening=0.2),
     "heavy-ball-dampened", {"mu": 0.8, "dampening": 0.2, "weight_decay": 0.0}),
    (lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=0.1),
     "heavy-ball-dampened", {"mu": 0.0, "dampening": 0.0, "weight_decay": 0.1}),
    (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.5, nesterov=True), "nesterov-lookahead",
     {"mu": 0.5, "weight_decay": 0.0}),
    (lambda ps: torch.optim.Adam(ps, betas=(0.8, 0.99), weight_decay=0.1), "adam",
     {"beta1": 0.8, "decay": 0.0, "weight_decay": 0.1}),
    (lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1), "adam",
     {"beta1": 0.9, "decay": pytest.approx(0.001), "weight_decay": 0.0}),
    (lambda ps: torch.optim.RMSprop(ps, momentum=0.3, weight_decay=0.2), "rmsprop", {"mu": 0.3, "weight_decay": 0.2}),
])
def test_scheme_of_maps_each_configuration(make, scheme, params):
    s = wb.scheme_of(make(_model().parameters()))
    assert s.scheme == scheme and s.params == params
    assert "\n" not in repr(s)


@pytest.mark.parametrize("make, match", [
    (lambda ps: torch.optim.SGD(ps, lr=0.1, maximize=True), "optimizer: SGD\\(maximize=True\\)"),
    (lambda ps: torch.optim.Adam(ps, amsgrad=True), "optimizer: Adam\\(amsgrad=True\\)"),
    (lambda ps: torch.optim.Adagrad(ps), "optimizer: torch.optim.adagrad.Adagrad is not supported"),
])
def test_scheme_of_refuses_with_a_reason(make, match):
    with pytest.raises(ParameterError, match=match):
        wb.scheme_of(make(_model().parameters()))


def test_adam_without_state_and_two_optimizers_args_are_refused():
    X, Y = _data()
    model = _model()
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    with pytest.raises(ParameterError, match="optimizer: Adam has no state yet"):
        wb.max_stable_lr(obj, optimizer=torch.optim.Adam(model.parameters()))
    with pytest.raises(ParameterError, match="optimizer: give either"):
        wb.max_stable_lr(obj, scheme="gd", optimizer=torch.optim.SGD(model.parameters(), lr=0.1))


def test_param_groups_scale_the_step_and_frozen_parameters_drop_out():
    X, Y = _data()
    model = _model()
    H, _ = _dense_h(X)
    # weight at lr, bias at 3·lr: the step matrix is diag(1, 1, 1, 1, 3)
    opt = torch.optim.SGD([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.3}], lr=0.1)
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    d = np.array([1.0] * D + [3.0])
    lam = np.linalg.eigvalsh(np.diag(d ** 0.5) @ H @ np.diag(d ** 0.5))[-1]
    assert wb.max_stable_lr(obj, optimizer=opt) == pytest.approx(2 / lam, rel=1e-9)
    only_w = torch.optim.SGD([model.weight], lr=0.1)                        # the bias is not updated
    assert wb.max_stable_lr(obj, optimizer=only_w) == pytest.approx(2 / np.linalg.eigvalsh(H[:D, :D])[-1], rel=1e-9)


def test_train_reproduces_a_torch_nesterov_run_step_by_step():
    torch.manual_seed(3)
    X = torch.randn(64, 3, dtype=torch.float64)
    Y = torch.sin(X.sum(1, keepdim=True))
    net = lambda: torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()  # noqa
    torch.manual_seed(4)
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    run = wb.train(obj, optimizer=opt, steps=200, every=1, track=("loss",))
    assert run.scheme == "nesterov-lookahead" and not run.diverged
    ref = []
    for _ in range(200):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(X), Y)
        ref.append(float(loss.detach()))
        loss.backward()
        opt.step()
    got = run.column("loss")
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    assert np.max(np.abs(got - ref)) < 1e-12 and ref[-1] < 0.5 * ref[0]
    # the registry's "nesterov" records θₜ, not torch's look-ahead point: a different sequence
    other = wb.train(obj, scheme="nesterov", lr=0.05, momentum=0.9, steps=20, every=1, track=("loss",))
    assert np.max(np.abs(other.column("loss") - ref[:20])) > 1e-6


def test_train_refuses_adaptive_optimizers_and_partial_ones():
    X, Y = _data()
    model = _model()
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    with pytest.raises(ParameterError, match="optimizer: Adam's preconditioner changes every step"):
        wb.train(obj, optimizer=torch.optim.Adam(model.parameters()), steps=5)
    with pytest.raises(ParameterError, match="optimizer: it does not update every trainable parameter"):
        wb.train(obj, optimizer=torch.optim.SGD([model.weight], lr=0.1), steps=5)


def test_a_short_run_whose_loss_decreased_is_not_diverged():
    # 5 GD steps at 0.44x the stable rate on a classifier: the loss falls, the increments may still grow
    torch.manual_seed(0)
    X = torch.randn(100, 10, dtype=torch.float64)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3)).double()
    obj = wb.from_torch(model, torch.nn.functional.cross_entropy, X, y)
    eta = 0.44 * wb.max_stable_lr(obj)
    run = wb.train(obj, lr=eta, steps=5, track=("loss",), every=10)
    assert run.extra["loss_last"] < run.extra["loss_first"]
    assert not run.diverged and run.reason == ""
    X, Y = _data()
    lin = wb.from_torch(_model(), torch.nn.functional.mse_loss, X, Y)       # a quadratic at 1.1x its edge
    blown = wb.train(lin, lr=1.1 * wb.max_stable_lr(lin), steps=300, track=(), every=10)
    assert blown.diverged and blown.reason in ("blowup", "nonfinite-loss", "growth")
