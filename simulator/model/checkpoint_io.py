"""Checkpoint directories: safetensors weights plus a JSON document holding their SHA-256. Nothing is ever unpickled.

One reader and writer for every network hearloop stores (the nu-ICNet family, :mod:`simulator.model.checkpoint`;
the DNN compensator, :mod:`compensation.dnn_checkpoint`; the training state, :mod:`simulator.training.state`). A
checkpoint directory holds

    model.safetensors    every parameter and persistent buffer (float32); safetensors metadata {"format": <name>}
    config.json          {"format": <name>, "format_version": <version>, "config": {...}, "metadata": {...},
                          "weights_sha256": "<hex digest of model.safetensors>"}

Reading checks, in order: the JSON exists, parses and has exactly these keys, the format and version are the expected
ones; then the weights exist, match their SHA-256, parse, and have exactly the names and shapes of the module they are
loaded into, with finite values. Every failure raises :class:`~simulator.errors.CheckpointError` naming the
directory and the problem. Both files are written atomically (:mod:`simulator.atomic_io`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from simulator.atomic_io import atomic_write_bytes, atomic_write_text, sha256_file
from simulator.errors import CheckpointError, HearloopInputError

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "CheckpointFormat",
    "bundled_or_folder",
    "checkpoint_folder",
    "load_weights",
    "read_checkpoint",
    "read_json",
    "read_safetensors",
    "sha256_file",
    "write_checkpoint",
]

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
_TOP_KEYS = {"format", "format_version", "config", "metadata", "weights_sha256"}
_Config = TypeVar("_Config")


@dataclass(frozen=True)
class CheckpointFormat:
    """What tells one kind of checkpoint directory from another.

    Attributes:
        name: the ``"format"`` string (``"hearloop-model"``, ``"hearloop-compensator"``).
        version: the ``"format_version"`` this hearloop reads and writes.
        label: how error messages name such a directory (``"checkpoint"``, ``"compensator"``).
    """

    name: str
    version: int
    label: str


def _tensors_of(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in module.state_dict().items()}


def write_checkpoint(
    directory: str | os.PathLike,
    module: nn.Module,
    fmt: CheckpointFormat,
    config: dict[str, Any],
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``module``'s state and the JSON document to ``directory`` (created if missing); returns the directory.

    Raises:
        CheckpointError: ``metadata`` is not JSON-serialisable (checked before anything is written).
    """
    from safetensors.torch import save

    try:
        meta_json = json.loads(json.dumps(metadata or {}))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{fmt.label} metadata is not JSON-serialisable: {err}") from err
    out = Path(directory)
    blob = save(_tensors_of(module), metadata={"format": fmt.name})
    atomic_write_bytes(out / WEIGHTS_FILE, blob)
    doc = {
        "format": fmt.name,
        "format_version": fmt.version,
        "config": config,
        "metadata": meta_json,
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
    }
    atomic_write_text(out / CONFIG_FILE, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return out


def read_json(path: Path, owner: str) -> Any:
    """Parse the JSON file ``path`` of ``owner`` (e.g. ``"checkpoint runs/x"``); a missing or broken file is a
    :class:`CheckpointError` naming both."""
    if not path.is_file():
        raise CheckpointError(f"{owner}: missing {path.name}")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{owner}: {path.name} is not valid JSON ({err})") from err


def checkpoint_folder(path: str | os.PathLike) -> Path | None:
    """``path`` as a checkpoint directory (a directory, or the folder of its ``config.json``); None if there is none."""
    directory = Path(path)
    if directory.is_file() and directory.name == CONFIG_FILE:
        directory = directory.parent
    return directory if directory.is_dir() else None


def bundled_or_folder(
    path: str | os.PathLike | None, bundled: Path | None, fmt: CheckpointFormat, train_hint: str, not_found: str
) -> Path:
    """The checkpoint directory to load: ``bundled`` (when given; it must hold a checkpoint, else the error says how
    to train one: ``train_hint``) or ``path`` as a :func:`checkpoint_folder` (else the ``not_found`` error)."""
    if bundled is not None:
        if not (bundled / CONFIG_FILE).is_file():
            raise CheckpointError(f"the bundled {fmt.label} is missing ({bundled}); {train_hint}")
        return bundled
    directory = None if path is None else checkpoint_folder(path)
    if directory is None:
        raise CheckpointError(not_found)
    return directory


def read_checkpoint(
    directory: str | os.PathLike, fmt: CheckpointFormat, parse: Callable[[dict], _Config]
) -> tuple[_Config, dict[str, Any], str]:
    """Read and check ``config.json``: returns ``(parse(config), metadata, weights_sha256)``.

    Args:
        directory: the checkpoint directory.
        fmt: the format it must have.
        parse: builds the config object from its JSON (``ModelConfig.from_dict``); its HearloopInputError or TypeError
            becomes a CheckpointError naming the directory.
    """
    owner = f"{fmt.label} {directory}"
    doc = read_json(Path(directory) / CONFIG_FILE, owner)
    if not isinstance(doc, dict) or set(doc) != _TOP_KEYS:
        keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise CheckpointError(f"{owner}: {CONFIG_FILE} must have keys {sorted(_TOP_KEYS)}, got {keys}")
    if doc["format"] != fmt.name or doc["format_version"] != fmt.version:
        raise CheckpointError(
            f"{owner}: unsupported format {doc['format']!r} version {doc['format_version']!r} "
            f"(this hearloop reads {fmt.name!r} version {fmt.version})"
        )
    try:
        config = parse(doc["config"])
    except (HearloopInputError, TypeError) as err:
        raise CheckpointError(f"{owner}: invalid config: {err}") from err
    return config, dict(doc["metadata"] or {}), str(doc["weights_sha256"])


def read_safetensors(path: Path, owner: str, sha256: str) -> dict[str, torch.Tensor]:
    """Tensors of the safetensors file ``path`` after checking it exists and matches ``sha256``."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    if not path.is_file():
        raise CheckpointError(f"{owner}: missing {path.name}")
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise CheckpointError(f"{owner}: {path.name} does not match its recorded SHA-256")
    try:
        return load(blob)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{owner}: {path.name} is corrupt ({err})") from err


def load_weights(directory: str | os.PathLike, fmt: CheckpointFormat, sha256: str, module: nn.Module) -> nn.Module:
    """Load the checked weights of ``directory`` into ``module`` (in place, strict); returns ``module``."""
    owner = f"{fmt.label} {directory}"
    tensors = read_safetensors(Path(directory) / WEIGHTS_FILE, owner, sha256)
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{owner}: missing tensors {missing[:5]}, unexpected tensors {extra[:5]}")
    bad = [f"{k} {tuple(tensors[k].shape)} != {s}" for k, s in expected.items() if tuple(tensors[k].shape) != s]
    if bad:
        raise CheckpointError(f"{owner}: mis-shaped tensors: {'; '.join(bad[:5])}")
    nonfinite = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if nonfinite:
        raise CheckpointError(f"{owner}: non-finite values in {nonfinite[:5]}")
    module.load_state_dict(tensors, strict=True)
    return module
