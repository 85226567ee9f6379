"""DNN compensator checkpoints: the shared checkpoint format, and bundled compensators by name.

A compensator directory is a checkpoint in the format of :mod:`simulator.model.checkpoint_io` (safetensors weights
and a ``config.json`` with their SHA-256; nothing is unpickled), of format ``"hearloop-compensator"`` version 1, whose
``"config"`` is a :meth:`DNNConfig.to_dict` and whose ``"metadata"`` holds the training provenance and measured
numbers. Loading checks the JSON keys and format version, the config, the SHA-256 of the weights, that the safetensors
file parses, and that tensor names and shapes equal those of a freshly built compensator; any failure raises
:class:`simulator.errors.CheckpointError` naming the problem. Bundled compensators live in
``compensation/assets/<name>/`` and load by name: ``load_compensator("dnn-small")`` (audiogram-conditioned, the
``dnn`` strategy) and ``load_compensator("dnn-nu-oracle-small")`` (nu-conditioned, the upper-bound
``dnn_nu_oracle`` strategy); a nu-conditioned checkpoint loads as :class:`compensation.dnn.DNNNuOracle`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from compensation.dnn import DNNCompensator, DNNConfig, compensator_class
from simulator.model.checkpoint import weights_fingerprint
from simulator.model.checkpoint_io import (
    CheckpointFormat,
    bundled_or_folder,
    load_weights,
    read_checkpoint,
    write_checkpoint,
)

__all__ = ["ASSETS_DIR", "BUNDLED_COMPENSATORS", "load_compensator", "save_compensator"]

COMPENSATOR_FORMAT = CheckpointFormat("hearloop-compensator", 1, "compensator")
ASSETS_DIR: Path = Path(__file__).resolve().parent / "assets"
BUNDLED_COMPENSATORS: tuple[str, ...] = ("dnn-small", "dnn-nu-oracle-small")
"""Names loadable with :func:`load_compensator` from :data:`ASSETS_DIR`."""


def save_compensator(
    model: DNNCompensator, directory: str | os.PathLike, metadata: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` to ``directory`` (created if needed) atomically; returns the directory."""
    return write_checkpoint(directory, model, COMPENSATOR_FORMAT, model.config.to_dict(), metadata)


def resolve_compensator_dir(name_or_path: str | os.PathLike) -> Path:
    """A bundled name (``"dnn-small"``) -> its asset directory; anything else is taken as a checkpoint directory."""
    bundled = ASSETS_DIR / str(name_or_path) if str(name_or_path) in BUNDLED_COMPENSATORS else None
    hint = "train it with `bash scripts/train_compensators.sh` (see README, Compensation)"
    missing = f"no compensator named {str(name_or_path)!r}: not one of {list(BUNDLED_COMPENSATORS)} and not a directory"
    return bundled_or_folder(name_or_path, bundled, COMPENSATOR_FORMAT, hint, missing)


def read_compensator_config(directory: Path) -> tuple[DNNConfig, dict[str, Any], str]:
    """Parse and check ``config.json``: (config, metadata, weights digest)."""
    return read_checkpoint(directory, COMPENSATOR_FORMAT, DNNConfig.from_dict)


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
    directory = resolve_compensator_dir(name_or_path)
    config, metadata, digest = read_compensator_config(directory)
    model = load_weights(directory, COMPENSATOR_FORMAT, digest, compensator_class(config)(config, **strategy_kwargs))
    model.metadata = metadata
    return model.to(device).eval()


def nuicnet_provenance(model_path: str | os.PathLike | None, model: torch.nn.Module) -> dict[str, Any]:
    """Which nu-ICNet a compensator is trained through: checkpoint path (None: bundled), weights SHA-256, provisional
    flag; stored in the compensator's metadata as ``"nuicnet"``."""
    provisional = bool((getattr(model, "metadata", None) or {}).get("provisional"))
    digest = weights_fingerprint(model_path)
    return {"path": str(model_path or "bundled"), "weights_sha256": digest, "provisional": provisional}


def stale_message(dnn: DNNCompensator, model_path: str | os.PathLike | None, model: torch.nn.Module) -> str | None:
    """Why ``dnn``'s numbers would mean little with ``model`` (trained through another nu-ICNet), or None."""
    trained = ((getattr(dnn, "metadata", None) or {}).get("nuicnet") or {}).get("weights_sha256")
    current = nuicnet_provenance(model_path, model)["weights_sha256"]
    if trained and trained != current:
        return (
            f"the DNN compensator was trained through nu-ICNet {trained[:12]}, not the evaluated {current[:12]}; "
            "retrain it (hearloop compensate train) for meaningful numbers"
        )
    return None
