"""Tests of the virtual-IC generator: determinism, hearing-loss ground truth, repeats, CLI (simulator.virtual_ic)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from simulator.constants import DOWNSAMPLE, MAX_COUNT
from simulator.data.corpus import speech_like, tone
from simulator.data.recording_types import ABR_FREQS_HZ
from simulator.virtual_ic import (
    AnimalParams,
    HearingProfile,
    basilar_membrane_io_db,
    expected_response,
    generate_cohort,
    hi_profile,
    nh_profile,
    sample_animal_params,
    sample_channel_template,
    true_threshold_db_spl,
)
from simulator.virtual_ic.midbrain import sample_counts
from simulator.virtual_ic.periphery import CF_GRID_HZ, N_CF, static_an_rate

TINY = {"n_channels": 8, "train_seconds": 2.0, "sound_duration_s": 0.4, "test_duration_s": 0.4, "progress": False,
        "periphery": "gammatone"}  # fmt: skip


@pytest.fixture(scope="module")
def cohort():
    return generate_cohort(n_nh=3, n_hi=6, seed=0, n_test_per_class=1, **TINY)


def _profile(ohc: np.ndarray | float = 0.0, ihc: float = 0.0, syn: float = 0.0) -> HearingProfile:
    ohc = np.broadcast_to(np.asarray(ohc, dtype=float), (N_CF,)).copy()
    return HearingProfile("HI", "flat", {}, ohc, np.full(N_CF, ihc), syn, 0.0)


def _animal(profile: HearingProfile, n_channels: int = 16) -> AnimalParams:
    template = sample_channel_template(np.random.default_rng(1), n_channels)
    params = sample_animal_params("a", profile, template, np.random.default_rng(2), shuffle_channels=False)
    params.degradation.gain_loss = 0.0
    params.degradation.drift_db = 0.0
    return params


def _feve(r1: np.ndarray, r2: np.ndarray, pred: np.ndarray) -> float:
    """The covariance-weighted FEVE (channels x bins), written out independently of simulator.metrics."""
    cov = np.array([np.cov(a, b)[0, 1] for a, b in zip(r1, r2, strict=True)])
    w = np.maximum(cov, 0.0) / np.maximum(cov, 0.0).sum()
    noise = 0.5 * np.mean((r1 - r2) ** 2, axis=1)
    mse = 0.5 * (np.mean((r1 - pred) ** 2, axis=1) + np.mean((r2 - pred) ** 2, axis=1))
    feve = 1.0 - (mse - noise) / (0.5 * (r1.var(axis=1) + r2.var(axis=1)) - noise)
    return float(np.sum(w * feve))


def test_cohort_contract(cohort):
    assert [a.animal_id for a in cohort] == ["NH01", "NH02", "NH03", "HI01", "HI02", "HI03", "HI04", "HI05", "HI06"]
    names = [s.name for s in cohort[0].sounds]
    classes = {s.sound_class for s in cohort[0].sounds}
    assert classes == {"speech", "speech_in_noise", "music", "ripple", "tone", "silence"}
    for a in cohort:
        a.validate()
        assert [s.name for s in a.sounds] == names  # every animal hears the same corpus
        assert set(a.abr_thresholds_db) == set(ABR_FREQS_HZ)
        json.dumps(a.ground_truth)  # JSON-serialisable ground truth
        assert sorted(a.ground_truth["electrodes"]["template_index"]) == list(range(8))
        for s in a.sounds:
            assert s.counts.dtype == np.uint8 and s.counts.max() <= MAX_COUNT
            assert s.counts.shape == (2 if s.split == "test" else 1, 8, s.audio.size // DOWNSAMPLE)
            assert np.isfinite(s.audio).all() and 0.0 <= s.hours <= 10.0
    hours = [s.hours for s in cohort[0].sounds]
    assert max(hours) - min(hours) > 7.0  # presented across the session
    assert [s.hours for s in cohort[1].sounds] != hours  # random order per animal


def test_same_seed_identical_different_seed_differs(cohort):
    again = generate_cohort(n_nh=1, n_hi=1, seed=0, n_test_per_class=1, **TINY)
    other = generate_cohort(n_nh=1, n_hi=1, seed=1, n_test_per_class=1, **TINY)
    # animal 0 (NH01) is identical whatever the cohort size: per-animal seed streams
    for s, t in zip(cohort[0].sounds, again[0].sounds, strict=True):
        np.testing.assert_array_equal(s.counts, t.counts)
        np.testing.assert_array_equal(s.audio, t.audio)
    assert cohort[0].ground_truth == again[0].ground_truth
    assert cohort[0].abr_thresholds_db == again[0].abr_thresholds_db
    assert not all(np.array_equal(s.counts, t.counts) for s, t in zip(cohort[0].sounds, other[0].sounds, strict=True))
    assert not np.array_equal(cohort[0].sounds[0].audio, other[0].sounds[0].audio)


def test_abr_thresholds_track_true_severity(cohort):
    sev = np.array([a.ground_truth["severity_db_hl"] for a in cohort])
    abr = np.array([np.mean(list(a.abr_thresholds_db.values())) for a in cohort])
    status = np.array([a.hearing_status for a in cohort])
    rho = spearmanr(sev, abr).statistic
    assert rho > 0.8, rho
    assert sev[status == "NH"].max() < 5.0 and sev[status == "HI"].min() > 8.0
    assert abr[status == "HI"].mean() > abr[status == "NH"].mean() + 15.0
    assert np.ptp(sev[status == "HI"]) > 25.0  # mild to severe
    shapes = {a.ground_truth["profile"]["shape"] for a in cohort if a.hearing_status == "HI"}
    assert shapes == {"flat", "sloping", "notch"}


def test_ohc_loss_raises_threshold_where_lost_and_linearises_io():
    ohc = np.where(CF_GRID_HZ > 2000.0, 40.0, 0.0)
    nh, hi = _animal(_profile()), _animal(_profile(ohc))
    shift = true_threshold_db_spl(hi, [500.0, 4000.0]) - true_threshold_db_spl(nh, [500.0, 4000.0])
    assert abs(shift[0]) < 1.0 and 38.0 < shift[1] < 50.0
    levels = np.array([50.0, 80.0])
    slope_nh = np.diff(basilar_membrane_io_db(levels, 0.0))[0] / 30.0
    slope_hi = np.diff(basilar_membrane_io_db(levels, 40.0))[0] / 30.0
    assert 0.2 < slope_nh < 0.4 and slope_hi > 0.75  # compression removed
    # In the full simulated response, the 4 kHz channel's tone threshold rises by ~the OHC loss.
    ch = int(np.argmin(np.abs(nh.channel_cf_hz - 4000.0)))

    def response_threshold(params: AnimalParams) -> float:
        base = expected_response(params, np.zeros(6104))[ch].mean()
        for level in np.arange(-10.0, 101.0, 5.0):
            if expected_response(params, tone(4000.0, level, 0.25))[ch].mean() > base + 0.1:
                return float(level)
        return np.inf

    assert 30.0 <= response_threshold(hi) - response_threshold(nh) <= 55.0


def test_synaptopathy_is_hidden_loss():
    clean, syn = _animal(_profile()), _animal(_profile(syn=0.8))
    np.testing.assert_allclose(true_threshold_db_spl(clean, ABR_FREQS_HZ), true_threshold_db_spl(syn, ABR_FREQS_HZ))
    rates = static_an_rate(np.array([10.0, 90.0]), np.zeros(N_CF), np.zeros(N_CF), 0.8)
    rates0 = static_an_rate(np.array([10.0, 90.0]), np.zeros(N_CF), np.zeros(N_CF), 0.0)
    assert np.abs(rates[0] - rates0[0]).max() < 0.01  # near threshold: ~unchanged
    assert np.all(rates0[1] - rates[1] > 0.12)  # suprathreshold: reduced (low-SR fibres lost)
    loud = speech_like(np.random.default_rng(0), 0.6, 85.0)
    r_clean, r_syn = expected_response(clean, loud), expected_response(syn, loud)
    assert r_syn.mean() < 0.9 * r_clean.mean()
    assert r_syn.std(axis=1).mean() < r_clean.std(axis=1).mean()  # weaker envelope coding


def test_repeats_share_expected_rate_and_feve_ceiling():
    params = sample_animal_params(
        "nh", nh_profile(np.random.default_rng(0)), sample_channel_template(np.random.default_rng(1), 16),
        np.random.default_rng(2),
    )  # fmt: skip
    audio = speech_like(np.random.default_rng(5), 1.5, 75.0)
    expected = expected_response(params, audio, hours=1.0)
    counts = sample_counts(expected / MAX_COUNT, np.random.default_rng(3), n_trials=2).astype(float)
    assert not np.array_equal(counts[0], counts[1])
    corr = np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(counts[0], counts[1], strict=True)])
    assert corr > 0.3, corr  # explainable variance is a sizeable part of the total
    assert abs(counts.mean() - expected.mean()) < 0.05
    assert 0.85 < _feve(counts[0], counts[1], expected) < 1.15  # the true model reaches the ceiling


def test_recorded_counts_follow_ground_truth(cohort):
    animal = cohort[4]
    params = AnimalParams.from_dict(json.loads(json.dumps(animal.ground_truth)))
    test = [s for s in animal.sounds if s.split == "test"]
    pred = np.concatenate([expected_response(params, s.audio, s.hours) for s in test], axis=1)
    rec = np.concatenate([s.counts.astype(float).mean(axis=0) for s in test], axis=1)
    assert abs(rec.mean() - pred.mean()) < 0.05
    assert np.corrcoef(rec.ravel(), pred.ravel())[0, 1] > 0.4


def test_degradation_reduces_responses_late_in_session():
    params = _animal(nh_profile(np.random.default_rng(0)))
    params.degradation.onset_h, params.degradation.rate = 1.0, 30.0
    params.degradation.gain_loss, params.degradation.drift_db = 0.25, 5.0
    assert params.degradation.amount(0.5) == 0.0 and params.degradation.amount(9.0) > 0.9
    audio = speech_like(np.random.default_rng(1), 0.5, 60.0)
    assert expected_response(params, audio, hours=9.0).mean() < 0.9 * expected_response(params, audio, 0.0).mean()
    assert true_threshold_db_spl(params, 2000.0, hours=9.0) > true_threshold_db_spl(params, 2000.0) + 4.0


def test_hi_profiles_scale_with_target_severity():
    rng = np.random.default_rng(0)
    for shape in ("flat", "sloping", "notch"):
        mild, severe = hi_profile(rng, 15.0, shape), hi_profile(rng, 45.0, shape)
        assert severe.total_loss_db.mean() > mild.total_loss_db.mean() + 10.0
        assert np.all(severe.ohc_loss_db <= 49.0) and np.all(severe.ihc_loss_db >= 0.0)
        assert severe.central_gain_per_cf().max() > 1.2


def test_expected_response_rejects_bad_audio():
    params = _animal(_profile(), 4)
    with pytest.raises(ValueError, match="finite 1-D"):
        expected_response(params, np.full(1000, np.nan))
    with pytest.raises(ValueError, match="finite 1-D"):
        expected_response(params, np.zeros((2, 1000)))


def test_synth_cli(tmp_path, capsys):
    from runners.cli import main

    assert main(["synth", "--out", str(tmp_path / "x"), "--n-nh", "0", "--n-hi", "0"]) == 2
    pytest.importorskip("simulator.data.recordings", reason="simulator.data.recordings (write_cohort) not present yet")
    args = ["synth", "--out", str(tmp_path / "c"), "--n-nh", "1", "--n-hi", "1", "--channels", "4", "--quiet"]
    args += ["--periphery", "gammatone"]
    assert main([*args, "--train-seconds", "1", "--sound-seconds", "0.3", "--test-seconds", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "NH01" in out and "HI01" in out and "2 animals" in out
    assert any((tmp_path / "c").iterdir())


def test_synth_cli_level_and_severity_ranges(tmp_path, capsys):
    """--level-range / --hi-pta-range reach generate_cohort and are recorded for the training metadata."""
    import json

    from runners.cli import main

    base = ["synth", "--n-nh", "0", "--n-hi", "1", "--channels", "4", "--quiet", "--train-seconds", "1"]
    base += ["--periphery", "gammatone"]
    base += ["--sound-seconds", "0.3", "--test-seconds", "0.3"]
    assert main([*base, "--out", str(tmp_path / "bad"), "--level-range", "90", "20"]) == 2
    assert "--level-range must be LOW HIGH with LOW <= HIGH, got 90 20" in capsys.readouterr().err
    args = [*base, "--out", str(tmp_path / "c"), "--level-range", "20", "60", "--hi-pta-range", "60", "60"]
    assert main(args) == 0
    config = json.loads((tmp_path / "c" / "cohort.json").read_text())["metadata"]["config"]
    assert config["level_range_db_spl"] == [20.0, 60.0] and config["hi_pta_range_db"] == [60.0, 60.0]
    assert config["test_level_range_db_spl"] == [65.0, 90.0]
    severity = float(capsys.readouterr().out.split("HI01")[1].split()[2])
    assert severity > 45.0  # a 60 dB HL target (shape caps may bring it below 60), far above the default 10-50 range


def test_flat_from_gives_severe_targets_flat_losses_and_leaves_the_rest_alone():
    """Notch and sloping losses saturate near 50 dB HL; ``flat_from_pta_db`` gives severe targets a flat shape."""
    from simulator.virtual_ic.cohort import hi_targets

    cycled = hi_targets(9, np.random.default_rng([0, 2]), (10.0, 90.0))
    flat = hi_targets(9, np.random.default_rng([0, 2]), (10.0, 90.0), flat_from_pta_db=50.0)
    assert [p for p, _ in cycled] == [p for p, _ in flat]  # the same draws: only the shapes of severe targets change
    assert {s for _, s in cycled if _ >= 50.0} != {"flat"}  # the cycle alone gives severe targets other shapes
    for (p, s_cycled), (_, s_flat) in zip(cycled, flat, strict=True):
        assert s_flat == ("flat" if p >= 50.0 else s_cycled)
    # why: a notch asked for a severe PTA stays far below it; a flat loss reaches it
    rng = np.random.default_rng(3)
    assert hi_profile(rng, 70.0, "notch").total_loss_db.mean() < hi_profile(rng, 70.0, "flat").total_loss_db.mean() - 15


def test_synth_cli_flat_from_is_recorded_and_validated(tmp_path, capsys):
    from runners.cli import main

    base = ["synth", "--n-nh", "0", "--n-hi", "2", "--channels", "4", "--quiet", "--train-seconds", "1"]
    base += ["--periphery", "gammatone"]
    base += ["--sound-seconds", "0.3", "--test-seconds", "0.3", "--hi-pta-range", "50", "90"]
    with pytest.raises(SystemExit) as exited:  # refused while the command line is parsed
        main([*base, "--out", str(tmp_path / "bad"), "--flat-from", "nan"])
    assert exited.value.code == 2
    assert "argument --flat-from: must be a number in [-10, 120], got nan" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    assert main([*base, "--out", str(tmp_path / "c"), "--flat-from", "50"]) == 0
    config = json.loads((tmp_path / "c" / "cohort.json").read_text())["metadata"]["config"]
    assert config["flat_from_pta_db"] == 50.0
    shapes = [line.split()[2] for line in capsys.readouterr().out.splitlines() if line.startswith("HI")]
    assert shapes == ["flat", "flat"]


def test_synth_cli_tone_frequencies_are_recorded_only_when_continuous(tmp_path):
    from runners.cli import main
    from simulator.data.corpus import TONE_FREQS_HZ
    from simulator.virtual_ic.cohort import cohort_corpus

    base = ["synth", "--n-nh", "1", "--n-hi", "0", "--channels", "4", "--quiet", "--train-seconds", "9"]
    base += ["--periphery", "gammatone"]
    base += ["--sound-seconds", "1", "--test-seconds", "0.3"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert "tone_frequencies" not in json.loads((tmp_path / "a" / "cohort.json").read_text())["metadata"]["config"]
    assert main([*base, "--out", str(tmp_path / "c"), "--tone-frequencies", "continuous"]) == 0
    config = json.loads((tmp_path / "c" / "cohort.json").read_text())["metadata"]["config"]
    assert config["tone_frequencies"] == "continuous"
    sounds, _ = cohort_corpus(0, 9.0, 1.0, 1, 0.3, tone_frequencies="continuous")
    pips = [p[2] for s in sounds if s.sound_class == "tone" for p in s.meta["pips"]]
    assert pips and not set(pips) & set(TONE_FREQS_HZ)
