"""Third-octave band levels of stationary sound, differentiable and batched: the input stage of ISO 532-1 loudness.

ISO 532-1:2017 (method 1, Zwicker's stationary loudness) starts from the levels of the 28 third-octave bands with
exact (base-10) mid-band frequencies f_k = 1000 * 10^(k/10) Hz, k = -16..11 (25 Hz to 12.5 kHz nominal). Each band is
the order-3 Butterworth band-pass of ANSI S1.11-1986 (the filters ``mosqito``, the reference implementation used in
the tests, designs): band edges f_k * 2^(-+1/6), design quality factor Q_d = (pi / 2N) / sin(pi / 2N) * Q_r (ANSI
S1.11 eq. 9, Q_r = f_k / (f2 - f1)), i.e. the analogue response

    |H_k(f)|^2 = 1 / (1 + (Q_d (f / f_k - f_k / f))^(2N)),   N = 3.                                         (1)

Computation. The band power is taken in the frequency domain (Parseval over one ``rfft`` of the whole sound):

    P_k = sum_j w_j |X_j|^2 |H_k(f_j)|^2 / n^2,   w_j = 2 except 1 for DC and Nyquist,                       (2)

and L_k = 10 log10(P_k / p0^2) dB SPL, p0 = 20 uPa. Like ISO 532-1's stationary method this is the level of the whole
sound (long-term spectrum); it is the steady-state response of the filter bank (no start-up transients) and exactly
quadratic in the signal, so scaling audio by g shifts every band by 20 log10 g dB. The weights are one ``K x 28``
matrix per (length, rate), cached; a batch of sounds costs one FFT and one matrix product.

Sample rates. Energy above the Nyquist frequency does not exist in sampled audio, so a rate must at least carry the
10 kHz band whole (upper edge 11.2 kHz): :data:`MIN_SAMPLE_RATE_HZ` = 22.4 kHz. At hearloop's 24414 Hz the 12.5 kHz
band sees only 11.2-12.2 kHz, where the ear's threshold is high; lower rates raise
:class:`LoudnessSampleRateError`.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from simulator.constants import REF_PRESSURE_PA, SAMPLE_RATE
from simulator.errors import HearloopInputError
from simulator.validation import validate_audio

__all__ = [
    "BAND_CENTRES_HZ",
    "FILTER_ORDER",
    "LEVEL_FLOOR_DB_SPL",
    "MIN_SAMPLE_RATE_HZ",
    "LoudnessSampleRateError",
    "band_response",
    "third_octave_levels",
]

BAND_CENTRES_HZ: tuple[float, ...] = tuple(1000.0 * 10.0 ** (k / 10.0) for k in range(-16, 12))
"""Exact mid-band frequencies of the 28 ISO 532-1 third-octave bands (nominal 25 Hz ... 12.5 kHz)."""

FILTER_ORDER: int = 3
"""Butterworth order N of each band filter (ANSI S1.11 order-3, as eq. 1)."""

MIN_SAMPLE_RATE_HZ: float = 2.0 * BAND_CENTRES_HZ[-2] * 2.0 ** (1.0 / 6.0)
"""Lowest supported sample rate (Hz): the Nyquist frequency must lie above the 10 kHz band's upper edge (22.4 kHz)."""

LEVEL_FLOOR_DB_SPL: float = -60.0
"""Band levels are floored here (dB SPL), far below any threshold of hearing; digital silence reads -60 dB."""


class LoudnessSampleRateError(HearloopInputError):
    """A loudness computation was asked for audio at a sample rate it does not support (below 22.4 kHz)."""


def check_sample_rate(sample_rate: float) -> float:
    """``sample_rate`` as a float, or :class:`LoudnessSampleRateError` (non-finite or below the minimum)."""
    rate = float(sample_rate)
    if not (np.isfinite(rate) and rate >= MIN_SAMPLE_RATE_HZ):
        raise LoudnessSampleRateError(
            f"loudness needs audio sampled at >= {MIN_SAMPLE_RATE_HZ:.0f} Hz (the 10 kHz third-octave band below "
            f"Nyquist); got {sample_rate} Hz (hearloop audio is at {SAMPLE_RATE} Hz)"
        )
    return rate


def band_response(freqs_hz: np.ndarray) -> np.ndarray:
    """Power response |H_k(f)|^2 of the 28 band filters (eq. 1) at ``freqs_hz`` (``F``) -> ``F x 28`` (0 at 0 Hz)."""
    f = np.asarray(freqs_hz, dtype=np.float64).reshape(-1, 1)
    fc = np.asarray(BAND_CENTRES_HZ).reshape(1, -1)
    half = np.pi / (2 * FILTER_ORDER)
    f1, f2 = fc * 2.0 ** (-1.0 / 6.0), fc * 2.0 ** (1.0 / 6.0)
    q_design = half / np.sin(half) * fc / (f2 - f1)
    with np.errstate(divide="ignore", invalid="ignore"):
        detune = np.where(f > 0, q_design * (f / fc - fc / np.where(f > 0, f, 1.0)), np.inf)
    return 1.0 / (1.0 + np.power(detune, 2 * FILTER_ORDER))


@functools.lru_cache(maxsize=16)
def _weights(n: int, sample_rate: float) -> torch.Tensor:
    """Parseval weights ``w_j |H_k(f_j)|^2 / n^2`` (eq. 2) for an ``n``-point rfft: ``(n // 2 + 1) x 28`` float32."""
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    mult = np.full(freqs.size, 2.0)
    mult[0] = 1.0
    if n % 2 == 0:
        mult[-1] = 1.0
    return torch.tensor(band_response(freqs) * (mult / float(n) ** 2)[:, None], dtype=torch.float32)


def third_octave_levels(audio: torch.Tensor, sample_rate: float = SAMPLE_RATE) -> torch.Tensor:
    """Levels of the 28 ISO 532-1 third-octave bands of each sound (eq. 2), dB SPL; differentiable.

    Args:
        audio: ``batch x samples`` pressure (Pa).
        sample_rate: Hz, at least :data:`MIN_SAMPLE_RATE_HZ`.

    Returns:
        ``batch x 28`` band levels (dB re 20 uPa), floored at :data:`LEVEL_FLOOR_DB_SPL`.

    Raises:
        LoudnessSampleRateError: for a sample rate below :data:`MIN_SAMPLE_RATE_HZ`.
        HearloopInputError: for audio that is not a finite ``batch x samples`` tensor.
    """
    rate = check_sample_rate(sample_rate)
    audio = validate_audio(audio, min_samples=2)
    spec = torch.fft.rfft(audio, dim=-1)
    power = (spec.real.square() + spec.imag.square()) @ _weights(audio.shape[-1], rate).to(audio.device)
    floor = REF_PRESSURE_PA**2 * 10.0 ** (LEVEL_FLOOR_DB_SPL / 10.0)
    return 10.0 * torch.log10(torch.clamp(power, min=floor) / REF_PRESSURE_PA**2)
