"""The fitting environment scored on the generator itself: each virtual animal against its NH twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compensation.generator_objective import GeneratorFidelityObjective, MissingGroundTruthError
from listeners import VirtualListener
from runners.env import HearingAidFittingEnv
from runners.env.render import neurogram_panels
from tests.runners.env.support import REF_NU

COHORT_KW = dict(n_nh=2, n_hi=2, seed=11, n_channels=6, train_seconds=6.0, sound_duration_s=1.0,
                 n_test_per_class=1, test_duration_s=1.0, periphery="gammatone")  # fmt: skip
NU = [0.7, 0.3, 0.6, 0.4, 0.5, 0.6]


@pytest.fixture(scope="module")
def animal_listeners(model, synthetic_cohort):
    """Both HI animals of the cohort as listeners at ONE nu: the model cannot tell them apart, the generator can."""
    _, animals = synthetic_cohort(**COHORT_KW)
    reference = VirtualListener("NH-ref", REF_NU, model)
    return [VirtualListener(a.animal_id, NU, model, reference=reference, ground_truth=a.ground_truth)
            for a in animals if a.hearing_status == "HI"]  # fmt: skip


@pytest.fixture(scope="module")
def small(options):
    return {**options, "sound_duration_s": 0.1, "n_per_class": 1, "sound_classes": ("speech", "music"),
            "loudness_weight": 0.0, "disk_cache": False}  # fmt: skip


def _first_step(env, index: int, action: np.ndarray):
    env.reset(seed=0, options={"listener_index": index})
    return env.step(action)[-1]


def test_the_generator_objective_scores_each_animal_against_its_twin(small, animal_listeners):
    generator = HearingAidFittingEnv(**{**small, "listeners": animal_listeners}, objective="generator")
    model = HearingAidFittingEnv(**{**small, "listeners": animal_listeners})
    action = np.linspace(-0.5, 0.8, generator.strategy.n_params).astype(np.float32)
    gen = [_first_step(generator, i, action) for i in (0, 1)]
    mod = [_first_step(model, i, action) for i in (0, 1)]
    assert gen[0]["sounds"] == mod[0]["sounds"] == gen[1]["sounds"]
    # Through the model the two animals are one listener (same nu); on the generator they are two animals.
    assert mod[0]["distance_unaided"] == pytest.approx(mod[1]["distance_unaided"], rel=1e-6)
    assert abs(gen[0]["distance_unaided"] - gen[1]["distance_unaided"]) > 1e-3
    assert abs(gen[0]["benefit"] - mod[0]["benefit"]) > 1e-3
    # The episode's numbers are the generator objective's own: the animal's responses against its NH twin's.
    ep = generator.state
    objective = GeneratorFidelityObjective(animal_listeners[1].ground_truth)
    theta = generator.strategy.from_normalized(torch.as_tensor(action))
    with torch.no_grad():
        aided = generator.strategy(ep.clean, theta)
    d_aided, d_unaided = objective(ep.clean, aided), objective(ep.clean, ep.clean)
    d_scale = objective.response_scale(ep.clean)
    assert gen[1]["distance"] == pytest.approx(float(d_aided.mean()), rel=1e-4)
    assert gen[1]["distance_unaided"] == pytest.approx(float(d_unaided.mean()), rel=1e-4)
    assert gen[1]["benefit"] == pytest.approx(float(((d_unaided - d_aided) / d_scale).mean()), abs=1e-4)
    assert gen[1]["band_error"].shape == (small["n_bands"],) and np.all(np.isfinite(gen[1]["band_error"]))
    panels = neurogram_panels(generator.core, ep)  # the animal's own responses, its channels in CF order
    assert all(p.shape == (6, ep.clean.shape[1] // 32) for p in panels.values())


def test_a_listener_without_ground_truth_is_refused_before_any_work(small, animal_listeners, cohort, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("the environment did work before the listeners were checked")

    monkeypatch.setattr("runners.env.core.FittingCore.__init__", no_work)
    with pytest.raises(MissingGroundTruthError, match="carries no virtual-IC ground truth"):
        HearingAidFittingEnv(**{**small, "listeners": [*animal_listeners, cohort[0]]}, objective="generator")
    with pytest.raises(MissingGroundTruthError, match="carries no ground truth"):
        HearingAidFittingEnv(**{k: v for k, v in small.items() if k != "listeners"}, objective="generator")
    monkeypatch.undo()
    env = HearingAidFittingEnv(**{**small, "listeners": animal_listeners}, objective="generator")
    with pytest.raises(MissingGroundTruthError):  # a listener named at reset must be an animal as well
        env.reset(seed=0, options={"nu": NU})
