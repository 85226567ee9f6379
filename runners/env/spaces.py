"""Action and observation spaces of the hearing-aid fitting environment, and the observation vector's layout.

The action is the strategy's normalised parameter vector u in [-1, 1]^P (``Strategy.from_normalized`` maps it to
physical theta: dB, ratios, ms). The observation is one flat float32 vector (simple for RL libraries), the concatenation
of, in order (names and slices in :func:`observation_layout`):

===================  =========  ==============================================================================
``audiogram``        F = 8      audiogram estimate at 250, 500, 1k, 2k, 3k, 4k, 6k, 8k Hz, dB HL / 100
``audiogram_sd``     F = 8      its posterior SD, dB / 100 (0 for the true audiogram)
``theta``            P          the current normalised parameters u
``band_error``       n_bands    per CF band: aided distance / unaided distance (1 = no benefit, 0 = NH-like)
``error``            1          the channel-weighted distance ratio D(aided) / D(unaided) = 1 - fidelity restored
``elapsed``          1          steps taken / max_steps
===================  =========  ==============================================================================

Values are clipped into the box: dB HL / 100 to [-0.2, 1.4] (the GP-PTA safe range is -10..120 dB HL), SD / 100 to
[0, 1], error ratios to [0, 10].
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

AUDIOGRAM_SCALE_DB: float = 100.0
ERROR_RATIO_MAX: float = 10.0
_BOUNDS: dict[str, tuple[float, float]] = {
    "audiogram": (-0.2, 1.4),
    "audiogram_sd": (0.0, 1.0),
    "theta": (-1.0, 1.0),
    "band_error": (0.0, ERROR_RATIO_MAX),
    "error": (0.0, ERROR_RATIO_MAX),
    "elapsed": (0.0, 1.0),
}


def action_space(n_params: int) -> spaces.Box:
    """The normalised parameter box [-1, 1]^P (float32)."""
    return spaces.Box(low=-1.0, high=1.0, shape=(int(n_params),), dtype=np.float32)


def observation_layout(n_freqs: int, n_params: int, n_bands: int) -> dict[str, slice]:
    """``{field: slice}`` of the flat observation vector (see the module docstring)."""
    sizes = {"audiogram": n_freqs, "audiogram_sd": n_freqs, "theta": n_params, "band_error": n_bands}
    sizes.update(error=1, elapsed=1)
    layout, start = {}, 0
    for name, size in sizes.items():
        layout[name] = slice(start, start + size)
        start += size
    return layout


def observation_space(layout: dict[str, slice]) -> spaces.Box:
    """The float32 box of the flat observation with the bounds of the module docstring."""
    size = max(s.stop for s in layout.values())
    low, high = np.zeros(size, np.float32), np.zeros(size, np.float32)
    for name, sl in layout.items():
        low[sl], high[sl] = _BOUNDS[name]
    return spaces.Box(low=low, high=high, dtype=np.float32)


def build_observation(
    layout: dict[str, slice],
    audiogram_db_hl: np.ndarray,
    audiogram_sd_db: np.ndarray,
    theta_u: np.ndarray,
    band_ratio: np.ndarray,
    error_ratio: float,
    elapsed: float,
) -> np.ndarray:
    """Assemble (and clip into the box) one flat float32 observation."""
    size = max(s.stop for s in layout.values())
    obs = np.empty(size, dtype=np.float64)
    obs[layout["audiogram"]] = np.asarray(audiogram_db_hl) / AUDIOGRAM_SCALE_DB
    obs[layout["audiogram_sd"]] = np.asarray(audiogram_sd_db) / AUDIOGRAM_SCALE_DB
    obs[layout["theta"]] = theta_u
    obs[layout["band_error"]] = band_ratio
    obs[layout["error"]] = error_ratio
    obs[layout["elapsed"]] = elapsed
    for name, sl in layout.items():
        obs[sl] = np.clip(np.nan_to_num(obs[sl], nan=_BOUNDS[name][1]), *_BOUNDS[name])
    return obs.astype(np.float32)
