"""The model configuration schema: :class:`ModelConfig`, a JSON-serialisable dataclass stored in checkpoints.

The bottom of :mod:`simulator.model`: it imports no network module, so every network module can import it and the
factory (:mod:`simulator.model.factory`) can import the networks without a circle. The sizes of the named presets and
the meaning of ``input_scale``, ``feature_scale`` and ``abr_range_db`` are documented in :mod:`simulator.model.factory`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from simulator.constants import DEFAULT_N_PARAMS, DOWNSAMPLE, REF_PRESSURE_PA
from simulator.errors import HearloopInputError
from simulator.validated_config import Interval, Options, ValidatedConfig

__all__ = ["CONFIG_VERSION", "KINDS", "ModelConfig"]

CONFIG_VERSION: int = 1
"""Version of the :class:`ModelConfig` schema (bumped when the architecture or its fields change)."""

KINDS: tuple[str, ...] = ("nuicnet", "abrnet", "icnet", "multibranch_icnet")
"""Model kinds: nu-ICNet, ABRNet (nu from ABR thresholds), single-branch ICNet, multi-branch ICNet."""


_SIZE = [Interval(int, 1, None)]
_SCALE = [Interval(float, 0.0, None, closed="neither")]


@dataclass
class ModelConfig(ValidatedConfig):
    """Every size and constant needed to rebuild a model; stored as ``config.json`` in checkpoints.

    Attributes:
        preset: name of the size preset it came from (``"paper"``, ``"small"``, ``"tiny"`` or ``"custom"``).
        kind: one of :data:`KINDS`.
        n_params: D, conditioning dimensionality (ABRNet: number of ABR frequencies; ICNets: 0).
        n_animals: number of training animals K (conditioning tables / decoder branches).
        n_channels: C, recording channels predicted.
        sinc_filters, sinc_kernel, sinc_min_low_hz, sinc_min_band_hz: SincNet layer.
        conv_channels, conv_kernels, conv_stride: the strided causal encoder layers (stride ** layers == 32).
        bottleneck_channels, bottleneck_kernel: the latent ("64-kernel bottleneck" in the paper).
        cond_widths: widths of the 3 pointwise layers expanding nu into a feature map (last = F).
        combine_widths, combine_kernel: the 4 causal combination layers (last = decoder input width).
        input_scale: factor applied to the Pa waveform (1 / 20 uPa).
        feature_scale: factor applied after symlog.
        abr_range_db: (lo, hi) dB SPL mapped onto nu = 0..1 by ABRNet.
        version: :data:`CONFIG_VERSION`.
    """

    _config_name: ClassVar[str] = "model config"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "kind": [Options(KINDS)],
        "n_params": [Interval(int, 0, None)],
        **{
            name: _SIZE
            for name in (
                *("n_animals", "n_channels", "sinc_filters", "sinc_kernel", "conv_stride"),
                *("bottleneck_channels", "bottleneck_kernel", "combine_kernel"),
            )
        },
        "input_scale": _SCALE,
        "feature_scale": _SCALE,
    }

    preset: str = "custom"
    kind: str = "nuicnet"
    n_params: int = DEFAULT_N_PARAMS
    n_animals: int = 9
    n_channels: int = 512
    sinc_filters: int = 48
    sinc_kernel: int = 64
    sinc_min_low_hz: float = 50.0
    sinc_min_band_hz: float = 50.0
    conv_channels: tuple[int, ...] = (246, 246, 246, 246, 246)
    conv_kernels: tuple[int, ...] = (60, 60, 60, 60, 60)
    conv_stride: int = 2
    bottleneck_channels: int = 64
    bottleneck_kernel: int = 60
    cond_widths: tuple[int, ...] = (12, 48, 64)
    combine_widths: tuple[int, ...] = (112, 96, 80, 64)
    combine_kernel: int = 16
    input_scale: float = 1.0 / REF_PRESSURE_PA
    feature_scale: float = 0.1
    abr_range_db: tuple[float, float] = (0.0, 100.0)
    version: int = CONFIG_VERSION

    def __post_init__(self) -> None:
        for name in ("conv_channels", "conv_kernels", "cond_widths", "combine_widths", "abr_range_db"):
            setattr(self, name, tuple(getattr(self, name)))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`HearloopInputError` naming the first inconsistent field (declared constraints first)."""
        if self.version != CONFIG_VERSION:
            raise HearloopInputError(
                f"model config version {self.version} is not supported (expected {CONFIG_VERSION})"
            )
        self.validate_parameters()
        if len(self.conv_channels) != len(self.conv_kernels) or not self.conv_channels:
            raise HearloopInputError("conv_channels and conv_kernels must be non-empty and of equal length")
        if self.conv_stride ** len(self.conv_channels) != DOWNSAMPLE:
            raise HearloopInputError(
                f"conv_stride ** n_layers must equal {DOWNSAMPLE}; got {self.conv_stride}**{len(self.conv_channels)}"
            )
        if any(k < self.conv_stride for k in self.conv_kernels):
            raise HearloopInputError(f"every conv kernel must be >= the stride {self.conv_stride}")
        if len(self.cond_widths) != 3 or len(self.combine_widths) != 4:
            raise HearloopInputError("cond_widths needs 3 entries and combine_widths 4 (paper architecture)")
        widths = [*self.conv_channels, *self.conv_kernels, *self.cond_widths, *self.combine_widths]
        if any(v not in _SIZE[0] for v in widths):
            raise HearloopInputError(f"every layer width and kernel must be {_SIZE[0]}; got {widths}")
        needs_nu = self.kind in ("nuicnet", "abrnet")
        if needs_nu and self.n_params < 1:
            raise HearloopInputError(f"a {self.kind} model needs n_params >= 1, got {self.n_params}")
        if not needs_nu and self.n_params != 0:
            raise HearloopInputError(f"a {self.kind} model has no conditioning: n_params must be 0")
        if self.kind == "icnet" and self.n_animals != 1:
            raise HearloopInputError("a single-branch ICNet models exactly one animal (n_animals=1)")
        if self.abr_range_db[1] <= self.abr_range_db[0]:
            raise HearloopInputError(f"abr_range_db must be increasing, got {self.abr_range_db}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        return json.loads(json.dumps(out))
