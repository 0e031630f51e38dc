"""wb.from_torch: exact gradient and HVP against a dense framework Hessian, sharpness, EoS, bad input.

Skipped when PyTorch is not installed (the ``torch`` extra).
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import workbench as wb  # noqa: E402
from workbench.solvers.core.checks import ParameterError  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: the tiny models here only lose time to thread hand-offs."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _mlp(dtype, sizes=(3, 8, 2), n=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    layers = []
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(i, o))
        if k < len(sizes) - 2:
            layers.append(torch.nn.Tanh())
    model = torch.nn.Sequential(*layers).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=dtype) * 0.7)
    X = torch.randn(n, sizes[0], generator=g, dtype=dtype)
    Y = torch.randn(n, sizes[-1], generator=g, dtype=dtype)
    return model, X, Y


def _dense(model, X, Y, theta):
    """Loss, gradient and Hessian of the flat parameters by torch.autograd.functional (independent route)."""
    from torch.func import functional_call

    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]

    def E(t):
        ps = {n: s.reshape(sh) for n, s, sh in zip(names, t.split(sizes), shapes)}
        return torch.nn.functional.mse_loss(functional_call(model, ps, (X,)), Y)

    th = theta.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(E(th), th)
    H = torch.autograd.functional.hessian(E, theta.detach())
    return float(E(theta)), g, H


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_gradient_hvp_and_sharpness_against_dense_hessian(dtype, rtol):
    model, X, Y = _mlp(dtype)
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    th = obj.theta0
    assert obj.size == 50 and obj.dtype == dtype and th.dtype == dtype and obj.device == th.device
    f, g = obj.value_and_gradient(th)
    f_ref, g_ref, H = _dense(model, X, Y, th)
    assert f == pytest.approx(f_ref, rel=rtol)
    assert float((g - g_ref).norm() / g_ref.norm()) <= rtol
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        v = torch.randn(obj.size, generator=gen, dtype=dtype)
        hv = obj.hvp(th, v)
        assert hv.dtype == dtype
        assert float((hv - H @ v).norm() / (H @ v).norm()) <= rtol
    lam = np.linalg.eigvalsh(H.double().numpy())[::-1]
    r = wb.sharpness(obj, k=3, method="lanczos")
    assert r.vectors.dtype == dtype and isinstance(r.vectors, torch.Tensor)
    np.testing.assert_allclose(r.values, lam[:3], rtol=10 * rtol)
    assert wb.sharpness(obj).values[0] == pytest.approx(lam[0], rel=10 * rtol)


def test_layout_unflatten_assign():
    model, X, Y = _mlp(torch.float64)
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    ref = torch.nn.utils.parameters_to_vector(model.parameters())
    assert torch.equal(obj.theta0, ref)
    parts = obj.unflatten(obj.theta0 * 2)
    assert list(parts) == [n for n, _ in model.named_parameters()]
    assert all(parts[n].shape == p.shape for n, p in model.named_parameters())
    assert torch.equal(obj.flatten(parts), obj.theta0 * 2)
    obj.assign(obj.theta0 * 2)
    assert torch.equal(torch.nn.utils.parameters_to_vector(model.parameters()), ref * 2)


def test_bad_input_names_the_parameter():
    model, X, Y = _mlp(torch.float32)
    with pytest.raises(ParameterError, match="model: Tanh has no trainable parameters"):
        wb.from_torch(torch.nn.Tanh(), torch.nn.functional.mse_loss, X, Y)
    with pytest.raises(ParameterError, match=r"loss_fn: returned a tensor of shape \(20, 2\), expected a scalar"):
        wb.from_torch(model, lambda o, y: (o - y) ** 2, X, Y)
    with pytest.raises(ParameterError, match="inputs: on device meta"):
        wb.from_torch(model, torch.nn.functional.mse_loss, X.to("meta"), Y)
    with pytest.raises(ParameterError, match="model: expected a torch.nn.Module"):
        wb.from_torch(lambda x: x, torch.nn.functional.mse_loss, X, Y)
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    with pytest.raises(ParameterError, match=r"theta: expected a flat vector of shape \(50,\)"):
        obj.gradient(torch.zeros(49))
    with pytest.raises(ParameterError, match="theta: has dtype torch.float64 but the objective computes in torch.float32"):
        wb.sharpness(obj, torch.zeros(50, dtype=torch.float64))
    with pytest.raises(ParameterError, match="theta: is a numpy array"):
        obj.gradient(np.zeros(50, dtype=np.float32))
    with pytest.raises(ParameterError, match="theta: is on device meta"):
        obj.gradient(torch.zeros(50, device="meta"))


def test_max_stable_lr_and_principal_flow():
    model, X, Y = _mlp(torch.float64)
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    lam = np.linalg.eigvalsh(_dense(model, X, Y, obj.theta0)[2].numpy())
    assert wb.max_stable_lr(obj) == pytest.approx(2 / lam[-1], rel=1e-6)
    assert wb.max_stable_lr(obj, scheme="heavy-ball", momentum=0.5) == pytest.approx(3 / lam[-1], rel=1e-6)
    h = 0.5 / lam[-1]  # h*lambda_max = 0.5 < 1: the PF is real
    r = wb.principal_flow(obj, h=h, times=[0.0, h])
    assert not r.diverged and r.theta.dtype == np.float64
    th0 = obj.theta0.numpy()
    gd = th0 - h * obj.gradient(obj.theta0).numpy()
    # one GD step and the PF at t = h agree to O(h^3) (exact on quadratics): far closer than the step itself
    assert np.linalg.norm(r.theta[-1] - gd) < 0.05 * np.linalg.norm(gd - th0)
    with pytest.raises(ParameterError, match="complex"):
        wb.principal_flow(obj, h=1.5 / lam[-1], times=[0.0, 1e-3])


def _eos_objective():
    torch.manual_seed(0)
    X = torch.randn(64, 4, dtype=torch.float64)
    Y = torch.sin(X @ torch.randn(4, 1, dtype=torch.float64) * 2)
    model = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32), torch.nn.Tanh(),
                                torch.nn.Linear(32, 1)).double()
    return wb.from_torch(model, lambda out, y: 0.5 * ((out - y) ** 2).sum() / 64, X, Y)


def test_edge_of_stability_run_settles_at_two_over_eta():
    """Progressive sharpening, then λ_max hovers at 2/η (Cohen et al. 2021): within 10% in the second half."""
    obj = _eos_objective()
    s0 = wb.sharpness(obj).values[0]
    eta = 2.0 / (1.7 * s0)  # 2/η is 1.7 times the initial sharpness
    run = wb.train(obj, lr=eta, steps=800, track=("loss", "sharpness"), every=25, sharpness_tol=1e-4)
    assert not run.diverged and run.steps_done == 800
    assert run.threshold == pytest.approx(2.0 / eta, rel=1e-12)
    s = run.column("sharpness")
    assert s[0] < 0.7 * run.threshold  # it starts well below
    second = s[run.column("step") >= 400]
    assert len(second) >= 10 and np.all(np.abs(second / run.threshold - 1.0) <= 0.10)
    assert run.records[-1]["loss"] < 0.05 * run.records[0]["loss"]


def test_a_loader_gives_the_full_data_loss_and_hessian():
    torch.manual_seed(0)
    X, Y = torch.randn(60, 4, dtype=torch.float64), torch.randn(60, 1, dtype=torch.float64)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=16)  # 16, 16, 16, 12
    full = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    batched = wb.from_torch(model, torch.nn.functional.mse_loss, loader)
    th = full.theta0
    assert batched.value(th) == pytest.approx(full.value(th), rel=1e-13)
    torch.testing.assert_close(batched.hessian(th), full.hessian(th), rtol=1e-11, atol=1e-13)
    assert wb.sharpness(batched).value == pytest.approx(wb.sharpness(full).value, rel=1e-10)
    with pytest.raises(ParameterError, match="targets: missing"):
        wb.from_torch(model, torch.nn.functional.mse_loss, X)


def test_hvp_operator_reuses_one_graph_and_equals_hvp():
    torch.manual_seed(1)
    X, Y = torch.randn(30, 4, dtype=torch.float64), torch.randn(30, 1, dtype=torch.float64)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)
    th = obj.theta0 + 0.1
    op = obj.hvp_operator(th)
    for seed in range(3):
        v = torch.randn(obj.size, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(op(v), obj.hvp(th, v), rtol=1e-13, atol=1e-14)
    f, g = obj.value_and_gradient(th)
    assert op.value == pytest.approx(f, rel=1e-14)
    torch.testing.assert_close(op.gradient, g, rtol=1e-13, atol=1e-15)
