"""Registration of ``hearloop/HearingAidFitting-v0`` with Gymnasium (string entry points: nothing heavy is imported).

Two routes lead here:

* ``import runners`` calls :func:`register_envs`;
* the ``gymnasium.envs`` entry point in ``pyproject.toml`` (``hearloop = "runners.env.registration:register_envs"``),
  the plugin hook of gym >= 0.22 and gymnasium < 1.0, which call it inside ``namespace("hearloop")``. Gymnasium 1.x no
  longer scans that entry-point group, so there ``gymnasium.make("runners:hearloop/HearingAidFitting-v0")`` (the
  ``module:id`` form, which imports ``runners`` first) or ``import runners`` is the way in.

The single environment is :class:`runners.env.fitting_env.HearingAidFittingEnv`; ``gymnasium.make_vec(...,
vectorization_mode="vector_entry_point")`` builds :class:`runners.env.vector_env.HearingAidFittingVectorEnv`, which
evaluates every sub-environment in one model call per step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENV_ID: str = "hearloop/HearingAidFitting-v0"
"""Gymnasium id of the hearing-aid fitting environment."""

ENTRY_POINT: str = "runners.env.fitting_env:HearingAidFittingEnv"
VECTOR_ENTRY_POINT: str = "runners.env.vector_env:HearingAidFittingVectorEnv"

MAX_EPISODE_STEPS: int = 30
"""The registered ``max_episode_steps`` (gymnasium's TimeLimit): the default fitting budget ``EnvConfig.max_steps``."""


def with_episode_budget(env_config: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Env options from an ``env_config`` dict and keyword arguments, with gymnasium's ``max_episode_steps`` taken
    as ``max_steps`` unless ``max_steps`` is given too (``gymnasium.make_vec`` passes the registered value to vector
    entry points)."""
    options = {**dict(env_config or {}), **dict(kwargs)}
    budget = options.pop("max_episode_steps", None)
    if budget is not None and "max_steps" not in options:
        options["max_steps"] = budget
    return options


def register_envs() -> None:
    """Register :data:`ENV_ID` (idempotent: a second call leaves the registry untouched and warns nothing).

    The environment enforces its fitting budget itself (``max_steps``, reported as ``truncated``); the registered
    ``max_episode_steps`` (:data:`MAX_EPISODE_STEPS`, the default budget) gives libraries that read the spec (SB3,
    RLlib, gymnasium's TimeLimit) the same horizon. With ``gymnasium.make(..., max_steps=N)`` for N above it, also
    pass ``max_episode_steps=N``, or the TimeLimit wrapper ends episodes at 30 steps.
    """
    from gymnasium.envs.registration import register, registry

    if ENV_ID in registry:
        return
    register(
        id=ENV_ID, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT, max_episode_steps=MAX_EPISODE_STEPS
    )
