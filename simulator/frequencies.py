"""The standard test frequencies (Hz): one table for the recordings, the listeners, audiometry and compensation.

A leaf module (imports nothing of hearloop), so every layer, ``audiometry`` included, takes its frequencies from here.
Integers, so that ``{freq_hz: dB HL}`` audiograms print as clinics write them; a module that needs floats converts.
"""

from __future__ import annotations

__all__ = ["ABR_FREQS_HZ", "AUDIOGRAM_FREQS_HZ", "PTA_FREQS_HZ"]

AUDIOGRAM_FREQS_HZ: tuple[int, ...] = (250, 500, 1000, 2000, 3000, 4000, 6000, 8000)
"""The standard audiogram frequencies (Hz) every procedure reports and every listener's audiogram is measured at."""

PTA_FREQS_HZ: tuple[int, ...] = (500, 1000, 2000, 4000)
"""Frequencies (Hz) of the four-frequency pure-tone average (WHO 2021) that severity strata go by."""

ABR_FREQS_HZ: tuple[int, ...] = (500, 1000, 2000, 4000, 8000)
"""Frequencies (Hz) at which ABR-like thresholds are given (recordings, ABRNet's nu, clinical audiograms of animals)."""
