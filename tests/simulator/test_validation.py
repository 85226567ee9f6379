"""The shared bad-input checks of simulator.validation: each names the argument and the problem, and each range bound
is the documented one (inclusive bounds pass, the next value out fails)."""

import math
import re
from collections.abc import Mapping

import numpy as np
import pytest
import torch

import simulator.validation as validation
from simulator.constants import SAMPLE_RATE
from simulator.errors import HearloopInputError
from simulator.validation import (
    AUDIBLE_FREQ_HZ,
    HEARING_LEVEL_DB_HL,
    MAX_PRESSURE_PA,
    SOUND_LEVEL_DB_SPL,
    check_audiogram,
    check_memory,
    check_number,
    validate_audio,
    validate_nu,
    validate_sample_rate,
)


def _raises(message: str):
    return pytest.raises(HearloopInputError, match=re.escape(message))


def test_validate_audio_names_the_argument_and_each_problem():
    with _raises("probe must be a torch.Tensor of shape (batch, samples), got list"):
        validate_audio([[0.0]], name="probe")
    with _raises("audio must have shape (batch, samples) in Pa; got (3,). Use audio.unsqueeze(0) for a single sound."):
        validate_audio(torch.zeros(3))
    with _raises("audio must have shape (batch, samples) in Pa; got (1, 1, 3)"):
        validate_audio(torch.zeros(1, 1, 3))
    with _raises("audio has 0 samples; at least 1 are needed"):
        validate_audio(torch.zeros(1, 0))
    with _raises("audio has 4 samples; at least 5 are needed"):
        validate_audio(torch.zeros(1, 4), min_samples=5)
    with _raises("audio is complex (torch.complex64); audio is a real sound pressure in Pa"):
        validate_audio(torch.zeros(1, 3, dtype=torch.complex64))
    with _raises("audio has dtype torch.int16; convert the samples to pascals first (a float tensor, e.g. samples / "):
        validate_audio(torch.zeros(1, 3, dtype=torch.int16))
    with _raises("audio contains 3 non-finite values (NaN or inf)"):
        validate_audio(torch.tensor([[math.nan, math.inf, 0.0, -math.inf]]))


def test_validate_audio_accepts_up_to_one_atmosphere_and_returns_float32():
    assert MAX_PRESSURE_PA == 101325.0
    edge = torch.tensor([[0.5, -MAX_PRESSURE_PA]], dtype=torch.float64)
    out = validate_audio(edge)
    assert out.dtype == torch.float32 and torch.equal(out, edge.to(torch.float32))
    assert validate_audio(torch.zeros(1, 5), min_samples=5).shape == (1, 5)
    assert validate_audio(torch.zeros(2, 0), min_samples=0).shape == (2, 0)  # no samples: no peak to take
    with _raises("audio peaks at 1.01e+05 Pa (194 dB SPL), beyond the 101325 Pa (194 dB SPL) a sound in air can reach"):
        validate_audio(torch.tensor([[0.0, -101325.5]], dtype=torch.float64))


def test_validate_nu_names_the_argument_and_each_problem():
    with _raises("nu must have shape (batch, D); got (1, 1, 3)"):
        validate_nu(torch.zeros(1, 1, 3), 3)
    with _raises("nu has D=3 parameters but the model expects D=6"):
        validate_nu(torch.zeros(2, 3), 6)
    with _raises("nu has batch 2, expected 1 or 4"):
        validate_nu(torch.zeros(2, 3), 3, batch=4)
    with _raises("nu contains non-finite values"):
        validate_nu(torch.tensor([[0.5, math.nan, 0.5]]), 3)
    with _raises("theta must lie in [0, 1]; got values in [-0.01, 0.5]"):
        validate_nu(torch.tensor([[-0.01, 0.5]]), 2, name="theta")
    with _raises("nu must lie in [0, 1]; got values in [0.2, 1.01]"):
        validate_nu(torch.tensor([[0.2, 1.01]]), 2)


def test_validate_nu_accepts_the_closed_unit_interval_and_a_broadcast_batch():
    out = validate_nu(torch.tensor([[0.0, 1.0]], dtype=torch.float64), 2)
    assert out.dtype == torch.float32 and out.tolist() == [[0.0, 1.0]]
    assert validate_nu([0.25, 0.5, 0.75], 3).tolist() == [[0.25, 0.5, 0.75]]  # a list, 1-D: one row
    assert validate_nu(torch.zeros(1, 3), 3, batch=4).shape == (1, 3)
    assert validate_nu(torch.zeros(4, 3), 3, batch=4).shape == (4, 3)
    assert validate_nu(torch.zeros(7, 3), 3).shape == (7, 3)  # no batch given: any batch


def test_validate_nu_checks_an_array_as_the_float32_it_becomes():
    """A float64 array (an optimiser's output) is converted to float32 first: a rounding error above 1 or below 0
    that float32 cannot hold is accepted as the bound, while a tensor is checked as it is."""
    out = validate_nu(np.array([0.5, 1.0 + 1e-9, -1e-50]), 3)
    assert out.dtype == torch.float32 and out.tolist() == [[0.5, 1.0, 0.0]]
    with _raises("nu must lie in [0, 1]; got values in [0.5, 1]"):
        validate_nu(torch.tensor([0.5, 1.0 + 1e-9], dtype=torch.float64), 2)


def test_validate_sample_rate_tolerates_one_part_per_million_only():
    validate_sample_rate(SAMPLE_RATE * (1 + 0.9e-6))
    validate_sample_rate(16000, expected=16000.0, name="file rate")
    with _raises("sample rate is 24414.1 Hz but hearloop audio must be at 24414.0625 Hz; load files with simulator"):
        validate_sample_rate(24414.1)
    with pytest.raises(HearloopInputError):
        validate_sample_rate(SAMPLE_RATE * (1 + 1.5e-6))
    with _raises("file rate is 24414.0625 Hz but hearloop audio must be at 16000.0 Hz"):
        validate_sample_rate(SAMPLE_RATE, expected=16000.0, name="file rate")


@pytest.mark.parametrize(
    ("constraint", "inside", "outside"),
    [
        (SOUND_LEVEL_DB_SPL, (0.0, 120.0), (-0.5, 120.5)),
        (AUDIBLE_FREQ_HZ, (20.0, 20000.0), (19.5, 20000.5)),
        (HEARING_LEVEL_DB_HL, (-20.0, 140.0), (-20.5, 140.5)),
    ],
)
def test_check_number_keeps_the_documented_bounds(constraint, inside, outside):
    for value in inside:
        assert check_number(value, constraint, "x") == value
    for value in outside:
        with _raises(f"level x must be {constraint}, got {value!r}"):
            check_number(value, constraint, "level x")


def test_check_number_returns_numpy_scalars_as_python_numbers():
    out = check_number(np.float32(40.0), SOUND_LEVEL_DB_SPL, "level")
    assert out == 40.0 and type(out) is float
    with _raises("level must be a number in [0, 120], got True"):
        check_number(True, SOUND_LEVEL_DB_SPL, "level")


class _Pairs(Mapping):
    """A mapping that yields the given (key, value) pairs as they are, repeated keys included."""

    def __init__(self, pairs):
        self._pairs = pairs

    def __getitem__(self, key):
        raise AssertionError("check_audiogram reads items(), not keys")

    def __iter__(self):
        return iter(k for k, _ in self._pairs)

    def __len__(self):
        return len(self._pairs)

    def items(self):
        return list(self._pairs)


def test_check_audiogram_sorts_by_frequency_as_float64():
    freqs, levels = check_audiogram({4000: 50, np.int64(500): 20.5, 1000.0: np.float32(30.0)})
    assert freqs.dtype == np.float64 and levels.dtype == np.float64
    assert freqs.tolist() == [500.0, 1000.0, 4000.0] and levels.tolist() == [20.5, 30.0, 50.0]


def test_check_audiogram_names_the_offending_entry():
    with _raises("audiogram must be a non-empty dict {freq_hz: dB HL}, got {}"):
        check_audiogram({})
    with _raises("left ear must be a non-empty dict {freq_hz: dB HL}, got [(1000, 20)]"):
        check_audiogram([(1000, 20)], name="left ear")
    with _raises(f"audiogram frequency 10 (Hz) must be {AUDIBLE_FREQ_HZ}, got 10"):
        check_audiogram({10: 20})
    with _raises("audiogram frequency '1000' (Hz) must be"):
        check_audiogram({"1000": 20})
    with _raises("audiogram frequency True (Hz) must be"):
        check_audiogram({True: 20})
    with _raises(f"left ear threshold at 1000 Hz (dB HL) must be {HEARING_LEVEL_DB_HL}, got 150"):
        check_audiogram({500: 20, 1000: 150}, name="left ear")
    with _raises("audiogram has duplicate frequencies: [500.0, 1000.0, 1000.0]"):
        check_audiogram(_Pairs([(1000, 20), (500, 10), (1000.0, 30)]))


def _fake_open(text: str | None):
    def fake(path, *args, **kwargs):
        assert path == "/proc/meminfo"
        if text is None:
            raise OSError("no /proc")
        import io

        return io.StringIO(text)

    return fake


def _fake_sysconf(values: dict[str, int], error: type[Exception] = ValueError):
    def fake(name):
        if name not in values:
            raise error(name)
        return values[name]

    return fake


def test_available_memory_is_memavailable_of_proc_meminfo(monkeypatch):
    text = "MemTotal:       8000 kB\nMemFree:        1000 kB\nMemAvailable:   2048 kB\nBuffers: 5 kB\n"
    monkeypatch.setattr(validation, "open", _fake_open(text), raising=False)
    monkeypatch.setattr(validation.os, "sysconf", _fake_sysconf({}))
    assert validation.available_memory_bytes() == 2048 * 1024


@pytest.mark.parametrize("meminfo", [None, "MemTotal: 8000 kB\nMemFree: 1000 kB\n"])
def test_available_memory_falls_back_to_free_pages(monkeypatch, meminfo):
    monkeypatch.setattr(validation, "open", _fake_open(meminfo), raising=False)
    monkeypatch.setattr(validation.os, "sysconf", _fake_sysconf({"SC_AVPHYS_PAGES": 10, "SC_PAGE_SIZE": 4096}))
    assert validation.available_memory_bytes() == 10 * 4096


@pytest.mark.parametrize("error", [ValueError, OSError, AttributeError])
def test_available_memory_is_unknown_without_meminfo_or_sysconf(monkeypatch, error):
    monkeypatch.setattr(validation, "open", _fake_open(None), raising=False)
    monkeypatch.setattr(validation.os, "sysconf", _fake_sysconf({}, error))
    assert validation.available_memory_bytes() is None


class _SizeError(Exception):
    pass


def test_check_memory_raises_the_given_error_naming_the_size(monkeypatch):
    monkeypatch.setattr(validation, "available_memory_bytes", lambda: 3 * 2**30)
    check_memory(3, 2**30, "n")  # exactly what is available: fits
    check_memory(3.9, 2**30, "n")  # counted as 3 items
    with _raises("cohort.n = 4 needs about 4 GiB of memory (1073741824 bytes each) but 3 GiB are available"):
        check_memory(4, 2**30, "cohort.n")
    with pytest.raises(_SizeError, match=re.escape("spec.cohort.n = 7 needs about 7 GiB")):
        check_memory(7, 2**30, "spec.cohort.n", error=_SizeError)


def test_check_memory_trusts_an_unknown_amount(monkeypatch):
    monkeypatch.setattr(validation, "available_memory_bytes", lambda: None)
    check_memory(10**12, 2**30, "n")
