"""Recordings validation (simulator.data.recordings): every header, dataset and cohort-index check rejects what it
should with a RecordingFormatError naming the file, the sound or the key, before anything is written."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest

from simulator.constants import SAMPLE_RATE
from simulator.data.recording_types import ABR_FREQS_HZ, AnimalRecording, SoundRecording
from simulator.data.recordings import open_animal, read_animal, read_cohort, write_animal, write_cohort
from simulator.errors import RecordingFormatError, UnknownNameError
from tests.simulator.data.test_recordings import _edit, make_animal


def _set_attr(where: str, key: str, value):
    return lambda f: (f[where] if where else f).attrs.__setitem__(key, value)


def _replace(key: str, data: np.ndarray):
    def edit(f: h5py.File) -> None:
        del f[key]
        f.create_dataset(key, data=data)

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set_attr("", "hearing_status", "deaf"), "hearing_status 'deaf' not in"),
        (_set_attr("sounds/00001", "split", "validation"), "sound 'music/1': split must be 'train' or 'test'"),
        (_set_attr("sounds/00001", "name", "speech/0"), "duplicate sound name 'speech/0'"),
        (lambda f: f["sounds/00001"].attrs.__delitem__("hours"), r"sound group '00001' misses attributes \['hours'\]"),
        (lambda f: f.attrs.__delitem__("n_channels"), "missing attribute 'n_channels'"),
        (
            _replace("sounds/00000/audio", np.zeros((2, 9600), np.float32)),
            r"'sounds/00000/audio' has shape \(2, 9600\)",
        ),
        (_replace("abr/thresholds_db_spl", np.zeros(3)), r"abr/freqs_hz \(\d+,\) and abr/thresholds_db_spl \(3,\)"),
        (_replace("channel_cf_hz", np.zeros(5)), r"dataset 'channel_cf_hz' has shape \(5,\), expected \(3,\)"),
        (_replace("ground_truth", np.zeros(2)), "ground_truth is not a JSON string"),
        (lambda f: f.__delitem__("sounds"), "missing group 'sounds'"),
    ],
)
def test_malformed_headers_and_datasets_are_named(tmp_path, edit, message):
    path = write_animal(tmp_path / "a.h5", make_animal())
    _edit(path, edit)
    with pytest.raises(RecordingFormatError, match=message) as info:
        read_animal(path)
    assert str(path) in str(info.value)


def test_counts_of_four_are_valid_and_five_is_not(tmp_path):
    path = write_animal(tmp_path / "a.h5", make_animal())
    _edit(path, lambda f: f["sounds/00001/counts"].__setitem__((0, 0, 0), 4))
    assert read_animal(path).sounds[1].counts[0, 0, 0] == 4
    _edit(path, lambda f: f["sounds/00001/counts"].__setitem__((0, 0, 0), 5))
    with pytest.raises(RecordingFormatError, match=r"counts outside 0\.\.4 \(max 5\)"):
        read_animal(path)


def _sound_with(animal: AnimalRecording, index: int, **changes) -> AnimalRecording:
    s = animal.sounds[index]
    fields = {"name": s.name, "sound_class": s.sound_class, "audio": s.audio, "counts": s.counts, "hours": s.hours}
    fields["split"] = s.split
    fields.update(changes)
    animal.sounds[index] = SoundRecording(**fields)
    return animal


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: setattr(a, "hearing_status", "deaf"), r"animal 'NH01': hearing_status must be one of"),
        (lambda a: _sound_with(a, 1, split="dev"), r"sound 'music/1': split must be 'train' or 'test', got 'dev'"),
        (lambda a: _sound_with(a, 1, name="speech/0"), "animal 'NH01': duplicate sound names"),
        (lambda a: _sound_with(a, 1, sound_class="birdsong"), r"sound 'music/1': sound_class 'birdsong' not in"),
        (lambda a: a.sounds[1].audio.__setitem__(3, np.nan), r"sound 'music/1': audio must be 1-D and finite"),
        (lambda a: _sound_with(a, 1, counts=a.sounds[1].counts[0]), r"counts must be \(trials, channels, bins\)"),
        (lambda a: _sound_with(a, 2, counts=a.sounds[2].counts[:1]), "test sounds need 2 repeated trials, got 1"),
        (lambda a: _sound_with(a, 1, counts=a.sounds[1].counts[:, :2]), "has a different channel count"),
        (lambda a: a.abr_thresholds_db.pop(ABR_FREQS_HZ[0]), rf"ABR thresholds missing at \[{ABR_FREQS_HZ[0]}\] Hz"),
        (lambda a: setattr(a, "channel_cf_hz", np.ones(5)), "channel_cf_hz must have 3 values"),
    ],
)
def test_invalid_animals_are_refused_before_anything_is_written(tmp_path, change, message):
    animal = make_animal()
    change(animal)
    with pytest.raises(RecordingFormatError, match=message) as info:
        write_animal(tmp_path / "a.h5", animal)
    assert "refusing to write animal 'NH01'" in str(info.value)
    assert os.listdir(tmp_path) == []


def test_cohort_index_checks_sample_rate_format_and_entries(tmp_path):
    write_cohort(tmp_path, [make_animal()], {})
    good = json.loads((tmp_path / "cohort.json").read_text())
    for edit, message in [
        ({"sample_rate": SAMPLE_RATE + 1}, rf"sample rate {SAMPLE_RATE + 1} Hz != SAMPLE_RATE={SAMPLE_RATE}"),
        ({"sample_rate": None}, "sample rate None Hz"),
        ({"sample_rate": "16000"}, "sample rate '16000' Hz"),
        ({"sample_rate": SAMPLE_RATE + 0.01}, "sample rate"),  # 0.01 Hz off is another rate
        ({"format": "other"}, "not a hearloop cohort index"),
        ({"animals": [{"animal_id": "NH01"}]}, "'animals' must be a list of entries with keys"),
        ({"animals": "NH01"}, "'animals' must be a list"),
    ]:
        (tmp_path / "cohort.json").write_text(json.dumps({**good, **edit}))
        with pytest.raises(RecordingFormatError, match=message):
            read_cohort(tmp_path)
    (tmp_path / "cohort.json").write_text(json.dumps({**good, "sample_rate": SAMPLE_RATE + 1e-7}))
    assert read_cohort(tmp_path).animal_ids == ["NH01"]  # within 1e-6 Hz: the same rate
    with pytest.raises(RecordingFormatError, match="needs at least one animal"):
        write_cohort(tmp_path / "none", [], {})


@pytest.mark.parametrize("field", ["animal_id", "n_channels"])
def test_cohort_open_refuses_a_file_that_is_not_the_indexed_animal(tmp_path, field):
    write_cohort(tmp_path, [make_animal("NH01"), make_animal("NH02", seed=3)], {})
    index = json.loads((tmp_path / "cohort.json").read_text())
    if field == "animal_id":
        index["animals"][1]["animal_id"] = "NH09"
    else:
        index["n_channels"] = 4
    (tmp_path / "cohort.json").write_text(json.dumps(index))
    cohort = read_cohort(tmp_path)
    with pytest.raises(RecordingFormatError, match=r"NH02\.h5: animal id / channel count differ from cohort\.json"):
        cohort.open(1)
    if field == "animal_id":
        assert cohort.load(0).animal_id == "NH01"  # the consistent entry still opens
    with pytest.raises(KeyError, match="no animal 'NH05'"):
        cohort.entry("NH05")


@pytest.mark.parametrize("key", ["animal_id", "hearing_status", "sample_rate", "n_channels"])
def test_each_missing_header_attribute_is_named(tmp_path, key):
    path = write_animal(tmp_path / "a.h5", make_animal())
    _edit(path, lambda f: f.attrs.__delitem__(key))
    with pytest.raises(RecordingFormatError) as info:
        read_animal(path)
    assert str(info.value) == f"{path}: missing attribute {key!r}"


@pytest.mark.parametrize("key", ["name", "sound_class", "hours", "split"])
def test_each_missing_sound_attribute_is_named(tmp_path, key):
    path = write_animal(tmp_path / "a.h5", make_animal())
    _edit(path, lambda f: f["sounds/00001"].attrs.__delitem__(key))
    with pytest.raises(RecordingFormatError) as info:
        read_animal(path)
    assert str(info.value) == f"{path}: sound group '00001' misses attributes [{key!r}]"


@pytest.mark.parametrize(("offset", "ok"), [(1e-7, True), (-1e-7, True), (2e-6, False), (-2e-6, False), (0.5, False)])
def test_file_sample_rate_must_match_within_a_micro_hertz(tmp_path, offset, ok):
    path = write_animal(tmp_path / "a.h5", make_animal())
    _edit(path, lambda f: f.attrs.__setitem__("sample_rate", SAMPLE_RATE + offset))
    if ok:
        assert read_animal(path).animal_id == "NH01"
        return
    with pytest.raises(RecordingFormatError) as info:
        read_animal(path)
    rate = float(SAMPLE_RATE + offset)
    assert str(info.value) == f"{path}: sample rate {rate} Hz does not match SAMPLE_RATE={SAMPLE_RATE} Hz"


def test_header_values_are_read_with_their_types(tmp_path):
    path = write_animal(tmp_path / "a.h5", make_animal(status="HI"))
    with open_animal(path) as f:
        assert (f.animal_id, f.hearing_status, f.n_channels, f.schema_version) == ("NH01", "HI", 3, 2)
        assert type(f.animal_id) is str and type(f.hearing_status) is str and type(f.n_channels) is int
        assert type(f.schema_version) is int
        assert f.channel_cf_hz.dtype == np.float64 and f.ground_truth["seed"] == 0
        assert f.sound_names == ["speech/0", "music/1", "ripple/2", "silence/3"]
        info = f.info("ripple/2")
        assert (info.sound_class, info.split, info.n_trials) == ("ripple", "test", 2)
        assert type(info.n_samples) is int and info.n_samples == f.audio("ripple/2").shape[0]
        assert type(info.n_trials) is int and type(info.hours) is float


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            _replace("abr/thresholds_db_spl", np.array([10.0, np.nan, 20.0, 30.0, np.inf])),
            "abr/thresholds_db_spl holds non-finite thresholds {500: 10.0, 1000: nan, 2000: 20.0, 4000: 30.0, "
            "8000: inf} (Hz: dB SPL)",
        ),
        (
            lambda f: (
                _replace("abr/freqs_hz", np.ones((1, 5), np.int64))(f),
                _replace("abr/thresholds_db_spl", np.ones((1, 5)))(f),
            ),
            "abr/freqs_hz (1, 5) and abr/thresholds_db_spl (1, 5) must be equal 1-D",
        ),
        (
            _replace("ground_truth", np.array("{not json", dtype=h5py.string_dtype("utf-8"))),
            "ground_truth is not a JSON string: Expecting property name enclosed in double quotes: line 1 column 2 "
            "(char 1)",
        ),
        (_set_attr("sounds/00001", "split", "Train"), "sound 'music/1': split must be 'train' or 'test', got 'Train'"),
        (
            _set_attr("sounds/00002", "trial_hours", [1.0, 2.0]),
            "sound 'ripple/2': trial_hours [1.0, 2.0] must give one finite time per trial (2), starting at hours = ",
        ),
        (
            _replace("sounds/00000/audio", np.zeros(9600, np.float64)),
            "dataset 'sounds/00000/audio' has dtype float64, expected float32",
        ),
        (
            _replace("sounds/00000/counts", np.zeros((1, 3), np.uint8)),
            "dataset 'sounds/00000/counts' has shape (1, 3), expected 3-D",
        ),
        (_replace("abr/freqs_hz", np.zeros(0, np.int64)), "abr/freqs_hz (0,) and abr/thresholds_db_spl (5,) must be"),
        (lambda f: f["abr"].create_group("x") and _move(f, "abr/x", "abr/freqs_hz"), "missing dataset 'abr/freqs_hz'"),
    ],
)
def test_malformed_values_are_named_in_full(tmp_path, edit, message):
    path = write_animal(tmp_path / "a.h5", make_animal())
    _edit(path, edit)
    with pytest.raises(RecordingFormatError) as info:
        read_animal(path)
    assert str(info.value).startswith(f"{path}: {message}")


def _move(f: h5py.File, source: str, dest: str) -> bool:
    del f[dest]
    f.move(source, dest)
    return True


def test_a_failed_open_closes_the_file(tmp_path):
    path = write_animal(tmp_path / "a.h5", make_animal())
    _edit(path, lambda f: f.attrs.__setitem__("hearing_status", "deaf"))
    with pytest.raises(RecordingFormatError, match="hearing_status") as info:
        open_animal(path)
    _edit(path, lambda f: f.attrs.__setitem__("hearing_status", "HI"))  # h5py refuses a file still open read-only
    del info
    assert read_animal(path).hearing_status == "HI"


def test_non_finite_audio_and_unknown_sounds_are_named_on_read(tmp_path):
    path = write_animal(tmp_path / "a.h5", make_animal())
    _edit(path, lambda f: f["sounds/00001/audio"].__setitem__(5, np.nan))
    with open_animal(path) as f:
        assert np.isfinite(f.audio("music/1", 0, 5)).all()  # a slice without the bad sample is fine
        with pytest.raises(RecordingFormatError) as info:
            f.audio("music/1", 5, 6)
        assert str(info.value) == f"{path}: sound 'music/1': audio contains non-finite samples"
        with pytest.raises(UnknownNameError) as missing:
            f.audio("music/9")
        assert str(missing.value) == repr(f"{path}: no sound named 'music/9'")
        with pytest.raises(UnknownNameError, match="no sound named 'x'"):
            f.counts("x")
        assert f.counts("music/1", 5, 5).shape == (1, 3, 0)  # an empty slice has no maximum to check
        assert f.counts("music/1", 0, 4, trials=0).shape == (3, 4)
    with pytest.raises(RecordingFormatError, match="non-finite samples"):
        read_animal(path, load_counts=False)  # the audio is read (and checked) even without the counts


@pytest.mark.parametrize("times", [["h"], ["h", "nan"], ["h", "h", "h"], ["h", "inf"]])
def test_trial_hours_starting_at_hours_still_need_one_finite_time_per_trial(tmp_path, times):
    animal = make_animal()
    hours = animal.sounds[2].hours
    values = [hours if t == "h" else float(t) for t in times]
    path = write_animal(tmp_path / "a.h5", animal)
    _edit(path, _set_attr("sounds/00002", "trial_hours", np.asarray(values)))
    with pytest.raises(RecordingFormatError) as info:
        read_animal(path)
    assert str(info.value) == (
        f"{path}: sound 'ripple/2': trial_hours {values} must give one finite time per trial (2), starting at "
        f"hours = {hours}"
    )


def test_trial_hours_are_read_as_float_hours_whatever_their_stored_form(tmp_path):
    animal = make_animal()
    path = write_animal(tmp_path / "a.h5", animal)
    hours = animal.sounds[0].hours
    _edit(path, _set_attr("sounds/00000", "trial_hours", hours))  # one trial: a scalar
    _edit(path, _set_attr("sounds/00002", "trial_hours", np.array([[repr(animal.sounds[2].hours), "7.25"]], "S")))
    back = read_animal(path)
    assert back.sounds[0].trial_hours == (hours,)
    assert back.sounds[2].trial_hours == (animal.sounds[2].hours, 7.25)
    assert all(type(h) is float for h in back.sounds[2].trial_hours)


def test_counts_and_audio_lengths_disagreeing_are_named_in_full(tmp_path):
    path = write_animal(tmp_path / "a.h5", make_animal())
    with h5py.File(path, "r") as f:
        samples = f["sounds/00000/audio"].shape[0]
    _edit(path, _replace("sounds/00000/counts", np.zeros((1, 3, 7), np.uint8)))
    with pytest.raises(RecordingFormatError) as info:
        read_animal(path)
    assert str(info.value) == (
        f"{path}: sound 'speech/0': counts have 7 bins but audio has {samples} samples "
        f"(expected samples // 32 = {samples // 32} bins)"
    )


def test_a_file_without_schema_version_is_named_as_not_a_recording(tmp_path):
    path = write_animal(tmp_path / "a.h5", make_animal())
    _edit(path, lambda f: f.attrs.__delitem__("schema_version"))
    with pytest.raises(RecordingFormatError) as info:
        read_animal(path)
    assert str(info.value) == f"{path}: missing schema_version attribute (not a hearloop recording?)"


def test_a_file_without_sounds_is_named(tmp_path):
    path = write_animal(tmp_path / "a.h5", make_animal())
    _edit(path, lambda f: f.__delitem__("sounds"))
    with pytest.raises(RecordingFormatError) as info:
        read_animal(path)
    assert str(info.value) == f"{path}: missing group 'sounds'"
