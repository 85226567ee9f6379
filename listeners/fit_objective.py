"""The loss of a candidate nu on a new animal's recordings, with nu-ICNet frozen ([Pellatt2025]_, "Fitting nu").

To place a new animal in nu space the network weights stay fixed and only nu is searched. The loss is the model's
training loss without the conditioning terms: the mean cross-entropy (nats per channel-bin) of the predicted 0..4
spike-count distribution against the recorded counts, over a short data subset (the paper uses 15 s of every training
sound presented in the first 2 hours; :func:`recording_subset` / ``simulator.data.dataset.subset_recording``).

Every sound is encoded once (the encoder and the latent half of the first combination layer do not depend on nu); a
loss evaluation only re-runs the conditioned rest of the decoder, so Bayesian optimisation, gradient descent and
loss-surface maps share the cached work. Held-out quality is the covariance-weighted FEVE (:mod:`simulator.metrics`)
of the expected count on the animal's two-trial test sounds.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simulator.constants import DOWNSAMPLE, N_CLASSES, SAMPLE_RATE
from simulator.data.recording_types import AnimalRecording, SoundRecording
from simulator.errors import HearloopInputError
from simulator.evaluation.evaluate import score_sound

__all__ = ["FIT_WINDOW_HOURS", "NuFitObjective", "heldout_feve", "recording_subset"]

FIT_WINDOW_HOURS: float = 2.0
"""The fitting window: nu of a new animal is fitted on training sounds presented in its first 2 recording hours."""


def recording_subset(
    animal: AnimalRecording, seconds_per_sound: float = 15.0, max_hours: float = FIT_WINDOW_HOURS
) -> AnimalRecording:
    """In-memory twin of ``simulator.data.dataset.subset_recording``: the first ``seconds_per_sound`` of every training
    sound presented at ``hours <= max_hours`` (test sounds are dropped)."""
    if seconds_per_sound <= 0:
        raise HearloopInputError(f"seconds_per_sound must be > 0, got {seconds_per_sound}")
    n_keep = int(seconds_per_sound * SAMPLE_RATE) // DOWNSAMPLE * DOWNSAMPLE
    sounds = []
    for s in animal.sounds:
        if s.split != "train" or s.hours > max_hours:
            continue
        stop = min(n_keep, s.audio.shape[0] // DOWNSAMPLE * DOWNSAMPLE)
        sounds.append(replace(s, audio=s.audio[:stop], counts=s.counts[:, :, : stop // DOWNSAMPLE]))
    if not sounds:
        raise HearloopInputError(
            f"animal {animal.animal_id!r} has no training sound presented before {max_hours} h to fit nu on"
        )
    return replace(animal, sounds=sounds)


class NuFitObjective:
    """Cross-entropy loss of nu on an animal's recorded sounds, the model frozen; latents are cached.

    Args:
        model: a trained nu-ICNet (put in eval mode; its weights are never changed).
        sounds: recorded sounds in the model's (aligned) channel order; the first trial of each is used.
        channel_weights: optional ``channels`` weights of the mean (None: plain mean, the training loss).

    Calling the objective with ``nu`` (``B x D`` or ``D``, in [0, 1]) returns ``B`` losses (nats per channel-bin);
    it is differentiable with respect to ``nu`` when called with a tensor that requires grad. ``evaluations`` counts
    the nu vectors evaluated so far; ``on_evaluate``, when set, is called with the number of nu vectors of every call
    (progress display; :meth:`losses` included).
    """

    def __init__(
        self, model: nn.Module, sounds: Sequence[SoundRecording], channel_weights: Sequence[float] | None = None
    ) -> None:
        if not sounds:
            raise HearloopInputError("a nu-fitting objective needs at least one recorded sound")
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.n_params = int(model.n_params)
        groups: dict[int, list[SoundRecording]] = {}
        for s in sounds:
            if s.counts.shape[1] != model.n_channels:
                raise HearloopInputError(
                    f"sound {s.name!r} has {s.counts.shape[1]} channels but the model has {model.n_channels}"
                )
            groups.setdefault(s.audio.shape[0] // DOWNSAMPLE * DOWNSAMPLE, []).append(s)
        self._batches: list[tuple[torch.Tensor, torch.Tensor]] = []
        with torch.no_grad():
            for n, group in groups.items():
                audio = torch.as_tensor(np.stack([s.audio[:n] for s in group]), dtype=torch.float32)
                counts = torch.as_tensor(np.stack([s.counts[0, :, : n // DOWNSAMPLE] for s in group]).astype(np.int64))
                # the encoder and the listener-independent half of combination layer 0 do not depend on nu:
                # computed once here, an evaluation only runs the nu-dependent rest of ``model.decode``
                shared, _ = model.combiner.shared(model.encode(audio))
                self._batches.append((shared, counts.to(model.device)))
        self.n_bins = int(sum(c.numel() for _, c in self._batches))
        w = None if channel_weights is None else torch.as_tensor(channel_weights, dtype=torch.float32)
        if w is not None and (w.shape != (model.n_channels,) or bool((w < 0).any()) or not float(w.sum()) > 0):
            raise HearloopInputError(f"channel_weights must be {model.n_channels} non-negative weights, not all zero")
        self.channel_weights = None if w is None else (w / w.sum()).to(model.device)
        self.evaluations = 0
        self.on_evaluate: Callable[[int], None] | None = None

    def _one(self, nu: torch.Tensor) -> torch.Tensor:
        total = nu.new_zeros(())
        m = self.model
        bias = m.combiner.listener_bias(m.expander(nu.reshape(1, -1)))  # split form of model.decode
        for shared, counts in self._batches:
            logits = m.decoder(m.combiner.finish(shared, bias)[0])  # S x C x T x 5, one nu broadcast over sounds
            ce = F.cross_entropy(logits.reshape(-1, N_CLASSES), counts.reshape(-1), reduction="none")
            ce = ce.view(counts.shape)
            if self.channel_weights is None:
                total = total + ce.sum()
            else:
                total = total + (ce.sum(dim=(0, 2)) * self.channel_weights).sum() * counts.shape[1]
        return total / self.n_bins

    def __call__(self, nu: torch.Tensor | np.ndarray | Sequence[float]) -> torch.Tensor:
        nu_t = torch.as_tensor(nu, dtype=torch.float32, device=self.model.device)
        nu_t = nu_t.reshape(1, -1) if nu_t.dim() == 1 else nu_t
        if nu_t.dim() != 2 or nu_t.shape[1] != self.n_params:
            raise HearloopInputError(f"nu must be B x {self.n_params}; got shape {tuple(nu_t.shape)}")
        if not bool(torch.isfinite(nu_t).all()) or bool((nu_t < 0).any()) or bool((nu_t > 1).any()):
            raise HearloopInputError("nu must be finite and lie in [0, 1]")
        self.evaluations += nu_t.shape[0]
        out = torch.stack([self._one(row) for row in nu_t])
        if self.on_evaluate is not None:
            self.on_evaluate(nu_t.shape[0])
        return out

    def losses(self, nus: np.ndarray) -> np.ndarray:
        """Losses of ``B x D`` nu values as float64 numpy (no gradient; does not count as fitting evaluations)."""
        before = self.evaluations
        with torch.no_grad():
            out = self(np.asarray(nus, dtype=np.float32)).double().cpu().numpy()
        self.evaluations = before
        return out


@torch.no_grad()
def heldout_feve(model: nn.Module, animal: AnimalRecording, nu: np.ndarray | Sequence[float]) -> tuple[float, list]:
    """FEVE of listener ``nu`` on the animal's held-out two-trial test sounds.

    Returns:
        ``(median FEVE over test sounds, per-sound :class:`simulator.evaluation.evaluate.SoundScore` list)``.
    """
    nu_t = torch.as_tensor(np.asarray(nu, dtype=np.float32)).reshape(1, -1)
    scores = []
    for s in animal.sounds:
        if s.split == "test":
            probs = model.predict(torch.as_tensor(s.audio[None], dtype=torch.float32), nu_t, grad=False)[0]
            scores.append(score_sound("nu-fit", animal, s, probs))
    if not scores:
        raise HearloopInputError(f"animal {animal.animal_id!r} has no held-out two-trial test sound")
    f = np.array([x.feve for x in scores], dtype=np.float64)
    return (float(np.nanmedian(f)) if np.isfinite(f).any() else float("nan")), scores
