"""Preferential Bayesian optimisation from A/B comparisons: PairwiseGP + EUBO.

The listener's latent utility g(x) over the search box gets a GP prior; comparisons "A preferred to B" enter through the
probit likelihood P(A > B) = Phi((g(A) - g(B)) / (sqrt(2) lambda)) (Chu & Ghahramani 2005, "Preference learning with
Gaussian processes", ICML), fitted by a Laplace approximation and its marginal likelihood (botorch ``PairwiseGP``,
``PairwiseLaplaceMarginalLogLikelihood``). The next comparison maximises the expected utility of the best option,
EUBO(x1, x2) = E[max(g(x1), g(x2))] (Lin, Astudillo, Frazier & Bakshy 2022, "Preference exploration for efficient
Bayesian optimization with multiple outcomes", AISTATS, eq. 4; ``AnalyticExpectedUtilityOfBestOption``).

Two query designs:

* ``"incumbent"`` (default, the clinical A/B protocol "new setting vs. your current best"): x2 is the incumbent and
  x1 = argmax_x EUBO(x, incumbent) (EUBO's ``previous_winner``) over a trust region around the incumbent (below);
  after the answer the incumbent is the compared setting with the highest posterior mean utility, every answer so far
  weighed together (``incumbent_rule="all"``; ``"pair"`` only chooses between the last two);
* ``"pair"``: both settings chosen jointly, argmax_{x1, x2} EUBO(x1, x2).

Trust region (as in TuRBO, Eriksson et al. 2019, "Scalable global optimization via local Bayesian optimization",
NeurIPS): EUBO, like EI, favours the corners of the box while the GP knows little, and in more than two dimensions a far
setting almost always loses to a prescription that is already decent, which teaches the model little. The challenger
is therefore searched in a cube of side L (unit-cube units) centred on the incumbent: L grows by 1.5 after
``success_tolerance`` consecutive wins of the challenger and shrinks by 1.5 after ``failure_tolerance`` consecutive
losses, within [L_min, L_max]. Fine-tuning a fitting proceeds the same way in the clinic: small steps from the current
setting. Shrinking after every single loss (TuRBO's tolerances set to 1) collapses the region within a few answers
near a decent prescription, where most challengers lose, and stalls the session; benchmarks/bench_hitl.py measured
the defaults (failure tolerance 2, success tolerance 1, incumbent over all answers) against that on 48 listeners.

The first comparison pits the prescription against the first scrambled-Sobol point of the initial trust region.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.acquisition.preference import AnalyticExpectedUtilityOfBestOption
from botorch.models.likelihoods.pairwise import PairwiseProbitLikelihood
from botorch.models.pairwise_gp import PairwiseGP, PairwiseLaplaceMarginalLogLikelihood
from gpytorch.constraints import Interval
from gpytorch.kernels import RBFKernel, ScaleKernel
from gpytorch.priors import GammaPrior
from linear_operator.utils.errors import NotPSDError

from runners.hitl.bo_common import SessionOptimiser, fit_mll, maximise, single_threaded, sobol_points
from runners.hitl.feedback import PairwiseFeedback
from runners.hitl.problem import FittingProblem
from simulator.errors import HearloopInputError

QUERY_DESIGNS: tuple[str, ...] = ("incumbent", "pair")
INCUMBENT_RULES: tuple[str, ...] = ("all", "pair")

_SAME_POINT_ATOL = 1e-6


def preference_kernel(dim: int) -> ScaleKernel:
    """ARD RBF kernel for the latent utility on the unit cube, with bounded scales.

    The probit likelihood fixes the answer noise at 1, so the outputscale says how many noise units the utility spans.
    With a consistent listener the answers are nearly separable and maximum likelihood drives the outputscale to its
    bound (botorch's default allows 0.005..200), where the Laplace mode is ill-conditioned; a collapse to the lower end
    instead flattens the utility and turns EUBO into pure exploration. Here the outputscale is held in [0.5, 25]
    (utility SD 0.7 to 5 noise units; prior Gamma(2, 0.25), mode 4) and the lengthscales in [0.05, 3] (prior
    Gamma(3, 6), mode 1/3 of the box).
    """
    base = RBFKernel(
        ard_num_dims=dim,
        lengthscale_prior=GammaPrior(3.0, 6.0),
        lengthscale_constraint=Interval(0.05, 3.0, initial_value=1.0 / 3.0),
    )
    return ScaleKernel(
        base, outputscale_prior=GammaPrior(2.0, 0.25), outputscale_constraint=Interval(0.5, 25.0, initial_value=4.0)
    ).double()


class PairwiseBO(SessionOptimiser):
    """A/B preference session on a fitting problem.

    Args:
        problem: the fitting problem.
        feedback: the listener's preference answers (``feedback(x_a, x_b) -> bool``, True if A preferred).
        seed: seed of the first comparison and of the acquisition search.
        query: ``"incumbent"`` or ``"pair"`` (see the module docstring).
        trust_region: (initial, minimum, maximum) side of the challenger's trust region in unit-cube units; None
            searches the whole box.
        num_restarts, raw_samples: ``optimize_acqf`` effort per query.
        refit_all_until, refit_growth, fit_maxiter: the GP hyperparameters are refitted (at most ``fit_maxiter``
            L-BFGS-B iterations, warm-started) after each of the first ``refit_all_until`` comparisons, then on a
            geometric schedule (after comparison round(refit_all_until * refit_growth^j)); in between only the
            Laplace posterior is updated with the current hyperparameters. Each refit solves for the Laplace mode at
            every L-BFGS step (seconds with near-deterministic answers); the schedule keeps a query well under a
            second on average.
        failure_tolerance, success_tolerance: consecutive losses / wins of the challenger before the trust region
            shrinks / grows (module docstring).
        incumbent_rule: ``"all"`` (the compared setting with the highest posterior mean) or ``"pair"`` (the better of
            the last two by posterior mean; the plain champion/challenger rule).
    """

    mode = "pairwise"

    def __init__(
        self,
        problem: FittingProblem,
        feedback: PairwiseFeedback,
        *,
        seed: int = 0,
        query: str = "incumbent",
        trust_region: tuple[float, float, float] | None = (0.4, 0.05, 1.0),
        num_restarts: int = 4,
        raw_samples: int = 64,
        refit_all_until: int = 4,
        refit_growth: float = 1.4,
        fit_maxiter: int = 30,
        failure_tolerance: int = 2,
        success_tolerance: int = 1,
        incumbent_rule: str = "all",
    ) -> None:
        if query not in QUERY_DESIGNS:
            raise HearloopInputError(f"unknown pairwise query design {query!r}; choose one of {QUERY_DESIGNS}")
        super().__init__(problem, seed=seed, num_restarts=num_restarts, raw_samples=raw_samples)
        self.feedback, self.query = feedback, query
        self.refit_all_until, self.fit_maxiter = int(refit_all_until), int(fit_maxiter)
        if not refit_growth > 1:
            raise HearloopInputError(f"refit_growth must be > 1, got {refit_growth}")
        self._refit_schedule = {round(self.refit_all_until * refit_growth**j) for j in range(1, 40)}
        if trust_region is not None and not 0 < trust_region[1] <= trust_region[0] <= trust_region[2] <= 1:
            raise HearloopInputError(
                f"trust_region must be (initial, min, max) side lengths in (0, 1]; got {trust_region}"
            )
        self.trust_region = trust_region
        self.side = None if trust_region is None else float(trust_region[0])
        self.failure_tolerance, self.success_tolerance = int(failure_tolerance), int(success_tolerance)
        if incumbent_rule not in INCUMBENT_RULES:
            raise HearloopInputError(f"unknown incumbent rule {incumbent_rule!r}; choose one of {INCUMBENT_RULES}")
        if self.failure_tolerance < 1 or self.success_tolerance < 1:
            raise HearloopInputError(
                f"failure and success tolerances must be >= 1; got {failure_tolerance}, {success_tolerance}"
            )
        self.incumbent_rule = incumbent_rule
        self._wins = self._losses = 0
        self.points: list[torch.Tensor] = [self.cube.to_unit(problem.x0)]  # unit-cube coordinates
        self.comparisons: list[tuple[int, int]] = []  # (winner, loser) indices into points
        self.model: PairwiseGP | None = None
        self._incumbent = 0

    # ----------------------------------------------------------------------------------------------------- model
    def _index(self, z: torch.Tensor) -> int:
        """Index of ``z`` among the compared points, appending it if new."""
        for i, p in enumerate(self.points):
            if torch.allclose(p, z, atol=_SAME_POINT_ATOL, rtol=0.0):
                return i
        self.points.append(z.clone())
        return len(self.points) - 1

    def _fit(self, pair: tuple[int, int]) -> None:
        with single_threaded():
            self._fit_model(pair)

    def _fit_model(self, pair: tuple[int, int]) -> None:
        """Refit the preference GP (warm-started from the last fit) and update the incumbent.

        The incumbent becomes the compared setting with the highest posterior mean (``incumbent_rule="all"``), or, for
        the ``"incumbent"`` design with ``incumbent_rule="pair"``, whichever of the last pair (incumbent, challenger)
        has the higher posterior mean -- the plain champion/challenger rule; either way only among settings the
        listener found comfortable.
        """
        datapoints = torch.stack(self.points)
        comparisons = torch.tensor(self.comparisons, dtype=torch.long)
        m = len(self.comparisons)
        refit = self.model is None or m <= self.refit_all_until or m in self._refit_schedule
        for warm in (self.model is not None, False):  # a warm start that fails numerically falls back to the prior
            try:
                model = PairwiseGP(
                    datapoints,
                    comparisons,
                    likelihood=PairwiseProbitLikelihood(),
                    covar_module=preference_kernel(datapoints.shape[-1]),
                )
                if warm:  # hyperparameters move little between queries
                    model.covar_module.load_state_dict(self.model.covar_module.state_dict())
                if refit or not warm:
                    fit_mll(PairwiseLaplaceMarginalLogLikelihood(model.likelihood, model), maxiter=self.fit_maxiter)
                model.eval()
                with torch.no_grad():
                    mean = model.posterior(datapoints).mean.reshape(-1)
                break
            except NotPSDError:
                continue
        else:  # keep the previous model and incumbent rather than stopping the session
            return
        self.model = model
        among = pair if self.query == "incumbent" and self.incumbent_rule == "pair" else None
        best = self.best_comfortable(self.points, mean, among)
        if best is not None:  # else keep the incumbent: a setting the listener called too loud is never delivered
            self._incumbent = best

    def incumbent(self) -> torch.Tensor:
        return self.cube.from_unit(self.points[self._incumbent])

    # ----------------------------------------------------------------------------------------------------- queries
    def _bounds(self) -> torch.Tensor:
        """Acquisition bounds: the unit cube, or the trust region of side ``self.side`` around the incumbent."""
        if self.side is None:
            return self.cube.bounds
        centre = self.points[self._incumbent]
        lo = (centre - self.side / 2).clamp(0.0, 1.0)
        hi = (centre + self.side / 2).clamp(0.0, 1.0)
        return torch.stack([lo, hi])

    def _next_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        step_seed = self.seed * 100_003 + self.n_queries
        if self.model is None:
            b = self._bounds()
            return b[0] + sobol_points(self.problem.dim, 1, self.seed)[0] * (b[1] - b[0]), self.points[0]
        if self.query == "incumbent":
            winner = self.points[self._incumbent].reshape(1, -1)
            acqf = AnalyticExpectedUtilityOfBestOption(pref_model=self.model, previous_winner=winner)
            z = maximise(
                acqf, self._bounds(), q=1, num_restarts=self.num_restarts, raw_samples=self.raw_samples, seed=step_seed
            )
            return z[0], self.points[self._incumbent]
        acqf = AnalyticExpectedUtilityOfBestOption(pref_model=self.model)
        z = maximise(
            acqf, self._bounds(), q=2, num_restarts=self.num_restarts, raw_samples=self.raw_samples, seed=step_seed
        )
        return z[0], z[1]

    def _query(self) -> dict[str, Any]:
        z_a, z_b = self._next_pair()
        i_a, i_b = self._index(z_a), self._index(z_b)
        x_a, x_b = self.cube.from_unit(self.points[i_a]), self.cube.from_unit(self.points[i_b])
        a_wins = self.feedback(x_a, x_b)
        if i_a != i_b:  # a degenerate query (both the same setting) carries no information
            self.comparisons.append((i_a, i_b) if a_wins else (i_b, i_a))
        previous = self._incumbent
        if self.comparisons:
            self._fit((i_a, i_b))
        if self.side is not None and self.trust_region is not None:
            _, lo, hi = self.trust_region
            success = a_wins if self.query == "incumbent" else self._incumbent != previous
            self._wins, self._losses = (self._wins + 1, 0) if success else (0, self._losses + 1)
            if self._wins >= self.success_tolerance:
                self.side, self._wins = min(self.side * 1.5, hi), 0
            elif self._losses >= self.failure_tolerance:
                self.side, self._losses = max(self.side / 1.5, lo), 0
        return {"x_query": [x_a.tolist(), x_b.tolist()], "feedback": float(a_wins)}
