"""Resumable training checkpoints for nu-ICNet / ICNet training ([Pellatt2025]_, "Training"): safetensors + JSON only.

A training checkpoint is a directory:

    model/                 the model, through :func:`simulator.model.checkpoint.save_model` (safetensors + JSON,
    SHA-256) optimizer.safetensors  Adam state tensors, keyed ``<parameter name>/<field>`` (exp_avg, exp_avg_sq, step)
    trainer.json           {"format": "hearloop-train-state", "version": 1, "epoch", "history", "scheduler",
                            "best", "param_names", "param_groups", "seed", "optimizer_sha256", ...}

``trainer.json`` is written last (atomically), so a checkpoint interrupted mid-write is either the previous complete one
or fails to load with :class:`CheckpointError`. Nothing is unpickled. Optimiser state is stored by parameter *name*,
so resuming checks that the same parameters are being trained.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from simulator.atomic_io import atomic_write_bytes, atomic_write_text, sha256_file
from simulator.errors import CheckpointError
from simulator.model.checkpoint import load_model, save_model
from simulator.model.checkpoint_io import read_json, read_safetensors

__all__ = ["TRAIN_STATE_FILE", "load_training_state", "save_training_state"]

TRAIN_STATE_FILE = "trainer.json"
OPTIMIZER_FILE = "optimizer.safetensors"
_FORMAT = "hearloop-train-state"
_VERSION = 1


def _trainable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def save_training_state(
    directory: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
) -> Path:
    """Write model, optimiser and the JSON ``state`` (epoch, scheduler, history, seeds, ...) to ``directory``."""
    from safetensors.torch import save

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    save_model(model, out / "model", metadata=getattr(model, "metadata", {}))
    names = [n for n, _ in _trainable(model)]
    opt = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for i, name in enumerate(names):
        for field, value in opt["state"].get(i, {}).items():
            tensors[f"{name}/{field}"] = torch.as_tensor(value).detach().to("cpu", torch.float32).contiguous()
    atomic_write_bytes(out / OPTIMIZER_FILE, save(tensors, metadata={"format": _FORMAT}))
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt["param_groups"]]
    doc = {
        "format": _FORMAT,
        "version": _VERSION,
        "param_names": names,
        "param_groups": groups,
        "optimizer_sha256": sha256_file(out / OPTIMIZER_FILE),
        **state,
    }
    try:
        text = json.dumps(doc, indent=1, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"training state is not JSON-serialisable: {err}") from err
    atomic_write_text(out / TRAIN_STATE_FILE, text + "\n")
    return out


def load_training_state(
    directory: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore ``model`` and ``optimizer`` in place from ``directory``; returns the JSON state.

    Raises:
        CheckpointError: missing or corrupt files, checksum mismatch, or a checkpoint of a different model / set of
            trained parameters.
    """
    root = Path(directory)
    owner = f"training checkpoint {root}"
    doc = read_json(root / TRAIN_STATE_FILE, owner)
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT or doc.get("version") != _VERSION:
        raise CheckpointError(f"training checkpoint {root}: not a {_FORMAT} version {_VERSION} file")
    saved = load_model(root / "model", device=model_device(model))
    if saved.config != model.config:
        raise CheckpointError(f"training checkpoint {root}: its model config differs from the model being trained")
    names = [n for n, _ in _trainable(model)]
    if doc.get("param_names") != names:
        raise CheckpointError(
            f"training checkpoint {root}: it trained different parameters (e.g. frozen vs trainable encoder); "
            "start a fresh run directory"
        )
    tensors = read_safetensors(root / OPTIMIZER_FILE, owner, str(doc.get("optimizer_sha256")))
    model.load_state_dict(saved.state_dict())
    model.metadata = getattr(saved, "metadata", {})
    dev = model_device(model)
    state: dict[int, dict[str, torch.Tensor]] = {}
    for i, name in enumerate(names):
        fields = {k.split("/", 1)[1]: v for k, v in tensors.items() if k.split("/", 1)[0] == name}
        if fields:
            state[i] = {f: (v if f == "step" else v.to(dev)) for f, v in fields.items()}
    groups = doc["param_groups"]
    current = optimizer.state_dict()["param_groups"]
    if len(groups) != len(current):
        raise CheckpointError(
            f"training checkpoint {root}: {len(groups)} parameter groups, optimiser has {len(current)}"
        )
    optimizer.load_state_dict(
        {"state": state, "param_groups": [{**g, "params": c["params"]} for g, c in zip(groups, current, strict=True)]}
    )
    return doc


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
