"""Group figures over listeners with 95 % bootstrap confidence intervals.

Listeners, not sounds, are the unit of replication: a per-listener figure (the mean over that listener's sounds or
tokens) is computed first, and intervals resample listeners. :func:`bootstrap_mean` gives the mean over listeners and
its bias-corrected and accelerated (BCa) bootstrap interval [Efron1987]_ from :func:`scipy.stats.bootstrap`;
:func:`paired_difference` does the same for a paired difference (strategy A minus B on the same listeners), the
interval that says whether A beats B.

.. [Efron1987] B. Efron, "Better bootstrap confidence intervals", Journal of the American Statistical Association
   82(397):171-185, 1987.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence

import numpy as np

from simulator.errors import HearloopInputError

__all__ = ["GroupMean", "bootstrap_mean", "paired_difference"]

N_RESAMPLES: int = 9999


@dataclasses.dataclass(frozen=True)
class GroupMean:
    """A mean over ``n`` listeners and its confidence interval (``low``, ``high``; NaN for fewer than 2 listeners)."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    def __str__(self) -> str:
        if not np.isfinite(self.low):
            return f"{self.mean:+.3f}"
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def bootstrap_mean(
    values: Sequence[float] | np.ndarray, *, confidence: float = 0.95, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> GroupMean:
    """Mean of per-listener ``values`` with its BCa bootstrap interval (seeded: the same values give the same interval).

    Raises:
        HearloopInputError: no values, a non-finite value, or a confidence outside (0, 1).
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise HearloopInputError(f"bootstrap needs finite per-listener values; got {x.tolist()}")
    if not 0.0 < confidence < 1.0:
        raise HearloopInputError(f"confidence must lie in (0, 1), got {confidence}")
    mean = float(x.mean())
    if x.size < 2:
        return GroupMean(mean, float("nan"), float("nan"), 1, confidence)
    if np.ptp(x) == 0.0:  # every listener the same: the interval is that value
        return GroupMean(mean, mean, mean, int(x.size), confidence)
    from scipy.stats import bootstrap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BCa's degenerate-jackknife warning for tiny groups; the CI is still returned
        res = bootstrap(
            (x,), np.mean, confidence_level=confidence, n_resamples=int(n_resamples), method="BCa",
            random_state=np.random.default_rng(seed),
        )  # fmt: skip
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (np.isfinite(low) and np.isfinite(high)):  # BCa undefined (e.g. 2 listeners): fall back to percentile
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = bootstrap(
                (x,), np.mean, confidence_level=confidence, n_resamples=int(n_resamples), method="percentile",
                random_state=np.random.default_rng(seed),
            )  # fmt: skip
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return GroupMean(mean, low, high, int(x.size), confidence)


def paired_difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, **kwargs) -> GroupMean:
    """:func:`bootstrap_mean` of ``a - b`` over the same listeners (paired; same order)."""
    x, y = np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise HearloopInputError(f"paired values need one value per listener on both sides; got {x.size} and {y.size}")
    return bootstrap_mean(x - y, **kwargs)
