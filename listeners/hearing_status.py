"""Who counts as a normal-hearing listener: NH in the audiogram AND in the neural response (the one home of the rule).

A normal audiogram (:func:`simulator.severity.severity_stratum` says "NH": PTA below 20 dB HL, every threshold within
10 dB of the NH reference) is not enough. A listener can detect tones like normal hearing yet respond to supra-threshold
sound unlike any normal-hearing animal the model was trained on (a hidden, supra-threshold loss); gain then moves its
response towards the NH reference, as it does for an impaired listener. So a listener with a normal audiogram counts as
NH only if its unaided response also lies within the NH training animals' range:

    u(nu) = mean_s D_s(nu) / D_0,s  <=  u_NH = max_{k in NH animals} u(nu_bar_k)                                (1)

with D_s(nu) the channel-weighted L1 distance (expected spikes per bin, averaged over bins; channel weights from
``model.metadata["channel_weights"]`` or uniform) between the listener's response to probe sound s and the NH
reference's, and D_0,s the NH reference's distance to silence (the whole response the sound evokes): the fleet's
fidelity distance and benefit scale, both computed by :func:`simulator.metrics.response_distance` (eqs. (D2), (D3)
there), as ``compensation.objective`` and ``compensation.benefit`` compute them. The probe sounds are the
default fleet's evaluation sounds (:data:`PROBE_CLASSES`, 0.5 s at 65 dB SPL, corpus seed 0), so the default fleet
report's per-listener check (its NH section, ``d_unaided_nh_animal``) reads the same range.

A listener with a normal audiogram whose response lies beyond the range is classed ``"slight"`` (the class of a PTA
below 20 dB HL that hides a loss: here a supra-threshold one), never ``"NH"``, so every NH listener in a cohort summary,
a fleet report or an environment episode is NH in both audiogram and response.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from simulator.errors import CheckpointError
from simulator.metrics import response_channel_weights, response_distance
from simulator.model.animals import animal_nus, nh_animal_indices, nh_reference_nu
from simulator.severity import severity_stratum

__all__ = ["HIDDEN_LOSS_STRATUM", "PROBE_CLASSES", "hearing_stratum", "nh_response_limit", "unaided_response_distance"]

PROBE_CLASSES: tuple[str, ...] = ("speech", "speech_in_noise")
"""Corpus classes of the probe sounds (one sound each, ``[0, class index, 0]`` corpus seed, 0.5 s, 65 dB SPL)."""
PROBE_DURATION_S: float = 0.5
PROBE_LEVEL_DB_SPL: float = 65.0
HIDDEN_LOSS_STRATUM: str = "slight"
"""The class of a listener with a normal audiogram whose response lies beyond the NH animals' range."""

_CACHE_ATTR = "_hearloop_nh_response"


class _Probe:
    """The probe sounds, the NH reference's response to them, D_0 and the channel weights (per model)."""

    def __init__(self, model: nn.Module) -> None:
        from simulator.data.corpus import synthesise

        audio = [synthesise(c, [0, i, 0], PROBE_DURATION_S, PROBE_LEVEL_DB_SPL).audio
                 for i, c in enumerate(PROBE_CLASSES)]  # fmt: skip
        self.model = model
        self.sounds = torch.tensor(np.stack(audio), dtype=torch.float32, device=model.device)  # S x samples, Pa
        self.weights = response_channel_weights(model).to(model.device)  # C
        self.reference_nu = nh_reference_nu(model)
        self.target = self._response(self.sounds, np.atleast_2d(self.reference_nu))  # 1 x S x C x T x 5
        silence = self._response(torch.zeros_like(self.sounds), np.atleast_2d(self.reference_nu))
        self.scale = self._distance(silence)  # 1 x S: D_0 per sound

    @torch.no_grad()
    def _response(self, sounds: torch.Tensor, nus: np.ndarray) -> torch.Tensor:
        """Responses ``N x S x channels x bins x 5`` of ``N`` listeners (``nus`` N x D) hearing every sound."""
        n, s = nus.shape[0], sounds.shape[0]
        nu_t = torch.as_tensor(nus, dtype=torch.float32, device=self.model.device).repeat_interleave(s, dim=0)
        probs = self.model.predict(sounds.repeat(n, 1), nu_t, grad=False)
        return probs.reshape(n, s, *probs.shape[1:])

    def _distance(self, response: torch.Tensor) -> torch.Tensor:
        """Channel-weighted L1 distance ``N x S`` of responses to the reference's (eq. (D2) of simulator.metrics)."""
        return response_distance(self.target, response, self.weights, "l1").double()

    def unaided(self, nus: np.ndarray) -> np.ndarray:
        """Eq. (1)'s u(nu) of ``N`` listeners -> ``N`` float64."""
        return (self._distance(self._response(self.sounds, nus)) / self.scale).mean(-1).cpu().numpy()


def _probe(model: nn.Module) -> tuple[_Probe, float]:
    """The model's cached probe and NH range u_NH (recomputed when its NH animals or their nu change)."""
    nh = nh_animal_indices(model)
    nus = np.asarray(animal_nus(model))[nh]
    key = (tuple(nh), nus.tobytes())
    cached = getattr(model, _CACHE_ATTR, None)
    if cached is None or cached[0] != key:
        probe = _Probe(model)
        cached = (key, probe, float(probe.unaided(nus).max()))
        setattr(model, _CACHE_ATTR, cached)
    return cached[1], cached[2]


def unaided_response_distance(model: nn.Module, nus: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """u(nu) of eq. (1) for ``N x D`` (or ``D``) nu: the unaided distance to the NH reference over D_0 -> ``N``.

    Raises:
        CheckpointError: the model lists no NH training animal (no NH reference).
    """
    probe, _ = _probe(model)
    return probe.unaided(np.atleast_2d(np.asarray(nus, dtype=np.float64)))


def nh_response_limit(model: nn.Module) -> float:
    """u_NH of eq. (1): the largest unaided distance over D_0 of the model's NH training animals (at their nu)."""
    return _probe(model)[1]


def hearing_stratum(
    model: nn.Module, nu: Sequence[float] | np.ndarray, pta_db_hl: float, thresholds_db_hl: Sequence[float] | np.ndarray
) -> str:
    """Severity class of a listener by audiogram and response (module docstring): :func:`severity_stratum` of the
    audiogram, with a normal audiogram whose response lies beyond the NH animals' range classed
    :data:`HIDDEN_LOSS_STRATUM`. The response is computed only for a normal audiogram, and only for a model whose
    metadata names its NH training animals (a model without them, e.g. an untrained test model, has no NH range: its
    listeners are classed by audiogram alone).

    Args:
        model: the listener's nu-ICNet (its metadata names the NH training animals).
        nu: ``D`` the listener's conditioning.
        pta_db_hl: four-frequency PTA, dB HL.
        thresholds_db_hl: the audiogram, dB HL.
    """
    stratum = severity_stratum(pta_db_hl, thresholds_db_hl)
    if stratum != "NH" or not _records_nh_animals(model):
        return stratum
    return HIDDEN_LOSS_STRATUM if float(unaided_response_distance(model, nu)[0]) > nh_response_limit(model) else "NH"


def _records_nh_animals(model: nn.Module) -> bool:
    """Does the model's metadata name NH training animals (without them there is no NH range to compare with)?"""
    try:
        nh_animal_indices(model)
    except CheckpointError:
        return False
    return True
