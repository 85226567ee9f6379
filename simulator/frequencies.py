"""Standard test frequencies (Hz) shared by the recordings, the listeners, audiometry and compensation.

A leaf module (imports nothing of hearloop), so every layer, ``audiometry`` included, may take its frequencies from
here.
"""

from __future__ import annotations

__all__ = ["ABR_FREQS_HZ"]

ABR_FREQS_HZ: tuple[int, ...] = (500, 1000, 2000, 4000, 8000)
"""Frequencies (Hz) at which ABR-like thresholds are given (recordings, ABRNet's nu, clinical audiograms of animals)."""
