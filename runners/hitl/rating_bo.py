"""Bayesian optimisation from noisy ratings: SingleTaskGP + noisy log expected improvement.

Each query asks the listener to rate one setting. The ratings are modelled by a GP with a learned homoscedastic noise
level (botorch ``SingleTaskGP``, outcomes standardised, hyperparameters by maximum marginal likelihood; Rasmussen &
Williams 2006, ch. 5), and the next setting maximises the noisy expected improvement, which integrates over the
unknown noise-free value of the best rated setting (Letham, Karrer, Ottoni & Bakshy 2019, "Constrained Bayesian
optimization with noisy experiments", Bayesian Analysis), in its numerically robust log form (Ament, Daulton, Eriksson,
Balandat & Bakshy 2023, "Unexpected improvements to expected improvement", NeurIPS; ``qLogNoisyExpectedImprovement``).

Design: the prescription is rated first, then ``n_init`` scrambled-Sobol settings in the search box, then GP-guided
settings. The incumbent is the rated setting with the highest posterior mean (the best single rating is biased upward
by the noise) among those the listener found comfortable.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.sampling import SobolQMCNormalSampler
from gpytorch.mlls import ExactMarginalLogLikelihood

from runners.hitl.bo_common import SessionOptimiser, fit_mll, maximise, single_threaded, sobol_points
from runners.hitl.feedback import RatingFeedback
from runners.hitl.problem import FittingProblem
from simulator.errors import HearloopInputError


class RatingBO(SessionOptimiser):
    """Rating session on a fitting problem.

    Args:
        problem: the fitting problem.
        feedback: the listener's ratings (``feedback(x) -> float``, higher is better).
        seed: seed of the initial design, the QMC sampler and the acquisition search.
        n_init: Sobol settings rated after the prescription before the GP guides the search.
        mc_samples: QMC samples of the noisy EI.
        num_restarts, raw_samples: ``optimize_acqf`` effort per query.
    """

    mode = "rating"

    def __init__(
        self,
        problem: FittingProblem,
        feedback: RatingFeedback,
        *,
        seed: int = 0,
        n_init: int = 2,
        mc_samples: int = 64,
        num_restarts: int = 4,
        raw_samples: int = 64,
    ) -> None:
        if int(n_init) < 0 or int(mc_samples) < 1:
            raise HearloopInputError(f"need n_init >= 0 and mc_samples >= 1; got {n_init}, {mc_samples}")
        super().__init__(problem, seed=seed, num_restarts=num_restarts, raw_samples=raw_samples)
        self.feedback, self.n_init, self.mc_samples = feedback, int(n_init), int(mc_samples)
        self._init_points = sobol_points(problem.dim, max(self.n_init, 1), self.seed)
        self.z: list[torch.Tensor] = []
        self.ratings: list[float] = []
        self.model: SingleTaskGP | None = None
        self._incumbent: int | None = None

    def _fit(self) -> None:
        train_z = torch.stack(self.z)
        train_y = torch.tensor(self.ratings, dtype=torch.float64).reshape(-1, 1)
        with single_threaded():
            model = SingleTaskGP(train_z, train_y, outcome_transform=Standardize(m=1))
            fit_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            self.model = model.eval()
            with torch.no_grad():
                mean = self.model.posterior(train_z).mean.reshape(-1)
        best = self.best_comfortable(self.z, mean)
        if best is not None:  # the prescription, rated first, is comfortable: some setting always is
            self._incumbent = best

    def incumbent(self) -> torch.Tensor:
        if self._incumbent is None:
            return self.problem.x0.double().clone()
        return self.cube.from_unit(self.z[self._incumbent])

    def _next_point(self) -> torch.Tensor:
        n = len(self.z)
        if n == 0:
            return self.cube.to_unit(self.problem.x0)
        if n <= self.n_init or self.model is None:
            return self._init_points[(n - 1) % self._init_points.shape[0]]
        step_seed = self.seed * 100_003 + n
        acqf = qLogNoisyExpectedImprovement(
            model=self.model,
            X_baseline=torch.stack(self.z),
            sampler=SobolQMCNormalSampler(sample_shape=torch.Size([self.mc_samples]), seed=step_seed),
            prune_baseline=True,
        )
        z = maximise(
            acqf, self.cube.bounds, q=1, num_restarts=self.num_restarts, raw_samples=self.raw_samples, seed=step_seed
        )
        return z[0]

    def _query(self) -> dict[str, Any]:
        z = self._next_point()
        x = self.cube.from_unit(z)
        rating = self.feedback(x)
        self.z.append(z.clone())
        self.ratings.append(rating)
        if len(self.z) >= 2:
            self._fit()
        return {"x_query": [x.tolist()], "feedback": rating}
