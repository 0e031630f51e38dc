"""Training runs of the second paper's Algorithm 1 on a small CNN: one problem, one tracked run.

Second paper (Sun, Lao, Sundaramoorthi, Yezzi, "Accelerated PDEs for Construction and Theoretical
Analysis of an SGD Extension"), Algorithm 1 / (6)-(7) on the conv kernel's velocity, SGD-Nesterov
(14) on every other parameter (:class:`~workbench.solvers.dynamics.diffusion.SplitDiffusionUpdate`).
Shared by the ``diffusion-training`` and ``diffusion-fixed-beta-lr`` validation cases: the data and
network (:func:`make_problem`) and the seeded mini-batch run (:func:`train_run`), which is
:func:`workbench.solvers.stepping.tracking.run_tracked` on the one stepper with one tracker
(:class:`_Watch`: the kernel velocity, the blow-up bound, the per-epoch evaluation).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from workbench.solvers.core.checks import ParameterError
from workbench.solvers.dynamics.diffusion import SplitDiffusionUpdate, laplacian
from workbench.solvers.nets.datasets import image_blobs
from workbench.solvers.nets.networks import Network, NetworkObjective, small_cnn
from workbench.solvers.stepping.divergence import DivergenceCriterion
from workbench.solvers.stepping.tracking import Stop, run_tracked

__all__ = ["BLOWUP", "make_problem", "evaluate", "train_run", "PyTorchNesterov"]

#: a run diverges when ‖θⁿ‖ passes BLOWUP·‖θ⁰‖ (or on a floating-point overflow / invalid operation)
BLOWUP = 1e6
_RAISING = dict(over="raise", invalid="raise", divide="raise", under="ignore")


def make_problem(n_train: int = 96, n_test: int = 600, noise: float = 3.0, filters: int = 8, kernel: int = 3,
                 size: int = 8, seed: int = 3) -> dict[str, Any]:
    """Data, network and objectives of the demonstration (NumPy, float64).

    One :func:`~workbench.solvers.nets.datasets.image_blobs` draw of ``n_train + n_test`` images of
    1×size×size in 3 classes (the class prototypes depend on the seed, so train and test come from one
    draw), split in order; one conv layer (``filters`` filters, kernel×kernel, valid), tanh, dense to 3
    logits; cross-entropy.
    """
    for name, v, lo in (("n_train", n_train, 1), ("n_test", n_test, 1), ("filters", filters, 1),
                        ("kernel", kernel, 1), ("size", size, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ParameterError(f"{name}: expected an integer >= {lo}, got {v!r}")
    ds = image_blobs(n_train + n_test, (1, size, size), 3, noise, seed=seed)
    net = small_cnn((1, size, size), (filters,), kernel, (), 3, "tanh")
    Xtr, Ytr, Xte, Yte = ds.X[:n_train], ds.Y[:n_train], ds.X[n_train:], ds.Y[n_train:]
    (off, shape), _ = net.slices[0]
    return {"net": net, "X": Xtr, "Y": Ytr, "X_test": Xte, "Y_test": Yte, "labels_test": ds.labels[n_train:],
            "train": NetworkObjective(net, Xtr, Ytr, "ce"), "test": NetworkObjective(net, Xte, Yte, "ce"),
            "kernel_slice": (int(off), tuple(int(s) for s in shape)), "dataset": ds.name}


def evaluate(prob: dict[str, Any], theta: np.ndarray) -> tuple[float, float, float]:
    """(full-batch train loss, test loss, test accuracy); one forward pass over the test set.

    The test cross-entropy ``mean(logsumexp(f) − y·f)`` is computed from the same logits as the
    accuracy (it equals ``prob["test"].value(theta)``; tested).
    """
    net: Network = prob["net"]
    out = np.asarray(net.forward(theta, prob["X_test"]))
    m = np.max(out, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(out - m), axis=1)) + m[:, 0]
    test_loss = float(np.mean(lse - np.sum(prob["Y_test"] * out, axis=1)))
    acc = float(np.mean(np.argmax(out, axis=1) == prob["labels_test"]))
    return prob["train"].value(theta), test_loss, acc


class _Watch:
    """Tracker of :func:`train_run`: ‖v_kernel‖ every step, ‖θ‖ against the bound, an evaluation per epoch.

    Stops the run (and marks it diverged) once ‖θⁿ‖ > BLOWUP·‖θ⁰‖ or an evaluation raises a
    floating-point error; fills ``out``.
    """

    def __init__(self, prob: dict[str, Any], upd: Any, out: dict[str, Any], nb: int, norm0: float,
                 evaluate_epochs: bool) -> None:
        self.prob, self.upd, self.out, self.nb, self.norm0 = prob, upd, out, nb, norm0
        self.evaluate_epochs = evaluate_epochs
        off, shape = prob["kernel_slice"]
        self.a, self.b = off, off + int(np.prod(shape))

    def record(self, th: np.ndarray) -> None:
        tl, te, acc = evaluate(self.prob, th)
        self.out["train_loss"].append(tl)
        self.out["test_loss"].append(te)
        self.out["test_acc"].append(acc)

    def start(self, visit: Any) -> None:
        return None

    def handle(self, k: int, v: Any) -> None:
        out, th = self.out, v.theta
        if k == 0:
            if self.evaluate_epochs:
                with np.errstate(**_RAISING):
                    self.record(th)
            return
        try:
            with np.errstate(**_RAISING):
                out["steps"] = k
                out["v_norm"].append(float(np.linalg.norm(self.upd.current[1][0, self.a:self.b])))
                if not float(np.linalg.norm(th)) <= BLOWUP * self.norm0:
                    out["diverged"], out["reason"] = True, f"||theta|| > {BLOWUP:g} ||theta^0||"
                    raise Stop(out["reason"])
                if k % self.nb == 0 and self.evaluate_epochs:
                    self.record(th)
        except FloatingPointError as exc:
            out["diverged"], out["reason"] = True, f"floating-point error: {exc}"
            raise Stop(out["reason"]) from None

    def finish(self, run: Any) -> None:
        return None


def train_run(prob: dict[str, Any], eta: float, momentum: float, beta: float, axes: tuple[int, ...],
              epochs: int, seed: int, batch: int = 16, reference: bool = False,
              evaluate_epochs: bool = True) -> dict[str, Any]:
    """Train with Algorithm 1 on the conv kernel and SGD-Nesterov (14) elsewhere (second paper, (6)-(7)).

    Parameters
    ----------
    prob : dict
        From :func:`make_problem`.
    eta, momentum, beta : float
        η, γ and β of (6)-(7) (β acts on the conv kernel's velocity only).
    axes : tuple of int
        Axes of the kernel ``(filters, channels, k, k)`` the Laplacian (5) acts on.
    epochs, seed, batch : int
        Epochs; seed of the initialization and of the batch order; mini-batch size.
    reference : bool
        Ignore the split and update the whole flat θ by an independent, inline PyTorch-form
        Nesterov (14) (``beta`` must be 0): the slow reference of the β = 0 path.
    evaluate_epochs : bool
        Evaluate (train loss, test loss, accuracy) at the start and after every epoch.

    Returns
    -------
    dict
        ``train_loss``, ``test_loss``, ``test_acc`` per epoch (index 0 = initialization; empty
        without ``evaluate_epochs``), ``diverged``, ``reason``, ``steps``, ``v_norm`` (‖v_conv‖ per
        step), ``rayleigh`` (−⟨v,∇²v⟩/⟨v,v⟩ of the last kernel velocity), ``theta`` (final parameters).
    """
    if reference and beta != 0:
        raise ParameterError("beta: the reference path is plain SGD-Nesterov; it needs beta = 0")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ParameterError(f"epochs: expected an integer >= 1, got {epochs!r}")
    net: Network = prob["net"]
    n = int(prob["X"].shape[0])
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= n:
        raise ParameterError(f"batch: expected an integer in [1, {n}], got {batch!r}")
    off, shape = prob["kernel_slice"]
    theta = np.asarray(net.init(seed), dtype=np.float64)
    upd = PyTorchNesterov(momentum) if reference else SplitDiffusionUpdate(momentum, beta, off, shape, axes)
    rng = np.random.default_rng(seed + 1000)
    nb = n // batch
    perms = [rng.permutation(n) for _ in range(epochs)]
    out: dict[str, Any] = {"train_loss": [], "test_loss": [], "test_acc": [], "v_norm": [], "diverged": False,
                           "reason": "", "steps": 0}

    def force(v: Any) -> np.ndarray:
        k = v.step
        idx = perms[k // nb][(k % nb) * batch:(k % nb + 1) * batch]
        try:
            with np.errstate(**_RAISING):
                return prob["train"].subset(idx).gradient(v.theta)
        except FloatingPointError as exc:             # the run stops here: a non-finite step ends it
            out["diverged"], out["reason"] = True, f"floating-point error: {exc}"
            return np.full_like(v.theta, np.nan)

    watch = _Watch(prob, upd, out, nb, float(np.linalg.norm(theta)), evaluate_epochs)
    run = run_tracked(None, upd, theta, eta, [watch], DivergenceCriterion(blowup=math.inf), steps=epochs * nb,
                      force=force)
    if run.divergence == "nonfinite-iterate" and not out["diverged"]:
        out["diverged"], out["reason"] = True, "floating-point error: non-finite update"
    if not out["diverged"] or "floating" not in out["reason"]:
        vk = np.reshape(run.result.state[1][0, off:off + int(np.prod(shape))], shape)
        out["rayleigh"] = float(-np.sum(vk * laplacian(vk, axes, "neumann")) / np.sum(vk * vk))
    out["theta"] = np.asarray(run.theta)
    return out


class PyTorchNesterov:
    """The slow reference of the β = 0 path: PyTorch's SGD(nesterov=True), (14), inline on the flat vector."""

    lr = 1.0

    def __init__(self, momentum: float) -> None:
        self.momentum = momentum
        self.current: list = []

    def start(self, theta0: np.ndarray) -> list:
        self.current = [theta0, np.zeros_like(theta0)]
        return self.current

    def point(self, state: list) -> np.ndarray:
        return state[0]

    def step(self, state: list, x: np.ndarray, g: np.ndarray, eta: float) -> list:
        v = self.momentum * state[1] + g
        self.current = [state[0] - eta * (g + self.momentum * v), v]
        return self.current

    def to_dict(self) -> dict:
        return {"scheme": "pytorch-nesterov"}
