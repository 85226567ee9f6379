"""Response model of GP-PTA ([CoxDeVries2015]_, Sec. 2, eq. 2) with an optional lapse / false-alarm mixture (beyond the
paper).

p(heard | f, l) = gamma + (1 - gamma - lambda) Phi((l - t(z)) / sigma)

with t the latent threshold (dB HL), sigma the perceptual-noise SD (dB; may differ per trial when sigma depends on
frequency), lambda the lapse rate (a miss well above threshold) and gamma the false-alarm rate (a "heard" well below).
For both outcomes this is p_y = a_y + c Phi(v), with c = 1 - gamma - lambda, v = s_y (l - t) / sigma, s_y = +1 (heard)
or -1 (missed), a_heard = gamma and a_missed = lambda. With h(v) = log(a + c Phi(v)) and r = c phi(v) / p_y:
h' = r, h'' = -r (v + r), h''' = -r + r (v + r)(v + 2r); derivatives w.r.t. t follow with dv/dt = -s_y / sigma
(eq. 24 of the paper for gamma = lambda = 0). Everything runs in log space (``scipy.special.log_ndtr``) so extreme
levels neither overflow nor lose the gradient. With gamma or lambda > 0 the likelihood is not log-concave
(h'' > 0 far from threshold); the Laplace step handles that (``audiometry.laplace``).

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr, ndtr

from audiometry.errors import AudiometryInputError

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(frozen=True)
class ProbitLikelihood:
    """Probit psychometric function with lapse (lambda) and false-alarm (gamma) rates."""

    lapse: float = 0.0
    false_alarm: float = 0.0

    def __post_init__(self) -> None:
        for name in ("lapse", "false_alarm"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0.0 <= value < 0.5):
                raise AudiometryInputError(f"{name} must be in [0, 0.5), got {value}")

    @property
    def scale(self) -> float:
        """c = 1 - gamma - lambda."""
        return 1.0 - self.lapse - self.false_alarm

    def p_heard(self, level: np.ndarray, threshold: np.ndarray, sigma: np.ndarray | float) -> np.ndarray:
        """p(heard | t) for given true thresholds (dB HL), broadcast over all inputs."""
        return self.false_alarm + self.scale * ndtr((np.asarray(level) - threshold) / sigma)

    def predictive(self, level: np.ndarray, mean: np.ndarray, var: np.ndarray, sigma: np.ndarray | float) -> np.ndarray:
        """Eq. (8): p(heard) with t ~ N(mean, var) integrated out: gamma + c Phi((l - mean) / sqrt(sigma^2 + var))."""
        return self.false_alarm + self.scale * ndtr((np.asarray(level) - mean) / np.sqrt(np.square(sigma) + var))

    def derivatives(
        self, t: np.ndarray, level: np.ndarray, heard: np.ndarray, sigma: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-trial log-likelihood and its first three derivatives w.r.t. the latent threshold t.

        Args:
            t, level, sigma: (n,) latent threshold at each trial's frequency, presented level, noise SD (dB).
            heard: (n,) bool responses.

        Returns:
            log p, d/dt, d^2/dt^2, d^3/dt^3: each (n,).
        """
        sign = np.where(heard, 1.0, -1.0)
        a = np.where(heard, self.false_alarm, self.lapse)
        v = sign * (level - t) / sigma
        log_c = np.log(self.scale)
        with np.errstate(divide="ignore"):
            log_a = np.log(a)
        logp = np.logaddexp(log_a, log_c + log_ndtr(v))
        r = np.exp(log_c - 0.5 * v * v - _LOG_SQRT_2PI - logp)
        h2 = -r * (v + r)
        h3 = -r + r * (v + r) * (v + 2.0 * r)
        return logp, -sign / sigma * r, h2 / sigma**2, -sign / sigma**3 * h3
