"""Midbrain (inferior colliculus) stage of the virtual IC: modulation-tuned multi-unit channels and spike counts.

IC neurons are tuned to amplitude-modulation rate (best modulation frequencies, BMFs, of a few to ~100 Hz; Langner &
Schreiner 1988; Joris, Schreiner & Rees 2004) and integrate over a small band of CFs. Each recording channel here is a
multi-unit cluster with:

- a CF position on the cochlear grid; its input is a Gaussian-weighted (sd 1 grid step, ~0.1 oct) sum of adapted AN
  activity around that position;
- a sustained component ``w_sust * base`` plus a modulation component ``w_mod * sum_j v_j relu(BP_j(base))``, where
  ``BP_j`` are 1-octave band-pass modulation filters at :data:`BMF_BANK_HZ` (4-64 Hz) and ``v`` is a log-Gaussian
  tuning curve around the channel's BMF;
- a 2 ms causal smoothing of the drive (temporal integration of the IC);
- a noise floor (soft threshold on the drive), a channel gain (times central gain after hearing loss, times recording
  degradation) and a spontaneous-rate bias.

Spike counts per 1.31 ms bin are ``Binomial(4, p)`` with ``p = P_MAX * sigmoid(gain * softplus(drive - floor) + bias)``,
so the 5 count classes 0..4 of nu-ICNet arise naturally and the expected count is ``4 p``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy import signal

from simulator.constants import BIN_RATE, MAX_COUNT
from simulator.errors import HearloopInputError
from simulator.virtual_ic.periphery import N_CF

BMF_BANK_HZ: np.ndarray = np.array([4.0, 8.0, 16.0, 32.0, 64.0])
P_MAX: float = 0.95
DRIVE_TAU_S: float = 0.002
FLOOR_WIDTH: float = 0.02
CF_SPREAD: float = 1.0  # grid steps


@dataclass
class MidbrainChannels:
    """Per-channel midbrain parameters, each a ``channels`` float array in recorded channel order."""

    cf_pos: np.ndarray  # fractional index on the CF grid
    bmf_hz: np.ndarray
    w_sust: np.ndarray
    w_mod: np.ndarray
    gain: np.ndarray
    bias: np.ndarray
    floor: np.ndarray

    @property
    def n_channels(self) -> int:
        return int(self.cf_pos.size)

    def to_dict(self) -> dict[str, list[float]]:
        return {f.name: [float(v) for v in getattr(self, f.name)] for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MidbrainChannels:
        return cls(**{f.name: np.asarray(d[f.name], dtype=np.float64) for f in fields(cls)})

    def take(self, order: np.ndarray) -> MidbrainChannels:
        """Channels reordered/subset by ``order``."""
        return MidbrainChannels(**{f.name: getattr(self, f.name)[order] for f in fields(self)})


def sample_channel_template(rng: np.random.Generator, n_channels: int, span: tuple[float, float] = (10.0, 60.0)):
    """The cohort's canonical probe: ``n_channels`` unit types spread tonotopically over grid ``span`` (~250-8000 Hz).

    Every animal is recorded with a jittered, shifted and shuffled copy of this template (see ``animal.py``), so that
    after channel alignment channel ``i`` means the same unit type in every animal, as nu-ICNet's shared decoder needs.
    """
    if n_channels < 1:
        raise HearloopInputError(f"n_channels must be >= 1, got {n_channels}")
    p_spont = rng.uniform(0.01, 0.05, n_channels)
    return MidbrainChannels(
        cf_pos=np.linspace(span[0], span[1], n_channels),
        bmf_hz=2.0 ** rng.uniform(2.0, 6.0, n_channels),
        w_sust=rng.uniform(0.5, 1.0, n_channels),
        w_mod=rng.uniform(0.5, 2.0, n_channels),
        gain=rng.uniform(12.0, 20.0, n_channels),
        bias=np.log(p_spont / (P_MAX - p_spont)),
        floor=rng.uniform(0.0, 0.03, n_channels),
    )


def cf_weights(cf_pos: np.ndarray, spread: float = CF_SPREAD) -> np.ndarray:
    """``channels x n_cf`` Gaussian integration weights (rows sum to 1) around each channel's grid position."""
    k = np.arange(N_CF)[None, :]
    w = np.exp(-0.5 * ((k - np.asarray(cf_pos)[:, None]) / spread) ** 2)
    return w / w.sum(axis=1, keepdims=True)


def bmf_tuning(bmf_hz: np.ndarray, width_oct: float = 0.7) -> np.ndarray:
    """``channels x n_bmf`` log-Gaussian weights (rows sum to 1) of each channel over :data:`BMF_BANK_HZ`."""
    z = np.log2(BMF_BANK_HZ[None, :] / np.asarray(bmf_hz)[:, None]) / width_oct
    v = np.exp(-0.5 * z**2)
    return v / v.sum(axis=1, keepdims=True)


_MOD_FILTERS = [signal.butter(1, [f / np.sqrt(2), f * np.sqrt(2)], "bandpass", fs=BIN_RATE) for f in BMF_BANK_HZ]
_SMOOTH = np.exp(-1.0 / (DRIVE_TAU_S * BIN_RATE))


def midbrain_drive(an: np.ndarray, ch: MidbrainChannels) -> np.ndarray:
    """Deterministic drive of every channel.

    Args:
        an: ``n_cf x bins`` adapted auditory-nerve activity.
        ch: channel parameters.

    Returns:
        ``channels x bins`` float64 drive (dimensionless, ~0..1).
    """
    base = cf_weights(ch.cf_pos) @ an.astype(np.float64)
    tuning = bmf_tuning(ch.bmf_hz)
    mod = np.zeros_like(base)
    for j, (b, a) in enumerate(_MOD_FILTERS):
        mod += tuning[:, j : j + 1] * np.maximum(signal.lfilter(b, a, base, axis=1), 0.0)
    drive = ch.w_sust[:, None] * base + ch.w_mod[:, None] * mod
    return signal.lfilter([1.0 - _SMOOTH], [1.0, -_SMOOTH], drive, axis=1)


def spike_probability(
    drive: np.ndarray, ch: MidbrainChannels, gain_scale: np.ndarray | float = 1.0, bias_shift: np.ndarray | float = 0.0
) -> np.ndarray:
    """Per-bin Binomial probability ``channels x bins`` from the drive.

    Args:
        drive: ``channels x bins`` output of :func:`midbrain_drive`.
        ch: channel parameters (gain, bias, floor).
        gain_scale: ``channels`` (or scalar) multiplier of the gain: central gain x recording degradation.
        bias_shift: ``channels`` (or scalar) added to the bias (spontaneous hyperactivity after loss).
    """
    above = FLOOR_WIDTH * np.logaddexp(0.0, (drive - ch.floor[:, None]) / FLOOR_WIDTH)
    above -= FLOOR_WIDTH * np.logaddexp(0.0, -ch.floor[:, None] / FLOOR_WIDTH)  # zero drive -> zero above floor
    x = (ch.gain * gain_scale)[:, None] * above + (ch.bias + bias_shift)[:, None]
    return P_MAX / (1.0 + np.exp(-x))


def sample_counts(p: np.ndarray, rng: np.random.Generator, n_trials: int = 1) -> np.ndarray:
    """Draw ``n_trials x channels x bins`` uint8 counts ``~ Binomial(MAX_COUNT, p)`` (independent per trial)."""
    return rng.binomial(MAX_COUNT, np.broadcast_to(p, (n_trials, *p.shape))).astype(np.uint8)
