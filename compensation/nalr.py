"""NAL-R and NAL-RP insertion-gain prescriptions from an audiogram.

Implements the revised National Acoustic Laboratories formula (NAL-R) of [ByrneDillon1986]_ and its extension for
severe/profound losses (NAL-RP) of [Byrne1990]_ (tabulated in Byrne, Parkinson & Newall (1991), The Vanderbilt
Hearing-Aid Report II, pp. 295-300, and in H. Dillon (2012), Hearing Aids, 2nd ed., ch. 10).

NAL-R (real-ear insertion gain IG in dB at frequency f, thresholds H in dB HL):

    3FA  = (H500 + H1000 + H2000) / 3
    X    = 0.15 * 3FA                                                     (Byrne & Dillon 1986, eq. 1)
    IG_f = X + 0.31 * H_f + k_f,   k = {250: -17, 500: -8, 750: -3, 1000: 1, 1500: 1, 2000: -1,
                                        3000: -2, 4000: -2, 6000: -2}     (eq. 2)

NAL-RP (Byrne, Parkinson & Newall 1990):

    X    = 0.15 * 3FA + 0.2 * (3FA - 60)     when 3FA > 60 dB HL (66 % instead of 46 % of the 3FA slope above 60 dB)
    IG_f = X + 0.31 * H_f + k_f + p_f(H2000)  with the profound-loss correction p_f, non-zero when H2000 >= 95 dB HL:

        H2000  250  500  1000  1500  2000  3000  4000  6000
          95     4    3     0    -1    -2    -2    -2    -2
         100     6    4     0    -2    -3    -3    -3    -3
         105     8    5     0    -3    -5    -5    -5    -5
         110    11    7     0    -3    -6    -6    -6    -6
         115    13    8     0    -4    -8    -8    -8    -8
         120    15    9     0    -5    -9    -9    -9    -9

    p_f is linearly interpolated between rows (in H2000) and held at the 120 dB row above 120 dB HL. The table has no
    750 Hz column; p_750 is interpolated on log frequency between the 500 and 1000 Hz columns.

Conventions chosen here (documented deviations or completions of the papers):
- Negative prescribed gains are clipped at 0 dB (a hearing aid prescription never attenuates).
- Missing audiogram frequencies are linearly interpolated on log frequency. Outside the measured range the nearest
  measured threshold is held (flat extrapolation) -- but 500, 1000 and 2000 Hz, which form the 3FA, must lie within the
  measured range; otherwise a HearloopInputError is raised.
- ``variant="auto"`` uses NAL-RP when H2000 >= 95 dB HL (the profound-loss criterion of Byrne et al. 1990) and plain
  NAL-R otherwise, so ``nalr_gains`` stays the classic NAL-R for mild to severe losses. ``variant="nal-rp"`` applies
  both NAL-RP corrections whenever their conditions hold (e.g. the steeper 3FA slope for N5/N6, whose H2000 < 95).

References

.. [ByrneDillon1986]
    D. Byrne, H. Dillon. The National Acoustic Laboratories' (NAL) New Procedure for Selecting the Gain and Frequency
    Response of a Hearing Aid. Ear and Hearing 7(4):257-265, 1986.

.. [Byrne1990]
    D. Byrne, A. Parkinson, P. Newall. Hearing Aid Gain and Frequency Response Requirements for the
    Severely/Profoundly Hearing Impaired. Ear and Hearing 11(1):40-49, 1990.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from simulator.errors import HearloopInputError
from simulator.validation import check_audiogram

NALR_FREQS_HZ: tuple[int, ...] = (250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000)
"""Frequencies (Hz) at which NAL-R prescribes insertion gain."""

NALR_K_DB: dict[int, float] = {
    250: -17.0,
    500: -8.0,
    750: -3.0,
    1000: 1.0,
    1500: 1.0,
    2000: -1.0,
    3000: -2.0,
    4000: -2.0,
    6000: -2.0,
}
"""Frequency-dependent constants k_f (dB) of the NAL-R formula (Byrne & Dillon 1986)."""

NALRP_H2000_DB: tuple[float, ...] = (95.0, 100.0, 105.0, 110.0, 115.0, 120.0)
NALRP_FREQS_HZ: tuple[int, ...] = (250, 500, 1000, 1500, 2000, 3000, 4000, 6000)
NALRP_CORRECTION_DB: tuple[tuple[float, ...], ...] = (
    (4, 3, 0, -1, -2, -2, -2, -2),
    (6, 4, 0, -2, -3, -3, -3, -3),
    (8, 5, 0, -3, -5, -5, -5, -5),
    (11, 7, 0, -3, -6, -6, -6, -6),
    (13, 8, 0, -4, -8, -8, -8, -8),
    (15, 9, 0, -5, -9, -9, -9, -9),
)
"""NAL-RP profound-loss corrections p_f (dB): rows follow NALRP_H2000_DB, columns NALRP_FREQS_HZ."""

VARIANTS: tuple[str, ...] = ("auto", "nal-r", "nal-rp")

THREE_FA_FREQS_HZ: tuple[int, ...] = (500, 1000, 2000)
"""Frequencies (Hz) of NAL-R's three-frequency average: an audiogram must measure or bracket each of them."""


def _log_interp(x: Sequence[float], xp: Sequence[float], fp: Sequence[float]) -> np.ndarray:
    """Linear interpolation on log frequency, flat outside [xp[0], xp[-1]]."""
    return np.interp(np.log(np.asarray(x, dtype=float)), np.log(np.asarray(xp, dtype=float)), np.asarray(fp, float))


def _checked_audiogram(audiogram: Mapping[int | float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``{freq_hz: dB HL}`` (:func:`simulator.validation.check_audiogram`): sorted (freqs, thresholds)."""
    return check_audiogram(audiogram)


def interpolate_audiogram(
    audiogram: Mapping[int | float, float], freqs_hz: Sequence[float], *, require_3fa: bool = True
) -> np.ndarray:
    """Thresholds (dB HL) at ``freqs_hz``, interpolated on log frequency, held flat outside the measured range.

    Args:
        audiogram: ``{freq_hz: threshold dB HL}``; at least one entry.
        freqs_hz: frequencies to evaluate (Hz).
        require_3fa: raise unless 500, 1000 and 2000 Hz lie within the measured range (needed by NAL-R's 3FA).

    Returns:
        Array of shape ``len(freqs_hz)`` in dB HL.
    """
    freqs, levels = _checked_audiogram(audiogram)
    if require_3fa:
        missing = [f for f in THREE_FA_FREQS_HZ if not freqs[0] <= f <= freqs[-1]]
        if missing:
            raise HearloopInputError(
                f"audiogram at {[float(f) for f in freqs]} Hz cannot form the NAL-R three-frequency average: "
                f"{missing} Hz lie outside the measured range (500, 1000 and 2000 Hz must be measured or bracketed)"
            )
    return _log_interp(freqs_hz, freqs, levels)


def nalrp_profound_correction(h2000_db_hl: float, freqs_hz: Sequence[float] = NALR_FREQS_HZ) -> np.ndarray:
    """NAL-RP correction p_f (dB) for a 2 kHz threshold ``h2000_db_hl``; zeros below 95 dB HL.

    Rows are interpolated linearly in H2000 and held at 120 dB HL above; columns on log frequency.
    """
    table = np.asarray(NALRP_CORRECTION_DB, dtype=float)
    if h2000_db_hl < NALRP_H2000_DB[0]:
        return np.zeros(len(freqs_hz))
    row = np.array([np.interp(h2000_db_hl, NALRP_H2000_DB, table[:, j]) for j in range(table.shape[1])])
    return _log_interp(freqs_hz, NALRP_FREQS_HZ, row)


def resolve_variant(audiogram: Mapping[int | float, float], variant: str = "auto") -> str:
    """The formula ``nalr_gains`` uses: "nal-r" or "nal-rp" ("auto": NAL-RP iff H2000 >= 95 dB HL)."""
    if variant not in VARIANTS:
        raise HearloopInputError(f"unknown NAL-R variant {variant!r}; choose one of {list(VARIANTS)}")
    if variant != "auto":
        return variant
    h2000 = float(interpolate_audiogram(audiogram, [2000.0])[0])
    return "nal-rp" if h2000 >= NALRP_H2000_DB[0] else "nal-r"


def nalr_gains(audiogram: Mapping[int | float, float], variant: str = "auto") -> dict[int, float]:
    """NAL-R (or NAL-RP) real-ear insertion gain in dB at 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000 Hz.

    Args:
        audiogram: ``{freq_hz: threshold dB HL}``. Missing NAL-R frequencies are interpolated on log frequency
            (flat outside the measured range); 500, 1000 and 2000 Hz must be measured or bracketed.
        variant: "auto" (NAL-RP iff H2000 >= 95 dB HL), "nal-r" or "nal-rp".

    Returns:
        ``{freq_hz: gain_db}`` with gains clipped below at 0 dB.
    """
    formula = resolve_variant(audiogram, variant)
    h = interpolate_audiogram(audiogram, NALR_FREQS_HZ)
    by_freq = dict(zip(NALR_FREQS_HZ, h, strict=True))
    three_fa = (by_freq[500] + by_freq[1000] + by_freq[2000]) / 3.0
    x = 0.15 * three_fa  # Byrne & Dillon (1986), eq. 1
    k = np.array([NALR_K_DB[f] for f in NALR_FREQS_HZ])
    gains = x + 0.31 * h + k  # eq. 2
    if formula == "nal-rp":
        if three_fa > 60.0:  # Byrne, Parkinson & Newall (1990): steeper 3FA slope above 60 dB HL
            gains = gains + 0.2 * (three_fa - 60.0)
        gains = gains + nalrp_profound_correction(by_freq[2000])
    gains = np.maximum(gains, 0.0)  # no negative insertion gain
    return {f: float(g) for f, g in zip(NALR_FREQS_HZ, gains, strict=True)}


def nalr_gain_curve(
    audiogram: Mapping[int | float, float], freqs_hz: Sequence[float], variant: str = "auto"
) -> np.ndarray:
    """NAL-R gains (dB) interpolated on log frequency to ``freqs_hz`` (flat beyond 250 and 6000 Hz)."""
    gains = nalr_gains(audiogram, variant)
    return _log_interp(freqs_hz, NALR_FREQS_HZ, [gains[f] for f in NALR_FREQS_HZ])
