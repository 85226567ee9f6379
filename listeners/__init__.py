"""hearloop.listeners: virtual listeners on the nu-ICNet simulator (population sampling, neurometric audiograms).

A :class:`VirtualListener` is a nu-ICNet set by its conditioning parameters nu (Pellatt et al.); the NH reference
listener (:func:`nh_reference`) defines 0 dB HL and is the target of every compensation; :func:`sample_cohort` draws
seeded populations from the training animals' learned nu.
"""

from listeners.cohort_file import load_cohort, save_cohort
from listeners.listener import AUDIOGRAM_FREQS_HZ, PTA_FREQS_HZ, VirtualListener, prime_thresholds, validate_listener_nu
from listeners.neurometric import ToneProtocol, detectability, neurometric_thresholds_db_spl
from listeners.population import STRATA, NuDensity, sample_cohort, severity_stratum
from listeners.reference import NH_REFERENCE_ID, animal_nus, nh_animal_indices, nh_reference, nh_reference_nu

__all__ = [
    "AUDIOGRAM_FREQS_HZ",
    "NH_REFERENCE_ID",
    "PTA_FREQS_HZ",
    "STRATA",
    "NuDensity",
    "ToneProtocol",
    "VirtualListener",
    "animal_nus",
    "detectability",
    "load_cohort",
    "neurometric_thresholds_db_spl",
    "nh_animal_indices",
    "nh_reference",
    "nh_reference_nu",
    "prime_thresholds",
    "sample_cohort",
    "save_cohort",
    "severity_stratum",
    "validate_listener_nu",
]
