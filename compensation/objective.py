"""The neural-fidelity objective: how far a listener's midbrain response to aided sound is from normal hearing.

Implements the closed-loop criterion that both source papers point to as future work ([Pellatt2025]_, nu-ICNet,
"parametrised hearing compensation"): the nu-ICNet model, frozen, simulates the inferior-colliculus response of

* the NH reference listener (``reference_nu``, centre of the NH animals' learned nu) to the CLEAN sound: the target;
* the impaired listener (``nu``) to the AIDED sound -- what the hearing aid achieves;

and the objective is a channel-weighted distance between the two spike-count distributions ``channels x bins x 5``.
"Fidelity restored" = 1 - D(aided) / D(unaided): 0 for no benefit, 1 for a perfect restoration, negative when the aid
makes things worse.

Distances, per channel i and bin t, with p the 5-class count distribution and E[n] = sum_n n p(n) (eq. (4) of
[Pellatt2025]_), computed by :func:`simulator.metrics.response_distance` (eqs. (D1), (D2) there):

* ``"l1"``: |E_ref[n] - E_lis[n]| (spikes per bin), averaged over bins;
* ``"l2"``: (E_ref[n] - E_lis[n])^2 (spikes^2 per bin), averaged over bins;
* ``"kl"``: KL(p_ref || p_lis) in nats, averaged over bins (the categorical KL of the whole count distribution).

Channels are weighted by reliability w_i >= 0, sum w_i = 1 (the FEVE weights of eq. (4) of [Pellatt2025]_: the positive
two-trial covariance of each recorded channel), taken from the bundled model's ``metadata["channel_weights"]`` unless
given (:func:`simulator.metrics.response_channel_weights`).

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from simulator.errors import HearloopInputError
from simulator.metrics import (
    RESPONSE_DISTANCES,
    check_response_distance,
    response_channel_weights,
    response_distance,
    response_distance_per_channel,
)
from simulator.validation import validate_audio, validate_nu

__all__ = ["DISTANCES", "NeuralFidelityObjective", "fidelity_restored"]

DISTANCES: tuple[str, ...] = RESPONSE_DISTANCES
"""Supported distances between the reference and the listener's response."""


class NeuralFidelityObjective:
    """Channel-weighted distance between the NH reference's response to clean sound and a listener's to aided sound.

    Args:
        model: a frozen nu-ICNet (``simulator.load_model()``); it is put in eval mode, its weights are not changed.
        reference_nu: ``D`` conditioning of the NH reference listener, in [0, 1].
        distance: one of :data:`DISTANCES` (``"l1"``, ``"l2"``, ``"kl"``).
        channel_weights: ``C`` reliability weights; None takes ``model.metadata["channel_weights"]`` or uniform.

    Example:
        >>> obj = NeuralFidelityObjective(model, nh_reference(model).nu)
        >>> target = obj.target(clean)                       # once per sound batch
        >>> d_aided = obj(clean, strategy(clean, theta), nu, target=target)
        >>> d_unaided = obj(clean, clean, nu, target=target)
        >>> fidelity_restored(d_aided, d_unaided)
    """

    def __init__(
        self,
        model: nn.Module,
        reference_nu: Sequence[float] | np.ndarray | torch.Tensor,
        distance: Literal["l1", "l2", "kl"] = "l1",
        channel_weights: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        self.distance = check_response_distance(distance)
        self.model = model.eval()
        ref = torch.as_tensor(np.asarray(reference_nu, dtype=np.float32)).reshape(1, -1)
        self.reference_nu = validate_nu(ref, int(model.n_params)).to(model.device)
        self.channel_weights = response_channel_weights(model, channel_weights).to(model.device)

    # ---------------------------------------------------------------------------------------------------- responses
    def target(self, clean: torch.Tensor) -> torch.Tensor:
        """The NH reference listener's response to the clean sound (computed without grad; cache it per sound batch).

        Args:
            clean: ``B x samples`` in Pa at SAMPLE_RATE.

        Returns:
            probabilities ``B x channels x samples // 32 x 5``.
        """
        clean = validate_audio(clean, name="clean")
        return self.model.predict(clean, self.reference_nu.expand(clean.shape[0], -1), grad=False)

    def response(self, aided: torch.Tensor, nu: torch.Tensor | np.ndarray) -> torch.Tensor:
        """The listener's response to the aided sound; differentiable w.r.t. ``aided`` and ``nu``.

        Args:
            aided: ``B x samples`` Pa (may require grad).
            nu: ``B x D`` (paired with the sounds) or ``D`` / ``1 x D`` (one listener for every sound), in [0, 1].

        Returns:
            probabilities ``B x channels x samples // 32 x 5``.
        """
        if aided.dim() != 2:
            raise HearloopInputError(f"aided audio must have shape (batch, samples); got {tuple(aided.shape)}")
        if not bool(torch.isfinite(aided.detach()).all()):
            raise HearloopInputError("aided audio contains NaN or Inf")
        nu_t = nu if isinstance(nu, torch.Tensor) else torch.as_tensor(np.asarray(nu, dtype=np.float32))
        nu_t = nu_t.reshape(1, -1) if nu_t.dim() == 1 else nu_t
        if nu_t.shape[0] not in (1, aided.shape[0]):
            raise HearloopInputError(
                f"nu batch {nu_t.shape[0]} must be 1 or equal the audio batch {aided.shape[0]} (one nu per sound)"
            )
        nu_t = nu_t.to(self.model.device).float().expand(aided.shape[0], -1)
        return self.model.predict(aided, nu_t, grad=aided.requires_grad or nu_t.requires_grad)

    # ---------------------------------------------------------------------------------------------------- distances
    def _responses(
        self,
        clean: torch.Tensor,
        aided: torch.Tensor,
        nu: torch.Tensor | np.ndarray,
        target: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The NH target and the listener's response that the distances compare.

        Args:
            clean: ``B x samples`` (or ``1 x samples``, broadcast) clean sound (Pa), for the target when ``target`` is
                None.
            aided: ``B x samples`` aided sound (Pa), same length as ``clean``.
            nu: listener conditioning, ``B x D`` or ``D``.
            target: optional cached :meth:`target` of ``clean``.

        Returns:
            probabilities ``(B or 1) x channels x bins x 5`` (target) and ``B x channels x bins x 5`` (response).
        """
        if clean.dim() != 2 or clean.shape[-1] != aided.shape[-1] or clean.shape[0] not in (1, aided.shape[0]):
            raise HearloopInputError(
                "clean audio must have the aided audio's length and its batch (or batch 1); got "
                f"{tuple(clean.shape)} and {tuple(aided.shape)}"
            )
        target = self.target(clean) if target is None else target.to(self.model.device)
        pred = self.response(aided.to(self.model.device), nu)
        if target.shape[1:] != pred.shape[1:] or target.shape[0] not in (1, pred.shape[0]):
            raise HearloopInputError(f"target shape {tuple(target.shape)} does not match response {tuple(pred.shape)}")
        return target, pred

    def per_channel(
        self, clean: Tensor, aided: Tensor, nu: Tensor | np.ndarray, target: Tensor | None = None
    ) -> Tensor:
        """Distance of every channel, averaged over bins, channel weights not applied (eq. (D1) of
        :mod:`simulator.metrics`; arguments as :meth:`_responses`): ``B x channels`` (spikes/bin for l1, spikes^2/bin
        for l2, nats/bin for kl)."""
        return response_distance_per_channel(*self._responses(clean, aided, nu, target=target), self.distance)

    def __call__(self, clean: Tensor, aided: Tensor, nu: Tensor | np.ndarray, target: Tensor | None = None) -> Tensor:
        """Channel-weighted distance D (eq. (D2) of :mod:`simulator.metrics`): ``B`` values, differentiable w.r.t.
        ``aided`` and ``nu`` (arguments as :meth:`_responses`)."""
        return response_distance(*self._responses(clean, aided, nu, target=target), self.channel_weights, self.distance)


def fidelity_restored(
    d_aided: torch.Tensor | np.ndarray | float, d_unaided: torch.Tensor | np.ndarray | float
) -> torch.Tensor | np.ndarray | float:
    """Fidelity restored = 1 - D(aided) / D(unaided); elementwise for arrays and tensors.

    1 means the aided response matches the NH target exactly, 0 means no change from unaided, < 0 means worse.

    Raises:
        HearloopInputError: if an unaided distance is not positive (the listener already matches the target, so the
            ratio is undefined).
    """
    unaided = d_unaided.detach() if isinstance(d_unaided, torch.Tensor) else np.asarray(d_unaided)
    if bool((unaided <= 0).any()):
        raise HearloopInputError(
            "fidelity restored is undefined when the unaided distance d_unaided is 0 (the listener already matches the "
            "NH target)"
        )
    return 1.0 - d_aided / d_unaided
