"""Listener descriptions for compensation training and evaluation: nu, audiogram, severity stratum.

``compensation`` sits beside ``listeners`` (both above ``simulator``), so it does not import it: DNN training and
strategy evaluation take :class:`ListenerSpec` records, built by the caller (the CLI in ``runners``) from
``listeners.VirtualListener`` objects with :func:`as_listener_spec` (any object with ``id``, ``nu`` and
``audiogram()`` works). Severity strata are the shared scale of :mod:`simulator.severity` (WHO 2021 grades by the
four-frequency PTA, "slight" for a PTA below 20 dB HL with a threshold more than 10 dB from 0), the one that
``listeners`` samples cohorts by.

:func:`animal_listener_specs` is a fallback that needs nothing but the bundled model: one listener per training
animal, at its learned mean nu, with its audiogram taken from the recorded ABR thresholds re the NH animals' mean
(a coarse stand-in for the neurometric audiogram; the ABR grid 0.5-8 kHz is held flat below 500 Hz).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from simulator.errors import HearloopInputError
from simulator.frequencies import ABR_FREQS_HZ, PTA_FREQS_HZ
from simulator.model.animals import animal_nus
from simulator.severity import severity_stratum

__all__ = [
    "AUDIOMETER_RANGE_DB_HL",
    "PTA_FREQS_HZ",
    "ListenerSpec",
    "animal_listener_specs",
    "as_listener_spec",
    "clinical_audiogram",
    "pta_db_hl",
]

AUDIOMETER_RANGE_DB_HL: tuple[float, float] = (-10.0, 120.0)
"""Presentation range of a clinical audiometer (dB HL); prescriptions see audiograms clipped into it."""


def clinical_audiogram(audiogram: Mapping[int | float, float]) -> dict[float, float]:
    """``audiogram`` ``{freq_hz: dB HL}`` clipped into :data:`AUDIOMETER_RANGE_DB_HL`, as an audiometer would report it.

    Neurometric audiograms and GP-PTA estimates can fall outside the range a clinic measures (e.g. -21 dB HL for a
    listener slightly more sensitive than the NH reference); fitting formulas are defined on measured audiograms, so
    prescriptions (NAL-R, WDRC, the DNN's audiogram map) use the clipped values. Frequencies are kept (as floats).
    """
    lo, hi = AUDIOMETER_RANGE_DB_HL
    return {float(f): float(np.clip(float(v), lo, hi)) for f, v in dict(audiogram).items()}


@dataclasses.dataclass
class ListenerSpec:
    """A listener as compensation needs it.

    Attributes:
        id: listener id.
        nu: ``D`` conditioning in [0, 1] (float64).
        audiogram: ``{freq_hz: dB HL}``, the audiogram the fitting formulas prescribe from.
        stratum: a class of :data:`simulator.severity.STRATA` (default: from the audiogram).
        ground_truth: the virtual-IC animal the listener stands for (``AnimalRecording.ground_truth``), or None for a
            listener that is the model alone; the generator objective
            (:mod:`compensation.generator_objective`) needs one.
    """

    id: str
    nu: np.ndarray
    audiogram: dict[int, float]
    stratum: str = ""
    ground_truth: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.nu = np.asarray(self.nu, dtype=np.float64).reshape(-1)
        if not (np.all(np.isfinite(self.nu)) and np.all((self.nu >= 0) & (self.nu <= 1))):
            raise HearloopInputError(f"listener {self.id!r}: nu must lie in [0, 1], got {self.nu.tolist()}")
        self.audiogram = {int(f): float(v) for f, v in dict(self.audiogram).items()}
        if not self.audiogram or not all(np.isfinite(list(self.audiogram.values()))):
            raise HearloopInputError(f"listener {self.id!r}: the audiogram must be non-empty and finite")
        if not self.stratum:
            self.stratum = severity_stratum(pta_db_hl(self.audiogram), list(self.audiogram.values()))

    @property
    def pta(self) -> float:
        """Four-frequency pure-tone average, dB HL."""
        return pta_db_hl(self.audiogram)

    def nu_tensor(self) -> torch.Tensor:
        """``1 x D`` float32 tensor."""
        return torch.as_tensor(self.nu, dtype=torch.float32).reshape(1, -1)


def pta_db_hl(audiogram: Mapping[int | float, float]) -> float:
    """Mean threshold (dB HL) at 500, 1000, 2000, 4000 Hz (log-frequency interpolation, flat outside)."""
    from compensation.nalr import interpolate_audiogram

    return float(np.mean(interpolate_audiogram(audiogram, PTA_FREQS_HZ, require_3fa=False)))


def as_listener_spec(listener: Any) -> ListenerSpec:
    """A :class:`ListenerSpec` from any listener object with ``id``, ``nu`` and ``audiogram()`` (interface B).

    Its stratum comes from the audiogram alone, on the shared scale of :mod:`simulator.severity`; callers that hold a
    virtual listener (``runners.cli_support``) replace it with ``listeners.listener_stratum``, which also asks a normal
    audiogram for an NH response.
    """
    if isinstance(listener, ListenerSpec):
        return listener
    try:
        audiogram = listener.audiogram() if callable(listener.audiogram) else listener.audiogram
        spec = ListenerSpec(str(listener.id), np.asarray(listener.nu, dtype=np.float64), dict(audiogram),
                            ground_truth=getattr(listener, "ground_truth", None))  # fmt: skip
    except AttributeError as err:
        raise HearloopInputError(f"a listener needs id, nu and audiogram(); got {type(listener).__name__}") from err
    return spec


def animal_listener_specs(model: torch.nn.Module, statuses: Sequence[str] = ("NH", "HI")) -> list[ListenerSpec]:
    """One listener per training animal of ``model`` (mean nu, ABR-derived audiogram); see the module docstring."""
    animals = (getattr(model, "metadata", None) or {}).get("animals")
    if not animals:
        raise HearloopInputError("the model metadata lists no training animals (metadata['animals'])")
    abr = np.array([a["abr_thresholds_db"] for a in animals], dtype=float)
    nh = [i for i, a in enumerate(animals) if a.get("status") == "NH"]
    reference = abr[nh].mean(0) if nh else abr.min(0)
    nus = animal_nus(model)
    specs = []
    for i, animal in enumerate(animals):
        if animal.get("status") not in statuses:
            continue
        hl = np.clip(abr[i] - reference, -10.0, 120.0)
        audiogram = {f: float(v) for f, v in zip(ABR_FREQS_HZ, hl, strict=True)}
        specs.append(ListenerSpec(str(animal.get("id", f"animal{i}")), nus[i].clip(0.0, 1.0), audiogram))
    return specs
