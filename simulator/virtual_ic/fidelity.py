"""Neural fidelity scored on the generator itself: how close an impaired virtual animal's aided response comes to
the normal-hearing response to the clean sound.

For a virtual animal the normal-hearing reference can be exact: its **NH twin** (:func:`nh_twin`) is the same animal,
with the same electrodes, midbrain units and periphery model, but a normal cochlea (no OHC or IHC loss, no
synaptopathy, no central gain, no recording degradation). The distance is the mean absolute difference of expected
spike counts (``channels x bins``, :func:`simulator.virtual_ic.animal.expected_response`), and

    fidelity restored = 1 - D(aided) / D(unaided),   D(x) = mean |E[counts | animal, x] - E[counts | NH twin, clean]|

(1: the aided response is the NH one; 0: no better than unaided; < 0: worse). This is the generator-side twin of
the model-side objective (an L1 distance of expected counts against an NH reference, ``1 - D(aided) / D(unaided)``),
so the two can be compared strategy by strategy::

    from simulator.virtual_ic import fidelity_restored_on_generator
    fr, d_unaided = fidelity_restored_on_generator(recording.ground_truth, clean, [aided_a, aided_b])
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator.errors import HearloopInputError
from simulator.virtual_ic.animal import AnimalParams, expected_response
from simulator.virtual_ic.hearing_profile import HearingProfile
from simulator.virtual_ic.peripheries import make_periphery
from simulator.virtual_ic.periphery import N_CF

__all__ = ["as_animal_params", "fidelity_restored_on_generator", "nh_twin", "response_distance"]


def as_animal_params(animal: AnimalParams | dict[str, Any]) -> AnimalParams:
    """An animal's :class:`AnimalParams` from itself or from its ground truth (``AnimalRecording.ground_truth``)."""
    if isinstance(animal, AnimalParams):
        return animal
    if isinstance(animal, dict):
        return AnimalParams.from_dict(animal)
    raise HearloopInputError(f"expected an AnimalParams or a ground-truth dict, got {type(animal).__name__}")


def nh_twin(animal: AnimalParams | dict[str, Any]) -> AnimalParams:
    """The animal with a normal cochlea and no central gain or degradation (same electrodes, units and periphery)."""
    params = as_animal_params(animal)
    twin = copy.deepcopy(params)
    twin.animal_id = f"{params.animal_id}-NH"
    twin.profile = HearingProfile("NH", "normal", {"magnitude_db": 0.0}, np.zeros(N_CF), np.zeros(N_CF), 0.0, 0.0)
    config = getattr(params.periphery, "config", None)
    twin.periphery = make_periphery(params.periphery.name, twin.profile, twin.animal_id, config)
    twin.degradation.gain_loss = 0.0
    twin.degradation.drift_db = 0.0
    return twin


def response_distance(
    params: AnimalParams | dict[str, Any], audio: np.ndarray, reference: np.ndarray, hours: float = 0.0
) -> float:
    """Mean absolute difference (counts per bin) between the animal's expected response to ``audio`` and
    ``reference`` (``channels x bins``)."""
    return float(np.mean(np.abs(expected_response(params, audio, hours) - reference)))


def fidelity_restored_on_generator(
    animal: AnimalParams | dict[str, Any], clean: np.ndarray, aided: Sequence[np.ndarray], hours: float = 0.0
) -> tuple[np.ndarray, float]:
    """Fidelity restored of each ``aided`` version of ``clean`` for one virtual animal, against its NH twin.

    Cost: one generator response per aided sound plus two (unaided, NH twin); on the BEZ2018 periphery about
    4 CPU-s per second of sound each with 32 channels, on the gammatone one about 0.1.

    Args:
        animal: the (impaired) animal: its :class:`AnimalParams` or its ground truth (``recording.ground_truth``).
        clean: ``samples`` pressure (Pa): the sound the NH twin hears.
        aided: versions of ``clean`` after compensation (same length).
        hours: recording time of the impaired animal's responses.

    Returns:
        ``(fidelity per aided sound, D(unaided))``.

    Raises:
        HearloopInputError: an aided sound of another length, or an animal whose unaided response already equals
            its twin's (fidelity undefined).
    """
    params = as_animal_params(animal)
    clean = np.asarray(clean, dtype=np.float64)
    if clean.ndim != 1 or clean.size == 0:
        raise HearloopInputError(f"clean must be a 1-D array of samples in Pa, got shape {clean.shape}")
    reference = expected_response(nh_twin(params), clean)
    d_unaided = response_distance(params, clean, reference, hours)
    if not d_unaided > 0:
        raise HearloopInputError(f"{params.animal_id}: the unaided response equals the NH twin's; fidelity undefined")
    out = []
    for x in aided:
        x = np.asarray(x, dtype=np.float64)
        if x.shape != clean.shape:
            raise HearloopInputError(f"aided sound has shape {x.shape}, the clean one {clean.shape}")
        out.append(1.0 - response_distance(params, x, reference, hours) / d_unaided)
    return np.asarray(out), d_unaided
