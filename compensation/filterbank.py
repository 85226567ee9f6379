"""Linear-phase FIR crossover filterbank with perfect reconstruction, for multiband hearing-aid processing.

Bands are split at crossover frequencies c_1 < ... < c_{B-1} by windowed-sinc low-pass filters L_i of equal length,
designed with ``scipy.signal.firwin`` (Hamming window). The band filters are complementary differences (a linear-phase
"tree-free" crossover, cf. Kates 2008, Digital Hearing Aids, ch. 8):

    H_0 = L_1,   H_b = L_{b+1} - L_b  (0 < b < B-1),   H_{B-1} = delta - L_{B-1}

so sum_b H_b = delta (a pure delay of (numtaps-1)/2 samples): the bands sum back to the input exactly, and any set of
band gains g_b is one linear-phase FIR sum_b g_b H_b. Band edges are log-spaced between ``f_low`` and ``f_high``; the
crossovers are the B-1 interior edges, the lowest band extends down to 0 Hz and the highest up to Nyquist, and the band
centres are the geometric means of adjacent edges. With the default 1025 taps the transition width (~3.3 fs/numtaps,
80 Hz) separates even the lowest crossover (216 Hz for 8 bands over 125..10000 Hz).
"""

from __future__ import annotations

import numpy as np
import scipy.signal
import torch
from torch import nn

from compensation.fir import fft_convolve
from simulator.constants import SAMPLE_RATE
from simulator.errors import HearloopInputError


def log_band_edges(n_bands: int, f_low: float, f_high: float) -> np.ndarray:
    """``n_bands + 1`` log-spaced band edges (Hz) from ``f_low`` to ``f_high``."""
    if n_bands < 1:
        raise HearloopInputError(f"n_bands must be >= 1, got {n_bands}")
    if not 0 < f_low < f_high:
        raise HearloopInputError(f"need 0 < f_low < f_high, got f_low={f_low}, f_high={f_high}")
    return np.geomspace(f_low, f_high, n_bands + 1)


class CrossoverFilterbank(nn.Module):
    """Split ``batch x samples`` audio into ``batch x bands x samples`` that sum back to the input.

    Args:
        n_bands: number of bands B.
        f_low, f_high: outer band edges (Hz) used to place the log-spaced crossovers and centres.
        numtaps: odd FIR length of every band filter.
        sample_rate: Hz.
    """

    def __init__(
        self,
        n_bands: int = 8,
        f_low: float = 125.0,
        f_high: float = 10000.0,
        numtaps: int = 1025,
        sample_rate: float = SAMPLE_RATE,
    ):
        super().__init__()
        self.sample_rate = float(sample_rate)
        if f_high >= self.sample_rate / 2:
            raise HearloopInputError(f"f_high={f_high} Hz must be below Nyquist ({self.sample_rate / 2} Hz)")
        if numtaps < 3 or numtaps % 2 == 0:
            raise HearloopInputError(f"numtaps must be an odd integer >= 3, got {numtaps}")
        self.n_bands, self.numtaps = int(n_bands), int(numtaps)
        self.edges_hz = log_band_edges(self.n_bands, f_low, f_high)
        self.centres_hz = np.sqrt(self.edges_hz[:-1] * self.edges_hz[1:])
        self.crossovers_hz = self.edges_hz[1:-1]
        delta = np.zeros(numtaps)
        delta[(numtaps - 1) // 2] = 1.0
        lowpasses = [
            scipy.signal.firwin(numtaps, fc, window="hamming", fs=self.sample_rate) for fc in self.crossovers_hz
        ]
        cumulative = [np.zeros(numtaps), *lowpasses, delta]
        bands = np.stack([cumulative[b + 1] - cumulative[b] for b in range(self.n_bands)])
        self.register_buffer("taps", torch.tensor(bands, dtype=torch.float32))  # bands x numtaps

    @property
    def delay_samples(self) -> int:
        """Group delay of every band filter (samples)."""
        return (self.numtaps - 1) // 2

    def forward(self, audio: torch.Tensor, *, compensate_delay: bool = True) -> torch.Tensor:
        """Band signals ``batch x bands x samples`` (Pa) of ``audio`` ``batch x samples``."""
        return fft_convolve(audio.unsqueeze(1), self.taps.unsqueeze(0), compensate_delay=compensate_delay)

    def combined_taps(self, band_gains: torch.Tensor) -> torch.Tensor:
        """One FIR ``batch x numtaps`` applying linear gains ``batch x bands`` (amplitude factors) to the bands."""
        if band_gains.shape[-1] != self.n_bands:
            raise HearloopInputError(f"expected {self.n_bands} band gains, got shape {tuple(band_gains.shape)}")
        return band_gains @ self.taps

    def extra_repr(self) -> str:
        return (
            f"n_bands={self.n_bands}, numtaps={self.numtaps}, crossovers_hz={np.round(self.crossovers_hz, 1).tolist()}"
        )
