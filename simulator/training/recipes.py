"""Named training recipes: the staged schedules that ``hearloop train --recipe NAME`` runs in one command.

A recipe is a sequence of steps; each step trains some stages of :mod:`simulator.training.stages` with its own epoch
cap, learning rate, frame hop and encoder handling, into one run directory. This is the one definition of how the
bundled model is trained: ``scripts/build_bundled_model.sh`` calls ``hearloop train --recipe bundle``.

``bundle`` (the bundled small nu-ICNet-6, MODEL_CARD.md "Training"):

1. ``multibranch``: a multi-branch ICNet on the NH animals, full backprop; at most 30 epochs, Adam 3e-3, frames hop by
   8192 samples (no overlap).
2. ``nuicnet6`` from that encoder, the encoder fine-tuned; at most 80 epochs, Adam 2e-3, half-overlapping frames (hop
   4096).
3. ``nuicnet3`` and ``abrnet`` on the frozen nu-ICNet-6 encoder (latents cached); at most 40 epochs, Adam 2e-3, hop
   4096.
4. ``icnet``: one single-branch ICNet per animal on the same frozen encoder; at most 200 epochs, Adam 3e-3, hop 4096 (a
   few thousand parameters each; at 40 epochs they are still improving).

Every step shares the rest of :class:`simulator.training.loop.TrainConfig` (8 frames per step, LR halved after a
4-epoch plateau, early stop after 10 epochs without improvement, KL weight 1e-3 and clustering penalty 0.1 for the
nu-ICNets) and the cohort preparation (alignment to the first NH animal, the validation split by sound with at least
:data:`simulator.data.dataset.MIN_VALIDATION_SOUNDS_PER_CLASS` sounds of each class). Every stage resumes from its last
finished epoch, so re-running a recipe continues it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from simulator.errors import HearloopInputError
from simulator.training.cohort import PreparedCohort, prepare_cohort
from simulator.training.loop import TrainConfig
from simulator.training.stages import StageOptions, run_stages

__all__ = ["RECIPES", "RecipeStep", "describe_prepared", "run_recipe"]


@dataclass(frozen=True)
class RecipeStep:
    """Stages trained together, and how.

    Attributes:
        stages: stage names (:data:`simulator.training.stages.STAGES`), in order.
        epochs: at most this many epochs per stage (early stopping may end it sooner).
        lr: initial Adam learning rate.
        hop: frame hop in samples (None: one frame, 8192, no overlap).
        finetune_encoder: train the encoder too (else it stays frozen and its latents are cached).
        encoder_from: the earlier stage whose encoder initialises these stages (ignored for ``multibranch``).
    """

    stages: tuple[str, ...]
    epochs: int
    lr: float
    hop: int | None = None
    finetune_encoder: bool = False
    encoder_from: str = "multibranch"


RECIPES: dict[str, tuple[RecipeStep, ...]] = {
    "bundle": (
        RecipeStep(("multibranch",), epochs=30, lr=3e-3),
        RecipeStep(("nuicnet6",), epochs=80, lr=2e-3, hop=4096, finetune_encoder=True),
        RecipeStep(("nuicnet3", "abrnet"), epochs=40, lr=2e-3, hop=4096, encoder_from="nuicnet6"),
        RecipeStep(("icnet",), epochs=200, lr=3e-3, hop=4096, encoder_from="nuicnet6"),
    ),
}
"""Recipes by name (module docstring)."""


def describe_prepared(prepared: PreparedCohort) -> str:
    """One line: animals, the reference they were aligned to, and the sound split."""
    s = prepared.split
    return (
        f"cohort {prepared.index.root}: {len(prepared.animals)} animals aligned to "
        f"{prepared.metadata['reference_animal']}; {len(s.train)} train / {len(s.validation)} validation / "
        f"{len(s.test)} test sounds"
    )


def run_recipe(
    cohort: str | os.PathLike,
    out_dir: str | os.PathLike,
    recipe: str = "bundle",
    *,
    config: TrainConfig | None = None,
    preset: str = "small",
    device: str = "cpu",
    reference: str | None = None,
    epoch_cap: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train every step of a recipe on a cohort into ``out_dir`` (the layout of :func:`run_stages`).

    Args:
        cohort: cohort directory (``cohort.json``; :mod:`simulator.data.recordings`).
        out_dir: run directory (created; resumed when it holds earlier epochs).
        recipe: a name in :data:`RECIPES`.
        config: what every step shares (batch size, early stopping, loss weights, seed, steps per epoch); the steps set
            ``max_epochs`` and ``lr``. None: :class:`TrainConfig` defaults.
        preset: model size preset (``small`` for the bundled model, ``tiny`` for a quick check).
        device: torch device.
        reference: NH animal id to align to (None: the first NH animal).
        epoch_cap: at most this many epochs in every stage (a quick check of a new cohort; None: the recipe's).
        progress: tqdm bars and per-epoch lines.

    Returns:
        ``{stage: TrainResult or {animal id: TrainResult}}`` of every stage.
    """
    if recipe not in RECIPES:
        raise HearloopInputError(f"unknown recipe {recipe!r}; choose from {', '.join(RECIPES)}")
    if epoch_cap is not None and epoch_cap < 1:
        raise HearloopInputError(f"epoch_cap must be >= 1, got {epoch_cap}")
    base = config or TrainConfig()
    prepared: tuple[int | None, PreparedCohort] | None = None
    results: dict[str, Any] = {}
    for step in RECIPES[recipe]:
        if prepared is None or prepared[0] != step.hop:  # one frame geometry in memory at a time
            prepared = (step.hop, prepare_cohort(Path(cohort), reference, hop=step.hop))
            if progress:
                print(describe_prepared(prepared[1]))
        epochs = step.epochs if epoch_cap is None else min(step.epochs, epoch_cap)
        train = replace(base, max_epochs=epochs, lr=step.lr)
        options = StageOptions(
            preset=preset,
            train=train,
            encoder_train=train,
            freeze_encoder=not step.finetune_encoder,
            encoder_from=step.encoder_from,
            device=device,
            seed=base.seed,
            progress=progress,
        )
        results.update(run_stages(prepared[1], out_dir, step.stages, options))
    return results
