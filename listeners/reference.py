"""The normal-hearing reference listener: the target of every compensation (Pellatt et al., nu-ICNet).

Its nu is the centre of the NH training animals' learned conditioning means nu_bar_k (DESIGN.md): the element-wise mean
in logit space, mapped back through the sigmoid (the model's means mu_k live in logit space, nu_bar = sigmoid(mu)). The
NH animals are those whose ``model.metadata["animals"][k]["status"]`` is ``"NH"``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from listeners.listener import VirtualListener
from simulator.errors import CheckpointError

__all__ = ["NH_REFERENCE_ID", "animal_nus", "nh_animal_indices", "nh_reference", "nh_reference_nu"]

NH_REFERENCE_ID = "NH-ref"
_EPS = 1e-4


def nh_animal_indices(model: nn.Module) -> list[int]:
    """Indices of the NH training animals, from the checkpoint metadata."""
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
    """Learned mean nu of every training animal (``K x D``, at recording time ``hours``; None: the start)."""
    idx = torch.arange(int(model.n_animals), device=model.device)
    return model.animal_nu(idx, hours=hours, sample=False).cpu().double().numpy()


def nh_reference_nu(model: nn.Module) -> np.ndarray:
    """Centre (logit-space mean) of the NH animals' learned nu: ``D`` values in (0, 1)."""
    nus = np.clip(animal_nus(model)[nh_animal_indices(model)], _EPS, 1 - _EPS)
    centre = np.log(nus / (1 - nus)).mean(axis=0)
    return 1.0 / (1.0 + np.exp(-centre))


def nh_reference(model: nn.Module, **listener_kwargs) -> VirtualListener:
    """The NH reference listener (id ``"NH-ref"``); it defines 0 dB HL, so its own thresholds in dB HL are 0."""
    cached = getattr(model, "_hearloop_nh_reference", None)
    if cached is not None and not listener_kwargs:
        return cached
    ref = VirtualListener(NH_REFERENCE_ID, nh_reference_nu(model), model, reference=None, **listener_kwargs)
    if not listener_kwargs:
        model._hearloop_nh_reference = ref  # share the cached threshold curve among a cohort's listeners
    return ref
