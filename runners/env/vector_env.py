"""Batched vector version of ``hearloop/HearingAidFitting-v0``: all sub-environments in one model call per step.

``gymnasium.make_vec("hearloop/HearingAidFitting-v0", num_envs=32, vectorization_mode="vector_entry_point")``.

A ``SyncVectorEnv`` steps its sub-environments one after the other: one strategy call and one nu-ICNet call per
sub-environment. Here the aided sound batches of all sub-environments are stacked (``num_envs * n_sounds`` rows, each
paired with its listener's nu and its sound's cached NH target) and go through the strategy and through nu-ICNet once
(:meth:`runners.env.core.FittingCore.evaluate`); NH targets are computed once per corpus sound and cached. Sub-
environment i seeded with s_i follows exactly the trajectory of a :class:`HearingAidFittingEnv` reset with s_i.

Autoreset follows gymnasium 1.x's default ``AutoresetMode.NEXT_STEP``: the step after a sub-environment terminates or
truncates resets it (its action is ignored) and returns its first observation with reward 0 and
terminated = truncated = False; resetting sub-environments are evaluated in the same batched call as the others.
``reset(options={"reset_mask": mask})`` resets only the masked sub-environments.

"One model call per step" holds once the caches are warm: the first episode of a listener never met before also
simulates its unaided responses to the corpus (and its GP-PTA session); ``env.core.prefetch()`` does that for the
whole cohort up front. Batched and per-environment results agree to float32 round-off (the convolutions of a batch
of 64 rows and of 2 rows round differently: ~4e-6 relative on the distances with the small preset).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from runners.env import transition
from runners.env.config import EnvConfig
from runners.env.core import FittingCore
from runners.env.registration import with_episode_budget
from runners.env.reward import reward_range
from runners.env.spaces import action_space, observation_layout, observation_space
from simulator.errors import HearloopInputError, HearloopStateError


class HearingAidFittingVectorEnv(VectorEnv):
    """``num_envs`` hearing-aid fitting sessions evaluated in one batched model call per step.

    Args:
        num_envs: number of sub-environments.
        env_config: RLlib-style options dict (see :class:`runners.env.config.EnvConfig`), updated by ``kwargs``.
        **kwargs: the same keyword options as :class:`runners.env.fitting_env.HearingAidFittingEnv`
            (``max_episode_steps``, which ``gymnasium.make_vec`` passes, is taken as ``max_steps`` unless that is
            given).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, env_config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise HearloopInputError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        self.config = EnvConfig.from_dict(with_episode_budget(env_config, kwargs))
        self.render_mode = self.config.render_mode
        self.reward_range = reward_range(self.config.reward, self.config.loudness_weight)
        self.core = FittingCore(self.config)
        self.num_envs = num_envs
        n_params = self.core.strategy.n_params
        self.observation_layout = observation_layout(len(self.core.freqs_hz), n_params, self.config.n_bands)
        self.single_action_space = action_space(n_params)
        self.single_observation_space = observation_space(self.observation_layout)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.states: list = [None] * num_envs
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._autoreset = np.zeros(num_envs, dtype=np.bool_)

    def _seeds(self, seed: int | list[int | None] | None) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, (int, np.integer)):
            return [int(seed) + i for i in range(self.num_envs)]
        seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise HearloopInputError(f"a list of seeds must have num_envs={self.num_envs} entries, got {len(seeds)}")
        return seeds

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        """Reset all (or ``options["reset_mask"]``) sub-environments; seeds as in ``SyncVectorEnv`` (s, s+1, ...)."""
        seeds = self._seeds(seed)
        super().reset(seed=seeds[0] if isinstance(seed, (int, np.integer)) else None)
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        mask = np.ones(self.num_envs, np.bool_) if mask is None else np.asarray(mask)
        if mask.shape != (self.num_envs,) or mask.dtype != np.bool_ or not mask.any():
            raise HearloopInputError(
                f"options['reset_mask'] must be a bool array of shape ({self.num_envs},) with a True"
            )
        for i in np.flatnonzero(mask):
            if seeds[i] is not None or self._rngs[i] is None:
                self._rngs[i] = seeding.np_random(seeds[i])[0]
        idx = [int(i) for i in np.flatnonzero(mask)]
        self._start(idx, options)
        self._autoreset[mask] = False
        infos: dict[str, Any] = {}
        for i in idx:
            infos = self._add_info(infos, transition.info(self.states[i], self.core), i)
        return self._observations(), infos

    def _start(self, idx: list[int], options: dict[str, Any]) -> None:
        """New episodes for sub-environments ``idx``, their starting parameters evaluated in one batched call."""
        new = [self.core.start_episode(self._rngs[i], options) for i in idx]
        for i, state, result in zip(idx, new, self.core.evaluate(new, [s.theta_u for s in new]), strict=True):
            transition.begin(state, result)
            self.states[i] = state

    def step(self, actions):
        """Step every sub-environment (NEXT_STEP autoreset) with one strategy call and one model call."""
        if any(s is None for s in self.states):
            raise HearloopStateError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.ndim != 2 or actions.shape[0] != self.num_envs:
            raise HearloopInputError(
                f"actions must have shape ({self.num_envs}, {self.single_action_space.shape[0]}); got {actions.shape}"
            )
        thetas = [
            self.core.action_to_theta(state, self.core.validate_action(a, what=f"action of sub-environment {i}"))
            for i, (state, a) in enumerate(zip(self.states, actions, strict=True))
        ]
        resetting = self._autoreset.copy()
        new_states = {int(i): self.core.start_episode(self._rngs[i], None) for i in np.flatnonzero(resetting)}
        batch = [new_states.get(i, self.states[i]) for i in range(self.num_envs)]
        batch_theta = [new_states[i].theta_u if i in new_states else thetas[i] for i in range(self.num_envs)]
        results = self.core.evaluate(batch, batch_theta)
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=np.bool_)
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        infos: dict[str, Any] = {}
        for i, (state, result) in enumerate(zip(batch, results, strict=True)):
            if i in new_states:
                transition.begin(state, result)
                self.states[i] = state
            else:
                rewards[i], terminated[i], truncated[i] = transition.advance(state, thetas[i], result, self.config)
            infos = self._add_info(infos, transition.info(state, self.core), i)
        self._autoreset = terminated | truncated
        return self._observations(), rewards, terminated, truncated, infos

    def _observations(self) -> np.ndarray:
        return np.stack([transition.observe(s, self.core, self.observation_layout) for s in self.states])

    def render(self) -> tuple[np.ndarray, ...] | None:
        """One neurogram frame per sub-environment (``render_mode="rgb_array"``)."""
        if self.render_mode is None:
            return None
        from runners.env.render import render_rgb

        return tuple(render_rgb(self.core, s) for s in self.states)
