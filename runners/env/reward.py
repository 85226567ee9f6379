"""The fitting environment's reward: a bounded, listener-independent score of the current fit minus a comfort penalty.

Scores of a fit (per episode: the mean over its sound batch of per-sound values; D is the channel-weighted neural
distance of ``compensation.objective`` between the NH reference's response to the clean sound and the listener's
response to what it hears, D_u the unaided distance, D_0 the sound's response scale, the distance of an ear that hears
nothing from normal hearing, :func:`compensation.benefit.response_scale`):

* ``"benefit"`` (default) [BEN]_:  s = clip((D_u - D) / D_0, -1, 1).                                               (1)
  The scale D_0 depends on the sound alone, so the score means the same for every listener: 0 is no change, and a
  normal-hearing listener, whose D_u is already near 0, scores about 0 with any reasonable aid and below 0 when an aid
  moves its response away from normal (instead of the -5 to -13 per step that eq. (2) without a floor gave one NH
  listener). The clip only acts on fits that move the response further from normal than silence does.
* ``"fidelity"``:  s = clip(1 - D / max(D_u, FLOOR * D_0), -1, 1), FLOOR = :data:`FIDELITY_FLOOR`.                 (2)
  Fidelity restored with a floor on its denominator: equal to the fidelity restored 1 - D / D_u wherever D_u is at
  least a tenth of the sound's whole response (every impaired listener), bounded for the rest.

Reward modes (``EnvConfig.reward``): ``"benefit"`` and ``"fidelity"`` give r_t = s_t, the score of the parameters set
at step t (the return is the area under the fitting curve); ``"improvement"`` gives r_t = s_t - s_{t-1} with the
benefit score, s_0 that of the starting fit (the return telescopes to s_T - s_0); ``"benefit_gain"`` gives
r_t = s_t - s_0, the benefit the fit adds over the episode's starting fit (the prescription by default) on the same
sounds. s_0 is a per-episode constant that no action changes, so ``"benefit_gain"`` ranks fits exactly as
``"benefit"`` does; it only takes out what the listener and the sound batch contribute whatever the fit (a control
variate: between sound batches the benefit varies far more than between fits of one batch). Then the comfort term:

    r_t <- r_t - w * c_t,   c_t = min(1, discomfort of what the listener hears) in [0, 1],                       (3)

w = ``EnvConfig.loudness_weight`` (default 1) and the discomfort of :meth:`compensation.comfort.ComfortRange.discomfort`
for the listener's own loudness model (:class:`compensation.listener_loudness.ListenerLoudness`, ISO 532-1 with its
hearing loss): 0 inside the listener's comfort range, growing linearly in phon to 1 at its uncomfortable level, mean
over the sound batch. Per-step rewards therefore lie in :func:`reward_range`: [-1 - w, 1] for ``"benefit"`` and
``"fidelity"``, [-2 - w, 2] for ``"improvement"`` and ``"benefit_gain"``.

Adding a score (e.g. a neural selectivity metric): compute its per-episode value in
:meth:`runners.env.core.FittingCore.evaluate` under a result key, bounded in [-1, 1], and add ``name: key`` to
:data:`SCORES`; ``EnvConfig.reward`` then accepts ``name``.

.. [BEN] ``compensation.benefit``: neural benefit on a listener-independent scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DIFFERENCE_REWARDS", "FIDELITY_FLOOR", "REWARDS", "SCORES", "reward_range", "score", "step_reward"]

FIDELITY_FLOOR: float = 0.1
"""Floor of the fidelity denominator as a fraction of the sound's response scale D_0 (eq. 2)."""

SCORES: dict[str, str] = {"benefit": "benefit", "fidelity": "fidelity_floored"}
"""Score name -> key of :meth:`runners.env.core.FittingCore.evaluate`'s result holding its unclipped value."""

DIFFERENCE_REWARDS: tuple[str, ...] = ("improvement", "benefit_gain")
"""Reward modes that score the benefit's difference from an earlier fit (the previous one, the starting one)."""

REWARDS: tuple[str, ...] = (*SCORES, *DIFFERENCE_REWARDS)
"""Reward modes (module docstring)."""

_DIFFERENCE_SCORE = "benefit"


def score(mode: str, result: dict[str, Any]) -> float:
    """The bounded score s in [-1, 1] of an evaluated fit for reward ``mode`` (eqs. 1-2)."""
    name = _DIFFERENCE_SCORE if mode in DIFFERENCE_REWARDS else mode
    return float(np.clip(result[SCORES[name]], -1.0, 1.0))


def step_reward(
    mode: str,
    result: dict[str, Any],
    previous: dict[str, Any],
    loudness_weight: float,
    start: dict[str, Any] | None = None,
) -> float:
    """r_t of the fit ``result`` after the fit ``previous``, in an episode that started at the fit ``start`` (eq. 3
    included; ``start`` is needed by ``"benefit_gain"`` alone)."""
    value = score(mode, result)
    if mode == "improvement":
        value -= score(mode, previous)
    elif mode == "benefit_gain":
        if start is None:
            raise ValueError("reward 'benefit_gain' needs the episode's starting fit")
        value -= score(mode, start)
    comfort = float(np.clip(result["discomfort"], 0.0, 1.0))
    return value - float(loudness_weight) * comfort


def reward_range(mode: str, loudness_weight: float) -> tuple[float, float]:
    """(lowest, highest) per-step reward of ``mode`` with comfort weight ``loudness_weight``."""
    span = 2.0 if mode in DIFFERENCE_REWARDS else 1.0
    return (-span - float(loudness_weight), span)
