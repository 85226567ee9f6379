"""What the DNN compensator is conditioned on: the measured audiogram (what a clinic has), or the listener's true nu.

A hearing aid is fitted from what a clinic measures: the audiogram. NAL-R and WDRC prescribe from it, and so does the
bundled DNN compensator (``conditioning="audiogram"``): its theta is the audiogram itself, thresholds in dB HL at
``DNNConfig.audiogram_freqs_hz`` (the standard 250-8000 Hz, :data:`simulator.frequencies.AUDIOGRAM_FREQS_HZ`) within
the audiometer's range (:data:`compensation.population.AUDIOMETER_RANGE_DB_HL`), fed to the network as
HL / :data:`HL_SCALE_DB`. A fitting procedure (HITL, the environment) may adjust these thresholds like any other
parameter.

``conditioning="nu"`` conditions on the listener's nu, the simulator's own description of its hearing, which no clinic
can measure: that compensator is an *upper bound* on what listener-specific processing can do with this simulator, and
is labelled so wherever it appears (strategy ``dnn_nu_oracle``).

Training with measured audiograms. Audiograms of the training listeners are their true neurometric thresholds; a
clinic measures them with an error of a few dB, so training draws a fresh measurement each step,
HL + N(0, sd^2) per frequency (:func:`measured_audiograms`, seeded), clipped into the audiometer's range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from compensation.nalr import interpolate_audiogram
from compensation.population import AUDIOMETER_RANGE_DB_HL, clinical_audiogram
from simulator.errors import HearloopInputError

__all__ = [
    "CONDITIONINGS",
    "HL_SCALE_DB",
    "audiogram_theta",
    "check_conditioning",
    "conditioning_input",
    "measured_audiograms",
    "parameter_space",
]

CONDITIONINGS: tuple[str, ...] = ("audiogram", "nu")
HL_SCALE_DB: float = 100.0
"""The network sees HL / HL_SCALE_DB."""


def check_conditioning(conditioning: str) -> str:
    """``conditioning`` if it is one of :data:`CONDITIONINGS`, else a HearloopInputError."""
    if conditioning not in CONDITIONINGS:
        raise HearloopInputError(f"DNN conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
    return conditioning


def parameter_space(
    conditioning: str, n_cond: int, freqs_hz: Sequence[float]
) -> tuple[list[str], list[float], list[float]]:
    """(names, lower, upper) of theta: ``hl_<f>hz`` in the audiometer's range, or ``nu_<i>`` in [0, 1]."""
    if check_conditioning(conditioning) == "nu":
        return [f"nu_{i}" for i in range(n_cond)], [0.0] * n_cond, [1.0] * n_cond
    if len(freqs_hz) != n_cond:
        raise HearloopInputError(f"an audiogram-conditioned compensator needs n_cond = {len(freqs_hz)} frequencies")
    lo, hi = AUDIOMETER_RANGE_DB_HL
    return [f"hl_{round(f)}hz" for f in freqs_hz], [lo] * n_cond, [hi] * n_cond


def audiogram_theta(audiogram: Mapping[int | float, float], freqs_hz: Sequence[float]) -> torch.Tensor:
    """theta (``F``, dB HL) of an audiogram ``{freq_hz: dB HL}``: clipped into the audiometer's range (as measured)
    and interpolated on log frequency at ``freqs_hz`` (held flat outside the measured range)."""
    hl = interpolate_audiogram(clinical_audiogram(audiogram), freqs_hz, require_3fa=False)
    return torch.as_tensor(np.asarray(hl, dtype=np.float32))


def conditioning_input(theta: torch.Tensor, conditioning: str) -> torch.Tensor:
    """What the network's conditioning branch sees: HL / :data:`HL_SCALE_DB`, or nu as is (``batch x D``)."""
    return theta / HL_SCALE_DB if conditioning == "audiogram" else theta


def measured_audiograms(theta: torch.Tensor, sd_db: float, generator: torch.Generator) -> torch.Tensor:
    """A measurement of true audiograms ``batch x F`` (dB HL): + N(0, sd_db^2) each, clipped into the audiometer's
    range."""
    if not (np.isfinite(sd_db) and sd_db >= 0):
        raise HearloopInputError(f"audiogram measurement SD must be >= 0 dB, got {sd_db}")
    noise = torch.randn(theta.shape, generator=generator, dtype=theta.dtype) * float(sd_db)
    return (theta + noise.to(theta.device)).clamp(*AUDIOMETER_RANGE_DB_HL)
