"""Input validation shared by the public entry points (audio, conditioning parameters, sample rates)."""

from __future__ import annotations

import math

import torch

from simulator.constants import SAMPLE_RATE
from simulator.errors import HearloopInputError


def validate_audio(audio: torch.Tensor, *, name: str = "audio", min_samples: int = 1) -> torch.Tensor:
    """Check that ``audio`` is a finite float tensor of shape ``batch x samples`` (Pa) and return it as float32.

    Raises:
        HearloopInputError: if it is not a tensor, not 2-D, too short, or holds NaN/inf.
    """
    if not isinstance(audio, torch.Tensor):
        raise HearloopInputError(f"{name} must be a torch.Tensor of shape (batch, samples), got {type(audio).__name__}")
    if audio.dim() != 2:
        raise HearloopInputError(
            f"{name} must have shape (batch, samples) in Pa; got {tuple(audio.shape)}. "
            "Use audio.unsqueeze(0) for a single sound."
        )
    if audio.shape[1] < min_samples:
        raise HearloopInputError(f"{name} has {audio.shape[1]} samples; at least {min_samples} are needed")
    if not audio.is_floating_point():
        audio = audio.float()
    if not bool(torch.isfinite(audio).all()):
        n_bad = int((~torch.isfinite(audio)).sum())
        raise HearloopInputError(f"{name} contains {n_bad} non-finite values (NaN or inf)")
    return audio.to(torch.float32)


def validate_nu(nu: torch.Tensor, n_params: int, *, batch: int | None = None, name: str = "nu") -> torch.Tensor:
    """Check that ``nu`` has shape ``batch x n_params`` with every value in [0, 1] and return it as float32.

    Raises:
        HearloopInputError: on a wrong dimensionality D, a batch mismatch, NaN, or values outside [0, 1].
    """
    if not isinstance(nu, torch.Tensor):
        nu = torch.as_tensor(nu, dtype=torch.float32)
    if nu.dim() == 1:
        nu = nu.unsqueeze(0)
    if nu.dim() != 2:
        raise HearloopInputError(f"{name} must have shape (batch, D); got {tuple(nu.shape)}")
    if nu.shape[1] != n_params:
        raise HearloopInputError(f"{name} has D={nu.shape[1]} parameters but the model expects D={n_params}")
    if batch is not None and nu.shape[0] not in (1, batch):
        raise HearloopInputError(f"{name} has batch {nu.shape[0]}, expected 1 or {batch}")
    if not bool(torch.isfinite(nu).all()):
        raise HearloopInputError(f"{name} contains non-finite values")
    lo, hi = float(nu.min()), float(nu.max())
    if lo < 0.0 or hi > 1.0:
        raise HearloopInputError(f"{name} must lie in [0, 1]; got values in [{lo:.4g}, {hi:.4g}]")
    return nu.to(torch.float32)


def validate_sample_rate(rate: float, *, expected: float = SAMPLE_RATE, name: str = "sample rate") -> None:
    """Raise if ``rate`` differs from ``expected`` (Hz) by more than 1e-6 relative."""
    if not math.isclose(float(rate), expected, rel_tol=1e-6):
        raise HearloopInputError(
            f"{name} is {rate} Hz but hearloop audio must be at {expected} Hz; "
            "load files with simulator.load_audio(), which resamples"
        )
