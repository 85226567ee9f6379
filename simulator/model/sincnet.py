"""SincNet front end of the nu-ICNet encoder: learnable band-pass filters followed by symlog compression.

[Pellatt2025]_ (Fig. 1: "a SincNet layer with 48 filters"), after [Ravanelli2018]_. Each filter is an ideal band-pass
[f1, f2] (difference of two sinc low-passes) truncated by a Hamming window; only f1 and the bandwidth f2 - f1 are
learned:

    h[n] = (2 f2 sinc(2 f2 n) - 2 f1 sinc(2 f1 n)) * w_hamming[n],   f in cycles/sample,
    f1 = min_low + |low|,  f2 = min(f1 + min_band + |band|, nyquist).

Unlike SincNet, filters are NOT renormalised by their bandwidth: an ideal band-pass has unit pass-band gain, so the
filter outputs keep the physical scale of the input (a tone of amplitude A in the pass band comes out with amplitude
~A). The filters are initialised on a mel scale between ``min_low_hz`` and the Nyquist frequency.

The layer is causal (left padding K - 1, see :mod:`simulator.model.causal_conv`), which delays each (linear-phase)
filter by (K - 1) / 2 samples, and it streams with a state of the last K - 1 samples.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.

.. [Ravanelli2018]
    M. Ravanelli, Y. Bengio. Speaker Recognition from Raw Waveform with SincNet. IEEE Spoken Language Technology
    Workshop (SLT), 2018.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from simulator.errors import HearloopInputError
from simulator.model.causal_conv import causal_conv1d

__all__ = ["SincConv", "hz_to_mel", "mel_to_hz", "symlog"]


def hz_to_mel(hz: float | torch.Tensor) -> float | torch.Tensor:
    """O'Shaughnessy mel scale: 2595 log10(1 + f / 700)."""
    if isinstance(hz, torch.Tensor):
        return 2595.0 * torch.log10(1.0 + hz / 700.0)
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: float | torch.Tensor) -> float | torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def symlog(x: torch.Tensor) -> torch.Tensor:
    """Symmetric log compression sign(x) * log(1 + |x|) (applied after the SincNet layer)."""
    return torch.sign(x) * torch.log1p(x.abs())


class SincConv(nn.Module):
    """Bank of ``n_filters`` learnable Hamming-windowed sinc band-pass filters (stride 1, causal).

    Args:
        n_filters: number of band-pass filters (48 in the paper).
        kernel_size: filter length in samples.
        sample_rate: audio rate in Hz.
        min_low_hz: smallest lower cut-off (50 Hz in the paper).
        min_band_hz: smallest bandwidth (50 Hz in the paper).

    The learned parameters ``low_khz`` and ``band_khz`` are in kHz, so one Adam step of 1e-3 moves an edge by ~1 Hz.
    """

    def __init__(
        self,
        n_filters: int,
        kernel_size: int,
        sample_rate: float,
        min_low_hz: float = 50.0,
        min_band_hz: float = 50.0,
    ) -> None:
        super().__init__()
        if n_filters < 1 or kernel_size < 2:
            raise HearloopInputError(
                f"SincConv needs n_filters >= 1 and kernel_size >= 2; got {n_filters}, {kernel_size}"
            )
        self.n_filters = int(n_filters)
        self.kernel_size = int(kernel_size)
        self.sample_rate = float(sample_rate)
        self.min_low_hz = float(min_low_hz)
        self.min_band_hz = float(min_band_hz)
        nyquist = self.sample_rate / 2.0
        if self.min_low_hz + self.min_band_hz >= nyquist:
            raise HearloopInputError("min_low_hz + min_band_hz must lie below the Nyquist frequency")
        # Mel-spaced band edges from min_low_hz up to the highest edge the constraints allow.
        top = nyquist - (self.min_low_hz + self.min_band_hz)
        mel = torch.linspace(hz_to_mel(self.min_low_hz), hz_to_mel(top), self.n_filters + 1, dtype=torch.float64)
        edges = mel_to_hz(mel)
        self.low_khz = nn.Parameter(((edges[:-1] - self.min_low_hz).clamp_min(0.0) / 1000.0).float())
        self.band_khz = nn.Parameter(((edges[1:] - edges[:-1] - self.min_band_hz).clamp_min(0.0) / 1000.0).float())
        # Symmetric tap offsets (samples) and the Hamming window are fixed buffers (not saved: derived from sizes).
        n = torch.arange(self.kernel_size, dtype=torch.float32) - (self.kernel_size - 1) / 2.0
        self.register_buffer("taps", n, persistent=False)
        self.register_buffer("window", torch.hamming_window(self.kernel_size, periodic=False), persistent=False)

    def band_edges_hz(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Lower and upper cut-offs ``(f1, f2)`` in Hz, each ``n_filters``."""
        low = self.min_low_hz + 1000.0 * self.low_khz.abs()
        high = torch.clamp(low + self.min_band_hz + 1000.0 * self.band_khz.abs(), self.min_low_hz, self.sample_rate / 2)
        return low, high

    def filters(self) -> torch.Tensor:
        """The current impulse responses, ``n_filters x 1 x kernel_size``."""
        low, high = self.band_edges_hz()
        f1 = (low / self.sample_rate).unsqueeze(1)  # cycles/sample
        f2 = (high / self.sample_rate).unsqueeze(1)
        n = self.taps.unsqueeze(0)
        h = 2.0 * f2 * torch.sinc(2.0 * f2 * n) - 2.0 * f1 * torch.sinc(2.0 * f1 * n)
        return (h * self.window).unsqueeze(1)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Filter ``batch x samples`` (scaled) audio into ``batch x n_filters x samples`` (causal)."""
        return causal_conv1d(audio.unsqueeze(1), self.filters(), None, 1)[0]

    def stream(self, audio: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Streamed :meth:`forward`: ``state`` is ``batch x 1 x (K - 1)`` previous samples (None at the start)."""
        return causal_conv1d(audio.unsqueeze(1), self.filters(), None, 1, state)

    def extra_repr(self) -> str:
        return (
            f"n_filters={self.n_filters}, kernel_size={self.kernel_size}, sample_rate={self.sample_rate}, "
            f"min_low_hz={self.min_low_hz}, min_band_hz={self.min_band_hz}"
        )
