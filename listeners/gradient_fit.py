"""Gradient fit of nu to a new animal through the differentiable, frozen nu-ICNet ([Pellatt2025]_, "Fitting nu").

The paper fits nu by Bayesian optimisation because it treats the network as a black box; the model is differentiable,
so nu can also be fitted by gradient descent. nu is parameterised in logit space, nu = sigmoid(z) (the model's own
conditioning means live there, nu_bar = sigmoid(mu)), so every step stays inside (0, 1); z is optimised on the
cross-entropy loss of :class:`listeners.fit_objective.NuFitObjective` by

* ``"lbfgs"`` (default): L-BFGS with a strong-Wolfe line search (``torch.optim.LBFGS``; Nocedal & Wright, Alg. 7.5
  and 3.5): a 6-D smooth problem is what quasi-Newton methods are made for;
* ``"adam"``: Adam (Kingma & Ba 2015), the optimiser the model was trained with.

Every loss evaluation (one forward and one backward pass; line-search trial points included) counts as one evaluation.

:func:`target_loss` runs long multi-start L-BFGS fits to find the animal's ground-truth-best nu: its loss is the target
of the 2% stopping rule (:mod:`listeners.fit_result`).

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import numpy as np
import torch

from listeners.fit_objective import NuFitObjective
from listeners.fit_result import FitResult, within_tolerance
from simulator.errors import HearloopInputError

__all__ = ["GRADIENT_METHODS", "gradient_fit", "target_loss"]

GRADIENT_METHODS = ("lbfgs", "adam")
_EPS = 1e-4


class _Reached(Exception):
    """Raised inside the L-BFGS closure to stop as soon as the 2% criterion is met."""


def gradient_fit(
    objective: NuFitObjective,
    nu0: np.ndarray | None = None,
    steps: int = 60,
    lr: float | None = None,
    target: float | None = None,
    tol: float = 0.02,
    method: str = "lbfgs",
) -> FitResult:
    """Gradient descent on logit(nu) from ``nu0`` (default: the centre of the cube).

    Args:
        objective: the animal's loss (model frozen).
        nu0: ``D`` start in [0, 1] (e.g. the NH reference listener's nu).
        steps: maximum number of loss evaluations (each a forward and a backward pass).
        lr: step size in logit units (default 1.0 for L-BFGS, whose line search scales it; 0.15 for Adam).
        target: stop as soon as the loss is within ``tol`` of this target loss (None: use all ``steps``).
        tol: relative tolerance of the stopping rule.
        method: ``"lbfgs"`` or ``"adam"``.

    Returns:
        :class:`FitResult` with ``method="gradient"``; every evaluated nu and loss is kept, in order.
    """
    start, lr = _checked_start(objective.n_params, nu0, steps, lr, method)
    trace = _Trace(objective, start, target, tol)
    (_run_adam if method == "adam" else _run_lbfgs)(trace, steps, lr)
    return trace.result(info={"optimiser": method, "lr": lr, "steps": steps, "nu0": start.tolist()})


def _checked_start(d: int, nu0, steps: int, lr: float | None, method: str) -> tuple[np.ndarray, float]:
    """The validated start nu (``D``) and step size of :func:`gradient_fit`."""
    start = np.full(d, 0.5) if nu0 is None else np.asarray(nu0, dtype=np.float64).reshape(-1)
    if start.shape != (d,) or not np.all(np.isfinite(start)) or np.any(start < 0) or np.any(start > 1):
        raise HearloopInputError(f"nu0 must be {d} values in [0, 1]; got {start}")
    if method not in GRADIENT_METHODS:
        raise HearloopInputError(f"unknown gradient method {method!r}; use one of {GRADIENT_METHODS}")
    lr = (1.0 if method == "lbfgs" else 0.15) if lr is None else float(lr)
    if steps < 1 or not lr > 0:
        raise HearloopInputError(f"steps must be >= 1 and lr > 0; got {steps}, {lr}")
    return start, lr


class _Trace:
    """logit(nu) as the optimised tensor ``z``, and every evaluated nu and loss in order."""

    def __init__(self, objective: NuFitObjective, start: np.ndarray, target: float | None, tol: float) -> None:
        p = np.clip(start, _EPS, 1 - _EPS)
        self.z = torch.tensor(np.log(p / (1 - p)), dtype=torch.float32, requires_grad=True)
        self.objective, self.target, self.tol = objective, target, tol
        self.points: list[np.ndarray] = []
        self.losses: list[float] = []

    def evaluate(self) -> torch.Tensor:
        nu = torch.sigmoid(self.z)
        loss = self.objective(nu)[0]
        self.points.append(nu.detach().double().numpy().copy())
        self.losses.append(float(loss.detach()))
        return loss

    def reached(self) -> bool:
        return self.target is not None and within_tolerance(self.losses[-1], self.target, self.tol)

    def result(self, info: dict) -> FitResult:
        losses = np.asarray(self.losses)
        best = int(np.argmin(losses))
        reached = bool(self.target is not None and within_tolerance(float(losses.min()), self.target, self.tol))
        return FitResult(
            method="gradient", nu=np.clip(self.points[best], 0.0, 1.0), loss=float(losses[best]),
            evaluations=len(losses), points=np.stack(self.points), losses=losses, target=self.target,
            reached=reached, info=info,
        )  # fmt: skip


def _run_adam(trace: _Trace, steps: int, lr: float) -> None:
    opt = torch.optim.Adam([trace.z], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        trace.evaluate().backward()
        if trace.reached():
            break
        opt.step()


def _run_lbfgs(trace: _Trace, steps: int, lr: float) -> None:
    opt = torch.optim.LBFGS(
        [trace.z], lr=lr, max_iter=steps, max_eval=steps, tolerance_grad=1e-7, tolerance_change=1e-9,
        history_size=10, line_search_fn="strong_wolfe",
    )  # fmt: skip

    def closure() -> torch.Tensor:
        if len(trace.losses) >= steps:  # the line search may ask for one more than max_eval
            raise _Reached
        opt.zero_grad()
        loss = trace.evaluate()
        loss.backward()
        if trace.reached():
            raise _Reached
        return loss

    try:
        opt.step(closure)
    except _Reached:
        pass


def target_loss(
    objective: NuFitObjective, starts: np.ndarray | None = None, steps: int = 40, seed: int = 0
) -> FitResult:
    """The animal's ground-truth-best nu and its loss (the target of the 2% rule): the best of L-BFGS fits run to
    convergence from several starts.

    Args:
        objective: the animal's loss.
        starts: ``S x D`` start points (default: the cube centre and two seeded uniform points).
        steps: loss evaluations per start.
        seed: seeds the default start points.

    Returns:
        The best run's :class:`FitResult` (``info["all_losses"]`` holds every run's best loss,
        ``info["target_evaluations"]`` the evaluations spent, which no fit is charged for).
    """
    if starts is None:
        rng = np.random.default_rng(seed)
        starts = np.vstack([np.full(objective.n_params, 0.5), rng.uniform(0.1, 0.9, (2, objective.n_params))])
    before = objective.evaluations
    runs = [gradient_fit(objective, s, steps=steps, method="lbfgs") for s in np.atleast_2d(starts)]
    spent = objective.evaluations - before
    objective.evaluations = before  # the target search is not part of any fit's evaluation count
    best = min(runs, key=lambda r: r.loss)
    best.info["all_losses"] = [r.loss for r in runs]
    best.info["target_evaluations"] = spent
    return best
