"""The normal-hearing reference listener: the target of every compensation.

Its nu is :func:`simulator.model.animals.nh_reference_nu`, the centre of the NH training animals' learned conditioning
means (re-exported here with :func:`animal_nus` and :func:`nh_animal_indices`); it defines 0 dB HL.
"""

from __future__ import annotations

from torch import nn

from listeners.listener import VirtualListener
from simulator.model.animals import animal_nus, nh_animal_indices, nh_reference_nu

__all__ = ["NH_REFERENCE_ID", "animal_nus", "nh_animal_indices", "nh_reference", "nh_reference_nu"]

NH_REFERENCE_ID = "NH-ref"


def nh_reference(model: nn.Module, **listener_kwargs) -> VirtualListener:
    """The NH reference listener (id ``"NH-ref"``); it defines 0 dB HL, so its own thresholds in dB HL are 0."""
    cached = getattr(model, "_hearloop_nh_reference", None)
    if cached is not None and not listener_kwargs:
        return cached
    ref = VirtualListener(NH_REFERENCE_ID, nh_reference_nu(model), model, reference=None, **listener_kwargs)
    if not listener_kwargs:
        model._hearloop_nh_reference = ref  # share the cached threshold curve among a cohort's listeners
    return ref
