"""The neural-fidelity objective scored on the generator itself: a virtual animal's own responses, not the model's.

:class:`~compensation.objective.NeuralFidelityObjective` asks the nu-ICNet model how far a listener's response to
aided sound is from the normal-hearing response to the clean sound. For a virtual-IC animal the generator
(:mod:`simulator.virtual_ic`) knows the answer exactly, and :class:`GeneratorFidelityObjective` computes it with the
same interface, so it can stand wherever the model objective does (HITL sessions, the fitting environment, strategy
and DNN evaluation) and the two can be compared strategy by strategy:

* the **target** is the response of the animal's **NH twin** to the clean sound: the same animal, electrodes, midbrain
  units and periphery model, with a normal cochlea, no central gain and no recording degradation;
* the **response** is the animal's own response to the aided sound (at recording time ``hours``).

The generator draws counts ``Binomial(4, p)`` per channel and 1.31 ms bin, so its exact response distribution is the
5-class binomial pmf of ``p`` (``B x channels x bins x 5``, the model's output format), and the three distances of
:data:`~simulator.metrics.RESPONSE_DISTANCES` mean the same thing on both sides. Channels are weighted uniformly (every
generator channel is noise-free, so every channel is reliable).

The generator is not differentiable: ``response`` of an ``aided`` tensor that requires grad raises
:class:`GeneratorGradientError` (the HITL oracle and DNN training need the model objective). ``nu`` is accepted for
the interface and ignored: the animal is the listener.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from scipy.stats import binom
from torch import Tensor

from simulator.constants import MAX_COUNT
from simulator.errors import HearloopInputError
from simulator.metrics import check_response_distance, response_distance, response_distance_per_channel
from simulator.validation import validate_audio
from simulator.virtual_ic import AnimalParams, expected_response, nh_twin

__all__ = [
    "OBJECTIVES",
    "GeneratorFidelityObjective",
    "GeneratorGradientError",
    "MissingGroundTruthError",
    "generator_objective_for",
    "nh_twin",
    "require_ground_truth",
]

OBJECTIVES: tuple[str, ...] = ("model", "generator")
"""Where fidelity is scored: through the nu-ICNet model (any listener) or on the virtual-IC generator (an animal)."""


class GeneratorGradientError(HearloopInputError):
    """A gradient was asked of the generator objective (the virtual-IC generator is not differentiable)."""


class MissingGroundTruthError(HearloopInputError):
    """The generator objective was asked for a listener that carries no virtual-IC ground truth (``ground_truth``)."""


def require_ground_truth(listeners: Sequence[Any]) -> None:
    """Check that every listener carries a generator ground truth (a non-empty ``ground_truth`` mapping).

    Only virtual-IC animals have one: training animals regenerated from a model's metadata
    (``runners.ground_truth``) and fresh animals (``listeners.unseen``); a listener sampled from the model's nu
    population is the model alone.

    Raises:
        MissingGroundTruthError: naming the first listener without one.
    """
    for listener in listeners:
        if not isinstance(getattr(listener, "ground_truth", None), Mapping) or not listener.ground_truth:
            raise MissingGroundTruthError(
                f"listener {getattr(listener, 'id', '?')!r} carries no virtual-IC ground truth: the generator "
                "objective scores an animal's own responses; use the model's training animals or fresh animals"
            )


def generator_objective_for(listener: Any, distance: str = "l1") -> GeneratorFidelityObjective:
    """The generator objective of one listener that carries a ground truth (:func:`require_ground_truth`)."""
    require_ground_truth([listener])
    return GeneratorFidelityObjective(listener.ground_truth, distance=distance)  # type: ignore[arg-type]


def binomial_pmf(p: np.ndarray) -> np.ndarray:
    """``(...,)`` spike probabilities -> ``(..., MAX_COUNT + 1)`` pmf of ``Binomial(MAX_COUNT, p)``."""
    k = np.arange(MAX_COUNT + 1)
    return binom.pmf(k, MAX_COUNT, np.clip(p, 0.0, 1.0)[..., None])


class GeneratorFidelityObjective:
    """Distance between an animal's NH twin's response to clean sound and the animal's to aided sound, on the generator.

    Args:
        params: the animal's ground truth (:class:`simulator.virtual_ic.AnimalParams` or its ``to_dict()``, e.g. an
            ``AnimalRecording.ground_truth``).
        distance: one of :data:`~simulator.metrics.RESPONSE_DISTANCES`.
        hours: recording time (h) of the animal's responses (degradation); the twin has none.

    Example:
        >>> obj = GeneratorFidelityObjective(animal.ground_truth)
        >>> target = obj.target(clean)
        >>> fidelity_restored(obj(clean, aided, None, target=target), obj(clean, clean, None, target=target))
    """

    def __init__(
        self,
        params: AnimalParams | Mapping[str, Any],
        distance: Literal["l1", "l2", "kl"] = "l1",
        hours: float = 0.0,
    ) -> None:
        check_response_distance(distance)
        if not (np.isfinite(hours) and hours >= 0):
            raise HearloopInputError(f"hours must be a non-negative number of hours; got {hours}")
        self.params = params if isinstance(params, AnimalParams) else AnimalParams.from_dict(dict(params))
        self.twin = nh_twin(self.params)
        self.distance = distance
        self.hours = float(hours)
        n = self.params.channels.n_channels
        self.channel_weights = torch.full((n,), 1.0 / n)

    @property
    def n_channels(self) -> int:
        return int(self.params.channels.n_channels)

    def _pmf(self, params: AnimalParams, audio: Tensor, hours: float) -> Tensor:
        x = audio.detach().cpu().double().numpy()
        p = np.stack([expected_response(params, row, hours) / MAX_COUNT for row in x])
        return torch.as_tensor(binomial_pmf(p), dtype=torch.float32)

    def target(self, clean: Tensor) -> Tensor:
        """The NH twin's response to ``clean`` (``B x samples`` Pa): pmf ``B x channels x samples // 32 x 5``."""
        return self._pmf(self.twin, validate_audio(clean, name="clean"), 0.0)

    def response(self, aided: Tensor, nu: Any = None) -> Tensor:
        """The animal's response to ``aided`` (``B x samples`` Pa): pmf ``B x channels x bins x 5`` (``nu`` ignored).

        Raises:
            GeneratorGradientError: ``aided`` requires grad.
        """
        if isinstance(aided, Tensor) and aided.requires_grad:
            raise GeneratorGradientError(
                "the generator objective has no gradient; use compensation.objective.NeuralFidelityObjective"
            )
        return self._pmf(self.params, validate_audio(aided, name="aided"), self.hours)

    def _responses(self, clean: Tensor, aided: Tensor, nu: Any, target: Tensor | None) -> tuple[Tensor, Tensor]:
        """The NH twin's target and the animal's response, pmfs ``B x channels x bins x 5`` (after the checks)."""
        if clean.dim() != 2 or aided.dim() != 2 or clean.shape[-1] != aided.shape[-1]:
            raise HearloopInputError(
                f"clean and aided audio must be (batch, samples) of one length; got {tuple(clean.shape)} and "
                f"{tuple(aided.shape)}"
            )
        target = self.target(clean) if target is None else target
        pred = self.response(aided, nu)
        if target.shape[1:] != pred.shape[1:] or target.shape[0] not in (1, pred.shape[0]):
            raise HearloopInputError(f"target shape {tuple(target.shape)} does not match response {tuple(pred.shape)}")
        return target, pred

    def per_channel(self, clean: Tensor, aided: Tensor, nu: Any = None, target: Tensor | None = None) -> Tensor:
        """``B x channels`` distances averaged over bins (as the model objective's ``per_channel``: eq. (D1) of
        :mod:`simulator.metrics`)."""
        return response_distance_per_channel(*self._responses(clean, aided, nu, target), self.distance)

    def response_scale(self, clean: Tensor, target: Tensor | None = None) -> Tensor:
        """Response scale D_0 of each clean sound (``B``): the NH twin's distance from its own response to silence,
        the generator's counterpart of :func:`compensation.benefit.response_scale` (``target``: cached
        :meth:`target` of ``clean``)."""
        target = self.target(clean) if target is None else target
        silence = self._pmf(self.twin, torch.zeros_like(validate_audio(clean, name="clean")), 0.0)
        return response_distance(target, silence, self.channel_weights, self.distance)

    def __call__(self, clean: Tensor, aided: Tensor, nu: Any = None, target: Tensor | None = None) -> Tensor:
        """Channel-weighted distance D, ``B`` values (arguments as :meth:`per_channel`; eq. (D2) of
        :mod:`simulator.metrics`)."""
        return response_distance(*self._responses(clean, aided, nu, target), self.channel_weights, self.distance)
