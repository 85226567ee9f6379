"""Frequency warp of GP-PTA ([CoxDeVries2015]_, Sec. 3.1.1, eq. 3): the Bark scale of Wang, Sekey & Gersho (1991).

z = 6 asinh(f / 600), f in Hz, z in Bark. The GP prior on the threshold curve lives in z, where the smoothness of
hearing thresholds is closer to constant than on a linear (or even logarithmic) frequency axis.

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

import numpy as np

from audiometry.errors import AudiometryInputError
from simulator.frequencies import AUDIOGRAM_FREQS_HZ

#: The audiogram frequencies every procedure reports (Hz, floats): :data:`simulator.frequencies.AUDIOGRAM_FREQS_HZ`.
STANDARD_FREQS_HZ: tuple[float, ...] = tuple(float(f) for f in AUDIOGRAM_FREQS_HZ)


def hz_to_bark(freq_hz: np.ndarray | float) -> np.ndarray:
    """Warp frequency (Hz, any shape) to Bark, eq. (3): z = 6 asinh(f / 600)."""
    return 6.0 * np.arcsinh(np.asarray(freq_hz, dtype=float) / 600.0)


def bark_to_hz(z: np.ndarray | float) -> np.ndarray:
    """Inverse warp, Bark (any shape) to Hz: f = 600 sinh(z / 6)."""
    return 600.0 * np.sinh(np.asarray(z, dtype=float) / 6.0)


def check_freqs(freqs_hz: np.ndarray | float | list, name: str = "freqs_hz") -> np.ndarray:
    """Validate frequencies: finite and > 0 Hz. Returns a float64 1-D array (a scalar becomes shape (1,))."""
    arr = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    if arr.ndim != 1:
        raise AudiometryInputError(f"{name} must be a scalar or 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise AudiometryInputError(f"{name} must be finite, got {arr[~np.isfinite(arr)][:3].tolist()}")
    if np.any(arr <= 0):
        raise AudiometryInputError(f"{name} must be positive (Hz), got {arr[arr <= 0][:3].tolist()}")
    return arr


def check_freq_range(freq_range: tuple[float, float]) -> tuple[float, float]:
    """Validate a (low, high) frequency range in Hz."""
    lo, hi = (float(v) for v in check_freqs(list(freq_range), "freq_range"))
    if not lo < hi:
        raise AudiometryInputError(f"freq_range must be (low, high) with low < high, got {freq_range}")
    return lo, hi


def check_level_range(level_range: tuple[float, float]) -> tuple[float, float]:
    """Validate a (min, max) safe presentation range in dB HL."""
    lo, hi = (float(v) for v in level_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise AudiometryInputError(f"level_range must be finite (min, max) dB HL with min < max, got {level_range}")
    return lo, hi
