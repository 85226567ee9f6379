"""A listener's strategies scored honestly about loudness: as prescribed, at matched loudness, against the volume knob.

Every comparison in hearloop (fleet report, ``evaluate-strategies``, HITL results, the environment's info) goes through
:func:`compare_with_volume_control`, so the same definitions hold everywhere. For one listener (nu, loudness model from
its audiogram, comfort range), a set of clean sounds and each strategy's aided output:

* **as prescribed**: the strategy's output through the comfort-aware output limit
  (:func:`compensation.comfort.limit_to_comfort`): what the listener hears, never above the comfort limit;
* **at matched loudness**: the output scaled so that the listener hears it as loud as normal hearing hears the clean
  sound (:func:`compensation.loudness_scaling.match_nh_loudness`), then through the peak output limiter; this removes
  whatever a strategy gains by level alone;
* **volume control**: the best single broadband gain under the same comfort limit
  (:func:`compensation.volume_control.volume_control`), scored like a strategy; its matched-loudness figures are those
  of a flat gain to the NH loudness (the same sound scaled);
* for each: distance D, fidelity restored FR = 1 - D / D(unaided) (for impaired listeners), benefit
  B = (D(unaided) - D) / D_0 (:mod:`compensation.benefit`, listener-independent, the measure for NH listeners), the
  listener's loudness level (phon), and the gain over the volume control (FR and B differences, positive = better).

NH listeners are scored the same way; reporting keeps them apart from impaired ones (their FR divides by a tiny
unaided distance and is not a "restored" figure).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from compensation.benefit import benefit, response_scale
from compensation.comfort import ComfortRange, limit_to_comfort
from compensation.limiter import OutputLimiter
from compensation.listener_loudness import ListenerLoudness
from compensation.loudness_scaling import match_nh_loudness
from compensation.objective import fidelity_restored
from compensation.volume_control import VolumeControl, volume_control
from compensation.zwicker import sone_to_phon
from simulator.errors import HearloopInputError

__all__ = ["VOLUME_CONTROL", "Comparison", "StrategyScores", "compare_with_volume_control"]

VOLUME_CONTROL: str = "volume control"
"""Name of the volume-control baseline among a comparison's strategies."""


@dataclasses.dataclass
class StrategyScores:
    """One strategy's scores, each ``S`` values (one per sound), float64 numpy.

    Attributes:
        d, d_matched: distance as prescribed (after the comfort limit) and at matched loudness.
        fr, fr_matched: fidelity restored 1 - D / D(unaided) for each.
        benefit, benefit_matched: (D(unaided) - D) / D_0 for each.
        loudness_phon: the listener's loudness level of what it hears as prescribed (phon).
        comfort_gain_db: the gain the comfort limit applied (<= 0; 0 where the output was comfortable).
    """

    d: np.ndarray
    d_matched: np.ndarray
    fr: np.ndarray
    fr_matched: np.ndarray
    benefit: np.ndarray
    benefit_matched: np.ndarray
    loudness_phon: np.ndarray
    comfort_gain_db: np.ndarray

    def means(self) -> dict[str, float]:
        """Mean over sounds of every score."""
        return {f.name: float(np.mean(getattr(self, f.name))) for f in dataclasses.fields(self)}


@dataclasses.dataclass
class Comparison:
    """A listener's strategies against the volume control (module docstring).

    Attributes:
        d_unaided: ``S`` unaided distances; d_scale: ``S`` response scales D_0.
        unaided_phon: ``S`` the listener's loudness of the clean sounds; nh_phon: ``S`` normal hearing's (the target
            of matched loudness).
        comfort: the comfort range used; comfort_limit_phon: its limit in phon.
        strategies: ``{name: StrategyScores}``, the volume control under :data:`VOLUME_CONTROL`.
        volume: the volume-control search (:class:`compensation.volume_control.VolumeControl`).
    """

    d_unaided: np.ndarray
    d_scale: np.ndarray
    unaided_phon: np.ndarray
    nh_phon: np.ndarray
    comfort: ComfortRange
    strategies: dict[str, StrategyScores]
    volume: VolumeControl

    @property
    def comfort_limit_phon(self) -> float:
        return self.comfort.phons()["upper"]

    def gain_over_volume_control(self, name: str) -> dict[str, float]:
        """``{"fr", "benefit"}``: the strategy's mean FR and B as prescribed minus the volume control's."""
        s, v = self.strategies[name].means(), self.strategies[VOLUME_CONTROL].means()
        return {"fr": s["fr"] - v["fr"], "benefit": s["benefit"] - v["benefit"]}

    def summary(self) -> dict[str, dict[str, float]]:
        """Per strategy: the mean scores, the gains over the volume control and ``above_comfort`` (the largest
        loudness as heard minus the comfort limit, phon; <= 0 when every sound is within the comfort range)."""
        out = {}
        for name, scores in self.strategies.items():
            row = scores.means()
            gain = self.gain_over_volume_control(name)
            row.update(fr_over_vc=gain["fr"], benefit_over_vc=gain["benefit"])
            row["above_comfort"] = float(np.max(scores.loudness_phon)) - self.comfort_limit_phon
            out[name] = row
        out[VOLUME_CONTROL]["gain_db"] = self.volume.gain_db
        return out


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().cpu().numpy()


def _gain_db(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """``S`` broadband gains (dB) from ``before`` to ``after`` (power ratio; silence reads 0)."""
    p_before, p_after = before.double().square().mean(-1), after.double().square().mean(-1)
    ratio = torch.where(p_before > 0, p_after / p_before.clamp(min=1e-30), torch.ones_like(p_before))
    return 10.0 * torch.log10(ratio.clamp(min=1e-30))


def _score(objective, clean, target, nu, heard, matched, d_unaided, scale, loudness, comfort_gain) -> StrategyScores:
    d = _numpy(objective(clean, heard, nu, target=target))
    d_m = _numpy(objective(clean, matched, nu, target=target))
    return StrategyScores(
        d=d, d_matched=d_m, fr=fidelity_restored(d, d_unaided), fr_matched=fidelity_restored(d_m, d_unaided),
        benefit=benefit(d_unaided, d, scale), benefit_matched=benefit(d_unaided, d_m, scale),
        loudness_phon=_numpy(sone_to_phon(loudness.sones(heard))), comfort_gain_db=_numpy(comfort_gain),
    )  # fmt: skip


@torch.no_grad()
def compare_with_volume_control(
    objective,
    clean: torch.Tensor,
    nu: torch.Tensor | np.ndarray,
    aided: Mapping[str, torch.Tensor],
    loudness: ListenerLoudness,
    comfort: ComfortRange | None = None,
    *,
    target: torch.Tensor | None = None,
    peak_limiter: OutputLimiter | None = None,
    volume_kwargs: Mapping[str, Any] | None = None,
) -> Comparison:
    """Score a listener's strategies as prescribed, at matched loudness and against the volume control.

    Args:
        objective: a :class:`compensation.objective.NeuralFidelityObjective` (distance D, NH reference nu).
        clean: ``S x samples`` clean sounds (Pa).
        nu: the listener's conditioning (``D`` or ``1 x D``).
        aided: ``{name: S x samples}`` each strategy's output (its own limiter applied, no comfort limit yet).
        loudness: the listener's loudness model (one listener; its true audiogram for its own perception).
        comfort: the comfort range (default :class:`ComfortRange`).
        target: the cached NH response to ``clean`` (``objective.target(clean)``), or None.
        peak_limiter: applied after loudness matching (default :class:`OutputLimiter`, the strategies' default MPO).
        volume_kwargs: extra arguments of :func:`compensation.volume_control.volume_control`.

    Returns:
        A :class:`Comparison`.
    """
    if loudness.n_listeners != 1:
        raise HearloopInputError(f"compare one listener at a time; the loudness model holds {loudness.n_listeners}")
    if VOLUME_CONTROL in aided:
        raise HearloopInputError(f"{VOLUME_CONTROL!r} is the baseline's name; rename that strategy")
    comfort = comfort or ComfortRange()
    peak_limiter = peak_limiter or OutputLimiter()
    target = objective.target(clean) if target is None else target
    d_unaided = _numpy(objective(clean, clean, nu, target=target))
    if not bool(np.all(d_unaided > 0)):
        raise HearloopInputError("the unaided distance is 0 for a sound (the listener matches the target): no scale")
    scale = _numpy(response_scale(objective, clean, target))
    nh = ListenerLoudness.normal()
    scores: dict[str, StrategyScores] = {}
    for name, out in aided.items():
        heard = limit_to_comfort(out, loudness, comfort)
        matched = peak_limiter(match_nh_loudness(out, clean, loudness, reference=nh))
        cut = _gain_db(out, heard)
        scores[name] = _score(objective, clean, target, nu, heard, matched, d_unaided, scale, loudness, cut)

    def distance(sounds: torch.Tensor) -> torch.Tensor:
        reps = sounds.shape[0] // clean.shape[0]
        return objective(clean.repeat(reps, 1), sounds, nu, target=target.repeat(reps, *([1] * (target.dim() - 1))))

    vc = volume_control(distance, clean, loudness, comfort, **dict(volume_kwargs or {}))
    heard = vc.aided(clean)
    matched = peak_limiter(match_nh_loudness(clean, clean, loudness, reference=nh))
    cut = (vc.applied_gain_db - vc.gain_db).clamp(max=0.0)
    scores[VOLUME_CONTROL] = _score(objective, clean, target, nu, heard, matched, d_unaided, scale, loudness, cut)
    return Comparison(
        d_unaided=d_unaided,
        d_scale=scale,
        unaided_phon=_numpy(sone_to_phon(loudness.sones(clean))),
        nh_phon=_numpy(sone_to_phon(nh.sones(clean))),
        comfort=comfort,
        strategies=scores,
        volume=vc,
    )
