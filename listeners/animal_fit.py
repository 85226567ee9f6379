"""Fit nu to one new animal end to end ([Pellatt2025]_, "Fitting nu to new animals"): subset, target, BO, gradient,
held-out FEVE.

1. The loss data: 15 s of every training sound presented in the first 2 hours (:func:`recording_subset`).
2. The target loss: the ground-truth-best nu's loss, from multi-start L-BFGS fits run to convergence
   (:func:`listeners.gradient_fit.target_loss`, starts: the NH reference nu, the cube centre, seeded points).
   With ``realign`` the channel alignment is then refined by maximum likelihood at that nu
   (:mod:`listeners.channel_refinement`) and the target refitted; the new alignment is kept only if it lowers the
   target loss by more than the fitting tolerance (2 %), so an alignment that was already right is left alone.
3. Bayesian optimisation (:func:`listeners.nu_fitting.bo_fit`) and a gradient fit from the NH reference nu
   (:func:`listeners.gradient_fit.gradient_fit`), both stopped by the 2% rule.
4. FEVE of each fitted nu on the animal's held-out two-trial test sounds.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from torch import nn
from tqdm.auto import tqdm

from listeners.channel_refinement import likelihood_permutation
from listeners.fit_objective import NuFitObjective, heldout_feve, recording_subset
from listeners.fit_result import FitResult
from listeners.gradient_fit import gradient_fit, target_loss
from listeners.nu_fitting import bo_fit
from listeners.reference import nh_reference_nu
from simulator.constants import SAMPLE_RATE
from simulator.data.alignment import apply_alignment
from simulator.data.recording_types import AnimalRecording

__all__ = ["AnimalFit", "fit_animal"]


@dataclass
class AnimalFit:
    """Everything measured when fitting one animal (losses in nats per channel-bin)."""

    animal_id: str
    status: str
    fit_seconds: float
    target: FitResult
    bo: FitResult
    gradient: FitResult
    reference_loss: float
    feve: dict[str, float] = field(default_factory=dict)
    objective: NuFitObjective | None = None
    realigned: bool = False
    animal: AnimalRecording | None = None

    @property
    def target_loss(self) -> float:
        return self.target.loss

    def row(self) -> dict[str, float | str | int | bool]:
        """Flat summary (for tables)."""
        return {
            "animal": self.animal_id,
            "status": self.status,
            "fit_audio_s": round(self.fit_seconds, 1),
            "target_loss": self.target.loss,
            "nh_ref_loss": self.reference_loss,
            "bo_evals": self.bo.evaluations,
            "bo_reached": self.bo.reached,
            "bo_loss": self.bo.loss,
            "grad_evals": self.gradient.evaluations,
            "grad_reached": self.gradient.reached,
            "grad_loss": self.gradient.loss,
            "realigned": self.realigned,
            **{f"feve_{k}": v for k, v in self.feve.items()},
        }


def fit_animal(
    model: nn.Module,
    animal: AnimalRecording,
    n_init: int = 8,
    max_evals: int = 40,
    tol: float = 0.02,
    seed: int = 0,
    seconds_per_sound: float = 15.0,
    max_hours: float = 2.0,
    target_steps: int = 40,
    target_starts: int = 2,
    grad_steps: int = 40,
    grad_method: str = "lbfgs",
    subset: AnimalRecording | None = None,
    realign: bool = True,
    progress: bool = False,
) -> AnimalFit:
    """Fit nu to an (aligned) animal recording with the model frozen.

    Args:
        model: trained nu-ICNet.
        animal: the animal's recordings in the model's channel order, with held-out two-trial test sounds.
        n_init: Sobol start points of the BO.
        max_evals: evaluation budget of BO and of the gradient fit.
        tol: the relative stopping tolerance (0.02).
        seed: seeds Sobol, the acquisition optimiser and the extra target starts.
        seconds_per_sound, max_hours: the fitting subset (ignored when ``subset`` is given).
        target_steps: loss evaluations of each L-BFGS target run.
        target_starts: target runs (>= 1): the NH reference nu, the cube centre, then seeded uniform points.
        grad_steps: maximum evaluations of the gradient fit.
        grad_method: ``"lbfgs"`` or ``"adam"`` (:func:`listeners.gradient_fit.gradient_fit`).
        subset: the fitting data (e.g. from ``simulator.data.dataset.subset_recording``); default from ``animal``.
        realign: refine the channel alignment by maximum likelihood at the target nu (module docstring).
        progress: a tqdm bar over the fit's phases (target, realignment, BO, gradient fit, held-out FEVE), each
            naming itself while it runs (a fit of the bundled model takes minutes on a CPU).

    Returns:
        the :class:`AnimalFit`; its ``animal`` is the recording in the channel order used (re-aligned or as given).
    """
    data = subset if subset is not None else recording_subset(animal, seconds_per_sound, max_hours)
    objective = NuFitObjective(model, data.sounds)
    ref_nu = nh_reference_nu(model)
    rng = np.random.default_rng([seed, 99])
    starts = np.vstack(
        [ref_nu, np.full(ref_nu.size, 0.5), rng.uniform(0.1, 0.9, (max(target_starts - 2, 0), ref_nu.size))]
    )
    phases = _Phases(4 + bool(realign), f"fitting {animal.animal_id}", progress)
    with phases:
        objective.on_evaluate = phases.count
        phases.start("target loss (multi-start L-BFGS)")
        target = target_loss(objective, starts[:target_starts], steps=target_steps)
        realigned = False
        if realign:
            phases.start("channel realignment")
            found = _realigned(model, animal, data, target, starts[0], target_steps, tol, phases.count)
            if found is not None:
                animal, data, objective, target, realigned = *found, True
        reference_loss = float(objective.losses(ref_nu[None])[0])
        phases.start("Bayesian optimisation")
        bo = bo_fit(objective, n_init=n_init, max_evals=max_evals, target=target.loss, tol=tol, seed=seed)
        phases.start("gradient fit")
        grad = gradient_fit(
            objective, ref_nu, steps=min(grad_steps, max_evals), target=target.loss, tol=tol, method=grad_method
        )
        phases.start("held-out FEVE")
        fits = {"bo": bo, "gradient": grad, "target": target}
        feve = {name: heldout_feve(model, animal, fit.nu)[0] for name, fit in fits.items()}
        objective.on_evaluate = None
    seconds = sum(s.audio.shape[0] for s in data.sounds) / SAMPLE_RATE
    return AnimalFit(
        animal.animal_id, animal.hearing_status, seconds, target, bo, grad, reference_loss, feve, objective,
        realigned, animal,
    )  # fmt: skip


def _realigned(
    model: nn.Module,
    animal: AnimalRecording,
    data: AnimalRecording,
    target: FitResult,
    ref_nu: np.ndarray,
    target_steps: int,
    tol: float,
    on_evaluate: Callable[[int], None] | None = None,
) -> tuple[AnimalRecording, AnimalRecording, NuFitObjective, FitResult] | None:
    """The maximum-likelihood channel realignment at the target nu when it lowers the target loss by more than ``tol``
    (relative): ``(animal, data, objective, target)`` realigned, else None (the given order stays)."""
    perm = likelihood_permutation(model, data, target.nu)
    if np.array_equal(perm, np.arange(perm.size)):
        return None
    new_data = apply_alignment(data, perm)
    new_objective = NuFitObjective(model, new_data.sounds)
    new_objective.on_evaluate = on_evaluate
    new_target = target_loss(new_objective, np.vstack([target.nu, ref_nu]), steps=target_steps)
    if new_target.loss < target.loss - tol * abs(target.loss):
        return apply_alignment(animal, perm), new_data, new_objective, new_target
    return None


class _Phases:
    """A tqdm bar over the phases of one fit; its postfix names the phase running and counts its loss evaluations
    (one every few seconds with the bundled model on a CPU), so a phase of minutes still shows it is moving."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.bar = tqdm(total=total, desc=desc, unit="phase", disable=not enabled)
        self.name, self.evaluations = "", 0

    def start(self, name: str) -> None:
        if self.name:
            self.bar.update()
        self.name, self.evaluations = name, 0
        self.bar.set_postfix_str(name)

    def count(self, n: int) -> None:
        self.evaluations += n
        self.bar.set_postfix_str(f"{self.name}: {self.evaluations} loss evaluations")

    def __enter__(self) -> _Phases:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.name and exc[0] is None:
            self.bar.update()
        self.bar.close()
