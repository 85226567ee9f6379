"""Comparisons against the volume knob: comfort limit as heard, matched loudness removes level, the VC baseline."""

import numpy as np
import pytest
import torch

from compensation.comfort import ComfortRange
from compensation.comparison import VOLUME_CONTROL, compare_with_volume_control
from compensation.listener_loudness import ListenerLoudness
from compensation.objective import NeuralFidelityObjective
from simulator.data.corpus import synthesise
from simulator.errors import HearloopInputError

REF_NU = np.array([0.3, 0.4, 0.5, 0.6, 0.5, 0.4], dtype=np.float32)
HI_NU = np.array([0.9, 0.1, 0.8, 0.2, 0.9, 0.1], dtype=np.float32)
LOSS = ListenerLoudness.from_audiogram({250: 30.0, 1000: 40.0, 4000: 55.0, 8000: 60.0})


@pytest.fixture(scope="module")
def setup(tiny_model):
    clean = torch.tensor(np.stack([synthesise(c, [4, i], 0.2, 65.0).audio[:4096]
                                   for i, c in enumerate(("speech", "music"))]))  # fmt: skip
    objective = NeuralFidelityObjective(tiny_model, REF_NU)
    aided = {"same": clean.clone(), "shaped": clean * 3.0, "blast": clean * 100.0}  # +0, +9.5, +40 dB
    coarse = (-10.0, 0.0, 10.0, 20.0, 30.0)
    comparison = compare_with_volume_control(objective, clean, HI_NU, aided, LOSS, volume_kwargs={"coarse_db": coarse})
    return clean, objective, comparison


def test_what_the_listener_hears_never_exceeds_the_comfort_limit(setup):
    _, _, cmp = setup
    limit = cmp.comfort_limit_phon
    for name, scores in cmp.strategies.items():
        assert float(scores.loudness_phon.max()) <= limit + 0.05, name
    assert bool((cmp.strategies["blast"].comfort_gain_db < -5.0).all())  # +40 dB is turned down
    np.testing.assert_allclose(cmp.strategies["same"].comfort_gain_db, 0.0, atol=1e-9)  # 65 dB SPL is comfortable
    np.testing.assert_allclose(cmp.strategies["same"].fr, 0.0, atol=1e-6)  # the clean sound restores nothing
    summary = cmp.summary()
    assert all(row["above_comfort"] <= 0.05 for row in summary.values())


def test_matched_loudness_removes_what_level_alone_changes(setup):
    _, _, cmp = setup
    same = cmp.strategies["same"]
    for name in ("shaped", "blast", VOLUME_CONTROL):  # all are broadband gains of the clean sound
        np.testing.assert_allclose(cmp.strategies[name].d_matched, same.d_matched, rtol=2e-3)


def test_the_volume_control_is_the_best_comfortable_broadband_gain(setup):
    _, _, cmp = setup
    vc = cmp.volume
    assert vc.gain_db in vc.gains_db and len(vc.gains_db) > 5  # coarse grid refined around the best
    assert vc.mean_distance[vc.gains_db.index(vc.gain_db)] == pytest.approx(min(vc.mean_distance))
    assert float(np.mean(cmp.strategies[VOLUME_CONTROL].d)) <= float(np.mean(cmp.strategies["same"].d)) + 1e-9
    gains = cmp.gain_over_volume_control("same")
    assert gains["fr"] <= 1e-9 and gains["benefit"] <= 1e-9
    # benefit and FR share the numerator: their ratio is D_0 / D(unaided) for every strategy and sound
    s = cmp.strategies["shaped"]
    np.testing.assert_allclose(s.benefit * cmp.d_scale, s.fr * cmp.d_unaided, rtol=1e-6, atol=1e-12)
    assert cmp.summary()[VOLUME_CONTROL]["gain_db"] == vc.gain_db


def test_bad_comparisons_are_refused(setup):
    clean, objective, _ = setup
    with pytest.raises(HearloopInputError, match="unaided distance is 0"):
        compare_with_volume_control(objective, clean, REF_NU, {"same": clean}, ListenerLoudness.normal())
    with pytest.raises(HearloopInputError, match="baseline's name"):
        compare_with_volume_control(objective, clean, HI_NU, {VOLUME_CONTROL: clean}, LOSS)
    with pytest.raises(HearloopInputError, match="one listener"):
        compare_with_volume_control(objective, clean, HI_NU, {}, ListenerLoudness.from_audiogram([{250: 0}] * 2))
    assert ComfortRange().limit_sone > 0
