"""The shared sound encoder of nu-ICNet / ICNet: SincNet, 5 causal strided conv layers and a bottleneck.

[Pellatt2025]_ (Fig. 1): "a SincNet layer with 48 filters followed by 5 causal convolutional layers with 246 kernels of
size 60 and a final layer with 64 kernels. The resulting representation encodes latent dynamics shared across animals."
Each strided layer halves the rate (5 layers: factor 32, one latent frame per 1.31 ms neural bin) and is followed by a
PReLU; the bottleneck is linear.

Signal flow for audio ``batch x samples`` in Pa:

    x = audio * input_scale              (units of 20 uPa, see simulator.model.factory)
    x = feature_scale * symlog(SincConv(x))
    x = PReLU(CausalConv_stride2(x))     x 5
    z = CausalConv_stride1(x)            batch x bottleneck x samples // 32

Every layer is causal (:mod:`simulator.model.causal_conv`): latent frame t depends on samples ``<= 32 t + 31`` only.
Trailing samples that do not fill a whole bin are dropped. :meth:`Encoder.stream` runs the same computation chunk by
chunk with carried state.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import torch
from torch import nn

from simulator.constants import DOWNSAMPLE, SAMPLE_RATE
from simulator.errors import HearloopInputError
from simulator.model.causal_conv import CausalConv1d
from simulator.model.config import ModelConfig
from simulator.model.sincnet import SincConv, symlog

__all__ = ["Encoder"]

EncoderState = list[torch.Tensor | None]


class Encoder(nn.Module):
    """Listener-independent encoder: ``batch x samples`` Pa -> latent ``batch x bottleneck x samples // 32``.

    Args:
        config: a :class:`simulator.model.config.ModelConfig` (uses the sinc, conv and bottleneck sizes and the
        scaling).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.input_scale = float(config.input_scale)
        self.feature_scale = float(config.feature_scale)
        self.sinc = SincConv(
            config.sinc_filters, config.sinc_kernel, SAMPLE_RATE, config.sinc_min_low_hz, config.sinc_min_band_hz
        )
        convs, acts = [], []
        c_in = config.sinc_filters
        for c_out, k in zip(config.conv_channels, config.conv_kernels, strict=True):
            convs.append(CausalConv1d(c_in, c_out, k, stride=config.conv_stride))
            acts.append(nn.PReLU(c_out, init=0.25))
            c_in = c_out
        self.convs = nn.ModuleList(convs)
        self.acts = nn.ModuleList(acts)
        self.bottleneck = CausalConv1d(c_in, config.bottleneck_channels, config.bottleneck_kernel, stride=1)
        self.out_channels = int(config.bottleneck_channels)

    def _front(self, audio: torch.Tensor) -> torch.Tensor:
        return audio * self.input_scale

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Encode ``batch x samples`` Pa (already validated) into ``batch x bottleneck x samples // 32``."""
        n = (audio.shape[-1] // DOWNSAMPLE) * DOWNSAMPLE
        x = self.feature_scale * symlog(self.sinc(self._front(audio[..., :n])))
        for conv, act in zip(self.convs, self.acts, strict=True):
            x = act(conv(x))
        return self.bottleneck(x)

    def init_state(self) -> EncoderState:
        """A fresh streaming state (the start of a signal: all zeros, created lazily)."""
        return [None] * (len(self.convs) + 2)

    def stream(self, audio: torch.Tensor, state: EncoderState) -> tuple[torch.Tensor, EncoderState]:
        """Encode one chunk of a streamed signal.

        Args:
            audio: ``batch x samples`` Pa; ``samples`` must be a multiple of 32.
            state: from :meth:`init_state` or the previous call.

        Returns:
            ``(latent, new_state)`` with latent ``batch x bottleneck x samples // 32``.
        """
        if audio.shape[-1] % DOWNSAMPLE:
            raise HearloopInputError(
                f"streamed chunks must be a multiple of {DOWNSAMPLE} samples, got {audio.shape[-1]}"
            )
        new: EncoderState = []
        x, s = self.sinc.stream(self._front(audio), state[0])
        new.append(s)
        x = self.feature_scale * symlog(x)
        for i, (conv, act) in enumerate(zip(self.convs, self.acts, strict=True)):
            x, s = conv.stream(x, state[i + 1])
            x = act(x)
            new.append(s)
        z, s = self.bottleneck.stream(x, state[-1])
        new.append(s)
        return z, new
