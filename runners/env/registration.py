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

ENV_ID: str = "hearloop/HearingAidFitting-v0"
"""Gymnasium id of the hearing-aid fitting environment."""

ENTRY_POINT: str = "runners.env.fitting_env:HearingAidFittingEnv"
VECTOR_ENTRY_POINT: str = "runners.env.vector_env:HearingAidFittingVectorEnv"


def register_envs() -> None:
    """Register :data:`ENV_ID` (idempotent: a second call leaves the registry untouched and warns nothing).

    The episode length is enforced by the environment itself (``max_steps``, reported as ``truncated``), so no
    ``max_episode_steps`` / TimeLimit wrapper is registered.
    """
    from gymnasium.envs.registration import register, registry

    if ENV_ID in registry:
        return
    register(id=ENV_ID, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT)
