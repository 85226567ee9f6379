"""ICNet baselines: single-branch (one animal) and multi-branch (shared encoder, one decoder per animal).

Drakopoulos et al. (2025), as summarised by [Pellatt2025]_ ("Related Work"): "the convolutional encoder is used to
extract salient features from an input sound which are then interpreted by a pointwise 1-D convolutional decoder to
predict a five class categorical distribution over the number of spikes", and "a multi-branch architecture ... using a
shared sound encoder network with a 64 channel bottleneck ... and unique decoders for each animal".

The encoder is :class:`simulator.model.encoder.Encoder`, with the same parameter names as in nu-ICNet, so an ICNet
trained on NH animals initialises the nu-ICNet encoder (paper: "The encoders for all models were initialised with
weights from an ICNet model"): ``nuicnet.encoder.load_state_dict(icnet.encoder.state_dict())``.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from simulator.constants import CONTEXT_BINS, DOWNSAMPLE, N_CLASSES
from simulator.errors import HearloopInputError
from simulator.model.combination import DEFAULT_COUNT_PRIOR, class_softmax, prior_logits
from simulator.model.config import ModelConfig
from simulator.model.encoder import Encoder
from simulator.validation import validate_audio

__all__ = ["ICNet"]


class ICNet(nn.Module):
    """ICNet with ``n_animals`` pointwise decoder branches (1 for the single-branch model).

    Args:
        config: a :class:`simulator.model.config.ModelConfig` of kind ``"icnet"`` or ``"multibranch_icnet"``.

    Attributes:
        n_params: 0 (no conditioning), n_channels: C, n_animals: number of branches, config.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.n_params = 0
        self.n_channels = int(config.n_channels)
        self.n_animals = int(config.n_animals)
        self.latent_channels = int(config.bottleneck_channels)
        self.encoder = Encoder(config)
        out = self.n_channels * N_CLASSES
        bound = 1.0 / math.sqrt(self.latent_channels)  # nn.Conv1d's default initialisation, per branch
        self.branch_weight = nn.Parameter(
            torch.empty(self.n_animals, out, self.latent_channels).uniform_(-bound, bound)
        )
        self.branch_bias = nn.Parameter(torch.empty(self.n_animals, out))
        self.set_output_prior(DEFAULT_COUNT_PRIOR)

    def set_output_prior(self, probs) -> None:
        """Set every branch's bias to the log of spike-count class frequencies (``5`` or ``channels x 5``)."""
        with torch.no_grad():
            self.branch_bias.copy_(prior_logits(probs, self.n_channels).reshape(1, -1).expand_as(self.branch_bias))

    @property
    def device(self) -> torch.device:
        return self.branch_weight.device

    def _branches(self, animal_idx: int | torch.Tensor, batch: int) -> torch.Tensor:
        idx = torch.as_tensor(animal_idx, dtype=torch.long, device=self.device)
        if idx.dim() == 0:
            idx = idx.expand(batch)
        if idx.shape != (batch,):
            raise HearloopInputError(f"animal_idx must be an int or have shape ({batch},); got {tuple(idx.shape)}")
        if int(idx.min()) < 0 or int(idx.max()) >= self.n_animals:
            raise HearloopInputError(f"animal_idx must lie in 0..{self.n_animals - 1}; got {idx.tolist()}")
        return idx

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """``batch x samples`` Pa -> latent ``batch x latent_channels x samples // 32``."""
        return self.encoder(validate_audio(audio, min_samples=DOWNSAMPLE).to(self.device))

    def decode_branch(self, latent: torch.Tensor, animal_idx: int | torch.Tensor, crop_bins: int = 0) -> torch.Tensor:
        """Decode ``batch x latent_channels x bins`` with each item's branch -> logits ``batch x C x bins' x 5``."""
        if latent.dim() != 3 or latent.shape[1] != self.latent_channels:
            raise HearloopInputError(f"latent must be (batch, {self.latent_channels}, bins); got {tuple(latent.shape)}")
        if not 0 <= int(crop_bins) < latent.shape[-1]:
            raise HearloopInputError(f"crop_bins={crop_bins} must be >= 0 and leave bins ({latent.shape[-1]} bins)")
        idx = self._branches(animal_idx, latent.shape[0])
        z = latent[..., int(crop_bins) :]
        w, b = self.branch_weight[idx], self.branch_bias[idx]  # batch x out x latent, batch x out
        y = torch.baddbmm(b.unsqueeze(-1), w, z)  # batch x (C * 5) x bins
        return y.view(z.shape[0], self.n_channels, N_CLASSES, z.shape[-1]).transpose(2, 3)

    def forward_branch(
        self, audio: torch.Tensor, animal_idx: int | torch.Tensor = 0, crop_bins: int = 0
    ) -> torch.Tensor:
        """Logits ``batch x C x (samples // 32 - crop_bins) x 5`` of branch ``animal_idx`` (int or ``batch``)."""
        return self.decode_branch(self.encode(audio), animal_idx, crop_bins)

    def forward_animals(
        self,
        audio: torch.Tensor,
        animal_idx: int | torch.Tensor,
        hours: float | torch.Tensor | None = None,
        sample: bool = False,
        generator: torch.Generator | None = None,
        crop_bins: int = CONTEXT_BINS,
    ) -> torch.Tensor:
        """Same signature as :meth:`simulator.model.nuicnet.NuICNet.forward_animals`; ``hours``/``sample`` are
        ignored."""
        return self.forward_branch(audio, animal_idx, crop_bins)

    def forward(self, audio: torch.Tensor, animal_idx: int | torch.Tensor = 0, **kwargs) -> torch.Tensor:
        """Alias of :meth:`forward_animals`."""
        return self.forward_animals(audio, animal_idx, **kwargs)

    def predict(
        self, audio: torch.Tensor, animal_idx: int | torch.Tensor = 0, grad: bool | None = None
    ) -> torch.Tensor:
        """Probabilities ``batch x C x samples // 32 x 5`` of branch ``animal_idx`` (no_grad unless training or
        ``audio`` requires grad, as in :meth:`simulator.model.nuicnet.NuICNet.predict`)."""
        if grad is None:
            grad = self.training or (isinstance(audio, torch.Tensor) and audio.requires_grad)
        with torch.set_grad_enabled(bool(grad) and torch.is_grad_enabled()):
            return class_softmax(self.forward_branch(audio, animal_idx))

    def loss_terms(self, hours=None) -> dict[str, None]:
        """No conditioning: no KL and no clustering terms."""
        return {"s": None, "nu_means": None, "means": None}

    def extra_repr(self) -> str:
        return f"preset={self.config.preset!r}, branches={self.n_animals}, C={self.n_channels}"
