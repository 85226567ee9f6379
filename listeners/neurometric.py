"""Neurometric audibility: the tone level a simulated midbrain can tell from silence, found by bisection.

[Pellatt2025]_ (nu-ICNet) simulate a listener's inferior-colliculus response to any sound; here that response defines
the listener's pure-tone audiogram, as a neurometric threshold. For a tone at level L and for silence, the model gives
per-bin spike-count distributions p(n) over counts 0..4. Over the tone's analysis window of T bins the spike count S_c =
sum_t n_ct of channel c has (bins taken as independent)

    E[S_c] = sum_t E[n_ct],   Var[S_c] = sum_t Var[n_ct],

and the channel's sensitivity index is d'_c = (E_tone[S_c] - E_silence[S_c]) / sqrt((Var_tone + Var_silence) / 2). An
ideal observer combining independent channels reaches d' = sqrt(sum_c max(d'_c, 0)^2). The threshold is the level at
which d' = ``criterion`` (:data:`DETECTION_D_PRIME` by default), found by bisection in dB SPL on a grid of frequencies,
all frequencies (and all listeners) in one batched model call per step.

Why the criterion is d' = 20 and not 1: summed over 32 channels and ~170 bins, this ideal observer reaches d' = 1 on
mean-count changes far below what the model predicts reliably. A trained nu-ICNet leaks small, smooth responses to tones
below an impaired animal's true threshold, so at a small criterion its impaired listeners' thresholds sit 10-40 dB too
low. The virtual-IC generator's own d'(L) rises from 1 to 40 within 10-20 dB, so for noise-free responses the criterion
barely matters; for the model it decides whether thresholds track hearing loss. Calibrated on the bundled model's
training animals (MODEL_CARD.md, "Neurometric calibration"; criteria 3, 5, 10, 20, 30, 50): d' = 20 has the smallest
error against the true loss (slope 0.82, r = 0.93, MAE 9.3 dB, NH animals within 3.7 dB of the reference; d' = 10 gives
slope 0.78 and MAE 11.0 dB), and is validated on fresh animals by ``benchmarks/bench_listeners.py``.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from simulator.constants import DOWNSAMPLE, MAX_COUNT, SAMPLE_RATE, db_spl_to_pa_rms
from simulator.errors import HearloopInputError

__all__ = ["DETECTION_D_PRIME", "ToneProtocol", "detectability", "neurometric_thresholds_db_spl"]

DETECTION_D_PRIME = 20.0
"""Default ideal-observer d' at threshold (module docstring: calibrated on the bundled model's training animals)."""


class ToneProtocol:
    """Stimulus timing of the tone-in-silence detection task.

    Args:
        lead_s: silence before the tone (s), which gives the causal model its context.
        tone_s: tone duration (s) including raised-cosine ramps of ``ramp_ms``.
        ramp_ms: on/off ramp duration (ms), > 0.
        tail_s: window after tone offset that still counts (offset responses), s.
        level_range_db_spl: bisection bracket (dB SPL).
        iterations: bisection steps (resolution = range / 2**iterations).
        criterion: ideal-observer d' at threshold (> 0).
    """

    def __init__(
        self,
        lead_s: float = 0.08,
        tone_s: float = 0.2,
        ramp_ms: float = 10.0,
        tail_s: float = 0.03,
        level_range_db_spl: tuple[float, float] = (-20.0, 130.0),
        iterations: int = 12,
        criterion: float = DETECTION_D_PRIME,
    ) -> None:
        if not np.isfinite([lead_s, tone_s, ramp_ms, tail_s]).all():
            raise HearloopInputError(
                f"tone protocol durations must be finite; got lead_s={lead_s}, tone_s={tone_s}, ramp_ms={ramp_ms}, "
                f"tail_s={tail_s}"
            )
        if min(lead_s, tone_s, tail_s) < 0 or not ramp_ms > 0 or tone_s * 1000.0 < 2 * ramp_ms:
            raise HearloopInputError(
                "tone protocol durations must be >= 0, the ramps > 0 and the tone at least two ramps long"
            )
        if not np.isfinite(level_range_db_spl).all():
            raise HearloopInputError(f"level_range_db_spl must be finite; got {tuple(level_range_db_spl)}")
        if level_range_db_spl[1] <= level_range_db_spl[0] or iterations < 1:
            raise HearloopInputError("level_range_db_spl must be increasing and iterations >= 1")
        if not (np.isfinite(criterion) and criterion > 0):
            raise HearloopInputError(f"the detection criterion d' must be positive and finite; got {criterion}")
        self.criterion = float(criterion)
        self.lead_s, self.tone_s, self.tail_s = float(lead_s), float(tone_s), float(tail_s)
        self.ramp_ms = float(ramp_ms)
        self.level_range_db_spl = (float(level_range_db_spl[0]), float(level_range_db_spl[1]))
        self.iterations = int(iterations)
        self.n_samples = round((lead_s + tone_s + tail_s) * SAMPLE_RATE) // DOWNSAMPLE * DOWNSAMPLE
        self.window = slice(int(lead_s * SAMPLE_RATE) // DOWNSAMPLE, self.n_samples // DOWNSAMPLE)

    def settings(self) -> tuple:
        """The settings that fix the protocol's thresholds (two protocols with equal settings give equal values)."""
        return (self.lead_s, self.tone_s, self.ramp_ms, self.tail_s, self.level_range_db_spl, self.iterations,
                self.criterion)  # fmt: skip

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ToneProtocol) and self.settings() == other.settings()

    def __hash__(self) -> int:
        return hash(self.settings())

    def tones(self, freqs_hz: torch.Tensor, levels_db_spl: torch.Tensor) -> torch.Tensor:
        """Tones with ramps after ``lead_s`` of silence: ``F x samples`` Pa for ``F`` frequencies / levels."""
        t = torch.arange(self.n_samples, dtype=torch.float64) / SAMPLE_RATE - self.lead_s
        inside = (t >= 0) & (t < self.tone_s)
        ramp = self.ramp_ms / 1000.0
        env = torch.clamp(torch.minimum(t / ramp, (self.tone_s - t) / ramp), 0.0, 1.0)
        env = torch.where(inside, 0.5 - 0.5 * torch.cos(torch.pi * env), torch.zeros_like(t))
        amp = db_spl_to_pa_rms(levels_db_spl.double()) * np.sqrt(2.0)
        wave = amp[:, None] * torch.sin(2 * torch.pi * freqs_hz.double()[:, None] * t[None, :]) * env[None, :]
        return wave.float()


def _window_count_stats(probs: torch.Tensor, window: slice) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of the windowed spike count: ``... x channels x bins x 5`` -> two ``... x channels``."""
    counts = torch.arange(MAX_COUNT + 1, dtype=probs.dtype, device=probs.device)
    p = probs[..., window, :]
    mean = p @ counts
    var = p @ counts.square() - mean.square()
    return mean.sum(-1), var.clamp_min(0).sum(-1)


def detectability(tone_probs: torch.Tensor, silence_probs: torch.Tensor, window: slice) -> torch.Tensor:
    """Ideal-observer d' of a tone against silence from the model's count distributions (module docstring).

    Args:
        tone_probs: ``B x channels x bins x 5`` response to the tones.
        silence_probs: ``B x channels x bins x 5`` (or batch 1) response to silence, same bins.
        window: bins that count.

    Returns:
        ``B`` d' values (>= 0).
    """
    m_t, v_t = _window_count_stats(tone_probs, window)
    m_s, v_s = _window_count_stats(silence_probs, window)
    d = (m_t - m_s) / torch.sqrt(0.5 * (v_t + v_s) + 1e-6)
    return torch.sqrt(d.clamp_min(0).square().sum(-1))


@torch.no_grad()
def neurometric_thresholds_db_spl(
    model: nn.Module,
    nu: np.ndarray | torch.Tensor,
    freqs_hz: Sequence[float] | np.ndarray,
    protocol: ToneProtocol | None = None,
    criterion: float | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Tone detection thresholds (dB SPL) of listeners, by batched bisection on d' = ``criterion``.

    d'(L) grows with level in a trained model; bisection keeps the bracket [lo, hi] with d'(lo) < criterion <= d'(hi).
    A frequency whose d' stays below the criterion at the top of the range gets the top level (no response: the
    listener is "off the audiometer" there), one already above it at the bottom gets the bottom level.

    Args:
        model: a nu-ICNet (frozen).
        nu: ``L x D`` (or ``D``) listener conditioning in [0, 1].
        freqs_hz: ``F`` tone frequencies in Hz (0 < f < SAMPLE_RATE / 2).
        protocol: stimulus timing and bisection settings.
        criterion: d' at threshold (None: ``protocol.criterion``).
        progress: a tqdm bar over the bisection's model calls (a large batch takes minutes on a CPU).

    Returns:
        ``L x F`` thresholds in dB SPL (``F`` for a single ``D`` vector).
    """
    protocol = protocol or ToneProtocol()
    criterion = protocol.criterion if criterion is None else float(criterion)
    freqs = np.asarray(freqs_hz, dtype=np.float64).reshape(-1)
    if freqs.size == 0 or not np.all(np.isfinite(freqs)) or np.any(freqs <= 0) or np.any(freqs >= SAMPLE_RATE / 2):
        raise HearloopInputError(f"tone frequencies must be finite and in (0, {SAMPLE_RATE / 2:.0f}) Hz; got {freqs}")
    nu_t = torch.as_tensor(np.asarray(nu, dtype=np.float32))
    single = nu_t.dim() == 1
    nu_t = nu_t.reshape(1, -1) if single else nu_t
    n_lis, n_f = nu_t.shape[0], freqs.size
    device = model.device
    nu_rep = nu_t.repeat_interleave(n_f, dim=0).to(device)  # (L*F) x D, listener-major
    freq_rep = torch.as_tensor(np.tile(freqs, n_lis))
    silence = torch.zeros(1, protocol.n_samples, device=device)
    silence_probs = model.predict(silence, nu_t.to(device))  # L x C x T x 5
    silence_probs = silence_probs.repeat_interleave(n_f, dim=0)
    lo = torch.full((n_lis * n_f,), protocol.level_range_db_spl[0], dtype=torch.float64)
    hi = torch.full_like(lo, protocol.level_range_db_spl[1])

    def d_prime(levels: torch.Tensor) -> torch.Tensor:
        audio = protocol.tones(freq_rep, levels).to(device)
        probs = model.predict(audio, nu_rep)
        return detectability(probs, silence_probs, protocol.window).double().cpu()

    bar = tqdm(total=protocol.iterations + 2, desc=f"audiograms of {n_lis} listeners", unit="step",
               disable=not progress, leave=False)  # fmt: skip
    heard_top = d_prime(hi) >= criterion
    heard_bottom = d_prime(lo) >= criterion
    bar.update(2)
    for _ in range(protocol.iterations):
        mid = 0.5 * (lo + hi)
        above = d_prime(mid) >= criterion
        hi = torch.where(above, mid, hi)
        lo = torch.where(above, lo, mid)
        bar.update(1)
    bar.close()
    thresholds = 0.5 * (lo + hi)
    thresholds = torch.where(heard_top, thresholds, torch.full_like(lo, protocol.level_range_db_spl[1]))
    thresholds = torch.where(heard_bottom, torch.full_like(lo, protocol.level_range_db_spl[0]), thresholds)
    out = thresholds.numpy().reshape(n_lis, n_f)
    return out[0] if single else out
