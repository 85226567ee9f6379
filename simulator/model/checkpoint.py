"""Model checkpoints: safetensors weights + a JSON config with a checksum. Nothing is ever unpickled.

A checkpoint of the nu-ICNet family (Pellatt et al., "Modelling the Effects of Hearing Loss on Neural Coding in the
Auditory Midbrain with Variational Conditioning") is a directory holding

    model.safetensors    every parameter and persistent buffer (float32)
    config.json          {"format": "hearloop-model", "format_version": 1, "config": ModelConfig.to_dict(),
                          "metadata": {...}, "weights_sha256": "<hex digest of model.safetensors>"}

Loading checks, in order: the files exist, the JSON parses and has exactly the known keys, the format version is
supported, the config is valid, the weights' SHA-256 matches, the safetensors file parses, and the tensor names and
shapes equal those of a freshly built model of that config. Any failure raises :class:`CheckpointError` naming the
problem. Files are written to temporary names and renamed, so an interrupted save never leaves a half-written model.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from simulator.atomic_io import atomic_write_bytes
from simulator.device import resolve_device
from simulator.errors import CheckpointError, HearloopInputError
from simulator.model.config import ModelConfig
from simulator.model.factory import build_model

__all__ = ["BUNDLED_MODEL_DIR", "CONFIG_FILE", "FORMAT_VERSION", "WEIGHTS_FILE", "load_model", "save_model"]

FORMAT_NAME = "hearloop-model"
FORMAT_VERSION: int = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
BUNDLED_MODEL_DIR: Path = Path(__file__).resolve().parents[1] / "assets" / "nuicnet-small"
"""Where the bundled pretrained ``small`` nu-ICNet lives (written by ``hearloop train``)."""

_TOP_KEYS = {"format", "format_version", "config", "metadata", "weights_sha256"}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_model(model: nn.Module, directory: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (with a ``.config`` :class:`ModelConfig`) to ``directory``; returns the directory.

    Args:
        model: a NuICNet, ABRNet or ICNet.
        directory: created if missing; existing checkpoint files in it are replaced atomically.
        metadata: JSON-serialisable extra information (training data, seed, metrics, ...).
    """
    from safetensors.torch import save

    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        raise CheckpointError("save_model needs a hearloop model with a ModelConfig in .config")
    try:
        meta_json = json.loads(json.dumps(metadata or {}))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint metadata is not JSON-serialisable: {err}") from err
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(out / WEIGHTS_FILE, save(tensors, metadata={"format": FORMAT_NAME}))
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "metadata": meta_json,
        "weights_sha256": _sha256(out / WEIGHTS_FILE),
    }
    atomic_write_bytes(out / CONFIG_FILE, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    return out


def read_config(directory: str | os.PathLike) -> tuple[ModelConfig, dict[str, Any], str]:
    """Parse and check ``config.json``: returns ``(config, metadata, weights_sha256)``."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"checkpoint {directory}: missing {CONFIG_FILE}")
    try:
        doc = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"checkpoint {directory}: {CONFIG_FILE} is not valid JSON ({err})") from err
    if not isinstance(doc, dict) or set(doc) != _TOP_KEYS:
        keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise CheckpointError(f"checkpoint {directory}: {CONFIG_FILE} must have keys {sorted(_TOP_KEYS)}, got {keys}")
    if doc["format"] != FORMAT_NAME or doc["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {directory}: unsupported format {doc['format']!r} version {doc['format_version']!r} "
            f"(this hearloop reads {FORMAT_NAME!r} version {FORMAT_VERSION})"
        )
    try:
        config = ModelConfig.from_dict(doc["config"])
    except (HearloopInputError, TypeError) as err:
        raise CheckpointError(f"checkpoint {directory}: invalid model config: {err}") from err
    return config, doc["metadata"], str(doc["weights_sha256"])


def load_model(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """Load a checkpoint directory (default: the bundled ``small`` nu-ICNet) in eval mode.

    Args:
        path: checkpoint directory (or its ``config.json``); None loads :data:`BUNDLED_MODEL_DIR`.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (:func:`simulator.device.resolve_device`).

    Returns:
        the model (``NuICNet``, ``ABRNet`` or ``ICNet``) with ``.metadata`` set to the checkpoint metadata.

    Raises:
        CheckpointError: missing bundled model, missing/corrupt files, checksum mismatch, unknown config keys or
            format version, or missing/extra/mis-shaped tensors.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    if path is None:
        directory = BUNDLED_MODEL_DIR
        if not (directory / CONFIG_FILE).is_file():
            raise CheckpointError(
                f"the bundled pretrained model is missing ({directory}); train it with `hearloop train` "
                "(see its --help), or pass a checkpoint directory to load_model(path)"
            )
    else:
        directory = Path(path)
        if directory.is_file() and directory.name == CONFIG_FILE:
            directory = directory.parent
        if not directory.is_dir():
            raise CheckpointError(f"checkpoint directory {directory} does not exist")
    try:
        dev = resolve_device(device)
    except HearloopInputError as err:
        raise CheckpointError(str(err)) from err
    config, metadata, digest = read_config(directory)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"checkpoint {directory}: missing {WEIGHTS_FILE}")
    if _sha256(weights) != digest:
        raise CheckpointError(f"checkpoint {directory}: {WEIGHTS_FILE} does not match its SHA-256 in {CONFIG_FILE}")
    try:
        tensors = load(weights.read_bytes())
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"checkpoint {directory}: {WEIGHTS_FILE} is corrupt ({err})") from err
    model = build_model(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(f"checkpoint {directory}: missing tensors {missing[:5]}, unexpected tensors {extra[:5]}")
    bad = [f"{k} {tuple(tensors[k].shape)} != {s}" for k, s in expected.items() if tuple(tensors[k].shape) != s]
    if bad:
        raise CheckpointError(f"checkpoint {directory}: mis-shaped tensors: {'; '.join(bad[:5])}")
    nonfinite = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if nonfinite:
        raise CheckpointError(f"checkpoint {directory}: non-finite values in {nonfinite[:5]}")
    model.load_state_dict(tensors, strict=True)
    model.metadata = metadata
    return model.to(dev).eval()
