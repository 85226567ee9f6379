"""HDF5 recording format: exact round trip, validation errors naming the problem, atomic writes, cohort index."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest

from simulator.constants import SAMPLE_RATE
from simulator.data import recordings
from simulator.data.recording_types import ABR_FREQS_HZ, AnimalRecording, SoundRecording
from simulator.data.recordings import (
    SCHEMA_VERSION,
    RecordingNotFoundError,
    open_animal,
    read_animal,
    read_cohort,
    sha256_file,
    write_animal,
    write_cohort,
)
from simulator.errors import RecordingFormatError


def make_animal(animal_id: str = "NH01", n_channels: int = 3, seed: int = 0, status: str = "NH") -> AnimalRecording:
    rng = np.random.default_rng(seed)
    sounds = []
    for i, (cls, split) in enumerate(
        [("speech", "train"), ("music", "train"), ("ripple", "test"), ("silence", "train")]
    ):
        n = 32 * int(rng.integers(300, 600)) + int(rng.integers(0, 32))  # not a multiple of 32 on purpose
        audio = rng.normal(0.0, 0.05, n).astype(np.float32)
        trials = 2 if split == "test" else 1
        counts = rng.integers(0, 5, (trials, n_channels, n // 32)).astype(np.uint8)
        sounds.append(SoundRecording(f"{cls}/{i}", cls, audio, counts, float(rng.uniform(0, 8)), split))
    return AnimalRecording(
        animal_id=animal_id,
        hearing_status=status,
        abr_thresholds_db={f: float(rng.uniform(10, 60)) for f in ABR_FREQS_HZ},
        sounds=sounds,
        channel_cf_hz=np.geomspace(300.0, 8000.0, n_channels),
        ground_truth={"profile": {"shape": "flat", "loss_db": [1.5, 2.25]}, "seed": seed, "note": "µ", "x": None},
    )


def assert_same_animal(a: AnimalRecording, b: AnimalRecording) -> None:
    assert (a.animal_id, a.hearing_status, a.abr_thresholds_db, a.ground_truth) == (
        b.animal_id,
        b.hearing_status,
        b.abr_thresholds_db,
        b.ground_truth,
    )
    np.testing.assert_array_equal(a.channel_cf_hz, b.channel_cf_hz)
    assert [s.name for s in a.sounds] == [s.name for s in b.sounds]
    for s, t in zip(a.sounds, b.sounds, strict=True):
        assert (s.sound_class, s.hours, s.split) == (t.sound_class, t.hours, t.split)
        assert s.audio.dtype == t.audio.dtype == np.float32 and t.counts.dtype == np.uint8
        np.testing.assert_array_equal(s.audio, t.audio)
        np.testing.assert_array_equal(s.counts, t.counts)


def test_round_trip_is_exact(tmp_path):
    animal = make_animal()
    path = write_animal(tmp_path / "a.h5", animal)
    back = read_animal(path)
    assert_same_animal(animal, back)
    back.validate()
    assert type(back.abr_thresholds_db[500]) is float and list(back.abr_thresholds_db) == list(ABR_FREQS_HZ)
    with h5py.File(path, "r") as f:
        assert f.attrs["schema_version"] == SCHEMA_VERSION and f.attrs["sample_rate"] == SAMPLE_RATE
        assert f.attrs["n_channels"] == 3 and f.attrs["bin_rate"] == SAMPLE_RATE / 32
        d = f["sounds/00000/counts"]
        assert d.compression == "gzip" and d.chunks[0] == 1 and d.chunks[1] == 3


def test_round_trip_without_optional_fields_and_without_counts(tmp_path):
    animal = make_animal()
    animal.channel_cf_hz, animal.ground_truth = None, None
    back = read_animal(write_animal(tmp_path / "a.h5", animal), load_counts=False)
    assert back.channel_cf_hz is None and back.ground_truth is None
    assert [s.counts.shape for s in back.sounds] == [(1, 3, 0), (1, 3, 0), (2, 3, 0), (1, 3, 0)]
    np.testing.assert_array_equal(back.sounds[2].audio, animal.sounds[2].audio)


def test_cohort_round_trip_and_index(tmp_path):
    animals = [make_animal("NH01", seed=1), make_animal("HI01", seed=2, status="HI")]
    index_path = write_cohort(tmp_path / "cohort", animals, {"generator": "test", "seed": 7})
    assert index_path == tmp_path / "cohort" / "cohort.json"
    index_json = json.loads(index_path.read_text())
    assert index_json["schema_version"] == SCHEMA_VERSION and index_json["n_channels"] == 3
    assert index_json["animals"][1]["sha256"] == sha256_file(tmp_path / "cohort" / "HI01.h5")
    index = read_cohort(tmp_path / "cohort", verify=True)
    assert index.animal_ids == ["NH01", "HI01"] and index.metadata == {"generator": "test", "seed": 7}
    assert index.entry("HI01")["hearing_status"] == "HI"
    assert index.entry(1)["abr_thresholds_db"] == animals[1].abr_thresholds_db
    for i, a in enumerate(animals):
        assert_same_animal(a, index.load(i))
    with index.open("NH01") as f:  # lazy handle reads slices
        np.testing.assert_array_equal(f.audio("music/1", 10, 20), animals[0].sounds[1].audio[10:20])
        np.testing.assert_array_equal(f.counts("ripple/2", 5, 9, trials=1), animals[0].sounds[2].counts[1, :, 5:9])


def _edit(path, fn) -> None:
    with h5py.File(path, "r+") as f:
        fn(f)


def _replace_counts(f: h5py.File, data: np.ndarray) -> None:
    del f["sounds/00000/counts"]
    f["sounds/00000"].create_dataset("counts", data=data)


def _drop_trial(f: h5py.File) -> None:
    one = f["sounds/00002/counts"][:1]
    del f["sounds/00002/counts"]
    f["sounds/00002"].create_dataset("counts", data=one)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.attrs.__setitem__("schema_version", 3), "schema version 3 is not supported"),
        (lambda f: f["sounds/00002"].attrs.__delitem__("trial_hours"), "misses attribute 'trial_hours'"),
        (lambda f: f["sounds/00002"].attrs.__setitem__("trial_hours", [1.0]), r"trial_hours \[1\.0\] must give one"),
        (lambda f: f["sounds/00002"].attrs.__setitem__("trial_hours", [7.5, np.nan]), "must give one finite time"),
        (lambda f: f.attrs.__delitem__("schema_version"), "missing schema_version"),
        (lambda f: f.__delitem__("sounds/00001/counts"), "missing dataset 'sounds/00001/counts'"),
        (lambda f: f.__delitem__("abr/freqs_hz"), "missing dataset 'abr/freqs_hz'"),
        (lambda f: f.attrs.__setitem__("sample_rate", 48000.0), "sample rate 48000.0 Hz does not match"),
        (lambda f: f["sounds/00001"].attrs.__setitem__("sound_class", "birdsong"), "unknown sound class 'birdsong'"),
        (lambda f: _replace_counts(f, np.zeros((1, 3, 7), np.uint8)), "7 bins but audio has"),
        (
            lambda f: _replace_counts(f, np.zeros((1, 3, f["sounds/00000/audio"].shape[0] // 32), np.int16)),
            "dtype int16",
        ),
        (
            lambda f: _replace_counts(f, np.zeros((1, 2, f["sounds/00000/audio"].shape[0] // 32), np.uint8)),
            "2 channels",
        ),
        (_drop_trial, "test sounds need 2 trials"),
    ],
)
def test_malformed_files_raise_clear_errors(tmp_path, edit, message):
    path = write_animal(tmp_path / "a.h5", make_animal())
    _edit(path, edit)
    with pytest.raises(RecordingFormatError, match=message) as info:
        read_animal(path)
    assert str(path) in str(info.value)


def test_counts_out_of_range_are_caught_on_read(tmp_path):
    path = write_animal(tmp_path / "a.h5", make_animal())
    _edit(path, lambda f: f["sounds/00001/counts"].__setitem__((0, 1, 3), 7))
    with pytest.raises(RecordingFormatError, match=r"counts outside 0\.\.4 \(max 7\)"):
        read_animal(path)
    with open_animal(path) as f:  # a lazy slice that contains the bad bin fails, one that does not is fine
        assert f.counts("music/1", 0, 3).max() <= 4
        with pytest.raises(RecordingFormatError, match="outside"):
            f.counts("music/1", 0, 4)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(RecordingNotFoundError, match="not found") as info:
        read_animal(tmp_path / "nope.h5")
    assert isinstance(info.value, FileNotFoundError)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(RecordingFormatError, match="not a readable HDF5 file"):
        read_animal(garbage)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(write_animal(tmp_path / "ok.h5", make_animal()).read_bytes()[:3000])
    with pytest.raises(RecordingFormatError):
        read_animal(truncated)
    with pytest.raises(RecordingNotFoundError, match="cohort index not found"):
        read_cohort(tmp_path / "empty_dir_that_does_not_exist")


def test_checksum_mismatch_against_index(tmp_path):
    write_cohort(tmp_path, [make_animal("NH01"), make_animal("NH02", seed=3)], {})
    index = read_cohort(tmp_path)
    _edit(tmp_path / "NH02.h5", lambda f: f["sounds/00000/audio"].__setitem__(0, 1.0))  # still a valid file
    assert read_animal(tmp_path / "NH02.h5").sounds[0].audio[0] == 1.0
    with pytest.raises(RecordingFormatError, match=r"NH02\.h5: checksum mismatch against cohort\.json"):
        index.load("NH02")
    with pytest.raises(RecordingFormatError, match="checksum mismatch"):
        read_cohort(tmp_path, verify=True)
    index.load("NH01")  # the untouched animal still loads
    (tmp_path / "NH01.h5").unlink()
    with pytest.raises(RecordingNotFoundError, match=r"'NH01\.h5' is missing"):
        index.verify("NH01")


def test_malformed_index(tmp_path):
    write_cohort(tmp_path, [make_animal()], {})
    d = json.loads((tmp_path / "cohort.json").read_text())
    (tmp_path / "cohort.json").write_text(json.dumps({**d, "schema_version": 9}))
    with pytest.raises(RecordingFormatError, match="schema version 9"):
        read_cohort(tmp_path)
    (tmp_path / "cohort.json").write_text("{not json")
    with pytest.raises(RecordingFormatError, match="not valid JSON"):
        read_cohort(tmp_path)


def test_atomic_write_failure_leaves_no_partial_file_and_keeps_earlier_file(tmp_path, monkeypatch):
    path = write_animal(tmp_path / "a.h5", make_animal(seed=1))
    before = sha256_file(path)
    calls = {"n": 0}
    real = recordings._write_sound

    def failing(group, key, sound):
        calls["n"] += 1
        if calls["n"] % 4 == 3:
            raise OSError("disk full (simulated)")
        real(group, key, sound)

    monkeypatch.setattr(recordings, "_write_sound", failing)
    with pytest.raises(OSError, match="disk full"):
        write_animal(path, make_animal(seed=2))
    assert sha256_file(path) == before and os.listdir(tmp_path) == ["a.h5"]
    calls["n"] = 0
    with pytest.raises(OSError, match="disk full"):
        write_animal(tmp_path / "new.h5", make_animal(seed=2))
    assert sorted(os.listdir(tmp_path)) == ["a.h5"]
    assert_same_animal(read_animal(path), make_animal(seed=1))


def test_cohort_write_failure_keeps_previous_cohort(tmp_path, monkeypatch):
    write_cohort(tmp_path, [make_animal("NH01", seed=1), make_animal("HI01", seed=2, status="HI")], {"v": 1})
    shas = {p: sha256_file(tmp_path / p) for p in ("NH01.h5", "HI01.h5", "cohort.json")}
    real = recordings._write_animal_file

    def fail_on_hi(path, animal):
        if animal.animal_id == "HI01":
            raise RuntimeError("killed")
        real(path, animal)

    monkeypatch.setattr(recordings, "_write_animal_file", fail_on_hi)
    with pytest.raises(RuntimeError, match="killed"):
        write_cohort(tmp_path, [make_animal("NH01", seed=5), make_animal("HI01", seed=6, status="HI")], {"v": 2})
    assert (
        sha256_file(tmp_path / "HI01.h5") == shas["HI01.h5"]
        and sha256_file(tmp_path / "cohort.json") == shas["cohort.json"]
    )
    assert sorted(os.listdir(tmp_path)) == ["HI01.h5", "NH01.h5", "cohort.json"]
    assert read_cohort(tmp_path).metadata == {"v": 1}


def test_write_rejects_invalid_input(tmp_path):
    bad = make_animal()
    bad.sounds[0].counts[0, 0, 0] = 5
    with pytest.raises(RecordingFormatError, match=r"counts must lie in 0\.\.4"):
        write_animal(tmp_path / "bad.h5", bad)
    assert not (tmp_path / "bad.h5").exists()
    with pytest.raises(RecordingFormatError, match="same channel count"):
        write_cohort(tmp_path, [make_animal("A"), make_animal("B", n_channels=4)], {})
    with pytest.raises(RecordingFormatError, match="unique"):
        write_cohort(tmp_path, [make_animal("A"), make_animal("A")], {})
    with pytest.raises(RecordingFormatError, match="unique"):
        write_cohort(tmp_path, [make_animal("../evil")], {})


def test_every_trial_keeps_its_presentation_time(tmp_path):
    animal = make_animal()
    test = animal.sounds[2]
    animal.sounds[2] = SoundRecording(test.name, test.sound_class, test.audio, test.counts, split="test",
                                      trial_hours=(1.25, 6.5))  # fmt: skip
    assert animal.sounds[2].hours == 1.25 and animal.sounds[2].presentation_hours == (1.25, 6.5)
    back = read_animal(write_animal(tmp_path / "a.h5", animal))
    assert back.sounds[2].trial_hours == (1.25, 6.5) and back.sounds[2].hours == 1.25
    assert back.sounds[0].trial_hours == (animal.sounds[0].hours,)  # one trial at its one time
    with open_animal(tmp_path / "a.h5") as f:
        assert f.schema_version == SCHEMA_VERSION == 2 and f.info(test.name).trial_hours == (1.25, 6.5)


def test_version_1_files_and_indexes_are_still_read(tmp_path):
    """A file written before per-trial times: every trial of a sound was presented at its one ``hours``."""
    animals = [make_animal("NH01"), make_animal("NH02", seed=3)]
    write_cohort(tmp_path, animals, {})
    for a in animals:

        def to_v1(f):
            f.attrs["schema_version"] = 1
            for key in f["sounds"]:
                del f["sounds"][key].attrs["trial_hours"]

        _edit(tmp_path / f"{a.animal_id}.h5", to_v1)
    d = json.loads((tmp_path / "cohort.json").read_text())
    d["schema_version"] = 1
    for entry in d["animals"]:
        entry["sha256"] = sha256_file(tmp_path / entry["file"])
    (tmp_path / "cohort.json").write_text(json.dumps(d))
    index = read_cohort(tmp_path, verify=True)
    assert index.schema_version == 1
    back = index.load("NH01")
    assert_same_animal(animals[0], back)
    test = back.sounds[2]
    assert test.split == "test" and test.trial_hours == (test.hours, test.hours)


def test_trial_times_must_match_the_trials():
    audio, counts = np.zeros(64, np.float32), np.zeros((2, 3, 2), np.uint8)
    with pytest.raises(ValueError, match="one finite time >= 0 per trial"):
        SoundRecording("s", "speech", audio, counts, split="test", trial_hours=(1.0,)).validate()
    with pytest.raises(ValueError, match="must be the first trial's time"):
        SoundRecording("s", "speech", audio, counts, 2.0, "test", trial_hours=(1.0, 3.0)).validate()
    with pytest.raises(ValueError, match="give hours"):
        SoundRecording("s", "speech", audio, counts, split="test")
    SoundRecording("s", "speech", audio, counts, 1.0, "test").validate()  # both trials at 1.0 h, as in version 1
