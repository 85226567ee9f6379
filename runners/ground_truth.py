"""The virtual animals of the ground-truth loop (:mod:`compensation.ground_truth`) for a trained nu-ICNet.

* **Training animals**: the model's training cohort, regenerated from the ``generate_cohort`` kwargs its metadata
  records (``listeners.unseen.cohort_kwargs``). Only their ground truth is needed, and every animal's hearing profile,
  electrodes and degradation come from its own seeded streams, independent of the sounds, so the cohort is
  regenerated with a token corpus (:data:`TOKEN_CORPUS`): same animals, a fraction of a second of sound. Each gets the
  model's learned nu for it (``simulator.model.animals.animal_nus``).
* **Fresh animals**: :func:`listeners.unseen.generate_unseen_animals` (new profiles, electrodes, sounds and noise,
  aligned to the model's channel order), each with nu fitted by Bayesian optimisation
  (:func:`listeners.nu_fitting.bo_fit`) on its fitting window (:func:`listeners.fit_objective.recording_subset`).

Both get their true audiogram (the generator's loss re the nominal NH cochlea at the audiometric frequencies,
:func:`listeners.unseen.true_loss_db_hl`) for the prescriptions.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from compensation.ground_truth import LoopAnimal
from compensation.population import ListenerSpec
from simulator.errors import HearloopInputError
from simulator.frequencies import AUDIOGRAM_FREQS_HZ

__all__ = [
    "TOKEN_CORPUS",
    "FreshFit",
    "check_fit_evals",
    "fit_fresh_animals",
    "fresh_fits",
    "fresh_loop_animals",
    "load_hitl_settings",
    "loop_listener",
    "training_cohort",
    "training_ground_truths",
    "training_listeners",
    "training_loop_animals",
]

TOKEN_CORPUS: dict[str, float] = {"train_seconds": 0.1, "sound_duration_s": 0.1, "test_duration_s": 0.1,
                                  "n_test_per_class": 1}  # fmt: skip
"""Corpus overrides of a regenerated training cohort whose ground truth alone is needed (the animals do not change)."""


def loop_listener(animal_id: str, nu: np.ndarray, recording) -> ListenerSpec:
    """The listener of a loop animal: ``nu`` clipped to [0, 1] and the recording's true audiogram (dB HL)."""
    from listeners.unseen import true_loss_db_hl

    loss = true_loss_db_hl(recording, np.asarray(AUDIOGRAM_FREQS_HZ, dtype=float))
    return ListenerSpec(animal_id, np.clip(nu, 0.0, 1.0), dict(zip(AUDIOGRAM_FREQS_HZ, loss.tolist(), strict=True)))


def training_cohort(model: nn.Module) -> list:
    """The model's training cohort regenerated with the token corpus (its animals, in the metadata's order).

    Raises:
        CheckpointError: the metadata records no synthetic cohort.
        HearloopInputError: a cohort whose animals do not match the metadata's training animals.
    """
    from listeners.unseen import cohort_kwargs
    from simulator.virtual_ic import generate_cohort

    kwargs = cohort_kwargs(model)
    trained = [(str(a.get("id")), str(a.get("status"))) for a in (model.metadata or {}).get("animals", [])]
    cohort = generate_cohort(**{**kwargs, **TOKEN_CORPUS}, progress=False)
    if [(r.animal_id, r.hearing_status) for r in cohort] != trained:
        raise HearloopInputError("the regenerated training cohort does not match the animals in the model's metadata")
    return cohort


def training_ground_truths(model: nn.Module) -> dict[str, dict]:
    """``{animal_id: ground truth}`` of the model's training animals (regenerated; see the module docstring)."""
    return {rec.animal_id: rec.ground_truth for rec in training_cohort(model)}


def training_listeners(model: nn.Module, statuses: Sequence[str] = ("HI",)) -> list:
    """The model's training animals of ``statuses`` as ``listeners.VirtualListener`` objects: each at its learned nu,
    with the NH reference of ``listeners.nh_reference(model)`` and its generator ``ground_truth`` (for objectives
    scored on the generator, e.g. the fitting environment's ``objective="generator"``)."""
    from listeners import VirtualListener, nh_reference
    from simulator.model.animals import animal_nus

    reference = nh_reference(model)
    nus = animal_nus(model)
    return [VirtualListener(rec.animal_id, np.clip(nus[k], 0.0, 1.0), model, reference=reference,
                            ground_truth=rec.ground_truth)
            for k, rec in enumerate(training_cohort(model)) if rec.hearing_status in statuses]  # fmt: skip


def training_loop_animals(
    model: nn.Module, statuses: Sequence[str] = ("HI",), animal_ids: Sequence[str] | None = None
) -> list[LoopAnimal]:
    """The model's training animals of ``statuses`` (or exactly ``animal_ids``), with learned nu and true audiogram.

    Raises:
        CheckpointError: the metadata records no synthetic cohort.
        HearloopInputError: an animal id the cohort does not have, or a cohort whose animals do not match the
            metadata's training animals.
    """
    from simulator.model.animals import animal_nus

    cohort = training_cohort(model)
    trained = [(rec.animal_id, rec.hearing_status) for rec in cohort]
    wanted = list(animal_ids) if animal_ids is not None else [i for i, s in trained if s in statuses]
    unknown = set(wanted) - {i for i, _ in trained}
    if unknown:
        raise HearloopInputError(f"animals {sorted(unknown)} are not training animals of the model")
    nus = animal_nus(model)
    out = []
    for k, rec in enumerate(cohort):
        if rec.animal_id in wanted:
            spec = loop_listener(rec.animal_id, nus[k], rec)
            out.append(LoopAnimal("training", spec, rec.ground_truth, rec.hearing_status))
    return out


def fresh_loop_animals(
    model: nn.Module,
    n_nh: int = 0,
    n_hi: int = 3,
    seed: int = 1000,
    fit_evals: int = 24,
    progress: bool = True,
    scratch_dir: str | Path | None = None,
) -> list[LoopAnimal]:
    """Fresh animals (:func:`listeners.unseen.generate_unseen_animals`) with BO-fitted nu (``fit_evals`` loss
    evaluations, 8 Sobol starts; :func:`fit_fresh_animals`) and their true audiogram; ``progress``:
    tqdm bars while the animals and the reference animal hear their sounds (the long part on the BEZ2018 periphery),
    are aligned and are fitted; ``scratch_dir``: where their finished sounds are kept for a rerun
    (:func:`listeners.unseen.generate_unseen_animals`)."""
    return [fit.animal for fit in fresh_fits(model, n_nh, n_hi, seed, fit_evals, progress, scratch_dir)]


def fresh_fits(
    model: nn.Module,
    n_nh: int = 0,
    n_hi: int = 3,
    seed: int = 1000,
    fit_evals: int = 24,
    progress: bool = True,
    scratch_dir: str | Path | None = None,
) -> list[FreshFit]:
    """:func:`fresh_loop_animals` with each animal's held-out FEVE at its fitted nu (:class:`FreshFit`).

    Raises:
        HearloopInputError: ``fit_evals`` < 8 (before any animal is generated), or a bad fresh-animal request.
    """
    from listeners.unseen import generate_unseen_animals

    check_fit_evals(fit_evals)
    animals = generate_unseen_animals(model, n_nh=n_nh, n_hi=n_hi, seed=seed, progress=progress,
                                      scratch_dir=scratch_dir)  # fmt: skip
    return fit_fresh_animals(model, animals, seed, fit_evals, progress)


@dataclasses.dataclass
class FreshFit:
    """A fresh animal of the loop and its held-out FEVE (median over its test sounds) at the fitted nu."""

    animal: LoopAnimal
    heldout_feve: float


def check_fit_evals(fit_evals: int) -> None:
    """Raises HearloopInputError unless ``fit_evals`` covers the 8 Sobol starts of a fit."""
    if fit_evals < 8:
        raise HearloopInputError(f"fit_evals must be >= 8 (the Sobol start); got {fit_evals}")


def fit_fresh_animals(
    model: nn.Module, recordings: Sequence, seed: int = 1000, fit_evals: int = 24, progress: bool = True
) -> list[FreshFit]:
    """BO-fit nu of each aligned fresh recording (``fit_evals`` evaluations, 8 Sobol starts, BO seed ``seed``) on its
    fitting window, with its true audiogram and the held-out FEVE at the fitted nu.

    Raises:
        HearloopInputError: ``fit_evals`` < 8.
    """
    from tqdm import tqdm

    from listeners.fit_objective import NuFitObjective, heldout_feve, recording_subset
    from listeners.nu_fitting import bo_fit

    check_fit_evals(fit_evals)
    out = []
    for rec in tqdm(recordings, desc="fit fresh animals", disable=not progress):
        fit = bo_fit(NuFitObjective(model, recording_subset(rec).sounds), n_init=8, max_evals=fit_evals, seed=seed)
        animal = LoopAnimal("fresh", loop_listener(rec.animal_id, fit.nu, rec), rec.ground_truth, rec.hearing_status)
        out.append(FreshFit(animal, heldout_feve(model, rec, animal.listener.nu)[0]))
    return out


def load_hitl_settings(path: str | Path, strategies: Mapping[str, object] | None = None) -> dict:
    """``{animal_id: (strategy, theta)}`` from a JSON file ``{"strategy": NAME, "theta": {animal_id: [values]}}``.

    Raises:
        HearloopInputError: a missing or malformed file, or a theta the strategy rejects.
    """
    from compensation.registry import get_strategy

    try:
        spec = json.loads(Path(path).read_text())
        name, thetas = str(spec["strategy"]), dict(spec["theta"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise HearloopInputError(
            f"{path}: a HITL settings file is JSON {{'strategy': NAME, 'theta': {{animal_id: [...]}}}} ({err})"
        ) from err
    strategy = (strategies or {}).get(name) or get_strategy(name)
    return {str(a): (strategy, strategy.validate_theta(torch.as_tensor(t, dtype=torch.float32)))
            for a, t in thetas.items()}  # fmt: skip
