"""Resumable cohort generation: finished sounds wait in a scratch folder next to the output until the cohort is written.

Generation is sound-major (:mod:`.session`): each finished sound yields the counts of every animal. A
:class:`SoundCheckpoint` keeps them on disk as they finish, so an interrupted run loses at most the sounds in flight
and the last ``flush_seconds``; a rerun of the same request simulates only the sounds that are missing and gives a
cohort bit-identical to an uninterrupted run (tested for interruptions at several points and for 1 and 2 workers).

Layout of the scratch folder (``OUT.partial/`` for a cohort written to ``OUT``, :func:`partial_dir`):

- ``manifest.json``, written once when the folder is made: ``format`` (:data:`PARTIAL_FORMAT`), ``version``, the
  generation ``config`` (every :func:`~simulator.virtual_ic.cohort.generate_cohort` argument that changes numbers,
  ``generator_version``, the numpy and brucezilany versions) and ``inputs_sha256``, a digest of everything the
  simulation reads (:func:`inputs_digest`: the sounds' names, classes, splits and audio, every animal's ground truth,
  presentation hours and count-noise seed keys). A rerun whose config or digest differs is refused with
  :class:`PartialCohortMismatchError` before any simulation: the scratch folder never mixes two cohorts.
- ``sounds-FIRST-LAST-N.h5``, one per flush: group ``s{index}`` per finished sound holding one dataset ``a{animal}``
  per animal, uint8 counts ``(trials, channels, bins)`` (1 trial for training, 2 for test sounds; ``bins = samples //
  DOWNSAMPLE``), with HDF5 fletcher32 checksums; file attribute ``inputs_sha256``. Written atomically
  (:func:`simulator.atomic_io.atomic_write`) when ``flush_seconds`` have passed since the previous flush, when the run
  ends, and when it stops on an exception or Ctrl-C.

A chunk that cannot be opened, fails a checksum, belongs to other inputs or holds arrays of the wrong shape or type is
renamed ``*.h5.corrupt`` with a :class:`PartialChunkWarning` and its sounds are simulated again; it is never used.
The folder is removed (:func:`discard_partial`) only after the cohort has been written and read back equal
(:func:`verify_written`).

One run at a time: :func:`output_lock` holds ``OUT.lock`` (a :mod:`filelock` OS lock that the kernel releases when
its holder dies, so a killed run leaves no stale lock; the empty file stays) for the whole generation, write and
clean-up, so a second run on the same output fails at once with :class:`PartialCohortBusyError` before any work.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import filelock
import h5py
import numpy as np

from simulator.atomic_io import atomic_write, atomic_write_text, read_tagged_json
from simulator.constants import DOWNSAMPLE
from simulator.data.recording_types import AnimalRecording
from simulator.errors import CheckpointError

__all__ = [
    "PARTIAL_FORMAT",
    "PartialChunkWarning",
    "PartialCohortBusyError",
    "PartialCohortError",
    "PartialCohortMismatchError",
    "SoundCheckpoint",
    "discard_partial",
    "inputs_digest",
    "output_lock",
    "partial_dir",
    "verify_written",
]

PARTIAL_FORMAT = "hearloop-partial-cohort"
"""``format`` of a scratch folder's ``manifest.json``."""
PARTIAL_VERSION = 1
MANIFEST = "manifest.json"
Counts = list[np.ndarray]
"""Counts of every animal for one sound, in animal order, each ``(trials, channels, bins)`` uint8."""


class PartialCohortError(CheckpointError):
    """A cohort's scratch folder is not usable: not one hearloop made, or its manifest is unreadable."""


class PartialCohortMismatchError(PartialCohortError):
    """A scratch folder holds part of a cohort generated with another config or other inputs."""


class PartialCohortBusyError(PartialCohortError):
    """Another run is generating the same output (it holds ``OUT.lock``)."""


class PartialChunkWarning(UserWarning):
    """A chunk of finished sounds could not be used; its sounds are simulated again."""


def partial_dir(out: str | Path) -> Path:
    """The scratch folder of a cohort written to ``out``: its sibling ``<out>.partial``."""
    out = Path(out).resolve()
    return out.with_name(out.name + ".partial")


@contextmanager
def output_lock(out: str | Path) -> Iterator[Path]:
    """Hold the lock of the cohort written to ``out`` (its sibling ``<out>.lock``) without waiting; yields its path.

    Raises:
        PartialCohortBusyError: another run holds it (nothing has been done).
        PartialCohortError: the lock file cannot be created (e.g. a read-only folder).
    """
    path = Path(out).resolve()
    path = path.with_name(path.name + ".lock")
    lock = filelock.FileLock(str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise PartialCohortBusyError(
            f"{out} is being generated by another run (it holds {path}); wait for that run to end (or stop it), then "
            "rerun this command to resume from its finished sounds"
        ) from None
    except OSError as e:
        raise PartialCohortError(f"cannot lock {path}: {e.strerror or e}; nothing was generated or written") from e
    try:
        yield path
    finally:
        lock.release()


def _versions(periphery: str) -> dict[str, str]:
    """Versions of the libraries whose numbers a cohort depends on."""
    names = ["numpy"] + (["brucezilany"] if periphery == "bez2018" else [])
    return {name: metadata.version(name) for name in names}


def manifest_config(config: dict[str, Any], generator_version: str) -> dict[str, Any]:
    """``config`` as JSON would give it back, with ``generator_version`` and the library versions added."""
    full = {**config, "generator_version": generator_version, "versions": _versions(str(config.get("periphery")))}
    return json.loads(json.dumps(full, sort_keys=True))


def inputs_digest(
    sounds: Sequence[Any],
    splits: Sequence[str],
    animals: Sequence[dict[str, Any]],
    hours: Sequence[np.ndarray],
    count_keys: Sequence[Sequence[int]],
) -> str:
    """Hex SHA-256 of everything a session simulation reads.

    Args:
        sounds: corpus sounds (``name``, ``sound_class``, ``audio`` (samples,) float).
        splits: ``"train"``/``"test"`` per sound.
        animals: every animal's ground truth (``AnimalParams.to_dict()``, JSON-serialisable).
        hours: per animal, presentation time (h) of each sound, ``(n_sounds,)`` float.
        count_keys: per animal, the seed key of its count noise.
    """
    h = hashlib.sha256()
    for snd, split in zip(sounds, splits, strict=True):
        h.update(json.dumps([snd.name, snd.sound_class, split, str(snd.audio.dtype), snd.audio.shape]).encode())
        h.update(np.ascontiguousarray(snd.audio).tobytes())
    h.update(json.dumps(list(animals), sort_keys=True).encode())
    for hr in hours:
        h.update(np.ascontiguousarray(hr, dtype=np.float64).tobytes())
    h.update(json.dumps([list(map(int, k)) for k in count_keys]).encode())
    return h.hexdigest()


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    """The folder's manifest; None for an empty folder (made, then stopped before the manifest was written)."""
    path = directory / MANIFEST
    if not path.is_file():
        if any(directory.iterdir()):
            raise PartialCohortError(
                f"{directory} exists but is not a hearloop partial cohort (no {MANIFEST}); move it away"
            )
        return None
    what, advice = "hearloop partial cohort manifest", f"; delete {directory} (or run with --restart)"
    return read_tagged_json(path, PARTIAL_FORMAT, PartialCohortError, what, advice)


def _check_same(directory: Path, manifest: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Refuse a scratch folder made for another request (:class:`PartialCohortMismatchError`)."""
    old, new = manifest.get("config", {}), wanted["config"]
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if keys or manifest.get("version") != PARTIAL_VERSION:
        diff = "; ".join(f"{k}: {old.get(k)!r} there, {new.get(k)!r} now" for k in keys) or "manifest version"
        raise PartialCohortMismatchError(
            f"{directory} holds part of a cohort generated with another config ({diff}); rerun with the same options "
            "to resume it, or delete the folder (or pass --restart) to start over"
        )
    if manifest.get("inputs_sha256") != wanted["inputs_sha256"]:
        raise PartialCohortMismatchError(
            f"{directory}: same options but other simulation inputs (sounds, animals or hours differ: another "
            "hearloop version?); delete the folder (or pass --restart) to start over"
        )


class SoundCheckpoint:
    """Finished sounds of one cohort on disk (module docstring: layout, what is refused, what is recomputed).

    Args:
        directory: the scratch folder (created if missing).
        config: the generation config (JSON-serialisable; see :func:`manifest_config`).
        digest: :func:`inputs_digest` of the simulation's inputs.
        shapes: per sound, per animal, the expected ``(trials, channels, bins)`` of its counts.
        flush_seconds: write pending sounds once this long (s) has passed since the last write; 0: after every sound.

    Raises:
        PartialCohortError: ``directory`` exists and is not a hearloop scratch folder, or its manifest is unreadable.
        PartialCohortMismatchError: it holds part of a cohort with another config or inputs.
    """

    def __init__(
        self,
        directory: str | Path,
        config: dict[str, Any],
        digest: str,
        shapes: Sequence[Sequence[tuple[int, int, int]]],
        flush_seconds: float = 60.0,
    ) -> None:
        self.directory = Path(directory)
        self.digest = digest
        self.shapes = [[tuple(int(n) for n in s) for s in per_sound] for per_sound in shapes]
        self.flush_seconds = float(flush_seconds)
        self._pending: dict[int, Counts] = {}
        self._last_flush = time.monotonic()
        wanted = {"format": PARTIAL_FORMAT, "version": PARTIAL_VERSION, "config": config, "inputs_sha256": digest}
        if self.directory.exists() and not self.directory.is_dir():
            raise PartialCohortError(f"{self.directory} is a file, not a partial cohort folder; move it away")
        manifest = _read_manifest(self.directory) if self.directory.is_dir() else None
        if manifest is None:
            atomic_write_text(self.directory / MANIFEST, json.dumps(wanted, indent=2, sort_keys=True))
        else:
            _check_same(self.directory, manifest, wanted)

    def _chunks(self) -> list[Path]:
        return sorted(self.directory.glob("sounds-*.h5"))

    def _read_chunk(self, path: Path) -> dict[int, Counts]:
        """Every sound of one chunk, checked against the expected shapes; OSError/KeyError/ValueError if unusable."""
        out: dict[int, Counts] = {}
        with h5py.File(path, "r") as f:
            if f.attrs.get("inputs_sha256") != self.digest:
                raise ValueError("it belongs to other simulation inputs")
            for key, group in f.items():
                s = int(key.removeprefix("s"))
                if key != f"s{s}" or not 0 <= s < len(self.shapes) or len(group) != len(self.shapes[s]):
                    raise ValueError(f"unexpected group {key!r} with {len(group)} animals")
                counts = [group[f"a{a}"][()] for a in range(len(self.shapes[s]))]
                for a, c in enumerate(counts):
                    if c.dtype != np.uint8 or c.shape != self.shapes[s][a]:
                        raise ValueError(f"{key}/a{a} is {c.dtype} {c.shape}, expected uint8 {self.shapes[s][a]}")
                out[s] = counts
        return out

    def load(self) -> dict[int, Counts]:
        """Counts of every sound already finished, by sound index; unusable chunks are set aside (warning)."""
        done: dict[int, Counts] = {}
        for path in self._chunks():
            try:
                done.update(self._read_chunk(path))
            except (OSError, KeyError, ValueError, TypeError) as e:
                aside = path.with_name(path.name + ".corrupt")
                path.replace(aside)
                warnings.warn(
                    f"{path}: unusable ({e}); renamed to {aside.name}, its sounds are simulated again",
                    PartialChunkWarning,
                    stacklevel=2,
                )
        return done

    def add(self, sound: int, counts: Counts) -> None:
        """Keep one finished sound's counts; write the pending ones if ``flush_seconds`` have passed."""
        self._pending[int(sound)] = counts
        if time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> Path | None:
        """Write the pending sounds to a new chunk file (atomically); returns its path, None if nothing was pending."""
        if not self._pending:
            return None
        pending, first, last = self._pending, min(self._pending), max(self._pending)
        path = self.directory / f"sounds-{first:06d}-{last:06d}-{len(pending):06d}.h5"

        def write(tmp: Path) -> None:
            with h5py.File(tmp, "w") as f:
                f.attrs["inputs_sha256"] = self.digest
                for s, counts in sorted(pending.items()):
                    group = f.create_group(f"s{s}")
                    for a, c in enumerate(counts):
                        group.create_dataset(f"a{a}", data=c, fletcher32=True, chunks=c.shape or None)

        atomic_write(path, write)
        self._pending = {}
        self._last_flush = time.monotonic()
        return path


def discard_partial(directory: str | Path) -> bool:
    """Remove a scratch folder; returns False if there is none.

    Raises:
        PartialCohortError: ``directory`` is not a hearloop scratch folder (it is then left untouched).
    """
    directory = Path(directory)
    if not directory.exists():
        return False
    if not directory.is_dir() or (_read_manifest(directory) is None and any(directory.iterdir())):
        raise PartialCohortError(f"{directory} is not a hearloop partial cohort folder; refusing to delete it")
    shutil.rmtree(directory)
    return True


def verify_written(cohort_dir: str | Path, animals: Sequence[AnimalRecording]) -> None:
    """Read a written cohort back (sha256 of every file, every sound's counts) and check it equals ``animals``.

    Raises:
        PartialCohortError: a file or count array differs (the scratch folder should then be kept).
    """
    from simulator.data.recordings import read_cohort

    index = read_cohort(cohort_dir, verify=True)
    if index.animal_ids != [a.animal_id for a in animals]:
        raise PartialCohortError(f"{cohort_dir}: animals {index.animal_ids} written, expected the generated ones")
    for animal in animals:
        back = index.load(animal.animal_id, verify=False)
        pairs = zip(back.sounds, animal.sounds, strict=True)
        same = len(back.sounds) == len(animal.sounds) and all(
            b.name == s.name and np.array_equal(b.counts, s.counts) for b, s in pairs
        )
        if not same:
            raise PartialCohortError(f"{cohort_dir}: {animal.animal_id} reads back different counts")


def expected_shapes(sounds: Sequence[Any], splits: Sequence[str], n_channels: Sequence[int]) -> list[list[tuple]]:
    """Per sound, per animal, the ``(trials, channels, bins)`` of its counts (2 trials for test sounds)."""
    return [
        [(2 if split == "test" else 1, int(c), snd.audio.shape[0] // DOWNSAMPLE) for c in n_channels]
        for snd, split in zip(sounds, splits, strict=True)
    ]
