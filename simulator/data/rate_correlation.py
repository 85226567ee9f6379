"""Threshold-invariant rate correlation: the ground cost of channel alignment between brains (nu-ICNet).

[Pellatt2025]_ ("Alignment between brains") align every animal to an NH reference by the channel permutation that
minimises the Wasserstein distance between the two recordings. With uniform mass on equally many channels that optimal
transport is an assignment problem (:mod:`simulator.data.alignment`); this module gives its ground cost ``C_ij``, how
unlike animal channel ``i`` is to reference channel ``j``.

**Why not the shape of the time course alone.** Hearing loss changes *which parts* of a sound drive a unit: an
impaired channel fires only where the sound at its CF exceeds its raised threshold, i.e. at the peaks of what the
same NH unit does. Normalised time courses (the ``"time_course"`` signature of :mod:`simulator.data.alignment`) then put
all the impaired channel's mass on those peaks, and many reference channels share them. Measured by
``benchmarks/bench_alignment.py`` (two virtual-IC cohorts, 32 channels, 90 s of training sound; median fraction of
channels matched to the right template unit):

| true loss (dB HL) | time-course W1 | rate correlation |
|---|---:|---:|
| < 20 | 1.00 | 1.00 |
| 20-35 | 0.75 | 1.00 |
| 35-50 | 0.62 | 0.91 |
| >= 50 | 0.16 | 0.61 |

**The cost.** Rates are the trial-mean counts smoothed over ``smooth_bins`` (5 ms) and concatenated over the shared
sounds. For each reference channel the rate is also *thresholded*, ``max(r_j - theta_q, 0)`` at its own quantiles
``q`` (0 = no threshold), standing for the same unit with a higher threshold. Then

    C_ij = 1 - max_q corr(r_i, max(r_j - theta_q(j), 0))

Pearson correlation ignores gain and baseline, so, as the paper requires, no scale information enters the match:
alignment only reorders channels.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import uniform_filter1d

from simulator.data.recording_types import SoundRecording
from simulator.errors import HearloopInputError

__all__ = ["DEFAULT_QUANTILES", "rate_correlation_cost", "smoothed_rates"]

DEFAULT_QUANTILES: tuple[float, ...] = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)
"""Quantiles of a reference channel's rate used as the thresholds ``theta_q`` (0: the rate itself)."""


def smoothed_rates(sounds: Sequence[SoundRecording], smooth_bins: int) -> np.ndarray:
    """Trial-mean counts, moving-averaged over ``smooth_bins``, concatenated over ``sounds``.

    Returns:
        ``channels x total_bins`` float32 (counts per bin).
    """
    parts = []
    for s in sounds:
        r = s.counts.astype(np.float32).mean(axis=0)
        parts.append(uniform_filter1d(r, smooth_bins, axis=1, mode="nearest") if smooth_bins > 1 else r)
    return np.concatenate(parts, axis=1)


def _standardise(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit RMS per row; a constant row becomes zeros (correlation 0 with everything)."""
    x = x - x.mean(axis=1, keepdims=True)
    rms = np.sqrt((x * x).mean(axis=1, keepdims=True))
    return np.where(rms > 1e-9, x / np.maximum(rms, 1e-9), 0.0).astype(np.float32)


def rate_correlation_cost(
    pairs: Sequence[tuple[SoundRecording, SoundRecording]],
    *,
    smooth_bins: int = 4,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> np.ndarray:
    """``channels x channels`` cost ``1 - max_q corr`` between animal channel ``i`` and reference channel ``j``.

    Args:
        pairs: ``(animal sound, reference sound)`` of the same audio; counts ``trials x channels x bins``.
        smooth_bins: moving-average width in bins of 1.31 ms (default 4, ~5 ms).
        quantiles: the reference-rate quantiles used as thresholds (module docstring), each in [0, 1).

    Returns:
        float64 costs in [0, 2]; 0 is a perfect (thresholded) linear match.
    """
    if not pairs:
        raise HearloopInputError("rate correlation needs at least one shared sound")
    if smooth_bins < 1:
        raise HearloopInputError(f"smooth_bins must be >= 1, got {smooth_bins}")
    qs = [float(q) for q in quantiles]
    if not qs or any(not 0.0 <= q < 1.0 for q in qs):
        raise HearloopInputError(f"quantiles must be a non-empty list of values in [0, 1), got {list(quantiles)}")
    animal = _standardise(smoothed_rates([a for a, _ in pairs], smooth_bins))
    reference = smoothed_rates([r for _, r in pairs], smooth_bins)
    n_bins = animal.shape[1]
    best = np.full((animal.shape[0], reference.shape[0]), -np.inf)
    for q in qs:
        theta = np.quantile(reference, q, axis=1, keepdims=True) if q > 0 else 0.0
        thresholded = _standardise(np.maximum(reference - theta, 0.0))
        best = np.maximum(best, (animal @ thresholded.T).astype(np.float64) / n_bins)
    return 1.0 - best
