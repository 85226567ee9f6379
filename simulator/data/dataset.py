"""Training data pipeline of nu-ICNet ([Pellatt2025]_): frames with left context, a 90:10 split by sound, lazy reading.

The paper segments audio and MUA into frames of 8192 samples (256 bins) with 2048 samples (64 bins) of left context
that is cropped from the latent, and splits the training data 90:10 into training and validation. Here:

- a frame starting at sample ``s`` of a sound is ``audio[s - 2048 : s + 8192]`` (the context is the preceding audio of
  the same sound, zeros before its start) with target ``counts[:, s // 32 : s // 32 + 256]``; frames hop by 8192
  samples by default and a trailing partial frame is dropped (its targets would be padding);
- :func:`split_sounds` splits by *sound name* (never a sound across sets), stratified by class with at least
  :data:`MIN_VALIDATION_SOUNDS_PER_CLASS` validation sounds per class, seeded, and identical for every animal;
  held-out test sounds never enter training or validation;
- :class:`FrameDataset` reads only the HDF5 slices an item needs (files open lazily per worker process, the dataset
  pickles without handles), so a cohort never has to fit in memory; ``in_memory=True`` is an opt-in cache;
- :func:`subset_recording` takes the short subset used to fit nu to a new animal (the paper: 15 s of every training
  sound presented in the first 2 recording hours).

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from simulator.constants import CONTEXT_SAMPLES, DOWNSAMPLE, FRAME_SAMPLES, SAMPLE_RATE
from simulator.data.recording_types import AnimalRecording, SoundRecording
from simulator.data.recordings import AnimalFile, CohortIndex, SoundInfo, open_animal, read_cohort
from simulator.errors import HearloopInputError, RecordingFormatError, UnknownNameError

PathLike = str | os.PathLike

MIN_VALIDATION_SOUNDS_PER_CLASS = 1
"""Every sound class with at least two training sounds gives at least this many of them to validation
(:func:`split_sounds`), so early stopping sees every class even when 10 % of a small cohort is one or two sounds."""


@dataclass(frozen=True)
class SoundSplit:
    """Sound names of each set; the same for every animal of a cohort."""

    train: tuple[str, ...]
    validation: tuple[str, ...]
    test: tuple[str, ...]

    def to_dict(self) -> dict[str, list[str]]:
        return {"train": list(self.train), "validation": list(self.validation), "test": list(self.test)}


def cohort_sounds(paths: Sequence[PathLike]) -> dict[str, SoundInfo]:
    """The union of the sounds of all animal files (headers only), keyed by name.

    A name means the same audio in every animal, so its class and length must agree across files. A sound that is a
    test sound in any animal is a test sound for the cohort.
    """
    sounds: dict[str, SoundInfo] = {}
    for p in paths:
        with open_animal(p) as f:
            for name in f.sound_names:
                info, known = f.info(name), sounds.get(name)
                if known is None:
                    sounds[name] = info
                    continue
                if (known.sound_class, known.n_samples) != (info.sound_class, info.n_samples):
                    raise RecordingFormatError(f"{p}: sound {name!r} differs in class or length from another animal")
                if info.split == "test":
                    sounds[name] = info
    return sounds


def split_sounds(
    sounds: Mapping[str, SoundInfo],
    val_fraction: float = 0.1,
    seed: int = 0,
    min_per_class: int = MIN_VALIDATION_SOUNDS_PER_CLASS,
) -> SoundSplit:
    """Split training sounds by name into train/validation (``1 - val_fraction : val_fraction`` by duration).

    Stratified by class: each class gives about ``val_fraction`` of its duration to validation; the rounding error is
    carried to the next class (in seeded order), so the total is within half a sound of the target even when classes
    hold only a few sounds. On top of that every class keeps at least ``min_per_class`` validation sounds, but never
    its last training sound (a class of one training sound gives none). Sounds with ``split == "test"`` go to ``test``
    and never to train/validation.

    Args:
        sounds: name -> :class:`SoundInfo` (e.g. from :func:`cohort_sounds`).
        val_fraction: validation share of the training duration, in [0, 1); 0 = no validation sounds at all.
        seed: seed of the shuffles (same seed and same sound names -> same split).
        min_per_class: validation sounds each class keeps at least (:data:`MIN_VALIDATION_SOUNDS_PER_CLASS`).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise HearloopInputError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    if isinstance(min_per_class, bool) or not isinstance(min_per_class, int) or min_per_class < 0:
        raise HearloopInputError(f"min_per_class must be an integer >= 0, got {min_per_class!r}")
    rng = np.random.default_rng(seed)
    test = tuple(sorted(n for n, s in sounds.items() if s.split == "test"))
    by_class: dict[str, list[str]] = {}
    for name in sorted(n for n, s in sounds.items() if s.split != "test"):
        by_class.setdefault(sounds[name].sound_class, []).append(name)
    val: list[str] = []
    carry = 0.0
    for cls in rng.permutation(sorted(by_class)):
        names = [by_class[cls][i] for i in rng.permutation(len(by_class[cls]))]
        target = val_fraction * sum(sounds[n].n_samples for n in names) + carry
        taken, chosen = 0.0, []
        for name in names:
            d = sounds[name].n_samples
            if taken + d / 2 <= target:
                chosen.append(name)
                taken += d
        carry = target - taken
        floor = min(min_per_class, len(names) - 1) if val_fraction > 0 else 0
        chosen += [n for n in names if n not in chosen][: max(0, floor - len(chosen))]  # the per-class minimum
        val += chosen
    val_set = set(val)
    train = tuple(sorted(n for names in by_class.values() for n in names if n not in val_set))
    if not train and val:
        raise HearloopInputError("split left no training sound; lower val_fraction or add sounds")
    return SoundSplit(train, tuple(sorted(val)), test)


def frame_starts(n_samples: int, frame_samples: int = FRAME_SAMPLES, hop: int | None = None) -> np.ndarray:
    """Start samples of the whole frames of a sound of ``n_samples`` (frames hop by ``hop``, default one frame)."""
    hop = frame_samples if hop is None else hop
    if frame_samples <= 0 or frame_samples % DOWNSAMPLE or hop <= 0 or hop % DOWNSAMPLE:
        raise HearloopInputError(f"frame ({frame_samples}) and hop ({hop}) must be positive multiples of {DOWNSAMPLE}")
    return np.arange(0, max(n_samples - frame_samples + 1, 0), hop, dtype=np.int64)


class FrameDataset(Dataset):
    """Frames of selected sounds from a list of animal files, read lazily slice by slice.

    Item ``i`` is a dict: ``audio`` float32 tensor ``(context + frame,)`` in Pa, ``counts`` int64 tensor ``channels x
    frame_bins`` (0..4), ``animal_idx`` (position of its file in ``paths``), ``hours`` (recording time of its trial),
    ``sound_name`` and ``start`` (frame start sample). Every trial of a sound gives its own frames.

    Args:
        paths: animal HDF5 files; ``animal_idx`` indexes this list.
        sound_names: sounds to take frames from (a sound missing in one animal is skipped for that animal).
        frame_samples, context_samples, hop: frame geometry in samples (multiples of 32).
        max_hours: only sounds first presented before this recording time (h).
        max_seconds_per_sound: only frames lying within the first this-many seconds of each sound.
        channel_order: per animal a channel permutation (from :mod:`simulator.data.alignment`) applied to the counts.
        in_memory: opt-in: load every selected sound once (small cohorts); otherwise nothing is held in memory.
    """

    def __init__(
        self,
        paths: Sequence[PathLike],
        sound_names: Sequence[str],
        *,
        frame_samples: int = FRAME_SAMPLES,
        context_samples: int = CONTEXT_SAMPLES,
        hop: int | None = None,
        max_hours: float | None = None,
        max_seconds_per_sound: float | None = None,
        channel_order: Sequence[np.ndarray | None] | None = None,
        in_memory: bool = False,
    ):
        if context_samples < 0 or context_samples % DOWNSAMPLE:
            raise HearloopInputError(
                f"context_samples must be a non-negative multiple of {DOWNSAMPLE}, got {context_samples}"
            )
        self.paths = [Path(p) for p in paths]
        self.sound_names = list(dict.fromkeys(sound_names))
        self.frame_samples, self.context_samples = int(frame_samples), int(context_samples)
        if channel_order is not None and len(channel_order) != len(self.paths):
            raise HearloopInputError(
                f"channel_order needs one entry per animal ({len(self.paths)}), got {len(channel_order)}"
            )
        self.channel_order = (
            None if channel_order is None else [o if o is None else np.asarray(o) for o in channel_order]
        )
        self.trial_hours: dict[tuple[int, int], tuple[float, ...]] = {}  # (animal, sound) -> each trial's time (h)
        rows: list[np.ndarray] = []
        found: set[str] = set()
        channels: set[int] = set()
        for a, p in enumerate(self.paths):
            with open_animal(p) as f:
                channels.add(f.n_channels)
                for s, name in enumerate(self.sound_names):
                    if name not in f.sound_names:
                        continue
                    info = f.info(name)
                    found.add(name)
                    self.trial_hours[a, s] = info.trial_hours
                    if max_hours is not None and info.hours > max_hours:
                        continue
                    n = info.n_samples
                    if max_seconds_per_sound is not None:
                        n = min(n, int(max_seconds_per_sound * SAMPLE_RATE))
                    starts = frame_starts(n, frame_samples, hop)
                    for t in range(info.n_trials):
                        ones = np.ones_like(starts)
                        rows.append(np.stack([ones * a, ones * s, ones * t, starts], axis=1))
        missing = [n for n in self.sound_names if n not in found]
        if missing:
            raise UnknownNameError(
                f"sounds not found in any animal file: {missing[:5]}{' ...' if len(missing) > 5 else ''}"
            )
        if len(channels) > 1:
            raise RecordingFormatError(f"animal files have different channel counts {sorted(channels)}")
        self.n_channels = channels.pop() if channels else 0
        self.items = np.concatenate(rows) if rows else np.zeros((0, 4), np.int64)
        self._files: dict[int, AnimalFile] = {}
        self._pid = os.getpid()
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] | None = None
        if in_memory:
            self._cache = {}
            for a, s in {(int(a), int(s)) for a, s, _, _ in self.items}:
                f = self._file(a)
                name = self.sound_names[s]
                self._cache[a, s] = (f.audio(name), f.counts(name))
            self.close()

    def __len__(self) -> int:
        return len(self.items)

    def _file(self, a: int) -> AnimalFile:
        if self._pid != os.getpid():  # forked into a DataLoader worker: never reuse the parent's HDF5 handles
            self._files, self._pid = {}, os.getpid()
        if a not in self._files:
            self._files[a] = open_animal(self.paths[a])
        return self._files[a]

    def __getitem__(self, i: int) -> dict[str, Any]:
        a, s, t, start = (int(v) for v in self.items[i])
        name = self.sound_names[s]
        lo, hi = start - self.context_samples, start + self.frame_samples
        b0, b1 = start // DOWNSAMPLE, hi // DOWNSAMPLE
        if self._cache is not None:
            audio_all, counts_all = self._cache[a, s]
            audio, counts = audio_all[max(lo, 0) : hi], counts_all[t, :, b0:b1]
        else:
            f = self._file(a)
            audio, counts = f.audio(name, max(lo, 0), hi), f.counts(name, b0, b1, trials=t)
        if lo < 0:
            audio = np.concatenate([np.zeros(-lo, np.float32), audio])
        if self.channel_order is not None and self.channel_order[a] is not None:
            counts = counts[self.channel_order[a]]
        return {
            "audio": torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)),
            "counts": torch.from_numpy(counts.astype(np.int64)),
            "animal_idx": a,
            "hours": float(self.trial_hours[a, s][t]),
            "sound_name": name,
            "start": start,
        }

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_files"] = {}
        return state

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: h5py may already be gone
            pass


def make_datasets(
    cohort: CohortIndex | PathLike,
    val_fraction: float = 0.1,
    seed: int = 0,
    verify: bool = True,
    min_per_class: int = MIN_VALIDATION_SOUNDS_PER_CLASS,
    **frame_kw: Any,
) -> tuple[FrameDataset, FrameDataset, SoundSplit]:
    """Train and validation :class:`FrameDataset` of a cohort, with the split (same sounds for every animal).

    Args:
        cohort: a :class:`CohortIndex` or its directory. ``animal_idx`` is the animal's position in the index.
        val_fraction, seed, min_per_class: see :func:`split_sounds`.
        verify: check every file's sha256 against the index first.
        frame_kw: forwarded to :class:`FrameDataset` (frame geometry, ``channel_order``, ``in_memory``, ...).
    """
    index = cohort if isinstance(cohort, CohortIndex) else read_cohort(cohort)
    if verify:
        index.verify()
    split = split_sounds(cohort_sounds(index.paths), val_fraction, seed, min_per_class)
    train = FrameDataset(index.paths, split.train, **frame_kw)
    val = FrameDataset(index.paths, split.validation, **frame_kw)
    return train, val, split


def load_test_sounds(path: PathLike, names: Sequence[str] | None = None) -> list[SoundRecording]:
    """Whole held-out test sounds (audio and both trials) of one animal file, for evaluation (e.g. FEVE)."""
    with open_animal(path) as f:
        wanted = [n for n in f.sound_names if f.info(n).split == "test"] if names is None else list(names)
        for n in wanted:
            if f.info(n).split != "test":
                raise HearloopInputError(f"{path}: sound {n!r} is not a held-out test sound")
        return [f.sound(n) for n in wanted]


def subset_recording(
    path: PathLike,
    seconds_per_sound: float = 15.0,
    max_hours: float = 2.0,
    sound_names: Sequence[str] | None = None,
) -> AnimalRecording:
    """A short subset of one animal: the first ``seconds_per_sound`` of each training sound presented before
    ``max_hours`` (the paper fits nu on 15 s per training sound from the first 2 hours). Only those slices are read.

    Args:
        path: animal HDF5 file.
        seconds_per_sound: seconds kept from the start of each sound (rounded down to whole 32-sample bins).
        max_hours: only sounds presented at ``hours <= max_hours``.
        sound_names: restrict to these training sounds (e.g. a split's ``train``); default all training sounds.
    """
    if seconds_per_sound <= 0:
        raise HearloopInputError(f"seconds_per_sound must be > 0, got {seconds_per_sound}")
    with open_animal(path) as f:
        names = f.sound_names if sound_names is None else [n for n in f.sound_names if n in set(sound_names)]
        n_keep = int(seconds_per_sound * SAMPLE_RATE) // DOWNSAMPLE * DOWNSAMPLE
        sounds = []
        for n in names:
            info = f.info(n)
            if info.split != "train" or info.hours > max_hours:
                continue
            stop = min(n_keep, info.n_samples // DOWNSAMPLE * DOWNSAMPLE)
            counts = f.counts(n, 0, stop // DOWNSAMPLE)
            sounds.append(SoundRecording(n, info.sound_class, f.audio(n, 0, stop), counts, info.hours, info.split,
                                         info.trial_hours))  # fmt: skip
        cf = None if f.channel_cf_hz is None else f.channel_cf_hz.copy()
        return AnimalRecording(f.animal_id, f.hearing_status, dict(f.abr_thresholds_db), sounds, cf, f.ground_truth)
