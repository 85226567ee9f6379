"""DNN hearing-aid compensator: a causal conv encoder-decoder conditioned on the listener, trained through nu-ICNet.

This is the "parametrised hearing compensation model, fitted by a small set of control parameters" that the nu-ICNet
paper ([Pellatt2025]_, Discussion) and the GP-PTA paper point to as future work, in the spirit of the differentiable
closed-loop compensation of Drakopoulos & Verhulst (2023, "A neural-network framework for the design of individualised
hearing-loss compensation", IEEE/ACM TASLP 31:2395-2409): a network processes sound for a listener and is trained
through a frozen auditory model so that the impaired response to the aided sound matches the normal response to the
clean sound (:mod:`compensation.dnn_training`).

Architecture (``batch x samples`` Pa in, ``batch x samples`` Pa out; strictly causal, output sample n depends on input
samples <= n only):

1. Analysis: a fixed complementary crossover filterbank (:class:`compensation.filterbank.CrossoverFilterbank`, K bands,
   ``numtaps`` linear-phase taps) applied CAUSALLY by direct convolution (no delay compensation, no FFT, so the
   causality is exact): the bands sum to the input delayed by
   (numtaps-1)/2 samples (2.6 ms for 129 taps) -- the device latency.
2. Encoder: band levels in dB SPL over 32-sample frames (the nu-ICNet bin rate), normalised, plus the broadband frame
   level, then a stack of residual causal dilated Conv1d layers (left padding only; PReLU), each modulated by FiLM
   (Perez et al. 2018: h <- (1 + gamma(c)) h + beta(c)) from an embedding of the conditioning vector c.
3. Decoder: a causal conv head gives per-band gain trajectories in dB, squashed into ``gain_range_db`` around a
   listener-dependent static gain. The gains of frame t act from frame t+1 on (interpolated linearly in dB across the
   frame), so the gain at sample n only uses input that ended before n.
4. Synthesis: y[n] = sum_k 10^(g_k[n]/20) band_k[n], then the output limiter (MPO) shared by every strategy.

Time alignment. Like NAL-R and WDRC (``compensate_delay=True``, their default), the output is by default advanced by
the filterbank's group delay, so it is time-aligned with the input, as the neural-fidelity comparison with the NH
response to the clean sound needs (a 2.6 ms lag shifts the simulated neurogram by two 1.31 ms bins, a systematic
error no fitting can remove). The aligned output at sample n then uses input up to n + latency_samples, exactly as the
zero-phase NAL-R/WDRC outputs do; ``compensate_delay=False`` gives the strictly causal, delayed output of a device.

Conditioning (:mod:`compensation.dnn_conditioning`). The conditioning vector is the strategy's theta, the "small set
of control parameters" a fitting procedure (HITL, the Gymnasium environment) can adjust. By default
(``conditioning="audiogram"``) it is what a clinic measures: the audiogram, thresholds in dB HL at 250-8000 Hz, so the
compensator is prescribed from an audiogram like NAL-R and WDRC. With ``conditioning="nu"`` it is the listener's nu in
[0, 1]^D, which only the simulator knows: :class:`DNNNuOracle`, an upper bound on listener-specific processing, never a
fitting a clinic could make; it can also be prescribed from an audiogram through a ridge map to nu fitted on the
training listeners (``audiogram_map``). At initialisation every gain is 0 dB: the untrained compensator is the unaided
condition (up to its latency).

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from compensation.dnn_conditioning import (
    CONDITIONINGS,
    audiogram_theta,
    conditioning_input,
    parameter_space,
)
from compensation.filterbank import CrossoverFilterbank
from compensation.limiter import DEFAULT_MAX_OUTPUT_DB_SPL
from compensation.nalr import interpolate_audiogram
from compensation.population import clinical_audiogram
from compensation.strategy import Strategy
from simulator.constants import DOWNSAMPLE, REF_PRESSURE_PA, SAMPLE_RATE
from simulator.errors import HearloopInputError
from simulator.frequencies import AUDIOGRAM_FREQS_HZ
from simulator.validated_config import Interval, Options, ValidatedConfig

__all__ = ["DNNCompensator", "DNNConfig", "DNNNuOracle", "compensator_class"]

_LEVEL_FLOOR_DB = 0.0


_SIZE = [Interval(int, 1, None)]


@dataclasses.dataclass
class DNNConfig(ValidatedConfig):
    """Architecture of a :class:`DNNCompensator` (JSON-serialisable).

    Attributes:
        conditioning: ``"audiogram"`` (theta = thresholds in dB HL at ``audiogram_freqs_hz``, what a clinic has) or
            ``"nu"`` (theta = the listener's nu: the upper-bound :class:`DNNNuOracle`).
        n_cond: length of the conditioning vector (the number of audiogram frequencies, or D).
        n_bands, f_low, f_high, numtaps: the causal crossover filterbank (numtaps odd; latency (numtaps-1)/2 samples).
        hidden: channels of the encoder/decoder convs.
        dilations: one residual causal conv layer per entry (kernel ``kernel``).
        kernel: conv kernel length (frames).
        cond_hidden: width of the conditioning embedding.
        gain_range_db: (low, high) bounds of every band gain, dB.
        level_offset_db, level_scale_db: frame levels are fed as (L - offset) / scale.
        audiogram_freqs_hz: frequencies of the audiogram theta (or of the audiogram -> nu map).
        audiogram_map: ``nu`` conditioning only: ``D x (F + 1)`` ridge weights (last column the intercept) mapping an
            audiogram (dB HL at ``audiogram_freqs_hz``) to nu, or None when no map was fitted.
        version: config schema version (2; version-1 configs predate ``conditioning`` and were all nu-conditioned).
    """

    _config_name: ClassVar[str] = "DNN compensator config"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **{name: _SIZE for name in ("n_cond", "n_bands", "hidden", "kernel", "cond_hidden")},
        "level_scale_db": [Interval(float, 0.0, None, closed="neither")],
        "conditioning": [Options(CONDITIONINGS)],
    }

    conditioning: str = "audiogram"
    n_cond: int = len(AUDIOGRAM_FREQS_HZ)
    n_bands: int = 8
    f_low: float = 250.0
    f_high: float = 10000.0
    numtaps: int = 129
    hidden: int = 64
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    kernel: int = 3
    cond_hidden: int = 64
    gain_range_db: tuple[float, float] = (-20.0, 60.0)
    level_offset_db: float = 50.0
    level_scale_db: float = 20.0
    audiogram_freqs_hz: tuple[float, ...] = tuple(float(f) for f in AUDIOGRAM_FREQS_HZ)
    audiogram_map: list[list[float]] | None = None
    version: int = 2

    def __post_init__(self) -> None:
        self.dilations = tuple(int(d) for d in self.dilations)
        self.gain_range_db = tuple(float(v) for v in self.gain_range_db)
        self.audiogram_freqs_hz = tuple(float(v) for v in self.audiogram_freqs_hz)
        self.validate()

    def validate(self) -> None:
        """Raise HearloopInputError for an inconsistent config."""
        if self.version != 2:
            raise HearloopInputError(f"DNN compensator config version {self.version} is not supported (expected 2)")
        self.validate_parameters()
        if self.conditioning == "audiogram" and self.n_cond != len(self.audiogram_freqs_hz):
            raise HearloopInputError(
                f"an audiogram-conditioned compensator has n_cond = {len(self.audiogram_freqs_hz)} (one per audiogram "
                f"frequency), got {self.n_cond}"
            )
        if self.conditioning == "audiogram" and self.audiogram_map is not None:
            raise HearloopInputError("audiogram_map (audiogram -> nu) belongs to nu-conditioned compensators only")
        if not self.dilations or any(d not in _SIZE[0] for d in self.dilations):
            raise HearloopInputError(
                f"DNN compensator dilations must be one or more integers >= 1, got {self.dilations}"
            )
        lo, hi = self.gain_range_db
        if not (lo < 0.0 < hi):
            raise HearloopInputError(f"gain_range_db must contain 0 dB, got {self.gain_range_db}")
        if self.audiogram_map is not None:
            shape = np.asarray(self.audiogram_map, dtype=float).shape
            if shape != (self.n_cond, len(self.audiogram_freqs_hz) + 1):
                raise HearloopInputError(
                    f"audiogram_map must be {self.n_cond} x {len(self.audiogram_freqs_hz) + 1}, got {shape}"
                )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None = None, **overrides: Any) -> DNNConfig:
        """As :meth:`ValidatedConfig.from_dict`; a version-1 config (before ``conditioning``) reads as ``"nu"``."""
        values = dict(data or {})
        if values.get("version") == 1 and "conditioning" not in values:
            values.update(version=2, conditioning="nu")
        return super().from_dict(values, **overrides)


class CausalConv1d(nn.Conv1d):
    """Conv1d padded on the left only: output frame t sees input frames <= t."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.pad(x, (self.left, 0)))


class FiLMBlock(nn.Module):
    """Residual causal dilated conv with FiLM: ``h + PReLU((1 + gamma) * conv(h) + beta)``."""

    def __init__(self, channels: int, kernel: int, dilation: int, cond_dim: int):
        super().__init__()
        self.conv = CausalConv1d(channels, channels, kernel, dilation)
        self.film = nn.Linear(cond_dim, 2 * channels)
        self.act = nn.PReLU(channels)
        nn.init.normal_(self.film.weight, std=1e-2)
        nn.init.zeros_(self.film.bias)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.film(emb).unsqueeze(-1).chunk(2, dim=1)
        return h + self.act((1.0 + gamma) * self.conv(h) + beta)


class DNNCompensator(Strategy):
    """Listener-conditioned causal DNN hearing aid; theta = the conditioning vector: the listener's audiogram (dB HL at
    ``config.audiogram_freqs_hz``, the default) or its nu (:class:`DNNNuOracle`).

    Args:
        config: architecture (:class:`DNNConfig`); default sizes when None.
        max_output_db_spl: output limiter ceiling, dB SPL peak.
        sample_rate: Hz (must be SAMPLE_RATE).
        compensate_delay: advance the output by :attr:`latency_samples` (time-aligned with the input, as NAL-R and
            WDRC by default); False gives the strictly causal, delayed output.
    """

    name = "dnn"

    def __init__(
        self,
        config: DNNConfig | Mapping[str, Any] | None = None,
        *,
        max_output_db_spl: float = DEFAULT_MAX_OUTPUT_DB_SPL,
        sample_rate: float = SAMPLE_RATE,
        compensate_delay: bool = True,
    ):
        super().__init__(max_output_db_spl=max_output_db_spl, sample_rate=sample_rate)
        self.compensate_delay = bool(compensate_delay)
        cfg = config if isinstance(config, DNNConfig) else DNNConfig.from_dict(config or {})
        self.config = cfg
        self._set_parameter_space(*parameter_space(cfg.conditioning, cfg.n_cond, cfg.audiogram_freqs_hz))
        self.filterbank = CrossoverFilterbank(cfg.n_bands, cfg.f_low, cfg.f_high, cfg.numtaps, self.sample_rate)
        k, h, c = cfg.n_bands, cfg.hidden, cfg.cond_hidden
        self.cond_net = nn.Sequential(nn.Linear(cfg.n_cond, c), nn.PReLU(), nn.Linear(c, c), nn.PReLU())
        self.inp = CausalConv1d(k + 1, h, 1)
        self.blocks = nn.ModuleList(FiLMBlock(h, cfg.kernel, d, c) for d in cfg.dilations)
        self.head = nn.Sequential(CausalConv1d(h, h, cfg.kernel), nn.PReLU(h), CausalConv1d(h, k, 1))
        self.static = nn.Linear(c, k)
        for layer in (self.head[-1], self.static):
            nn.init.normal_(layer.weight, std=1e-3)
            nn.init.zeros_(layer.bias)
        lo, hi = cfg.gain_range_db
        self._gain_lo, self._gain_span = lo, hi - lo
        self._zero_logit = math.log(-lo / hi)  # sigmoid(logit) = -lo / (hi - lo): 0 dB at initialisation

    @property
    def prescribed_from(self) -> str:  # type: ignore[override]
        """``"audiogram"`` or ``"nu"``: what this compensator is conditioned on (``config.conditioning``)."""
        return self.config.conditioning

    @property
    def latency_samples(self) -> int:
        """Delay of the causal filterbank (samples); the gains add no look-ahead."""
        return self.filterbank.delay_samples

    def _gain_db(self, logits: torch.Tensor) -> torch.Tensor:
        return self._gain_lo + self._gain_span * torch.sigmoid(logits + self._zero_logit)

    def frame_levels(self, bands: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Normalised frame levels ``batch x (K + 1) x frames`` of bands ``batch x K x N`` and audio ``batch x N``."""
        b, k, n = bands.shape
        frames = torch.cat([bands, audio.unsqueeze(1)], dim=1).reshape(b, k + 1, n // DOWNSAMPLE, DOWNSAMPLE)
        floor = (REF_PRESSURE_PA * 10.0 ** (_LEVEL_FLOOR_DB / 20.0)) ** 2
        level = 10.0 * torch.log10(torch.clamp(frames.square().mean(-1), min=floor) / REF_PRESSURE_PA**2)
        return (level - self.config.level_offset_db) / self.config.level_scale_db

    def band_gains_db(self, audio: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame band gains and the causal band signals.

        Args:
            audio: ``batch x N`` Pa with N a multiple of 32.
            theta: ``batch x n_cond`` conditioning (dB HL, or nu in [0, 1]).

        Returns:
            (gains ``batch x K x (frames + 2)`` dB -- two leading static frames then one per input frame --,
            bands ``batch x K x N`` Pa, causal).
        """
        taps = self.filterbank.taps.flip(-1).unsqueeze(1)  # K x 1 x numtaps (conv1d correlates)
        bands = nn.functional.conv1d(nn.functional.pad(audio.unsqueeze(1), (taps.shape[-1] - 1, 0)), taps)
        emb = self.cond_net(conditioning_input(theta, self.config.conditioning))
        h = self.inp(self.frame_levels(bands, audio))
        for block in self.blocks:
            h = block(h, emb)
        static = self.static(emb).unsqueeze(-1)  # batch x K x 1
        gains = self._gain_db(torch.cat([static, static, self.head(h) + static], dim=-1))
        return gains, bands

    def process(self, audio: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Aided audio before the limiter: ``batch x N`` Pa from ``batch x N`` Pa and theta ``batch x D``.

        With ``compensate_delay`` the input is zero-padded by the latency at the end and the output advanced by it.
        """
        n = audio.shape[-1]
        lag = self.latency_samples if self.compensate_delay else 0
        x = nn.functional.pad(audio, (0, lag + (-(n + lag)) % DOWNSAMPLE))
        gains, bands = self.band_gains_db(x, theta)
        b, k, frames = bands.shape[0], bands.shape[1], x.shape[-1] // DOWNSAMPLE
        ramp = torch.arange(DOWNSAMPLE, device=x.device, dtype=x.dtype) / DOWNSAMPLE  # 0 .. 31/32
        start, end = gains[..., :frames].unsqueeze(-1), gains[..., 1 : frames + 1].unsqueeze(-1)
        per_sample_db = (start + (end - start) * ramp).reshape(b, k, frames * DOWNSAMPLE)
        return (bands * torch.pow(10.0, per_sample_db / 20.0)).sum(dim=1)[..., lag : lag + n]

    # ------------------------------------------------------------------------------------------------ prescription
    def audiogram_to_nu(self, audiogram: Mapping[int | float, float]) -> torch.Tensor:
        """nu (``D``) predicted from an audiogram ``{freq_hz: dB HL}`` by the fitted ridge map, clipped into [0, 1].

        Raises:
            HearloopInputError: if this compensator has no audiogram map (pass nu to :meth:`prescribe` instead).
        """
        if self.config.conditioning != "nu":
            raise HearloopInputError("audiogram_to_nu belongs to nu-conditioned compensators")
        if self.config.audiogram_map is None:
            raise HearloopInputError(
                "this DNN compensator has no audiogram->nu map (it was not trained with audiograms); "
                "prescribe it with the listener's nu instead"
            )
        hl = interpolate_audiogram(clinical_audiogram(audiogram), self.config.audiogram_freqs_hz, require_3fa=False)
        weights = np.asarray(self.config.audiogram_map, dtype=float)
        nu = weights[:, :-1] @ (np.asarray(hl, dtype=float) / 100.0) + weights[:, -1]
        return torch.tensor(np.clip(nu, 0.0, 1.0), dtype=torch.float32)

    def prescribe(self, audiogram: Mapping[int | float, float] | Sequence[float] | np.ndarray | torch.Tensor):
        """theta0 (``n_cond``).

        Audiogram-conditioned: the audiogram ``{freq_hz: dB HL}`` as a clinic reports it (clipped into the audiometer's
        range, interpolated at ``audiogram_freqs_hz``). Nu-conditioned: the listener's nu given directly, or mapped
        from an audiogram by the ridge map.

        Raises:
            HearloopInputError: an audiogram-conditioned compensator given anything but an audiogram mapping.
        """
        if self.config.conditioning == "audiogram":
            if not isinstance(audiogram, Mapping):
                raise HearloopInputError(
                    "an audiogram-conditioned DNN compensator is prescribed from an audiogram {freq_hz: dB HL}, "
                    f"not a {type(audiogram).__name__}"
                )
            return self._clip_to_bounds(audiogram_theta(audiogram, self.config.audiogram_freqs_hz))
        if isinstance(audiogram, Mapping):
            return self._clip_to_bounds(self.audiogram_to_nu(audiogram))
        nu, _ = self._as_batch(audiogram, "nu")
        self._check_range(nu, self.lower, self.upper, "nu")
        return nu[0].clone()

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, conditioning={self.config.conditioning!r}, bands={self.config.n_bands}, "
            f"latency_samples={self.latency_samples}, compensate_delay={self.compensate_delay}"
        )


class DNNNuOracle(DNNCompensator):
    """The nu-conditioned DNN compensator: an UPPER BOUND, not a fitting a clinic could make.

    Conditioned on the listener's nu, which only the simulator knows (a clinic has the audiogram); it shows what
    listener-specific processing could reach with perfect knowledge of the listener. Registered as
    ``dnn_nu_oracle`` and labelled so in every table.
    """

    name = "dnn_nu_oracle"

    def __init__(self, config: DNNConfig | Mapping[str, Any] | None = None, **kwargs: Any):
        if not isinstance(config, DNNConfig):
            config = DNNConfig.from_dict({"conditioning": "nu", "n_cond": 6, **dict(config or {})})
        if config.conditioning != "nu":
            raise HearloopInputError(f"DNNNuOracle is nu-conditioned; got conditioning {config.conditioning!r}")
        super().__init__(config, **kwargs)


def compensator_class(config: DNNConfig) -> type[DNNCompensator]:
    """The strategy class of a compensator config: :class:`DNNNuOracle` for nu conditioning, else
    :class:`DNNCompensator`."""
    return DNNNuOracle if config.conditioning == "nu" else DNNCompensator
