"""In-memory types for multi-unit IC recordings (real or synthetic), as described for nu-ICNet ([Pellatt2025]_).

A recording session of one animal is a list of sounds, each with the audio played (Pa at ``SAMPLE_RATE``) and the
multi-unit activity it evoked: spike counts 0..4 per 1.31 ms bin on every channel. Test sounds carry two repeated trials
so that explainable variance (FEVE) can be measured. The HDF5 file format in :mod:`simulator.data.recordings` stores
exactly these fields.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.constants import DOWNSAMPLE, MAX_COUNT
from simulator.errors import HearloopInputError
from simulator.frequencies import ABR_FREQS_HZ

SOUND_CLASSES: tuple[str, ...] = ("speech", "speech_in_noise", "music", "ripple", "tone", "silence")
"""Sound classes of the corpus, following the paper's stimulus set."""

HEARING_STATUSES: tuple[str, ...] = ("NH", "HI")


@dataclass
class SoundRecording:
    """One sound and the neural activity it evoked.

    Attributes:
        name: unique sound name within the animal (the same name across animals means the same audio).
        sound_class: one of :data:`SOUND_CLASSES`.
        audio: ``samples`` float32, Pa at ``SAMPLE_RATE``.
        counts: ``trials x channels x bins`` uint8 spike counts in 0..4, ``bins == samples // 32``. Training sounds
            have 1 trial, test sounds 2 (repeats of the same audio).
        hours: recording time in hours (since the start of the session) of the first presentation; None takes
            ``trial_hours[0]``.
        split: ``"train"`` or ``"test"`` (held-out test sounds are never used for training or validation).
        trial_hours: recording time (h) of each trial, ``trials`` values starting with ``hours`` (the two trials of a
            test sound are usually presented at different times); None: every trial at ``hours``.
    """

    name: str
    sound_class: str
    audio: np.ndarray
    counts: np.ndarray
    hours: float | None = None
    split: str = "train"
    trial_hours: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.trial_hours is not None:
            self.trial_hours = tuple(float(h) for h in _real_hours(self.name, "trial_hours", self.trial_hours))
            if self.hours is None and self.trial_hours:
                self.hours = self.trial_hours[0]
        if self.hours is None:
            raise HearloopInputError(f"sound {self.name!r}: give hours (or trial_hours), the presentation time in h")
        hours = _real_hours(self.name, "hours", self.hours)
        if hours.shape != (1,):
            raise HearloopInputError(f"sound {self.name!r}: hours must be one time in h, got {self.hours!r}")
        self.hours = float(hours[0])

    @property
    def presentation_hours(self) -> tuple[float, ...]:
        """Recording time (h) of every trial: ``trial_hours``, or ``hours`` repeated for each trial."""
        return self.trial_hours if self.trial_hours is not None else (self.hours,) * int(self.counts.shape[0])

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that breaks the contract above."""
        if self.sound_class not in SOUND_CLASSES:
            raise HearloopInputError(f"sound {self.name!r}: sound_class {self.sound_class!r} not in {SOUND_CLASSES}")
        if self.audio.ndim != 1 or not np.isfinite(self.audio).all():
            raise HearloopInputError(f"sound {self.name!r}: audio must be 1-D and finite, got shape {self.audio.shape}")
        if self.counts.ndim != 3:
            raise HearloopInputError(
                f"sound {self.name!r}: counts must be (trials, channels, bins), got {self.counts.shape}"
            )
        if self.counts.shape[2] != self.audio.shape[0] // DOWNSAMPLE:
            raise HearloopInputError(
                f"sound {self.name!r}: {self.counts.shape[2]} bins but audio has {self.audio.shape[0]} samples "
                f"(expected {self.audio.shape[0] // DOWNSAMPLE} bins)"
            )
        if self.counts.size and (self.counts.min() < 0 or self.counts.max() > MAX_COUNT):
            raise HearloopInputError(f"sound {self.name!r}: counts must lie in 0..{MAX_COUNT}")
        if self.split not in ("train", "test"):
            raise HearloopInputError(f"sound {self.name!r}: split must be 'train' or 'test', got {self.split!r}")
        if self.split == "test" and self.counts.shape[0] < 2:
            raise HearloopInputError(
                f"sound {self.name!r}: test sounds need 2 repeated trials, got {self.counts.shape[0]}"
            )
        times = self.presentation_hours
        if len(times) != self.counts.shape[0] or not all(np.isfinite(h) and h >= 0 for h in times):
            raise HearloopInputError(
                f"sound {self.name!r}: trial_hours needs one finite time >= 0 per trial "
                f"({self.counts.shape[0]}), got {times}"
            )
        if times and times[0] != self.hours:
            raise HearloopInputError(
                f"sound {self.name!r}: hours ({self.hours}) must be the first trial's time ({times[0]})"
            )


def _real_hours(name: str, field: str, value: object) -> np.ndarray:
    """``value`` as a flat float64 array of times (h); a complex, non-numeric or ragged value is a named error."""
    try:
        hours = np.asarray(value)
        if np.iscomplexobj(hours):
            raise TypeError("complex times")
        return hours.astype(np.float64).reshape(-1)
    except (TypeError, ValueError) as err:
        raise HearloopInputError(f"sound {name!r}: {field} must be real times in h, got {value!r} ({err})") from err


@dataclass
class AnimalRecording:
    """All recordings of one animal.

    Attributes:
        animal_id: unique id within the cohort.
        hearing_status: ``"NH"`` or ``"HI"``.
        abr_thresholds_db: ABR threshold in dB SPL at each of :data:`ABR_FREQS_HZ`.
        sounds: the recorded sounds.
        channel_cf_hz: ``channels`` characteristic frequency of each recording channel in Hz, if known.
        ground_truth: JSON-serialisable parameters of the synthetic generator (hearing-loss profile, electrodes,
            degradation), ``None`` for real animals.
    """

    animal_id: str
    hearing_status: str
    abr_thresholds_db: dict[int, float]
    sounds: list[SoundRecording]
    channel_cf_hz: np.ndarray | None = None
    ground_truth: dict[str, Any] | None = field(default=None)

    @property
    def n_channels(self) -> int:
        return int(self.sounds[0].counts.shape[1]) if self.sounds else 0

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that breaks the contract."""
        if self.hearing_status not in HEARING_STATUSES:
            raise HearloopInputError(f"animal {self.animal_id!r}: hearing_status must be one of {HEARING_STATUSES}")
        missing = [f for f in ABR_FREQS_HZ if f not in self.abr_thresholds_db]
        if missing:
            raise HearloopInputError(f"animal {self.animal_id!r}: ABR thresholds missing at {missing} Hz")
        bad = {f: v for f, v in self.abr_thresholds_db.items() if not math.isfinite(v)}
        if bad:
            raise HearloopInputError(f"animal {self.animal_id!r}: abr_thresholds_db holds non-finite thresholds {bad}")
        names = [s.name for s in self.sounds]
        if len(set(names)) != len(names):
            raise HearloopInputError(f"animal {self.animal_id!r}: duplicate sound names")
        for sound in self.sounds:
            sound.validate()
            if sound.counts.shape[1] != self.n_channels:
                raise HearloopInputError(
                    f"animal {self.animal_id!r}: sound {sound.name!r} has a different channel count"
                )
