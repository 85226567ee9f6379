"""Causal (left-padded) 1-D convolutions with streaming state, the building block of the nu-ICNet encoder and combiner.

[Pellatt2025]_ (nu-ICNet, Fig. 1): every convolution of the sound pathway is causal, so output bin t never depends on
audio after bin t. For a convolution with kernel ``K`` and stride ``s`` the input is padded with ``K - s`` zeros on the
LEFT only. Output ``j`` then reads inputs ``[s*j + s - K, s*j + s - 1]``: it "represents" the ``s`` inputs
``[s*j, s*j + s - 1]`` and never looks past the last of them. Stacking five stride-2 layers gives output bin ``t``
covering samples ``[32t, 32t + 31]`` and depending on nothing later than sample ``32t + 31``.

Streaming: zero left-padding of the whole signal is the same as starting from a state of ``K - s`` zeros and
carrying the last ``K - s`` inputs from chunk to chunk. Each chunk must be a multiple of the stride, so the stride
phase is the same as in the whole-signal computation; then chunked and whole-signal outputs are equal (up to float
rounding of the convolution algorithm).

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from simulator.errors import HearloopInputError

__all__ = ["CausalConv1d", "causal_conv1d"]


def causal_conv1d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: int = 1,
    state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Causal convolution of ``x`` continuing from ``state``.

    Args:
        x: ``batch x in_channels x length``; ``length`` must be a multiple of ``stride``.
        weight: ``out_channels x in_channels x K``.
        bias: ``out_channels`` or None.
        stride: convolution stride ``s``.
        state: ``batch x in_channels x (K - s)`` previous inputs (None: zeros, i.e. the start of a signal).

    Returns:
        ``(y, new_state)``: ``y`` is ``batch x out_channels x length // s``; ``new_state`` holds the last ``K - s``
        inputs (left zero padding included) for the next chunk.
    """
    k = weight.shape[-1]
    ctx = k - stride
    if x.shape[-1] % stride:
        raise HearloopInputError(f"causal conv input length {x.shape[-1]} is not a multiple of the stride {stride}")
    if state is None:
        xp = F.pad(x, (ctx, 0))
    else:
        if state.shape[-1] != ctx or state.shape[1] != x.shape[1]:
            raise HearloopInputError(f"streaming state shape {tuple(state.shape)} does not match ({x.shape[1]}, {ctx})")
        if state.shape[0] != x.shape[0]:
            state = state.expand(x.shape[0], -1, -1)
        xp = torch.cat([state, x], dim=-1)
    y = F.conv1d(xp, weight, bias, stride=stride)
    new_state = xp[..., xp.shape[-1] - ctx :] if ctx > 0 else xp[..., :0]
    return y, new_state


class CausalConv1d(nn.Conv1d):
    """``nn.Conv1d`` with causal left padding ``K - stride`` and an optional streaming state.

    The kernel must be at least as long as the stride (otherwise inputs would be skipped).

    Args:
        in_channels, out_channels, kernel_size, stride, bias: as for ``nn.Conv1d`` (no padding/dilation/groups).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, bias: bool = True):
        if kernel_size < stride:
            raise HearloopInputError(f"kernel_size {kernel_size} must be >= stride {stride} for a causal strided conv")
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, bias=bias)

    @property
    def context(self) -> int:
        """Inputs carried between chunks: ``K - stride``."""
        return self.kernel_size[0] - self.stride[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Whole-signal causal convolution: ``batch x in x length`` -> ``batch x out x length // stride``."""
        return causal_conv1d(x, self.weight, self.bias, self.stride[0])[0]

    def stream(self, x: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """One chunk of a streamed signal; ``state`` None starts a new signal. Returns ``(y, new_state)``."""
        return causal_conv1d(x, self.weight, self.bias, self.stride[0], state)
