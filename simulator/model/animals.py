"""The training animals a checkpoint records, their learned nu, and the NH reference nu.

The normal-hearing reference listener is the target of every compensation. Its nu is the centre of the NH training
animals' learned conditioning means nu_bar_k: the element-wise mean in logit space, mapped back through the sigmoid
(the model's means mu_k live in logit space, nu_bar = sigmoid(mu)). The NH animals are those whose
``model.metadata["animals"][k]["status"]`` is ``"NH"`` (written by ``hearloop train``). This is the one place it is
computed; ``listeners.nh_reference`` builds the reference listener on it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from simulator.errors import CheckpointError

__all__ = ["animal_nus", "nh_animal_indices", "nh_reference_nu"]

_EPS = 1e-4


def nh_animal_indices(model: nn.Module) -> list[int]:
    """Indices of the NH training animals, from the checkpoint metadata.

    Raises:
        CheckpointError: the metadata lists no training animals, or no NH animal.
    """
    animals = (getattr(model, "metadata", None) or {}).get("animals")
    if not animals:
        raise CheckpointError(
            "the model's metadata lists no training animals (metadata['animals']); an NH reference needs a model "
            "trained by `hearloop train`"
        )
    indices = [k for k, a in enumerate(animals) if a.get("status") == "NH"]
    if not indices:
        raise CheckpointError("the model was trained on no NH animal, so it has no NH reference")
    return indices


@torch.no_grad()
def animal_nus(model: nn.Module, hours: float | None = None) -> np.ndarray:
    """Learned mean nu of every training animal (``K x D`` float64, at recording time ``hours``; None: the start)."""
    idx = torch.arange(int(model.n_animals), device=model.device)
    return model.animal_nu(idx, hours=hours, sample=False).cpu().double().numpy()


def nh_reference_nu(model: nn.Module) -> np.ndarray:
    """Centre (logit-space mean) of the NH animals' learned nu: ``D`` float64 values in (0, 1)."""
    nus = np.clip(animal_nus(model)[nh_animal_indices(model)], _EPS, 1 - _EPS)
    centre = np.log(nus / (1 - nus)).mean(axis=0)
    return 1.0 / (1.0 + np.exp(-centre))
