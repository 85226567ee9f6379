"""Synthetic ground-truth cohorts of virtual IC recordings, shaped like nu-ICNet's data set.

[Pellatt2025]_ trained nu-ICNet on 3 NH and 6 noise-exposed gerbils that all heard the same sounds, with held-out
two-trial test sounds. :func:`generate_cohort` builds the same design with known hearing loss:

1. one seeded corpus: training sounds of every class (speech, speech in noise, music, ripples, tones, silence; amount
   set by ``train_seconds``) and ``n_test_per_class`` held-out test sounds of every non-silent class, presented louder
   (``test_level_range_db_spl``) so that even severely impaired animals respond to them;
2. the animal-independent cochlear filterbank runs once per sound;
3. a channel template shared by the cohort; per animal a hearing profile (NH with small variation, or HI with severity
   stratified over ``hi_pta_range_db`` and shapes cycling flat/sloping/notch), electrode placement and degradation;
4. per animal, sounds are presented in a random order spread over ``session_hours``; counts are Binomial(4, p).

Seeds: everything derives from ``seed`` through ``numpy.random.default_rng([seed, stream, ...])``, so the same seed
gives a bitwise-identical cohort, independent of the order in which animals are simulated.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tqdm.auto import tqdm

from simulator.data.corpus import Sound, make_corpus
from simulator.data.recording_types import SOUND_CLASSES, AnimalRecording
from simulator.errors import HearloopInputError
from simulator.virtual_ic.animal import record_animal, sample_animal_params
from simulator.virtual_ic.hearing_profile import LOSS_SHAPES, hi_profile, nh_profile
from simulator.virtual_ic.midbrain import sample_channel_template
from simulator.virtual_ic.periphery import CF_GRID_HZ, filterbank_features

TRAIN_CLASS_WEIGHTS: dict[str, float] = {
    "speech": 0.2,
    "speech_in_noise": 0.2,
    "music": 0.2,
    "ripple": 0.2,
    "tone": 0.12,
    "silence": 0.08,
}
"""Share of the training audio per sound class."""

GENERATOR_VERSION = "1"


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

    Returns:
        ``n_nh + n_hi`` :class:`AnimalRecording` (NH first, ids ``NH01..``, ``HI01..``), each with ``ground_truth``.
    """
    if n_nh < 0 or n_hi < 0 or n_nh + n_hi < 1:
        raise HearloopInputError(f"need at least one animal, got n_nh={n_nh}, n_hi={n_hi}")
    if n_channels < 1:
        raise HearloopInputError(f"n_channels must be >= 1, got {n_channels}")
    sounds, splits = cohort_corpus(
        seed, train_seconds, sound_duration_s, n_test_per_class, test_duration_s, level_range_db_spl,
        test_level_range_db_spl, tone_frequencies,
    )  # fmt: skip
    features = [filterbank_features(s.audio) for s in tqdm(sounds, desc="cochlea", disable=not progress)]
    template = sample_channel_template(np.random.default_rng([seed, 1]), n_channels)
    specs: list[tuple[str, Any]] = [(f"NH{i + 1:02d}", None) for i in range(n_nh)]
    specs += [
        (f"HI{j + 1:02d}", t)
        for j, t in enumerate(hi_targets(n_hi, np.random.default_rng([seed, 2]), hi_pta_range_db, flat_from_pta_db))
    ]
    animals = []
    for a, (animal_id, target) in enumerate(tqdm(specs, desc="animals", disable=not progress)):
        rng = np.random.default_rng([seed, 3, a])
        profile = nh_profile(rng) if target is None else hi_profile(rng, target[0], target[1])
        params = sample_animal_params(animal_id, profile, template, rng, shuffle_channels)
        hours = presentation_hours(np.random.default_rng([seed, 4, a]), len(sounds), session_hours)
        rec = record_animal(params, sounds, features, splits, hours, (seed, 5, a), np.random.default_rng([seed, 6, a]))
        rec.validate()
        animals.append(rec)
    return animals


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
            }
            for a in animals
        ],
    }
