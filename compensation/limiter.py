"""Output limiter (maximum power output, MPO) that ends every hearing-aid strategy.

A smooth, memoryless soft-knee peak limiter: the identity below a knee, a tanh saturation above it that approaches but
never exceeds the maximum peak pressure. It stands in for a hearing aid's MPO stage (Dillon 2012, Hearing Aids, ch. 6:
peak clipping vs compression limiting); being instantaneous it adds distortion only to peaks above the knee, and being
C1-smooth it keeps gradients useful. With x the pressure, P the maximum peak pressure and K = P * 10**(-knee_db/20):

    y = x                                              for |x| <= K
    y = sign(x) * (K + (P - K) * tanh((|x| - K) / (P - K)))   for |x| > K

The slope is 1 on both sides of the knee, and |y| < P for every finite x (|y| <= P in float arithmetic). NaN inputs are
mapped to 0 and +-inf to +-P first, so the output is always finite.
"""

from __future__ import annotations

import torch
from torch import nn

from simulator.constants import REF_PRESSURE_PA
from simulator.errors import HearloopInputError

DEFAULT_MAX_OUTPUT_DB_SPL: float = 115.0
"""Default maximum output level, dB SPL peak (20 log10(peak Pa / 20 uPa))."""


class OutputLimiter(nn.Module):
    """Soft-knee peak limiter.

    Args:
        max_output_db_spl: maximum output level in dB SPL *peak* (115 dB SPL peak = 11.2 Pa).
        knee_db: how far below the maximum the limiter starts acting (dB); below it the signal passes unchanged.
    """

    def __init__(self, max_output_db_spl: float = DEFAULT_MAX_OUTPUT_DB_SPL, knee_db: float = 6.0):
        super().__init__()
        if not 0.0 < float(max_output_db_spl) <= 194.0:
            raise HearloopInputError(f"max_output_db_spl must be in (0, 194] dB SPL peak, got {max_output_db_spl}")
        if not float(knee_db) > 0.0:
            raise HearloopInputError(f"knee_db must be positive, got {knee_db}")
        self.max_output_db_spl = float(max_output_db_spl)
        self.knee_db = float(knee_db)
        self.peak_pa = REF_PRESSURE_PA * 10.0 ** (self.max_output_db_spl / 20.0)
        self.knee_pa = self.peak_pa * 10.0 ** (-self.knee_db / 20.0)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Limit ``audio`` (any shape, Pa) so that every |sample| <= the maximum peak pressure."""
        x = torch.nan_to_num(audio, nan=0.0, posinf=self.peak_pa, neginf=-self.peak_pa)
        magnitude = x.abs()
        headroom = self.peak_pa - self.knee_pa
        over = torch.clamp(magnitude - self.knee_pa, min=0.0)
        limited = torch.sign(x) * (self.knee_pa + headroom * torch.tanh(over / headroom))
        return torch.where(magnitude <= self.knee_pa, x, limited)

    def extra_repr(self) -> str:
        return f"max_output_db_spl={self.max_output_db_spl}, knee_db={self.knee_db}"
