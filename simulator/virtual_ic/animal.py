"""One virtual animal: hearing profile, electrode placement, recording degradation, and its recorded sounds.

Per animal:

- **Electrode placement**: the cohort's channel template (``midbrain.sample_channel_template``) shifted along the
  tonotopic axis by ``N(0, 0.7)`` grid steps, each site jittered by ``N(0, 0.3)``, per-channel gain x ``LogN(0, 0.1)``,
  bias + ``N(0, 0.15)``, and the recorded channel order shuffled. ``ground_truth["electrodes"]["template_index"]``
  holds, for every recorded channel, the template channel it came from: the permutation channel alignment must undo.
- **Degradation over hours** with the functional form of nu-ICNet's time transfer (t = hours / 10):
  ``d(t) = sigma(b (t - c) - 6) - sigma(-6)`` for ``t >= c`` else 0, onset ``c`` in [0.05, 0.5] (0.5-5 h), rate ``b``
  in [10, 40]. At time t the channel gains are scaled by ``1 - gain_loss * d`` and thresholds rise by ``drift_db * d``.
- **Responses**: the sound prepared once for the animal's periphery (:mod:`.peripheries`: BEZ2018 or gammatone) ->
  this animal's AN activity (its OHC/IHC loss, synaptopathy, drift) -> midbrain drive -> ``p`` (central gain,
  hyperactivity) -> ``Binomial(4, p)`` counts. Test sounds get two trials drawn from the same ``p`` (same
  presentation time), so their repeat correlation measures the explainable variance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit

from simulator.constants import MAX_COUNT
from simulator.data.recording_types import AnimalRecording, SoundRecording
from simulator.errors import HearloopInputError
from simulator.frequencies import ABR_FREQS_HZ
from simulator.virtual_ic.hearing_profile import HearingProfile, abr_thresholds_db, interp_cf, severity_db
from simulator.virtual_ic.midbrain import (
    MidbrainChannels,
    cf_weights,
    midbrain_drive,
    sample_counts,
    spike_probability,
)
from simulator.virtual_ic.peripheries import GammatonePeriphery, Periphery, periphery_from_dict
from simulator.virtual_ic.periphery import CF_GRID_HZ, N_CF

HYPERACTIVITY: float = 0.5
"""Spontaneous-rate bias increase per unit of (central gain - 1)."""


@dataclass
class Degradation:
    """Slow loss of responsiveness over the recording session (nu-ICNet time-transfer form)."""

    onset_h: float
    rate: float
    gain_loss: float
    drift_db: float

    def amount(self, hours: float) -> float:
        """Degradation ``d`` in [0, 1) at ``hours`` into the session."""
        t, c = float(hours) / 10.0, self.onset_h / 10.0
        if t < c:
            return 0.0
        return float(expit(self.rate * (t - c) - 6.0) - expit(-6.0))

    def to_dict(self) -> dict[str, float]:
        return {"onset_h": self.onset_h, "rate": self.rate, "gain_loss": self.gain_loss, "drift_db": self.drift_db}


@dataclass
class AnimalParams:
    """Complete ground truth of one virtual animal (enough to regenerate its expected responses exactly)."""

    animal_id: str
    profile: HearingProfile
    channels: MidbrainChannels  # in recorded channel order
    template_index: np.ndarray  # template channel of each recorded channel
    degradation: Degradation
    periphery: Periphery = field(default_factory=GammatonePeriphery)

    @property
    def channel_cf_hz(self) -> np.ndarray:
        """``channels`` CF (Hz) of each recorded channel (log-interpolated from its grid position)."""
        return np.exp(np.interp(self.channels.cf_pos, np.arange(N_CF), np.log(CF_GRID_HZ)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable ground truth (stored in ``AnimalRecording.ground_truth``)."""
        return {
            "generator": "hearloop.virtual_ic",
            "animal_id": self.animal_id,
            "cf_grid_hz": [float(f) for f in CF_GRID_HZ],
            "profile": self.profile.to_dict(),
            "severity_db_hl": periphery_severity_db(self.periphery, self.profile),
            "periphery": self.periphery.to_dict(),
            "central_gain_per_cf": [float(v) for v in self.profile.central_gain_per_cf()],
            "electrodes": {
                "template_index": [int(i) for i in self.template_index],
                "channel_cf_hz": [float(f) for f in self.channel_cf_hz],
                "channels": self.channels.to_dict(),
            },
            "degradation": self.degradation.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AnimalParams:
        """Inverse of :meth:`to_dict` (accepts ``AnimalRecording.ground_truth``)."""
        return cls(
            animal_id=str(d["animal_id"]),
            profile=HearingProfile.from_dict(d["profile"]),
            channels=MidbrainChannels.from_dict(d["electrodes"]["channels"]),
            template_index=np.asarray(d["electrodes"]["template_index"], dtype=np.int64),
            degradation=Degradation(**d["degradation"]),
            periphery=periphery_from_dict(d.get("periphery")),
        )


def periphery_severity_db(periphery: Periphery, profile: HearingProfile) -> float:
    """Severity scalar: PTA (dB HL) at :data:`ABR_FREQS_HZ` of the threshold shift the periphery shows."""
    if isinstance(periphery, GammatonePeriphery):
        return severity_db(profile)
    shift = periphery.thresholds_db_spl(profile) - periphery.nominal_thresholds_db_spl()
    return float(np.mean(interp_cf(shift, np.asarray(ABR_FREQS_HZ, dtype=float))))


def sample_animal_params(
    animal_id: str,
    profile: HearingProfile,
    template: MidbrainChannels,
    rng: np.random.Generator,
    shuffle_channels: bool = True,
) -> AnimalParams:
    """Place the electrode for one animal and draw its recording degradation (see module docstring)."""
    n = template.n_channels
    order = rng.permutation(n) if shuffle_channels else np.arange(n)
    ch = template.take(order)
    ch.cf_pos = np.clip(ch.cf_pos + rng.normal(0.0, 0.7) + rng.normal(0.0, 0.3, n), 0.0, N_CF - 1.0)
    ch.gain = ch.gain * np.exp(rng.normal(0.0, 0.1, n))
    ch.bias = ch.bias + rng.normal(0.0, 0.15, n)
    deg = Degradation(
        onset_h=float(rng.uniform(0.5, 5.0)),
        rate=float(rng.uniform(10.0, 40.0)),
        gain_loss=float(rng.uniform(0.05, 0.25)),
        drift_db=float(rng.uniform(1.0, 6.0)),
    )
    return AnimalParams(animal_id, profile, ch, order.astype(np.int64), deg)


def _as_params(params: AnimalParams | dict[str, Any]) -> AnimalParams:
    return params if isinstance(params, AnimalParams) else AnimalParams.from_dict(params)


def spike_probability_from_features(params: AnimalParams | dict[str, Any], features: Any, hours: float = 0.0):
    """Per-bin Binomial probability ``channels x bins`` of ``params`` for a sound prepared by its periphery
    (``params.periphery.prepare(audio)``, shared by every animal with that periphery)."""
    p = _as_params(params)
    d = p.degradation.amount(hours)
    prof = p.profile
    an = p.periphery.an_activity(features, prof, p.degradation.drift_db * d, p.channels.cf_pos)
    central = cf_weights(p.channels.cf_pos) @ prof.central_gain_per_cf()
    drive = midbrain_drive(an, p.channels)
    return spike_probability(
        drive, p.channels, central * (1.0 - p.degradation.gain_loss * d), HYPERACTIVITY * (central - 1)
    )


def expected_response(params: AnimalParams | dict[str, Any], audio: np.ndarray, hours: float = 0.0) -> np.ndarray:
    """Noise-free expected spike counts of an animal to arbitrary audio.

    Args:
        params: :class:`AnimalParams` or its ``to_dict()`` (e.g. ``AnimalRecording.ground_truth``).
        audio: ``samples`` pressure in Pa at SAMPLE_RATE.
        hours: recording time (h) at which the sound is presented (degradation).

    Returns:
        ``channels x (samples // 32)`` float64 expected counts in [0, 4].
    """
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 1 or not np.isfinite(audio).all():
        raise HearloopInputError(f"audio must be a finite 1-D array in Pa, got shape {audio.shape}")
    p = _as_params(params)
    return MAX_COUNT * spike_probability_from_features(p, p.periphery.prepare(audio), hours)


def true_threshold_db_spl(
    params: AnimalParams | dict[str, Any], freq_hz: np.ndarray | float, hours: float = 0.0
) -> np.ndarray:
    """Ground-truth cochlear tone threshold(s) in dB SPL at ``freq_hz`` (log-interpolated over the CF grid), from the
    animal's periphery (gammatone: AN rate criterion; BEZ2018: the HSR fibre's rate threshold, :mod:`.bez_loss`)."""
    p = _as_params(params)
    thr = p.periphery.thresholds_db_spl(p.profile, p.degradation.drift_db * p.degradation.amount(hours))
    return interp_cf(thr, np.asarray(freq_hz, dtype=np.float64))


def true_loss_db_hl(params: AnimalParams | dict[str, Any], freq_hz: np.ndarray | float, hours: float = 0.0):
    """True hearing loss (dB HL: threshold re the nominal normal cochlea of the same periphery) at ``freq_hz``."""
    p = _as_params(params)
    f = np.asarray(freq_hz, dtype=np.float64)
    return true_threshold_db_spl(p, f, hours) - interp_cf(p.periphery.nominal_thresholds_db_spl(), f)


def record_animal(
    params: AnimalParams,
    sounds: list[Any],
    features: list[Any],
    splits: list[str],
    hours: np.ndarray,
    count_key: tuple[int, ...],
    abr_rng: np.random.Generator,
) -> AnimalRecording:
    """Simulate one animal's session: counts for every sound (2 trials for test sounds) and its ABR thresholds.

    Args:
        params: the animal's ground truth.
        sounds: corpus :class:`~simulator.data.corpus.Sound` objects (same list for every animal).
        features: each sound prepared by the animal's periphery (``params.periphery.prepare``).
        splits: ``"train"``/``"test"`` per sound.
        hours: presentation time (h) of each sound for this animal.
        count_key: spike-count noise of sound ``s`` comes from ``default_rng([*count_key, s])``.
        abr_rng: generator for the ABR measurement noise.
    """
    recs = []
    for s, (snd, feat, split, h) in enumerate(zip(sounds, features, splits, hours, strict=True)):
        prob = spike_probability_from_features(params, feat, float(h))
        counts = sample_counts(prob, np.random.default_rng([*count_key, s]), 2 if split == "test" else 1)
        recs.append(SoundRecording(snd.name, snd.sound_class, snd.audio, counts, float(h), split))
    return finish_recording(params, recs, abr_rng)


def finish_recording(params: AnimalParams, recs: list[SoundRecording], abr_rng: np.random.Generator) -> AnimalRecording:
    """An animal's recording from its sound recordings: ABR thresholds (from its periphery's) and ground truth."""
    thresholds = params.periphery.thresholds_db_spl(params.profile)
    abr = abr_thresholds_db(params.profile, abr_rng, thresholds_db_spl=thresholds)
    gt = params.to_dict() | {"abr_freqs_hz": list(ABR_FREQS_HZ)}
    return AnimalRecording(params.animal_id, params.profile.status, abr, recs, params.channel_cf_hz, gt)
