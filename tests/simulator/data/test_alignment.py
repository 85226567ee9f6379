"""Channel alignment: recovers planted permutations despite count noise and per-channel gain changes; never rescales."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d
from scipy.special import expit

from simulator.constants import BIN_RATE, DOWNSAMPLE, SAMPLE_RATE
from simulator.data.alignment import align_channels, align_cohort, alignment_cost, apply_alignment, time_course_cdfs
from simulator.data.recording_types import ABR_FREQS_HZ, AnimalRecording, SoundRecording
from simulator.errors import HearloopInputError

N_BANDS = 16
CARRIERS_HZ = np.geomspace(250.0, 8000.0, N_BANDS)


def make_sounds(seed: int = 0, n_sounds: int = 6, seconds: float = 2.0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, audio Pa, band envelopes ``bands x bins``): carriers with independent slowly varying envelopes."""
    rng = np.random.default_rng(seed)
    n_bins = int(seconds * BIN_RATE)
    t = np.arange(n_bins * DOWNSAMPLE) / SAMPLE_RATE
    out = []
    for k in range(n_sounds):
        env = np.maximum(gaussian_filter1d(rng.normal(size=(N_BANDS, n_bins)), 12.0, axis=1) * 10.0, 0.0)
        carriers = np.sin(2 * np.pi * CARRIERS_HZ[:, None] * t + rng.uniform(0, 2 * np.pi, (N_BANDS, 1)))
        audio = (0.05 * np.repeat(env, DOWNSAMPLE, axis=1) * carriers).sum(0).astype(np.float32)
        out.append((f"sound{k}", audio, env))
    return out


def channel_types(n_channels: int, seed: int = 1) -> dict[str, np.ndarray]:
    """Tonotopic channels (CF positions on the band axis) with varied onset/sustained mix and gains."""
    rng = np.random.default_rng(seed)
    return {
        "cf": np.linspace(0.0, N_BANDS - 1.0, n_channels) + rng.normal(0, 0.1, n_channels),
        "onset": rng.uniform(0.0, 1.0, n_channels),
        "gain": rng.uniform(4.0, 8.0, n_channels),
        "bias": rng.uniform(-3.5, -2.5, n_channels),
    }


def record(
    animal_id: str, ch: dict[str, np.ndarray], sounds, seed: int, gain_scale=1.0, perm=None, threshold_shift=0.0
) -> AnimalRecording:
    """Binomial(4, p) counts of channels ``ch`` (reordered by ``perm``: recorded channel j = type perm[j]).

    ``threshold_shift`` lowers every channel's bias, raising its threshold as hearing loss would (drive units)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(ch["cf"].size) if perm is None else np.asarray(perm)
    w = np.exp(-0.5 * (np.arange(N_BANDS)[None, :] - ch["cf"][idx, None]) ** 2)
    w /= w.sum(1, keepdims=True)
    recs = []
    for h, (name, audio, env) in enumerate(sounds):
        drive = w @ env
        onset = np.maximum(np.diff(drive, axis=1, prepend=drive[:, :1]), 0.0) * 8.0
        mix = ch["onset"][idx, None]
        bias = ch["bias"][idx, None] - threshold_shift
        x = (ch["gain"][idx] * gain_scale)[:, None] * ((1 - mix) * drive + mix * onset) + bias
        counts = rng.binomial(4, 0.95 * expit(x))[None].astype(np.uint8)
        recs.append(SoundRecording(name, "ripple", audio, counts, 0.1 * h, "train"))
    cf_hz = np.interp(ch["cf"][idx], np.arange(N_BANDS), CARRIERS_HZ)
    return AnimalRecording(animal_id, "NH", {f: 20.0 for f in ABR_FREQS_HZ}, recs, cf_hz)


@pytest.fixture(scope="module")
def setup():
    sounds = make_sounds()
    ch = channel_types(40)
    return sounds, ch, record("REF", ch, sounds, seed=10)


def test_recovers_planted_permutation_with_new_noise(setup):
    sounds, ch, ref = setup
    planted = np.random.default_rng(5).permutation(40)
    animal = record("B", ch, sounds, seed=11, perm=planted)
    perm = align_channels(animal, ref)
    assert np.mean(planted[perm] == np.arange(40)) >= 0.95


def test_recovers_planted_permutation_with_per_channel_gain_change(setup):
    sounds, ch, ref = setup
    rng = np.random.default_rng(6)
    planted = rng.permutation(40)
    gain = np.exp(rng.normal(0.0, 0.4, 40))  # per recorded channel, as electrode impedance or hearing loss would
    animal = record("B", ch, sounds, seed=12, gain_scale=gain, perm=planted)
    mean_rate = [s.counts.mean() for s in animal.sounds]
    perm = align_channels(animal, ref)
    correct = np.mean(planted[perm] == np.arange(40))
    assert correct >= 0.95, correct
    aligned = apply_alignment(animal, perm)
    for s, a, m in zip(animal.sounds, aligned.sounds, mean_rate, strict=True):
        np.testing.assert_array_equal(a.counts, s.counts[:, perm, :])  # a pure reorder ...
        assert a.counts.mean() == m  # ... so the scale (mean activity) is untouched
    np.testing.assert_allclose(aligned.channel_cf_hz, ref.channel_cf_hz, rtol=0.2)


@pytest.mark.parametrize("gain", [0.5, 2.0])
def test_uniform_gain_change_keeps_true_matches_cheap(setup, gain):
    """Halving or doubling every channel's gain (a hearing-loss-like scale change) leaves the true match cheap."""
    sounds, ch, ref = setup
    scaled = record("B", ch, sounds, seed=13, gain_scale=gain)
    cost = alignment_cost(scaled, ref)
    assert cost.shape == (40, 40) and np.all(cost >= 0)
    assert np.median(np.diag(cost)) < 0.5 * np.median(cost)
    np.testing.assert_array_equal(align_channels(scaled, ref), np.arange(40))


def test_signature_ignores_gain_and_baseline_and_is_a_distribution():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 3, (1, 5, 600)).astype(np.uint8)
    cdf = time_course_cdfs(counts, [0, 256], 256, 8)
    np.testing.assert_allclose(cdf, time_course_cdfs(counts * 2, [0, 256], 256, 8))  # gain
    np.testing.assert_allclose(cdf, time_course_cdfs(counts + 1, [0, 256], 256, 8))  # baseline
    assert not np.allclose(cdf, time_course_cdfs(counts[:, ::-1], [0, 256], 256, 8))  # but not the channel identity
    assert cdf.shape == (5, 512)
    np.testing.assert_allclose(cdf[:, 255], 1.0)
    np.testing.assert_allclose(cdf[:, -1], 1.0)
    assert np.all(np.diff(cdf[:, :256], axis=1) >= -1e-12)
    silent = time_course_cdfs(np.zeros((1, 2, 256), np.uint8), [0], 256, 8)
    np.testing.assert_allclose(silent[:, -1], 1.0)  # no spikes -> uniform, not NaN


def test_identity_and_cohort_alignment(setup):
    sounds, ch, ref = setup
    np.testing.assert_array_equal(align_channels(ref, ref), np.arange(40))
    planted = np.random.default_rng(7).permutation(40)
    hi = record("HI", ch, sounds, seed=14, gain_scale=0.6, perm=planted)
    hi.hearing_status = "HI"
    aligned, perms = align_cohort([hi, ref])
    np.testing.assert_array_equal(perms["REF"], np.arange(40))
    assert np.mean(planted[perms["HI"]] == np.arange(40)) >= 0.9  # 0.95 measured; weaker drive at 0.6x gain
    np.testing.assert_array_equal(aligned[1].sounds[0].counts, ref.sounds[0].counts)
    np.testing.assert_array_equal(aligned[0].sounds[0].counts, hi.sounds[0].counts[:, perms["HI"], :])


def test_bad_input(setup):
    sounds, ch, ref = setup
    small = record("S", {k: v[:10] for k, v in ch.items()}, sounds, seed=1)
    with pytest.raises(HearloopInputError, match="equal channel counts"):
        align_channels(small, ref)
    other = record("O", ch, make_sounds(seed=9), seed=2)
    with pytest.raises(HearloopInputError, match="different audio"):
        align_channels(other, ref)
    with pytest.raises(HearloopInputError, match="not recorded in both"):
        align_channels(ref, ref, sounds=["nope"])
    with pytest.raises(HearloopInputError, match="permutation"):
        apply_alignment(ref, np.zeros(40, dtype=int))
    with pytest.raises(HearloopInputError, match="NH animal"):
        align_cohort([small.__class__(**{**small.__dict__, "hearing_status": "HI"})])


def test_re_aligning_an_aligned_copy_records_the_permutation_from_the_recorded_order():
    counts = np.arange(2 * 5 * 4, dtype=np.uint8).reshape(1, 5, 8) % 5
    sound = SoundRecording("s", "speech", np.zeros(8 * DOWNSAMPLE, dtype=np.float32), counts, 0.0)
    raw = AnimalRecording("A", "NH", None, [sound], ground_truth={"animal_id": "A"})
    first, second = np.array([2, 0, 4, 1, 3]), np.array([1, 4, 0, 3, 2])
    twice = apply_alignment(apply_alignment(raw, first), second)
    total = np.asarray(twice.ground_truth["alignment"]["permutation"])
    np.testing.assert_array_equal(total, first[second])
    np.testing.assert_array_equal(twice.sounds[0].counts, raw.sounds[0].counts[:, total, :])


def test_raised_thresholds_are_aligned_by_rate_correlation_not_time_course(setup):
    """A hearing-loss-like threshold rise (mean count 1.07 -> 0.08) leaves units firing only at the peaks of their NH
    response; the thresholded-correlation cost still finds them (0.90 measured), the time-course W1 does not (0.73)."""
    sounds, ch, ref = setup
    planted = np.random.default_rng(8).permutation(40)
    impaired = record("HI", ch, sounds, seed=15, perm=planted, threshold_shift=5.0)
    by_correlation = np.mean(planted[align_channels(impaired, ref)] == np.arange(40))
    by_time_course = np.mean(planted[align_channels(impaired, ref, signature="time_course")] == np.arange(40))
    assert by_correlation >= 0.85, by_correlation
    assert by_time_course < by_correlation - 0.1, (by_time_course, by_correlation)


def test_rate_correlation_cost_ignores_gain_and_baseline_and_matches_a_thresholded_copy():
    from simulator.data.rate_correlation import rate_correlation_cost

    rng = np.random.default_rng(3)
    rate = gaussian_filter1d(rng.gamma(1.0, 1.0, (6, 4000)), 6.0, axis=1)
    ref = SoundRecording("s", "ripple", np.zeros(4000 * DOWNSAMPLE, np.float32), rate[None], 0.0, "train")
    affine = replace(ref, counts=3.0 * rate[None] + 2.0)
    peaks = replace(ref, counts=np.maximum(rate - np.quantile(rate, 0.9, axis=1, keepdims=True), 0.0)[None])
    for other in (affine, peaks):
        cost = rate_correlation_cost([(other, ref)], smooth_bins=1)
        assert cost.shape == (6, 6)
        np.testing.assert_allclose(np.diag(cost), 0.0, atol=1e-5)  # its own unit, with or without the threshold
        assert np.all(cost[~np.eye(6, dtype=bool)] > 0.05)
    without_thresholds = rate_correlation_cost([(peaks, ref)], smooth_bins=1, quantiles=(0.0,))
    assert np.all(np.diag(without_thresholds) > 0.1)  # the plain correlation penalises the raised threshold


def test_alignment_rejects_unknown_signature_and_bad_settings(setup):
    from simulator.data.rate_correlation import rate_correlation_cost

    _, _, ref = setup
    with pytest.raises(HearloopInputError, match="signature must be one of"):
        alignment_cost(ref, ref, signature="dtw")
    with pytest.raises(HearloopInputError, match="smooth_bins"):
        alignment_cost(ref, ref, smooth_bins=0)
    pairs = [(ref.sounds[0], ref.sounds[0])]
    with pytest.raises(HearloopInputError, match="quantiles"):
        rate_correlation_cost(pairs, quantiles=(0.0, 1.0))
    with pytest.raises(HearloopInputError, match="at least one shared sound"):
        rate_correlation_cost([])


def test_model_signature_follows_the_checkpoint_and_falls_back_for_old_ones():
    from simulator.data.alignment import DEFAULT_SIGNATURE, LEGACY_SIGNATURE, model_signature

    assert model_signature({"alignment": {"NH01": [0, 1]}, "alignment_signature": "time_course"}) == "time_course"
    assert model_signature({"alignment": {}, "alignment_signature": "rate_correlation"}) == "rate_correlation"
    # A checkpoint trained before the key existed was aligned by the time-course cost.
    assert LEGACY_SIGNATURE == "time_course"
    assert model_signature({"alignment": {"NH01": [0, 1]}}) == LEGACY_SIGNATURE
    # A model never trained on a cohort has nothing to match: the default.
    assert model_signature(None) == model_signature({}) == DEFAULT_SIGNATURE
    with pytest.raises(HearloopInputError, match="alignment signature 'dtw'"):
        model_signature({"alignment": {}, "alignment_signature": "dtw"})


def test_fit_command_aligns_a_recording_with_the_models_recorded_cost(setup, tmp_path, monkeypatch):
    import argparse
    import types

    import simulator.data.alignment as alignment_module
    from runners.commands.fit import _file_animal
    from simulator.data.recordings import write_animal

    sounds, ch, ref = setup
    planted = np.random.default_rng(9).permutation(40)
    recorded = record("B", ch, sounds, seed=13, perm=planted)
    write_animal(tmp_path / "B.h5", recorded)
    write_animal(tmp_path / "REF.h5", ref)
    used = []
    real = alignment_module.align_channels

    def spy(animal, reference, **kw):
        used.append(kw.get("signature"))
        return real(animal, reference, **kw)

    monkeypatch.setattr(alignment_module, "align_channels", spy)
    args = argparse.Namespace(animal=str(tmp_path / "B.h5"), reference=str(tmp_path / "REF.h5"), aligned=False,
                              seconds_per_sound=1.0, max_hours=100.0)  # fmt: skip
    model = types.SimpleNamespace(
        metadata={"alignment": {"NH01": list(range(40))}, "alignment_signature": "time_course"}
    )
    animal, subset = _file_animal(args, model)
    assert used == ["time_course"]
    perm = real(recorded, ref, signature="time_course")
    assert np.mean(planted[perm] == np.arange(40)) >= 0.95
    np.testing.assert_array_equal(animal.sounds[0].counts, recorded.sounds[0].counts[:, perm, :])
    assert subset.n_channels == 40
