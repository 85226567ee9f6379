"""``hearloop/HearingAidFitting-v0``: fit a hearing aid so that a virtual listener's midbrain response matches NH.

The closed loop of hearloop: a virtual listener (nu-ICNet conditioned on nu, [Pellatt2025]_), an audiogram measured by
GP-PTA ([CoxDeVries2015]_), a compensation strategy with a bounded parameter vector, and the neural-fidelity objective
(``compensation.objective``) as the reward.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from runners.env import transition
from runners.env.config import EnvConfig
from runners.env.core import FittingCore
from runners.env.registration import with_episode_budget
from runners.env.reward import reward_range
from runners.env.spaces import action_space, observation_layout, observation_space
from simulator.errors import HearloopStateError


class HearingAidFittingEnv(gym.Env):
    """Fit a hearing aid's parameters to a virtual listener by closing the loop through a simulated midbrain.

    ## Description

    Each episode is one fitting session. A virtual listener (a nu-ICNet listener drawn from a seeded cohort) has had
    its audiogram measured; the agent sets the parameters of a hearing-aid strategy (WDRC by default; NAL-R and
    multiband gain too), hears back how close the listener's simulated inferior-colliculus response to the AIDED sound
    batch comes to the normal-hearing reference's response to the CLEAN sounds, and tries again, within a fitting
    budget. The distance is the channel-weighted neural distance of ``compensation.objective.NeuralFidelityObjective``
    (expected-count L1 by default); "fidelity restored" = 1 - D(aided) / D(unaided).

    ## Action Space

    ``Box(-1, 1, (P,), float32)``: the strategy's normalised parameters u; theta = lower + (u + 1) / 2 (upper - lower)
    in physical units (``Strategy.from_normalized``; e.g. WDRC has P = 5 x bands: thresholds, ratios, gains, attack and
    release times). By default (``action_mode="absolute"``) the action SETS the parameters (it is not an increment);
    with ``action_mode="from_start"`` it sets them as an offset from the episode's starting parameters (the
    prescription by default), u = clip(u_0 + ``action_scale`` x action, -1, 1), so the zero action keeps the
    prescription and a policy fine-tunes it, as a clinician does. NaN, a wrong shape or a value outside [-1, 1] raises
    :class:`simulator.errors.HearloopInputError` naming the parameter.

    ## Observation Space

    ``Box(float32)`` of size 2F + P + n_bands + 2 (F = 8 audiometric frequencies), layout in ``env.observation_layout``:

    | field          | size    | meaning                                                              |
    |----------------|---------|----------------------------------------------------------------------|
    | audiogram      | 8       | audiogram estimate at 250 Hz - 8 kHz, dB HL / 100                     |
    | audiogram_sd   | 8       | its posterior SD / 100 (GP-PTA; 0 with ``audiometry="true"``)         |
    | theta          | P       | current normalised parameters                                        |
    | band_error     | n_bands | per CF band, aided / unaided neural distance (1: no benefit, 0: NH)   |
    | error          | 1       | overall aided / unaided distance = 1 - fidelity restored              |
    | elapsed        | 1       | steps taken / max_steps                                               |

    The audiogram estimate comes from a GP-PTA session of ``audiometry_trials`` trials answered by the listener's
    neurometric responder, seeded by ``audiometry_seed`` and the listener's identity, run the first time a listener is
    met and then cached (a listener's audiogram does not change between fitting sessions). CF bands group channels by
    their CF, estimated from the NH reference's tone responses (``runners.env.bands``).

    ## Rewards

    Bounded and on one scale for every listener (:mod:`runners.env.reward`). ``reward="benefit"`` (default): the
    neural benefit of the parameters just set, clip((D_u - D) / D_0, -1, 1) per sound, averaged, D_0 being the sound's
    whole response (the distance of an ear that hears nothing from normal hearing): 0 = no change from unaided, and
    about 0 for a normal-hearing listener whatever reasonable aid it gets. ``"fidelity"``: fidelity restored with its
    denominator floored at a tenth of D_0, clipped to [-1, 1]. ``"improvement"``: the benefit's change since the
    previous step. ``"benefit_gain"``: the benefit minus that of the episode's starting fit on the same sounds (a
    per-episode constant: it ranks fits as ``"benefit"`` does, without the listener's and the sounds' own level).
    Then minus ``loudness_weight`` (default 1) x the listener's discomfort with what it hears, in [0, 1] (0 inside its
    comfort range, 1 at its uncomfortable level; its own ISO 532-1 loudness with its hearing loss). Per-step rewards
    lie in ``env.reward_range``: [-1 - w, 1] ([-2 - w, 2] for ``"improvement"`` and ``"benefit_gain"``).
    ``presentation="matched"`` scores the aid's output at matched loudness (as loud for the listener as the clean
    sound is for normal hearing): the reward is then what the fit adds beyond loudness.

    ## Starting State

    A listener drawn uniformly from the cohort (``listeners.sample_cohort(cohort_size, seed=cohort_seed)``) and
    ``n_sounds`` distinct sounds drawn from a seeded synthetic corpus (speech, speech in noise, music, ripples, tones;
    ``simulator.data.corpus``), both with ``self.np_random``. The starting parameters are the strategy's prescription
    from the audiogram estimate (``start="prescription"``), the box centre (``"neutral"``) or uniform (``"random"``).
    ``reset(options=...)`` may fix ``listener`` (a VirtualListener), ``nu`` (a new listener's D values),
    ``listener_index``, ``sounds`` (corpus names) or ``theta`` (normalised start).

    ## Episode End

    Truncation after ``max_steps`` steps (the fitting budget, default 30; the registered ``max_episode_steps`` is the
    same 30: for a longer budget through ``gymnasium.make`` pass both, ``max_steps=N, max_episode_steps=N``).
    Termination only when ``target_fidelity`` is set and reached. Stepping a finished episode raises an error; call
    ``reset``.

    ## Arguments

    ``HearingAidFittingEnv(env_config=None, **kwargs)``: an RLlib-style ``env_config`` dict and/or keyword arguments
    (``gymnasium.make("hearloop/HearingAidFitting-v0", strategy="nalr", max_steps=20)``), see
    :class:`runners.env.config.EnvConfig`: ``strategy``, ``strategy_kwargs``, ``distance``, ``objective`` (``"model"``
    or ``"generator"``: scored on each virtual animal itself), ``reward``, ``max_steps``,
    ``target_fidelity``, ``loudness_weight``, ``presentation``, ``n_sounds``, ``sound_duration_s``,
    ``sound_classes``, ``n_per_class``, ``corpus_seed``, ``level_range_db_spl``, ``cohort_size``, ``cohort_seed``,
    ``strata``, ``include_nh``, ``listeners``, ``audiometry``, ``audiometry_trials``, ``audiometry_seed``, ``n_bands``,
    ``start``, ``action_mode``, ``action_scale``, ``model_path`` / ``model``, ``device``, ``render_mode`` (None or
    ``"rgb_array"``), ``disk_cache``, ``cache_dir``. By default episodes draw impaired listeners only
    (``include_nh=False``).

    ## Info

    ``listener_id``, ``stratum`` (severity class of its true audiogram), ``distance``, ``distance_unaided``,
    ``fidelity_restored`` (unfloored), ``benefit`` (unclipped), ``loudness_db_spl`` (RMS level of what the listener
    hears), ``loudness_phon`` (its loudness level for the listener), ``comfort_limit_phon``, ``discomfort``,
    ``clean_loudness_db_spl``, ``band_error``, ``theta`` (physical units), ``audiogram_db_hl``, ``sounds``, ``step``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, env_config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        self.config = EnvConfig.from_dict(with_episode_budget(env_config, kwargs))
        self.render_mode = self.config.render_mode
        self.reward_range = reward_range(self.config.reward, self.config.loudness_weight)
        self.core = FittingCore(self.config)
        n_params = self.core.strategy.n_params
        self.observation_layout = observation_layout(len(self.core.freqs_hz), n_params, self.config.n_bands)
        self.action_space = action_space(n_params)
        self.observation_space = observation_space(self.observation_layout)
        self.state = None

    @classmethod
    def from_env_config(cls, env_config: Mapping[str, Any]) -> HearingAidFittingEnv:
        """RLlib's env creator signature: ``tune.register_env(name, HearingAidFittingEnv.from_env_config)``."""
        return cls(env_config)

    @property
    def strategy(self):
        """The compensation strategy (``compensation.Strategy``) whose parameters the actions set."""
        return self.core.strategy

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.state = self.core.start_episode(self.np_random, options)
        transition.begin(self.state, self.core.evaluate([self.state], [self.state.theta_u])[0])
        return self._obs(), transition.info(self.state, self.core)

    def step(self, action):
        if self.state is None:
            raise HearloopStateError("call reset() before step()")
        if self.state.done:
            raise HearloopStateError("the fitting episode has ended (terminated or truncated); call reset()")
        theta_u = self.core.action_to_theta(self.state, self.core.validate_action(action))
        result = self.core.evaluate([self.state], [theta_u])[0]
        reward, terminated, truncated = transition.advance(self.state, theta_u, result, self.config)
        return self._obs(), reward, terminated, truncated, transition.info(self.state, self.core)

    def _obs(self) -> np.ndarray:
        return transition.observe(self.state, self.core, self.observation_layout)

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without render_mode; make the env with render_mode='rgb_array'")
            return None
        if self.state is None:
            raise HearloopStateError("call reset() before render()")
        from runners.env.render import render_rgb

        return render_rgb(self.core, self.state)
