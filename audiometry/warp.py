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


MAX_PRESENTATION_DB_HL: float = 120.0
"""Absolute ceiling of every presented tone (dB HL), whatever ``level_range`` a caller asks for: the top of the
air-conduction hearing-level range of a clinical (Type 1) audiometer, IEC 60645-1:2017 / ANSI S3.6-2018, 120 dB HL
at 0.5-4 kHz. Tones beyond it risk acoustic trauma and no clinical audiometer can present them."""

MIN_PRESENTATION_DB_HL: float = -10.0
"""Absolute floor of presented tones (dB HL): the lowest hearing level of clinical audiometers (IEC 60645-1 /
ANSI S3.6); a threshold estimated below it lies outside the tested range and is flagged (``Audiogram.below_range``)."""


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


def check_freq(freq_hz: object, name: str = "freq_hz") -> float:
    """Validate ONE frequency (a number, finite and > 0 Hz); a list or array is refused, never cut to its first item."""
    if isinstance(freq_hz, bool) or np.ndim(freq_hz) != 0:
        raise AudiometryInputError(f"{name} must be one frequency in Hz (a number), got {freq_hz!r}")
    return float(check_freqs(freq_hz, name)[0])


def check_level_range(level_range: tuple[float, float]) -> tuple[float, float]:
    """Validate a (min, max) safe presentation range in dB HL: finite, min < max, and inside the absolute limits
    [:data:`MIN_PRESENTATION_DB_HL`, :data:`MAX_PRESENTATION_DB_HL`] that no procedure may exceed."""
    try:
        lo, hi = (float(v) for v in level_range)
    except (TypeError, ValueError) as err:
        raise AudiometryInputError(f"level_range must be a (min, max) pair of dB HL, got {level_range!r}") from err
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise AudiometryInputError(f"level_range must be finite (min, max) dB HL with min < max, got {level_range}")
    if lo < MIN_PRESENTATION_DB_HL or hi > MAX_PRESENTATION_DB_HL:
        raise AudiometryInputError(
            f"level_range {level_range} leaves the absolute presentation limits [{MIN_PRESENTATION_DB_HL:g}, "
            f"{MAX_PRESENTATION_DB_HL:g}] dB HL (the hearing-level range of a clinical Type 1 audiometer, "
            "IEC 60645-1 / ANSI S3.6); no tone is ever presented outside them"
        )
    return lo, hi
