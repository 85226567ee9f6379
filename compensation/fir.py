"""Linear-phase FIR filters from a gain-vs-frequency table, designed and applied differentiably in torch.

Design is the frequency-sampling (window) method of ``scipy.signal.firwin2`` (Oppenheim & Schafer, Discrete-Time
Signal Processing, sec. 7.5; the method James Kates uses for the NAL-R equaliser of HASPI/HASQI):

1. the table of gains in dB is interpolated linearly on log frequency onto the uniform grid
   ``x_m = m * (fs/2) / (F-1)``, m = 0..F-1, F = 1 + 2**ceil(log2(numtaps)) (firwin2's default grid), holding the first
   and last table values flat towards 0 Hz and Nyquist;
2. the linear-gain spectrum gets the linear phase ``exp(-j pi x_m (numtaps-1) / fs)``, is inverse-FFT'd, the first
   ``numtaps`` coefficients are kept and multiplied by a symmetric Hamming window.

Because the dense grid is handed to ``firwin2`` verbatim, :meth:`GainTableFIR.taps` and :meth:`GainTableFIR.scipy_taps`
compute the same filter (the torch one is differentiable w.r.t. the gains and batched). The filters are type I
(odd ``numtaps``), with group delay ``(numtaps-1)/2`` samples. :func:`fft_convolve` applies per-batch filters by FFT
convolution and, with ``compensate_delay=True``, advances the output by the group delay (zero-phase, non-causal
filtering) while keeping the input length -- what neural comparisons against the clean sound need.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.signal
import torch
from torch import nn

from simulator.constants import SAMPLE_RATE
from simulator.errors import HearloopInputError


def log_interp_matrix(src_hz: Sequence[float], dst_hz: Sequence[float]) -> np.ndarray:
    """Matrix W (len(dst) x len(src)) with ``W @ values`` = linear interpolation on log frequency, flat outside.

    Destination frequencies <= 0 Hz take the first source value.
    """
    src = np.log(np.asarray(src_hz, dtype=float))
    if np.any(np.diff(src) <= 0):
        raise HearloopInputError(f"table frequencies must be strictly increasing and positive, got {list(src_hz)}")
    dst = np.asarray(dst_hz, dtype=float)
    dst = np.log(np.where(dst > 0, dst, np.exp(src[0])))
    eye = np.eye(len(src))
    return np.stack([np.interp(dst, src, eye[:, k]) for k in range(len(src))], axis=1)


def default_numtaps(lowest_freq_hz: float, sample_rate: float = SAMPLE_RATE, cycles: float = 8.0) -> int:
    """Odd tap count spanning ``cycles`` periods of ``lowest_freq_hz`` (8 cycles of 250 Hz -> 783 taps at 24414 Hz).

    A Hamming-windowed design resolves features about 2 fs/numtaps wide, so 8 cycles resolve ~fs/(4 f) of the lowest
    table frequency, enough to hold the NAL-R response within 1 dB at 250 Hz.
    """
    n = math.ceil(cycles * sample_rate / lowest_freq_hz)
    return n + 1 - n % 2


class GainTableFIR(nn.Module):
    """Linear-phase FIR equaliser whose magnitude response follows gains (dB) at fixed table frequencies.

    Args:
        freqs_hz: table frequencies (Hz), strictly increasing, below Nyquist.
        numtaps: odd filter length; ``None`` picks :func:`default_numtaps` for the lowest table frequency.
        sample_rate: Hz.
    """

    def __init__(self, freqs_hz: Sequence[float], numtaps: int | None = None, sample_rate: float = SAMPLE_RATE):
        super().__init__()
        self.freqs_hz = tuple(float(f) for f in freqs_hz)
        self.sample_rate = float(sample_rate)
        if self.freqs_hz[-1] >= self.sample_rate / 2:
            raise HearloopInputError(f"table frequency {self.freqs_hz[-1]} Hz is not below Nyquist")
        numtaps = default_numtaps(self.freqs_hz[0], self.sample_rate) if numtaps is None else int(numtaps)
        if numtaps < 3 or numtaps % 2 == 0:
            raise HearloopInputError(f"numtaps must be an odd integer >= 3 (type I linear phase), got {numtaps}")
        self.numtaps = numtaps
        n_grid = 1 + 2 ** math.ceil(math.log2(numtaps))  # firwin2's default grid
        self.grid_hz = np.linspace(0.0, self.sample_rate / 2, n_grid)
        self.register_buffer(
            "interp", torch.tensor(log_interp_matrix(self.freqs_hz, self.grid_hz), dtype=torch.float32)
        )
        phase = -np.pi * self.grid_hz * (numtaps - 1) / self.sample_rate
        self.register_buffer("shift_re", torch.tensor(np.cos(phase), dtype=torch.float32))
        self.register_buffer("shift_im", torch.tensor(np.sin(phase), dtype=torch.float32))
        window = scipy.signal.get_window("hamming", numtaps, fftbins=False)
        self.register_buffer("window", torch.tensor(window, dtype=torch.float32))

    @property
    def delay_samples(self) -> int:
        """Group delay of the filter in samples."""
        return (self.numtaps - 1) // 2

    def taps(self, gains_db: torch.Tensor) -> torch.Tensor:
        """Differentiable design: gains ``batch x K`` (dB at the table frequencies) -> taps ``batch x numtaps``."""
        if gains_db.dim() == 1:
            gains_db = gains_db.unsqueeze(0)
        if gains_db.shape[-1] != len(self.freqs_hz):
            raise HearloopInputError(f"expected {len(self.freqs_hz)} gains, got shape {tuple(gains_db.shape)}")
        magnitude = torch.pow(10.0, (gains_db @ self.interp.T) / 20.0)  # batch x F
        spectrum = torch.complex(magnitude * self.shift_re, magnitude * self.shift_im)
        full = torch.fft.irfft(spectrum, n=2 * (len(self.grid_hz) - 1), dim=-1)
        return full[..., : self.numtaps] * self.window

    def scipy_taps(self, gains_db: Sequence[float]) -> np.ndarray:
        """Reference design with ``scipy.signal.firwin2`` for one gain table (dB) -> taps ``numtaps`` (float64)."""
        dense_db = log_interp_matrix(self.freqs_hz, self.grid_hz) @ np.asarray(gains_db, dtype=float)
        return scipy.signal.firwin2(
            self.numtaps, self.grid_hz, 10.0 ** (dense_db / 20.0), window="hamming", fs=self.sample_rate
        )


def fft_convolve(audio: torch.Tensor, taps: torch.Tensor, *, compensate_delay: bool = True) -> torch.Tensor:
    """Filter ``audio`` with FIR ``taps`` by FFT convolution, keeping the length.

    Args:
        audio: ``batch x samples`` (or ``batch x bands x samples``).
        taps: ``batch x numtaps`` (or ``1 x numtaps``, or with a matching bands axis); broadcast against audio.
        compensate_delay: advance the output by the linear-phase group delay ``(numtaps-1)//2`` samples (zero-phase,
            non-causal); ``False`` returns the causal (delayed) output.

    Returns:
        Filtered signal with the shape of ``audio`` broadcast with ``taps`` (all but the last axis).
    """
    n, t = audio.shape[-1], taps.shape[-1]
    n_fft = _fast_len(n + t - 1)
    spec = torch.fft.rfft(audio, n=n_fft, dim=-1) * torch.fft.rfft(taps.to(audio.dtype), n=n_fft, dim=-1)
    full = torch.fft.irfft(spec, n=n_fft, dim=-1)
    start = (t - 1) // 2 if compensate_delay else 0
    return full[..., start : start + n]


def _fast_len(n: int) -> int:
    """A 5-smooth FFT length >= n."""
    import scipy.fft

    return int(scipy.fft.next_fast_len(n, real=True))


def response_db(
    taps: np.ndarray | torch.Tensor, freqs_hz: Sequence[float], sample_rate: float = SAMPLE_RATE
) -> np.ndarray:
    """Magnitude response (dB) of FIR ``taps`` at ``freqs_hz`` (evaluated with ``scipy.signal.freqz``)."""
    h = taps.detach().cpu().double().numpy() if isinstance(taps, torch.Tensor) else np.asarray(taps, dtype=float)
    _, resp = scipy.signal.freqz(h, worN=np.asarray(freqs_hz, dtype=float), fs=sample_rate)
    return 20.0 * np.log10(np.maximum(np.abs(resp), 1e-12))
