"""The volume-control baseline: the best single broadband gain under the listener's comfort limit.

Every compensation result is set against what turning the volume up achieves. The volume control applies one
broadband gain g (dB) to every clean sound of a listener's evaluation set -- a volume knob is set once, not per sound --
and the comfort-aware output limit (:func:`compensation.comfort.limit_to_comfort`) then scales any sound the listener
hears above the comfort limit down to it, exactly as it does for every strategy's output. Because the limit is itself a
broadband gain, the sound s at knob setting g is the clean sound at min(g, c_s), with c_s the gain at which the
listener hears s at the comfort limit (:func:`compensation.loudness_scaling.loudness_gain_db`). The baseline is

    g_VC = argmin_g  mean_s D(min(g, c_s) applied to clean_s),                                                  (1)

searched on a coarse grid (:data:`COARSE_GAINS_DB`, 5 dB steps) and refined in 1 dB steps around its best point. D is
any distance per sound (the neural-fidelity objective in hearloop). Settings that apply the same gains to every sound
(all at or above every comfort cap) are one setting, reported at the lowest of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch

from compensation.comfort import ComfortRange
from compensation.listener_loudness import ListenerLoudness
from compensation.loudness_scaling import loudness_gain_db
from simulator.constants import SAMPLE_RATE
from simulator.errors import HearloopInputError

__all__ = ["COARSE_GAINS_DB", "VolumeControl", "volume_control"]

COARSE_GAINS_DB: tuple[float, ...] = tuple(float(g) for g in range(-10, 55, 5))
"""The coarse grid of knob settings (dB), -10 to +50 dB; refined in 1 dB steps around its best point."""

DistanceFn = Callable[[torch.Tensor], torch.Tensor]
"""``distance(aided)`` -> ``n`` distances for ``n x samples`` aided sounds, rows ordered as the clean sounds repeated
(setting-major): row k * S + s is sound s at the k-th setting."""


@dataclasses.dataclass
class VolumeControl:
    """The volume-control baseline of one listener.

    Attributes:
        gain_db: the best knob setting g_VC (dB).
        distance: ``S`` distances D at g_VC (after the comfort limit).
        applied_gain_db: ``S`` gains actually applied, min(g_VC, c_s).
        comfort_gain_db: ``S`` gains c_s at which each sound reaches the comfort limit.
        gains_db, mean_distance: every setting searched and its mean D (for plots and records).
    """

    gain_db: float
    distance: torch.Tensor
    applied_gain_db: torch.Tensor
    comfort_gain_db: torch.Tensor
    gains_db: list[float]
    mean_distance: list[float]

    def aided(self, clean: torch.Tensor) -> torch.Tensor:
        """The volume-controlled sounds ``S x samples`` (Pa) for the clean sounds it was searched on."""
        return clean * torch.pow(10.0, self.applied_gain_db / 20.0).unsqueeze(-1).to(clean)


def _applied(gains: torch.Tensor, cap: torch.Tensor) -> torch.Tensor:
    """``G x S`` applied gains min(g, c_s)."""
    return torch.minimum(gains.unsqueeze(-1), cap.unsqueeze(0))


def _lowest_equivalent(applied: torch.Tensor, best: int) -> int:
    """The lowest setting that applies the same gains as setting ``best`` (``applied``: ``G x S``, ascending settings).

    Every setting at or above a sound's comfort cap applies the cap to it, so settings above every cap are one setting;
    their distances differ only by rounding, and the knob is reported at the lowest of them."""
    same = (applied == applied[best]).all(-1).nonzero()
    return int(same[0, 0])


def _scores(distance: DistanceFn, clean: torch.Tensor, applied: torch.Tensor, chunk: int) -> torch.Tensor:
    """Distances ``G x S`` of the clean sounds at the applied gains, ``chunk`` settings per distance call."""
    n_set, n_snd = applied.shape
    out = []
    for k in range(0, n_set, chunk):
        part = applied[k : k + chunk]
        aided = clean.repeat(part.shape[0], 1) * torch.pow(10.0, part.reshape(-1, 1) / 20.0).to(clean)
        with torch.no_grad():
            out.append(torch.as_tensor(distance(aided)).detach().double().reshape(part.shape[0], n_snd))
    return torch.cat(out)


def volume_control(
    distance: DistanceFn,
    clean: torch.Tensor,
    model: ListenerLoudness,
    comfort: ComfortRange | None = None,
    *,
    coarse_db: tuple[float, ...] = COARSE_GAINS_DB,
    refine_step_db: float = 1.0,
    chunk: int = 8,
    sample_rate: float = SAMPLE_RATE,
) -> VolumeControl:
    """Search the best knob setting (eq. 1) for one listener.

    Args:
        distance: D of aided sounds (:data:`DistanceFn`), e.g. ``lambda a: objective(clean_rep, a, nu, target_rep)``
            built by the caller for ``G x S`` rows.
        clean: ``S x samples`` clean sounds (Pa).
        model: the listener's loudness model (one listener).
        comfort: the comfort range (default :class:`ComfortRange`).
        coarse_db: coarse settings (dB); ``refine_step_db``: the fine step around the best (0 skips refining).
        chunk: settings per distance call (bounds memory: ``chunk * S`` sounds per call).
        sample_rate: Hz.

    Returns:
        A :class:`VolumeControl`.
    """
    if clean.dim() != 2 or not coarse_db:
        raise HearloopInputError("volume_control needs clean sounds S x samples and at least one coarse setting")
    if model.n_listeners != 1:
        raise HearloopInputError(f"volume_control is per listener; the loudness model holds {model.n_listeners}")
    comfort = comfort or ComfortRange()
    with torch.no_grad():
        cap = loudness_gain_db(clean, model, comfort.limit_sone, sample_rate=sample_rate).double()
    coarse = torch.tensor(sorted(float(g) for g in coarse_db), dtype=torch.float64)
    scores = _scores(distance, clean, _applied(coarse, cap), max(int(chunk), 1))
    gains, table = coarse, scores
    if refine_step_db > 0 and coarse.numel() > 1:
        best = float(coarse[int(torch.argmin(scores.mean(-1)))])
        spacing = float(np.min(np.diff(coarse.numpy())))
        fine = torch.arange(best - spacing, best + spacing + 1e-9, float(refine_step_db), dtype=torch.float64)
        fine = fine[(fine > best - spacing + 1e-9) & (fine < best + spacing - 1e-9) & (fine != best)]
        if fine.numel():
            gains = torch.cat([coarse, fine])
            table = torch.cat([scores, _scores(distance, clean, _applied(fine, cap), max(int(chunk), 1))])
    order = torch.argsort(gains)
    gains, table = gains[order], table[order]
    k = _lowest_equivalent(_applied(gains, cap), int(torch.argmin(table.mean(-1))))
    applied = _applied(gains[k : k + 1], cap)[0]
    return VolumeControl(
        gain_db=float(gains[k]),
        distance=table[k].clone(),
        applied_gain_db=applied.float(),
        comfort_gain_db=cap.float(),
        gains_db=gains.tolist(),
        mean_distance=table.mean(-1).tolist(),
    )
