"""Auditory periphery of the virtual IC: gammatone filterbank, OHC compression, IHC transduction, synapses, adaptation.

A deliberately compact, fast phenomenological cochlea in the tradition of Zilany/Bruce/Carney-style AN models, built so
that hearing loss acts through a few physiologically named parameters:

1. **Linear part, shared by all animals** (:func:`filterbank_features`, run once per sound): middle-ear gain per CF, a
   4th-order gammatone filterbank (``scipy.signal.gammatone``, normalised to 0 dB at CF) on :data:`CF_GRID_HZ`, then
   per CF (a) the inner-hair-cell waveform: half-wave rectification, 2nd-order 1 kHz low-pass (the IHC membrane; above
   the 381 Hz neural Nyquist, so bins keep only envelope and low-CF phase locking) and integration over each 32-sample
   neural bin; (b) the channel level in dB SPL: bin-mean power smoothed by a 3 ms one-pole (the OHC control path).
2. **OHC compression, per animal** (:func:`ohc_gain_db`): active gain ``g(L) = G - (1 - c) sp(L - K)`` (smooth
   broken stick: linear below the knee K = 30 dB SPL with gain G = 50 dB, c = 0.25 dB/dB above, no gain left by ~97 dB).
   OHC loss ``H_ohc`` scales the active gain by ``1 - H_ohc / G``: it raises threshold by ~H_ohc and makes the
   input/output function more linear (less compression), while loud sounds are barely affected (recruitment). The gain
   is slowly varying, so it multiplies the rectified waveform (``HWR(g x) = g HWR(x)``).
3. **IHC loss and recording drift**: a level-independent attenuation (dB) of the IHC drive.
4. **AN synapses**: high-spontaneous-rate fibres (low threshold, 22 dB dynamic range) and low-SR fibres (20 dB
   higher threshold, wide dynamic range) with sigmoidal rate-level functions in dB. Synaptopathy removes a fraction of
   the low-SR synapses: threshold (set by high-SR fibres) is unchanged, but growth at high levels and envelope coding in
   loud sounds (where high-SR fibres saturate) shrink -- "hidden" hearing loss.
5. **Adaptation**: fast (5 ms) and slow (80 ms) subtractive adaptation, ``a = r - 0.35 LP_5(r) - 0.15 LP_80(r)``: onsets
   are ~2x the steady state and offsets dip below it.

All filters are causal, so neural bin ``t`` depends only on audio up to the end of bin ``t``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import signal

from simulator.constants import BIN_RATE, DOWNSAMPLE, REF_PRESSURE_PA, SAMPLE_RATE

N_CF: int = 64
CF_GRID_HZ: np.ndarray = np.geomspace(125.0, 10000.0, N_CF)
"""Characteristic frequencies (Hz) of the shared cochlear grid (64 log-spaced CFs, ~0.1 octave apart)."""

OHC_MAX_GAIN_DB: float = 50.0
OHC_KNEE_DB_SPL: float = 30.0
OHC_COMPRESSION: float = 0.25  # dB/dB above the knee
HSR_MID_DB, HSR_SLOPE_DB = 64.0, 5.0  # high-SR fibre sigmoid midpoint / scale (dB re 20 uPa of IHC drive)
LSR_MID_DB, LSR_SLOPE_DB = 84.0, 8.0
HSR_WEIGHT, LSR_WEIGHT = 0.6, 0.4
ADAPT_FAST = (0.35, 0.005)  # (strength, time constant s)
ADAPT_SLOW = (0.15, 0.080)
THRESHOLD_CRITERION: float = 0.1
"""AN threshold criterion: rate reaching this fraction of the high-SR population's maximum."""

_ME_POINTS_HZ = np.array([125.0, 250.0, 500.0, 1000.0, 8000.0, 10000.0, 12000.0])
_ME_POINTS_DB = np.array([-20.0, -12.0, -6.0, 0.0, 0.0, -4.0, -8.0])


def middle_ear_gain_db(freq_hz: np.ndarray | float) -> np.ndarray:
    """Middle-ear/canal transfer in dB (0 dB over 1-8 kHz, falling below 1 kHz and above 8 kHz, gerbil-like)."""
    return np.interp(np.log2(freq_hz), np.log2(_ME_POINTS_HZ), _ME_POINTS_DB)


@lru_cache(maxsize=4)
def _gammatone_sos(n_cf: int = N_CF) -> tuple[np.ndarray, ...]:
    """Second-order sections of each CF's gammatone, scaled to unit gain at CF times the middle-ear gain."""
    out = []
    for cf in CF_GRID_HZ[:n_cf]:
        b, a = signal.gammatone(cf, "iir", fs=SAMPLE_RATE)
        sos = signal.tf2sos(b, a)
        _, h = signal.sosfreqz(sos, worN=[cf], fs=SAMPLE_RATE)
        sos[0, :3] *= 10.0 ** (middle_ear_gain_db(cf) / 20.0) / np.abs(h[0])
        out.append(sos)
    return tuple(out)


_IHC_LP = signal.butter(2, 1000.0, fs=SAMPLE_RATE, output="sos")
_LEVEL_TAU_S = 0.003


def _one_pole(x: np.ndarray, tau_s: float, axis: int = -1) -> np.ndarray:
    """Causal unit-DC-gain one-pole low-pass at BIN_RATE along ``axis``."""
    alpha = np.exp(-1.0 / (tau_s * BIN_RATE))
    return signal.lfilter([1.0 - alpha], [1.0, -alpha], x, axis=axis)


@dataclass
class PeripheralFeatures:
    """Animal-independent cochlear features of one sound at BIN_RATE.

    Attributes:
        rect_pa: ``n_cf x bins`` bin-mean of the rectified, IHC-low-passed filter output (Pa, after the middle ear).
        level_db: ``n_cf x bins`` smoothed channel level in dB SPL (the OHC control signal).
    """

    rect_pa: np.ndarray
    level_db: np.ndarray

    @property
    def n_bins(self) -> int:
        return int(self.rect_pa.shape[1])


def filterbank_features(audio: np.ndarray) -> PeripheralFeatures:
    """Run the shared linear cochlea on one sound.

    Args:
        audio: ``samples`` pressure in Pa at SAMPLE_RATE (trailing samples beyond a whole bin are ignored).

    Returns:
        :class:`PeripheralFeatures` with ``bins = samples // 32``.
    """
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    n_bins = x.size // DOWNSAMPLE
    x = x[: n_bins * DOWNSAMPLE]
    rect = np.empty((N_CF, n_bins))
    power = np.empty((N_CF, n_bins))
    for k, sos in enumerate(_gammatone_sos()):
        y = signal.sosfilt(sos, x)
        power[k] = np.mean(np.square(y).reshape(n_bins, DOWNSAMPLE), axis=1)
        ihc = signal.sosfilt(_IHC_LP, np.maximum(y, 0.0))
        rect[k] = ihc.reshape(n_bins, DOWNSAMPLE).mean(axis=1)
    level_db = 10.0 * np.log10(np.maximum(_one_pole(power, _LEVEL_TAU_S), 1e-30) / REF_PRESSURE_PA**2)
    return PeripheralFeatures(rect.astype(np.float32), level_db.astype(np.float32))


def ohc_gain_db(level_db: np.ndarray, ohc_loss_db: np.ndarray, width_db: float = 6.0) -> np.ndarray:
    """Active OHC gain (dB) at channel input level ``level_db`` for an OHC loss of ``ohc_loss_db`` (broadcasting).

    ``g = (1 - H/G) * sp_3(G - (1 - c) sp_w(L - K))`` with ``sp_w(x) = w log(1 + e^{x/w})`` a smooth ramp.
    """
    ramp = width_db * np.logaddexp(0.0, (level_db - OHC_KNEE_DB_SPL) / width_db)
    g_raw = OHC_MAX_GAIN_DB - (1.0 - OHC_COMPRESSION) * ramp
    g_normal = 3.0 * np.logaddexp(0.0, g_raw / 3.0)
    return (1.0 - np.asarray(ohc_loss_db) / OHC_MAX_GAIN_DB) * g_normal


def basilar_membrane_io_db(level_db: np.ndarray, ohc_loss_db: float | np.ndarray) -> np.ndarray:
    """Steady-state cochlear output level (dB) for channel input ``level_db`` dB SPL: ``L + g(L)``."""
    level_db = np.asarray(level_db, dtype=np.float64)
    return level_db + ohc_gain_db(level_db, ohc_loss_db)


def an_rate(drive_db: np.ndarray, synaptopathy: float | np.ndarray) -> np.ndarray:
    """Auditory-nerve population rate (0..1, saturated high-SR population = 0.6) for IHC drive in dB.

    Synaptopathy (fraction 0..1 of low-SR synapses lost) scales only the low-SR term.
    """
    hsr = 0.5 * (1.0 + np.tanh((drive_db - HSR_MID_DB) / (2.0 * HSR_SLOPE_DB)))
    lsr = 0.5 * (1.0 + np.tanh((drive_db - LSR_MID_DB) / (2.0 * LSR_SLOPE_DB)))
    return HSR_WEIGHT * hsr + LSR_WEIGHT * (1.0 - np.asarray(synaptopathy)) * lsr


def ihc_drive_db(
    features: PeripheralFeatures, ohc_loss_db: np.ndarray, ihc_loss_db: np.ndarray, extra_atten_db: float = 0.0
) -> np.ndarray:
    """IHC drive in dB re 20 uPa, ``n_cf x bins``: rectified waveform x OHC gain, minus IHC loss and drift."""
    gain_db = ohc_gain_db(features.level_db, np.asarray(ohc_loss_db)[:, None])
    rect_db = 20.0 * np.log10(np.maximum(features.rect_pa, 1e-12) / REF_PRESSURE_PA)
    return rect_db + gain_db - np.asarray(ihc_loss_db)[:, None] - extra_atten_db


def adapt(rate: np.ndarray) -> np.ndarray:
    """Fast + slow subtractive adaptation along the last (time) axis, causal."""
    (a_f, tau_f), (a_s, tau_s) = ADAPT_FAST, ADAPT_SLOW
    return rate - a_f * _one_pole(rate, tau_f) - a_s * _one_pole(rate, tau_s)


def auditory_nerve(
    features: PeripheralFeatures,
    ohc_loss_db: np.ndarray,
    ihc_loss_db: np.ndarray,
    synaptopathy: float,
    extra_atten_db: float = 0.0,
) -> np.ndarray:
    """Adapted AN population activity ``n_cf x bins`` (float32) of one animal for one sound."""
    rate = an_rate(ihc_drive_db(features, ohc_loss_db, ihc_loss_db, extra_atten_db), synaptopathy)
    return adapt(rate).astype(np.float32)


_RECT_DB_RE_RMS = 20.0 * np.log10(np.sqrt(2.0) / np.pi)  # mean of a half-wave-rectified sine re its RMS


def static_an_rate(
    level_db_spl: np.ndarray,
    ohc_loss_db: np.ndarray,
    ihc_loss_db: np.ndarray,
    synaptopathy: float = 0.0,
    extra_atten_db: float = 0.0,
) -> np.ndarray:
    """Steady-state (unadapted) AN rate to a tone at CF, ``levels x n_cf``, for tone levels ``level_db_spl``."""
    lev = np.asarray(level_db_spl, dtype=np.float64)[:, None] + middle_ear_gain_db(CF_GRID_HZ)[None]
    drive = lev + _RECT_DB_RE_RMS + ohc_gain_db(lev, np.asarray(ohc_loss_db)[None])
    return an_rate(drive - np.asarray(ihc_loss_db)[None] - extra_atten_db, synaptopathy)


def cochlear_thresholds_db_spl(
    ohc_loss_db: np.ndarray, ihc_loss_db: np.ndarray, extra_atten_db: float = 0.0, resolution_db: float = 0.05
) -> np.ndarray:
    """Tone threshold (dB SPL) at each CF of the grid: the level where the AN rate reaches the criterion."""
    levels = np.arange(-40.0, 160.0, resolution_db)
    rate = static_an_rate(levels, ohc_loss_db, ihc_loss_db, 0.0, extra_atten_db) / HSR_WEIGHT
    above = rate >= THRESHOLD_CRITERION
    idx = np.where(above.any(axis=0), above.argmax(axis=0), levels.size - 1)
    return levels[idx]
