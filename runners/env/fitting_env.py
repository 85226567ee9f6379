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
    release times). The action SETS the parameters (it is not an increment). NaN, a wrong shape or a value outside
    [-1, 1] raises :class:`simulator.errors.HearloopInputError` naming the parameter.

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

    ``reward="fidelity"`` (default): the fidelity restored by the parameters just set (1 = NH response restored, 0 =
    no better than unaided, < 0 = worse). ``reward="improvement"``: its change since the previous step. Optionally minus
    ``loudness_weight`` per dB of aided level above the clean level + ``loudness_allowance_db``.

    ## Starting State

    A listener drawn uniformly from the cohort (``listeners.sample_cohort(cohort_size, seed=cohort_seed)``) and
    ``n_sounds`` distinct sounds drawn from a seeded synthetic corpus (speech, speech in noise, music, ripples, tones;
    ``simulator.data.corpus``), both with ``self.np_random``. The starting parameters are the strategy's prescription
    from the audiogram estimate (``start="prescription"``), the box centre (``"neutral"``) or uniform (``"random"``).
    ``reset(options=...)`` may fix ``listener`` (a VirtualListener), ``nu`` (a new listener's D values),
    ``listener_index``, ``sounds`` (corpus names) or ``theta`` (normalised start).

    ## Episode End

    Truncation after ``max_steps`` steps (the fitting budget, default 30). Termination only when ``target_fidelity`` is
    set and reached. Stepping a finished episode raises an error; call ``reset``.

    ## Arguments

    ``HearingAidFittingEnv(env_config=None, **kwargs)``: an RLlib-style ``env_config`` dict and/or keyword arguments
    (``gymnasium.make("hearloop/HearingAidFitting-v0", strategy="nalr", max_steps=20)``), see
    :class:`runners.env.config.EnvConfig`: ``strategy``, ``strategy_kwargs``, ``distance``, ``reward``, ``max_steps``,
    ``target_fidelity``, ``loudness_weight``, ``loudness_allowance_db``, ``n_sounds``, ``sound_duration_s``,
    ``sound_classes``, ``n_per_class``, ``corpus_seed``, ``level_range_db_spl``, ``cohort_size``, ``cohort_seed``,
    ``strata``, ``listeners``, ``audiometry``, ``audiometry_trials``, ``audiometry_seed``, ``n_bands``, ``start``,
    ``model_path`` / ``model``, ``device``, ``render_mode`` (None or ``"rgb_array"``).

    ## Info

    ``listener_id``, ``distance``, ``distance_unaided``, ``fidelity_restored``, ``loudness_db_spl`` (aided RMS level),
    ``clean_loudness_db_spl``, ``band_error``, ``theta`` (physical units), ``audiogram_db_hl``, ``sounds``, ``step``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, env_config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        self.config = EnvConfig.from_dict(env_config, **kwargs)
        self.render_mode = self.config.render_mode
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
        theta_u = self.core.validate_action(action)
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
