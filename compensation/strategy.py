"""Base class of hearing-aid compensation strategies: differentiable, batched, with a bounded parameter vector theta.

Every strategy is a torch module ``forward(audio, theta) -> aided audio`` on ``batch x samples`` pressure waveforms
(Pa at SAMPLE_RATE), with a parameter vector theta in physical units (dB, ratios, ms) bounded by ``lower`` /
``upper``. An affine normalised view u = 2 (theta - lower) / (upper - lower) - 1 in [-1, 1]^P is the action space
that optimisers and the Gymnasium environment use. ``prescribe(audiogram)`` gives the fitting-formula starting point
theta0 (e.g. NAL-R, Byrne & Dillon 1986). Each strategy ends with an :class:`~compensation.limiter.OutputLimiter` (MPO).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from compensation.limiter import DEFAULT_MAX_OUTPUT_DB_SPL, OutputLimiter
from simulator.constants import SAMPLE_RATE
from simulator.errors import HearloopInputError
from simulator.validation import validate_audio, validate_sample_rate

_BOUND_TOL = 1e-5


class Strategy(nn.Module, abc.ABC):
    """A hearing-aid strategy with bounded parameters theta (``P`` values, physical units).

    Args:
        max_output_db_spl: output limiter ceiling, dB SPL peak.
        sample_rate: audio rate in Hz; must equal SAMPLE_RATE.
    """

    name: ClassVar[str] = "strategy"
    prescribed_from: ClassVar[str] = "audiogram"
    """What :meth:`prescribe_for` starts from: ``"audiogram"`` (the fitting formulas) or ``"nu"`` (a strategy
    conditioned on the listener's nu, such as the DNN compensator)."""

    def __init__(self, *, max_output_db_spl: float = DEFAULT_MAX_OUTPUT_DB_SPL, sample_rate: float = SAMPLE_RATE):
        super().__init__()
        validate_sample_rate(sample_rate)
        self.sample_rate = float(sample_rate)
        self.limiter = OutputLimiter(max_output_db_spl)
        self._param_names: tuple[str, ...] = ()
        self.register_buffer("lower", torch.zeros(0))
        self.register_buffer("upper", torch.zeros(0))

    # ----------------------------------------------------------------------------------------------- parameter space
    def _set_parameter_space(self, names: Sequence[str], lower: Sequence[float], upper: Sequence[float]) -> None:
        """Declare theta: one name and one [lower, upper] interval per parameter."""
        lo, hi = torch.as_tensor(lower, dtype=torch.float32), torch.as_tensor(upper, dtype=torch.float32)
        if not len(names) == lo.numel() == hi.numel():
            raise HearloopInputError(f"{len(names)} names but {lo.numel()} lower / {hi.numel()} upper bounds")
        if len(set(names)) != len(names):
            raise HearloopInputError(f"parameter names must be unique: {list(names)}")
        if bool((hi <= lo).any()):
            raise HearloopInputError(
                f"every upper bound must exceed its lower bound: lower={lo.tolist()}, upper={hi.tolist()}"
            )
        self._param_names = tuple(names)
        self.lower, self.upper = lo.reshape(-1), hi.reshape(-1)

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the P entries of theta, in order."""
        return self._param_names

    @property
    def n_params(self) -> int:
        """P, the length of theta."""
        return len(self._param_names)

    def _as_batch(self, values: torch.Tensor | Sequence[float], what: str) -> tuple[torch.Tensor, bool]:
        """Shape-check ``values`` as ``batch x P`` (a vector counts as batch 1); returns (tensor, was_vector)."""
        t = torch.as_tensor(values, dtype=torch.float32, device=self.lower.device)
        was_vector = t.dim() == 1
        t = t.unsqueeze(0) if was_vector else t
        if t.dim() != 2 or t.shape[1] != self.n_params:
            raise HearloopInputError(
                f"{what} for strategy '{self.name}' must have shape (P,) or (batch, P) with P={self.n_params} "
                f"({', '.join(self.param_names) or 'no parameters'}); got {tuple(t.shape)}"
            )
        return t, was_vector

    def _check_range(self, values: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, what: str) -> None:
        """Raise a HearloopInputError naming the first parameter that is NaN/inf or outside [lo, hi]."""
        finite = torch.isfinite(values)
        tol = _BOUND_TOL * (hi - lo)
        bad = ~finite | (values < lo - tol) | (values > hi + tol)
        if bool(bad.any()):
            row, col = (int(i) for i in torch.nonzero(bad)[0])
            v = float(values[row, col])
            problem = "is NaN" if v != v else f"= {v:.6g} is outside [{float(lo[col]):.6g}, {float(hi[col]):.6g}]"
            raise HearloopInputError(
                f"{what} for parameter '{self.param_names[col]}' (index {col}, batch row {row}) of strategy "
                f"'{self.name}' {problem}"
            )

    def validate_theta(self, theta: torch.Tensor | Sequence[float] | None, batch: int | None = None) -> torch.Tensor:
        """Check theta (``P`` or ``batch x P``, physical units, within bounds) and return it as ``batch' x P``.

        A single row broadcasts over any audio batch; otherwise the batch must match ``batch``.
        """
        if theta is None:
            if self.n_params:
                raise HearloopInputError(f"strategy '{self.name}' needs theta with P={self.n_params} parameters")
            theta = torch.zeros(1, 0)
        t, _ = self._as_batch(theta, "theta")
        if batch is not None and t.shape[0] not in (1, batch):
            raise HearloopInputError(f"theta has batch {t.shape[0]} but audio has batch {batch} (use 1 to broadcast)")
        self._check_range(t.detach(), self.lower, self.upper, "theta")
        return torch.clamp(t, min=self.lower, max=self.upper)

    def to_normalized(self, theta: torch.Tensor | Sequence[float]) -> torch.Tensor:
        """Physical theta (``P`` or ``batch x P``) -> normalised u in [-1, 1] of the same shape."""
        t, was_vector = self._as_batch(theta, "theta")
        self._check_range(t.detach(), self.lower, self.upper, "theta")
        u = torch.clamp(2.0 * (t - self.lower) / (self.upper - self.lower) - 1.0, -1.0, 1.0)
        return u[0] if was_vector else u

    def from_normalized(self, u: torch.Tensor | Sequence[float]) -> torch.Tensor:
        """Normalised u in [-1, 1] (``P`` or ``batch x P``) -> physical theta of the same shape.

        Raises:
            HearloopInputError: naming the parameter, for NaN/inf or values outside [-1, 1].
        """
        t, was_vector = self._as_batch(u, "normalised action")
        ones = torch.ones_like(self.lower)
        self._check_range(t.detach(), -ones, ones, "normalised action")
        t = torch.clamp(t, -1.0, 1.0)
        theta = self.lower + (t + 1.0) * 0.5 * (self.upper - self.lower)
        return theta[0] if was_vector else theta

    def describe(self, theta: torch.Tensor | Sequence[float]) -> dict[str, float]:
        """``{parameter name: value}`` for a single theta vector (physical units)."""
        t, _ = self._as_batch(theta, "theta")
        return {name: float(v) for name, v in zip(self.param_names, t[0].tolist(), strict=True)}

    def _clip_to_bounds(self, theta: torch.Tensor) -> torch.Tensor:
        """Clip a prescription into [lower, upper] (prescriptions may exceed a strategy's range)."""
        return torch.clamp(theta.to(torch.float32), min=self.lower, max=self.upper)

    # ----------------------------------------------------------------------------------------------------- processing
    def forward(self, audio: torch.Tensor, theta: torch.Tensor | Sequence[float] | None = None) -> torch.Tensor:
        """Aided audio.

        Args:
            audio: ``batch x samples`` input pressure (Pa) at SAMPLE_RATE.
            theta: ``P`` or ``batch x P`` (or ``1 x P``) parameters in physical units; may be None when P = 0.

        Returns:
            ``batch x samples`` aided pressure (Pa) after the output limiter.
        """
        audio = validate_audio(audio)
        theta = self.validate_theta(theta, batch=audio.shape[0]).to(audio.device)
        return self.limiter(self.process(audio, theta.expand(audio.shape[0], -1)))

    @abc.abstractmethod
    def process(self, audio: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """The strategy's processing before the limiter: audio ``batch x samples`` (Pa), theta ``batch x P``."""

    @abc.abstractmethod
    def prescribe(self, audiogram: Mapping[int | float, float]) -> torch.Tensor:
        """Theta0 (``P``, physical units, within bounds) from an audiogram ``{freq_hz: dB HL}``."""

    def prescribe_for(self, audiogram: Mapping[int | float, float], nu: Sequence[float] | np.ndarray) -> torch.Tensor:
        """Theta0 for a listener with this (clinical) ``audiogram`` and conditioning ``nu``: the strategy declares
        which of the two it prescribes from (:attr:`prescribed_from`), so callers need not know strategies by name."""
        return self.prescribe(np.asarray(nu) if self.prescribed_from == "nu" else audiogram)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, n_params={self.n_params}"
