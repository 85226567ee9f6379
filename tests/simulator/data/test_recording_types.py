"""In-memory recording types (simulator.data.recording_types): every field of the contract is checked with a
HearloopInputError that names the sound or the animal and the field, and the values at each boundary are accepted."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.data.recording_types import (
    ABR_FREQS_HZ,
    HEARING_STATUSES,
    SOUND_CLASSES,
    AnimalRecording,
    SoundRecording,
)
from simulator.errors import HearloopInputError


def _sound(name="s", cls="speech", samples=96, trials=1, channels=2, hours=1.0, split="train", **kw) -> SoundRecording:
    audio = np.linspace(-0.1, 0.1, samples).astype(np.float32)
    counts = np.zeros((trials, channels, samples // 32), np.uint8)
    return SoundRecording(name, cls, audio, counts, hours, split, **kw)


def _animal(sounds=None, status="NH", abr=None) -> AnimalRecording:
    abr = {f: 20.0 for f in ABR_FREQS_HZ} if abr is None else abr
    return AnimalRecording("A1", status, abr, [_sound("a"), _sound("b")] if sounds is None else sounds)


def test_constants_of_the_contract():
    assert SOUND_CLASSES == ("speech", "speech_in_noise", "music", "ripple", "tone", "silence")
    assert HEARING_STATUSES == ("NH", "HI")


def test_hours_and_trial_hours_are_floats_and_default_to_each_other():
    s = _sound(trials=2, hours=None, trial_hours=np.array([[2, 3]]), split="test")  # any shape, ints -> floats
    assert s.trial_hours == (2.0, 3.0) and type(s.trial_hours[1]) is float
    assert s.hours == 2.0 and type(s.hours) is float and s.presentation_hours == (2.0, 3.0)
    s = _sound(trials=2, hours=np.int64(4), split="test")  # no trial_hours: every trial at hours
    assert s.trial_hours is None and s.hours == 4.0 and type(s.hours) is float
    assert s.presentation_hours == (4.0, 4.0) and type(s.presentation_hours) is tuple
    s = _sound(trials=1, hours=5.0, trial_hours=(5.0,))  # both given: hours kept
    assert (s.hours, s.trial_hours) == (5.0, (5.0,))
    s.validate()
    with pytest.raises(HearloopInputError) as err:  # no time at all: an empty trial_hours gives none either
        _sound(hours=None, trial_hours=())
    assert str(err.value) == "sound 's': give hours (or trial_hours), the presentation time in h"


def test_a_valid_sound_and_animal_pass_at_the_boundaries():
    for cls in SOUND_CLASSES:
        _sound(cls=cls).validate()
    s = _sound(samples=95, hours=0.0)  # 95 // 32 = 2 bins; a time of 0 h is allowed
    s.counts[:] = 4
    s.validate()
    s = _sound(samples=31)  # shorter than a bin: 0 bins, no counts to check
    assert s.counts.shape == (1, 2, 0)
    s.validate()
    for status in HEARING_STATUSES:
        _animal(status=status).validate()
    animal = _animal(abr={**{f: 20.0 for f in ABR_FREQS_HZ}, 125: 30.0})  # extra frequencies are fine
    animal.validate()
    assert animal.n_channels == 2 and type(animal.n_channels) is int
    assert _animal(sounds=[]).n_channels == 0
    _animal(sounds=[]).validate()


def _counts(sound: SoundRecording, counts: np.ndarray) -> SoundRecording:
    sound.counts = counts
    return sound


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _sound(cls="birdsong"), f"sound 's': sound_class 'birdsong' not in {SOUND_CLASSES}"),
        (lambda: _sound(cls="Speech"), f"sound 's': sound_class 'Speech' not in {SOUND_CLASSES}"),
        (
            lambda: SoundRecording("s", "speech", np.zeros((2, 64), np.float32), np.zeros((1, 2, 2), np.uint8), 1.0),
            "sound 's': audio must be 1-D and finite, got shape (2, 64)",
        ),
        (
            lambda: SoundRecording("s", "speech", np.full(64, np.inf, np.float32), np.zeros((1, 2, 2), np.uint8), 1.0),
            "sound 's': audio must be 1-D and finite, got shape (64,)",
        ),
        (
            lambda: _counts(_sound(), np.zeros((2, 3), np.uint8)),
            "sound 's': counts must be (trials, channels, bins), got (2, 3)",
        ),
        (
            lambda: _counts(_sound(samples=96), np.zeros((1, 2, 2), np.uint8)),
            "sound 's': 2 bins but audio has 96 samples (expected 3 bins)",
        ),
        (lambda: _counts(_sound(samples=64), np.full((1, 2, 2), -1, np.int16)), "sound 's': counts must lie in 0..4"),
        (lambda: _counts(_sound(samples=64), np.full((1, 2, 2), 5, np.int16)), "sound 's': counts must lie in 0..4"),
        (lambda: _sound(split="Train"), "sound 's': split must be 'train' or 'test', got 'Train'"),
        (lambda: _sound(split="test", trials=1), "sound 's': test sounds need 2 repeated trials, got 1"),
        (
            lambda: _sound(trials=2, channels=3, trial_hours=(1.0, 2.0, 3.0)),
            "sound 's': trial_hours needs one finite time >= 0 per trial (2), got (1.0, 2.0, 3.0)",
        ),
        (
            lambda: _sound(trials=2, channels=3, trial_hours=(1.0, np.nan)),
            "sound 's': trial_hours needs one finite time >= 0 per trial (2), got (1.0, nan)",
        ),
        (
            lambda: _sound(trials=2, channels=3, hours=None, trial_hours=(-0.5, 1.0)),
            "sound 's': trial_hours needs one finite time >= 0 per trial (2), got (-0.5, 1.0)",
        ),
        (
            lambda: _sound(trials=2, channels=3, hours=1.0, trial_hours=(1.5, 2.0)),
            "sound 's': hours (1.0) must be the first trial's time (1.5)",
        ),
    ],
)
def test_invalid_sounds_name_the_sound_and_the_field(make, message):
    sound = make()
    with pytest.raises(HearloopInputError) as err:
        sound.validate()
    assert str(err.value) == message


def test_two_trials_make_a_test_sound_and_counts_of_any_integer_dtype_in_range_pass():
    _sound(split="test", trials=2).validate()
    _sound(split="test", trials=3, trial_hours=(1.0, 2.0, 2.0)).validate()
    _counts(_sound(samples=64), np.full((1, 2, 2), 4, np.int16)).validate()
    _counts(_sound(samples=64), np.zeros((1, 2, 2), np.int16)).validate()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _animal(status="nh"), "animal 'A1': hearing_status must be one of ('NH', 'HI')"),
        (
            lambda: _animal(abr={f: 20.0 for f in ABR_FREQS_HZ if f not in (1000, 8000)}),
            "animal 'A1': ABR thresholds missing at [1000, 8000] Hz",
        ),
        (
            lambda: _animal(abr={**{f: 20.0 for f in ABR_FREQS_HZ}, 2000: float("nan"), 4000: float("inf")}),
            "animal 'A1': abr_thresholds_db holds non-finite thresholds {2000: nan, 4000: inf}",
        ),
        (lambda: _animal(sounds=[_sound("a"), _sound("b"), _sound("a")]), "animal 'A1': duplicate sound names"),
        (lambda: _animal(sounds=[_sound("a"), _sound("b", split="x")]), "sound 'b': split must be 'train' or 'test'"),
        (
            lambda: _animal(sounds=[_sound("a"), _sound("b", channels=3)]),
            "animal 'A1': sound 'b' has a different channel count",
        ),
    ],
)
def test_invalid_animals_name_the_animal_and_the_field(make, message):
    with pytest.raises(HearloopInputError) as err:
        make().validate()
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("hours", [[1.0, 2.0], np.array([]), (3.0,) * 3])
def test_hours_is_one_time(hours):
    with pytest.raises(HearloopInputError) as err:
        _sound(hours=hours)
    assert str(err.value) == f"sound 's': hours must be one time in h, got {hours!r}"
    assert _sound(hours=np.array([[2.5]])).hours == 2.5  # one time in any shape


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"hours": None, "trial_hours": (1 + 0j, 2.0)},
            "sound 's': trial_hours must be real times in h, got ((1+0j), 2.0)",
        ),
        ({"hours": 1 + 0j}, "sound 's': hours must be real times in h, got (1+0j)"),
        ({"trial_hours": ("one", 2.0)}, "sound 's': trial_hours must be real times in h, got ('one', 2.0)"),
        (
            {"trial_hours": ([1.0], [2.0, 3.0])},
            "sound 's': trial_hours must be real times in h, got ([1.0], [2.0, 3.0])",
        ),
        ({"hours": "soon"}, "sound 's': hours must be real times in h, got 'soon'"),
    ],
)
def test_times_that_are_not_real_numbers_are_named_not_cut_to_their_real_part(kwargs, message):
    with pytest.raises(HearloopInputError) as err:
        _sound(trials=2, split="test", **kwargs)
    assert str(err.value).startswith(message + " (")
    if "j)" in message:  # a complex time is refused by name, not by numpy's cast (which would keep the real part)
        assert str(err.value).endswith(" (complex times)")
