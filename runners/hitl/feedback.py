"""The virtual listener's feedback during fine-tuning: noisy ratings and A/B preferences read from the neural objective.

The listener's latent percept of a setting x is its perceived quality q(x) = 1 - D(x) / D(unaided) minus the
discomfort of loudness above its comfort limit (:meth:`runners.hitl.problem.FittingProblem.quality`: 0 within the
comfort range, 1 at the uncomfortable level), perturbed by internal noise, so both ratings and comparisons penalise
sound that is too loud. Following Thurstone's law of comparative judgement (case V; Thurstone 1927) with internal noise
SD ``sigma`` per presentation (in units of q):

* ``rating`` (:class:`RatingFeedback`): an absolute judgement on a 0-100 scale, r = 100 (q(x) + e), e ~ N(0, sigma^2);
  real ratings are less reliable than comparisons, which ``rating_sigma`` (default 2 sigma, the usual test-retest
  penalty of category scales) expresses.
* ``pairwise`` (:class:`PairwiseFeedback`): A is preferred to B with the probit probability
  P(A > B) = gamma + (1 - 2 gamma) Phi((q(A) - q(B)) / (sqrt(2) sigma)), gamma a small lapse rate (random answers),
  i.e. the probit preference likelihood of Chu & Ghahramani (2005) that botorch's PairwiseGP assumes.

Every answer draws from a seeded numpy Generator, so a session replays exactly.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.stats import norm

from runners.hitl.problem import FittingProblem
from simulator.errors import HearloopInputError

DEFAULT_SIGMA: float = 0.01
"""Internal noise SD of the perceived quality (fidelity-restored units): a difference of 0.014 in q is preferred 84 %
of the time. Chosen so the virtual listener separates settings about as finely as real listeners separate hearing-aid
settings in paired comparisons (a few dB of band gain); see the benchmark report for the sensitivity to it."""


def _check_prob(name: str, value: float, upper: float) -> float:
    value = float(value)
    if not (0.0 <= value < upper):
        raise HearloopInputError(f"{name} must be in [0, {upper}), got {value}")
    return value


class PairwiseFeedback:
    """A/B preference answers from a probit on the quality difference.

    Args:
        problem: the fitting problem (gives q).
        sigma: internal noise SD per presentation (units of q); the difference noise is sqrt(2) sigma.
        lapse: probability of a random answer (split evenly between A and B).
        seed: seed of the answer noise.
    """

    def __init__(self, problem: FittingProblem, sigma: float = DEFAULT_SIGMA, lapse: float = 0.0, seed: int = 0):
        if not (np.isfinite(sigma) and sigma > 0):
            raise HearloopInputError(f"sigma must be > 0, got {sigma!r}")
        self.problem, self.sigma, self.lapse = problem, float(sigma), _check_prob("lapse", lapse, 0.5)
        self.rng = np.random.default_rng([int(seed), 0x9A1])

    def probability(self, q_a: np.ndarray | float, q_b: np.ndarray | float) -> np.ndarray:
        """P(A preferred to B) for qualities q_a, q_b (elementwise)."""
        z = (np.asarray(q_a, dtype=float) - np.asarray(q_b, dtype=float)) / (math.sqrt(2.0) * self.sigma)
        return self.lapse + (1.0 - 2.0 * self.lapse) * norm.cdf(z)

    def __call__(self, x_a: torch.Tensor, x_b: torch.Tensor) -> bool:
        """True when the listener prefers setting ``x_a`` (``k``) to ``x_b`` (``k``)."""
        q = self.problem.quality(torch.stack([torch.as_tensor(x_a), torch.as_tensor(x_b)]).double())
        return bool(self.rng.random() < float(self.probability(float(q[0]), float(q[1]))))


class RatingFeedback:
    """Noisy absolute ratings r = 100 (q(x) + e), e ~ N(0, rating_sigma^2).

    Args:
        problem: the fitting problem (gives q).
        rating_sigma: SD of the rating noise (units of q); None -> 2 x DEFAULT_SIGMA.
        seed: seed of the rating noise.
    """

    def __init__(self, problem: FittingProblem, rating_sigma: float | None = None, seed: int = 0):
        rating_sigma = 2.0 * DEFAULT_SIGMA if rating_sigma is None else rating_sigma
        if not (np.isfinite(rating_sigma) and rating_sigma >= 0):
            raise HearloopInputError(f"rating_sigma must be >= 0, got {rating_sigma!r}")
        self.problem, self.sigma = problem, float(rating_sigma)
        self.rng = np.random.default_rng([int(seed), 0x4A7])

    def __call__(self, x: torch.Tensor) -> float:
        """The listener's rating (0-100 scale, may leave it slightly through noise) of setting ``x`` (``k``)."""
        q = float(self.problem.quality(torch.as_tensor(x).double().reshape(1, -1))[0])
        return 100.0 * (q + self.sigma * float(self.rng.standard_normal()))
