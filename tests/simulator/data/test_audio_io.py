"""Tests for simulator.data.audio_io: reading, resampling to 24414.0625 Hz, calibration, writing, and clear errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from simulator.constants import SAMPLE_RATE, db_spl_to_pa_rms, pa_rms_to_db_spl
from simulator.data.audio_io import (
    DEFAULT_FULL_SCALE_DB_SPL,
    full_scale_pa,
    load_audio,
    rational_ratio,
    resample,
    save_audio,
)
from simulator.errors import HearloopInputError


def _tone(rate: int, freq: float = 1000.0, seconds: float = 1.0, amp: float = 0.25) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def _peak_hz(x: np.ndarray, rate: float) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size), n=8 * x.size))
    return float(np.argmax(spec) * rate / (8 * x.size))


def _level_db(x: np.ndarray) -> float:
    core = x[x.size // 10 : -x.size // 10]  # skip the resampler's edge transients
    return pa_rms_to_db_spl(float(np.sqrt(np.mean(core**2))))


def test_exact_rational_ratios():
    assert rational_ratio(44100, SAMPLE_RATE) == (15625, 28224)
    assert rational_ratio(48000, SAMPLE_RATE) == (3125, 6144)
    assert rational_ratio(SAMPLE_RATE, 48000) == (6144, 3125)
    with pytest.warns(UserWarning, match="approximate ratio"):
        up, down = rational_ratio(44100.7, SAMPLE_RATE, max_denominator=1000)
    assert down <= 1000 and abs(up / down * 44100.7 / SAMPLE_RATE - 1) < 1e-5


@pytest.mark.parametrize("rate", [44100, 48000])
@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_file_round_trip_preserves_tone_frequency_and_level(tmp_path: Path, rate: int, ext: str):
    path = tmp_path / f"tone_{rate}.{ext}"
    sf.write(str(path), _tone(rate), rate, subtype="PCM_24")
    audio, original_rate = load_audio(path)
    assert original_rate == rate
    assert audio.dtype == torch.float32 and audio.shape[0] == 1
    assert abs(audio.shape[1] - SAMPLE_RATE) <= 1  # 1 s of audio at the model rate
    x = audio[0].double().numpy()
    assert _peak_hz(x, SAMPLE_RATE) == pytest.approx(1000.0, abs=1.0)
    # a 0.25-peak sine is 20 log10(0.25) dB below a full-scale sine
    expected_db = DEFAULT_FULL_SCALE_DB_SPL + 20 * math.log10(0.25)
    assert _level_db(x) == pytest.approx(expected_db, abs=0.02)
    # explicit calibration and level override
    quieter, _ = load_audio(path, full_scale_db_spl=80.0)
    assert _level_db(quieter[0].double().numpy()) == pytest.approx(expected_db - 20.0, abs=0.02)
    at65, _ = load_audio(path, level_db_spl=65.0, expected_rate=rate)
    assert pa_rms_to_db_spl(float(at65.double().pow(2).mean().sqrt())) == pytest.approx(65.0, abs=1e-3)


def test_save_then_load_at_model_rate_is_exact_and_file_rate_resamples(tmp_path: Path):
    rng = np.random.default_rng(0)
    audio = torch.from_numpy(rng.normal(0, db_spl_to_pa_rms(70.0), (1, 5000)).astype(np.float32))
    path = save_audio(tmp_path / "noise.wav", audio)
    assert sf.info(str(path)).samplerate == 24414  # integer header for 24414.0625 Hz
    back, rate = load_audio(path, expected_rate=SAMPLE_RATE)
    assert rate == 24414.0
    torch.testing.assert_close(back, audio, rtol=1e-6, atol=1e-9)  # float WAV, no resampling
    tone_pa = torch.from_numpy(_tone(round(SAMPLE_RATE)).astype(np.float32) * 2.0)[None]
    out48 = save_audio(tmp_path / "tone48.flac", tone_pa, file_rate=48000)
    assert sf.info(str(out48)).samplerate == 48000
    back48, rate48 = load_audio(out48)
    assert rate48 == 48000.0
    x = back48[0].double().numpy()
    assert _peak_hz(x, SAMPLE_RATE) == pytest.approx(1000.0 * SAMPLE_RATE / 24414, abs=1.0)
    ref = tone_pa[0].double().numpy()
    assert abs(x.size - ref.size) <= 1
    core = slice(1000, ref.size - 1000)  # away from the resampler's edge transients
    # two passes of resample_poly's Kaiser(5) filter: passband ripple ~0.2 % (0.02 dB) each
    np.testing.assert_allclose(x[core], ref[core], atol=5e-3 * np.abs(ref).max())
    assert pa_rms_to_db_spl(np.sqrt(np.mean(x[core] ** 2))) == pytest.approx(
        pa_rms_to_db_spl(np.sqrt(np.mean(ref[core] ** 2))), abs=0.05
    )
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_stereo_is_mixed_to_mono_by_averaging(tmp_path: Path):
    x = _tone(48000, seconds=0.2)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.stack([x, np.zeros_like(x)], axis=1), 48000, subtype="FLOAT")
    half, _ = load_audio(path)
    sf.write(str(path), np.stack([x, x], axis=1), 48000, subtype="FLOAT")
    full, _ = load_audio(path)
    torch.testing.assert_close(half * 2, full, rtol=1e-5, atol=1e-7)
    sf.write(str(path), x, 48000, subtype="FLOAT")
    mono, _ = load_audio(path)
    torch.testing.assert_close(full, mono)  # identical channels keep the mono level


def test_resample_accepts_numpy_and_torch():
    x = _tone(48000, seconds=0.1)
    y_np = resample(x, 48000, SAMPLE_RATE)
    y_t = resample(torch.from_numpy(x).float()[None], 48000, SAMPLE_RATE)
    assert isinstance(y_t, torch.Tensor) and y_t.dtype == torch.float32 and y_t.shape == (1, y_np.size)
    assert y_np.size == math.ceil(x.size * 3125 / 6144)
    np.testing.assert_allclose(y_t[0].numpy(), y_np, atol=1e-6)
    assert resample(x, SAMPLE_RATE, 24414) is x  # same rate within header rounding: untouched


def test_wrong_expected_rate_names_both_rates(tmp_path: Path):
    path = tmp_path / "a.wav"
    sf.write(str(path), _tone(44100, seconds=0.05), 44100)
    with pytest.raises(HearloopInputError, match=r"44100 Hz but 48000 Hz was expected"):
        load_audio(path, expected_rate=48000)


def test_missing_corrupt_nan_and_empty_files_give_clear_errors(tmp_path: Path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError, match=r"nope\.wav"):
        load_audio(missing)
    corrupt = tmp_path / "garbage.wav"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(HearloopInputError, match=r"cannot read audio file .*garbage\.wav"):
        load_audio(corrupt)
    nan_file = tmp_path / "nan.wav"
    data = _tone(48000, seconds=0.05)
    data[10] = np.nan
    sf.write(str(nan_file), data, 48000, subtype="FLOAT")
    with pytest.raises(HearloopInputError, match=r"nan\.wav contains 1 non-finite"):
        load_audio(nan_file)
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0), 48000)
    with pytest.raises(HearloopInputError, match="empty"):
        load_audio(empty)
    with pytest.raises(HearloopInputError, match="silent"):
        sf.write(str(empty), np.zeros(100), 48000)
        load_audio(empty, level_db_spl=60.0)


def test_save_audio_refuses_clipping_and_bad_input(tmp_path: Path):
    loud = torch.full((1, 100), 2.0 * full_scale_pa())
    with pytest.raises(HearloopInputError, match="clip"):
        save_audio(tmp_path / "loud.flac", loud)
    assert not (tmp_path / "loud.flac").exists()
    save_audio(tmp_path / "loud.wav", loud)  # float WAV holds it
    back, _ = load_audio(tmp_path / "loud.wav")
    torch.testing.assert_close(back, loud)
    with pytest.raises(HearloopInputError, match="mono"):
        save_audio(tmp_path / "two.wav", torch.zeros(2, 10))
    with pytest.raises(HearloopInputError, match="non-finite"):
        save_audio(tmp_path / "nan.wav", torch.tensor([0.0, float("nan")]))
    with pytest.raises(HearloopInputError, match="extension"):
        save_audio(tmp_path / "x.unknown", torch.zeros(10))
