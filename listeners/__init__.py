"""hearloop.listeners: virtual listeners on the nu-ICNet simulator (population sampling, neurometric audiograms).

A :class:`VirtualListener` is a nu-ICNet set by its conditioning parameters nu; the NH reference
listener (:func:`nh_reference`) defines 0 dB HL and is the target of every compensation; :func:`sample_cohort` draws
seeded populations from the training animals' learned nu (a mixture of one density per hearing-status group);
:func:`listener_stratum` counts a listener NH only if its audiogram and its response are normal; :func:`fit_animal`
fits nu to a new animal (BO and gradient fits, the model frozen); :func:`run_cohort_audiometry` runs GP-PTA on a
cohort.
"""

from listeners.animal_fit import AnimalFit, fit_animal
from listeners.channel_refinement import likelihood_permutation
from listeners.cohort_audiometry import ListenerAudiometry, run_cohort_audiometry, summarise_audiometry
from listeners.cohort_file import load_cohort, save_cohort
from listeners.fit_objective import NuFitObjective, heldout_feve, recording_subset
from listeners.fit_result import FitResult, evaluations_to_criterion, within_tolerance
from listeners.gradient_fit import gradient_fit, target_loss
from listeners.hearing_status import hearing_stratum, nh_response_limit, unaided_response_distance
from listeners.listener import AUDIOGRAM_FREQS_HZ, PTA_FREQS_HZ, VirtualListener, prime_thresholds, validate_listener_nu
from listeners.loss_surface import LossSurface, loss_surface, principal_axes
from listeners.neurometric import ToneProtocol, detectability, neurometric_thresholds_db_spl
from listeners.nu_fitting import SOBOL_STARTS, bo_fit
from listeners.population import (
    NH_LIMIT_DB_HL,
    STRATA,
    NuDensity,
    NuMixture,
    PopulationError,
    listener_stratum,
    sample_cohort,
    severity_stratum,
)
from listeners.reference import NH_REFERENCE_ID, animal_nus, nh_animal_indices, nh_reference, nh_reference_nu
from listeners.unseen import generate_unseen_animals, true_loss_db_hl

__all__ = [
    "AUDIOGRAM_FREQS_HZ",
    "NH_LIMIT_DB_HL",
    "NH_REFERENCE_ID",
    "PTA_FREQS_HZ",
    "SOBOL_STARTS",
    "STRATA",
    "AnimalFit",
    "FitResult",
    "ListenerAudiometry",
    "LossSurface",
    "NuDensity",
    "NuFitObjective",
    "NuMixture",
    "PopulationError",
    "ToneProtocol",
    "VirtualListener",
    "animal_nus",
    "bo_fit",
    "detectability",
    "evaluations_to_criterion",
    "fit_animal",
    "generate_unseen_animals",
    "gradient_fit",
    "hearing_stratum",
    "heldout_feve",
    "likelihood_permutation",
    "listener_stratum",
    "load_cohort",
    "loss_surface",
    "neurometric_thresholds_db_spl",
    "nh_animal_indices",
    "nh_reference",
    "nh_reference_nu",
    "nh_response_limit",
    "prime_thresholds",
    "principal_axes",
    "recording_subset",
    "run_cohort_audiometry",
    "sample_cohort",
    "save_cohort",
    "severity_stratum",
    "summarise_audiometry",
    "target_loss",
    "true_loss_db_hl",
    "unaided_response_distance",
    "validate_listener_nu",
    "within_tolerance",
]
