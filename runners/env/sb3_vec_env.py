"""Stable-Baselines3 ``VecEnv`` adapter for the batched vector environment (one model call per step for all envs).

SB3 trains on its own ``VecEnv`` protocol, not on gymnasium's vector API: ``reset() -> obs``, ``step(actions) ->
(obs, rewards, dones, infos)`` with a list of per-env info dicts, and SAME-STEP autoreset (the step that ends an episode
already returns the next episode's first observation, the last one goes into ``infos[i]["terminal_observation"]`` and
``infos[i]["TimeLimit.truncated"]`` tells a truncation from a termination). Seeds and reset options are set beforehand
with ``seed(s)`` (envs get s, s+1, ...) and ``set_options``, and are used once, by the next ``reset``.

:class:`SameStepAutoreset` does that translation for any gymnasium vector env that can reset a subset of its
sub-environments (``reset(options={"reset_mask": mask})``, as :class:`runners.env.vector_env.HearingAidFittingVectorEnv`
does): after a step in which some sub-environments end, it resets exactly those in one batched call. It imports nothing
of SB3, so it is tested where SB3 is not installed. :func:`make_sb3_vec_env` wraps it in a subclass of SB3's
``VecEnv`` (``pip install -e ".[rl]"``)::

    from stable_baselines3 import PPO
    from runners.env.sb3_vec_env import make_sb3_vec_env

    venv = make_sb3_vec_env(8, strategy="multiband", strategy_kwargs={"n_bands": 3})
    PPO("MlpPolicy", venv, seed=0).learn(10_000)

A sub-environment seeded with s follows the trajectory of a :class:`runners.env.fitting_env.HearingAidFittingEnv` reset
with s and stepped with the same actions (the vector env's contract), so the same seed gives the same trajectory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from simulator.errors import HearloopInputError

__all__ = ["SameStepAutoreset", "make_sb3_vec_env", "unbatch_infos"]


def unbatch_infos(infos: Mapping[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Gymnasium's batched vector info (``{key: array, "_key": mask}``) -> one dict per sub-environment."""
    out: list[dict[str, Any]] = [{} for _ in range(num_envs)]
    for key, values in infos.items():
        if key.startswith("_"):
            continue
        mask = infos.get(f"_{key}", np.ones(num_envs, np.bool_))
        for i in np.flatnonzero(mask):
            value = values[i]
            out[i][key] = value.copy() if isinstance(value, np.ndarray) else value
    return out


class SameStepAutoreset:
    """SB3's same-step autoreset semantics over a gymnasium vector env with ``reset_mask`` support.

    Args:
        venv: the vector env (e.g. :class:`runners.env.vector_env.HearingAidFittingVectorEnv`); NEXT_STEP autoreset
            never triggers, since every ended sub-environment is reset here before the next step.
    """

    def __init__(self, venv: Any) -> None:
        if not hasattr(venv, "single_observation_space") or not hasattr(venv, "num_envs"):
            raise HearloopInputError("SameStepAutoreset needs a gymnasium VectorEnv (with single_observation_space)")
        self.venv = venv
        self.num_envs = int(venv.num_envs)
        self.observation_space = venv.single_observation_space
        self.action_space = venv.single_action_space

    def reset(
        self, seeds: Sequence[int | None] | None = None, options: Sequence[Mapping[str, Any]] | None = None
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Reset every sub-environment: env i with ``seeds[i]`` (None: continue its generator) and ``options[i]``.

        Returns ``(obs, infos)``: ``num_envs x obs_dim`` and one info dict per sub-environment.
        """
        seeds = [None] * self.num_envs if seeds is None else list(seeds)
        options = [{}] * self.num_envs if options is None else [dict(o or {}) for o in options]
        if len(seeds) != self.num_envs or len(options) != self.num_envs:
            raise HearloopInputError(f"reset needs {self.num_envs} seeds and options, got {len(seeds)}, {len(options)}")
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        obs = None
        groups: dict[str, list[int]] = {}
        for i, opt in enumerate(options):  # sub-environments with equal options reset in one batched call
            groups.setdefault(repr(sorted(opt.items(), key=lambda kv: kv[0])), []).append(i)
        for members in groups.values():
            mask = np.zeros(self.num_envs, np.bool_)
            mask[members] = True
            seed_list = [seeds[i] if mask[i] else None for i in range(self.num_envs)]
            obs, batch_info = self.venv.reset(seed=seed_list, options={**options[members[0]], "reset_mask": mask})
            for i, info in enumerate(unbatch_infos(batch_info, self.num_envs)):
                if mask[i]:
                    infos[i] = info
        return np.array(obs, dtype=self.observation_space.dtype), infos

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """One step with same-step autoreset; returns ``(obs, rewards float32, dones bool, infos)``."""
        actions = np.asarray(actions, dtype=self.action_space.dtype).reshape(self.num_envs, *self.action_space.shape)
        obs, rewards, terminated, truncated, batch_info = self.venv.step(actions)
        obs = np.array(obs, dtype=self.observation_space.dtype)
        dones = np.logical_or(terminated, truncated)
        infos = unbatch_infos(batch_info, self.num_envs)
        for i in np.flatnonzero(dones):
            infos[i]["terminal_observation"] = obs[i].copy()
            infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        if dones.any():
            first_obs, reset_info = self.venv.reset(options={"reset_mask": dones})
            obs[dones] = first_obs[dones]
            for i, info in enumerate(unbatch_infos(reset_info, self.num_envs)):
                if dones[i]:
                    infos[i]["reset_info"] = info
        return obs, np.asarray(rewards, dtype=np.float32), dones, infos


@lru_cache(maxsize=1)
def _sb3_class() -> type:
    """The SB3 ``VecEnv`` subclass (built on first use so that this module imports without SB3)."""
    try:
        from stable_baselines3.common.vec_env import VecEnv
    except ImportError as err:  # pragma: no cover - exercised only without SB3
        raise ImportError(
            "the SB3 adapter needs stable-baselines3: pip install -e '.[rl]' (or pip install stable-baselines3)"
        ) from err

    class HearloopSB3VecEnv(VecEnv):
        """SB3 ``VecEnv`` over :class:`SameStepAutoreset` (module docstring); ``.venv`` is the hearloop vector env."""

        def __init__(self, venv: Any) -> None:
            self.core = SameStepAutoreset(venv)
            self.venv = venv
            self.render_mode = getattr(venv, "render_mode", None)
            super().__init__(self.core.num_envs, self.core.observation_space, self.core.action_space)
            self._actions: np.ndarray | None = None

        def reset(self):
            obs, infos = self.core.reset(self._seeds, self._options)
            self.reset_infos = infos
            self._reset_seeds()
            self._reset_options()
            return obs

        def step_async(self, actions: np.ndarray) -> None:
            self._actions = np.asarray(actions)

        def step_wait(self):
            if self._actions is None:
                raise RuntimeError("step_async() must come before step_wait()")
            out, self._actions = self.core.step(self._actions), None
            return out

        def close(self) -> None:
            self.venv.close()

        def get_images(self):
            frames = self.venv.render() if self.render_mode == "rgb_array" else None
            return list(frames) if frames is not None else [None] * self.num_envs

        def _targets(self, indices) -> list[int]:
            return list(self._get_indices(indices))

        def get_attr(self, attr_name: str, indices=None) -> list[Any]:
            return [getattr(self.venv, attr_name)] * len(self._targets(indices))

        def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
            setattr(self.venv, attr_name, value)

        def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
            result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
            return [result] * len(self._targets(indices))

        def env_is_wrapped(self, wrapper_class: type, indices=None) -> list[bool]:
            return [False] * len(self._targets(indices))

    return HearloopSB3VecEnv


def make_sb3_vec_env(num_envs: int = 1, env_config: Mapping[str, Any] | None = None, **kwargs: Any):
    """An SB3 ``VecEnv`` of ``num_envs`` batched hearing-aid fitting sessions (module docstring).

    Args:
        num_envs: sub-environments, all evaluated in one strategy call and one model call per step.
        env_config, **kwargs: options of :class:`runners.env.config.EnvConfig`; or pass ``venv=`` an existing
            :class:`runners.env.vector_env.HearingAidFittingVectorEnv` instead.

    Raises:
        ImportError: without stable-baselines3 (``pip install -e ".[rl]"``).
    """
    cls = _sb3_class()
    venv = kwargs.pop("venv", None)
    if venv is None:
        from runners.env.vector_env import HearingAidFittingVectorEnv

        venv = HearingAidFittingVectorEnv(num_envs, env_config, **kwargs)
    elif env_config or kwargs:
        raise HearloopInputError("pass either venv= or env options, not both")
    return cls(venv)
