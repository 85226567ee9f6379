"""nu-ICNet and ABRNet: the shared encoder, conditioning on nu, combination and the shared decoder.

[Pellatt2025]_ (Fig. 1 and 2). A listener is a point nu in [0, 1]^D. The forward pass is

    z = Encoder(audio)                              batch x bottleneck x bins       (listener-independent)
    f = NuExpander(nu)                              listeners x F                  (constant over time)
    h = Combiner([z; f])                            listeners x width x bins       (4 causal layers, kernel 16)
    logits = Decoder(crop(h))                       listeners x channels x bins x 5

``encode`` + ``decode`` is the shared-encoder path: one sound is encoded once and decoded for many listeners.
``forward_animals`` is the training forward for recorded animals (nu drawn from the variational conditioning, eq. 1).
ABRNet is the same network whose nu comes from each animal's ABR thresholds (no learned means, no noise).

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import torch
from torch import nn

from simulator.constants import CONTEXT_BINS, DOWNSAMPLE
from simulator.errors import HearloopInputError
from simulator.model.combination import ConditionedCombiner, NuExpander, PointwiseDecoder, class_softmax
from simulator.model.conditioning import ABRConditioning, VariationalConditioning
from simulator.model.config import ModelConfig
from simulator.model.encoder import Encoder
from simulator.validation import validate_audio, validate_nu

CPU_DECODE_LISTENER_BINS: int = 8192
"""On CPU, :meth:`NuICNet.decode` broadcasts a latent over at most ``max(CPU_DECODE_MIN_LISTENERS, this // bins)``
listeners per pass: one pass over many listeners overflows the caches (measured on 2 cores: 64 listeners x 5 s take
1.5x longer in one pass than in chunks; benchmarks/bench_simulator.py)."""
CPU_DECODE_MIN_LISTENERS: int = 4

__all__ = ["ABRNet", "NuICNet"]


def _check_crop(crop_bins: int, bins: int) -> int:
    crop_bins = int(crop_bins)
    if crop_bins < 0 or crop_bins >= max(bins, 1):
        raise HearloopInputError(f"crop_bins={crop_bins} must be >= 0 and leave bins (the input has {bins} bins)")
    return crop_bins


def _check_nu(nu: torch.Tensor, n_params: int) -> torch.Tensor:
    """Validate nu (``L x D`` or ``D``, in [0, 1]) without cutting its autograd graph; returns ``L x D`` float32."""
    if isinstance(nu, torch.Tensor) and nu.requires_grad:
        validate_nu(nu.detach(), n_params)
        return (nu.unsqueeze(0) if nu.dim() == 1 else nu).float()
    return validate_nu(nu, n_params)


class NuICNet(nn.Module):
    """The nu-ICNet midbrain model (see the module docstring).

    Args:
        config: the :class:`simulator.model.config.ModelConfig` (build one with
        :func:`simulator.model.factory.build_model`).

    Attributes:
        n_params: D, n_channels: C, n_animals: K, latent_channels: bottleneck width, config: the config.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.n_params = int(config.n_params)
        self.n_channels = int(config.n_channels)
        self.n_animals = int(config.n_animals)
        self.latent_channels = int(config.bottleneck_channels)
        self.encoder = Encoder(config)
        self.conditioning = self._make_conditioning(config)
        self.expander = NuExpander(self.n_params, config.cond_widths)
        self.combiner = ConditionedCombiner(config, self.expander.out_features)
        self.decoder = PointwiseDecoder(self.combiner.out_channels, self.n_channels)

    def _make_conditioning(self, config: ModelConfig) -> nn.Module:
        return VariationalConditioning(config.n_animals, config.n_params)

    @property
    def device(self) -> torch.device:
        return self.decoder.proj.weight.device

    # ----------------------------------------------------------------------------------------------- shared encoder
    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """Encode sound once, for any number of listeners.

        Args:
            audio: ``batch x samples`` in Pa at SAMPLE_RATE (at least 32 samples; trailing samples that do not fill
                a 32-sample bin are dropped).

        Returns:
            latent ``batch x latent_channels x samples // 32`` (64 channels for the paper preset).
        """
        audio = validate_audio(audio, min_samples=DOWNSAMPLE).to(self.device)
        return self.encoder(audio)

    def decode(self, latent: torch.Tensor, nu: torch.Tensor, crop_bins: int = 0) -> torch.Tensor:
        """Condition a latent on listeners and decode spike-count logits.

        Args:
            latent: ``1 or L x latent_channels x bins`` from :meth:`encode`. A batch-1 latent is broadcast over the L
                listeners (its listener-independent work is done once); otherwise latents and nu are paired.
            nu: ``L x D`` in [0, 1] (a ``D`` vector or batch 1 is broadcast over a batched latent).
            crop_bins: left-context bins to drop from the output (training frames use 64).

        Returns:
            logits ``L x channels x (bins - crop_bins) x 5``, a transposed view of a ``L x channels x 5 x bins``
            buffer; :func:`simulator.model.combination.class_softmax` turns it into probabilities ~4x faster than
            ``torch.softmax(logits, -1)``.
        """
        if latent.dim() != 3 or latent.shape[1] != self.latent_channels:
            raise HearloopInputError(
                f"latent must have shape (batch, {self.latent_channels}, bins); got {tuple(latent.shape)}"
            )
        nu = _check_nu(nu, self.n_params).to(self.device)
        b, n = latent.shape[0], nu.shape[0]
        if b not in (1, n) and n != 1:
            raise HearloopInputError(f"latent batch {b} and nu batch {n} must match, or one of them be 1")
        crop_bins = _check_crop(crop_bins, latent.shape[-1])
        shared, _ = self.combiner.shared(latent)
        bias = self.combiner.listener_bias(self.expander(nu))
        chunk = max(CPU_DECODE_MIN_LISTENERS, CPU_DECODE_LISTENER_BINS // max(1, latent.shape[-1]))
        if shared.shape[0] == 1 and bias.shape[0] > chunk and shared.device.type == "cpu":
            # One broadcast over many listeners is memory-bound on CPU; chunks of listeners give identical numbers.
            parts = [self.decoder(self.combiner.finish(shared, bias[i : i + chunk])[0][..., crop_bins:])
                     for i in range(0, bias.shape[0], chunk)]  # fmt: skip
            return torch.cat([p.transpose(-1, -2) for p in parts]).transpose(-1, -2)
        h, _ = self.combiner.finish(shared, bias)
        return self.decoder(h[..., crop_bins:])

    def predict(self, audio: torch.Tensor, nu: torch.Tensor, grad: bool | None = None) -> torch.Tensor:
        """Spike-count probabilities for sounds and listeners: ``softmax(decode(encode(audio), nu))``.

        Args:
            audio: ``B x samples`` Pa at SAMPLE_RATE.
            nu: ``B x D`` (paired), or ``L x D`` with B = 1 (one sound, many listeners), or ``1 x D`` / ``D``.
            grad: build the autograd graph? None (default): only when the model is training or ``audio``/``nu``
                requires grad (e.g. a compensation strategy optimised through the frozen model); otherwise the pass
                runs under ``torch.no_grad``.

        Returns:
            probabilities ``max(B, L) x channels x samples // 32 x 5``, summing to one over the last dimension.
        """
        if grad is None:
            grad = self.training or (isinstance(audio, torch.Tensor) and audio.requires_grad)
            grad = grad or (isinstance(nu, torch.Tensor) and nu.requires_grad)
        with torch.set_grad_enabled(bool(grad) and torch.is_grad_enabled()):
            logits = self.decode(self.encode(audio), nu)
            return class_softmax(logits)

    # --------------------------------------------------------------------------------------------- training forward
    def animal_nu(
        self,
        animal_idx: int | torch.Tensor,
        hours: float | torch.Tensor | None = None,
        sample: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """nu of recorded animals at recording time ``hours``: a reparameterised sample (``sample=True``) or the mean
        nu_bar, clamped to [0, 1]. ``batch x D``."""
        cond = self.conditioning
        nu = cond.sample_nu(animal_idx, hours, generator) if sample else cond.nu_mean(animal_idx, hours)
        return nu.clamp(0.0, 1.0)

    def forward_animals(
        self,
        audio: torch.Tensor,
        animal_idx: int | torch.Tensor,
        hours: float | torch.Tensor | None = None,
        sample: bool = True,
        generator: torch.Generator | None = None,
        crop_bins: int = CONTEXT_BINS,
    ) -> torch.Tensor:
        """Training forward pass for recorded animals.

        Args:
            audio: ``B x (context + frame)`` Pa, e.g. 2048 + 8192 samples.
            animal_idx: ``B`` animal indices (or one int for the whole batch). With ``B = 1`` it may list any number
                of animals that heard the same frame: the frame is then encoded once and decoded for each of them.
            hours: recording time of each frame in hours (scalar or ``B``; None: 0).
            sample: draw nu ~ N(nu_bar_k(t), diag(s_k^2)) (training) or use nu_bar_k(t) (evaluation).
            generator: random source of the sample.
            crop_bins: context bins cropped from the combined representation (64 for 2048 context samples).

        Returns:
            logits ``B x channels x (samples // 32 - crop_bins) x 5`` (256 bins for standard frames; B = len(animal_idx)
            for a broadcast frame).
        """
        audio = validate_audio(audio, min_samples=DOWNSAMPLE).to(self.device)
        idx = torch.as_tensor(animal_idx, dtype=torch.long, device=self.device)
        if idx.dim() == 0:
            idx = idx.expand(audio.shape[0])
        if idx.dim() != 1 or (audio.shape[0] != 1 and idx.shape[0] != audio.shape[0]):
            raise HearloopInputError(f"animal_idx must have shape ({audio.shape[0]},); got {tuple(idx.shape)}")
        nu = self.animal_nu(idx, hours, sample, generator)
        return self.decode(self.encoder(audio), nu, crop_bins=crop_bins)

    def forward(self, audio: torch.Tensor, animal_idx: int | torch.Tensor, **kwargs) -> torch.Tensor:
        """Alias of :meth:`forward_animals`."""
        return self.forward_animals(audio, animal_idx, **kwargs)

    def set_output_prior(self, probs: torch.Tensor) -> None:
        """Initialise the decoder bias from spike-count class frequencies (``5`` or ``channels x 5``)."""
        self.decoder.set_output_prior(probs)

    def loss_terms(self, hours: float | torch.Tensor | None = None) -> dict[str, torch.Tensor | None]:
        """Tensors the training loss needs: ``{"s": animals x D or None, "nu_means": animals x D, "means": mu}``."""
        cond = self.conditioning
        means = cond.means if isinstance(cond, VariationalConditioning) else None
        return {"s": cond.scales, "nu_means": cond.nu_bar(hours), "means": means}

    def nu_mean(self, animal_idx: int | torch.Tensor, hours: float | torch.Tensor | None = None) -> torch.Tensor:
        """nu_bar of training animals at ``hours`` (see :class:`VariationalConditioning`)."""
        return self.conditioning.nu_mean(animal_idx, hours)

    def sample_nu(self, animal_idx, hours=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """A reparameterised (unclamped) sample of nu for training animals."""
        return self.conditioning.sample_nu(animal_idx, hours, generator)

    def extra_repr(self) -> str:
        return f"preset={self.config.preset!r}, D={self.n_params}, C={self.n_channels}, K={self.n_animals}"


class ABRNet(NuICNet):
    """nu-ICNet whose nu is each animal's ABR thresholds mapped onto [0, 1] (D = number of ABR frequencies).

    Set the thresholds with ``model.set_abr_thresholds(animals x F dB SPL)``; ``forward_animals`` then uses them
    without noise (``sample`` and ``hours`` are ignored). For a new listener, pass :func:`abr_to_nu` of its
    thresholds to ``predict``.
    """

    def _make_conditioning(self, config: ModelConfig) -> nn.Module:
        return ABRConditioning(config.n_animals, config.n_params, config.abr_range_db)

    def set_abr_thresholds(self, thresholds_db: torch.Tensor) -> None:
        """Store the training animals' ABR thresholds, ``animals x F`` in dB SPL."""
        self.conditioning.set_thresholds(thresholds_db)

    def animal_nu(self, animal_idx, hours=None, sample=True, generator=None) -> torch.Tensor:
        return self.conditioning.nu_mean(animal_idx)
