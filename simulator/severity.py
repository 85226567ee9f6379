"""Severity classes of a hearing loss, by four-frequency pure-tone average: one table for every layer.

WHO 2021 grades of hearing loss by the PTA over 0.5, 1, 2 and 4 kHz (dB HL), with "severe" pooling moderately-severe
and worse (a virtual cohort rarely has enough of each to report them apart):

    NH < 20 <= mild < 35 <= moderate < 50 <= severe

"NH" also asks that every threshold of the audiogram lies within :data:`NH_LIMIT_DB_HL` (10 dB) of 0 dB HL: a PTA
below 20 dB HL can hide a high-frequency or notched loss of 30 dB HL or more, which is no normal-hearing listener.
Such listeners (PTA < 20, some threshold further than 10 dB from 0) form the class "slight". Virtual listeners
(``listeners``) and the compensation layer's listener records (``compensation.population``) both classify with
:func:`severity_stratum`, so a listener has the same stratum in a cohort summary, a strategy table and a fleet run.
For a virtual listener the audiogram is not the whole test: ``listeners.hearing_status.hearing_stratum`` (used by
``listeners.listener_stratum``) also classes a normal audiogram whose unaided neural response lies beyond the NH
training animals' as "slight" (a hidden, supra-threshold loss), so an NH listener is NH in audiogram and response.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simulator.errors import HearloopInputError

__all__ = ["NH_LIMIT_DB_HL", "STRATA", "severity_stratum"]

STRATA: dict[str, tuple[float, float]] = {
    "NH": (-np.inf, 20.0),
    "slight": (-np.inf, 20.0),
    "mild": (20.0, 35.0),
    "moderate": (35.0, 50.0),
    "severe": (50.0, np.inf),
}
"""Severity classes by four-frequency PTA in dB HL: [lower, upper). NH and slight share the PTA range and are told
apart by :data:`NH_LIMIT_DB_HL`."""

NH_LIMIT_DB_HL: float = 10.0
"""Largest distance (dB) of any audiogram threshold from 0 dB HL (the NH reference) for a listener to count as NH."""


def severity_stratum(pta_db_hl: float, thresholds_db_hl: Sequence[float] | np.ndarray | None = None) -> str:
    """Severity class ("NH", "slight", "mild", "moderate", "severe") of a listener.

    Args:
        pta_db_hl: four-frequency PTA (0.5, 1, 2, 4 kHz), dB HL.
        thresholds_db_hl: the audiogram, dB HL (any frequencies). A PTA below 20 dB HL is "NH" only if every threshold
            is within :data:`NH_LIMIT_DB_HL` of 0, otherwise "slight". Without an audiogram the PTA alone decides
            ("NH" for every PTA below 20).

    Raises:
        HearloopInputError: a non-finite PTA, or an empty or non-finite audiogram.
    """
    if not np.isfinite(pta_db_hl):
        raise HearloopInputError(f"PTA must be finite; got {pta_db_hl}")
    for name in ("mild", "moderate", "severe"):
        lo, hi = STRATA[name]
        if lo <= pta_db_hl < hi:
            return name
    if thresholds_db_hl is None:
        return "NH"
    thr = np.asarray(thresholds_db_hl, dtype=np.float64)
    if thr.size == 0 or not np.isfinite(thr).all():
        raise HearloopInputError(f"the audiogram must be non-empty and finite; got {thr.tolist()}")
    return "NH" if np.max(np.abs(thr)) <= NH_LIMIT_DB_HL else "slight"
