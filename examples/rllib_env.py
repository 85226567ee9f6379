"""Register ``hearloop/HearingAidFitting-v0`` with Ray RLlib (RLlib itself is optional: ``pip install "ray[rllib]"``).

RLlib builds environments from a name and an ``env_config`` dict (an ``EnvContext``); the hearloop environment takes
that dict as is, so registering it is one line::

    from ray.tune.registry import register_env
    register_env("hearloop-fitting", env_creator)

and then, for example::

    from ray.rllib.algorithms.ppo import PPOConfig
    config = (PPOConfig().environment("hearloop-fitting", env_config={"strategy": "multiband",
                                                                       "strategy_kwargs": {"n_bands": 3}})
              .env_runners(num_env_runners=1))
    algo = config.build_algo()
    algo.train()

``env_config`` keys are those of :class:`runners.env.config.EnvConfig`; an unknown key raises
:class:`simulator.errors.HearloopInputError` on the worker that builds the env. Run this file to register and build one
env (``python examples/rllib_env.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENV_NAME = "hearloop-fitting"
"""The name the environment is registered under with RLlib."""


def env_creator(env_config: Mapping[str, Any] | None = None):
    """RLlib's env creator: an ``EnvContext`` (a dict with worker attributes) -> a hearing-aid fitting env."""
    from runners.env.fitting_env import HearingAidFittingEnv

    return HearingAidFittingEnv.from_env_config(dict(env_config or {}))


def register(name: str = ENV_NAME) -> str:
    """Register :func:`env_creator` under ``name`` with Ray Tune's registry (needs ``ray[tune]``); returns ``name``."""
    from ray.tune.registry import register_env

    register_env(name, env_creator)
    return name


if __name__ == "__main__":
    env = env_creator({"strategy": "multiband", "strategy_kwargs": {"n_bands": 3}, "audiometry": "true"})
    obs, info = env.reset(seed=0)
    print(f"built {type(env).__name__}: observation {obs.shape}, action {env.action_space}")
    print(f"first listener {info['listener_id']} ({info['stratum']})")
    print(f"registered with RLlib as {register()!r}")
