"""``examples/train_ppo.py``: its held-out scoring agrees with the env, the zero policy keeps the prescription, and the
summary table reports mean ± sd over seeds and per-listener wins.

Run on the tiny model and its 3-listener cohort (the real script trains on the bundled model for minutes); PPO itself
is exercised by the SB3 adapter tests.
"""

from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch

from runners.env import HearingAidFittingEnv
from runners.env.config import EnvConfig
from runners.env.core import FittingCore

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("train_ppo", ROOT / "examples" / "train_ppo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_options(example, options):
    """The example's env options (multiband bass / mid / treble, matched loudness, benefit_gain, from_start) with the
    tiny model's sounds and NH reference (model and listeners apart, as the example passes them)."""
    small = {k: v for k, v in options.items() if k not in ("strategy", "n_bands", "max_steps", "model", "listeners")}
    sounds = {"sound_duration_s": 0.15, "n_per_class": 1}
    return {**example.ENV_OPTIONS, **small, **sounds, "max_steps": 2, "n_sounds": 2}


def test_held_out_score_is_the_benefit_the_env_reports_for_the_same_fit_and_sounds(
    example, tiny_options, model, cohort
):
    opts = {
        **tiny_options,
        "n_sounds": 3,
        "model": model,
        "listeners": cohort,
    }  # the whole corpus (3 classes x 1): score() averages over every sound
    core = FittingCore(EnvConfig(**opts))
    env = HearingAidFittingEnv(**opts)
    for listener in cohort[:2]:
        _, info = env.reset(seed=0, options={"listener": listener, "sounds": list(core.corpus.names)})
        theta0 = example.prescription(core, listener)
        np.testing.assert_allclose(info["theta"], theta0.numpy(), atol=1e-3)  # episodes start at NAL-R
        _, _, _, _, info = env.step(np.array([1.0, -1.0, 0.5], dtype=np.float32))
        theta = torch.as_tensor(info["theta"], dtype=torch.float32)
        scores = example.score(core, listener, torch.stack([theta0, theta]))
        assert scores["benefit"].shape == (2,) and scores["fr"].shape == (2,)
        assert scores["benefit"][1] == pytest.approx(info["benefit"], abs=1e-4)
        assert scores["fr"][1] == pytest.approx(info["fidelity_restored"], abs=1e-4)
        assert abs(scores["benefit"][1] - scores["benefit"][0]) > 1e-4  # a different fit scores differently


class _ConstantAgent:
    def __init__(self, action: np.ndarray) -> None:
        self.action, self.calls = action, 0

    def predict(self, obs, deterministic: bool = False):
        assert deterministic
        self.calls += 1
        return self.action, None


def test_ppo_fit_plays_one_episode_and_returns_the_last_gains(example, tiny_options, cohort, model, monkeypatch):
    monkeypatch.setattr(example, "ENV_OPTIONS", tiny_options)
    core = FittingCore(EnvConfig(**tiny_options, model=model, listeners=cohort, corpus_seed=example.EVAL_CORPUS_SEED))
    listener = cohort[1]
    zero = _ConstantAgent(np.zeros(3, dtype=np.float32))
    np.testing.assert_allclose(example.ppo_fit(zero, core, model, listener), example.prescription(core, listener),
                               atol=1e-3)  # fmt: skip
    assert zero.calls == tiny_options["max_steps"]
    up = example.ppo_fit(_ConstantAgent(np.array([0.0, 1.0, 0.0], np.float32)), core, model, listener)
    step = core.strategy.from_normalized(torch.full((1, 3), 0.5)) - core.strategy.from_normalized(torch.zeros(1, 3))
    delta = (up - example.prescription(core, listener)).numpy()
    assert delta[0] == pytest.approx(0.0, abs=1e-3) and delta[2] == pytest.approx(0.0, abs=1e-3)
    assert 0.0 < delta[1] <= float(step[0, 1]) + 1e-3  # from_start: an offset of at most action_scale x the box


def test_summary_gives_mean_sd_over_seeds_and_wins_per_listener(example, tmp_path):
    base = [{"listener": f"L{i}", "stratum": s, **{k: v for k, v in zip(names, vals, strict=True)}}
            for i, (s, vals) in enumerate([("mild", (0.10, 0.11, 0.05, 0.08)), ("severe", (0.20, 0.19, 0.04, 0.15))])
            for names in [("prescription", "volume_control", "random", "random_offsets")]]  # fmt: skip
    for b in base:
        b.update({f"{k}_fr": 2 * b[k] for k in ("prescription", "volume_control", "random", "random_offsets")})
    ppo = {0: (0.12, 0.18), 1: (0.09, 0.22), 2: (0.13, 0.21)}
    runs = [{"seed": s, "listeners": [{"ppo": v, "ppo_fr": 2 * v} for v in vals], "curve": [], "train_wall_s": 60.0,
             "train_cpu_s": 50.0, "load_before": [1.0], "load_after": [2.0]} for s, vals in ppo.items()]  # fmt: skip
    text = example.summarise(runs, base, tmp_path)
    means = [statistics.mean(v) for v in ppo.values()]  # 0.15, 0.155, 0.17
    assert f"| PPO (mean ± sd over seeds) | {statistics.mean(means):+.4f} ± {statistics.stdev(means):.4f} |" in text
    assert "| NAL-R prescription | +0.1500 |" in text
    assert "| 1/2 / 1/2 / 2/2 |" in text.splitlines()[5]  # PPO above NAL-R on 1, 1, 2 of the 2 listeners
    diffs = [m - 0.15 for m in means]
    assert f"PPO − prescription: {statistics.mean(diffs):+.4f} ± {statistics.stdev(diffs):.4f}" in text
    assert (tmp_path / "summary.md").read_text() == text
    runs[0]["curve"] = [{"timesteps": 256, "mean_reward": 0.01}, {"timesteps": 512, "mean_reward": 0.02}]
    assert example.plot_curves(runs, tmp_path).stat().st_size > 0
