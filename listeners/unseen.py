"""Unseen animals: fresh virtual-IC animals, never seen in training, aligned to the model's channel order.

nu-ICNet ([Pellatt2025]_, "Fitting nu to new animals") fits the conditioning of a *new* animal with the network frozen.
For that the new recording's channels must mean what the model's output channels mean, so it is first aligned (channel
permutation by optimal transport, :mod:`simulator.data.alignment`) to the NH reference animal the training cohort was
aligned to, with the ground cost the checkpoint records (:func:`simulator.data.alignment.model_signature`).

The training cohort is described by ``model.metadata["cohort"]`` (``generate_cohort`` and its exact kwargs). Fresh
animals come from the same generator with a different seed for everything that makes an animal and its session: hearing
profile, electrode placement, degradation, the sounds heard and the spike-count noise. What stays is the cohort's
*channel template*, the generator's "canonical probe" of unit types that every animal of a population is recorded with
(``simulator.virtual_ic.midbrain.sample_channel_template``): with a fresh template the model's output channels would
stand for unit types no training animal had, which no choice of nu can fix, and which is not what "a new animal of the
same population" means. (``same_template=False`` draws a fresh template too.)

**A fitting session.** The paper fits nu on "15 s of every training sound from the first 2 hours" of a new animal's
recording (:data:`~listeners.fit_objective.FIT_WINDOW_HOURS`). Training cohorts present each sound once over a 10 h
session, so their first 2 h hold only a fifth of the training sounds (18 s of audio); and the generator's animals lose
responsiveness later in a session (channel gain down by up to 25 %, thresholds up by up to 6 dB after an onset of
0.5-5 h), which nu-ICNet's time transfer learns per *training* animal from its whole session but which a nu fitted on
the first 2 h cannot know. Fresh animals are therefore recorded, by default, in a session of that 2 h length: every
training sound and every held-out two-trial test sound is presented within it, so the fit sees all of every training
sound and held-out FEVE measures how the fitted nu generalises to new sounds, not how far a later, unmodelled
degradation has moved the animal. (Measured on fresh seed-1000 animals recorded over 10 h: even the generator's *own*
noise-free responses without degradation reach a median held-out FEVE of only 0.29 for U-NH01 and -3.93 for U-HI02.)
``session_hours=None`` records them over the training cohort's session instead.

The training reference animal is regenerated from the cohort seed (its profile and electrodes are drawn from its own
seeded streams, independent of the corpus) and "re-recorded" on the fresh sounds, so both share the sounds alignment
needs.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn
from tqdm.auto import tqdm

from listeners.fit_objective import FIT_WINDOW_HOURS
from simulator.data.alignment import align_channels, apply_alignment, model_signature
from simulator.data.recording_types import AnimalRecording
from simulator.errors import CheckpointError, HearloopInputError
from simulator.virtual_ic import sample_channel_template
from simulator.virtual_ic.animal import AnimalParams
from simulator.virtual_ic.animal import true_loss_db_hl as generator_true_loss_db_hl
from simulator.virtual_ic.cohort import (
    bez_config,
    cohort_corpus,
    hi_targets,
    ihc_dominant_indices,
    make_animal,
    open_checkpoint,
    presentation_hours,
)
from simulator.virtual_ic.session import simulate_sessions

__all__ = [
    "cohort_kwargs",
    "generate_unseen_animals",
    "reference_animal_params",
    "true_loss_db_hl",
]

_CORPUS_KEYS = (
    "train_seconds",
    "sound_duration_s",
    "n_test_per_class",
    "test_duration_s",
    "level_range_db_spl",
    "test_level_range_db_spl",
    "tone_frequencies",
)
_DEFAULTS: dict[str, Any] = {
    "n_nh": 3,
    "n_hi": 6,
    "seed": 0,
    "n_channels": 32,
    "train_seconds": 90.0,
    "sound_duration_s": 3.0,
    "n_test_per_class": 2,
    "test_duration_s": 3.0,
    "level_range_db_spl": (45.0, 90.0),
    "test_level_range_db_spl": (65.0, 90.0),
    "session_hours": 10.0,
    "hi_pta_range_db": (10.0, 50.0),
    "shuffle_channels": True,
    "flat_from_pta_db": None,
    "tone_frequencies": "audiometric",  # cohorts recorded before the key used the audiometric pip set
    "periphery": "gammatone",  # likewise: cohorts recorded before the key used the gammatone periphery
    "ihc_dominant": 0,
    "periphery_options": None,
}


def cohort_kwargs(model: nn.Module) -> dict[str, Any]:
    """The training cohort's ``generate_cohort`` kwargs (``model.metadata["cohort"]["kwargs"]``), defaults filled."""
    cohort = (getattr(model, "metadata", None) or {}).get("cohort") or {}
    if cohort.get("generator") != "simulator.virtual_ic.generate_cohort" or "kwargs" not in cohort:
        raise CheckpointError(
            "the model's metadata does not describe a synthetic training cohort (metadata['cohort'] with generator "
            "'simulator.virtual_ic.generate_cohort' and its kwargs); fresh animals cannot be generated for it"
        )
    unknown = set(cohort["kwargs"]) - set(_DEFAULTS) - {"progress", "workers"}
    if unknown:
        raise CheckpointError(f"unknown generate_cohort kwargs in the model's metadata: {sorted(unknown)}")
    out = {**_DEFAULTS, **cohort["kwargs"]}
    out.pop("progress", None)
    out.pop("workers", None)
    return {k: tuple(v) if isinstance(v, list) else v for k, v in out.items()}


def _reference_id(model: nn.Module) -> str:
    ref = (getattr(model, "metadata", None) or {}).get("reference_animal")
    if not ref:
        raise CheckpointError("the model's metadata names no reference_animal (the channel order of its outputs)")
    return str(ref)


def reference_animal_params(kwargs: dict[str, Any], reference_id: str) -> AnimalParams:
    """Regenerate an NH animal of a ``generate_cohort(**kwargs)`` cohort from its seeded streams (exact ground truth).

    Mirrors ``generate_cohort``: template from ``default_rng([seed, 1])``; NH animal ``NHkk`` is animal ``kk - 1`` and
    draws its profile and electrodes from ``default_rng([seed, 3, kk - 1])``; its periphery is the cohort's.
    """
    kwargs = {**_DEFAULTS, **kwargs}  # absent keys as cohort_kwargs reads them (periphery: gammatone)
    if not (reference_id.startswith("NH") and reference_id[2:].isdigit()):
        raise HearloopInputError(f"the reference animal must be an NH animal id like 'NH01'; got {reference_id!r}")
    a = int(reference_id[2:]) - 1
    if not 0 <= a < int(kwargs["n_nh"]):
        raise HearloopInputError(f"{reference_id!r} is not among the cohort's {kwargs['n_nh']} NH animals")
    seed = int(kwargs["seed"])
    template = sample_channel_template(np.random.default_rng([seed, 1]), int(kwargs["n_channels"]))
    bez = bez_config(kwargs["periphery_options"])
    return make_animal(
        seed, a, reference_id, None, template, bool(kwargs["shuffle_channels"]), kwargs["periphery"], False, bez
    )


def _fresh_animals(
    kwargs: dict[str, Any],
    n_nh: int,
    n_hi: int,
    seed: int,
    same_template: bool,
    session_h: float,
    progress: bool = False,
    scratch: Path | None = None,
):
    """``generate_cohort``'s seeded streams with every animal/session stream from ``seed`` (ids ``U-NH01``, ...),
    on the training cohort's periphery; also the (sounds, splits) heard.

    The channel template is the training cohort's (``same_template``) or a fresh one drawn from ``seed``. ``scratch``:
    a folder keeping finished sounds (:func:`_checkpoint`).
    """
    sounds, splits = cohort_corpus(seed, *(kwargs[k] for k in _CORPUS_KEYS))
    template_seed = int(kwargs["seed"]) if same_template else seed
    template = sample_channel_template(np.random.default_rng([template_seed, 1]), int(kwargs["n_channels"]))
    targets = hi_targets(
        n_hi, np.random.default_rng([seed, 2]), tuple(kwargs["hi_pta_range_db"]), kwargs["flat_from_pta_db"]
    )
    n_dominant = round(int(kwargs["ihc_dominant"]) * n_hi / max(int(kwargs["n_hi"]), 1))
    dominant = ihc_dominant_indices(n_hi, n_dominant, seed)
    bez = bez_config(kwargs["periphery_options"])
    specs = [(f"U-NH{i + 1:02d}", None) for i in range(n_nh)] + [(f"U-HI{j + 1:02d}", t) for j, t in enumerate(targets)]
    shuffle, periphery = bool(kwargs["shuffle_channels"]), kwargs["periphery"]
    params = [
        make_animal(seed, a, animal_id, target, template, shuffle, periphery, a - n_nh in dominant, bez)
        for a, (animal_id, target) in enumerate(specs)
    ]
    ids = range(len(specs))
    hours = [presentation_hours(np.random.default_rng([seed, 4, a]), len(sounds), session_h) for a in ids]
    keys, abr = [(seed, 5, a) for a in ids], [np.random.default_rng([seed, 6, a]) for a in ids]
    store = _checkpoint(scratch, "fresh", kwargs, sounds, splits, params, hours, keys)
    animals = simulate_sessions(
        params, sounds, splits, hours, keys, abr, progress=progress, desc="fresh animals: sounds", checkpoint=store
    )
    return animals, sounds, splits


def _checkpoint(scratch: Path | None, part: str, kwargs: dict[str, Any], sounds, splits, params, hours, keys):
    """A resumable store of finished sounds in ``scratch/part`` (:func:`simulator.virtual_ic.cohort.open_checkpoint`,
    keyed by the training cohort's kwargs and every simulation input, so it never mixes two requests), or None."""
    if scratch is None:
        return None
    config = {"generator": "listeners.unseen.generate_unseen_animals", "part": part, "cohort": kwargs,
              "periphery": kwargs["periphery"]}  # fmt: skip
    return open_checkpoint(Path(scratch) / part, config, sounds, splits, params, hours, keys, 60.0)


def generate_unseen_animals(
    model: nn.Module,
    n_nh: int = 1,
    n_hi: int = 3,
    seed: int = 1000,
    same_template: bool = True,
    align_max_hours: float | None = None,
    session_hours: float | None = FIT_WINDOW_HOURS,
    progress: bool = False,
    scratch_dir: str | Path | None = None,
) -> list[AnimalRecording]:
    """Fresh virtual-IC animals for ``model``'s training population, aligned to its reference animal's channel order.

    Args:
        model: a nu-ICNet whose metadata describes its synthetic training cohort (``metadata["cohort"]``,
            ``metadata["reference_animal"]``).
        n_nh, n_hi: numbers of fresh NH and HI animals (HI severities stratified over the cohort's PTA range).
        seed: seed of the fresh animals (must differ from the training cohort's seed).
        same_template: keep the cohort's channel template (module docstring); False: a fresh template too.
        align_max_hours: only align on sounds presented before this time (None: all shared sounds).
        session_hours: length (h) of the fresh animals' recording session, over which every training and test sound
            is presented once: by default the fitting window (module docstring); None: the training cohort's session.
        progress: tqdm bars while the fresh animals and the reference animal hear the sounds and while the fresh
            animals are aligned.
        scratch_dir: a folder where the fresh animals' and the reference animal's finished sounds are kept (written
            at least every minute and on an error or Ctrl-C); a rerun of the same request reads them back instead of
            simulating them again, with bit-identical results. None: in memory only.

    Returns:
        ``n_nh + n_hi`` aligned :class:`AnimalRecording` (ids ``U-NH01..``, ``U-HI01..``) with ``ground_truth`` (whose
        ``"alignment"`` entry holds the permutation found).

    Raises:
        PartialCohortMismatchError: ``scratch_dir`` holds the sounds of another request (before any simulation).
    """
    kwargs = cohort_kwargs(model)
    if int(seed) == int(kwargs["seed"]):
        raise HearloopInputError(f"seed {seed} is the training cohort's seed: those animals are not unseen")
    if n_nh < 0 or n_hi < 0 or n_nh + n_hi < 1:
        raise HearloopInputError(f"need at least one fresh animal; got n_nh={n_nh}, n_hi={n_hi}")
    session_h = float(kwargs["session_hours"]) if session_hours is None else float(session_hours)
    if not (np.isfinite(session_h) and session_h > 0):
        raise HearloopInputError(f"session_hours must be a positive number of hours or None; got {session_hours}")
    ref_params = reference_animal_params(kwargs, _reference_id(model))
    scratch = None if scratch_dir is None else Path(scratch_dir)
    animals, sounds, splits = _fresh_animals(kwargs, n_nh, n_hi, int(seed), same_template, session_h, progress, scratch)
    hours = np.linspace(0.0, 0.1, len(sounds))  # the reference heard them early in a session, before degradation
    keys = [(int(seed), 7, 0)]
    reference = simulate_sessions(
        [ref_params],
        sounds,
        splits,
        [hours],
        keys,
        [np.random.default_rng([int(seed), 8])],
        progress=progress,
        desc="reference animal: sounds",
        checkpoint=_checkpoint(scratch, "reference", kwargs, sounds, splits, [ref_params], [hours], keys),
    )[0]
    signature = model_signature(getattr(model, "metadata", None))
    out = []
    for animal in tqdm(animals, desc="aligning to the reference animal", disable=not progress):
        perm = align_channels(animal, reference, max_hours=align_max_hours, signature=signature)
        out.append(apply_alignment(animal, perm))
    return out


def true_loss_db_hl(animal: AnimalRecording, freqs_hz, hours: float = 0.0) -> np.ndarray:
    """The generator's true hearing loss of a synthetic animal (dB HL re the nominal NH cochlea of its periphery)."""
    if not animal.ground_truth:
        raise HearloopInputError(f"animal {animal.animal_id!r} has no generator ground truth")
    return generator_true_loss_db_hl(animal.ground_truth, freqs_hz, hours)
