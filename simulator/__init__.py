"""hearloop.simulator: the nu-ICNet model of the auditory midbrain (Pellatt et al., variational conditioning).

Lowest layer of hearloop: imports nothing from ``listeners``, ``audiometry``, ``compensation`` or ``runners``.
"""

from simulator.constants import BIN_RATE, CONTEXT_SAMPLES, FRAME_SAMPLES, N_CLASSES, SAMPLE_RATE
from simulator.errors import CheckpointError, HearloopInputError, RecordingFormatError, SpecError

__all__ = [
    "BIN_RATE",
    "CONTEXT_SAMPLES",
    "FRAME_SAMPLES",
    "N_CLASSES",
    "SAMPLE_RATE",
    "CheckpointError",
    "HearloopInputError",
    "RecordingFormatError",
    "SpecError",
]
