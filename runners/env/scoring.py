"""Where the fitting environment scores a fit: through the model, or on the virtual-IC generator itself.

A :class:`Scoring` is everything the environment needs to score one listener's aided sound against its normal-hearing
reference: the objective, its NH targets and response scales D_0 on the whole corpus, the channel weights and the CF
bands of the per-band error summary.

* ``objective="model"`` (default): one :class:`ModelScoring` for every listener: the nu-ICNet
  (:class:`compensation.objective.NeuralFidelityObjective`) at the listener's nu against the NH reference nu; channel
  CFs estimated from the reference's tone responses (:mod:`runners.env.bands`).
* ``objective="generator"``: one :class:`GeneratorScoring` per listener, which must be a virtual-IC animal (a listener
  carrying a ``ground_truth``, e.g. ``runners.ground_truth.training_listeners``): the animal's own responses against
  its NH twin's (:class:`compensation.generator_objective.GeneratorFidelityObjective`), uniform channel weights and the
  animal's true channel CFs. The listener's audiogram estimate, loudness and comfort still come from the listener
  (the model at its nu); only the neural score moves to the generator. Cost: one generator response per sound row and
  step (the generator's own cost; on the BEZ2018 periphery seconds per second of sound), and the twin's targets and
  the unaided responses on the corpus once per listener.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

import torch

from runners.env.bands import ChannelBands, make_bands

__all__ = ["GeneratorScoring", "ModelScoring", "Scoring", "ground_truth_digest"]

CHUNK: int = 16
"""Sounds per objective call when filling the target / scale caches."""


def ground_truth_digest(ground_truth: Any) -> str:
    """A short stable digest of a ground truth (cache keys: two animals may share an id and a nu)."""
    text = json.dumps(ground_truth, sort_keys=True, default=repr)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


class Scoring(Protocol):
    """What the environment scores with (see the module docstring)."""

    objective: Any
    key: tuple
    channel_weights: torch.Tensor
    bands: ChannelBands

    def targets(self) -> torch.Tensor: ...

    def scales(self) -> torch.Tensor: ...


class ModelScoring:
    """The model objective shared by every listener (the fitting core keeps its targets and scales in the model's
    cache, so every environment on one model shares them)."""

    def __init__(self, core: Any, objective: Any, key: tuple, bands: ChannelBands) -> None:
        self.core = core
        self.objective = objective
        self.key = key
        self.channel_weights = objective.channel_weights
        self.bands = bands

    def targets(self) -> torch.Tensor:
        """NH reference responses to every corpus sound: ``sounds x C x T x 5`` (cached)."""
        return self.core.targets()

    def scales(self) -> torch.Tensor:
        """Response scale D_0 of every corpus sound: ``sounds`` (cached)."""
        return self.core.scales()


class GeneratorScoring:
    """One virtual-IC animal's generator objective on the corpus (targets and scales computed once, on first use).

    Args:
        ground_truth: the animal's ground truth (``listener.ground_truth``).
        corpus_audio: ``sounds x samples`` Pa, the environment's corpus.
        distance: objective distance.
        n_bands: CF bands of the error summary (at most the animal's channels).
        listener_key: the listener's cache key (``runners.env.listener_data.listener_key``).
    """

    def __init__(
        self, ground_truth: Any, corpus_audio: torch.Tensor, distance: str, n_bands: int, listener_key: str
    ) -> None:
        from compensation.generator_objective import GeneratorFidelityObjective

        self.objective = GeneratorFidelityObjective(ground_truth, distance=distance)
        self.key = ("generator", listener_key, ground_truth_digest(ground_truth), distance)
        self.channel_weights = self.objective.channel_weights
        self.bands = make_bands(self.objective.params.channel_cf_hz, self.channel_weights.numpy(), n_bands)
        self._audio = corpus_audio.detach().cpu()
        self._targets: torch.Tensor | None = None
        self._scales: torch.Tensor | None = None

    def targets(self) -> torch.Tensor:
        """The NH twin's responses to every corpus sound: ``sounds x C x T x 5``."""
        if self._targets is None:
            self._targets = torch.cat([self.objective.target(a) for a in self._audio.split(CHUNK)])
        return self._targets

    def scales(self) -> torch.Tensor:
        """D_0 of every corpus sound on the twin (its distance from its own response to silence): ``sounds``."""
        if self._scales is None:
            parts = zip(self._audio.split(CHUNK), self.targets().split(CHUNK), strict=True)
            self._scales = torch.cat([self.objective.response_scale(a, t) for a, t in parts])
        return self._scales
