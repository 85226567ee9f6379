"""Episode transitions of the fitting environment: reward, termination, truncation, observation and info.

Shared verbatim by :class:`runners.env.fitting_env.HearingAidFittingEnv` and
:class:`runners.env.vector_env.HearingAidFittingVectorEnv`, so a vector sub-environment and a single environment with
the same seed follow the same trajectory. The reward is :func:`runners.env.reward.step_reward` (bounded; its range is
:func:`runners.env.reward.reward_range`). The episode is truncated after ``max_steps`` steps and terminated early only
when ``target_fidelity`` is set and reached.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runners.env.config import EnvConfig
from runners.env.core import EpisodeState, FittingCore
from runners.env.reward import step_reward
from runners.env.spaces import build_observation


def begin(state: EpisodeState, result: dict[str, Any]) -> None:
    """Record the evaluation of the starting parameters (step 0)."""
    state.first, state.last, state.steps, state.done = result, result, 0, False
    state.theta_start = np.array(state.theta_u, dtype=np.float32)


def advance(state: EpisodeState, theta_u: np.ndarray, result: dict[str, Any], config: EnvConfig) -> tuple:
    """Apply one evaluated step; returns ``(reward, terminated, truncated)``."""
    previous = state.last
    state.theta_u, state.last, state.steps = theta_u, result, state.steps + 1
    reward = step_reward(config.reward, result, previous, config.loudness_weight, start=state.first)
    fidelity = result["fidelity_restored"]
    terminated = config.target_fidelity is not None and fidelity >= config.target_fidelity
    truncated = not terminated and state.steps >= config.max_steps
    state.done = bool(terminated or truncated)
    return float(reward), bool(terminated), bool(truncated)


def observe(state: EpisodeState, core: FittingCore, layout: dict[str, slice]) -> np.ndarray:
    """The flat observation of the episode's current state (see :mod:`runners.env.spaces`)."""
    return build_observation(
        layout,
        state.audiogram_mean,
        state.audiogram_sd,
        state.theta_u,
        state.last["band_ratio"],
        1.0 - state.last["fidelity_restored"],
        state.steps / core.config.max_steps,
    )


def info(state: EpisodeState, core: FittingCore) -> dict[str, Any]:
    """Raw metrics of the current fit (scalars and fresh arrays, so vector envs can stack them)."""
    last = state.last
    return {
        "listener_id": str(state.listener.id),
        "distance": last["distance"],
        "distance_unaided": state.d_unaided,
        "fidelity_restored": last["fidelity_restored"],
        "benefit": last["benefit"],
        "loudness_db_spl": last["loudness_db_spl"],
        "loudness_phon": last["loudness_phon"],
        "comfort_limit_phon": core.comfort_limit_phon,
        "discomfort": last["discomfort"],
        "stratum": state.stratum,
        "clean_loudness_db_spl": state.clean_loudness_db_spl,
        "band_error": np.array(last["band_ratio"], dtype=np.float64),
        "theta": np.array(last["theta"], dtype=np.float64),
        "audiogram_db_hl": np.array(state.audiogram_mean, dtype=np.float64),
        "sounds": ",".join(core.corpus.names[i] for i in state.sound_idx),
        "step": int(state.steps),
    }
