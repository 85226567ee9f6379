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
:data:`~compensation.objective.DISTANCES` mean the same thing on both sides. Channels are weighted uniformly (every
generator channel is noise-free, so every channel is reliable).

The generator is not differentiable: ``response`` of an ``aided`` tensor that requires grad raises
:class:`GeneratorGradientError` (the HITL oracle and DNN training need the model objective). ``nu`` is accepted for
the interface and ignored: the animal is the listener.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import torch
from scipy.stats import binom
from torch import Tensor

from compensation.objective import DISTANCES
from simulator.constants import MAX_COUNT
from simulator.errors import HearloopInputError
from simulator.validation import validate_audio
from simulator.virtual_ic import AnimalParams, expected_response

__all__ = ["GeneratorFidelityObjective", "GeneratorGradientError", "nh_twin"]

_KL_FLOOR = 1e-8


class GeneratorGradientError(HearloopInputError):
    """A gradient was asked of the generator objective (the virtual-IC generator is not differentiable)."""


def _gammatone_nh_twin(params: AnimalParams) -> AnimalParams:
    """NH twin for a generator whose periphery is shared by every animal (only the profile carries the loss)."""
    from simulator.virtual_ic.hearing_profile import HearingProfile
    from simulator.virtual_ic.periphery import N_CF

    twin = copy.deepcopy(params)
    twin.animal_id = f"{params.animal_id}-NH"
    twin.profile = HearingProfile("NH", "normal", {"magnitude_db": 0.0}, np.zeros(N_CF), np.zeros(N_CF), 0.0, 0.0)
    twin.degradation.gain_loss = 0.0
    twin.degradation.drift_db = 0.0
    return twin


def nh_twin(params: AnimalParams) -> AnimalParams:
    """The animal with a normal cochlea and no central gain or degradation (same electrodes, units and periphery).

    Uses the generator's own twin (``simulator.virtual_ic.fidelity.nh_twin``) where the generator provides one (a
    periphery per animal must be rebuilt for the normal cochlea); otherwise the loss lives in the profile alone.
    """
    try:
        from simulator.virtual_ic.fidelity import nh_twin as generator_twin
    except ImportError:
        return _gammatone_nh_twin(params)
    return generator_twin(params)


def binomial_pmf(p: np.ndarray) -> np.ndarray:
    """``(...,)`` spike probabilities -> ``(..., MAX_COUNT + 1)`` pmf of ``Binomial(MAX_COUNT, p)``."""
    k = np.arange(MAX_COUNT + 1)
    return binom.pmf(k, MAX_COUNT, np.clip(p, 0.0, 1.0)[..., None])


class GeneratorFidelityObjective:
    """Distance between an animal's NH twin's response to clean sound and the animal's to aided sound, on the generator.

    Args:
        params: the animal's ground truth (:class:`simulator.virtual_ic.AnimalParams` or its ``to_dict()``, e.g. an
            ``AnimalRecording.ground_truth``).
        distance: one of :data:`~compensation.objective.DISTANCES`.
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
        if distance not in DISTANCES:
            raise HearloopInputError(f"unknown distance {distance!r}; supported: {', '.join(DISTANCES)}")
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

    def per_channel(self, clean: Tensor, aided: Tensor, nu: Any = None, target: Tensor | None = None) -> Tensor:
        """``B x channels`` distances averaged over bins (as the model objective's ``per_channel``)."""
        if clean.dim() != 2 or aided.dim() != 2 or clean.shape[-1] != aided.shape[-1]:
            raise HearloopInputError(
                f"clean and aided audio must be (batch, samples) of one length; got {tuple(clean.shape)} and "
                f"{tuple(aided.shape)}"
            )
        target = self.target(clean) if target is None else target
        pred = self.response(aided, nu)
        if target.shape[1:] != pred.shape[1:] or target.shape[0] not in (1, pred.shape[0]):
            raise HearloopInputError(f"target shape {tuple(target.shape)} does not match response {tuple(pred.shape)}")
        if self.distance == "kl":
            p = target.clamp_min(_KL_FLOOR)
            per_bin = (p * (p.log() - pred.clamp_min(_KL_FLOOR).log())).sum(-1)
        else:
            counts = torch.arange(MAX_COUNT + 1, dtype=torch.float32)
            diff = target @ counts - pred @ counts
            per_bin = diff.abs() if self.distance == "l1" else diff.square()
        return per_bin.mean(-1)

    def __call__(self, clean: Tensor, aided: Tensor, nu: Any = None, target: Tensor | None = None) -> Tensor:
        """Channel-weighted distance D, ``B`` values (arguments as :meth:`per_channel`)."""
        return self.per_channel(clean, aided, nu, target=target) @ self.channel_weights
