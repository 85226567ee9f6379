"""Neural benefit on a listener-independent scale: how much of a sound's neural response an aid restores.

Fidelity restored, FR = 1 - D(aided) / D(unaided), divides by the listener's own unaided distance. For a listener with
normal hearing D(unaided) is tiny (their response already matches the NH reference's), so any small change reads as a
large FR of either sign: FR is meaningless for them and NH listeners are never averaged into "restored" figures.

Benefit puts the distance change on a scale that depends on the sound alone,

    B = (D(unaided) - D(aided)) / D_0,   D_0 = D(NH reference's response to clean, NH reference's response to silence),

D_0 being the distance of an ear that hears nothing from normal hearing: the whole response the sound evokes. B = 0
means no change, B = 1 - D(unaided) / D_0 would be a complete restoration, B < 0 means the aid moved the response away
from normal. For impaired listeners B and FR rank strategies alike (same numerator, positive denominators); for NH
listeners B stays small unless an aid really changes the response, which is what an NH benefit should say.
"""

from __future__ import annotations

import numpy as np
import torch

from simulator.errors import HearloopInputError

__all__ = ["benefit", "response_scale"]


def response_scale(objective, clean: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
    """D_0 of each clean sound: the objective's distance from the NH reference's response to silence -> ``S`` (eq.
    (D3) of :mod:`simulator.metrics`, computed there by :func:`simulator.metrics.response_distance`).

    Args:
        objective: a :class:`compensation.objective.NeuralFidelityObjective` (its ``reference_nu`` hears silence).
        clean: ``S x samples`` clean sounds (Pa).
        target: the cached NH response to ``clean`` (``objective.target(clean)``), or None.
    """
    with torch.no_grad():
        return objective(clean, torch.zeros_like(clean), objective.reference_nu, target=target)


def benefit(
    d_unaided: torch.Tensor | np.ndarray | float,
    d_aided: torch.Tensor | np.ndarray | float,
    scale: torch.Tensor | np.ndarray | float,
):
    """B = (D(unaided) - D(aided)) / D_0, elementwise (tensors, arrays or floats).

    Raises:
        HearloopInputError: if a scale D_0 is not positive (a sound that evokes no response: silence).
    """
    s = scale.detach() if isinstance(scale, torch.Tensor) else np.asarray(scale)
    if not bool((s > 0).all()):
        raise HearloopInputError("benefit needs a positive response scale D_0 (a sound that evokes a response)")
    return (d_unaided - d_aided) / scale
