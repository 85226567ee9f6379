"""Scoring normalised parameters for many fitting episodes at once (:meth:`runners.env.core.FittingCore.evaluate`).

The aided sounds of every episode go through the strategy and each listener's loudness model
(:mod:`runners.env.hearing`) in batched calls (in chunks of ``rows`` sound rows). The neural score follows each
episode's :class:`runners.env.scoring.Scoring`: with the model objective, shared by every episode, one batched model
call per chunk (each sound row paired with its listener's nu and its cached NH target); with the generator objective,
one generator call per episode (each animal against its own NH twin).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from runners.env.reward import FIDELITY_FLOOR
from simulator.constants import REF_PRESSURE_PA

__all__ = ["CPU_CHUNK_ROWS", "db_spl", "evaluate_episodes"]

CPU_CHUNK_ROWS: int = 4
"""Rows per strategy/model call of :meth:`FittingCore.evaluate` on CPU when ``eval_chunk_rows`` is None (measured:
full-rate activations of many rows at once overflow the caches; on CUDA one call over all rows is used)."""


def db_spl(mean_power_pa2: float) -> float:
    """RMS level in dB SPL of a mean power in Pa^2 (floored at -100 dB SPL for silence)."""
    return float(10.0 * np.log10(max(mean_power_pa2, 1e-20) / REF_PRESSURE_PA**2))


def _per_channel(states: list[Any], clean, audio, nu, target, rows: int) -> list[torch.Tensor]:
    """Per episode, ``B x C`` distances of what its listener hears (``audio``, ``N*B x samples``)."""
    b = states[0].clean.shape[0]
    if all(s.scoring is states[0].scoring for s in states):
        objective = states[0].scoring.objective
        parts = [
            objective.per_channel(clean[sl], audio[sl], nu[sl], target=target[sl])
            for sl in (slice(i, i + rows) for i in range(0, clean.shape[0], rows))
        ]
        return list(torch.cat(parts).split(b))
    out = []
    for i, s in enumerate(states):
        sl = slice(i * b, (i + 1) * b)
        out.append(s.scoring.objective.per_channel(clean[sl], audio[sl], nu[sl], target=target[sl]))
    return out


def evaluate_episodes(core: Any, states: list[Any], thetas_u: list[np.ndarray]) -> list[dict[str, Any]]:
    """Score normalised parameters ``thetas_u`` (one ``P`` vector per episode); see
    :meth:`runners.env.core.FittingCore.evaluate` for the returned values."""
    from compensation.benefit import benefit
    from compensation.objective import fidelity_restored
    from runners.env.hearing import hear

    b = core.config.n_sounds
    device = core.model.device
    u = torch.as_tensor(np.stack(thetas_u), dtype=torch.float32, device=device)
    theta = core.strategy.from_normalized(u)  # N x P
    clean = torch.cat([s.clean for s in states])
    theta_rows = theta.repeat_interleave(b, dim=0)
    nu = torch.cat([s.nu.expand(b, -1) for s in states])
    target = torch.cat([s.target for s in states])
    ohc = torch.cat([s.hearing_loss[0].expand(b, -1) for s in states])
    ihc = torch.cat([s.hearing_loss[1].expand(b, -1) for s in states])
    auto = clean.shape[0] if torch.device(device).type == "cuda" else CPU_CHUNK_ROWS
    rows = core.config.eval_chunk_rows or auto
    heard = []
    with torch.no_grad():
        for sl in (slice(i, i + rows) for i in range(0, clean.shape[0], rows)):
            aided = core.strategy(clean[sl], theta_rows[sl])
            heard.append(hear(aided, clean[sl], ohc[sl], ihc[sl], core.config.presentation, core.comfort, core.limiter))
        audio = torch.cat([h.audio for h in heard])  # N*B x samples
        per_channel = _per_channel(states, clean, audio, nu, target, rows)  # N x (B x C)
    phon = torch.cat([h.loudness_phon for h in heard]).view(len(states), b).double().mean(-1)
    discomfort = torch.cat([h.discomfort for h in heard]).view(len(states), b).double().mean(-1)
    power = audio.double().square().mean(-1).view(len(states), b).mean(-1).cpu().numpy()
    out = []
    for i, state in enumerate(states):
        scoring = state.scoring
        d_sound = (per_channel[i] @ scoring.channel_weights.to(per_channel[i])).double()
        band = scoring.bands.pool(per_channel[i].mean(0)).cpu().double().numpy()
        d_u, d_0 = state.d_unaided_sound.double(), state.d_scale_sound.double()
        distance = float(d_sound.mean())
        floor = max(state.d_unaided, FIDELITY_FLOOR * float(d_0.mean()))
        out.append(
            {
                "distance": distance,
                "fidelity_restored": float(fidelity_restored(distance, state.d_unaided)),
                "fidelity_floored": float(fidelity_restored(distance, floor)),
                "benefit": float(benefit(d_u, d_sound.to(d_u), d_0).mean()),
                "band_ratio": band / np.maximum(state.band_unaided, 1e-12),
                "loudness_db_spl": db_spl(float(power[i])),
                "loudness_phon": float(phon[i]),
                "discomfort": float(discomfort[i]),
                "theta": theta[i].detach().cpu().numpy().astype(np.float64),
            }
        )
    return out
