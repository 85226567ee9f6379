"""Characteristic-frequency (CF) bands of model channels, for the environment's per-band neural error summary.

A nu-ICNet channel is a recorded multi-unit site with no stored CF, so its CF is estimated from the model itself, as a
physiologist would from a frequency-response area: the NH reference listener hears tone pips at ``n_tones``
log-spaced frequencies (250-8000 Hz, ``level_db_spl``), the driven rate of each channel is its mean expected count minus
its response to silence, and the channel's CF is the driven-rate-weighted centroid in log frequency (the argmax, for a
channel not driven above its spontaneous rate, is replaced by the geometric centre of the range). A checkpoint whose
``metadata["channel_cf_hz"]`` lists C CFs is used as is.

Channels are then sorted by CF and split into ``n_bands`` contiguous groups of (nearly) equal channel count (quantile
bands: every band is populated whatever the CF spread); the band error is the reliability-weighted mean of its channels'
distances (the objective's channel weights, renormalised within the band; uniform where they sum to zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from simulator.constants import SAMPLE_RATE
from simulator.data.corpus import tone
from simulator.errors import HearloopInputError
from simulator.model.spikes import expected_counts


@dataclass(frozen=True)
class ChannelBands:
    """Pooling of ``C`` channels into ``n_bands`` CF bands.

    Attributes:
        channel_cf_hz: ``C`` estimated CF per channel (Hz).
        order: ``C`` channel indices sorted by CF (for drawing neurograms tonotopically).
        matrix: ``n_bands x C`` pooling weights; each row sums to one.
        band_cf_hz: ``n_bands`` geometric-mean CF of each band (Hz), increasing.
    """

    channel_cf_hz: np.ndarray
    order: np.ndarray
    matrix: np.ndarray
    band_cf_hz: np.ndarray

    @property
    def n_bands(self) -> int:
        return int(self.matrix.shape[0])

    def pool(self, per_channel: torch.Tensor) -> torch.Tensor:
        """``... x C`` per-channel values -> ``... x n_bands`` band means."""
        weights = torch.as_tensor(self.matrix, dtype=per_channel.dtype, device=per_channel.device)
        return per_channel @ weights.T


def estimate_channel_cf(
    model: nn.Module,
    reference_nu: torch.Tensor,
    n_tones: int = 16,
    level_db_spl: float = 60.0,
    duration_s: float = 0.15,
    freq_range_hz: tuple[float, float] = (250.0, 8000.0),
) -> np.ndarray:
    """Each channel's CF (Hz) from the NH reference's tone responses (see the module docstring); ``C`` values."""
    stored = (getattr(model, "metadata", None) or {}).get("channel_cf_hz")
    if stored is not None and len(stored) == int(model.n_channels):
        return np.asarray(stored, dtype=np.float64)
    freqs = np.geomspace(freq_range_hz[0], freq_range_hz[1], n_tones)
    n = round(duration_s * SAMPLE_RATE)
    tones = [tone(float(f), level_db_spl, n / SAMPLE_RATE) for f in freqs]
    audio = torch.as_tensor(np.stack([*tones, np.zeros(n, np.float32)]))
    with torch.no_grad():
        counts = expected_counts(model.predict(audio, reference_nu.reshape(1, -1).expand(audio.shape[0], -1)))
    rate = counts.mean(-1).cpu().double().numpy()  # (tones + 1) x C
    driven = np.clip(rate[:-1] - rate[-1:], 0.0, None)  # tones x C
    total = driven.sum(0)
    log_f = np.log(freqs)[:, None]
    centroid = np.where(total > 0, (driven * log_f).sum(0) / np.where(total > 0, total, 1.0), log_f.mean())
    return np.exp(centroid)


def make_bands(channel_cf_hz: np.ndarray, channel_weights: np.ndarray, n_bands: int) -> ChannelBands:
    """Quantile CF bands with reliability-weighted pooling (see the module docstring)."""
    cf = np.asarray(channel_cf_hz, dtype=np.float64)
    w = np.asarray(channel_weights, dtype=np.float64)
    n_channels = cf.shape[0]
    if not 1 <= n_bands <= n_channels:
        raise HearloopInputError(f"n_bands must lie in [1, {n_channels}] (the model's channels), got {n_bands}")
    order = np.argsort(cf, kind="stable")
    matrix = np.zeros((n_bands, n_channels))
    centres = np.zeros(n_bands)
    for b, members in enumerate(np.array_split(order, n_bands)):
        wb = w[members] if w[members].sum() > 0 else np.ones(len(members))
        matrix[b, members] = wb / wb.sum()
        centres[b] = np.exp(np.mean(np.log(cf[members])))
    return ChannelBands(channel_cf_hz=cf, order=order, matrix=matrix, band_cf_hz=centres)
