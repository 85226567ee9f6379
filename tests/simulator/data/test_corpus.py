"""Tests of the synthesised sound corpus (simulator.data.corpus)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from simulator.constants import SAMPLE_RATE, pa_rms_to_db_spl
from simulator.data.corpus import (
    make_corpus,
    moving_ripple,
    speech_in_noise,
    speech_like,
    tone,
)
from simulator.data.recording_types import SOUND_CLASSES
from simulator.errors import HearloopInputError


def _db(x: np.ndarray) -> float:
    return pa_rms_to_db_spl(float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))))


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(seed=3, n_per_class=3, duration_s=1.0, level_range_db_spl=(40.0, 90.0))


def test_every_class_present_with_unique_names(corpus):
    classes = [s.sound_class for s in corpus]
    assert {c: classes.count(c) for c in SOUND_CLASSES} == dict.fromkeys(SOUND_CLASSES, 3)
    assert len({s.name for s in corpus}) == len(corpus)
    for s in corpus:
        assert s.audio.dtype == np.float32 and s.audio.ndim == 1
        assert s.audio.size == round(SAMPLE_RATE)
        assert np.isfinite(s.audio).all()


def test_levels_as_requested(corpus):
    for s in corpus:
        if s.sound_class == "silence":
            assert s.level_db_spl is None and not s.audio.any()
            continue
        assert 40.0 <= s.level_db_spl <= 90.0
        if s.sound_class == "tone":
            continue  # level of the loudest pip, checked below
        assert abs(_db(s.audio) - s.level_db_spl) < 0.5, s.name
    # stratified levels: the 3 sounds of a class fall in the 3 thirds of the range
    speech_levels = sorted(s.level_db_spl for s in corpus if s.sound_class == "speech")
    assert [int((v - 40.0) // (50.0 / 3)) for v in speech_levels] == [0, 1, 2]


def test_tone_pips_listed_levels_and_frequencies(corpus):
    for s in (s for s in corpus if s.sound_class == "tone"):
        pips = s.meta["pips"]
        assert len(pips) >= 2 and max(p[3] for p in pips) == pytest.approx(s.level_db_spl)
        onset, dur, freq, level = pips[0]
        i0 = round((onset + 0.01) * SAMPLE_RATE)
        i1 = round((onset + dur - 0.01) * SAMPLE_RATE)
        seg = s.audio[i0:i1]
        assert abs(_db(seg) - level) < 0.5
        spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), 8 * seg.size))
        peak = np.fft.rfftfreq(8 * seg.size, 1 / SAMPLE_RATE)[spec.argmax()]
        assert abs(peak - freq) < 0.01 * freq


def test_tone_pips_continuous_frequencies_cover_the_range_between_audiometric_ones():
    from simulator.data.corpus import TONE_FREQS_HZ, TONE_RANGE_HZ, tone_pips

    fixed = [p[2] for i in range(4) for p in tone_pips(i, 3.0, 70.0)[1]["pips"]]
    assert set(fixed) <= set(TONE_FREQS_HZ)  # the default keeps the audiometric set of earlier corpora
    audio, meta = tone_pips(0, 20.0, 70.0, tone_frequencies="continuous")
    freqs = np.array([p[2] for p in meta["pips"]])
    assert len(freqs) > 60 and not set(freqs) & set(TONE_FREQS_HZ)
    assert TONE_RANGE_HZ[0] <= freqs.min() and freqs.max() <= TONE_RANGE_HZ[1]
    octaves = np.log2(freqs / TONE_RANGE_HZ[0])  # log-uniform over the 5 octaves: every octave gets pips
    assert np.all(np.histogram(octaves, bins=5, range=(0.0, 5.0))[0] >= 5)
    onset, dur, freq, _ = meta["pips"][1]  # the audio carries the listed frequency
    seg = audio[round((onset + 0.01) * SAMPLE_RATE) : round((onset + dur - 0.01) * SAMPLE_RATE)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), 8 * seg.size))
    assert abs(np.fft.rfftfreq(8 * seg.size, 1 / SAMPLE_RATE)[spec.argmax()] - freq) < 0.01 * freq
    again = make_corpus(seed=3, n_per_class={"tone": 2}, duration_s=1.0, tone_frequencies="continuous")
    assert [s.meta for s in again] == [
        s.meta for s in make_corpus(seed=3, n_per_class={"tone": 2}, duration_s=1.0, tone_frequencies="continuous")
    ]
    with pytest.raises(HearloopInputError, match="tone_frequencies must be one of"):
        make_corpus(seed=3, n_per_class=1, tone_frequencies="octaves")


@pytest.mark.parametrize("freq", [250.0, 1000.0, 4000.0, 8000.0])
def test_tone_frequency_and_level(freq):
    x = tone(freq, 60.0, 0.5, ramp_ms=10.0)
    assert x.dtype == np.float32 and x.size == round(0.5 * SAMPLE_RATE)
    steady = x[round(0.02 * SAMPLE_RATE) : -round(0.02 * SAMPLE_RATE)]
    assert abs(_db(steady) - 60.0) < 0.1
    spec = np.abs(np.fft.rfft(x, 8 * x.size))
    assert abs(np.fft.rfftfreq(8 * x.size, 1 / SAMPLE_RATE)[spec.argmax()] - freq) < 2.0
    assert abs(x[0]) < 1e-6 and abs(x[-1]) < 1e-3 * np.abs(x).max()  # ramped on and off


def test_seeded():
    a = make_corpus(seed=7, n_per_class=1, duration_s=0.3)
    b = make_corpus(seed=7, n_per_class=1, duration_s=0.3)
    c = make_corpus(seed=8, n_per_class=1, duration_s=0.3)
    for x, y, z in zip(a, b, c, strict=True):
        assert x.name == y.name == z.name
        np.testing.assert_array_equal(x.audio, y.audio)
        if x.sound_class != "silence":
            assert not np.array_equal(x.audio, z.audio)


def test_speech_like_has_syllabic_modulation_and_speech_band():
    x = speech_like(np.random.default_rng(0), 4.0, 65.0, syllable_rate_hz=5.0).astype(np.float64)
    env = np.abs(signal.hilbert(x))
    env = signal.resample_poly(env, 1, 244)  # ~100 Hz envelope
    spec = np.abs(np.fft.rfft(env - env.mean())) ** 2
    f = np.fft.rfftfreq(env.size, 244 / SAMPLE_RATE)
    syllabic, fast, total = (spec[(f >= lo) & (f < hi)].sum() for lo, hi in ((2, 10), (10, 40), (0.5, 40)))
    assert syllabic > 0.35 * total and syllabic > 5 * fast
    freqs, psd = signal.welch(x, fs=SAMPLE_RATE, nperseg=2048)
    assert psd[(freqs >= 80) & (freqs <= 4000)].sum() > 0.85 * psd.sum()


def test_speech_in_noise_snr_and_ripple_band():
    x, meta = speech_in_noise(np.random.default_rng(1), 1.0, 70.0)
    assert -5.0 <= meta["snr_db"] <= 15.0 and meta["masker"] in ("babble", "speech_shaped")
    assert abs(_db(x) - 70.0) < 0.5
    r, _ = moving_ripple(np.random.default_rng(2), 1.0, 70.0)
    freqs, psd = signal.welch(r.astype(np.float64), fs=SAMPLE_RATE, nperseg=2048)
    assert psd[(freqs >= 200) & (freqs <= 9000)].sum() > 0.97 * psd.sum()


def test_bad_input_named():
    with pytest.raises(HearloopInputError, match="frequency"):
        tone(20000.0, 60.0, 0.1)
    with pytest.raises(HearloopInputError, match="duration"):
        tone(1000.0, 60.0, -1.0)
    with pytest.raises(HearloopInputError, match="level_range"):
        make_corpus(0, 1, 0.1, level_range_db_spl=(90.0, 40.0))
    with pytest.raises(HearloopInputError, match="unknown sound classes"):
        make_corpus(0, {"birdsong": 1}, 0.1)
