"""Bayesian optimisation of an unseen animal's nu with the model frozen ([Pellatt2025]_, nu-ICNet, "Fitting nu to new
brains").

The paper fits nu to a new animal by Bayesian optimisation over the unit hypercube, starting from 4, 8 or 16 Sobol
points, and reports 15 to 35 loss evaluations to come within 2% of the target loss. Here (botorch):

1. ``n_init`` scrambled Sobol points in [0, 1]^D (seeded), evaluated in one batched call;
2. repeat: a ``SingleTaskGP`` (botorch default Matern-5/2 ARD kernel, standardised outcome) on (nu, -loss), fitted by
   marginal likelihood; ``LogExpectedImprovement`` (numerically stable EI) maximised by ``optimize_acqf`` with seeded
   restarts; evaluate the proposed nu;
3. stop as soon as the best loss is within ``tol`` of the target loss (:func:`listeners.fit_result.within_tolerance`,
   relative), or after ``max_evals`` evaluations.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import numpy as np
import torch

from listeners.fit_result import FitResult, within_tolerance
from simulator.errors import HearloopInputError

__all__ = ["SOBOL_STARTS", "bo_fit", "sobol_points"]

SOBOL_STARTS = (4, 8, 16)
"""Sobol start sizes used by the paper."""


def sobol_points(n: int, n_params: int, seed: int) -> torch.Tensor:
    """``n x D`` scrambled Sobol points in [0, 1]^D (float64), seeded."""
    engine = torch.quasirandom.SobolEngine(dimension=n_params, scramble=True, seed=seed)
    return engine.draw(n, dtype=torch.float64)


def _propose(x: torch.Tensor, loss: torch.Tensor, seed: int, num_restarts: int, raw_samples: int) -> torch.Tensor:
    """One LogEI proposal from the GP fitted to (x, -loss): ``1 x D`` in [0, 1]."""
    from botorch.acquisition.analytic import LogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    y = -loss.reshape(-1, 1)
    gp = SingleTaskGP(x, y, outcome_transform=Standardize(m=1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
    acq = LogExpectedImprovement(gp, best_f=y.max())
    d = x.shape[1]
    bounds = torch.stack([torch.zeros(d, dtype=x.dtype), torch.ones(d, dtype=x.dtype)])
    cand, _ = optimize_acqf(
        acq, bounds=bounds, q=1, num_restarts=num_restarts, raw_samples=raw_samples, options={"seed": seed}
    )
    return cand.detach().clamp(0.0, 1.0)


def _evaluate(objective, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.as_tensor(objective(x.numpy().astype(np.float32)), dtype=torch.float64).reshape(-1).cpu()


def bo_fit(
    objective,
    n_init: int = 8,
    max_evals: int = 40,
    target: float | None = None,
    tol: float = 0.02,
    seed: int = 0,
    num_restarts: int = 8,
    raw_samples: int = 256,
) -> FitResult:
    """Fit nu by Bayesian optimisation (module docstring).

    Args:
        objective: maps ``B x D`` nu in [0, 1] to ``B`` losses and has ``n_params`` (e.g. ``NuFitObjective``).
        n_init: Sobol start size (the paper uses 4, 8 or 16).
        max_evals: evaluation budget, Sobol start included.
        target: target loss of the stopping rule (None: run to the budget).
        tol: relative tolerance of the rule.
        seed: seeds the Sobol scramble, the GP fit and the acquisition restarts (same seed -> same fit).
        num_restarts, raw_samples: ``optimize_acqf`` settings.

    Returns:
        :class:`~listeners.fit_result.FitResult` with ``method="bo"``; every evaluated nu and loss is kept.
    """
    d = int(objective.n_params)
    if n_init < 1 or max_evals < n_init:
        raise HearloopInputError(f"need 1 <= n_init <= max_evals; got n_init={n_init}, max_evals={max_evals}")
    if target is not None and not np.isfinite(target):
        raise HearloopInputError(f"target must be finite; got {target}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        x = sobol_points(n_init, d, seed)
        loss = _evaluate(objective, x)

        def done() -> bool:
            return target is not None and within_tolerance(float(loss.min()), target, tol)

        while x.shape[0] < max_evals and not done():
            cand = _propose(x, loss, seed + x.shape[0], num_restarts, raw_samples)
            x, loss = torch.cat([x, cand]), torch.cat([loss, _evaluate(objective, cand)])
    best = int(torch.argmin(loss))
    return FitResult(
        method="bo",
        nu=x[best].numpy().copy(),
        loss=float(loss[best]),
        evaluations=int(x.shape[0]),
        points=x.numpy().copy(),
        losses=loss.numpy().copy(),
        target=target,
        reached=done(),
        info={"n_init": n_init, "seed": seed, "max_evals": max_evals},
    )
