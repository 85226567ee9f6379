"""The SB3 VecEnv adapter (same-step autoreset over the batched vector env), registration and the RLlib example.

The adapter's core (:class:`runners.env.sb3_vec_env.SameStepAutoreset`) is tested without stable-baselines3; the SB3
class, SB3's own ``check_env`` and a short PPO run only where SB3 is installed (``pip install -e ".[rl]"``).
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import runners
from runners.env import HearingAidFittingEnv, HearingAidFittingVectorEnv
from runners.env.sb3_vec_env import SameStepAutoreset, unbatch_infos

ROOT = Path(__file__).resolve().parents[3]


def _rollout(adapter: SameStepAutoreset, seed: int, steps: int) -> list:
    obs, infos = adapter.reset(seeds=[seed + i for i in range(adapter.num_envs)])
    out = [obs, [i["listener_id"] for i in infos]]
    rng = np.random.default_rng(3)
    for _ in range(steps):
        step = adapter.step(rng.uniform(-1, 1, (adapter.num_envs, *adapter.action_space.shape)))
        out.append(step[:3])
    return out


def test_same_step_autoreset_returns_the_next_first_observation_and_the_terminal_one(options):
    n = 2
    adapter = SameStepAutoreset(HearingAidFittingVectorEnv(n, options))  # max_steps = 3
    singles = [HearingAidFittingEnv(**options) for _ in range(n)]
    obs, infos = adapter.reset(seeds=[10, 11])
    for i, env in enumerate(singles):
        first, info = env.reset(seed=10 + i)
        np.testing.assert_allclose(obs[i], first, atol=1e-3)
        assert infos[i]["listener_id"] == info["listener_id"]
    actions = np.full((n, *adapter.action_space.shape), 0.2, np.float32)
    for step in range(1, 5):
        obs, rewards, dones, infos = adapter.step(actions)
        assert rewards.dtype == np.float32 and dones.dtype == np.bool_
        for i, env in enumerate(singles):
            last, reward, _, truncated, _ = env.step(actions[i])
            assert rewards[i] == pytest.approx(reward, abs=1e-3)
            assert dones[i] == (step == 3)
            if dones[i]:  # the step that ends the episode already shows the next episode's first observation
                np.testing.assert_allclose(infos[i]["terminal_observation"], last, atol=1e-3)
                assert infos[i]["TimeLimit.truncated"] is True and truncated
                first, _ = env.reset()
                np.testing.assert_allclose(obs[i], first, atol=1e-3)
                assert "listener_id" in infos[i]["reset_info"]
            else:
                np.testing.assert_allclose(obs[i], last, atol=1e-3)


def test_same_seed_same_trajectory_through_the_adapter(options):
    a = _rollout(SameStepAutoreset(HearingAidFittingVectorEnv(2, options)), seed=7, steps=5)
    b = _rollout(SameStepAutoreset(HearingAidFittingVectorEnv(2, options)), seed=7, steps=5)
    c = _rollout(SameStepAutoreset(HearingAidFittingVectorEnv(2, options)), seed=8, steps=5)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    for x, y in zip(a[2:], b[2:], strict=True):
        for u, v in zip(x, y, strict=True):
            np.testing.assert_array_equal(u, v)
    assert any(not np.array_equal(x[1], y[1]) for x, y in zip(a[2:], c[2:], strict=True))


def test_unbatch_infos_respects_the_masks():
    infos = {"x": np.array([1.0, 2.0, 3.0]), "_x": np.array([True, False, True]), "y": np.array(["a", "b", "c"])}
    assert unbatch_infos(infos, 3) == [{"x": 1.0, "y": "a"}, {"y": "b"}, {"x": 3.0, "y": "c"}]


def test_registered_max_episode_steps_and_the_budget_through_make_and_make_vec(options):
    spec = gym.registry[runners.ENV_ID]
    assert spec.max_episode_steps == 30
    made = gym.make(runners.ENV_ID, **options)  # max_steps = 3 from the options
    assert made.spec.max_episode_steps == 30
    made.reset(seed=0)
    ends = [made.step(made.action_space.sample())[3] for _ in range(3)]
    assert ends == [False, False, True]
    kwargs = {k: v for k, v in options.items() if k != "max_steps"}
    assert gym.make_vec(runners.ENV_ID, 2, vectorization_mode="vector_entry_point", **kwargs).config.max_steps == 30
    both = gym.make_vec(runners.ENV_ID, 2, vectorization_mode="vector_entry_point", **options)
    assert both.config.max_steps == 3  # an explicit max_steps wins over the registered max_episode_steps


def test_rllib_example_builds_the_env_from_an_env_config(options):
    spec = importlib.util.spec_from_file_location("rllib_env", ROOT / "examples" / "rllib_env.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    env = example.env_creator({**options, "max_steps": 2})
    assert isinstance(env, HearingAidFittingEnv) and env.config.max_steps == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env)
    if importlib.util.find_spec("ray.tune") is None:
        return
    try:
        from ray.tune.registry import ENV_CREATOR, _global_registry
    except ImportError:  # ray[default] without tune's dependencies
        return
    name = example.register("hearloop-test")
    assert _global_registry.get(ENV_CREATOR, name)({**options}).config.strategy == "multiband"


# ------------------------------------------------------------------------------------------- with stable-baselines3
def test_sb3_check_env_and_vec_env_and_a_short_ppo_run(options):
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_checker import check_env as sb3_check_env
    from stable_baselines3.common.vec_env import VecEnv, VecMonitor

    from runners.env.sb3_vec_env import make_sb3_vec_env

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sb3_check_env(HearingAidFittingEnv(**options))
    venv = make_sb3_vec_env(2, options)
    assert isinstance(venv, VecEnv) and venv.num_envs == 2
    venv.seed(5)
    first = venv.reset()
    again = make_sb3_vec_env(2, options)
    again.seed(5)
    np.testing.assert_array_equal(first, again.reset())
    actions = np.zeros((2, *venv.action_space.shape), np.float32)
    trajectory = [venv.step(actions) for _ in range(4)]
    replay = [again.step(actions) for _ in range(4)]
    for (o1, r1, d1, _), (o2, r2, d2, _) in zip(trajectory, replay, strict=True):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(d1, d2)
    assert trajectory[2][2].all() and "terminal_observation" in trajectory[2][3][0]  # max_steps = 3
    agent = PPO("MlpPolicy", VecMonitor(venv), n_steps=8, batch_size=8, n_epochs=1, seed=0)
    agent.learn(16)
    assert agent.num_timesteps == 16
