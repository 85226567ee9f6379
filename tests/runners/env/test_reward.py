"""The environment's reward: bounded range, the comfort term, matched-loudness presentation, NH listeners skipped."""

from __future__ import annotations

import numpy as np
import pytest

from runners.env import HearingAidFittingEnv, HearingAidFittingVectorEnv
from runners.env.reward import reward_range, step_reward
from simulator.errors import HearloopInputError


def test_a_thousand_random_action_episodes_never_leave_the_documented_range(options):
    """1,000 one-step episodes of uniform random actions over every listener and sound; the raw benefit of the
    untrained tiny model spans about [-3, 17] (so the bound is not vacuous), the per-step reward stays in range."""
    n_envs, episodes = 50, 1000
    venv = HearingAidFittingVectorEnv(
        n_envs, options, max_steps=1, n_sounds=1, sound_duration_s=0.1, audiometry="true", strategy_kwargs={}
    )
    low, high = venv.reward_range
    assert (low, high) == (-2.0, 1.0)  # benefit: [-1 - w, 1] with the default comfort weight w = 1
    rng = np.random.default_rng(0)
    venv.reset(seed=0)
    rewards, raw = [], []
    for _ in range(2 * episodes // n_envs):  # max_steps = 1: every other vector step is the NEXT_STEP autoreset
        actions = rng.uniform(-1, 1, venv.action_space.shape).astype(np.float32)
        _, reward, terminated, truncated, info = venv.step(actions)
        stepped = truncated | terminated
        rewards.extend(reward[stepped])
        raw.extend(info["benefit"][stepped])
    rewards, raw = np.asarray(rewards), np.asarray(raw)
    assert rewards.size == episodes and np.all(np.isfinite(rewards))
    assert rewards.min() >= low and rewards.max() <= high
    assert (np.abs(raw) > 1).mean() > 0.05  # the clip is what keeps these in range
    assert rewards.std() > 0.05  # and the reward still tells fits apart


def test_step_reward_is_the_clipped_score_minus_the_weighted_discomfort():
    fit = {"benefit": 3.0, "fidelity_floored": -7.0, "discomfort": 0.25}
    before = {"benefit": -0.5, "fidelity_floored": 0.0, "discomfort": 0.0}
    assert step_reward("benefit", fit, before, 2.0) == pytest.approx(1.0 - 0.5)
    assert step_reward("fidelity", fit, before, 0.0) == pytest.approx(-1.0)
    assert step_reward("improvement", fit, before, 1.0) == pytest.approx(1.0 + 0.5 - 0.25)
    assert step_reward("benefit", {**fit, "discomfort": 9.0}, before, 1.0) == pytest.approx(0.0)  # clipped at 1
    assert reward_range("improvement", 0.5) == (-2.5, 2.0)


def test_loud_fits_pay_the_comfort_term_and_quiet_ones_do_not(options):
    loud = np.ones(8, np.float32)  # every band at +60 dB: far above the comfort limit
    quiet = -np.ones(8, np.float32)  # -10 dB
    results = {}
    for weight in (0.0, 1.0):
        env = HearingAidFittingEnv({**options, "audiometry": "true", "strategy_kwargs": {}}, loudness_weight=weight)
        for name, action in (("loud", loud), ("quiet", quiet)):
            env.reset(seed=1)
            _, reward, _, _, info = env.step(action)
            results[weight, name] = (reward, info)
    r0, info = results[0.0, "loud"]
    r1, _ = results[1.0, "loud"]
    assert info["loudness_phon"] > info["comfort_limit_phon"] and info["discomfort"] > 0.5
    assert r0 - r1 == pytest.approx(info["discomfort"], abs=1e-9)
    rq0, info_q = results[0.0, "quiet"]
    assert info_q["discomfort"] == 0.0 and results[1.0, "quiet"][0] == rq0


def test_matched_presentation_removes_the_effect_of_overall_level(options):
    env = HearingAidFittingEnv({**options, "audiometry": "true", "strategy_kwargs": {}}, presentation="matched")
    shape = np.linspace(-0.3, 0.3, 8)
    infos = []
    for offset in (-0.4, 0.0, 0.4):  # the same spectral shape 28 dB apart (70 dB range / 2 per unit)
        env.reset(seed=5)
        infos.append(env.step((shape + offset).astype(np.float32))[4])
    phons = [i["loudness_phon"] for i in infos]
    assert max(phons) - min(phons) < 0.1  # heard as loud as normal hearing hears the clean sound
    distances = [i["distance"] for i in infos]
    assert max(distances) - min(distances) < 1e-3 * max(distances)
    aided = HearingAidFittingEnv({**options, "audiometry": "true", "strategy_kwargs": {}})
    levels = []
    for offset in (-0.4, 0.4):
        aided.reset(seed=5)
        levels.append(aided.step((shape + offset).astype(np.float32))[4]["loudness_phon"])
    assert levels[1] - levels[0] > 10  # as aided, the level is the listener's to bear


def test_nh_listeners_are_skipped_unless_asked_for(options, cohort, monkeypatch):
    env = HearingAidFittingEnv({**options, "include_nh": False})
    strata = {"T0": "NH", "T1": "mild", "T2": "NH"}
    monkeypatch.setattr(env.core.data, "stratum", lambda listener, key: strata[listener.id])
    drawn = {env.reset(seed=s)[1]["listener_id"] for s in range(12)}
    assert drawn == {"T1"}
    assert env.reset(seed=0, options={"listener_index": 0})[1]["listener_id"] == "T0"  # asked for by name
    everyone = HearingAidFittingEnv(options)  # include_nh=True
    assert {everyone.reset(seed=s)[1]["listener_id"] for s in range(12)} == {"T0", "T1", "T2"}
    strata["T1"] = "NH"
    with pytest.raises(HearloopInputError, match="all have normal hearing"):
        env.reset(seed=3)
