"""DNN compensator checkpoints: safetensors weights + a JSON config with a checksum; bundled compensators by name.

Same scheme as the nu-ICNet checkpoints (:mod:`simulator.model.checkpoint`). A compensator directory holds

    model.safetensors   every parameter and persistent buffer (float32)
    config.json         {"format": "hearloop-compensator", "format_version": 1, "config": DNNConfig.to_dict(),
                         "metadata": {...training provenance and measured numbers...}, "weights_sha256": "<hex>"}

Nothing is unpickled. Loading checks the JSON keys and format version, the config, the SHA-256 of the weights, that
the safetensors file parses, and that tensor names and shapes equal those of a freshly built compensator; any failure
raises :class:`simulator.errors.CheckpointError` naming the problem. Writes go to temporary files and are renamed.
Bundled compensators live in ``compensation/assets/<name>/`` and load by name: ``load_compensator("dnn-small")``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from compensation.dnn import DNNCompensator, DNNConfig
from simulator.atomic_io import atomic_write_bytes
from simulator.errors import CheckpointError, HearloopInputError

__all__ = ["ASSETS_DIR", "BUNDLED_COMPENSATORS", "load_compensator", "save_compensator"]

FORMAT_NAME = "hearloop-compensator"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
ASSETS_DIR: Path = Path(__file__).resolve().parent / "assets"
BUNDLED_COMPENSATORS: tuple[str, ...] = ("dnn-small",)
"""Names loadable with :func:`load_compensator` from :data:`ASSETS_DIR`."""

_TOP_KEYS = {"format", "format_version", "config", "metadata", "weights_sha256"}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_compensator(
    model: DNNCompensator, directory: str | os.PathLike, metadata: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` to ``directory`` (created if needed) atomically; returns the directory."""
    from safetensors.torch import save

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    blob = save(state)
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "metadata": json.loads(json.dumps(metadata or {})),
        "weights_sha256": _sha256(blob),
    }
    atomic_write_bytes(directory / WEIGHTS_FILE, blob)
    atomic_write_bytes(directory / CONFIG_FILE, (json.dumps(doc, indent=2) + "\n").encode())
    return directory


def resolve_compensator_dir(name_or_path: str | os.PathLike) -> Path:
    """A bundled name (``"dnn-small"``) -> its asset directory; anything else is taken as a checkpoint directory."""
    if str(name_or_path) in BUNDLED_COMPENSATORS:
        directory = ASSETS_DIR / str(name_or_path)
        if not (directory / CONFIG_FILE).is_file():
            raise CheckpointError(
                f"the bundled compensator {name_or_path!r} is missing ({directory}); train it with "
                "`hearloop compensate train --out compensation/assets/dnn-small`"
            )
        return directory
    directory = Path(name_or_path)
    if directory.is_file() and directory.name == CONFIG_FILE:
        directory = directory.parent
    if not directory.is_dir():
        raise CheckpointError(
            f"no compensator named {str(name_or_path)!r}: not one of {list(BUNDLED_COMPENSATORS)} and not a directory"
        )
    return directory


def read_compensator_config(directory: Path) -> tuple[DNNConfig, dict[str, Any], str]:
    """Parse and check ``config.json``: (config, metadata, weights digest)."""
    try:
        doc = json.loads((directory / CONFIG_FILE).read_text())
    except FileNotFoundError as err:
        raise CheckpointError(f"compensator {directory}: missing {CONFIG_FILE}") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"compensator {directory}: {CONFIG_FILE} is not valid JSON ({err})") from err
    if not isinstance(doc, dict) or set(doc) != _TOP_KEYS:
        keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise CheckpointError(f"compensator {directory}: {CONFIG_FILE} must have keys {sorted(_TOP_KEYS)}, got {keys}")
    if doc["format"] != FORMAT_NAME or doc["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"compensator {directory}: format {doc['format']!r} v{doc['format_version']} is not supported "
            f"(expected {FORMAT_NAME!r} v{FORMAT_VERSION})"
        )
    try:
        config = DNNConfig.from_dict(doc["config"])
    except (HearloopInputError, TypeError) as err:
        raise CheckpointError(f"compensator {directory}: invalid config: {err}") from err
    return config, dict(doc["metadata"] or {}), str(doc["weights_sha256"])


def load_compensator(
    name_or_path: str | os.PathLike = "dnn-small", device: str | torch.device = "cpu", **strategy_kwargs: Any
) -> DNNCompensator:
    """Load a DNN compensator by bundled name or directory, in eval mode, with ``.metadata`` set.

    Args:
        name_or_path: ``"dnn-small"`` (bundled) or a checkpoint directory (or its config.json).
        device: torch device.
        **strategy_kwargs: passed to :class:`DNNCompensator` (e.g. ``max_output_db_spl``).

    Raises:
        CheckpointError: missing/corrupt files, checksum mismatch, bad config, missing/extra/mis-shaped tensors.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    directory = resolve_compensator_dir(name_or_path)
    config, metadata, digest = read_compensator_config(directory)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"compensator {directory}: missing {WEIGHTS_FILE}")
    blob = weights.read_bytes()
    if _sha256(blob) != digest:
        raise CheckpointError(f"compensator {directory}: {WEIGHTS_FILE} does not match its SHA-256 in {CONFIG_FILE}")
    try:
        tensors = load(blob)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"compensator {directory}: {WEIGHTS_FILE} is corrupt ({err})") from err
    model = DNNCompensator(config, **strategy_kwargs)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(f"compensator {directory}: missing tensors {missing[:5]}, unexpected {extra[:5]}")
    bad = [f"{k} {tuple(tensors[k].shape)} != {s}" for k, s in expected.items() if tuple(tensors[k].shape) != s]
    if bad:
        raise CheckpointError(f"compensator {directory}: mis-shaped tensors: {'; '.join(bad[:5])}")
    if any(v.is_floating_point() and not bool(torch.isfinite(v).all()) for v in tensors.values()):
        raise CheckpointError(f"compensator {directory}: non-finite weights")
    model.load_state_dict(tensors, strict=True)
    model.metadata = metadata
    return model.to(device).eval()
