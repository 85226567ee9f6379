"""Listener loudness (ISO 532-1 in torch, with hearing loss): NH against mosqito, recruitment, gradients, errors."""

import contextlib
import io

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from compensation.listener_loudness import ListenerLoudness, band_hearing_loss, split_hearing_loss
from compensation.third_octave import (
    BAND_CENTRES_HZ,
    MIN_SAMPLE_RATE_HZ,
    LoudnessSampleRateError,
    third_octave_levels,
)
from compensation.zwicker import core_loudness, phon_to_sone, sone_to_phon, total_loudness
from simulator.constants import REF_PRESSURE_PA, SAMPLE_RATE
from simulator.data.corpus import synthesise
from simulator.errors import HearloopInputError

FLAT = {250: 0.0, 8000: 0.0}


def _tone(freq_hz: float, level_db_spl: float, seconds: float = 0.5, rate: float = SAMPLE_RATE) -> torch.Tensor:
    t = torch.arange(int(seconds * rate), dtype=torch.float64) / rate
    return (REF_PRESSURE_PA * 10 ** (level_db_spl / 20) * np.sqrt(2) * torch.sin(2 * torch.pi * freq_hz * t)).float()


def _flat(loss_db: float) -> dict[int, float]:
    return {250: loss_db, 8000: loss_db}


def _speech(level_db_spl: float = 65.0, seed: int = 3) -> torch.Tensor:
    return torch.tensor(synthesise("speech", seed, 0.5, level_db_spl).audio).unsqueeze(0)


def test_band_levels_read_a_calibrated_tone_in_its_band_and_scale_exactly():
    levels = third_octave_levels(torch.stack([_tone(1000.0, 70.0), _tone(1000.0, 50.0)]))
    k = BAND_CENTRES_HZ.index(1000.0)
    np.testing.assert_allclose(levels[:, k].numpy(), [70.0, 50.0], atol=0.05)
    assert float(levels[0, k + 2]) < 40.0 and float(levels[0, k - 2]) < 40.0  # two bands away: far down the skirt
    audible = levels[1] > 0.0  # (far skirts sit at float32 round-off)
    assert int(audible.sum()) >= 5
    np.testing.assert_allclose((levels[0] - levels[1])[audible].numpy(), 20.0, atol=1e-3)  # a gain shifts each band


def test_iso_reference_points_one_sone_at_40_db_and_doubling_per_10_phon():
    nh = ListenerLoudness.normal()
    sones = nh.sones(torch.stack([_tone(1000.0, 40.0), _tone(1000.0, 60.0), _tone(1000.0, 80.0)]))
    # ISO 532-1 reads a 1 kHz tone at 40 dB SPL as about 1 sone (0.98 in the standard's program); 60 and 80 phon: 4, 16
    np.testing.assert_allclose(sone_to_phon(sones).numpy(), [40.0, 60.0, 80.0], atol=1.5)
    np.testing.assert_allclose(phon_to_sone(sone_to_phon(torch.tensor([0.3, 1.0, 7.0]))).numpy(), [0.3, 1.0, 7.0],
                               rtol=1e-4)  # fmt: skip


def test_nh_loudness_agrees_with_mosqito_iso_532_1():
    mosqito = pytest.importorskip("mosqito.sq_metrics")
    classes = ("speech", "speech_in_noise", "music", "ripple", "tone")
    levels = (42.0, 58.0, 74.0, 89.0)
    sounds = [synthesise(c, [5, i, j], 0.6, lev).audio for i, c in enumerate(classes) for j, lev in enumerate(levels)]
    sounds += [_tone(f, lev, 0.6).numpy() for f, lev in ((125.0, 75.0), (250.0, 85.0), (400.0, 50.0))]  # low slopes
    ours = ListenerLoudness.normal().sones(torch.tensor(np.stack(sounds))).numpy()
    ref = []
    for audio in sounds:
        with contextlib.redirect_stdout(io.StringIO()):  # mosqito prints a note when it resamples to 48 kHz
            ref.append(float(mosqito.loudness_zwst(audio.astype(np.float64), SAMPLE_RATE)[0]))
    ref = np.asarray(ref)
    assert spearmanr(ours, ref).statistic >= 0.99
    rel = np.abs(ours - ref) / ref  # same standard and tables; mosqito's time-domain filters add start-up transients
    assert float(np.median(rel)) < 0.015 and float(rel.max()) < 0.06


def test_recruitment_impaired_loudness_starts_later_grows_faster_and_catches_up():
    x = _speech()
    levels_db = torch.arange(30.0, 121.0, 10.0)
    batch = x * torch.pow(10.0, (levels_db - 65.0) / 20.0).unsqueeze(-1)
    nh = ListenerLoudness.normal().phons(batch)
    hi = ListenerLoudness.from_audiogram(_flat(50.0)).phons(batch)
    assert bool((hi <= nh + 1e-4).all())  # never louder than normal
    assert float(nh[3] - hi[3]) > 30.0  # at 60 dB SPL: far softer
    assert float(nh[-1] - hi[-1]) < 10.0  # at 120 dB SPL: nearly caught up (IHC attenuation only, 5 dB)
    # growth above the impaired threshold: phon per dB between 80 and 100 dB SPL, steeper than normal
    slope_hi, slope_nh = float(hi[7] - hi[5]) / 20.0, float(nh[7] - nh[5]) / 20.0
    assert slope_hi > 1.3 * slope_nh


def test_loss_split_caps_the_outer_hair_cell_part_and_negative_losses_read_normal():
    ohc, ihc = split_hearing_loss([10.0, 40.0, 80.0], ohc_share=0.9, ohc_max_db=55.0)
    np.testing.assert_allclose(ohc, [9.0, 36.0, 55.0])
    np.testing.assert_allclose(ihc, [1.0, 4.0, 25.0])
    np.testing.assert_allclose(band_hearing_loss({250: -8.0, 1000: -3.0, 8000: -5.0}), 0.0)
    sloping = band_hearing_loss({250: 10.0, 1000: 30.0, 4000: 70.0})
    assert sloping[0] == 10.0 and sloping[-1] == 70.0 and bool(np.all(np.diff(sloping) >= 0))


def test_a_model_of_several_listeners_scores_each_sound_for_its_own_listener():
    grams = [FLAT, _flat(30.0), {250: 10.0, 2000: 40.0, 8000: 70.0}]
    many = ListenerLoudness.from_audiogram(grams)
    x = _speech(70.0).repeat(3, 1)
    single = torch.cat([ListenerLoudness.from_audiogram(g).sones(x[:1]) for g in grams])
    torch.testing.assert_close(many.sones(x), single)
    torch.testing.assert_close(many.select([2, 0]).sones(x[:2]), single[[2, 0]])
    with pytest.raises(HearloopInputError, match="3 listeners"):
        many.sones(x[:2])


def test_loudness_is_differentiable_and_its_gradient_matches_finite_differences():
    levels = (50.0 + 30.0 * torch.rand(2, 28, generator=torch.Generator().manual_seed(1))).double()
    ohc = torch.full((20,), 20.0, dtype=torch.float64)

    def fn(lv: torch.Tensor) -> torch.Tensor:
        return total_loudness(core_loudness(lv, ohc, ohc * 0.1))

    assert torch.autograd.gradcheck(fn, (levels.requires_grad_(True),), eps=1e-4, atol=1e-4, rtol=1e-3)
    audio = (_speech(60.0) * 1.0).requires_grad_(True)
    ListenerLoudness.from_audiogram(_flat(30.0)).sones(audio).sum().backward()
    assert audio.grad is not None and float(audio.grad.abs().sum()) > 0


def test_bad_sample_rates_and_bad_losses_raise_named_errors():
    x = _tone(1000.0, 60.0, rate=16000.0).unsqueeze(0)
    with pytest.raises(LoudnessSampleRateError, match="22"):
        ListenerLoudness.normal().sones(x, sample_rate=16000.0)
    assert issubclass(LoudnessSampleRateError, HearloopInputError)
    ok = ListenerLoudness.normal().sones(_tone(1000.0, 60.0, rate=48000.0).unsqueeze(0), sample_rate=48000.0)
    assert 3.0 < float(ok) < 5.0 and MIN_SAMPLE_RATE_HZ < SAMPLE_RATE
    with pytest.raises(HearloopInputError, match=">= 0"):
        ListenerLoudness(ohc_loss_db=np.full(20, -5.0))
    with pytest.raises(HearloopInputError):
        ListenerLoudness(ohc_loss_db=np.zeros(7))
