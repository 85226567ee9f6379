"""Maximum-likelihood refinement of a new animal's channel alignment, the model frozen ([Pellatt2025]_, nu-ICNet).

nu-ICNet aligns every brain to an NH reference animal by optimal transport before training ("Alignment between
brains", :mod:`simulator.data.alignment`). For a *new* impaired animal that alignment is unreliable: its loss changes
which parts of a sound drive each channel, so the time-course signature no longer matches the NH reference's. Measured
on fresh virtual-IC animals, the right template unit is found for 100 / 75 / 34 / 53 % of the channels of animals with
16 / 30 / 42 / 52 dB HL losses.

Once nu is fitted, the model itself says what each of its output channels should do for this animal. The permutation
that maximises the likelihood of the recorded counts under the model's predicted 0..4 count distributions is a
linear assignment problem:

    C[i, j] = - sum over sounds and bins of log p_j(count_i)      (animal channel i -> model channel j)

solved exactly by ``scipy.optimize.linear_sum_assignment``. It uses only the fitting data, never held-out sounds.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from simulator.constants import N_CLASSES
from simulator.data.recording_types import AnimalRecording
from simulator.errors import HearloopInputError

__all__ = ["likelihood_alignment_cost", "likelihood_permutation"]

_LOG_FLOOR = 1e-8


def likelihood_alignment_cost(
    model: nn.Module, recording: AnimalRecording, nu: Sequence[float] | np.ndarray
) -> np.ndarray:
    """``channels x channels`` negative log-likelihood (nats) of recorded channel ``i`` under model channel ``j``.

    Args:
        model: trained nu-ICNet (eval mode; never changed).
        recording: the animal's fitting data (first trial of every sound is used), ``channels`` = the model's.
        nu: ``D`` conditioning vector at which the model predicts (the fitted nu).
    """
    nu_t = torch.as_tensor(np.asarray(nu, dtype=np.float32)).reshape(1, -1)
    cost: np.ndarray | None = None
    for s in recording.sounds:
        probs = model.predict(torch.as_tensor(s.audio[None], dtype=torch.float32), nu_t, grad=False)[0].numpy()
        if probs.shape[0] != s.counts.shape[1]:
            raise HearloopInputError(
                f"{recording.animal_id!r} has {s.counts.shape[1]} channels; the model predicts {probs.shape[0]}"
            )
        n = min(probs.shape[1], s.counts.shape[2])
        log_p = np.log(np.clip(probs[:, :n].astype(np.float64), _LOG_FLOOR, 1.0))  # channels x bins x 5
        one_hot = np.eye(N_CLASSES)[s.counts[0][:, :n]]  # channels x bins x 5
        c = -np.einsum("ibk,jbk->ij", one_hot, log_p)
        cost = c if cost is None else cost + c
    if cost is None:
        raise HearloopInputError(f"{recording.animal_id!r} has no sound to align on")
    return cost


def likelihood_permutation(
    model: nn.Module, recording: AnimalRecording, nu: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Permutation ``perm`` (``channels``) such that recording channel ``perm[j]`` is the most likely to be model
    channel ``j`` at ``nu``; apply it with :func:`simulator.data.alignment.apply_alignment`."""
    rows, cols = linear_sum_assignment(likelihood_alignment_cost(model, recording, nu))
    perm = np.empty(cols.size, dtype=np.int64)
    perm[cols] = rows
    return perm
