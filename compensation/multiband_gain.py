"""Multiband linear gain: one gain (dB) per crossover-filterbank band, the classic multichannel linear hearing aid.

theta = B band gains in dB (default 8 bands, log-spaced edges 125..10000 Hz). Because the linear-phase crossover bands
sum to a delta (see :mod:`compensation.filterbank`), the whole strategy is the single FIR sum_b 10^(g_b/20) H_b, applied
by one FFT convolution -- exact, cheap and differentiable in the gains. ``prescribe`` takes the NAL-R insertion gains
(Byrne & Dillon 1986; NAL-RP for profound losses) interpolated on log frequency to the band centres (held flat below
250 Hz and above 6 kHz).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from compensation.filterbank import CrossoverFilterbank
from compensation.fir import fft_convolve
from compensation.limiter import DEFAULT_MAX_OUTPUT_DB_SPL
from compensation.nalr import nalr_gain_curve
from compensation.strategy import Strategy
from simulator.constants import SAMPLE_RATE


class MultibandGain(Strategy):
    """Linear multiband gain with P = n_bands parameters (gain dB per band).

    Args:
        n_bands: number of bands.
        f_low, f_high: outer band edges (Hz) for the log-spaced crossovers.
        numtaps: odd FIR length of the crossover filters.
        gain_bounds_db: bounds of each band gain (dB).
        compensate_delay: advance the output by the filterbank group delay (keeps length N).
        variant: NAL-R formula variant for ``prescribe``.
        max_output_db_spl: output limiter ceiling, dB SPL peak.
        sample_rate: Hz (must be SAMPLE_RATE).
    """

    name = "multiband"

    def __init__(
        self,
        *,
        n_bands: int = 8,
        f_low: float = 125.0,
        f_high: float = 10000.0,
        numtaps: int = 1025,
        gain_bounds_db: tuple[float, float] = (-10.0, 60.0),
        compensate_delay: bool = True,
        variant: str = "auto",
        max_output_db_spl: float = DEFAULT_MAX_OUTPUT_DB_SPL,
        sample_rate: float = SAMPLE_RATE,
    ):
        super().__init__(max_output_db_spl=max_output_db_spl, sample_rate=sample_rate)
        self.filterbank = CrossoverFilterbank(n_bands, f_low, f_high, numtaps, self.sample_rate)
        self.compensate_delay = bool(compensate_delay)
        self.variant = variant
        names = [f"gain_db_band{b}_{round(fc)}hz" for b, fc in enumerate(self.filterbank.centres_hz)]
        self._set_parameter_space(names, [gain_bounds_db[0]] * n_bands, [gain_bounds_db[1]] * n_bands)

    def process(self, audio: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Apply band gains ``theta`` (``batch x bands``, dB) to ``audio`` (``batch x samples``, Pa)."""
        taps = self.filterbank.combined_taps(torch.pow(10.0, theta / 20.0))
        return fft_convolve(audio, taps, compensate_delay=self.compensate_delay)

    def prescribe(self, audiogram: Mapping[int | float, float]) -> torch.Tensor:
        """NAL-R gains at the band centres, clipped into the bounds -> theta0 (``n_bands``)."""
        gains = nalr_gain_curve(audiogram, self.filterbank.centres_hz, self.variant)
        return self._clip_to_bounds(torch.tensor(gains, dtype=torch.float32))
