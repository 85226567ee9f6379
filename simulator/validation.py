"""Input validation shared by the public entry points: audio, conditioning parameters, sample rates, numbers with a
documented range, audiograms, and the memory a requested size would need.

One place per concern: every entry point that takes audio calls :func:`validate_audio`, every one that takes an
audiogram ``{freq_hz: dB HL}`` calls :func:`check_audiogram`, and every range below is the one documented for it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from simulator.constants import REF_PRESSURE_PA, SAMPLE_RATE
from simulator.errors import HearloopInputError
from simulator.validated_config import Constraint, Interval

MAX_PRESSURE_PA: float = 101325.0
"""Largest sound pressure (Pa, peak) hearloop takes: one atmosphere (194 dB SPL re 20 uPa). A sound wave in air cannot
swing below vacuum, so larger values mean the input is not pascals (counts, volts, or a scaling error)."""

SOUND_LEVEL_DB_SPL = Interval(float, 0.0, 120.0)
"""Presentation levels of sounds (dB SPL): from the threshold of hearing (0) to the threshold of discomfort (120)."""

AUDIBLE_FREQ_HZ = Interval(float, 20.0, 20000.0)
"""Frequencies (Hz) of the human audible range; audiogram frequencies must lie in it."""

HEARING_LEVEL_DB_HL = Interval(float, -20.0, 140.0)
"""Hearing thresholds (dB HL) an audiogram may hold: below the audiometer's -10 dB floor to beyond profound loss."""


def validate_audio(audio: torch.Tensor, *, name: str = "audio", min_samples: int = 1) -> torch.Tensor:
    """Check that ``audio`` is a finite real float tensor of shape ``batch x samples`` (Pa) and return it as float32.

    Raises:
        HearloopInputError: if it is not a tensor, not 2-D, too short, integer (samples must be converted to
            pascals first) or complex, holds NaN/inf, or peaks above :data:`MAX_PRESSURE_PA`.
    """
    if not isinstance(audio, torch.Tensor):
        raise HearloopInputError(f"{name} must be a torch.Tensor of shape (batch, samples), got {type(audio).__name__}")
    if audio.dim() != 2:
        raise HearloopInputError(
            f"{name} must have shape (batch, samples) in Pa; got {tuple(audio.shape)}. "
            "Use audio.unsqueeze(0) for a single sound."
        )
    if audio.shape[1] < min_samples:
        raise HearloopInputError(f"{name} has {audio.shape[1]} samples; at least {min_samples} are needed")
    if audio.is_complex():
        raise HearloopInputError(f"{name} is complex ({audio.dtype}); audio is a real sound pressure in Pa")
    if not audio.is_floating_point():
        raise HearloopInputError(
            f"{name} has dtype {audio.dtype}; convert the samples to pascals first (a float tensor, e.g. "
            "samples / 32768 * full_scale_pa for int16; simulator.load_audio does this for files)"
        )
    if not bool(torch.isfinite(audio).all()):
        n_bad = int((~torch.isfinite(audio)).sum())
        raise HearloopInputError(f"{name} contains {n_bad} non-finite values (NaN or inf)")
    peak = float(audio.detach().abs().max()) if audio.numel() else 0.0
    if peak > MAX_PRESSURE_PA:
        raise HearloopInputError(
            f"{name} peaks at {peak:.3g} Pa ({20 * math.log10(peak / REF_PRESSURE_PA):.0f} dB SPL), beyond the "
            f"{MAX_PRESSURE_PA:g} Pa (194 dB SPL) a sound in air can reach; audio must be in pascals"
        )
    return audio.to(torch.float32)


def validate_nu(nu: torch.Tensor, n_params: int, *, batch: int | None = None, name: str = "nu") -> torch.Tensor:
    """Check that ``nu`` has shape ``batch x n_params`` with every value in [0, 1] and return it as float32.

    Raises:
        HearloopInputError: on a wrong dimensionality D, a batch mismatch, NaN, or values outside [0, 1].
    """
    if not isinstance(nu, torch.Tensor):
        nu = torch.as_tensor(nu, dtype=torch.float32)
    if nu.dim() == 1:
        nu = nu.unsqueeze(0)
    if nu.dim() != 2:
        raise HearloopInputError(f"{name} must have shape (batch, D); got {tuple(nu.shape)}")
    if nu.shape[1] != n_params:
        raise HearloopInputError(f"{name} has D={nu.shape[1]} parameters but the model expects D={n_params}")
    if batch is not None and nu.shape[0] not in (1, batch):
        raise HearloopInputError(f"{name} has batch {nu.shape[0]}, expected 1 or {batch}")
    if not bool(torch.isfinite(nu).all()):
        raise HearloopInputError(f"{name} contains non-finite values")
    lo, hi = float(nu.min()), float(nu.max())
    if lo < 0.0 or hi > 1.0:
        raise HearloopInputError(f"{name} must lie in [0, 1]; got values in [{lo:.4g}, {hi:.4g}]")
    return nu.to(torch.float32)


def validate_sample_rate(rate: float, *, expected: float = SAMPLE_RATE, name: str = "sample rate") -> None:
    """Raise if ``rate`` differs from ``expected`` (Hz) by more than 1e-6 relative."""
    if not math.isclose(float(rate), expected, rel_tol=1e-6):
        raise HearloopInputError(
            f"{name} is {rate} Hz but hearloop audio must be at {expected} Hz; "
            "load files with simulator.load_audio(), which resamples"
        )


def check_number(value: Any, constraint: Constraint, name: str) -> Any:
    """Return ``value`` if it satisfies ``constraint`` (e.g. :data:`SOUND_LEVEL_DB_SPL`), else raise naming ``name``.

    Raises:
        HearloopInputError: ``{name} must be <what the constraint accepts>, got <value>``.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value not in constraint:
        raise HearloopInputError(f"{name} must be {constraint}, got {value!r}")
    return value


def check_audiogram(audiogram: Mapping[Any, Any], *, name: str = "audiogram") -> tuple[np.ndarray, np.ndarray]:
    """Validate ``{freq_hz: dB HL}`` and return its (frequencies, thresholds), sorted by frequency (float64).

    Keys must be numbers (not bools or strings) in :data:`AUDIBLE_FREQ_HZ`, values numbers in
    :data:`HEARING_LEVEL_DB_HL`, and no frequency may repeat.

    Raises:
        HearloopInputError: naming the offending entry.
    """
    if not isinstance(audiogram, Mapping) or len(audiogram) == 0:
        raise HearloopInputError(f"{name} must be a non-empty dict {{freq_hz: dB HL}}, got {audiogram!r}")
    items = []
    for freq, level in audiogram.items():
        f = float(check_number(freq, AUDIBLE_FREQ_HZ, f"{name} frequency {freq!r} (Hz)"))
        h = float(check_number(level, HEARING_LEVEL_DB_HL, f"{name} threshold at {f:g} Hz (dB HL)"))
        items.append((f, h))
    items.sort()
    freqs = np.array([f for f, _ in items])
    if len(np.unique(freqs)) != len(freqs):
        raise HearloopInputError(f"{name} has duplicate frequencies: {[f for f, _ in items]}")
    return freqs, np.array([h for _, h in items])


def available_memory_bytes() -> int | None:
    """Memory free for new allocations (``MemAvailable`` of /proc/meminfo, else free pages; None if unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def check_memory(n_items: int, bytes_per_item: int, name: str, *, error: type[Exception] = HearloopInputError) -> None:
    """Raise ``error`` naming ``name`` if ``n_items`` of ``bytes_per_item`` would not fit in the available memory."""
    available = available_memory_bytes()
    need = int(n_items) * int(bytes_per_item)
    if available is not None and need > available:
        raise error(
            f"{name} = {n_items} needs about {need / 2**30:.3g} GiB of memory ({bytes_per_item} bytes each) but "
            f"{available / 2**30:.3g} GiB are available"
        )
