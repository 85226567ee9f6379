"""Preparing a recorded cohort for nu-ICNet training ([Pellatt2025]_, "Alignment between brains" and "Training").

:func:`prepare_cohort` reads a cohort (:mod:`simulator.data.recordings`), aligns every animal's channels to an NH
reference animal (:func:`simulator.data.alignment.align_cohort`, an optimal-transport permutation; scale is never
changed), builds the 90:10 train/validation frame sets (:func:`simulator.data.dataset.make_datasets`, split by sound)
with that channel order, and collects what checkpoints record about the training animals (the metadata schema of the
bundled model):

    animals:          [{"id", "status", "abr_thresholds_db" (5 dB SPL at 0.5..8 kHz), "severity_db", "hours"}]
    channel_weights:  C covariance weights w_i (eq. (4) of [Pellatt2025]_), averaged over the animals' two-trial test
    sounds cohort:           {"generator": "simulator.virtual_ic.generate_cohort", "kwargs": {...}}
    reference_animal: id of the NH animal all animals were aligned to
    alignment:        {animal_id: permutation}; alignment_signature: the ground cost that found them

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulator.data.alignment import DEFAULT_SIGNATURE, align_cohort
from simulator.data.dataset import FrameDataset, SoundSplit, make_datasets
from simulator.data.recording_types import AnimalRecording
from simulator.data.recordings import CohortIndex, read_cohort
from simulator.errors import HearloopInputError
from simulator.frequencies import ABR_FREQS_HZ
from simulator.metrics import channel_weights

__all__ = ["PreparedCohort", "cohort_kwargs", "prepare_cohort", "test_channel_weights"]

GENERATOR_NAME = "simulator.virtual_ic.generate_cohort"


@dataclass
class PreparedCohort:
    """An aligned cohort ready for training.

    Attributes:
        index: the cohort index; ``animals`` the aligned recordings (model animal order = index order).
        perms: per animal id, the channel permutation applied (``aligned[:, j] = recorded[:, perm[j]]``).
        train, val: frame datasets in the aligned channel order; split: the sound split.
        metadata: the checkpoint metadata schema (module docstring).
    """

    index: CohortIndex
    animals: list[AnimalRecording]
    perms: dict[str, np.ndarray]
    train: FrameDataset
    val: FrameDataset
    split: SoundSplit
    metadata: dict[str, Any]

    @property
    def ids(self) -> list[str]:
        return [a.animal_id for a in self.animals]

    @property
    def nh_indices(self) -> list[int]:
        return [i for i, a in enumerate(self.animals) if a.hearing_status == "NH"]

    def abr_matrix(self) -> np.ndarray:
        """``animals x 5`` ABR thresholds (dB SPL at :data:`ABR_FREQS_HZ`)."""
        return np.array([[a.abr_thresholds_db[f] for f in ABR_FREQS_HZ] for a in self.animals], dtype=np.float64)


def cohort_kwargs(index: CohortIndex) -> dict[str, Any]:
    """The :func:`simulator.virtual_ic.generate_cohort` kwargs recorded in a synthetic cohort's index ({} if real)."""
    config = dict(index.metadata.get("config", {}))
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()}


def test_channel_weights(animals: list[AnimalRecording]) -> np.ndarray:
    """Mean over animals and two-trial test sounds of the covariance weights w_i
    (:func:`simulator.metrics.channel_weights`), renormalised.

    Sounds without any repeatable channel (undefined weights) are skipped.
    """
    acc, n = None, 0
    for a in animals:
        for s in a.sounds:
            if s.split != "test" or s.counts.shape[0] < 2:
                continue
            try:
                w = channel_weights(s.counts[0], s.counts[1])
            except HearloopInputError:
                continue
            acc = w if acc is None else acc + w
            n += 1
    if acc is None:
        raise HearloopInputError("no two-trial test sound with a repeatable response: channel weights are undefined")
    return acc / acc.sum()


def _animal_entry(a: AnimalRecording) -> dict[str, Any]:
    gt = a.ground_truth or {}
    hours = [h for s in a.sounds for h in s.presentation_hours]
    sev = gt.get("severity_db_hl")
    return {
        "id": a.animal_id,
        "status": a.hearing_status,
        "abr_thresholds_db": [float(a.abr_thresholds_db[f]) for f in ABR_FREQS_HZ],
        "severity_db": None if sev is None else float(sev),
        "hours": [float(min(hours)), float(max(hours))],
    }


def prepare_cohort(
    cohort: str | os.PathLike | CohortIndex,
    reference: str | None = None,
    val_fraction: float = 0.1,
    split_seed: int = 0,
    hop: int | None = None,
) -> PreparedCohort:
    """Read, verify and align a cohort and build its frame datasets and metadata (module docstring).

    Args:
        cohort: cohort directory (``cohort.json``) or index.
        reference: NH animal id to align to (default: the first NH animal).
        val_fraction, split_seed: the train/validation split by sound (:func:`simulator.data.dataset.split_sounds`).
        hop: frame hop in samples (default one frame, 8192; 4096 gives half-overlapping frames).
    """
    index = cohort if isinstance(cohort, CohortIndex) else read_cohort(Path(cohort))
    index.verify()
    animals = [index.load(i, verify=False) for i in range(len(index))]
    aligned, perms = align_cohort(animals, reference)
    ref_id = reference or next(a.animal_id for a in animals if a.hearing_status == "NH")
    order = [perms[i] for i in index.animal_ids]
    train, val, split = make_datasets(
        index, val_fraction, split_seed, verify=False, channel_order=order, in_memory=True, hop=hop
    )
    metadata = {
        "animals": [_animal_entry(a) for a in aligned],
        "channel_weights": [float(w) for w in test_channel_weights(aligned)],
        "cohort": {"generator": GENERATOR_NAME, "kwargs": cohort_kwargs(index), "path": str(index.root)},
        "reference_animal": ref_id,
        "alignment": {a: [int(v) for v in p] for a, p in perms.items()},
        "alignment_signature": DEFAULT_SIGNATURE,
        "split": split.to_dict(),
    }
    return PreparedCohort(index, aligned, perms, train, val, split, metadata)
