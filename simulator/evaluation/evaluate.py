"""Evaluating trained models on held-out test sounds ([Pellatt2025]_, "Evaluation" and Table 1).

For every training animal and every held-out two-trial test sound, the model predicts the response to the whole sound
(causal, whole-sound inference, nu at its mean, no sampling); when the two trials were presented at different recording
times, the prediction is the mean of the predictions at the two times. Scores per sound:

- FEVE (:func:`simulator.metrics.feve`): covariance-weighted fraction of explainable variance explained by the
  expected count E[count];
- KL (:func:`simulator.metrics.spike_histogram_kl`): covariance-weighted KL between the recorded and predicted 0..4
  count histograms.

Aggregates are medians: per animal (over its test sounds), per sound class, and per hearing group (NH / HI) as the
median over all (animal, sound) scores of the group (the layout of the paper's Table 1). The separation of hearing
status by the learned nu is the Spearman rank correlation between each animal's distance ||nu_bar_k - centre_NH||_2
(centre = mean nu_bar of the NH animals, at the start of recording) and its true severity (ground truth, dB HL).

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import torch
from scipy import stats
from torch import nn

from simulator.data.recording_types import AnimalRecording, SoundRecording
from simulator.errors import HearloopInputError
from simulator.metrics import feve, spike_histogram_kl
from simulator.model.combination import class_softmax
from simulator.model.icnet import ICNet
from simulator.model.spikes import expected_counts

__all__ = [
    "NuDistances",
    "SoundScore",
    "aggregate",
    "evaluate_model",
    "nu_distance_from_nh",
    "nu_distances",
    "predict_sound",
    "severity_spearman",
]


@dataclass
class SoundScore:
    """FEVE and KL of one model on one test sound of one animal."""

    model: str
    animal_id: str
    status: str
    sound: str
    sound_class: str
    feve: float
    kl: float

    def to_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def predict_sound(
    model: nn.Module, audio: np.ndarray | torch.Tensor, animal_idx: int, hours: float | Sequence[float]
) -> torch.Tensor:
    """Predicted spike-count probabilities ``channels x bins x 5`` of one animal for a whole sound (Pa).

    nu-ICNet uses nu_bar of ``animal_idx`` at ``hours`` (several times, e.g. one per trial: the mean of the
    predictions at each, as the trials' mean response would be); ABRNet its ABR nu; ICNet its decoder branch
    ``animal_idx``.
    """
    x = torch.as_tensor(np.asarray(audio, dtype=np.float32)).unsqueeze(0)
    if isinstance(model, ICNet):
        logits = model.decode_branch(model.encode(x), animal_idx)
        return class_softmax(logits)[0]
    times = sorted({float(h) for h in np.atleast_1d(np.asarray(hours, dtype=np.float64))})
    nu = model.animal_nu(torch.full((len(times),), animal_idx), torch.tensor(times), sample=False)
    return model.predict(x, nu, grad=False).mean(dim=0)


def score_sound(model_name: str, animal: AnimalRecording, sound: SoundRecording, probs: torch.Tensor) -> SoundScore:
    """FEVE and KL of predicted probabilities ``channels x bins x 5`` against a two-trial test sound."""
    if sound.counts.shape[0] < 2:
        raise HearloopInputError(f"test sound {sound.name!r} of {animal.animal_id!r} needs two trials for FEVE")
    r1, r2 = sound.counts[0], sound.counts[1]
    y = expected_counts(probs).cpu().numpy()
    f = feve(r1, r2, y, undefined="nan")
    try:
        kl = spike_histogram_kl(sound.counts[:2], probs.cpu().numpy(), predicted_kind="probs")
    except HearloopInputError:
        kl = float("nan")
    return SoundScore(model_name, animal.animal_id, animal.hearing_status, sound.name, sound.sound_class, f, kl)


def evaluate_model(
    model: nn.Module, model_name: str, animals: list[AnimalRecording], animal_indices: list[int] | None = None
) -> list[SoundScore]:
    """Scores of ``model`` on every two-trial test sound of ``animals`` (aligned channel order).

    Args:
        model: trained NuICNet / ABRNet / ICNet (eval mode).
        model_name: label in the results (e.g. ``"nu-ICNet-6"``).
        animals: aligned recordings with test sounds.
        animal_indices: the model's animal index of each entry of ``animals`` (default 0..len-1).
    """
    idx = list(range(len(animals))) if animal_indices is None else list(animal_indices)
    if len(idx) != len(animals):
        raise HearloopInputError(f"animal_indices has {len(idx)} entries for {len(animals)} animals")
    model.eval()
    out = []
    for a, k in zip(animals, idx, strict=True):
        for s in a.sounds:
            if s.split == "test":
                out.append(score_sound(model_name, a, s, predict_sound(model, s.audio, k, s.presentation_hours[:2])))
    return out


def aggregate(scores: list[SoundScore], by: str) -> dict[tuple, dict[str, float]]:
    """Median FEVE and KL grouped by ``"group"`` (model, status), ``"animal"`` (model, animal) or ``"class"`` (model,
    status, sound class); NaN scores (undefined for a sound) are skipped. Values: {"feve", "kl", "n"}."""
    keys = {
        "group": lambda s: (s.model, s.status),
        "animal": lambda s: (s.model, s.animal_id),
        "class": lambda s: (s.model, s.status, s.sound_class),
    }
    if by not in keys:
        raise HearloopInputError(f"by must be one of {sorted(keys)}, got {by!r}")
    groups: dict[tuple, list[SoundScore]] = {}
    for s in scores:
        groups.setdefault(keys[by](s), []).append(s)
    out = {}
    for key, ss in groups.items():
        f = np.array([s.feve for s in ss], dtype=np.float64)
        kl = np.array([s.kl for s in ss], dtype=np.float64)
        out[key] = {
            "feve": float(np.nanmedian(f)) if np.isfinite(f).any() else float("nan"),
            "kl": float(np.nanmedian(kl)) if np.isfinite(kl).any() else float("nan"),
            "n": int(np.isfinite(f).sum()),
        }
    return out


class NuDistances(NamedTuple):
    """Distances of ``N`` nu values to a group of ``M`` (Euclidean, in the model's conditioning space [0, 1]^D)."""

    nearest: np.ndarray
    """``N`` distances to the nearest member of the group."""
    nearest_index: np.ndarray
    """``N`` int indices (into the group) of that member."""
    centre: np.ndarray
    """``N`` distances to the group's centre (the element-wise mean of its nu)."""


def nu_distances(nu: np.ndarray, group: np.ndarray) -> NuDistances:
    """Euclidean distances ||nu_i - g||_2 of each nu (``N x D``) to the nearest of ``group`` (``M x D``) and to its
    centre (mean over the group), in the space the model is conditioned on (nu in [0, 1]^D, not logits).

    Raises:
        HearloopInputError: not two 2-D arrays with the same D, an empty group, or a non-finite value.
    """
    nu, group = np.asarray(nu, dtype=np.float64), np.asarray(group, dtype=np.float64)
    if nu.ndim != 2 or group.ndim != 2 or nu.shape[1] != group.shape[1]:
        raise HearloopInputError(f"nu and group must be N x D and M x D with the same D; got {nu.shape}, {group.shape}")
    if group.shape[0] == 0:
        raise HearloopInputError("the group of nu is empty: no nearest member and no centre")
    if not (np.isfinite(nu).all() and np.isfinite(group).all()):
        raise HearloopInputError("nu values must be finite")
    pairwise = np.linalg.norm(nu[:, None, :] - group[None, :, :], axis=-1)
    nearest = pairwise.argmin(axis=1)
    centre = np.linalg.norm(nu - group.mean(axis=0), axis=1)
    return NuDistances(pairwise[np.arange(len(nu)), nearest], nearest, centre)


def nu_distance_from_nh(nu: np.ndarray, statuses: list[str]) -> np.ndarray:
    """Euclidean distance of each animal's nu (``animals x D``) from the centre (mean) of the NH animals' nu."""
    nu = np.asarray(nu, dtype=np.float64)
    nh = np.array([s == "NH" for s in statuses])
    if nu.ndim != 2 or nu.shape[0] != len(statuses):
        raise HearloopInputError(f"nu must have shape ({len(statuses)}, D); got {nu.shape}")
    if not nh.any():
        raise HearloopInputError("no NH animal: the NH centre is undefined")
    return nu_distances(nu, nu[nh]).centre


def severity_spearman(distance: np.ndarray, severity: np.ndarray) -> float:
    """Spearman rho between nu distances and true severities (NaN when either is constant)."""
    d, s = np.asarray(distance, dtype=np.float64), np.asarray(severity, dtype=np.float64)
    if d.shape != s.shape or d.ndim != 1 or d.size < 3:
        raise HearloopInputError(f"need two equal-length 1-D arrays of >= 3 animals; got {d.shape} and {s.shape}")
    if np.ptp(d) == 0 or np.ptp(s) == 0:
        return float("nan")
    return float(stats.spearmanr(d, s).statistic)
