"""Formant-synthesis building blocks in the manner of Klatt's cascade/parallel synthesiser.

A digital resonator at frequency F with bandwidth BW (Hz), sampled at rate fs (T = 1 / fs), is the two-pole filter

    y[n] = A x[n] + B y[n-1] + C y[n-2],  C = -exp(-2 pi BW T),  B = 2 exp(-pi BW T) cos(2 pi F T),  A = 1 - B - C  (1)

with unity gain at 0 Hz [Klatt1980]_ (eq. 2 there); an antiresonator (a spectral zero, used for nasal murmurs) is its
inverse, the FIR ``y[n] = (x[n] - B x[n-1] - C x[n-2]) / A``. Formant tracks change every :data:`BLOCK` samples
(2.6 ms; Klatt updated parameters every 5 ms): the filter runs block by block with its state carried over, so a
moving formant glides without clicks.

The voiced source is a band-limited harmonic series with 1/k amplitudes (-6 dB/octave: the glottal -12 dB/octave
spectrum plus +6 dB/octave lip radiation, [Klatt1980]_ section I.B) following an f0 track; the noise source is white
Gaussian noise.

.. [Klatt1980] D. H. Klatt, "Software for a cascade/parallel formant synthesizer", Journal of the Acoustical Society
   of America 67(3):971-995, 1980.

Shapes: signals are ``(samples,)`` float64 at :data:`simulator.constants.SAMPLE_RATE`; formant tracks are
``(formants, blocks)`` in Hz.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from simulator.constants import SAMPLE_RATE

__all__ = ["BLOCK", "antiresonate", "cascade", "harmonic_source", "piecewise", "resonator_coefficients"]

BLOCK: int = 64
"""Samples per formant-parameter update (2.6 ms at SAMPLE_RATE)."""


def resonator_coefficients(freq_hz: np.ndarray, bandwidth_hz: np.ndarray) -> tuple[np.ndarray, ...]:
    """Eq. (1): the coefficients (A, B, C) of resonators at ``freq_hz`` with ``bandwidth_hz`` (arrays, same shape)."""
    t = 1.0 / SAMPLE_RATE
    c = -np.exp(-2.0 * np.pi * np.asarray(bandwidth_hz, dtype=float) * t)
    b = 2.0 * np.exp(-np.pi * np.asarray(bandwidth_hz, dtype=float) * t) * np.cos(2.0 * np.pi * np.asarray(freq_hz) * t)
    return 1.0 - b - c, b, c


def cascade(x: np.ndarray, formants_hz: np.ndarray, bandwidths_hz: np.ndarray) -> np.ndarray:
    """Pass ``x`` (``samples``) through resonators in cascade whose frequencies change every :data:`BLOCK` samples.

    Args:
        x: source signal, ``samples``.
        formants_hz: ``formants x blocks`` centre frequencies (Hz), ``blocks = ceil(samples / BLOCK)``; a single
            column is held for the whole signal.
        bandwidths_hz: bandwidths (Hz), same shape as ``formants_hz`` or ``formants x 1``.

    Returns:
        ``samples`` filtered signal (unity gain at 0 Hz per resonator).
    """
    n_blocks = -(-x.size // BLOCK)
    formants = np.broadcast_to(np.asarray(formants_hz, dtype=float), (len(formants_hz), n_blocks))
    bandwidths = np.broadcast_to(np.asarray(bandwidths_hz, dtype=float), formants.shape)
    a, b, c = resonator_coefficients(formants, bandwidths)
    y = np.asarray(x, dtype=float).copy()
    for k in range(formants.shape[0]):
        constant = np.all(formants[k] == formants[k, 0]) and np.all(bandwidths[k] == bandwidths[k, 0])
        if constant:
            y = signal.lfilter([a[k, 0]], [1.0, -b[k, 0], -c[k, 0]], y)
            continue
        out, state = np.empty_like(y), np.zeros(2)
        for j in range(n_blocks):
            seg = slice(j * BLOCK, min((j + 1) * BLOCK, y.size))
            # lfilter's direct-form-II-transposed state carries over when only the coefficients change.
            out[seg], state = signal.lfilter([a[k, j]], [1.0, -b[k, j], -c[k, j]], y[seg], zi=state)
        y = out
    return y


def antiresonate(x: np.ndarray, freq_hz: float, bandwidth_hz: float) -> np.ndarray:
    """A spectral zero at ``freq_hz``: the inverse of eq. (1) (an FIR, unity gain at 0 Hz); ``samples`` in and out."""
    a, b, c = resonator_coefficients(np.array(freq_hz), np.array(bandwidth_hz))
    return signal.lfilter(np.array([1.0, -float(b), -float(c)]) / float(a), [1.0], x)


def harmonic_source(f0_hz: np.ndarray, phase0: float = 0.0) -> np.ndarray:
    """A voiced source: harmonics k f0 below 0.45 fs with amplitude 1/k, following the per-sample f0 track.

    Args:
        f0_hz: ``samples`` fundamental frequency (Hz, > 0).
        phase0: starting phase (radians).

    Returns:
        ``samples`` source waveform (about unit RMS for a steady f0).
    """
    phase = phase0 + 2.0 * np.pi * np.cumsum(f0_hz) / SAMPLE_RATE
    n_harm = int(0.45 * SAMPLE_RATE / float(np.min(f0_hz)))
    out = np.zeros_like(phase)
    for k in range(1, n_harm + 1):
        out += np.where(k * f0_hz < 0.45 * SAMPLE_RATE, 1.0 / k, 0.0) * np.sin(k * phase)
    return out


def piecewise(times_s: list[float], values: list[float], n: int, step: int = 1) -> np.ndarray:
    """A piecewise-linear track through (``times_s``, ``values``), held flat outside, sampled every ``step`` samples
    of a ``n``-sample signal (``ceil(n / step)`` values)."""
    t = np.arange(0, n, step) / SAMPLE_RATE
    return np.interp(t, np.asarray(times_s, dtype=float), np.asarray(values, dtype=float))
