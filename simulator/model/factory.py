"""The named size presets and ``build_model``: the factory that turns a :class:`ModelConfig` into a network.

Sizes of the ``paper`` preset follow [Pellatt2025]_ (Fig. 1): a SincNet layer of 48 filters, 5 causal conv layers of 246
kernels of length 60 and stride 2, a 64-kernel bottleneck, a 3-layer conditioning expansion, 4 combination layers of
kernel 16 and a pointwise decoder to 512 channels x 5 spike-count classes, D = 6.

Sizes the paper does not state (lost in extraction) are chosen here and marked "assumed": the SincNet filter length
(64 taps = 2.6 ms), the bottleneck kernel (equal to the encoder kernels, as in ICNet), the widths of the conditioning
expansion (2D, 8D, 64) and the combination layers (112, 96, 80, 64).

``small`` is the bundled model, trained on 2 CPU cores: the same topology (SincNet, 5 stride-2 causal layers,
bottleneck, 3 + 4 conditioning/combination layers of kernel 16, pointwise decoder) at about 0.31 GMAC per second of
audio for one listener (32 channels), 88% of it in the listener-independent encoder. Its bottleneck has 32 channels
and its combination layers narrow 48 -> 36 -> 32 -> 28 -> 24, so that decoding for one more listener costs ~36 MMAC/s
(see :func:`macs_per_second` and ``benchmarks/bench_simulator.py``). ``tiny`` is for unit tests.

Input scaling (``input_scale`` and ``feature_scale``): the model multiplies the Pa waveform by ``input_scale`` = 1 /
20 uPa, i.e. works in units of the dB SPL reference pressure, so that after the unit-gain SincNet filters, symlog(x) ~
ln(p / 20 uPa) = dB SPL / 8.69 for audible sounds (0 dB SPL -> ~0.9, 100 dB SPL -> ~12). The symlog features are then
multiplied by ``feature_scale`` = 0.1 to be of order one. ABRNet maps ABR thresholds to nu linearly from
``abr_range_db`` = (0, 100) dB SPL onto [0, 1] (clamped).

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn

from simulator.constants import BIN_RATE, DEFAULT_N_PARAMS, SAMPLE_RATE
from simulator.errors import HearloopInputError
from simulator.frequencies import ABR_FREQS_HZ
from simulator.model.config import ModelConfig
from simulator.model.icnet import ICNet
from simulator.model.nuicnet import ABRNet, NuICNet

__all__ = ["PRESETS", "build_model", "macs_per_second", "preset_config"]

_PRESET_SIZES: dict[str, dict[str, Any]] = {
    "paper": {"n_channels": 512},  # dataclass defaults are the paper sizes
    "small": {
        "n_channels": 32,
        "sinc_filters": 32,
        "sinc_kernel": 48,
        "conv_channels": (24, 32, 48, 64, 64),
        "conv_kernels": (8, 8, 8, 8, 8),
        "bottleneck_channels": 32,
        "bottleneck_kernel": 4,
        "cond_widths": (16, 16, 16),
        "combine_widths": (36, 32, 28, 24),
    },
    "tiny": {
        "n_channels": 6,
        "sinc_filters": 6,
        "sinc_kernel": 16,
        "conv_channels": (6, 6, 8, 8, 8),
        "conv_kernels": (4, 4, 4, 4, 4),
        "bottleneck_channels": 8,
        "bottleneck_kernel": 2,
        "cond_widths": (4, 4, 4),
        "combine_widths": (8, 8, 8, 8),
        "combine_kernel": 16,
    },
}

PRESETS: tuple[str, ...] = tuple(_PRESET_SIZES)


def preset_config(
    preset: str,
    n_params: int = DEFAULT_N_PARAMS,
    n_animals: int = 9,
    n_channels: int | None = None,
    kind: str = "nuicnet",
) -> ModelConfig:
    """The :class:`ModelConfig` of a named preset for a model ``kind``.

    ABRNet uses D = len(ABR_FREQS_HZ) = 5 when ``n_params`` is left at its default; ICNets get D = 0 and a
    single-branch ICNet exactly one animal.
    """
    if preset not in _PRESET_SIZES:
        raise HearloopInputError(f"unknown model preset {preset!r}; choose one of {PRESETS}")
    sizes = dict(_PRESET_SIZES[preset])
    if n_channels is not None:
        sizes["n_channels"] = int(n_channels)
    if kind == "abrnet" and n_params == DEFAULT_N_PARAMS:
        n_params = len(ABR_FREQS_HZ)
    if kind in ("icnet", "multibranch_icnet"):
        n_params = 0
    if kind == "icnet":
        n_animals = 1
    if preset == "paper" and kind in ("nuicnet", "abrnet"):
        d = int(n_params)
        sizes["cond_widths"] = (2 * d, 8 * d, 64)  # assumed (see module docstring)
    return ModelConfig(preset=preset, kind=kind, n_params=int(n_params), n_animals=int(n_animals), **sizes)


def build_model(
    preset: str | ModelConfig = "small",
    n_params: int = DEFAULT_N_PARAMS,
    n_animals: int = 9,
    n_channels: int | None = None,
    kind: str = "nuicnet",
    seed: int = 0,
) -> nn.Module:
    """Build an untrained model (weights initialised deterministically from ``seed``).

    Args:
        preset: ``"paper"``, ``"small"`` (bundled), ``"tiny"`` (unit tests), or a :class:`ModelConfig`.
        n_params: D (nu-ICNet; ABRNet defaults to the 5 ABR frequencies; ignored by ICNets).
        n_animals: K training animals (conditioning tables or decoder branches).
        n_channels: C recording channels (default: the preset's, 512 for ``paper``).
        kind: ``"nuicnet"``, ``"abrnet"``, ``"icnet"`` or ``"multibranch_icnet"``.
        seed: initialisation seed (the global RNG state is left untouched).

    Returns:
        a :class:`simulator.model.nuicnet.NuICNet`, :class:`simulator.model.nuicnet.ABRNet` or
        :class:`simulator.model.icnet.ICNet`.
    """
    config = preset if isinstance(preset, ModelConfig) else preset_config(preset, n_params, n_animals, n_channels, kind)
    cls = {"nuicnet": NuICNet, "abrnet": ABRNet, "icnet": ICNet, "multibranch_icnet": ICNet}[config.kind]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = cls(config)
    model.metadata = {}
    return model.eval()


def macs_per_second(config: ModelConfig, n_listeners: int = 1) -> dict[str, float]:
    """Multiply-accumulates per second of audio: ``{"encoder", "per_listener", "total"}`` for ``n_listeners``.

    ``encoder`` counts the listener-independent part (SincNet, strided layers, bottleneck and the latent half of the
    first combination layer); ``per_listener`` the rest of the combination and the decoder.
    """
    rate = SAMPLE_RATE
    enc = config.sinc_filters * config.sinc_kernel * rate
    c_in = config.sinc_filters
    for c, k in zip(config.conv_channels, config.conv_kernels, strict=True):
        rate /= config.conv_stride
        enc += c * c_in * k * rate
        c_in = c
    enc += config.bottleneck_channels * c_in * config.bottleneck_kernel * BIN_RATE
    widths = (config.bottleneck_channels, *config.combine_widths)
    enc += widths[1] * widths[0] * config.combine_kernel * BIN_RATE
    per = sum(a * b for a, b in itertools.pairwise(widths[1:])) * config.combine_kernel * BIN_RATE
    per += widths[-1] * config.n_channels * 5 * BIN_RATE
    if config.kind in ("icnet", "multibranch_icnet"):
        enc -= widths[1] * widths[0] * config.combine_kernel * BIN_RATE
        per = config.bottleneck_channels * config.n_channels * 5 * BIN_RATE
    return {"encoder": enc, "per_listener": per, "total": enc + n_listeners * per}
