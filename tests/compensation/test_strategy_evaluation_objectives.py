"""Strategy evaluation scored on the generator itself: virtual animals against their NH twins, not the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compensation import get_strategy
from compensation.generator_objective import GeneratorFidelityObjective, MissingGroundTruthError
from compensation.population import ListenerSpec
from compensation.strategy_evaluation import evaluate_strategies

COHORT_KW = dict(n_nh=2, n_hi=2, seed=11, n_channels=6, train_seconds=6.0, sound_duration_s=1.0,
                 n_test_per_class=1, test_duration_s=1.0, periphery="gammatone")  # fmt: skip
AUDIOGRAM = {250: 30, 500: 35, 1000: 40, 2000: 45, 4000: 55, 8000: 60}
NU = np.full(6, 0.6)


@pytest.fixture(scope="module")
def setting(synthetic_cohort):
    """Both HI animals as listeners with ONE nu and ONE audiogram, and one speech sound of 0.25 s."""
    _, animals = synthetic_cohort(**COHORT_KW)
    listeners = [ListenerSpec(a.animal_id, NU, AUDIOGRAM, ground_truth=a.ground_truth)
                 for a in animals if a.hearing_status == "HI"]  # fmt: skip
    sound = next(s for s in animals[0].sounds if s.sound_class == "speech")
    sounds = torch.as_tensor(sound.audio[: 8 * 1024], dtype=torch.float32)[None]
    strategies = {n: get_strategy(n, numtaps=257) for n in ("nalr", "wdrc")}
    return listeners, sounds, strategies


def _evaluate(model, setting, objective):
    listeners, sounds, strategies = setting
    return evaluate_strategies(model, listeners, sounds, ["speech0"], ["speech"], strategies, np.full(6, 0.2),
                               progress=False, objective=objective).to_pydict()  # fmt: skip


def _column(data, column, listener, strategy):
    rows = zip(data["listener"], data["strategy"], data[column], strict=True)
    return next(v for lis, s, v in rows if lis == listener and s == strategy)


def test_the_generator_path_scores_each_animal_on_its_own_responses(tiny_model, setting):
    listeners, sounds, strategies = setting
    model_rows, generator_rows = _evaluate(tiny_model, setting, "model"), _evaluate(tiny_model, setting, "generator")
    a, b = (lis.id for lis in listeners)
    # Through the model the two listeners are one (same nu, same audiogram); on the generator they are two animals.
    assert _column(model_rows, "d_unaided", a, "nalr") == _column(model_rows, "d_unaided", b, "nalr")
    assert abs(_column(generator_rows, "d_unaided", a, "nalr") - _column(generator_rows, "d_unaided", b, "nalr")) > 1e-3
    # The generator rows are the generator objective's own numbers: the animal against its NH twin.
    objective = GeneratorFidelityObjective(listeners[0].ground_truth)
    nalr = strategies["nalr"]
    aided = nalr(sounds, nalr.prescribe(AUDIOGRAM))
    expected = 1.0 - float(objective(sounds, aided)[0]) / float(objective(sounds, sounds)[0])
    assert _column(generator_rows, "fr", a, "nalr") == pytest.approx(expected, abs=1e-5)
    assert _column(generator_rows, "d_unaided", a, "nalr") == pytest.approx(float(objective(sounds, sounds)[0]))
    assert abs(_column(generator_rows, "fr", a, "nalr") - _column(model_rows, "fr", a, "nalr")) > 1e-3
    # Prescriptions and loudness do not depend on where fidelity is scored.
    for column in ("loudness_db", "matched_loudness_db"):
        assert generator_rows[column] == model_rows[column]


def test_a_listener_without_ground_truth_is_refused_before_any_work(tiny_model, setting, monkeypatch):
    listeners, sounds, strategies = setting
    bare = ListenerSpec("sampled", NU, AUDIOGRAM)

    def no_work(*args, **kwargs):
        raise AssertionError("the generator was run before the listeners were checked")

    monkeypatch.setattr(GeneratorFidelityObjective, "target", no_work)
    with pytest.raises(MissingGroundTruthError, match="'sampled' carries no virtual-IC ground truth"):
        evaluate_strategies(tiny_model, [*listeners, bare], sounds, ["s"], ["speech"], strategies, np.full(6, 0.2),
                            progress=False, objective="generator")  # fmt: skip
    evaluate_strategies(tiny_model, [bare], sounds, ["s"], ["speech"], strategies, np.full(6, 0.2), progress=False)
