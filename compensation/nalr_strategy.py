"""NAL-R linear hearing aid: a linear-phase FIR equaliser following NAL-R insertion gains (Byrne & Dillon 1986).

theta = the insertion gains (dB) at the nine NAL-R frequencies 250..6000 Hz plus an overall volume (dB) added to all of
them. ``prescribe`` fills the gains from :func:`compensation.nalr.nalr_gains` (NAL-RP for profound losses, see that
module) with volume 0 dB. The FIR is designed differentiably in torch by the frequency-sampling method of
``scipy.signal.firwin2`` (see :mod:`compensation.fir`): gains are interpolated on log frequency and held flat below
250 Hz and above 6 kHz. The default 783 taps (8 periods of 250 Hz at 24414 Hz) keep the response within ~0.5 dB of the
table at the NAL-R frequencies; the group delay is 391 samples (16.0 ms). With ``compensate_delay=True`` (default) the
output is advanced by that delay (zero-phase, time-aligned with the input, as the neural-fidelity comparison needs);
``False`` gives the causal, delayed output of a real device.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from compensation.fir import GainTableFIR, fft_convolve
from compensation.limiter import DEFAULT_MAX_OUTPUT_DB_SPL
from compensation.nalr import NALR_FREQS_HZ, nalr_gains
from compensation.strategy import Strategy
from simulator.constants import SAMPLE_RATE


class NALRStrategy(Strategy):
    """Linear NAL-R hearing aid with P = 10 parameters (9 gains + volume).

    Args:
        numtaps: odd FIR length (None: 783 at 24414 Hz, resolving 250 Hz).
        compensate_delay: advance the output by the FIR group delay (keeps length N).
        gain_bounds_db: bounds of each per-frequency insertion gain (dB).
        volume_bounds_db: bounds of the overall volume offset (dB).
        variant: NAL-R formula variant for ``prescribe`` ("auto", "nal-r", "nal-rp").
        max_output_db_spl: output limiter ceiling, dB SPL peak.
        sample_rate: Hz (must be SAMPLE_RATE).
    """

    name = "nalr"

    def __init__(
        self,
        *,
        numtaps: int | None = None,
        compensate_delay: bool = True,
        gain_bounds_db: tuple[float, float] = (0.0, 60.0),
        volume_bounds_db: tuple[float, float] = (-20.0, 20.0),
        variant: str = "auto",
        max_output_db_spl: float = DEFAULT_MAX_OUTPUT_DB_SPL,
        sample_rate: float = SAMPLE_RATE,
    ):
        super().__init__(max_output_db_spl=max_output_db_spl, sample_rate=sample_rate)
        nalr_gains({500: 0.0, 1000: 0.0, 2000: 0.0}, variant)  # validates the variant name early
        self.variant = variant
        self.compensate_delay = bool(compensate_delay)
        self.fir = GainTableFIR(NALR_FREQS_HZ, numtaps, self.sample_rate)
        names = [f"gain_db_{f}hz" for f in NALR_FREQS_HZ] + ["volume_db"]
        lower = [gain_bounds_db[0]] * len(NALR_FREQS_HZ) + [volume_bounds_db[0]]
        upper = [gain_bounds_db[1]] * len(NALR_FREQS_HZ) + [volume_bounds_db[1]]
        self._set_parameter_space(names, lower, upper)

    @property
    def delay_samples(self) -> int:
        """Group delay of the equaliser (samples); removed from the output when ``compensate_delay``."""
        return self.fir.delay_samples

    def process(self, audio: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Equalise ``audio`` (``batch x samples``, Pa) with gains ``theta[:, :9] + theta[:, 9]`` (dB)."""
        gains_db = theta[:, : len(NALR_FREQS_HZ)] + theta[:, len(NALR_FREQS_HZ) :]
        taps = self.fir.taps(gains_db)
        return fft_convolve(audio, taps, compensate_delay=self.compensate_delay)

    def prescribe(self, audiogram: Mapping[int | float, float]) -> torch.Tensor:
        """NAL-R gains (clipped into the gain bounds) and volume 0 dB -> theta0 (``10``)."""
        gains = nalr_gains(audiogram, self.variant)
        theta = torch.tensor([gains[f] for f in NALR_FREQS_HZ] + [0.0])
        return self._clip_to_bounds(theta)
