"""Audio file I/O and resampling to the nu-ICNet rate, with an explicit digital-to-pascal calibration.

The nu-ICNet recordings of [Pellatt2025]_ were made with sounds played at 24414.0625 Hz (a TDT rate, 390625/16 Hz), and
hearloop's audio convention is float32 ``batch x samples`` tensors in pascals at that rate (README "Units").

Calibration: digital samples are unitless, so a file needs a stated level. The convention here is that of AES17 dBFS: a
full-scale sine (peak 1.0, RMS 1/sqrt(2)) is ``full_scale_db_spl`` dB SPL, i.e. the sample value 1.0 is
sqrt(2) * 20 uPa * 10^(full_scale_db_spl / 20) Pa. The default, :data:`DEFAULT_FULL_SCALE_DB_SPL` = 100 dB SPL (1.0 ->
2.83 Pa), places typically mastered material (speech or music at -20 to -30 dBFS RMS) at 70-80 dB SPL, the range used
for the IC recordings. To present a file at a chosen level instead, pass ``level_db_spl`` (RMS of the whole file).

Files are read and written with soundfile (WAV, FLAC, OGG, AIFF, ...); resampling is scipy.signal.resample_poly with an
exact rational ratio.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import math
import os
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from scipy import signal

from simulator.atomic_io import atomic_write
from simulator.constants import SAMPLE_RATE, db_spl_to_pa_rms
from simulator.errors import HearloopInputError, MissingFileError

__all__ = [
    "DEFAULT_FULL_SCALE_DB_SPL",
    "RATE_TOLERANCE_HZ",
    "full_scale_pa",
    "load_audio",
    "rational_ratio",
    "resample",
    "save_audio",
]

DEFAULT_FULL_SCALE_DB_SPL: float = 100.0
"""Level in dB SPL of a full-scale digital sine (AES17 0 dBFS); see the module docstring."""

RATE_TOLERANCE_HZ: float = 0.5
"""Rates closer than this are the same rate. File headers store integer rates, so SAMPLE_RATE is written as 24414 Hz and
read back as SAMPLE_RATE without resampling."""

DEFAULT_MAX_DENOMINATOR: int = 1 << 17
"""Largest up/down factor of a resampling ratio before it is approximated (covers every common rate up to 192 kHz)."""


def full_scale_pa(full_scale_db_spl: float = DEFAULT_FULL_SCALE_DB_SPL) -> float:
    """Pressure in Pa of the digital sample value 1.0 (peak of a full-scale sine at ``full_scale_db_spl`` dB SPL)."""
    if not math.isfinite(full_scale_db_spl):
        raise HearloopInputError(f"full_scale_db_spl must be finite, got {full_scale_db_spl}")
    return math.sqrt(2.0) * db_spl_to_pa_rms(full_scale_db_spl)


def _same_rate(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) <= RATE_TOLERANCE_HZ


def rational_ratio(from_rate: float, to_rate: float, max_denominator: int = DEFAULT_MAX_DENOMINATOR) -> tuple[int, int]:
    """Smallest (up, down) with up/down = to_rate/from_rate, for resample_poly.

    Rates are converted to fractions exactly (24414.0625 = 390625/16 exactly in binary floating point), so e.g. 44.1 kHz
    -> SAMPLE_RATE is 15625/28224 and 48 kHz -> SAMPLE_RATE is 3125/6144, with no rate error. Only if up or down would
    exceed ``max_denominator`` (odd rates such as 44100.7 Hz, whose binary fractions are huge) is the ratio replaced by
    the closest fraction with denominator <= max_denominator (Fraction.limit_denominator); a warning gives the relative
    rate error, which is then below ~1/max_denominator^2.
    """
    for name, rate in (("from_rate", from_rate), ("to_rate", to_rate)):
        if not (math.isfinite(rate) and rate > 0):
            raise HearloopInputError(f"{name} must be a positive finite rate in Hz, got {rate}")
    ratio = Fraction(float(to_rate)) / Fraction(float(from_rate))
    if max(ratio.numerator, ratio.denominator) > max_denominator:
        approx = ratio.limit_denominator(max_denominator)
        rel_err = abs(float(approx / ratio) - 1.0)
        warnings.warn(
            f"resampling {from_rate} Hz -> {to_rate} Hz with the approximate ratio {approx} "
            f"(relative rate error {rel_err:.2e})",
            stacklevel=3,
        )
        ratio = approx
    return ratio.numerator, ratio.denominator


def resample(audio: Any, from_rate: float, to_rate: float, *, max_denominator: int = DEFAULT_MAX_DENOMINATOR) -> Any:
    """Resample along the last axis with scipy.signal.resample_poly (Kaiser-windowed polyphase FIR, zero padding).

    scipy's default anti-aliasing filter (Kaiser beta = 5, 20 * max(up, down) + 1 taps) has a passband ripple of about
    0.2 % (0.02 dB) and rolls off from ~85 % of the lower Nyquist frequency to -6 dB at it. The output is
    time-aligned with the input (zero-phase): sample k of the output lies at k / to_rate seconds.

    Args:
        audio: ``... x samples`` numpy array or torch tensor (any device).
        from_rate, to_rate: rates in Hz (see :func:`rational_ratio` for how the ratio is formed).
        max_denominator: limit on the up/down factors.

    Returns:
        The resampled signal, ``... x ceil(samples * to_rate / from_rate)``, of the input's type, dtype and device.
        Rates within :data:`RATE_TOLERANCE_HZ` return the input unchanged.
    """
    if _same_rate(from_rate, to_rate):
        return audio
    up, down = rational_ratio(from_rate, to_rate, max_denominator)
    if isinstance(audio, torch.Tensor):
        x = audio.detach().cpu().numpy().astype(np.float64, copy=False)
        y = signal.resample_poly(x, up, down, axis=-1)
        return (
            torch.from_numpy(y).to(dtype=audio.dtype if audio.is_floating_point() else torch.float32).to(audio.device)
        )
    x = np.asarray(audio)
    out_dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    return signal.resample_poly(x.astype(np.float64, copy=False), up, down, axis=-1).astype(out_dtype, copy=False)


def load_audio(
    path: str | os.PathLike,
    *,
    expected_rate: float | None = None,
    full_scale_db_spl: float = DEFAULT_FULL_SCALE_DB_SPL,
    level_db_spl: float | None = None,
    max_denominator: int = DEFAULT_MAX_DENOMINATOR,
) -> tuple[torch.Tensor, float]:
    """Read an audio file as a ``1 x samples`` float32 tensor in Pa at SAMPLE_RATE.

    Multichannel files are mixed to mono by averaging the channels (so identical left/right channels keep their level);
    the model is monaural. Files at another rate are resampled with :func:`resample`.

    Args:
        path: any format soundfile reads (WAV, FLAC, OGG, AIFF, ...).
        expected_rate: if given, the rate (Hz) the caller says the file has; a file at another rate (beyond
            :data:`RATE_TOLERANCE_HZ`) is an error, not silently resampled.
        full_scale_db_spl: calibration, the level of a full-scale sine (see the module docstring).
        level_db_spl: if given, rescale the whole (resampled) file to this RMS level in dB SPL instead.
        max_denominator: limit on the resampling factors (see :func:`rational_ratio`).

    Returns:
        (audio ``1 x samples`` float32 Pa at SAMPLE_RATE, the file's original sample rate in Hz).

    Raises:
        FileNotFoundError: the file does not exist.
        HearloopInputError: unreadable or corrupt file, empty file, non-finite samples, a rate other than
            ``expected_rate``, or ``level_db_spl`` given for a silent file.
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"audio file not found: {p}")
    if not p.is_file():
        raise HearloopInputError(f"audio path is not a file: {p}")
    try:
        data, rate = sf.read(str(p), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, sf.SoundFileError, RuntimeError, TypeError, ValueError) as exc:
        raise HearloopInputError(f"cannot read audio file {p}: {exc}") from exc
    rate = float(rate)
    if expected_rate is not None and not _same_rate(rate, expected_rate):
        raise HearloopInputError(
            f"audio file {p} has a sample rate of {rate:g} Hz but {float(expected_rate):g} Hz was expected"
        )
    if data.shape[0] == 0:
        raise HearloopInputError(f"audio file {p} is empty (0 samples)")
    n_bad = int((~np.isfinite(data)).sum())
    if n_bad:
        raise HearloopInputError(f"audio file {p} contains {n_bad} non-finite samples (NaN or inf)")
    mono = data.mean(axis=1)
    if not _same_rate(rate, SAMPLE_RATE):
        mono = resample(mono, rate, SAMPLE_RATE, max_denominator=max_denominator)
    if level_db_spl is not None:
        rms = float(np.sqrt(np.mean(mono**2)))
        if not rms > 0:
            raise HearloopInputError(f"audio file {p} is silent; it cannot be scaled to {level_db_spl} dB SPL")
        pa = mono * (db_spl_to_pa_rms(float(level_db_spl)) / rms)
    else:
        pa = mono * full_scale_pa(full_scale_db_spl)
    return torch.from_numpy(pa.astype(np.float32)).unsqueeze(0), rate


def _default_subtype(fmt: str) -> str | None:
    if fmt in ("WAV", "WAVEX", "W64", "RF64", "AIFF", "CAF"):
        return "FLOAT"  # no clipping, exact round trip of float32 Pa
    if fmt == "FLAC":
        return "PCM_24"  # FLAC has no float subtype
    return None  # soundfile's default for the format


def save_audio(
    path: str | os.PathLike,
    audio: Any,
    *,
    sample_rate: float = SAMPLE_RATE,
    full_scale_db_spl: float = DEFAULT_FULL_SCALE_DB_SPL,
    file_rate: int | None = None,
    subtype: str | None = None,
) -> Path:
    """Write mono audio in Pa to a file; the inverse of :func:`load_audio` with the same ``full_scale_db_spl``.

    The file is written to a temporary name in the same folder and moved into place, so an interrupted write never
    leaves a truncated file at ``path``. File headers hold integer rates: SAMPLE_RATE is stored as 24414 Hz (which
    :func:`load_audio` reads back as SAMPLE_RATE); pass ``file_rate`` (e.g. 48000) to resample for other software.

    Args:
        path: destination; the format follows the extension (``.wav``, ``.flac``, ...).
        audio: ``samples`` or ``1 x samples`` pressure in Pa (numpy or torch).
        sample_rate: rate of ``audio`` in Hz.
        full_scale_db_spl: calibration (level of a full-scale sine).
        file_rate: if given, resample to this integer rate before writing.
        subtype: soundfile subtype; default ``FLOAT`` for WAV/AIFF-like formats, ``PCM_24`` for FLAC.

    Returns:
        The path written.

    Raises:
        HearloopInputError: wrong shape, non-finite samples, unknown extension, or samples beyond digital full scale
            with an integer subtype (they would clip; raise ``full_scale_db_spl`` or use a float subtype).
    """
    p = Path(path)
    x = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1 or x.size == 0:
        raise HearloopInputError(f"audio to save must be mono, shape (samples,) or (1, samples); got {x.shape}")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise HearloopInputError(f"audio to save to {p} contains non-finite samples (NaN or inf)")
    header_rate = round(sample_rate)
    if file_rate is not None:
        x = resample(x, sample_rate, float(file_rate))
        header_rate = int(file_rate)
    fmt = p.suffix.lstrip(".").upper()
    fmt = {"AIF": "AIFF", "OGA": "OGG"}.get(fmt, fmt)
    if fmt not in sf.available_formats():
        raise HearloopInputError(f"cannot infer an audio format from the extension of {p}; use .wav or .flac")
    subtype = subtype or _default_subtype(fmt)
    digital = x / full_scale_pa(full_scale_db_spl)
    peak = float(np.max(np.abs(digital)))
    if peak > 1.0 and (subtype or sf.default_subtype(fmt) or "").startswith("PCM"):
        raise HearloopInputError(
            f"audio peaks at {20 * math.log10(peak):.1f} dB above digital full scale and would clip in {subtype} "
            f"{p.name}; raise full_scale_db_spl (now {full_scale_db_spl}) or use a float subtype"
        )
    atomic_write(p, lambda tmp: sf.write(str(tmp), digital, header_rate, subtype=subtype, format=fmt))
    return p
