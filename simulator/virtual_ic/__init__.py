"""Virtual inferior colliculus: synthetic NH/HI animals with exactly known hearing loss.

Stands in for the gerbil IC recordings nu-ICNet was trained on (Sabesan et al. 2023), which cannot be fetched here.
Auditory periphery (:mod:`.peripheries`: the BEZ2018 auditory-nerve model of :mod:`.bez2018`, the default, or the fast
gammatone cochlea of :mod:`.periphery`) -> modulation-tuned IC channels (:mod:`.midbrain`) -> Binomial(4, p) counts per
1.31 ms bin, with per-animal hearing profiles (:mod:`.hearing_profile`), electrodes and degradation (:mod:`.animal`),
assembled into cohorts by :mod:`.cohort` (sessions simulated in parallel by :mod:`.session`). :mod:`.fidelity` scores
aided sound on the generator itself (fidelity restored against the animal's NH twin).
"""

from simulator.virtual_ic.animal import (
    AnimalParams,
    Degradation,
    expected_response,
    sample_animal_params,
    spike_probability_from_features,
    true_threshold_db_spl,
)
from simulator.virtual_ic.bez2018 import BezConfig, PeripheryError
from simulator.virtual_ic.cohort import cohort_corpus, cohort_metadata, generate_cohort
from simulator.virtual_ic.fidelity import fidelity_restored_on_generator, nh_twin
from simulator.virtual_ic.hearing_profile import (
    LOSS_SHAPES,
    HearingProfile,
    abr_thresholds_db,
    hi_profile,
    nh_profile,
    nominal_nh_thresholds_db_spl,
    severity_db,
)
from simulator.virtual_ic.midbrain import MidbrainChannels, sample_channel_template
from simulator.virtual_ic.periphery import CF_GRID_HZ, basilar_membrane_io_db, filterbank_features

__all__ = [
    "CF_GRID_HZ",
    "LOSS_SHAPES",
    "AnimalParams",
    "BezConfig",
    "Degradation",
    "HearingProfile",
    "MidbrainChannels",
    "PeripheryError",
    "abr_thresholds_db",
    "basilar_membrane_io_db",
    "cohort_corpus",
    "cohort_metadata",
    "expected_response",
    "fidelity_restored_on_generator",
    "filterbank_features",
    "generate_cohort",
    "hi_profile",
    "nh_profile",
    "nh_twin",
    "nominal_nh_thresholds_db_spl",
    "sample_animal_params",
    "sample_channel_template",
    "severity_db",
    "spike_probability_from_features",
    "true_threshold_db_spl",
]
