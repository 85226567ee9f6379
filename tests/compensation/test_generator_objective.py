"""The generator objective: the model objective's interface, scored on a virtual animal's own responses.

The cohort here is on the fast gammatone periphery (explicitly: ``hearloop synth``'s default is BEZ2018), where hearing
loss is attenuation plus central gain and more level restores; on BEZ2018 the objective must show what the generator
shows, too much gain rolling over.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compensation.generator_objective import GeneratorFidelityObjective, GeneratorGradientError, nh_twin
from compensation.objective import fidelity_restored
from simulator.constants import MAX_COUNT
from simulator.errors import HearloopInputError
from simulator.virtual_ic import AnimalParams, expected_response

COHORT_KW = dict(n_nh=2, n_hi=2, seed=11, n_channels=6, train_seconds=6.0, sound_duration_s=1.0,
                 n_test_per_class=1, test_duration_s=1.0, periphery="gammatone")  # fmt: skip


@pytest.fixture(scope="module")
def cohort(synthetic_cohort):
    _, animals = synthetic_cohort(**COHORT_KW)
    return animals


def _speech(animals) -> torch.Tensor:
    sound = next(s for s in animals[0].sounds if s.sound_class == "speech")
    return torch.as_tensor(sound.audio[: 16 * 1024], dtype=torch.float32)[None]


def _worst(animals):
    return max(animals, key=lambda a: a.ground_truth["severity_db_hl"])


def test_response_is_the_binomial_of_the_generator_probability(cohort):
    animal = _worst(cohort)
    clean = _speech(cohort)
    obj = GeneratorFidelityObjective(animal.ground_truth)
    pmf = obj.response(clean)
    assert pmf.shape == (1, 6, clean.shape[1] // 32, MAX_COUNT + 1)
    assert torch.allclose(pmf.sum(-1), torch.ones(()), atol=1e-5)
    expected = expected_response(animal.ground_truth, clean[0].double().numpy())
    np.testing.assert_allclose((pmf @ torch.arange(5.0))[0].numpy(), expected, atol=1e-4)


def test_twin_has_a_normal_cochlea_and_the_same_electrodes(cohort):
    params = AnimalParams.from_dict(_worst(cohort).ground_truth)
    twin = nh_twin(params)
    assert twin.profile.status == "NH" and float(np.abs(twin.profile.ohc_loss_db).max()) == 0.0
    np.testing.assert_array_equal(twin.channels.cf_pos, params.channels.cf_pos)
    assert twin.degradation.drift_db == 0.0 and params.degradation.drift_db > 0.0


def test_gain_restores_fidelity_on_the_generator(cohort):
    """On the gammatone generator, loss is attenuation plus central gain: more level restores the impaired animal."""
    clean = _speech(cohort)
    hi, nh = _worst(cohort), next(a for a in cohort if a.hearing_status == "NH")
    obj = GeneratorFidelityObjective(hi.ground_truth)
    target = obj.target(clean)
    d_unaided = obj(clean, clean, None, target=target)
    fr = [float(fidelity_restored(obj(clean, clean * 10 ** (g / 20), None, target=target), d_unaided)[0])
          for g in (0.0, 10.0, 20.0)]  # fmt: skip
    assert fr[0] == 0.0 and fr[1] > 0.1 and fr[2] > fr[1]  # measured 0.27 and 0.53 (42 dB HL animal, 71 dB SPL)
    d_nh = GeneratorFidelityObjective(nh.ground_truth)(clean, clean)
    assert float(d_nh[0]) < 0.5 * float(d_unaided[0])  # an NH animal is close to its twin, an impaired one is not
    for distance in ("l2", "kl"):
        other = GeneratorFidelityObjective(hi.ground_truth, distance=distance)
        assert float(other(clean, clean * 10.0, None)[0]) < float(other(clean, clean, None)[0])


def test_stands_in_a_hitl_fitting_problem(cohort):
    from compensation.registry import get_strategy
    from runners.hitl.problem import StrategyFittingProblem

    clean = _speech(cohort)
    strategy = get_strategy("nalr")
    audiogram = {250: 40.0, 500: 40.0, 1000: 45.0, 2000: 50.0, 4000: 55.0, 8000: 60.0}
    theta0 = strategy.prescribe(audiogram)
    obj = GeneratorFidelityObjective(_worst(cohort).ground_truth)
    problem = StrategyFittingProblem(strategy, obj, None, clean, theta0)
    direct = obj(clean, strategy(clean, theta0), None)
    assert problem.d_unaided == pytest.approx(float(obj(clean, clean)[0]), rel=1e-6)
    assert float(problem.distance(problem.x0[None])[0]) == pytest.approx(float(direct[0]), rel=1e-5)


def test_no_gradient_and_bad_input_are_named_errors(cohort):
    obj = GeneratorFidelityObjective(_worst(cohort).ground_truth)
    clean = _speech(cohort)
    with pytest.raises(GeneratorGradientError):
        obj(clean, clean.clone().requires_grad_(True))
    with pytest.raises(HearloopInputError, match="distance"):
        GeneratorFidelityObjective(_worst(cohort).ground_truth, distance="l3")
    with pytest.raises(HearloopInputError):
        obj(clean, clean[:, :-32])
    with pytest.raises(HearloopInputError):
        GeneratorFidelityObjective(_worst(cohort).ground_truth, hours=-1.0)


def test_on_bez2018_it_is_the_generator_fidelity_and_too_much_gain_hurts():
    """The objective's FR is the generator's own (simulator.virtual_ic.fidelity) on a 50 dB HL flat-loss BEZ2018
    animal, whose flat-gain curve has an interior maximum: gain does not undo an OHC loss, and too much hurts."""
    from simulator.data.corpus import speech_like
    from simulator.virtual_ic import fidelity_restored_on_generator
    from simulator.virtual_ic.cohort import make_animal
    from simulator.virtual_ic.midbrain import sample_channel_template

    template = sample_channel_template(np.random.default_rng([0, 1]), 8)
    animal = make_animal(0, 3, "HI01", (50.0, "flat"), template, True, "bez2018")
    clean = speech_like(np.random.default_rng(5), 0.4, 65.0).astype(np.float64)
    gains_db = (0.0, 15.0, 30.0, 45.0, 60.0)
    aided = [clean * 10 ** (g / 20) for g in gains_db]
    expected, _ = fidelity_restored_on_generator(animal, clean, aided)
    obj = GeneratorFidelityObjective(animal)
    x = torch.as_tensor(np.stack([clean, *aided]), dtype=torch.float32)
    target = obj.target(x[:1])
    d = obj(x[:1].expand(len(x), -1), x, None, target=target)
    fr = fidelity_restored(d[1:], d[0]).numpy()
    np.testing.assert_allclose(fr, expected, atol=2e-3)
    best = int(np.argmax(fr))
    assert 0 < best < len(gains_db) - 1 and fr[-1] < fr[best] - 0.3, fr
