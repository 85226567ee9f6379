"""Combination of the shared latent with the listener's nu, and the shared pointwise decoder of nu-ICNet.

[Pellatt2025]_ (Fig. 1): "A three layer convolutional network ... expands nu into a feature map, which is concatenated
with [the bottleneck]. A further 4 convolutional layers containing progressively fewer kernels of size 16 then combine
the shared and animal-specific features ... This produces an individualised representation, which is cropped to remove
context. The decoder is shared between animals and outputs a categorical probability distribution over the number of
spike counts at each channel and timestep."

nu is constant over time, so its feature map f (``F`` channels) is the same at every bin, including the bins of the
left padding: padding applies to the sound pathway only (the listener's condition does not start with the sound). The
first combination layer over the concatenation [z; f] therefore splits exactly into

    W * [z; f] + b = W_z * z  +  (sum_k W_f[:, :, k]) f + b,

a causal convolution of the latent that is the same for every listener (computed once per sound, even when decoding
for many listeners) plus a per-listener constant. The layers after it run per listener.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from simulator.constants import N_CLASSES
from simulator.errors import HearloopInputError
from simulator.model.causal_conv import CausalConv1d, causal_conv1d
from simulator.model.config import ModelConfig

__all__ = [
    "DEFAULT_COUNT_PRIOR",
    "ConditionedCombiner",
    "NuExpander",
    "PointwiseDecoder",
    "class_softmax",
    "prior_logits",
]

CombinerState = list[torch.Tensor | None]


class NuExpander(nn.Module):
    """Three pointwise conv layers (PReLU between) mapping nu ``batch x D`` to features ``batch x F``.

    Applied to the constant-in-time nu, a kernel-1 conv over the time-expanded map equals this computation at one bin;
    the result is broadcast over time by :class:`ConditionedCombiner`.
    """

    def __init__(self, n_params: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = n_params
        for i, c_out in enumerate(widths):
            layers.append(nn.Conv1d(c_in, c_out, 1))
            if i < len(widths) - 1:
                layers.append(nn.PReLU(c_out, init=0.25))
            c_in = c_out
        self.net = nn.Sequential(*layers)
        self.out_features = int(widths[-1])

    def forward(self, nu: torch.Tensor) -> torch.Tensor:
        """``batch x D`` nu in [0, 1] -> ``batch x F`` feature map value (constant over time)."""
        return self.net(nu.unsqueeze(-1)).squeeze(-1)


class ConditionedCombiner(nn.Module):
    """The 4 causal combination layers (kernel ``combine_kernel``) over [latent; nu features], PReLU after each.

    ``layers[0]`` holds the full weight over the ``latent + F`` concatenated channels (the paper's layer shapes); it is
    evaluated in the split form described in the module docstring.
    """

    def __init__(self, config: ModelConfig, nu_features: int) -> None:
        super().__init__()
        self.latent_channels = int(config.bottleneck_channels)
        widths = (self.latent_channels + nu_features, *config.combine_widths)
        self.layers = nn.ModuleList(
            CausalConv1d(a, b, config.combine_kernel, stride=1) for a, b in itertools.pairwise(widths)
        )
        self.acts = nn.ModuleList(nn.PReLU(c, init=0.25) for c in config.combine_widths)
        self.out_channels = int(config.combine_widths[-1])

    def shared(self, latent: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Listener-independent half of layer 0: ``W_z * latent`` (no bias), ``batch x widths[0] x bins``."""
        w = self.layers[0].weight[:, : self.latent_channels]
        return causal_conv1d(latent, w, None, 1, state)

    def listener_bias(self, features: torch.Tensor) -> torch.Tensor:
        """Per-listener constant of layer 0: ``(sum_k W_f[:, :, k]) f + b``, ``listeners x widths[0]``."""
        layer = self.layers[0]
        w_f = layer.weight[:, self.latent_channels :].sum(-1)
        return features @ w_f.t() + layer.bias

    def finish(
        self, shared: torch.Tensor, bias: torch.Tensor, states: CombinerState | None = None
    ) -> tuple[torch.Tensor, CombinerState]:
        """Add the listener bias and run the per-listener layers.

        Args:
            shared: ``1 or L x widths[0] x bins`` from :meth:`shared` (batch 1 is broadcast over listeners).
            bias: ``L x widths[0]`` from :meth:`listener_bias`.
            states: streaming states of layers 1..3 (None: start of the signal).

        Returns:
            ``(h, new_states)`` with h ``L x out_channels x bins``.
        """
        states = states if states is not None else [None] * (len(self.layers) - 1)
        h = self.acts[0](shared + bias.unsqueeze(-1))
        new: CombinerState = []
        for layer, act, s in zip(self.layers[1:], self.acts[1:], states, strict=True):
            h, s_new = layer.stream(h, s)
            h = act(h)
            new.append(s_new)
        return h, new


DEFAULT_COUNT_PRIOR: tuple[float, ...] = (0.70, 0.20, 0.06, 0.03, 0.01)
"""Initial class frequencies of the decoder bias (spike counts 0..4 per 1.31 ms bin of typical MUA): the untrained
model starts near the marginal count distribution instead of uniform, which shortens early training."""


def prior_logits(probs, n_channels: int) -> torch.Tensor:
    """``channels x 5`` log-frequencies from ``5`` or ``channels x 5`` class frequencies (renormalised, floored)."""
    p = torch.as_tensor(probs, dtype=torch.float32)
    if p.shape not in ((N_CLASSES,), (n_channels, N_CLASSES)) or not bool(torch.isfinite(p).all()) or p.min() < 0:
        raise HearloopInputError(f"output prior must be {N_CLASSES} or ({n_channels}, {N_CLASSES}) frequencies >= 0")
    p = p.clamp_min(1e-4)
    p = p / p.sum(-1, keepdim=True)
    return p.log().expand(n_channels, N_CLASSES).contiguous()


def class_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the 5 spike-count classes of ``... x channels x bins x 5`` logits.

    Decoder logits are a transposed view of a ``channels x 5 x bins`` buffer; PyTorch's softmax over a last dimension
    of size 5 is slow (and slower still on a strided view), so the softmax runs over the class dimension of the
    underlying buffer (vectorised along bins; ~4x faster) and the result is returned in the same view layout.
    """
    if logits.dim() >= 2 and logits.stride(-2) == 1 and logits.stride(-1) != 1:
        return torch.softmax(logits.transpose(-1, -2), dim=-2).transpose(-1, -2)
    return torch.softmax(logits, dim=-1)


class PointwiseDecoder(nn.Module):
    """Shared pointwise decoder: ``batch x width x bins`` -> logits ``batch x channels x bins x 5``.

    The logits are returned as a transposed view of a contiguous ``batch x channels x 5 x bins`` buffer (use
    :func:`class_softmax` for probabilities, ``.contiguous()`` if a dense layout is needed).
    """

    def __init__(self, in_channels: int, n_channels: int) -> None:
        super().__init__()
        self.n_channels = int(n_channels)
        self.proj = nn.Conv1d(in_channels, self.n_channels * N_CLASSES, 1)
        with torch.no_grad():
            self.proj.bias.copy_(prior_logits(DEFAULT_COUNT_PRIOR, self.n_channels).reshape(-1))

    def set_output_prior(self, probs: torch.Tensor) -> None:
        """Set the bias to the log of spike-count class frequencies (``5`` or ``channels x 5``), e.g. from data."""
        with torch.no_grad():
            self.proj.bias.copy_(prior_logits(probs, self.n_channels).reshape(-1).to(self.proj.bias))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, _, t = h.shape
        y = self.proj(h).view(b, self.n_channels, N_CLASSES, t)
        return y.transpose(2, 3)
