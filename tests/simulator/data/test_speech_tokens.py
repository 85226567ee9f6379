"""Speech tokens: seeded and labelled, at the stated level and SNR, with the acoustic cues the tables document."""

import numpy as np
import pytest
from scipy import signal
from scipy.linalg import solve_toeplitz

from simulator.constants import DOWNSAMPLE, SAMPLE_RATE, db_spl_to_pa_rms
from simulator.data.corpus import make_corpus
from simulator.data.speech import CONSONANTS, VOWELS, make_tokens, tokens_from_sounds
from simulator.data.speech.klatt import cascade, resonator_coefficients
from simulator.data.speech.tables import VOWEL_TABLE
from simulator.data.speech.tokens import LEVEL_ROVE_DB
from simulator.errors import HearloopInputError, NoSpeechTokensError


def _rms_db(x: np.ndarray) -> float:
    return 20.0 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) / 20e-6)


def _span(meta: dict) -> slice:
    return slice(round(meta["onset_s"] * SAMPLE_RATE), round(meta["offset_s"] * SAMPLE_RATE))


def _band_db(x: np.ndarray, lo: float, hi: float) -> float:
    f, p = signal.welch(x, fs=SAMPLE_RATE, nperseg=512)
    return 10.0 * np.log10(p[(f >= lo) & (f < hi)].sum() + 1e-30)


@pytest.fixture(scope="module")
def vowels():
    return make_tokens("vowel", 5, n_per_class=3)


@pytest.fixture(scope="module")
def consonants():
    return make_tokens("consonant", 5, n_per_class=1)


def test_sets_are_labelled_seeded_and_cycle_talkers(vowels):
    assert len(vowels) == 36 and vowels.classes == VOWELS
    assert vowels.audio.shape[1] % DOWNSAMPLE == 0 and vowels.audio.dtype == np.float32
    assert vowels.labels.tolist() == list(range(12)) * 3
    assert vowels.talkers == ("men",) * 12 + ("women",) * 12 + ("children",) * 12
    again = make_tokens("vowel", 5, n_per_class=3)
    assert np.array_equal(again.audio, vowels.audio)
    assert not np.array_equal(make_tokens("vowel", 6, n_per_class=3).audio, vowels.audio)


def test_speech_level_roves_within_two_db_of_the_nominal_level(vowels, consonants):
    for tokens in (vowels, consonants):
        levels = np.array([_rms_db(a[_span(m)]) for a, m in zip(tokens.audio, tokens.meta, strict=True)])
        assert np.all(np.abs(levels - 65.0) <= LEVEL_ROVE_DB + 0.01)
        assert np.allclose(levels, [m["level_db_spl"] for m in tokens.meta], atol=0.01)
        assert levels.std() > 0.3  # the level does rove


@pytest.mark.parametrize("masker", ["speech_shaped", "babble"])
def test_masker_is_added_at_the_requested_snr_to_the_same_speech(consonants, masker):
    noisy = make_tokens("consonant", 5, n_per_class=1, snr_db=5.0, masker=masker)
    assert noisy.condition == "snr5" and noisy.masker == masker
    lead = []
    for clean, mix, meta in zip(consonants.audio, noisy.audio, noisy.meta, strict=True):
        noise = mix.astype(np.float64) - clean
        span = _span(meta)
        assert _rms_db(clean[span]) - _rms_db(noise[span]) == pytest.approx(5.0, abs=0.05)
        lead.append(np.abs(noise[: span.start]).max())
    assert max(lead) > 0  # the masker starts before the speech


def test_klatt_resonator_peaks_at_its_formant_with_unity_gain_at_dc():
    a, b, c = resonator_coefficients(np.array(1000.0), np.array(80.0))
    w, h = signal.freqz([float(a)], [1.0, -float(b), -float(c)], worN=4096, fs=SAMPLE_RATE)
    assert abs(h[0]) == pytest.approx(1.0, rel=1e-6)
    assert w[np.argmax(np.abs(h))] == pytest.approx(1000.0, abs=10.0)
    # a moving resonance: its output energy follows the formant track block by block
    x = np.random.default_rng(0).standard_normal(int(0.2 * SAMPLE_RATE))
    track = np.linspace(500.0, 3000.0, -(-x.size // 64))[None]
    y = cascade(x, track, np.array([[100.0]]))
    early, late = y[: x.size // 4], y[-x.size // 4 :]
    assert _band_db(early, 400, 800) - _band_db(early, 2500, 3500) > 10
    assert _band_db(late, 2500, 3500) - _band_db(late, 400, 800) > 10


def _lpc_peaks_hz(x: np.ndarray, order: int = 26) -> np.ndarray:
    """Frequencies of the peaks of the LPC spectral envelope (autocorrelation method)."""
    x = x[np.abs(x) > 0] * np.hamming(int((np.abs(x) > 0).sum()))
    r = np.correlate(x, x, "full")[x.size - 1 : x.size + order]
    a = np.concatenate([[1.0], -solve_toeplitz(r[:-1], r[1:])])
    w, h = signal.freqz([1.0], a, worN=8192, fs=SAMPLE_RATE)
    env = np.abs(h)
    peaks = np.where((env[1:-1] > env[:-2]) & (env[1:-1] > env[2:]))[0] + 1
    return w[peaks]


def _centroid_hz(x: np.ndarray, lo: float, hi: float) -> float:
    f, p = signal.welch(x, fs=SAMPLE_RATE, nperseg=1024)
    band = (f >= lo) & (f < hi)
    return float((f[band] * p[band]).sum() / p[band].sum())


def test_vowel_formants_follow_the_table(vowels):
    # the LPC envelope of every token peaks within 10 % of the table's F2 and F3 (Hillenbrand et al. 1995; the token's
    # own jitter and drift are 3 %); LPC pulls F1 toward a harmonic of a high f0, so F1 is checked by the spectral
    # centroid below 1.2 kHz, which follows F1 across the vowels of each talker (Spearman > 0.8)
    from scipy.stats import spearmanr

    for audio, label, group in zip(vowels.audio, vowels.labels, vowels.talkers, strict=True):
        peaks = _lpc_peaks_hz(audio.astype(np.float64))
        f2, f3 = VOWEL_TABLE[group][label, 2:4]
        if f3 / f2 < 1.25:  # /er/: F2 and F3 merge into one LPC peak between them
            assert np.min(np.abs(peaks / np.sqrt(f2 * f3) - 1.0)) < 0.15
            continue
        for formant in (f2, f3):
            assert np.min(np.abs(peaks / formant - 1.0)) < 0.1, (VOWELS[label], group, formant, peaks[:5])
    for k, group in zip((0, 12, 24), ("men", "women", "children"), strict=True):
        centroids = [_centroid_hz(a, 150.0, 1200.0) for a in vowels.audio[k : k + 12]]
        assert spearmanr(centroids, VOWEL_TABLE[group][:, 1]).statistic > 0.8


def test_consonant_cues(consonants):
    def segment(name, start_key, stop_key, pad=0.0):
        k = list(CONSONANTS).index(name)
        m = consonants.meta[k]
        return consonants.audio[k][round((m[start_key] + pad) * SAMPLE_RATE) : round(m[stop_key] * SAMPLE_RATE)]

    s, sh, f = (segment(c, "closure_s", "release_s", 0.02) for c in ("s", "S", "f"))
    # /s/ is higher in frequency than /S/; /f/ is much weaker than both (Jongman et al. 2000)
    assert _band_db(s, 5000, 9000) - _band_db(s, 2000, 3500) > 6
    assert _band_db(sh, 2000, 3500) - _band_db(sh, 5000, 9000) > 3
    assert _rms_db(s) - _rms_db(f) > 10

    # a voiced stop is voiced soon after its release, a voiceless one is aspirated for ~60 ms (Lisker & Abramson 1964)
    def after_release(name):  # 12-40 ms after the release burst
        k = list(CONSONANTS).index(name)
        start = consonants.meta[k]["release_s"]
        return consonants.audio[k][round((start + 0.012) * SAMPLE_RATE) : round((start + 0.04) * SAMPLE_RATE)]

    low = {c: _band_db(after_release(c), 80, 400) for c in ("p", "b")}
    assert low["b"] - low["p"] > 10
    # nasal murmur: energy below 400 Hz dominates (Fujimura 1962)
    m = segment("m", "closure_s", "release_s", 0.01)
    assert _band_db(m, 80, 400) - _band_db(m, 1000, 4000) > 10


def test_token_sounds_round_trip_and_unlabelled_sounds_are_named_errors(vowels):
    sounds = vowels.to_sounds(prefix="t_")
    assert sounds[0].name == "t_vowel_quiet_000_i" and sounds[0].sound_class == "speech"
    back = tokens_from_sounds(sounds)
    assert np.array_equal(back.audio, vowels.audio) and np.array_equal(back.labels, vowels.labels)
    plain = make_corpus(0, {"speech": 1}, duration_s=0.5)
    with pytest.raises(NoSpeechTokensError, match="speech_000"):
        tokens_from_sounds([*sounds[:2], *plain])
    with pytest.raises(NoSpeechTokensError):
        tokens_from_sounds([])
    mixed = [*sounds[:2], *make_tokens("vowel", 5, 1, snr_db=0.0).to_sounds()[:1]]
    with pytest.raises(NoSpeechTokensError, match="share one kind"):
        tokens_from_sounds(mixed)
    assert issubclass(NoSpeechTokensError, HearloopInputError)


@pytest.mark.parametrize(
    "kwargs",
    [{"kind": "word"}, {"n_per_class": 0}, {"masker": "pink"}, {"snr_db": float("nan")}, {"level_db_spl": 140.0}],
)
def test_bad_token_requests_are_named_errors(kwargs):
    args = {"kind": "vowel", "seed": 0, "n_per_class": 1} | kwargs
    with pytest.raises(HearloopInputError):
        make_tokens(**args)


def test_level_is_calibrated_in_pascals():
    tokens = make_tokens("vowel", 1, 1, level_db_spl=80.0)
    rms = np.sqrt(np.mean(tokens.audio[0][_span(tokens.meta[0])].astype(np.float64) ** 2))
    assert rms == pytest.approx(db_spl_to_pa_rms(tokens.meta[0]["level_db_spl"]), rel=1e-4)
