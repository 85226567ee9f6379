"""hearloop/HearingAidFitting-v0: registration, check_env, seeding, batched vector env, metrics and bad input."""

from __future__ import annotations

import importlib.metadata
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import runners
from compensation.objective import NeuralFidelityObjective
from runners.env import HearingAidFittingEnv, HearingAidFittingVectorEnv
from simulator.errors import HearloopInputError
from tests.runners.env.support import NUS, REF_NU

ENV_ID = runners.ENV_ID


def _quiet_check(env) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env)


def test_registered_on_import_and_as_a_gymnasium_plugin_entry_point():
    assert ENV_ID in gym.registry
    spec = gym.registry[ENV_ID]
    assert spec.entry_point == "runners.env.fitting_env:HearingAidFittingEnv"
    assert spec.vector_entry_point == "runners.env.vector_env:HearingAidFittingVectorEnv"
    plugins = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="gymnasium.envs")}
    assert plugins.get("hearloop") == "runners.env.registration:register_envs"
    runners.register_envs()  # idempotent
    assert gym.registry[ENV_ID] is spec


def test_check_env_passes_on_the_env_and_on_gymnasium_make(options):
    _quiet_check(HearingAidFittingEnv(**options))
    made = gym.make(ENV_ID, **options)
    assert isinstance(made.unwrapped, HearingAidFittingEnv)
    _quiet_check(made)
    _quiet_check(gym.make(ENV_ID, **{**options, "strategy": "wdrc", "strategy_kwargs": {"n_bands": 4}}).unwrapped)


def test_env_config_dict_constructor_and_spaces(options):
    env = HearingAidFittingEnv.from_env_config({**options, "strategy": "nalr", "max_steps": 2})
    assert env.config.strategy == "nalr" and env.config.max_steps == 2
    p = env.strategy.n_params
    assert env.action_space.shape == (p,) and env.action_space.low.min() == -1 and env.action_space.high.max() == 1
    layout = env.observation_layout
    assert env.observation_space.shape == (2 * 8 + p + 3 + 2,)
    obs, info = env.reset(seed=0)
    # the starting parameters are the NAL-R prescription from the observed audiogram, normalised
    freqs = (250, 500, 1000, 2000, 3000, 4000, 6000, 8000)
    audiogram = {f: v for f, v in zip(freqs, info["audiogram_db_hl"], strict=True)}
    theta0 = env.strategy.to_normalized(env.strategy.prescribe(audiogram)).numpy()
    np.testing.assert_allclose(obs[layout["theta"]], theta0, atol=1e-6)
    np.testing.assert_allclose(obs[layout["audiogram"]], np.clip(info["audiogram_db_hl"] / 100, -0.2, 1.4), atol=1e-6)
    assert obs[layout["elapsed"]] == 0.0


def test_metrics_and_the_benefit_reward_equal_a_direct_computation(options, model):
    env = HearingAidFittingEnv(**{**options, "loudness_weight": 0.0})
    env.reset(seed=3)
    action = np.linspace(-0.8, 0.9, env.strategy.n_params).astype(np.float32)
    obs, reward, terminated, truncated, info = env.step(action)
    state = env.unwrapped.core
    ep = env.state
    obj = NeuralFidelityObjective(model, REF_NU, distance="l1")
    theta = env.strategy.from_normalized(torch.as_tensor(action))
    with torch.no_grad():
        aided = env.strategy(ep.clean, theta)
        # the cached NH targets: the tiny model's distances are ~1e-5, where float32 round-off of another batch shows
        d_aided = obj(ep.clean, aided, ep.listener.nu, target=ep.target).double()
        d_unaided = obj(ep.clean, ep.clean, ep.listener.nu, target=ep.target).double()
        d_scale = obj(ep.clean, torch.zeros_like(ep.clean), torch.as_tensor(REF_NU), target=ep.target).double()
    assert info["distance"] == pytest.approx(float(d_aided.mean()), rel=1e-4)
    assert info["distance_unaided"] == pytest.approx(float(d_unaided.mean()), rel=1e-4)
    benefit = float(((d_unaided - d_aided) / d_scale).mean())  # eq. (1), per sound then averaged
    assert info["benefit"] == pytest.approx(benefit, abs=1e-4)
    assert reward == pytest.approx(np.clip(benefit, -1, 1), abs=1e-4)  # reward="benefit", no comfort term
    fr = 1 - float(d_aided.mean() / d_unaided.mean())
    assert info["fidelity_restored"] == pytest.approx(fr, abs=1e-3)
    assert obs[env.observation_layout["error"]][0] == pytest.approx(np.clip(1 - fr, 0, 10), abs=1e-3)
    np.testing.assert_allclose(info["theta"], theta.numpy(), rtol=1e-6)
    assert info["loudness_db_spl"] == pytest.approx(
        10 * np.log10(float(aided.double().square().mean()) / 4e-10), abs=1e-3
    )
    assert not terminated and not truncated and info["step"] == 1
    assert state.bands.matrix.shape == (3, model.n_channels)
    # the floored fidelity score: FR wherever D_u >= D_0 / 10, bounded by the floor elsewhere
    fidelity = HearingAidFittingEnv(**{**options, "loudness_weight": 0.0, "reward": "fidelity"})
    fidelity.reset(seed=3)
    reward_f = fidelity.step(action)[1]
    floor = max(float(d_unaided.mean()), 0.1 * float(d_scale.mean()))
    assert reward_f == pytest.approx(np.clip(1 - float(d_aided.mean()) / floor, -1, 1), abs=1e-3)


def test_same_seed_same_trajectory_and_other_seeds_differ(options):
    def rollout(seed: int) -> list:
        env = HearingAidFittingEnv(**options)
        obs, info = env.reset(seed=seed)
        out = [(obs, info["listener_id"], info["sounds"])]
        rng = np.random.default_rng(7)
        for _ in range(3):
            obs, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
            out.append((obs, reward, terminated, truncated, info["distance"]))
        return out

    a, b = rollout(11), rollout(11)
    for step_a, step_b in zip(a, b, strict=True):
        for x, y in zip(step_a, step_b, strict=True):
            np.testing.assert_array_equal(x, y)
    assert a[-1][3] is True  # truncated at max_steps = 3
    starts = {rollout(s)[0][1:] for s in range(6)}
    assert len(starts) > 1  # seeds pick different listeners / sounds


def test_batched_vector_env_equals_per_env_results_with_autoreset(options):
    n = 3
    venv = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", **options)
    assert isinstance(venv, HearingAidFittingVectorEnv)
    assert venv.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    envs = [HearingAidFittingEnv(**options) for _ in range(n)]
    obs_v, info_v = venv.reset(seed=21)
    singles = [env.reset(seed=21 + i) for i, env in enumerate(envs)]
    np.testing.assert_allclose(obs_v, np.stack([o for o, _ in singles]), atol=1e-3)
    assert list(info_v["listener_id"]) == [i["listener_id"] for _, i in singles]
    rng = np.random.default_rng(0)
    done = np.zeros(n, bool)
    n_resets = 0
    for _ in range(5):  # max_steps = 3: every sub-env truncates at step 3 and autoresets at step 4
        actions = rng.uniform(-1, 1, venv.action_space.shape).astype(np.float32)
        obs_v, rew_v, term_v, trunc_v, info_v = venv.step(actions)
        for i, env in enumerate(envs):
            if done[i]:
                obs, info = env.reset()
                rew, term, trunc = 0.0, False, False
                n_resets += 1
            else:
                obs, rew, term, trunc, info = env.step(actions[i])
            np.testing.assert_allclose(obs_v[i], obs, atol=1e-3)
            assert rew_v[i] == pytest.approx(rew, abs=1e-3)
            assert info_v["distance"][i] == pytest.approx(info["distance"], rel=1e-3)
            assert (term_v[i], trunc_v[i], info_v["listener_id"][i]) == (term, trunc, info["listener_id"])
            done[i] = term or trunc
    assert n_resets == n


def test_sync_vector_env_agrees_with_the_batched_one(options):
    kwargs = {**options, "max_steps": 2}
    venv = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", **kwargs)
    senv = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="sync", **kwargs)
    np.testing.assert_allclose(venv.reset(seed=4)[0], senv.reset(seed=4)[0], atol=1e-3)
    actions = np.full(venv.action_space.shape, 0.25, np.float32)
    for _ in range(3):
        a, b = venv.step(actions), senv.step(actions)
        np.testing.assert_allclose(a[0], b[0], atol=1e-3)
        np.testing.assert_allclose(a[1], b[1], atol=1e-3)
        np.testing.assert_array_equal(a[3], b[3])


def test_chunked_evaluation_matches_the_single_call(options):
    one, chunked = HearingAidFittingVectorEnv(2, options), HearingAidFittingVectorEnv(2, options, eval_chunk_rows=1)
    np.testing.assert_allclose(one.reset(seed=8)[0], chunked.reset(seed=8)[0], atol=1e-3)
    actions = np.linspace(-1, 1, 2 * one.single_action_space.shape[0], dtype=np.float32).reshape(2, -1)
    a, b = one.step(actions), chunked.step(actions)
    np.testing.assert_allclose(a[4]["distance"], b[4]["distance"], rtol=1e-3)
    with pytest.raises(HearloopInputError, match="eval_chunk_rows"):
        HearingAidFittingVectorEnv(2, options, eval_chunk_rows=0)


def test_reset_options_choose_the_listener_sounds_and_start(options, cohort):
    env = HearingAidFittingEnv(**options)
    _, info = env.reset(seed=0, options={"listener": cohort[2], "sounds": ["music_001", "speech_000"]})
    assert info["listener_id"] == "T2" and info["sounds"] == "music_001,speech_000"
    obs, info = env.reset(
        seed=0, options={"nu": NUS[1], "listener_id": "new", "theta": np.zeros(env.strategy.n_params)}
    )
    assert info["listener_id"] == "new"
    np.testing.assert_allclose(env.state.nu.numpy()[0], NUS[1], atol=1e-7)
    np.testing.assert_array_equal(obs[env.observation_layout["theta"]], 0.0)


def test_improvement_reward_telescopes_and_render_draws_neurograms(options):
    env = HearingAidFittingEnv(
        **{**options, "reward": "improvement", "render_mode": "rgb_array", "loudness_weight": 0.0}
    )
    _, info = env.reset(seed=2)
    b0, total = np.clip(info["benefit"], -1, 1), 0.0
    for u in (-0.5, 0.0, 0.5):
        _, reward, _, truncated, info = env.step(np.full(env.strategy.n_params, u, np.float32))
        total += reward
    assert truncated and total == pytest.approx(np.clip(info["benefit"], -1, 1) - b0, abs=1e-9)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.std() > 10  # not a blank canvas
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(env.strategy.n_params, np.float32))


def test_bad_input_gets_clear_errors(options):
    env = HearingAidFittingEnv(**options)
    env.reset(seed=0)
    p = env.strategy.n_params
    name = env.strategy.param_names[1]
    with pytest.raises(HearloopInputError, match=f"'{name}'.*outside the action space"):
        env.step(np.array([0.0, 1.5] + [0.0] * (p - 2), np.float32))
    with pytest.raises(HearloopInputError, match="is NaN"):
        env.step(np.array([np.nan] + [0.0] * (p - 1), np.float32))
    with pytest.raises(HearloopInputError, match="shape"):
        env.step(np.zeros(p + 1, np.float32))
    with pytest.raises(ValueError, match="unknown compensation strategy 'nope'"):
        gym.make(ENV_ID, **{**options, "strategy": "nope"})
    with pytest.raises(HearloopInputError, match="no parameters"):
        HearingAidFittingEnv(**{**options, "strategy": "unaided"})
    with pytest.raises(HearloopInputError, match="unknown env option"):
        HearingAidFittingEnv({"strategy": "wdrc", "max_stpes": 3})
    with pytest.raises(HearloopInputError, match="reward"):
        HearingAidFittingEnv(**{**options, "reward": "money"})
    with pytest.raises(HearloopInputError, match="unknown sound"):
        env.reset(options={"sounds": ["nope_000", "music_000"]})
    venv = HearingAidFittingVectorEnv(2, options)
    venv.reset(seed=0)
    bad = np.zeros((2, p), np.float32)
    bad[1, 0] = np.nan
    with pytest.raises(HearloopInputError, match="sub-environment 1"):
        venv.step(bad)
