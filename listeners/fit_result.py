"""Result of fitting nu to an animal, and the paper's stopping rule ([Pellatt2025]_, "Fitting nu": stop within 2% of the
target loss).

The *target loss* of an animal is the lowest loss reachable with the frozen model: the loss at the animal's
ground-truth-best nu, found by multi-start L-BFGS fits run to convergence (:func:`listeners.gradient_fit.target_loss`).
A fit has reached the criterion after evaluation ``k`` when its best loss so far satisfies

    best_k - target <= tol * |target|        (tol = 0.02)

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["FitResult", "evaluations_to_criterion", "within_tolerance"]


def within_tolerance(loss: float, target: float, tol: float = 0.02) -> bool:
    """True when ``loss`` is within ``tol`` (relative) of the ``target`` loss."""
    return bool(loss - target <= tol * abs(target) * (1 + 1e-9))  # slack: 1.02 - 1.0 > 0.02 in floating point


def evaluations_to_criterion(losses: np.ndarray, target: float, tol: float = 0.02) -> float:
    """1-based index of the first evaluation whose best-so-far loss meets the criterion (``inf`` if none)."""
    best = np.minimum.accumulate(np.asarray(losses, dtype=np.float64))
    ok = best - target <= tol * abs(target) * (1 + 1e-9)
    return float(np.argmax(ok) + 1) if ok.any() else float("inf")


@dataclass
class FitResult:
    """A nu fit.

    Attributes:
        method: ``"bo"`` or ``"gradient"``.
        nu: ``D`` best nu found (in [0, 1]).
        loss: its loss (nats per channel-bin).
        evaluations: loss evaluations used (a gradient step counts as one evaluation: one forward and backward pass).
        points: ``E x D`` every nu evaluated, in order.
        losses: ``E`` their losses.
        target: the target loss used for the stopping rule (None: ran to its budget).
        reached: the criterion was met.
        info: method details (Sobol points, seed, learning rate, ...).
    """

    method: str
    nu: np.ndarray
    loss: float
    evaluations: int
    points: np.ndarray
    losses: np.ndarray
    target: float | None = None
    reached: bool = False
    info: dict = field(default_factory=dict)

    def evaluations_to(self, target: float, tol: float = 0.02) -> float:
        """Evaluations this fit needed to come within ``tol`` of ``target`` (``inf`` if it never did)."""
        return evaluations_to_criterion(self.losses, target, tol)
