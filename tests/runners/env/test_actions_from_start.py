"""Actions as offsets from the episode's starting fit, and the benefit-gain reward (its benefit over that fit)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from runners.env import HearingAidFittingEnv, HearingAidFittingVectorEnv
from runners.env.reward import reward_range, step_reward
from simulator.errors import HearloopInputError


def test_benefit_gain_is_the_score_minus_the_starting_score_minus_the_weighted_discomfort():
    fit = {"benefit": 0.5, "fidelity_floored": 0.0, "discomfort": 0.25}
    before = {"benefit": 0.4, "fidelity_floored": 0.0, "discomfort": 0.0}
    start = {"benefit": -3.0, "fidelity_floored": 0.0, "discomfort": 0.0}  # clipped at -1 like every score
    assert step_reward("benefit_gain", fit, before, 1.0, start=start) == pytest.approx(0.5 + 1.0 - 0.25)
    assert step_reward("benefit_gain", fit, before, 0.0, start=fit) == 0.0
    assert reward_range("benefit_gain", 1.0) == (-3.0, 2.0)
    with pytest.raises(ValueError, match="starting fit"):
        step_reward("benefit_gain", fit, before, 1.0)


def test_from_start_actions_offset_the_prescription_and_the_gain_is_measured_against_it(options):
    env = HearingAidFittingEnv(options, action_mode="from_start", action_scale=0.5, reward="benefit_gain")
    assert env.reward_range == (-3.0, 2.0)
    plain = HearingAidFittingEnv(options, reward="benefit")
    _, info0 = env.reset(seed=4)
    plain.reset(seed=4)
    u0 = env.state.theta_start.copy()
    np.testing.assert_array_equal(u0, plain.state.theta_u)  # the prescription, as in the default env
    _, reward, _, _, info = env.step(np.zeros(env.strategy.n_params, np.float32))
    np.testing.assert_allclose(info["theta"], info0["theta"], atol=1e-5)  # the zero action keeps the prescription
    assert reward == pytest.approx(-info["discomfort"], abs=1e-9)  # no gain over itself
    action = np.linspace(-1.0, 1.0, env.strategy.n_params).astype(np.float32)
    _, reward, _, _, info = env.step(action)
    u = np.clip(u0 + 0.5 * action, -1.0, 1.0)
    _, plain_reward, _, _, plain_info = plain.step(u)  # the same fit, set absolutely
    np.testing.assert_allclose(info["theta"], plain_info["theta"], atol=1e-4)
    np.testing.assert_allclose(env.state.theta_u, u, atol=1e-6)  # offsets are from the start, not from the last fit
    start = np.clip(info0["benefit"], -1, 1)
    assert reward == pytest.approx(plain_reward - start, abs=1e-6)
    assert abs(reward) > 1e-4  # the check is not vacuous: this fit differs from the prescription


def test_from_start_vector_env_agrees_with_single_envs(options):
    kw = {"action_mode": "from_start", "action_scale": 0.3, "reward": "benefit_gain"}
    venv = HearingAidFittingVectorEnv(2, options, **kw)
    start = np.clip(venv.reset(seed=[7, 8])[1]["benefit"], -1, 1)
    singles = [HearingAidFittingEnv(options, **kw) for _ in range(2)]
    for env, seed in zip(singles, (7, 8), strict=True):
        env.reset(seed=seed)
    rng = np.random.default_rng(0)
    for _ in range(3):
        actions = rng.uniform(-1, 1, venv.action_space.shape).astype(np.float32)
        _, rewards, _, _, infos = venv.step(actions)
        steps = [env.step(a) for env, a in zip(singles, actions, strict=True)]
        np.testing.assert_allclose(infos["theta"], np.stack([s[4]["theta"] for s in steps]), atol=1e-5)
        expected = np.clip(infos["benefit"], -1, 1) - start - infos["discomfort"]
        np.testing.assert_allclose(rewards, expected, atol=1e-9)
        np.testing.assert_allclose(rewards, [s[1] for s in steps], atol=3e-3)  # batched numerics of the tiny model


def test_bad_action_mode_and_scale_are_named(options):
    with pytest.raises(HearloopInputError, match="action_mode"):
        HearingAidFittingEnv(options, action_mode="relative")
    with pytest.raises(HearloopInputError, match="action_scale"):
        HearingAidFittingEnv(options, action_scale=0.0)


def test_checkers_pass_and_the_same_seed_replays_through_the_sb3_adapter(options):
    """gymnasium's and SB3's env checkers on the from-start env, and seed 3 twice through the SB3 adapter."""
    from gymnasium.utils.env_checker import check_env

    kw = {**options, "action_mode": "from_start", "reward": "benefit_gain"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(HearingAidFittingEnv(kw), skip_render_check=True)
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    from runners.env.sb3_vec_env import make_sb3_vec_env

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sb3_check_env(HearingAidFittingEnv(kw))
    runs = []
    for _ in range(2):
        venv = make_sb3_vec_env(2, kw)
        venv.seed(3)
        obs = [venv.reset()]
        rng = np.random.default_rng(1)
        for _ in range(4):
            obs.append(venv.step(rng.uniform(-1, 1, (2, *venv.action_space.shape)).astype(np.float32))[0])
        runs.append(np.stack(obs))
    np.testing.assert_array_equal(runs[0], runs[1])
