"""Recording file layout (simulator.data.recordings): the header attributes, the chunking of the counts, the cohort
index entries, the file-name-safe ids and the cohort helpers, each with the values the format documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from simulator.constants import BIN_RATE, DOWNSAMPLE, SAMPLE_RATE
from simulator.data.recording_types import ABR_FREQS_HZ, AnimalRecording, SoundRecording
from simulator.data.recordings import (
    COHORT_FORMAT,
    COHORT_INDEX,
    FILE_FORMAT,
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    open_animal,
    read_animal,
    read_cohort,
    sha256_file,
    write_animal,
    write_cohort,
)
from simulator.errors import RecordingFormatError, UnknownNameError
from tests.simulator.data.test_recordings import make_animal


def test_format_constants():
    assert (FILE_FORMAT, COHORT_FORMAT, COHORT_INDEX) == ("hearloop-recording", "hearloop-cohort", "cohort.json")
    assert (SCHEMA_VERSION, READABLE_VERSIONS) == (2, (1, 2))


def test_header_attributes_and_datasets_are_written_in_full(tmp_path):
    animal = make_animal(status="HI")
    path = write_animal(tmp_path / "a.h5", animal)
    with h5py.File(path, "r") as f:
        assert dict(f.attrs) == {
            "format": "hearloop-recording", "schema_version": 2, "animal_id": "NH01", "hearing_status": "HI",
            "sample_rate": SAMPLE_RATE, "bin_rate": BIN_RATE, "downsample": DOWNSAMPLE, "n_channels": 3,
            "n_sounds": 4,
        }  # fmt: skip
        assert f["abr/freqs_hz"].dtype == np.int64 and f["abr/freqs_hz"][()].tolist() == list(ABR_FREQS_HZ)
        assert f["abr/thresholds_db_spl"].dtype == np.float64
        assert f["abr/thresholds_db_spl"][()].tolist() == [animal.abr_thresholds_db[k] for k in ABR_FREQS_HZ]
        assert f["channel_cf_hz"].dtype == np.float64 and list(f["sounds"]) == ["00000", "00001", "00002", "00003"]
        g = f["sounds/00002"]
        assert dict(g.attrs.items()).keys() == {"name", "sound_class", "hours", "split", "trial_hours"}
        assert (g.attrs["name"], g.attrs["sound_class"], g.attrs["split"]) == ("ripple/2", "ripple", "test")
        assert g.attrs["hours"] == animal.sounds[2].hours and g.attrs["trial_hours"].dtype == np.float64
        assert g.attrs["trial_hours"].tolist() == [animal.sounds[2].hours] * 2
        assert g["audio"].dtype == np.float32 and g["counts"].dtype == np.uint8
        assert g["counts"].compression == "gzip" and g["counts"].compression_opts == 4
        assert json.loads(f["ground_truth"][()].decode("utf-8")) == animal.ground_truth


def test_float_typed_inputs_are_stored_with_the_documented_dtypes(tmp_path):
    animal = make_animal()
    animal.abr_thresholds_db = {np.int32(k): int(v) for k, v in animal.abr_thresholds_db.items()}
    animal.channel_cf_hz = np.array([300, 1000, 8000], np.int32)
    s = animal.sounds[0]
    animal.sounds[0] = SoundRecording(s.name, s.sound_class, s.audio.astype(np.float64), s.counts.astype(np.int64),
                                      s.hours, s.split)  # fmt: skip
    animal.sounds[2].hours, animal.sounds[2].trial_hours = 1, (1, 3)  # set after construction: ints
    path = write_animal(tmp_path / "a.h5", animal)
    with h5py.File(path, "r") as f:
        assert f["sounds/00002"].attrs["trial_hours"].dtype == np.float64
        assert f["abr/freqs_hz"].dtype == np.int64 and f["abr/thresholds_db_spl"].dtype == np.float64
        assert f["channel_cf_hz"].dtype == np.float64
        assert f["sounds/00000/audio"].dtype == np.float32 and f["sounds/00000/counts"].dtype == np.uint8


@pytest.mark.parametrize(
    ("channels", "bins", "chunk_bins"),
    [(3, 400, 400), (128, 2000, 1024), (1024, 300, 256), (1024, 200, 200), (512, 300, 256), (511, 300, 256)],
)
def test_counts_are_chunked_by_about_128_kb_along_bins(tmp_path, channels, bins, chunk_bins):
    """``min(bins, max(256, 2**17 // channels))`` bins per chunk, one trial and every channel."""
    counts = np.ones((1, channels, bins), np.uint8)
    sound = SoundRecording("s", "speech", np.zeros(bins * 32, np.float32), counts, 0.5)
    animal = AnimalRecording("A", "NH", {f: 10.0 for f in ABR_FREQS_HZ}, [sound])
    path = write_animal(tmp_path / "a.h5", animal)
    with h5py.File(path, "r") as f:
        assert f["sounds/00000/counts"].chunks == (1, channels, chunk_bins)


def test_a_sound_without_bins_is_stored_unchunked(tmp_path):
    sound = SoundRecording("s", "tone", np.zeros(31, np.float32), np.zeros((1, 2, 0), np.uint8), 0.5)
    animal = AnimalRecording("A", "NH", {f: 10.0 for f in ABR_FREQS_HZ}, [sound])
    path = write_animal(tmp_path / "a.h5", animal)
    with h5py.File(path, "r") as f:
        assert f["sounds/00000/counts"].chunks is None and f["sounds/00000/counts"].shape == (1, 2, 0)


def test_cohort_index_entries_in_full(tmp_path):
    animals = [make_animal("NH.1"), make_animal("HI_2-b", seed=3, status="HI")]
    path = write_cohort(tmp_path, animals)
    d = json.loads(path.read_text())
    assert {k: d[k] for k in d if k != "animals"} == {
        "format": "hearloop-cohort", "schema_version": 2, "sample_rate": SAMPLE_RATE, "bin_rate": BIN_RATE,
        "n_channels": 3, "metadata": {},
    }  # fmt: skip
    assert d["animals"][1] == {
        "animal_id": "HI_2-b", "file": "HI_2-b.h5", "hearing_status": "HI",
        "abr_thresholds_db": {str(k): animals[1].abr_thresholds_db[k] for k in ABR_FREQS_HZ},
        "sha256": sha256_file(tmp_path / "HI_2-b.h5"), "n_sounds": 4,
    }  # fmt: skip
    index = read_cohort(path)  # the index file itself, not only its folder
    assert index.root == tmp_path and len(index) == 2 and index.schema_version == 2 and index.n_channels == 3
    assert type(index.n_channels) is int and index.metadata == {}
    assert index.paths == [tmp_path / "NH.1.h5", tmp_path / "HI_2-b.h5"] and index.path(1) == index.path("HI_2-b")
    assert list(index.entry(1)["abr_thresholds_db"]) == list(ABR_FREQS_HZ)
    assert index.entry("NH.1") is index.animals[0] and index.entry(-1) is index.animals[1]
    with pytest.raises(UnknownNameError) as err:
        index.entry("NH1")
    assert str(err.value) == repr(f"{tmp_path / 'cohort.json'}: no animal 'NH1' (have ['NH.1', 'HI_2-b'])")


@pytest.mark.parametrize("bad", ["../evil", ".hidden", "_a", "-a", "a b", "a/b", "", "é"])
def test_animal_ids_must_be_file_name_safe(tmp_path, bad):
    with pytest.raises(RecordingFormatError) as err:
        write_cohort(tmp_path, [make_animal("ok"), make_animal(bad)])
    assert str(err.value) == f"animal ids must be unique and use only [A-Za-z0-9_.-], got {['ok', bad]}"
    assert list(tmp_path.iterdir()) == []


def test_opening_without_verification_skips_the_checksum(tmp_path):
    write_cohort(tmp_path, [make_animal("NH01")], {"m": 1})
    index = read_cohort(tmp_path)
    with h5py.File(tmp_path / "NH01.h5", "r+") as f:
        f["sounds/00000/audio"][0] = 0.25
    assert index.load("NH01", verify=False).sounds[0].audio[0] == 0.25
    with index.open(0, verify=False) as f:
        assert f.animal_id == "NH01"
    with pytest.raises(RecordingFormatError, match="checksum mismatch"):
        index.open(0)
    with pytest.raises(RecordingFormatError, match="checksum mismatch"):
        index.verify()
    assert read_cohort(tmp_path).animal_ids == ["NH01"]  # reading the index checks no file by default
    counts = index.load(0, load_counts=False, verify=False).sounds[0].counts
    assert counts.shape == (1, 3, 0) and counts.dtype == np.uint8


def test_the_cohort_index_is_indented_json(tmp_path):
    path = write_cohort(tmp_path, [make_animal("NH01")], {"note": "µ"})
    text = path.read_text(encoding="ascii")  # non-ASCII metadata is escaped
    assert text == json.dumps(json.loads(text), indent=2) and json.loads(text)["metadata"] == {"note": "µ"}


def test_read_cohort_finds_the_index_in_a_dotted_folder_and_fills_optional_keys(tmp_path):
    folder = tmp_path / "cohort.v2"
    write_cohort(folder, [make_animal("NH01")], {"k": 1})
    assert read_cohort(folder).root == folder and read_cohort(folder / "cohort.json").metadata == {"k": 1}
    d = json.loads((folder / "cohort.json").read_text())
    del d["metadata"], d["animals"][0]["abr_thresholds_db"]
    (folder / "cohort.json").write_text(json.dumps(d))
    index = read_cohort(folder, verify=True)
    assert index.metadata == {} and index.animals[0]["abr_thresholds_db"] == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[1, 2]", "not a hearloop cohort index (format != 'hearloop-cohort'); it holds a JSON array, not an object"),
        (b'"hearloop-cohort"', "not a hearloop cohort index (format != 'hearloop-cohort'); it holds a JSON string"),
        (
            b'{"format": "hearloop-recording"}',
            "not a hearloop cohort index (format != 'hearloop-cohort'); it holds format 'hearloop-recording'",
        ),
        (b"\xff\xfe{", "not valid JSON: "),
        (b'{"format": "hearloop-cohort"}', "schema version None is not one of (1, 2)"),
        (b'{"format": "hearloop-cohort", "schema_version": 2}', "sample rate None Hz != SAMPLE_RATE=24414.0625"),
    ],
)
def test_malformed_cohort_index_is_named(tmp_path, content, message):
    (tmp_path / "cohort.json").write_bytes(content)
    with pytest.raises(RecordingFormatError) as err:
        read_cohort(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'cohort.json'}: {message}")


@pytest.mark.parametrize("missing", ["animal_id", "file", "hearing_status", "sha256"])
def test_each_index_entry_needs_its_keys(tmp_path, missing):
    write_cohort(tmp_path, [make_animal("NH01")])
    d = json.loads((tmp_path / "cohort.json").read_text())
    del d["animals"][0][missing]
    (tmp_path / "cohort.json").write_text(json.dumps(d))
    with pytest.raises(RecordingFormatError) as err:
        read_cohort(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'cohort.json'}: 'animals' must be a list of entries with keys "
        "('animal_id', 'file', 'hearing_status', 'sha256')"
    )


def test_whole_sounds_and_animals_are_read_with_their_counts_by_default(tmp_path):
    animal = make_animal()
    path = write_animal(tmp_path / "a.h5", animal)
    with open_animal(path) as f:
        np.testing.assert_array_equal(f.sound("ripple/2").counts, animal.sounds[2].counts)
        np.testing.assert_array_equal(f.to_recording().sounds[1].counts, animal.sounds[1].counts)
        assert f.sound("ripple/2", load_counts=False).counts.shape == (2, 3, 0)


def test_a_version_1_sound_without_trials_keeps_its_hours(tmp_path):
    """Version 1 files give a sound's time once (``hours``); a training sound may have no trial at all."""
    s = SoundRecording("empty", "tone", np.zeros(64, np.float32), np.zeros((0, 2, 2), np.uint8), 3.5)
    animal = AnimalRecording("A", "NH", {f: 10.0 for f in ABR_FREQS_HZ}, [s])
    path = write_animal(tmp_path / "a.h5", animal)

    def to_v1(f):
        f.attrs["schema_version"] = 1
        del f["sounds/00000"].attrs["trial_hours"]

    with h5py.File(path, "r+") as f:
        to_v1(f)
    back = read_animal(path).sounds[0]
    assert (back.hours, back.trial_hours, back.counts.shape) == (3.5, (), (0, 2, 2))


def test_a_sound_without_trials_round_trips_in_the_current_version(tmp_path):
    """Version 2 stores an empty ``trial_hours`` for a training sound without trials: read back, not an IndexError."""
    s = SoundRecording("empty", "tone", np.zeros(64, np.float32), np.zeros((0, 2, 2), np.uint8), 3.5)
    path = write_animal(tmp_path / "a.h5", AnimalRecording("A", "NH", {f: 10.0 for f in ABR_FREQS_HZ}, [s]))
    back = read_animal(path).sounds[0]
    assert (back.hours, back.trial_hours, back.counts.shape) == (3.5, (), (0, 2, 2))
    with h5py.File(path, "r+") as f:  # one stored time for no trial is still a mismatch
        f["sounds/00000"].attrs["trial_hours"] = np.array([3.5])
    with pytest.raises(RecordingFormatError, match=r"trial_hours \[3\.5\] must give one finite time per trial \(0\)"):
        read_animal(path)


def test_an_empty_cohort_is_refused_by_name(tmp_path):
    with pytest.raises(RecordingFormatError) as err:
        write_cohort(tmp_path, [])
    assert str(err.value) == "write_cohort needs at least one animal"


def test_the_cohort_index_is_read_as_utf8_whatever_the_locale(tmp_path):
    write_cohort(tmp_path, [make_animal("NH01")])
    d = json.loads((tmp_path / "cohort.json").read_text())
    d["metadata"] = {"note": "µs"}
    (tmp_path / "cohort.json").write_bytes(json.dumps(d, ensure_ascii=False).encode("utf-8"))
    code = (
        "import sys; from simulator.data.recordings import read_cohort; print(ascii(read_cohort(sys.argv[1]).metadata))"
    )
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0"}  # the locale's encoding is ASCII here
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True,
                          check=False, cwd=Path(__file__).resolve().parents[3])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ascii({"note": "µs"})
