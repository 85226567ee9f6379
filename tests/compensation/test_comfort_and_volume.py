"""Comfort range, loudness-setting gains (matched loudness, comfort limit), the volume-control baseline and benefit."""

import numpy as np
import pytest
import torch

from compensation.benefit import benefit
from compensation.comfort import (
    CATEGORY_UNITS,
    MEDIUM_PHON,
    ComfortRange,
    ComfortRangeError,
    ListenerComfort,
    category_sone,
    comfortable_levels,
    limit_to_comfort,
)
from compensation.listener_loudness import ListenerLoudness
from compensation.loudness_scaling import loudness_gain_db, match_nh_loudness, scale_to_loudness
from compensation.volume_control import volume_control
from simulator.data.corpus import synthesise
from simulator.errors import HearloopInputError


def _sounds(n: int = 2, level_db_spl: float = 65.0) -> torch.Tensor:
    classes = ("speech", "speech_in_noise", "music")
    return torch.tensor(np.stack([synthesise(classes[i % 3], [9, i], 0.4, level_db_spl).audio for i in range(n)]))


def _rms_db(x: torch.Tensor) -> torch.Tensor:
    return 10.0 * torch.log10(x.double().square().mean(-1) / (20e-6) ** 2)


IMPAIRED = ListenerLoudness.from_audiogram({250: 30.0, 1000: 45.0, 4000: 60.0, 8000: 65.0})


def test_anchors_follow_the_cubic_category_relation_pinned_at_medium():
    assert category_sone("medium") == pytest.approx(2.0 ** ((MEDIUM_PHON - 40.0) / 10.0))
    for name, cu in CATEGORY_UNITS.items():
        assert category_sone(name) == pytest.approx(category_sone("medium") * (cu / 25.0) ** 3)
    comfort = ComfortRange()
    p = comfort.phons()
    assert p["lower"] < MEDIUM_PHON < p["upper"] < p["ucl"]
    assert comfort.limit_sone == pytest.approx(category_sone("loud"))
    d = comfort.discomfort(torch.tensor([comfort.lower_sone, comfort.upper_sone, comfort.ucl_sone]))
    np.testing.assert_allclose(d.numpy(), [0.0, 0.0, 1.0], atol=1e-5)


@pytest.mark.parametrize(
    ("lower", "upper", "ucl", "match"),
    [(10.0, 10.0, 20.0, "empty"), (10.0, 5.0, 20.0, "inverted"), (1.0, 30.0, 20.0, "above the UCL"),
     (float("nan"), 5.0, 20.0, "finite")],
)  # fmt: skip
def test_empty_inverted_or_broken_comfort_ranges_raise_a_named_error(lower, upper, ucl, match):
    with pytest.raises(ComfortRangeError, match=match):
        ComfortRange(lower, upper, ucl)
    assert issubclass(ComfortRangeError, HearloopInputError)
    with pytest.raises(ComfortRangeError, match="empty or inverted"):
        ComfortRange.from_phons(70.0, 60.0, 100.0)
    with pytest.raises(ComfortRangeError, match="unknown loudness category"):
        ComfortRange.from_categories(upper="deafening")


def test_gain_search_hits_the_target_loudness_and_its_gradient_is_the_implicit_one():
    x = _sounds(2)
    target = torch.tensor([5.0, 40.0], requires_grad=True)
    gain = loudness_gain_db(x, IMPAIRED, target)
    scaled = x * torch.pow(10.0, gain.detach() / 20.0).unsqueeze(-1)
    np.testing.assert_allclose(IMPAIRED.sones(scaled).numpy(), [5.0, 40.0], rtol=2e-3)
    gain.sum().backward()
    with torch.no_grad():  # dg/dT = 1 / (dN/dg), by finite differences of the loudness in the gain
        up = IMPAIRED.sones(x * torch.pow(10.0, (gain + 0.1) / 20.0).unsqueeze(-1))
        down = IMPAIRED.sones(x * torch.pow(10.0, (gain - 0.1) / 20.0).unsqueeze(-1))
    np.testing.assert_allclose(target.grad.numpy(), (0.2 / (up - down)).numpy(), rtol=0.05)
    np.testing.assert_allclose(IMPAIRED.sones(scale_to_loudness(x, IMPAIRED, 12.0)).numpy(), 12.0, rtol=2e-3)


def test_matched_loudness_gives_the_listener_the_nh_loudness_of_the_clean_sound():
    clean = _sounds(3)
    aided = clean * torch.tensor([[2.0], [0.3], [8.0]])
    matched = match_nh_loudness(aided, clean, IMPAIRED)
    np.testing.assert_allclose(IMPAIRED.sones(matched).numpy(), ListenerLoudness.normal().sones(clean).numpy(),
                               rtol=3e-3)  # fmt: skip
    # the impaired ear needs more level than normal hearing for the same loudness (recruitment below the UCL)
    assert bool((_rms_db(matched) > _rms_db(clean) + 5.0).all())


def test_scaling_pairs_each_sound_with_its_own_listener_in_a_batch_of_listeners():
    grams = [{250: 20.0, 8000: 20.0}, {250: 40.0, 4000: 60.0, 8000: 70.0}]
    many = ListenerLoudness.from_audiogram(grams)
    clean = _sounds(2)
    target = torch.tensor([8.0, 20.0])
    joint = loudness_gain_db(clean, many, target)
    alone = torch.cat([loudness_gain_db(clean[i : i + 1], many.select([i]), target[i]) for i in range(2)])
    torch.testing.assert_close(joint, alone, atol=1e-3, rtol=0)


def test_comfort_limit_scales_only_what_is_too_loud_and_lands_on_the_limit():
    comfort = ComfortRange()
    x = _sounds(2) * torch.tensor([[1.0], [40.0]])  # 65 dB SPL (comfortable) and 97 dB SPL (too loud)
    before = IMPAIRED.sones(x)
    assert float(before[0]) < comfort.limit_sone < float(before[1])
    limited = limit_to_comfort(x, IMPAIRED, comfort)
    torch.testing.assert_close(limited[0], x[0])
    assert float(IMPAIRED.sones(limited[1:])) == pytest.approx(comfort.limit_sone, rel=3e-3)


def test_listener_comfort_measures_excess_and_limits_like_the_functions():
    lc = ListenerComfort(IMPAIRED)
    x = _sounds(2) * torch.tensor([[1.0], [40.0]])
    phons = lc.phons(x)
    assert float(phons[0]) < lc.limit_phon < float(phons[1])
    np.testing.assert_allclose(lc.excess_phon(x).numpy(), [0.0, float(phons[1]) - lc.limit_phon], atol=1e-4)
    assert float(lc.discomfort(x)[0]) == 0.0 and 0.0 < float(lc.discomfort(x)[1])
    torch.testing.assert_close(lc.limit(x), limit_to_comfort(x, IMPAIRED))
    assert float(lc.excess_phon(lc.limit(x)).max()) < 0.05
    with pytest.raises(HearloopInputError, match="one listener"):
        ListenerComfort(ListenerLoudness.from_audiogram([{250: 0}, {250: 9}]))


def test_comfortable_levels_narrow_with_hearing_loss_while_the_ucl_stays_near_normal():
    x = _sounds(1)
    nh = comfortable_levels(x, ListenerLoudness.normal())
    hi = comfortable_levels(x, IMPAIRED)
    assert float(nh["lower_db"]) < float(nh["upper_db"]) < float(nh["ucl_db"])
    assert float(hi["lower_db"]) > float(nh["lower_db"]) + 15.0  # the floor rises with the threshold
    assert float(hi["width_db"]) < float(nh["width_db"]) - 8.0  # recruitment: a narrower comfortable range
    assert float(hi["ucl_db"] - nh["ucl_db"]) < float(hi["lower_db"] - nh["lower_db"]) - 10.0


def test_volume_control_finds_the_best_gain_and_respects_the_comfort_limit():
    clean = _sounds(2)
    base = _rms_db(clean)

    def distance(aided: torch.Tensor) -> torch.Tensor:  # best at +17 dB over each sound's own level
        return ((_rms_db(aided) - base.repeat(aided.shape[0] // 2)) - 17.0).square()

    free = volume_control(distance, clean, ListenerLoudness.normal(), ComfortRange(0.1, 1e4, 1e4))
    assert free.gain_db == pytest.approx(17.0)
    torch.testing.assert_close(free.applied_gain_db, torch.full((2,), 17.0))
    tight = ComfortRange(0.1, 30.0, 60.0)  # the limit binds before +17 dB for normal hearing at 65 dB SPL
    capped = volume_control(distance, clean, ListenerLoudness.normal(), tight)
    assert bool((capped.applied_gain_db < 17.0).all())
    heard = ListenerLoudness.normal().sones(capped.aided(clean))
    assert bool((heard <= tight.limit_sone * 1.003).all())
    torch.testing.assert_close(capped.applied_gain_db, capped.comfort_gain_db)
    with pytest.raises(HearloopInputError, match="per listener"):
        volume_control(distance, clean, ListenerLoudness.from_audiogram([{250: 0}, {250: 10}]))


def test_volume_control_reports_the_lowest_of_the_settings_that_apply_the_same_gains():
    clean = _sounds(2)
    tight = ComfortRange(0.1, 30.0, 60.0)

    def louder_is_better(aided: torch.Tensor) -> torch.Tensor:  # plus rounding-sized noise favouring later rows
        return -_rms_db(aided) - 1e-9 * torch.arange(aided.shape[0], dtype=torch.float64)

    vc = volume_control(louder_is_better, clean, ListenerLoudness.normal(), tight)
    top_cap = float(vc.comfort_gain_db.max())
    assert vc.gain_db == min(g for g in vc.gains_db if g >= top_cap)  # every higher setting applies the same caps
    assert sum(g >= top_cap for g in vc.gains_db) > 1
    torch.testing.assert_close(vc.applied_gain_db, vc.comfort_gain_db)


def test_benefit_is_the_distance_change_over_the_sound_scale():
    np.testing.assert_allclose(benefit(np.array([0.5, 0.05]), np.array([0.3, 0.08]), np.array([1.0, 1.2])),
                               [0.2, -0.025])  # fmt: skip
    with pytest.raises(HearloopInputError, match="response scale"):
        benefit(0.5, 0.3, 0.0)
