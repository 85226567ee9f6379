"""A virtual listener: a nu-ICNet midbrain model set by its conditioning parameters nu ([Pellatt2025]_, nu-ICNet).

A listener is ``{id, nu, optional recording time}`` paired with the model. It answers three kinds of question:

* its simulated inferior-colliculus response to any sound (``response``), batched;
* its neurometric pure-tone thresholds (``thresholds_db_spl``, and ``thresholds`` in dB HL relative to the NH reference
  listener), from :mod:`listeners.neurometric`, cached because they are deterministic;
* yes/no answers to audiometric trials (``respond``): a probit psychometric function around its threshold curve with
  lapses and false alarms, p = gamma + (1 - gamma - lambda) * Phi((L - T(f)) / sigma), so it plugs straight into
  ``audiometry.GPPTA`` and ``audiometry.HughsonWestlake``.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from scipy.stats import norm
from torch import nn

from listeners.neurometric import ToneProtocol, neurometric_thresholds_db_spl
from simulator.errors import HearloopInputError
from simulator.frequencies import AUDIOGRAM_FREQS_HZ, PTA_FREQS_HZ
from simulator.validation import validate_audio

__all__ = [
    "AUDIOGRAM_FREQS_HZ",
    "PTA_FREQS_HZ",
    "THRESHOLD_GRID_HZ",
    "VirtualListener",
    "prime_thresholds",
    "validate_listener_nu",
]

THRESHOLD_GRID_HZ: tuple[float, ...] = tuple(
    sorted({float(round(250.0 * 2.0 ** (k / 3.0), 1)) for k in range(16)} | {float(f) for f in AUDIOGRAM_FREQS_HZ})
)
"""Frequency grid of the true threshold curve (1/3 octave 250-8000 Hz plus the audiogram frequencies): the responder
interpolates the bisection thresholds on this grid (linear in log frequency, held constant outside it)."""


def validate_listener_nu(nu: Sequence[float] | np.ndarray | torch.Tensor, n_params: int) -> np.ndarray:
    """Check a listener's nu: ``D`` finite values in [0, 1] with D equal to the model's; returns float64 ``D``."""
    arr = np.asarray(nu.detach().cpu() if isinstance(nu, torch.Tensor) else nu, dtype=np.float64).reshape(-1)
    if arr.size != n_params:
        raise HearloopInputError(f"nu has {arr.size} values but the model has D = {n_params} conditioning parameters")
    if not np.all(np.isfinite(arr)):
        raise HearloopInputError(f"nu must be finite; got {arr.tolist()}")
    if np.any(arr < 0) or np.any(arr > 1):
        raise HearloopInputError(f"nu must lie in [0, 1]; got {np.round(arr, 4).tolist()}")
    return arr


class VirtualListener:
    """One virtual listener: a frozen nu-ICNet and a conditioning vector nu.

    Args:
        id: listener name (unique within a cohort).
        nu: ``D`` conditioning parameters in [0, 1] (D = ``model.n_params``).
        model: the nu-ICNet (``simulator.load_model()``), shared by all listeners of a cohort.
        hours: optional recording time in hours the listener stands for (metadata; nu already encodes it).
        sigma_db: slope of the probit responder (dB).
        lapse_rate: lambda, probability of missing a clearly audible tone.
        false_alarm_rate: gamma, probability of answering "heard" to an inaudible tone.
        reference: the NH reference listener that defines 0 dB HL (None: this listener is its own reference, as the
            NH reference itself is; ``listeners.nh_reference(model)`` is attached by ``sample_cohort``).
        protocol: tone-detection protocol of the neurometric thresholds.
        ground_truth: the virtual-IC animal the listener stands for (``AnimalRecording.ground_truth``; e.g. a training
            animal at its learned nu), or None (default) for a listener that is the model alone. Objectives scored
            on the generator itself need one (``compensation.generator_objective``).
    """

    def __init__(
        self,
        id: str,
        nu: Sequence[float] | np.ndarray | torch.Tensor,
        model: nn.Module,
        hours: float | None = None,
        sigma_db: float = 5.0,
        lapse_rate: float = 0.02,
        false_alarm_rate: float = 0.01,
        reference: VirtualListener | None = None,
        protocol: ToneProtocol | None = None,
        ground_truth: Mapping[str, Any] | None = None,
    ) -> None:
        if not str(id):
            raise HearloopInputError("a listener needs a non-empty id")
        if not (sigma_db > 0 and np.isfinite(sigma_db)):
            raise HearloopInputError(f"sigma_db must be positive and finite; got {sigma_db}")
        if not (0 <= lapse_rate < 0.5 and 0 <= false_alarm_rate < 0.5):
            raise HearloopInputError("lapse_rate and false_alarm_rate must lie in [0, 0.5)")
        if hours is not None and not (np.isfinite(hours) and hours >= 0):
            raise HearloopInputError(f"hours must be a finite non-negative recording time; got {hours}")
        self.id = str(id)
        self.model = model
        self.nu = validate_listener_nu(nu, int(model.n_params))
        self.hours = None if hours is None else float(hours)
        self.sigma_db = float(sigma_db)
        self.lapse_rate = float(lapse_rate)
        self.false_alarm_rate = float(false_alarm_rate)
        self.reference = reference
        self.protocol = protocol or ToneProtocol()
        self.ground_truth = None if ground_truth is None else dict(ground_truth)
        self._spl_cache: dict[float, float] = {}

    def __repr__(self) -> str:
        return f"VirtualListener(id={self.id!r}, nu={np.round(self.nu, 3).tolist()})"

    @property
    def n_params(self) -> int:
        """D, the number of conditioning parameters."""
        return int(self.nu.size)

    def nu_tensor(self) -> torch.Tensor:
        """nu as a ``1 x D`` float32 tensor on the model's device."""
        return torch.as_tensor(self.nu, dtype=torch.float32, device=self.model.device).reshape(1, -1)

    # ------------------------------------------------------------------------------------------------------ response
    @torch.no_grad()
    def response(self, audio: torch.Tensor) -> torch.Tensor:
        """Simulated IC response: count probabilities ``B x channels x samples // 32 x 5`` for ``B x samples`` Pa."""
        audio = validate_audio(audio)
        return self.model.predict(audio, self.nu_tensor().expand(audio.shape[0], -1), grad=False)

    # ---------------------------------------------------------------------------------------------------- thresholds
    def thresholds_db_spl(self, freqs_hz: Sequence[float] | np.ndarray) -> np.ndarray:
        """Neurometric tone thresholds in dB SPL at ``freqs_hz`` (``F``), cached per frequency."""
        freqs = np.asarray(freqs_hz, dtype=np.float64).reshape(-1)
        missing = sorted({float(f) for f in freqs} - set(self._spl_cache))
        if missing:
            values = neurometric_thresholds_db_spl(self.model, self.nu, missing, self.protocol)
            self._spl_cache.update(zip(missing, (float(v) for v in values), strict=True))
        return np.array([self._spl_cache[float(f)] for f in freqs])

    def thresholds(self, freqs_hz: Sequence[float] | np.ndarray) -> np.ndarray:
        """Neurometric thresholds in dB HL: dB SPL minus the NH reference listener's dB SPL at each frequency."""
        if self.reference is None:  # the NH reference itself: 0 dB HL by definition
            return np.zeros(np.asarray(freqs_hz).size)
        return self.thresholds_db_spl(freqs_hz) - self.reference.thresholds_db_spl(freqs_hz)

    def threshold_curve(self, freqs_hz: Sequence[float] | np.ndarray | float) -> np.ndarray:
        """The true threshold curve in dB HL at any frequency: bisection thresholds on :data:`THRESHOLD_GRID_HZ`,
        interpolated linearly in log frequency (exact at the grid and audiogram frequencies)."""
        grid = np.asarray(THRESHOLD_GRID_HZ)
        values = self.thresholds(grid)
        return np.interp(np.log2(np.asarray(freqs_hz, dtype=np.float64)), np.log2(grid), values)

    def audiogram(self, freqs_hz: Sequence[float] = AUDIOGRAM_FREQS_HZ) -> dict[int, float]:
        """True neurometric audiogram ``{freq_hz: dB HL}`` (the input of a fitting formula such as NAL-R)."""
        values = self.thresholds(freqs_hz)
        return {int(f): float(v) for f, v in zip(freqs_hz, values, strict=True)}

    def pta(self) -> float:
        """Four-frequency pure-tone average (0.5, 1, 2, 4 kHz), dB HL."""
        return float(np.mean(self.thresholds(PTA_FREQS_HZ)))

    # -------------------------------------------------------------------------------------------------- responding
    def p_heard(self, freq_hz: float, level_db_hl: float) -> float:
        """Probability of a "heard" answer: gamma + (1 - gamma - lambda) * Phi((L - T(f)) / sigma), T the true
        threshold curve (:meth:`threshold_curve`, dB HL)."""
        threshold = float(self.threshold_curve(float(freq_hz)))
        core = norm.cdf((float(level_db_hl) - threshold) / self.sigma_db)
        return self.false_alarm_rate + (1.0 - self.false_alarm_rate - self.lapse_rate) * float(core)

    def respond(self, freq_hz: float, level_db_hl: float, rng: np.random.Generator) -> bool:
        """Answer one audiometric trial (the audiometry responder protocol).

        Args:
            freq_hz: tone frequency (Hz).
            level_db_hl: presentation level (dB HL).
            rng: the random source of the answer (seeded by the caller).
        """
        if not (np.isfinite(freq_hz) and freq_hz > 0 and np.isfinite(level_db_hl)):
            raise HearloopInputError(
                f"a trial needs a positive finite frequency and a finite level; got {freq_hz}, {level_db_hl}"
            )
        return bool(rng.random() < self.p_heard(freq_hz, level_db_hl))


def prime_thresholds(listeners: Sequence[VirtualListener], freqs_hz: Sequence[float], progress: bool = False) -> None:
    """Compute the listeners' missing neurometric thresholds at ``freqs_hz`` in one batched bisection and cache them.

    Listeners that share one model and equal protocol settings (as a cohort does, each listener holding its own
    :class:`ToneProtocol`) are measured in one batch; the values equal per-listener computation. ``progress``: a tqdm
    bar over the bisection.
    """
    freqs = sorted({float(f) for f in freqs_hz})
    todo = [lis for lis in listeners if any(f not in lis._spl_cache for f in freqs)]
    if not todo:
        return
    model, protocol = todo[0].model, todo[0].protocol
    if any(lis.model is not model or lis.protocol != protocol for lis in todo):
        for lis in todo:
            lis.thresholds_db_spl(freqs)
        return
    values = neurometric_thresholds_db_spl(model, np.stack([lis.nu for lis in todo]), freqs, protocol,
                                           progress=progress)  # fmt: skip
    for lis, row in zip(todo, values, strict=True):
        lis._spl_cache.update(zip(freqs, (float(v) for v in row), strict=True))
