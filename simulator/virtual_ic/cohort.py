"""Synthetic ground-truth cohorts of virtual IC recordings, shaped like nu-ICNet's data set.

[Pellatt2025]_ trained nu-ICNet on 3 NH and 6 noise-exposed gerbils that all heard the same sounds, with held-out
two-trial test sounds. :func:`generate_cohort` builds the same design with known hearing loss:

1. one seeded corpus: training sounds of every class (speech, speech in noise, music, ripples, tones, silence; amount
   set by ``train_seconds``) and ``n_test_per_class`` held-out test sounds of every non-silent class, presented louder
   (``test_level_range_db_spl``) so that even severely impaired animals respond to them;
2. a channel template shared by the cohort; per animal a hearing profile (NH with small variation, or HI with severity
   stratified over ``hi_pta_range_db`` and shapes cycling flat/sloping/notch; optionally some IHC-dominant), its
   periphery (BEZ2018 by default: cohc/cihc from the profile; or the fast gammatone one), electrode placement and
   degradation. Every animal is made, and a loss its periphery cannot express is an error, before any simulation;
3. per animal, sounds are presented in a random order spread over ``session_hours``; counts are Binomial(4, p),
   simulated sound by sound in ``workers`` processes (:mod:`.session`), each sound prepared once for all animals.

Seeds: everything derives from ``seed`` through ``numpy.random.default_rng([seed, stream, ...])``, so the same seed
gives a bitwise-identical cohort, independent of the order in which animals are simulated and of ``workers``.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from simulator.data.corpus import Sound, make_corpus
from simulator.data.recording_types import SOUND_CLASSES, AnimalRecording
from simulator.errors import HearloopInputError
from simulator.virtual_ic.animal import AnimalParams, sample_animal_params
from simulator.virtual_ic.bez2018 import BezConfig, PeripheryError
from simulator.virtual_ic.hearing_profile import (
    IHC_DOMINANT_OHC_SHARE_RANGE,
    LOSS_SHAPES,
    OHC_SHARE_RANGE,
    hi_profile,
    nh_profile,
)
from simulator.virtual_ic.midbrain import MidbrainChannels, sample_channel_template
from simulator.virtual_ic.partial_cohort import SoundCheckpoint, expected_shapes, inputs_digest, manifest_config
from simulator.virtual_ic.peripheries import DEFAULT_PERIPHERY, check_periphery_name, make_periphery, ohc_cap_db
from simulator.virtual_ic.periphery import CF_GRID_HZ
from simulator.virtual_ic.session import check_workers, simulate_sessions

TRAIN_CLASS_WEIGHTS: dict[str, float] = {
    "speech": 0.2,
    "speech_in_noise": 0.2,
    "music": 0.2,
    "ripple": 0.2,
    "tone": 0.12,
    "silence": 0.08,
}
"""Share of the training audio per sound class."""

UNKEYED_ARGUMENTS = ("progress", "workers", "checkpoint_dir", "checkpoint_seconds")
"""Arguments of :func:`generate_cohort` the cohort does not depend on (left out of a scratch folder's key)."""

GENERATOR_VERSION = "2"
"""2: the periphery is recorded per animal and BEZ2018 is the default (1: gammatone only)."""


def cohort_corpus(
    seed: int,
    train_seconds: float = 90.0,
    sound_duration_s: float = 3.0,
    n_test_per_class: int = 2,
    test_duration_s: float = 3.0,
    level_range_db_spl: tuple[float, float] = (45.0, 90.0),
    test_level_range_db_spl: tuple[float, float] = (65.0, 90.0),
    tone_frequencies: str = "audiometric",
) -> tuple[list[Sound], list[str]]:
    """The sounds every animal of a cohort hears, and their split (``"train"``/``"test"``); ``tone_frequencies`` as in
    :func:`simulator.data.corpus.make_corpus`."""
    if train_seconds <= 0:
        raise HearloopInputError(f"train_seconds must be > 0, got {train_seconds}")
    if n_test_per_class < 1:
        raise HearloopInputError(f"n_test_per_class must be >= 1 (test sounds carry the FEVE), got {n_test_per_class}")
    n_train = {c: max(1, round(w * train_seconds / sound_duration_s)) for c, w in TRAIN_CLASS_WEIGHTS.items()}
    train = make_corpus([seed, 11], n_train, sound_duration_s, level_range_db_spl, "train_", tone_frequencies)
    n_test = {c: (n_test_per_class if c != "silence" else 0) for c in SOUND_CLASSES}
    test = make_corpus([seed, 12], n_test, test_duration_s, test_level_range_db_spl, "test_", tone_frequencies)
    return train + test, ["train"] * len(train) + ["test"] * len(test)


def hi_targets(
    n_hi: int, rng: np.random.Generator, pta_range_db: tuple[float, float], flat_from_pta_db: float | None = None
) -> list[tuple[float, str]]:
    """(target PTA dB, shape) for ``n_hi`` animals: stratified severities, shapes cycling over :data:`LOSS_SHAPES`.

    Args:
        n_hi: number of HI animals.
        rng: the cohort's target stream (``default_rng([seed, 2])``).
        pta_range_db: range of the target PTAs (dB HL), split into ``n_hi`` strata.
        flat_from_pta_db: targets at or above this PTA get a flat loss whatever the cycle says. Notch and sloping
            losses saturate near 50 dB HL PTA (their peak reaches ``hearing_profile.MAX_TOTAL_LOSS_DB`` first), so a
            severe target given those shapes becomes an extreme notch or slope with a much smaller PTA. None (default)
            keeps the cycle; the random draws are the same either way, so the other animals do not change.
    """
    lo, hi = pta_range_db
    ptas = lo + (hi - lo) * (np.arange(n_hi) + rng.uniform(0.2, 0.8, n_hi)) / max(n_hi, 1)
    offset = int(rng.integers(len(LOSS_SHAPES)))
    shapes = [LOSS_SHAPES[(i + offset) % len(LOSS_SHAPES)] for i in range(n_hi)]
    rng.shuffle(shapes)
    if flat_from_pta_db is not None:
        shapes = ["flat" if p >= flat_from_pta_db else s for p, s in zip(ptas, shapes, strict=True)]
    return [(float(p), s) for p, s in zip(ptas, shapes, strict=True)]


def ihc_dominant_indices(n_hi: int, n_ihc_dominant: int, seed: int) -> set[int]:
    """Which HI animals (0-based among the HI ones) are IHC-dominant: a seeded draw from stream ``[seed, 9]``."""
    if not 0 <= n_ihc_dominant <= n_hi:
        raise HearloopInputError(f"ihc_dominant must lie in 0..n_hi={n_hi}, got {n_ihc_dominant}")
    if n_ihc_dominant == 0:
        return set()
    return {int(i) for i in np.random.default_rng([seed, 9]).choice(n_hi, n_ihc_dominant, replace=False)}


def bez_config(options: dict[str, Any] | None) -> BezConfig:
    """Validated BEZ2018 settings from a cohort's ``periphery_options``.

    Raises:
        PeripheryError: an unknown option, species, power law or sample rate, or a species whose CF range does not
            cover the cohort's CF grid (:data:`CF_GRID_HZ`).
    """
    allowed = {"species", "sample_rate_hz", "power_law"}
    unknown = set(options or {}) - allowed
    if unknown:
        raise PeripheryError(f"unknown periphery_options {sorted(unknown)}; allowed: {sorted(allowed)}")
    config = BezConfig(**(options or {})).validate()
    config.check_cf(CF_GRID_HZ)
    return config


def make_animal(
    seed: int,
    index: int,
    animal_id: str,
    target: tuple[float, str] | None,
    template: MidbrainChannels,
    shuffle_channels: bool,
    periphery: str = DEFAULT_PERIPHERY,
    ihc_dominant: bool = False,
    bez_config: BezConfig | None = None,
) -> AnimalParams:
    """Animal ``index`` of a cohort: profile (NH if ``target`` is None, else (PTA, shape)), electrodes, periphery.

    Draws from ``default_rng([seed, 3, index])`` only, so an animal does not depend on the others.
    """
    rng = np.random.default_rng([seed, 3, index])
    if target is None:
        profile = nh_profile(rng)
    else:
        share = IHC_DOMINANT_OHC_SHARE_RANGE if ihc_dominant else OHC_SHARE_RANGE
        profile = hi_profile(rng, target[0], target[1], ohc_cap_db(periphery, bez_config), share)
    params = sample_animal_params(animal_id, profile, template, rng, shuffle_channels)
    params.periphery = make_periphery(periphery, profile, animal_id, bez_config)
    return params


def animal_specs(
    n_nh: int, n_hi: int, seed: int, hi_pta_range_db: tuple[float, float], flat_from_pta_db: float | None
) -> list[tuple[str, tuple[float, str] | None]]:
    """(animal id, None for NH or (target PTA, shape) for HI) of a cohort's animals, NH first."""
    specs: list[tuple[str, Any]] = [(f"NH{i + 1:02d}", None) for i in range(n_nh)]
    targets = hi_targets(n_hi, np.random.default_rng([seed, 2]), hi_pta_range_db, flat_from_pta_db)
    return specs + [(f"HI{j + 1:02d}", t) for j, t in enumerate(targets)]


def presentation_hours(rng: np.random.Generator, n_sounds: int, session_hours: float) -> np.ndarray:
    """Hours at which each sound is presented: a random order spread evenly (with jitter) over the session."""
    slots = session_hours * (np.arange(n_sounds) + rng.uniform(0.1, 0.9, n_sounds)) / n_sounds
    return slots[rng.permutation(n_sounds)]


def generate_cohort(
    n_nh: int = 3,
    n_hi: int = 6,
    seed: int = 0,
    n_channels: int = 32,
    train_seconds: float = 90.0,
    sound_duration_s: float = 3.0,
    n_test_per_class: int = 2,
    test_duration_s: float = 3.0,
    level_range_db_spl: tuple[float, float] = (45.0, 90.0),
    test_level_range_db_spl: tuple[float, float] = (65.0, 90.0),
    session_hours: float = 10.0,
    hi_pta_range_db: tuple[float, float] = (10.0, 50.0),
    shuffle_channels: bool = True,
    progress: bool = True,
    flat_from_pta_db: float | None = None,
    tone_frequencies: str = "audiometric",
    periphery: str = DEFAULT_PERIPHERY,
    ihc_dominant: int = 0,
    workers: int = 1,
    periphery_options: dict[str, Any] | None = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_seconds: float = 60.0,
) -> list[AnimalRecording]:
    """Generate a virtual-IC cohort with exactly known hearing loss.

    Args:
        n_nh, n_hi: numbers of normal-hearing and hearing-impaired animals.
        seed: master seed (same seed -> bitwise-identical cohort).
        n_channels: recording channels per animal.
        train_seconds: approximate training audio per animal (s), split over classes by :data:`TRAIN_CLASS_WEIGHTS`.
        sound_duration_s, test_duration_s: duration of each training / test sound (s).
        n_test_per_class: held-out two-trial test sounds per non-silent class.
        level_range_db_spl, test_level_range_db_spl: presentation levels (dB SPL) of training / test sounds.
        session_hours: sounds are presented across ``[0, session_hours]`` hours.
        hi_pta_range_db: range of the HI animals' target severity (PTA of the true loss, dB HL).
        flat_from_pta_db: HI animals with a target PTA at or above this get a flat loss (see :func:`hi_targets`);
            None keeps the shape cycle.
        shuffle_channels: shuffle each animal's recorded channel order (alignment must undo it).
        progress: show tqdm progress bars.
        tone_frequencies: pip frequencies of the tone sounds, ``"audiometric"`` (default, the fixed set of earlier
            cohorts) or ``"continuous"`` (log-uniform 250-8000 Hz, so that a model learns tone responses between the
            audiometric frequencies too; :data:`simulator.data.corpus.TONE_FREQUENCY_MODES`).
        periphery: ``"bez2018"`` (default; the physiological AN model, :mod:`.bez2018`) or ``"gammatone"`` (fast).
        ihc_dominant: how many HI animals (a seeded draw) get an IHC-dominant loss (OHC share 0.1-0.3 of the shift
            instead of 0.7-0.95); the other animals' draws do not change.
        workers: processes simulating sounds in parallel (the result does not depend on it). They are spawned, so a
            script that asks for more than one must guard its entry point with ``if __name__ == "__main__":``.
        periphery_options: BEZ2018 settings (:class:`~simulator.virtual_ic.bez2018.BezConfig` fields: ``species``,
            ``sample_rate_hz``, ``power_law``); None: the defaults (cat, 100 kHz, approximated).
        checkpoint_dir, checkpoint_seconds: a scratch folder where finished sounds are written as they finish (at
            least every ``checkpoint_seconds`` s, 0: every sound, and on any exception); a rerun with the same
            arguments resumes from it bit-identically (:mod:`.partial_cohort`); the caller removes it once written.

    Returns:
        ``n_nh + n_hi`` :class:`AnimalRecording` (NH first, ids ``NH01..``, ``HI01..``), each with ``ground_truth``.

    Raises:
        PeripheryError: an unknown periphery, or an animal whose loss the periphery cannot express (before any work).
        PartialCohortMismatchError: ``checkpoint_dir`` holds part of a cohort with other arguments (before any work).
    """
    config = {k: v for k, v in locals().items() if k not in UNKEYED_ARGUMENTS}
    if n_nh < 0 or n_hi < 0 or n_nh + n_hi < 1 or n_channels < 1:
        raise HearloopInputError(f"need at least one animal and channel, got {n_nh=}, {n_hi=}, {n_channels=}")
    check_periphery_name(periphery)
    bez = bez_config(periphery_options)
    workers = check_workers(workers)
    dominant = ihc_dominant_indices(n_hi, int(ihc_dominant), seed)
    sounds, splits = cohort_corpus(
        seed, train_seconds, sound_duration_s, n_test_per_class, test_duration_s, level_range_db_spl,
        test_level_range_db_spl, tone_frequencies,
    )  # fmt: skip
    template = sample_channel_template(np.random.default_rng([seed, 1]), n_channels)
    specs = animal_specs(n_nh, n_hi, seed, hi_pta_range_db, flat_from_pta_db)
    params = [
        make_animal(seed, a, animal_id, target, template, shuffle_channels, periphery, a - n_nh in dominant, bez)
        for a, (animal_id, target) in enumerate(specs)
    ]
    checkpoint = None if checkpoint_dir is None else (checkpoint_dir, config, checkpoint_seconds)
    return _simulate(seed, params, sounds, splits, session_hours, workers, progress, checkpoint)


def _simulate(
    seed: int,
    params: list[AnimalParams],
    sounds: list[Sound],
    splits: list[str],
    session_hours: float,
    workers: int,
    progress: bool,
    checkpoint: tuple[str | Path, dict[str, Any], float] | None,
) -> list[AnimalRecording]:
    """Every animal's session (seeded presentation order and count noise), kept in ``checkpoint`` = (scratch folder,
    config, flush interval in s) if given (:func:`open_checkpoint`)."""
    ids = range(len(params))
    hours = [presentation_hours(np.random.default_rng([seed, 4, a]), len(sounds), session_hours) for a in ids]
    keys = [(seed, 5, a) for a in ids]
    store = None if checkpoint is None else open_checkpoint(checkpoint[0], checkpoint[1], sounds, splits, params,
                                                            hours, keys, checkpoint[2])  # fmt: skip
    return simulate_sessions(
        params, sounds, splits, hours, keys, [np.random.default_rng([seed, 6, a]) for a in ids], workers, progress,
        "sounds", store,
    )  # fmt: skip


def open_checkpoint(
    directory: str | Path,
    config: dict[str, Any],
    sounds: list[Sound],
    splits: list[str],
    params: list[AnimalParams],
    hours: list[np.ndarray],
    count_keys: list[tuple[int, int, int]],
    flush_seconds: float,
) -> SoundCheckpoint:
    """The scratch folder of a cohort keyed by its config (``generate_cohort``'s arguments) and simulation inputs."""
    if not np.isfinite(flush_seconds) or flush_seconds < 0:
        raise HearloopInputError(f"checkpoint_seconds must be finite and >= 0, got {flush_seconds}")
    digest = inputs_digest(sounds, splits, [p.to_dict() for p in params], hours, count_keys)
    shapes = expected_shapes(sounds, splits, [p.channels.n_channels for p in params])
    return SoundCheckpoint(directory, manifest_config(config, GENERATOR_VERSION), digest, shapes, flush_seconds)


def cohort_metadata(animals: list[AnimalRecording], **config: Any) -> dict[str, Any]:
    """JSON-serialisable cohort description for :func:`simulator.data.recordings.write_cohort`."""
    return {
        "generator": "hearloop.virtual_ic",
        "generator_version": GENERATOR_VERSION,
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()},
        "cf_grid_hz": [float(f) for f in CF_GRID_HZ],
        "animals": [
            {
                "animal_id": a.animal_id,
                "hearing_status": a.hearing_status,
                "severity_db_hl": (a.ground_truth or {}).get("severity_db_hl"),
                "shape": (a.ground_truth or {}).get("profile", {}).get("shape"),
                "ohc_share": (a.ground_truth or {}).get("profile", {}).get("shape_params", {}).get("ohc_share"),
                "periphery": ((a.ground_truth or {}).get("periphery") or {}).get("name", "gammatone"),
            }
            for a in animals
        ],
    }
