"""Units and fixed sizes shared by every layer of hearloop.

Follows the conventions of [Pellatt2025]_ (nu-ICNet): audio at 24414.0625 Hz in pascals, neural activity in 1.31 ms bins
(a factor 32 below the audio rate) as multi-unit spike counts 0..4 (5 classes).

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from simulator.errors import HearloopInputError

SAMPLE_RATE: float = 24414.0625
"""Audio sample rate in Hz (the TDT rate used for the recordings)."""

DOWNSAMPLE: int = 32
"""Audio samples per neural time bin."""

BIN_RATE: float = SAMPLE_RATE / DOWNSAMPLE
"""Neural bin rate in Hz (762.939453125 Hz, i.e. 1.31 ms bins)."""

FRAME_SAMPLES: int = 8192
"""Audio samples per training/inference frame (256 bins)."""

CONTEXT_SAMPLES: int = 2048
"""Left-context audio samples prepended to each frame (64 bins), cropped from the latent."""

FRAME_BINS: int = FRAME_SAMPLES // DOWNSAMPLE
CONTEXT_BINS: int = CONTEXT_SAMPLES // DOWNSAMPLE

MAX_COUNT: int = 4
"""Largest multi-unit spike count per bin."""

N_CLASSES: int = MAX_COUNT + 1
"""Number of spike-count classes (0..4)."""

REF_PRESSURE_PA: float = 20e-6
"""Reference pressure for dB SPL: 1 Pa RMS is 93.98 dB SPL (94 dB by convention)."""

DEFAULT_N_PARAMS: int = 6
"""Default dimensionality D of the conditioning parameters nu."""


def db_spl_to_pa_rms(level_db_spl: float) -> float:
    """RMS pressure in Pa of a sound at ``level_db_spl`` dB SPL."""
    return REF_PRESSURE_PA * 10.0 ** (level_db_spl / 20.0)


def pa_rms_to_db_spl(rms_pa: float) -> float:
    """Level in dB SPL of a sound with RMS pressure ``rms_pa`` Pa (must be > 0)."""
    import math

    if not rms_pa > 0:
        raise HearloopInputError(f"RMS pressure must be positive to express in dB SPL, got {rms_pa!r}")
    return 20.0 * math.log10(rms_pa / REF_PRESSURE_PA)
