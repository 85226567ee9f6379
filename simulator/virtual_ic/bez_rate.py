"""Expected discharge rates of BEZ2018 auditory-nerve fibres from their synaptic drive, and their mean over bins.

The package's ``mean_firing_rate`` applies the steady-state rate formula
``s / (s (t_abs + t_rd / 4 + t_rel) + 1)`` sample by sample along one random spike train's redocking times: it is
seed dependent, and for phase-locked drive (low CFs) far below the rate of the spikes the package generates
(PSTH over 40 seeds, HSR, 60 dB SPL CF tone: 98 vs 171 spikes/s at 500 Hz, 138 vs 175 at 2 kHz; equal at 4 kHz).
Here the spike generator's release sites are followed in expectation instead: each of the 4 sites, once docked,
releases at rate ``s / 4`` and redocks after a mean time ``t_rd`` that jumps 0.4 ms per redocking and relaxes to
14 ms with a 60 ms time constant; a release becomes a spike outside the refractory period.

``dD/dt = (1 - D) / t_rd - D s / 4``                      (1: docked fraction of the sites)
``R = D s``,  ``dt_rd/dt = -(t_rd - 14 ms) / 60 ms + 0.4 ms * 4 (1 - D) / t_rd``   (2: releases, redockings)
``r = R / (1 + <R> (t_abs + t_rel(s)))``, ``t_rel(s) = min(100 t_rel / s, t_rel)``   (3: refractoriness)

with ``<R>`` the release rate averaged over the past ``t_abs + t_rel / 2`` (1.0 ms), standing for the chance that a
release falls in the dead time of an earlier spike (phase-locked releases cluster). For constant drive this is
the package's formula. It is deterministic and follows the package's PSTH (HSR, 40 seeds, CF tones through the
level mapping, sustained / first-20-ms rate: 500 Hz 55 dB +4 % / +16 %, 500 Hz 25 dB +1 % / +10 %, 2 kHz 55 dB
-2 % / +7 %, 4 kHz 35 dB -1 % / +1 %; tested at 2 kHz); the redocking time is updated every 5 ms.

:func:`rate_to_bins` integrates a rate exactly onto hearloop's 1.31 ms bins (``BIN_RATE``), whose edges fall at
fractional model samples (131.072 at 100 kHz), by linear interpolation of its cumulative sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["HSR", "LSR", "Fibre", "expected_rate", "rate_to_bins"]

T_RD_REST_S, T_RD_JUMP_S, T_RD_TAU_S, N_SITES = 14.0e-3, 0.4e-3, 60.0e-3, 4
"""The package's redocking constants (resting mean redocking time, jump per redocking, decay, release sites)."""
MEAN_FIELD_BLOCK_S: float = 5.0e-3
"""Step of the mean-field redocking-time update (the redocking time changes with a 60 ms time constant)."""


@dataclass(frozen=True)
class Fibre:
    """An auditory-nerve fibre type: spontaneous-rate parameter (spikes/s) and refractory periods (s)."""

    name: str
    spont: float
    tabs_s: float = 0.7e-3
    trel_s: float = 0.6e-3


HSR = Fibre("hsr", 100.0)
LSR = Fibre("lsr", 0.1)


def expected_rate(drive: np.ndarray, fibres: list[Fibre], sample_rate_hz: int) -> np.ndarray:
    """Expected discharge rate (spikes/s) of fibres with synaptic drive ``drive`` (``rows x samples``), eqs. (1)-(3).

    Args:
        drive: ``rows x samples`` synaptic release rate from :func:`synaptic_drive` (one row per fibre).
        fibres: the fibre type of each row (its refractory periods).
        sample_rate_hz: model sampling rate.

    Returns:
        ``rows x samples`` float64 rate. The docked fraction is integrated sample by sample (in closed form within
        blocks of :data:`MEAN_FIELD_BLOCK_S`, over which the mean redocking time is held and then updated); causal.
    """
    s = np.maximum(np.asarray(drive, dtype=np.float64), 0.0)
    tabs = np.array([f.tabs_s for f in fibres])[:, None]
    trel = np.array([f.trel_s for f in fibres])[:, None]
    dead = tabs + np.minimum(trel * 100.0 / np.maximum(s, 1e-9), trel)  # mean dead time after a spike
    dt, block = 1.0 / sample_rate_hz, max(1, round(MEAN_FIELD_BLOCK_S * sample_rate_hz))
    decay = np.exp(-block * dt / T_RD_TAU_S)
    t_rd = np.full((s.shape[0], 1), T_RD_REST_S)
    docked = np.ones((s.shape[0], 1))
    out = np.empty_like(s)
    for i in range(0, s.shape[1], block):
        sb = s[:, i : i + block]
        d = _docked(sb, t_rd, docked, dt)
        out[:, i : i + block] = d * sb  # eq. (2): every docked site releases at s / N_SITES
        redocks = (N_SITES * (1.0 - d) / t_rd).sum(axis=1, keepdims=True) * dt
        span = sb.shape[1] * dt
        t_rd = T_RD_REST_S + (t_rd - T_RD_REST_S) * decay + T_RD_JUMP_S * redocks * T_RD_TAU_S / span * (1 - decay)
        docked = d[:, -1:]
    return out / (1.0 + _recent_mean(out, (tabs + 0.5 * trel)[:, 0], sample_rate_hz) * dead)  # eq. (3)


def _docked(s: np.ndarray, t_rd: np.ndarray, docked: np.ndarray, dt: float) -> np.ndarray:
    """Docked fraction over a block of drive ``s`` (``rows x n``), eq. (1) solved in closed form per step.

    ``dD = (1 - D) dt / t_rd - D s dt / 4``: with ``A`` the cumulative exit rate, ``D = e^-A (D0 + dt/t_rd sum e^A)``;
    a block whose ``A`` would overflow is split.
    """
    a = (1.0 / t_rd + s / N_SITES) * dt
    big_a = np.cumsum(a, axis=1)
    if big_a[:, -1].max() > 500.0 and s.shape[1] > 1:
        half = s.shape[1] // 2
        first = _docked(s[:, :half], t_rd, docked, dt)
        return np.concatenate([first, _docked(s[:, half:], t_rd, first[:, -1:], dt)], axis=1)
    fill = np.cumsum(np.exp(big_a - a), axis=1) * (dt / t_rd)
    return np.exp(-big_a) * (docked + fill)


def _recent_mean(x: np.ndarray, window_s: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Causal moving average of each row of ``x`` over its ``window_s`` (the samples up to and including each; zero
    before the first)."""
    c = np.cumsum(x, axis=1)
    out = np.empty_like(x)
    lengths = np.maximum(1, np.round(np.asarray(window_s) * sample_rate_hz).astype(int))
    for n in np.unique(lengths):
        rows = np.flatnonzero(lengths == n)
        out[rows, :n] = c[rows, :n]
        out[rows, n:] = c[rows, n:] - c[rows, :-n]
        out[rows] /= n
    return out


def rate_to_bins(rate: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of a piecewise-constant ``rows x samples`` rate over fractional ``rows x (bins + 1)`` edges.

    Sample ``i`` covers ``[i, i + 1)``; the integral up to a fractional edge is the cumulative sum interpolated
    linearly (exact for a piecewise-constant rate). Edges beyond the last sample see zero.
    """
    rows, n = rate.shape
    cum = np.concatenate([np.zeros((rows, 1)), np.cumsum(rate, axis=1)], axis=1)
    grid = np.arange(n + 1, dtype=np.float64)
    at = np.stack([np.interp(e, grid, c) for e, c in zip(edges, cum, strict=True)])
    return np.diff(at, axis=1) / np.diff(edges, axis=1)
