"""Gymnasium environment ``hearloop/HearingAidFitting-v0``: fit a hearing aid to a virtual listener's midbrain.

Importing this package is light (gymnasium only); the environment classes load torch and the model lazily::

    import gymnasium, runners
    env = gymnasium.make("hearloop/HearingAidFitting-v0", strategy="wdrc")
    venv = gymnasium.make_vec("hearloop/HearingAidFitting-v0", num_envs=8, vectorization_mode="vector_entry_point")
    sb3_venv = runners.env.make_sb3_vec_env(8)   # an SB3 VecEnv over the batched env (pip install -e ".[rl]")
"""

from typing import TYPE_CHECKING

from runners.env.registration import ENV_ID, register_envs
from simulator.lazy import lazy_getattr

if TYPE_CHECKING:
    from runners.env.config import EnvConfig
    from runners.env.fitting_env import HearingAidFittingEnv
    from runners.env.vector_env import HearingAidFittingVectorEnv

_LAZY = {
    "EnvConfig": "runners.env.config",
    "HearingAidFittingEnv": "runners.env.fitting_env",
    "HearingAidFittingVectorEnv": "runners.env.vector_env",
    "make_sb3_vec_env": "runners.env.sb3_vec_env",
}


__getattr__ = lazy_getattr("runners.env", _LAZY, globals())


__all__ = [
    "ENV_ID",
    "EnvConfig",
    "HearingAidFittingEnv",
    "HearingAidFittingVectorEnv",
    "make_sb3_vec_env",
    "register_envs",
]
