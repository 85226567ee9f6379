"""Trial selection of GP-PTA: Bayesian active learning by disagreement ([CoxDeVries2015]_, Sec. 4; [Houlsby2011]_).

BALD picks the stimulus (z, l) maximising the mutual information between the response y and the latent threshold t:

    I(z, l) = H[y | D] - E_{t ~ q(t | D)} H[y | t]                        (eq. (12) of [CoxDeVries2015]_)

with q(t(z) | D) = N(mu*(z), v*(z)) from the Laplace posterior. Two evaluations:

- ``bald_probit``: Houlsby's closed form for the pure probit model (eq. 13-15): h(Phi(x)) ~ exp(-x^2 / (pi ln 2)), so
  E H[y | t] ~ C / sqrt(v/sigma^2 + C^2) exp(-(l - mu)^2 / (2 (v + C^2 sigma^2))), C^2 = pi ln 2 / 2 (bits).
  For constant sigma it is maximised at l = mu* (App. C) and then I increases with v*, hence the fast rule of eq. (16):
  frequency = argmax v*(z), level = mu*(z).
- ``bald_quadrature``: the exact expression for any likelihood (lapse/false-alarm mixture, sigma per frequency), by
  quadrature that stays accurate both when sd >> sigma and when sd << sigma (see its docstring).

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.

.. [Houlsby2011]
    N. Houlsby, F. Huszar, Z. Ghahramani, M. Lengyel. Bayesian Active Learning for Classification and Preference
    Learning. arXiv:1112.5745, 2011.
"""

from __future__ import annotations

import numpy as np
from scipy.special import entr, ndtr

from audiometry.errors import AudiometryInputError
from audiometry.likelihood import ProbitLikelihood

_C2 = np.pi * np.log(2.0) / 2.0


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """h(p) in bits, safe at 0 and 1."""
    return (entr(p) + entr(1.0 - p)) / np.log(2.0)


def bald_probit(level: np.ndarray, mean: np.ndarray, var: np.ndarray, sigma: np.ndarray | float) -> np.ndarray:
    """Houlsby's approximation of BALD for p(heard) = Phi((l - t)/sigma), t ~ N(mean, var). Broadcasts; bits."""
    sigma2 = np.square(sigma)
    diff = np.asarray(level) - mean
    h_marg = binary_entropy(ndtr(diff / np.sqrt(sigma2 + var)))
    expected = np.sqrt(_C2 / (var / sigma2 + _C2)) * np.exp(-0.5 * diff**2 / (var + _C2 * sigma2))
    return h_marg - expected


def bald_quadrature(
    level: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    sigma: np.ndarray | float,
    likelihood: ProbitLikelihood,
    n_nodes: int = 32,
) -> np.ndarray:
    """BALD for the full response model (lapse, false alarms, any sigma) by quadrature over t ~ N(mean, var).

    h(p(t)) is split into a smooth step with a closed-form expectation plus a residual localised within a few sigma of
    the level: h(p(t)) = h(gamma) + (h(1 - lambda) - h(gamma)) Phi((l - t)/sigma) + r(t), and
    E[Phi((l - t)/sigma)] = Phi((l - mean)/sqrt(sigma^2 + var)). E[r] uses Gauss-Hermite nodes when sd <= sigma (r is
    smooth on the scale of the posterior) and a uniform trapezoid over l +/- 8 sigma otherwise (the posterior density is
    smooth on the scale of r); both are spectrally accurate, so the small differences BALD takes stay exact.

    Args:
        level, mean, var, sigma: broadcastable arrays (dB HL, dB HL, dB^2, dB); the result has their broadcast shape.
        likelihood: the response model. n_nodes: quadrature nodes per stimulus.

    Returns:
        Mutual information in bits.
    """
    level, mean, var, sigma = np.broadcast_arrays(
        np.asarray(level, float), np.asarray(mean, float), np.asarray(var, float), np.asarray(sigma, float)
    )
    shape = level.shape
    level, mean, var, sigma = (a.ravel() for a in (level, mean, var, sigma))
    sd = np.sqrt(var)
    h_lo = binary_entropy(np.array(likelihood.false_alarm))
    h_hi = binary_entropy(np.array(1.0 - likelihood.lapse))

    def resid(t: np.ndarray, lv: np.ndarray, sg: np.ndarray) -> np.ndarray:
        step = ndtr((lv - t) / sg)
        return binary_entropy(likelihood.false_alarm + likelihood.scale * step) - h_lo - (h_hi - h_lo) * step

    expected = h_lo + (h_hi - h_lo) * ndtr((level - mean) / np.sqrt(sigma**2 + var))
    narrow = sd <= sigma
    if narrow.any():
        x, w = np.polynomial.hermite.hermgauss(n_nodes)
        i = narrow
        t = mean[i, None] + np.sqrt(2.0) * sd[i, None] * x[None, :]
        expected[i] += resid(t, level[i, None], sigma[i, None]) @ (w / np.sqrt(np.pi))
    if (~narrow).any():
        i = ~narrow
        u = np.linspace(-8.0, 8.0, n_nodes)
        t = level[i, None] + sigma[i, None] * u[None, :]
        dens = np.exp(-0.5 * ((t - mean[i, None]) / sd[i, None]) ** 2) / (np.sqrt(2.0 * np.pi) * sd[i, None])
        expected[i] += np.sum(dens * resid(t, level[i, None], sigma[i, None]), axis=1) * sigma[i] * (u[1] - u[0])
    mi = binary_entropy(likelihood.predictive(level, mean, var, sigma)) - expected
    return mi.reshape(shape)


def select_stimulus(
    mean: np.ndarray,
    var: np.ndarray,
    sigma: np.ndarray,
    level_range: tuple[float, float],
    likelihood: ProbitLikelihood,
    method: str,
    weight: np.ndarray | None,
    rng: np.random.Generator,
    tie_tolerance: float,
    excluded: int | None,
    n_levels: int = 13,
) -> tuple[int, float, float]:
    """Pick the next (grid index, level) by BALD.

    Args:
        mean, var, sigma: (g,) posterior mean / variance of t and response noise SD on the frequency grid.
        level_range: safe (min, max) dB HL; candidate levels are clamped into it, so BALD is scored at presentable
            levels (a frequency whose threshold is far above max scores low instead of being repeated forever).
        method: "fast" (eq. 16: level = mu*, score = Houlsby BALD at the clamped mu*, which is monotone in v* when
            nothing is clamped) or "full" (quadrature BALD over a (frequency, level) grid of ``n_levels`` levels per
            frequency spanning mu* +/- 3 predictive SDs, plus mu* itself).
        weight: optional (g,) non-negative frequency weight multiplying the score (the paper's Sec. 4 remedy for
            sampling the band edges too often).
        rng: seeded generator breaking near-ties.
        tie_tolerance: candidates within this fraction of the best score tie; one is drawn uniformly by ``rng``.
        excluded: grid index not to repeat (set after ``max_repeats`` consecutive trials there), or None.

    Returns:
        (grid index, level dB HL, BALD score in bits).
    """
    lo, hi = level_range
    if method == "fast":
        levels = np.clip(mean, lo, hi)[:, None]
        scores = bald_probit(levels, mean[:, None], var[:, None], sigma[:, None])
    elif method == "full":
        spread = np.sqrt(np.square(sigma) + var)[:, None] * np.linspace(-3.0, 3.0, n_levels)[None, :]
        levels = np.clip(np.concatenate([mean[:, None], mean[:, None] + spread], axis=1), lo, hi)
        scores = bald_quadrature(levels, mean[:, None], var[:, None], sigma[:, None], likelihood)
    else:
        raise AudiometryInputError(f"unknown BALD method {method!r} (expected 'fast' or 'full')")
    best_level_idx = np.argmax(scores, axis=1)
    freq_scores = scores[np.arange(len(mean)), best_level_idx]
    if weight is not None:
        freq_scores = freq_scores * weight
    if excluded is not None and len(mean) > 1:
        freq_scores = freq_scores.copy()
        freq_scores[excluded] = -np.inf
    top = float(np.max(freq_scores))
    ties = np.flatnonzero(freq_scores >= top - tie_tolerance * abs(top))
    idx = int(ties[rng.integers(len(ties))]) if len(ties) > 1 else int(ties[0])
    return idx, float(levels[idx, best_level_idx[idx]]), float(freq_scores[idx])
