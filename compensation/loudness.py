"""Output loudness: the A-weighted equivalent level L_Aeq (dB(A)), a differentiable loudness proxy for aided sound.

Hearing-aid strategies must be compared "at matched output loudness": a strategy that simply plays everything louder
can look better on audibility-driven criteria. hearloop measures loudness by the A-weighted equivalent continuous sound
level (IEC 61672-1:2013, the sound-level-meter standard),

    L_Aeq = 10 log10( mean_n (a * x)[n]^2 / p0^2 )   dB(A),   p0 = 20 uPa,

with ``a`` the A-weighting filter: the analogue IEC 61672 pole-zero set, four zeros at 0 Hz and poles at 20.598997,
107.65265, 737.86223 (single) and 12194.217 Hz (double), normalised to 0 dB at 1 kHz (``scipy.signal.freqs_zpk``).
A 1 kHz tone at L dB SPL reads L dB(A); a 100 Hz tone reads L - 19.1 dB(A); a 10 kHz tone L - 2.5 dB(A).

Computation. The weighted mean square is taken in the frequency domain (Parseval over one ``rfft`` of the whole
signal): sum_k w_k |A(f_k)|^2 |X_k|^2 / N^2, with w_k = 2 for the bins that stand for +-f_k and 1 for DC and Nyquist.
This is the level of the circularly weighted signal; it equals the time-domain L_Aeq up to edge effects of the first
few milliseconds and, crucially, is exactly quadratic in the signal: scaling audio by g changes L_Aeq by 20 log10 g dB.
So loudness matching is closed-form (:func:`match_loudness`) and the measure is differentiable (the DNN compensator's
loudness penalty, :func:`loudness_penalty`).

Why A-weighting rather than a full loudness model (Moore-Glasberg ANSI S3.4, Zwicker ISO 532-1): those are level- and
spectrum-dependent and non-linear in scale, so matching needs an iterative search per sound and their gradients are
awkward; A-weighting is the standard proxy for the loudness of moderate-level broadband sound, and what hearing-aid
output limits and noise-exposure rules are specified in. Its known bias: it under-weights low frequencies at high
levels. Silent input reads :data:`LEVEL_FLOOR_DB` rather than minus infinity.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.signal
import torch

from simulator.constants import REF_PRESSURE_PA, SAMPLE_RATE
from simulator.errors import HearloopInputError
from simulator.validation import validate_audio

__all__ = [
    "LEVEL_FLOOR_DB",
    "a_weighted_level",
    "a_weighting_db",
    "loudness_penalty",
    "match_loudness",
]

LEVEL_FLOOR_DB: float = -40.0
"""Levels are floored here (dB(A)); digital silence reads -40 dB(A) instead of -inf."""

_POLES_HZ = (20.598997, 20.598997, 107.65265, 737.86223, 12194.217, 12194.217)


def a_weighting_db(freqs_hz: np.ndarray | list[float]) -> np.ndarray:
    """A-weighting gain (dB) at ``freqs_hz`` (IEC 61672-1 analogue filter, 0 dB at 1 kHz); 0 Hz gives -inf."""
    f = np.asarray(freqs_hz, dtype=float)
    zeros = np.zeros(4)
    poles = -2.0 * np.pi * np.asarray(_POLES_HZ)

    def response(freq: np.ndarray) -> np.ndarray:
        _, h = scipy.signal.freqs_zpk(zeros, poles, 1.0, worN=2.0 * np.pi * np.atleast_1d(freq))
        return np.abs(h)

    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(response(f) / response(np.array([1000.0]))[0]).reshape(f.shape)


@functools.lru_cache(maxsize=16)
def _weights(n: int, sample_rate: float) -> torch.Tensor:
    """Parseval weights ``w_k |A(f_k)|^2 / n^2`` for an ``n``-point rfft (float64 numpy -> float32 tensor)."""
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    gain = np.zeros_like(freqs)
    gain[1:] = 10.0 ** (a_weighting_db(freqs[1:]) / 10.0)  # |A|^2; DC is blocked by the four zeros
    mult = np.full_like(freqs, 2.0)
    mult[0] = 1.0
    if n % 2 == 0:
        mult[-1] = 1.0
    return torch.tensor(mult * gain / float(n) ** 2, dtype=torch.float32)


def _weighted_mean_square(audio: torch.Tensor, sample_rate: float) -> torch.Tensor:
    spec = torch.fft.rfft(audio.to(torch.float32), dim=-1)
    power = spec.real.square() + spec.imag.square()
    return power @ _weights(audio.shape[-1], float(sample_rate)).to(audio.device)


def a_weighted_level(audio: torch.Tensor, sample_rate: float = SAMPLE_RATE) -> torch.Tensor:
    """L_Aeq of each sound, dB(A) re 20 uPa; differentiable.

    Args:
        audio: ``batch x samples`` pressure (Pa).
        sample_rate: Hz.

    Returns:
        ``batch`` levels in dB(A), floored at :data:`LEVEL_FLOOR_DB`.
    """
    audio = validate_audio(audio, min_samples=2)
    floor = (REF_PRESSURE_PA**2) * 10.0 ** (LEVEL_FLOOR_DB / 10.0)
    mean_square = _weighted_mean_square(audio, sample_rate)
    return 10.0 * torch.log10(torch.clamp(mean_square, min=floor) / REF_PRESSURE_PA**2)


def match_loudness(
    audio: torch.Tensor, target_db: torch.Tensor | float, sample_rate: float = SAMPLE_RATE, max_gain_db: float = 60.0
) -> torch.Tensor:
    """Scale each sound so its L_Aeq equals ``target_db`` (closed form: one broadband gain per sound).

    Args:
        audio: ``batch x samples`` (Pa); differentiable.
        target_db: ``batch`` (or scalar) target levels in dB(A).
        sample_rate: Hz.
        max_gain_db: the applied gain is clipped to +-max_gain_db (silence is not boosted without bound).

    Returns:
        ``batch x samples`` scaled audio (apply a strategy's output limiter afterwards if the peaks matter).
    """
    target = torch.as_tensor(target_db, dtype=torch.float32, device=audio.device)
    if not bool(torch.isfinite(target).all()):
        raise HearloopInputError("target loudness must be finite")
    gain_db = torch.clamp(target - a_weighted_level(audio, sample_rate), -max_gain_db, max_gain_db)
    return audio * torch.pow(10.0, gain_db / 20.0).reshape(-1, 1)


def loudness_penalty(
    aided: torch.Tensor,
    reference_db: torch.Tensor,
    tolerance_db: float = 1.0,
    scale_db: float = 10.0,
    sample_rate: float = SAMPLE_RATE,
) -> torch.Tensor:
    """Squared loudness deviation ``((|L_Aeq(aided) - ref| - tol)_+ / scale)^2`` per sound (``batch``); differentiable.

    Used by DNN training with ``reference_db`` the L_Aeq of the prescribed NAL-R output for the same sound and
    listener: within +-tolerance_db it is free, beyond it grows quadratically (10 dB over costs 1 at scale 10 dB), so
    the compensator cannot improve the objective by blasting (or by muting).
    """
    deviation = (a_weighted_level(aided, sample_rate) - reference_db.to(aided.device)).abs()
    return (torch.clamp(deviation - tolerance_db, min=0.0) / scale_db).square()
