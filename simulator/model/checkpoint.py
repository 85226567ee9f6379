"""nu-ICNet family checkpoints: :func:`save_model` and :func:`load_model` (the bundled model by default).

A checkpoint is a directory in the shared format of :mod:`simulator.model.checkpoint_io` (safetensors weights and a
JSON ``config.json`` with their SHA-256; nothing is ever unpickled) whose ``"config"`` is a
:meth:`~simulator.model.config.ModelConfig.to_dict` and whose format is ``"hearloop-model"`` version 1.

Loading checks, in order: the files exist, the JSON parses and has exactly the known keys, the format version is
supported, the config is valid, the weights' SHA-256 matches, the safetensors file parses, and the tensor names and
shapes equal those of a freshly built model of that config. Any failure raises :class:`CheckpointError` naming the
problem. Files are written atomically, so an interrupted save never leaves a half-written model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from simulator.device import resolve_device
from simulator.errors import CheckpointError, HearloopInputError
from simulator.model.checkpoint_io import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    CheckpointFormat,
    bundled_or_folder,
    load_weights,
    read_checkpoint,
    sha256_file,
    write_checkpoint,
)
from simulator.model.config import ModelConfig
from simulator.model.factory import build_model

__all__ = [
    "BEZ2018_MODEL_DIR",
    "BUNDLED_MODEL_DIR",
    "CONFIG_FILE",
    "FORMAT_VERSION",
    "GAMMATONE_MODEL_DIR",
    "WEIGHTS_FILE",
    "load_model",
    "read_config",
    "save_model",
    "sha256_file",
]

FORMAT_NAME = "hearloop-model"
FORMAT_VERSION: int = 1
MODEL_FORMAT = CheckpointFormat(FORMAT_NAME, FORMAT_VERSION, "checkpoint")
BUNDLED_MODEL_DIR: Path = Path(__file__).resolve().parents[1] / "assets" / "nuicnet-small"
"""Where the bundled pretrained ``small`` nu-ICNet-6 lives, the default model: trained on a cohort of the physiological
BEZ2018 auditory-nerve periphery (MODEL_CARD.md; written by ``scripts/build_bundled_model.sh``)."""
BEZ2018_MODEL_DIR: Path = BUNDLED_MODEL_DIR
"""The BEZ2018-trained bundle, which is the default (:data:`BUNDLED_MODEL_DIR`); kept as a name for older scripts."""
GAMMATONE_MODEL_DIR: Path = BUNDLED_MODEL_DIR.with_name("nuicnet-small-gammatone")
"""The previous default bundle, a ``small`` nu-ICNet-6 trained on a cohort of the fast gammatone periphery (hearing loss
as attenuation only; MODEL_CARD.md, "Gammatone bundle"). Pass its directory as ``--model`` to compare."""


def save_model(model: nn.Module, directory: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (with a ``.config`` :class:`ModelConfig`) to ``directory``; returns the directory.

    Args:
        model: a NuICNet, ABRNet or ICNet.
        directory: created if missing; existing checkpoint files in it are replaced atomically.
        metadata: JSON-serialisable extra information (training data, seed, metrics, ...).
    """
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        raise CheckpointError("save_model needs a hearloop model with a ModelConfig in .config")
    return write_checkpoint(directory, model, MODEL_FORMAT, config.to_dict(), metadata)


def read_config(directory: str | os.PathLike) -> tuple[ModelConfig, dict[str, Any], str]:
    """Parse and check ``config.json``: returns ``(config, metadata, weights_sha256)``."""
    return read_checkpoint(directory, MODEL_FORMAT, ModelConfig.from_dict)


def checkpoint_dir(path: str | os.PathLike | None) -> Path:
    """The checkpoint directory of ``path`` (a directory or its ``config.json``; None: :data:`BUNDLED_MODEL_DIR`)."""
    hint = "train it with `hearloop train` (see its --help), or pass a checkpoint directory to load_model(path)"
    bundled = BUNDLED_MODEL_DIR if path is None else None
    return bundled_or_folder(path, bundled, MODEL_FORMAT, hint, f"checkpoint directory {path} does not exist")


def load_model(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """Load a checkpoint directory (default: the bundled ``small`` nu-ICNet) in eval mode.

    Args:
        path: checkpoint directory (or its ``config.json``); None loads :data:`BUNDLED_MODEL_DIR`.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (:func:`simulator.device.resolve_device`).

    Returns:
        the model (``NuICNet``, ``ABRNet`` or ``ICNet``) with ``.metadata`` set to the checkpoint metadata.

    Raises:
        CheckpointError: missing bundled model, missing/corrupt files, checksum mismatch, unknown config keys or
            format version, missing/extra/mis-shaped tensors, or a device that cannot be used.
    """
    directory = checkpoint_dir(path)
    try:
        dev = resolve_device(device)
    except HearloopInputError as err:
        raise CheckpointError(str(err)) from err
    config, metadata, digest = read_config(directory)
    model = load_weights(directory, MODEL_FORMAT, digest, build_model(config))
    model.metadata = metadata
    return model.to(dev).eval()


def weights_fingerprint(path: str | os.PathLike | None) -> str:
    """The SHA-256 a checkpoint records for its weights (``path`` None: the bundled model)."""
    return read_config(checkpoint_dir(path))[2]
