"""HDF5 recording files for nu-ICNet training data ([Pellatt2025]_): one file per animal plus a JSON cohort index.

The paper trains on 512-channel multi-unit activity of 9 gerbils (counts per 1.31 ms bin, audio at 24414.0625 Hz,
two-trial held-out test sounds). This module stores exactly :class:`~simulator.data.recording_types.AnimalRecording`;
the layout (schema version :data:`SCHEMA_VERSION`) is documented in the README section "Recording format". In short:
``<animal_id>.h5`` holds header attrs, ``abr/``, optional ``channel_cf_hz`` and ``ground_truth`` (a JSON string
dataset, so it may exceed HDF5's 64 kB attribute limit), and one ``sounds/<00000>`` group per sound with ``audio``
(float32 Pa) and ``counts`` (uint8 trials x channels x bins, chunked along bins + gzip, so a training frame reads a
few chunks only); each sound group's attrs give its ``hours`` (first presentation) and, from schema version 2,
``trial_hours`` (the presentation time of every trial; version 1 files, still read, have every trial at ``hours``);
``cohort.json`` lists the files with their sha256.

Every write is atomic (temp file in the same folder, then ``os.replace``); every read validates the schema and raises
:class:`~simulator.errors.RecordingFormatError` naming the file and the problem.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from simulator.atomic_io import atomic_write, read_tagged_json, sha256_file
from simulator.constants import BIN_RATE, DOWNSAMPLE, MAX_COUNT, SAMPLE_RATE
from simulator.data.recording_types import HEARING_STATUSES, SOUND_CLASSES, AnimalRecording, SoundRecording
from simulator.errors import HearloopInputError, RecordingFormatError, UnknownNameError

SCHEMA_VERSION = 2
"""Written by this version; version 1 files (one ``hours`` per sound, no ``trial_hours``) are still read."""
READABLE_VERSIONS: tuple[int, ...] = (1, 2)
FILE_FORMAT = "hearloop-recording"
COHORT_FORMAT = "hearloop-cohort"
COHORT_INDEX = "cohort.json"
_CHUNK_BYTES = 1 << 17  # ~128 kB counts chunks: a few per 256-bin frame, small enough for h5py's 1 MB chunk cache
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class RecordingNotFoundError(RecordingFormatError, FileNotFoundError):
    """A recording file or cohort index does not exist (also a ``FileNotFoundError``)."""


@dataclass(frozen=True)
class SoundInfo:
    """Metadata of one stored sound (no audio or counts loaded)."""

    name: str
    sound_class: str
    hours: float
    split: str
    n_samples: int
    n_trials: int
    trial_hours: tuple[float, ...] = ()


def _write_sound(group: h5py.Group, key: str, sound: SoundRecording) -> None:
    g = group.create_group(key)
    g.attrs.update(name=sound.name, sound_class=sound.sound_class, hours=float(sound.hours), split=sound.split)
    g.attrs["trial_hours"] = np.asarray(sound.presentation_hours, dtype=np.float64)
    g.create_dataset("audio", data=np.asarray(sound.audio, dtype=np.float32))
    counts = np.asarray(sound.counts, dtype=np.uint8)
    kw: dict[str, Any] = {}
    if counts.size:  # chunks of ~_CHUNK_BYTES along bins: a training frame reads a few chunks only
        chunk_bins = min(counts.shape[2], max(256, _CHUNK_BYTES // counts.shape[1]))
        kw = {"chunks": (1, counts.shape[1], chunk_bins), "compression": "gzip", "compression_opts": 4}
    g.create_dataset("counts", data=counts, **kw)


def _write_animal_file(path: Path, animal: AnimalRecording) -> None:
    with h5py.File(path, "w") as f:
        f.attrs.update(
            format=FILE_FORMAT, schema_version=SCHEMA_VERSION, animal_id=animal.animal_id,
            hearing_status=animal.hearing_status, sample_rate=SAMPLE_RATE, bin_rate=BIN_RATE, downsample=DOWNSAMPLE,
            n_channels=animal.n_channels, n_sounds=len(animal.sounds),
        )  # fmt: skip
        freqs = sorted(animal.abr_thresholds_db)
        f.create_dataset("abr/freqs_hz", data=np.asarray(freqs, dtype=np.int64))
        f.create_dataset("abr/thresholds_db_spl", data=np.asarray([animal.abr_thresholds_db[k] for k in freqs], float))
        if animal.channel_cf_hz is not None:
            f.create_dataset("channel_cf_hz", data=np.asarray(animal.channel_cf_hz, dtype=np.float64))
        if animal.ground_truth is not None:
            f.create_dataset("ground_truth", data=json.dumps(animal.ground_truth), dtype=h5py.string_dtype("utf-8"))
        sounds = f.create_group("sounds")
        for i, sound in enumerate(animal.sounds):
            _write_sound(sounds, f"{i:05d}", sound)


def write_animal(path: str | os.PathLike, animal: AnimalRecording) -> Path:
    """Validate ``animal`` and write it (atomically) to the HDF5 file ``path``. Returns the path."""
    try:
        animal.validate()
        if animal.channel_cf_hz is not None and np.shape(animal.channel_cf_hz) != (animal.n_channels,):
            raise HearloopInputError(f"channel_cf_hz must have {animal.n_channels} values")
    except ValueError as e:
        raise RecordingFormatError(f"refusing to write animal {animal.animal_id!r}: {e}") from e
    return atomic_write(path, lambda tmp: _write_animal_file(tmp, animal))


class AnimalFile:
    """Lazy, validated read-only view of one animal file; audio and counts are read slice by slice.

    Opening checks the header and the shape/dtype of every dataset (no data is read). Counts values are checked on
    every read (``0..4``). Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise RecordingNotFoundError(f"recording file not found: {self.path}")
        try:
            self._f = h5py.File(self.path, "r")
        except OSError as e:
            raise RecordingFormatError(f"{self.path}: not a readable HDF5 file (corrupt or wrong type): {e}") from e
        try:
            self._validate()
        except BaseException:
            self._f.close()
            raise

    def _fail(self, msg: str) -> RecordingFormatError:
        return RecordingFormatError(f"{self.path}: {msg}")

    def _validate(self) -> None:
        a = self._f.attrs
        version = a.get("schema_version")
        if version is None:
            raise self._fail("missing schema_version attribute (not a hearloop recording?)")
        if int(version) not in READABLE_VERSIONS:
            raise self._fail(f"schema version {int(version)} is not supported (readable: {READABLE_VERSIONS})")
        self.schema_version = int(version)
        for key in ("animal_id", "hearing_status", "sample_rate", "n_channels"):
            if key not in a:
                raise self._fail(f"missing attribute {key!r}")
        if not np.isclose(float(a["sample_rate"]), SAMPLE_RATE, rtol=0, atol=1e-6):
            raise self._fail(f"sample rate {float(a['sample_rate'])} Hz does not match SAMPLE_RATE={SAMPLE_RATE} Hz")
        self.animal_id, self.hearing_status, self.n_channels = (
            str(a["animal_id"]),
            str(a["hearing_status"]),
            int(a["n_channels"]),
        )
        if self.hearing_status not in HEARING_STATUSES:
            raise self._fail(f"hearing_status {self.hearing_status!r} not in {HEARING_STATUSES}")
        freqs, thr = self._dataset("abr/freqs_hz"), self._dataset("abr/thresholds_db_spl")
        if freqs.shape != thr.shape or freqs.ndim != 1:
            raise self._fail(f"abr/freqs_hz {freqs.shape} and abr/thresholds_db_spl {thr.shape} must be equal 1-D")
        self.abr_thresholds_db = {int(k): float(v) for k, v in zip(freqs[()], thr[()], strict=True)}
        if not np.isfinite(thr[()]).all():
            raise self._fail(f"abr/thresholds_db_spl holds non-finite thresholds {self.abr_thresholds_db} (Hz: dB SPL)")
        cf = self._dataset("channel_cf_hz", shape=(self.n_channels,)) if "channel_cf_hz" in self._f else None
        self.channel_cf_hz = None if cf is None else cf[()].astype(np.float64)
        self.ground_truth = None
        if "ground_truth" in self._f:
            try:
                self.ground_truth = json.loads(self._f["ground_truth"][()].decode("utf-8"))
            except (ValueError, AttributeError) as e:
                raise self._fail(f"ground_truth is not a JSON string: {e}") from e
        self._keys, self._info = {}, {}  # sound name -> group key / SoundInfo
        if "sounds" not in self._f:
            raise self._fail("missing group 'sounds'")
        for key in sorted(self._f["sounds"]):
            info = self._validate_sound(key)
            if info.name in self._info:
                raise self._fail(f"duplicate sound name {info.name!r}")
            self._keys[info.name], self._info[info.name] = key, info

    def _dataset(self, key: str, dtype: Any = None, ndim: int | None = None, shape: tuple | None = None):
        if key not in self._f or not isinstance(self._f[key], h5py.Dataset):
            raise self._fail(f"missing dataset {key!r}")
        d = self._f[key]
        if dtype is not None and d.dtype != np.dtype(dtype):
            raise self._fail(f"dataset {key!r} has dtype {d.dtype}, expected {np.dtype(dtype)}")
        if (ndim is not None and d.ndim != ndim) or (shape is not None and d.shape != shape):
            raise self._fail(f"dataset {key!r} has shape {d.shape}, expected {shape or f'{ndim}-D'}")
        return d

    def _validate_sound(self, key: str) -> SoundInfo:
        g = self._f["sounds"][key]
        missing = [k for k in ("name", "sound_class", "hours", "split") if k not in g.attrs]
        if missing:
            raise self._fail(f"sound group {key!r} misses attributes {missing}")
        name, cls, split = str(g.attrs["name"]), str(g.attrs["sound_class"]), str(g.attrs["split"])
        if cls not in SOUND_CLASSES:
            raise self._fail(f"sound {name!r}: unknown sound class {cls!r} (known: {SOUND_CLASSES})")
        if split not in ("train", "test"):
            raise self._fail(f"sound {name!r}: split must be 'train' or 'test', got {split!r}")
        audio = self._dataset(f"sounds/{key}/audio", np.float32, ndim=1)
        counts = self._dataset(f"sounds/{key}/counts", np.uint8, ndim=3)
        n_trials, channels, bins = counts.shape
        if channels != self.n_channels:
            raise self._fail(f"sound {name!r}: counts have {channels} channels, file says n_channels={self.n_channels}")
        if bins != audio.shape[0] // DOWNSAMPLE:
            raise self._fail(
                f"sound {name!r}: counts have {bins} bins but audio has {audio.shape[0]} samples "
                f"(expected samples // {DOWNSAMPLE} = {audio.shape[0] // DOWNSAMPLE} bins)"
            )
        if split == "test" and n_trials < 2:
            raise self._fail(f"sound {name!r}: test sounds need 2 trials, got {n_trials}")
        hours = float(g.attrs["hours"])
        if self.schema_version >= 2:  # version 1: every trial at the sound's one time
            if "trial_hours" not in g.attrs:
                raise self._fail(f"sound group {key!r} misses attribute 'trial_hours' (schema version 2)")
            times = np.asarray(g.attrs["trial_hours"], dtype=np.float64).reshape(-1)
            if times.shape != (n_trials,) or not np.isfinite(times).all() or (n_trials and times[0] != hours):
                raise self._fail(
                    f"sound {name!r}: trial_hours {times.tolist()} must give one finite time per trial "
                    f"({n_trials}), starting at hours = {hours}"
                )
            trial_hours = tuple(float(h) for h in times)
        else:
            trial_hours = (hours,) * int(n_trials)
        return SoundInfo(name, cls, hours, split, int(audio.shape[0]), int(n_trials), trial_hours)

    @property
    def sound_names(self) -> list[str]:
        """Sound names in stored (presentation) order."""
        return list(self._info)

    def info(self, name: str) -> SoundInfo:
        if name not in self._info:
            raise UnknownNameError(f"{self.path}: no sound named {name!r}")
        return self._info[name]

    def audio(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Audio samples ``[start, stop)`` of sound ``name`` (float32 Pa); only that slice is read."""
        self.info(name)
        x = self._f["sounds"][self._keys[name]]["audio"][start:stop]
        if not np.isfinite(x).all():
            raise self._fail(f"sound {name!r}: audio contains non-finite samples")
        return x

    def counts(self, name: str, bin_start: int = 0, bin_stop: int | None = None, trials: Any = slice(None)):
        """``trials x channels x bins`` uint8 counts of bins ``[bin_start, bin_stop)``; only that slice is read."""
        self.info(name)
        c = self._f["sounds"][self._keys[name]]["counts"][trials, :, bin_start:bin_stop]
        if c.size and int(c.max()) > MAX_COUNT:
            raise self._fail(f"sound {name!r}: counts outside 0..{MAX_COUNT} (max {int(c.max())})")
        return c

    def sound(self, name: str, load_counts: bool = True) -> SoundRecording:
        """The whole sound (all trials). Without counts, ``counts`` is an empty ``trials x channels x 0`` array."""
        i = self.info(name)
        counts = self.counts(name) if load_counts else np.zeros((i.n_trials, self.n_channels, 0), np.uint8)
        return SoundRecording(name, i.sound_class, self.audio(name), counts, i.hours, i.split, i.trial_hours)

    def to_recording(self, load_counts: bool = True) -> AnimalRecording:
        cf = None if self.channel_cf_hz is None else self.channel_cf_hz.copy()
        sounds = [self.sound(n, load_counts) for n in self.sound_names]
        return AnimalRecording(
            self.animal_id, self.hearing_status, dict(self.abr_thresholds_db), sounds, cf, self.ground_truth
        )

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> AnimalFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


def open_animal(path: str | os.PathLike) -> AnimalFile:
    """Lazy validated handle on an animal file (see :class:`AnimalFile`)."""
    return AnimalFile(path)


def read_animal(path: str | os.PathLike, load_counts: bool = True) -> AnimalRecording:
    """Read a whole animal file into memory (``load_counts=False`` skips the counts, see :meth:`AnimalFile.sound`)."""
    with open_animal(path) as f:
        return f.to_recording(load_counts)


@dataclass
class CohortIndex:
    """A cohort's ``cohort.json``: the animal files and their metadata (no recording data)."""

    root: Path
    n_channels: int
    animals: list[dict[str, Any]]
    metadata: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def animal_ids(self) -> list[str]:
        return [a["animal_id"] for a in self.animals]

    def __len__(self) -> int:
        return len(self.animals)

    def entry(self, animal: str | int) -> dict[str, Any]:
        if isinstance(animal, int):
            return self.animals[animal]
        for a in self.animals:
            if a["animal_id"] == animal:
                return a
        raise UnknownNameError(f"{self.root / COHORT_INDEX}: no animal {animal!r} (have {self.animal_ids})")

    def path(self, animal: str | int) -> Path:
        return self.root / self.entry(animal)["file"]

    @property
    def paths(self) -> list[Path]:
        return [self.root / a["file"] for a in self.animals]

    def verify(self, animal: str | int | None = None) -> None:
        """Check the sha256 of one animal file (or all) against the index; raises RecordingFormatError on mismatch."""
        for e in self.animals if animal is None else [self.entry(animal)]:
            p = self.root / e["file"]
            if not p.is_file():
                raise RecordingNotFoundError(f"{self.root / COHORT_INDEX}: listed file {e['file']!r} is missing")
            if sha256_file(p) != e["sha256"]:
                raise RecordingFormatError(f"{p}: checksum mismatch against {COHORT_INDEX} (file changed or corrupt)")

    def open(self, animal: str | int, verify: bool = True) -> AnimalFile:
        if verify:
            self.verify(animal)
        f = open_animal(self.path(animal))
        if f.animal_id != self.entry(animal)["animal_id"] or f.n_channels != self.n_channels:
            f.close()
            raise RecordingFormatError(f"{self.path(animal)}: animal id / channel count differ from {COHORT_INDEX}")
        return f

    def load(self, animal: str | int, load_counts: bool = True, verify: bool = True) -> AnimalRecording:
        with self.open(animal, verify) as f:
            return f.to_recording(load_counts)


def write_cohort(out_dir: str | os.PathLike, animals: list[AnimalRecording], metadata: dict | None = None) -> Path:
    """Write every animal to ``out_dir/<animal_id>.h5`` and the index ``out_dir/cohort.json`` (last); returns its path.

    All animals must have the same channel count and unique, file-name-safe ids. Each file is written atomically, so
    a failure leaves earlier files and any previous index intact.
    """
    out = Path(out_dir)
    ids = [a.animal_id for a in animals]
    if not animals:
        raise RecordingFormatError("write_cohort needs at least one animal")
    if len(set(ids)) != len(ids) or not all(_SAFE_ID.match(i) for i in ids):
        raise RecordingFormatError(f"animal ids must be unique and use only [A-Za-z0-9_.-], got {ids}")
    n_channels = {a.n_channels for a in animals}
    if len(n_channels) != 1:
        raise RecordingFormatError(f"all animals of a cohort need the same channel count, got {sorted(n_channels)}")
    entries = []
    for a in animals:
        path = write_animal(out / f"{a.animal_id}.h5", a)
        entries.append({
            "animal_id": a.animal_id, "file": path.name, "hearing_status": a.hearing_status,
            "abr_thresholds_db": {str(k): float(v) for k, v in sorted(a.abr_thresholds_db.items())},
            "sha256": sha256_file(path), "n_sounds": len(a.sounds),
        })  # fmt: skip
    index = {
        "format": COHORT_FORMAT, "schema_version": SCHEMA_VERSION, "sample_rate": SAMPLE_RATE, "bin_rate": BIN_RATE,
        "n_channels": n_channels.pop(), "metadata": metadata or {}, "animals": entries,
    }  # fmt: skip
    text = json.dumps(index, indent=2)
    return atomic_write(out / COHORT_INDEX, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_cohort(directory: str | os.PathLike, verify: bool = False) -> CohortIndex:
    """Read and validate ``directory/cohort.json`` (lazy: no recording data is read; ``verify`` checks all sha256)."""
    root = Path(directory)
    path = root / COHORT_INDEX if root.is_dir() or not root.suffix else root
    root = path.parent
    if not path.is_file():
        raise RecordingNotFoundError(f"cohort index not found: {path}")
    d = read_tagged_json(path, COHORT_FORMAT, RecordingFormatError, "hearloop cohort index")
    if d.get("schema_version") not in READABLE_VERSIONS:
        raise RecordingFormatError(
            f"{path}: schema version {d.get('schema_version')!r} is not one of {READABLE_VERSIONS}"
        )
    rate = d.get("sample_rate")
    numeric = isinstance(rate, (int, float)) and not isinstance(rate, bool)
    if not numeric or not np.isclose(rate, SAMPLE_RATE, rtol=0, atol=1e-6):
        raise RecordingFormatError(f"{path}: sample rate {d.get('sample_rate')!r} Hz != SAMPLE_RATE={SAMPLE_RATE}")
    animals = d.get("animals")
    need = ("animal_id", "file", "hearing_status", "sha256")
    if not isinstance(animals, list) or not all(isinstance(a, dict) and all(k in a for k in need) for a in animals):
        raise RecordingFormatError(f"{path}: 'animals' must be a list of entries with keys {need}")
    for a in animals:
        a["abr_thresholds_db"] = {int(k): float(v) for k, v in a.get("abr_thresholds_db", {}).items()}
    index = CohortIndex(root, int(d["n_channels"]), animals, d.get("metadata", {}), int(d["schema_version"]))
    if verify:
        index.verify()
    return index
