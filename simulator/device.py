"""The one device resolver: ``"auto"``, ``"cpu"``, ``"cuda"`` (or a ``torch.device``) to a checked ``torch.device``."""

from __future__ import annotations

import torch

from simulator.errors import HearloopInputError

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device`` as given.

    Raises:
        HearloopInputError: not a CPU or CUDA device, or CUDA requested where it is not available.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise HearloopInputError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}") from err
    if dev.type not in ("cpu", "cuda"):
        raise HearloopInputError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise HearloopInputError("device 'cuda' was requested but CUDA is not available; use 'cpu' or 'auto'")
    return dev
