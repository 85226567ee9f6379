"""The unaided condition: no amplification, only the output limiter (the baseline of "fidelity restored").

In the neural-fidelity objective (:mod:`compensation.objective`) the unaided response defines D(unaided), so this
strategy is the identity with an empty parameter vector (P = 0).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from compensation.limiter import DEFAULT_MAX_OUTPUT_DB_SPL
from compensation.nalr import interpolate_audiogram
from compensation.strategy import Strategy
from simulator.constants import SAMPLE_RATE


class Unaided(Strategy):
    """Identity strategy (P = 0); the output limiter still applies.

    Args:
        max_output_db_spl: output limiter ceiling, dB SPL peak.
        sample_rate: Hz (must be SAMPLE_RATE).
    """

    name = "unaided"

    def __init__(self, *, max_output_db_spl: float = DEFAULT_MAX_OUTPUT_DB_SPL, sample_rate: float = SAMPLE_RATE):
        super().__init__(max_output_db_spl=max_output_db_spl, sample_rate=sample_rate)
        self._set_parameter_space([], [], [])

    def process(self, audio: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Return ``audio`` (``batch x samples``, Pa) unchanged."""
        return audio

    def prescribe(self, audiogram: Mapping[int | float, float]) -> torch.Tensor:
        """An empty tensor (P = 0); the audiogram is still validated."""
        interpolate_audiogram(audiogram, [1000.0], require_3fa=False)
        return torch.zeros(0)
