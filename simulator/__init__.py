"""hearloop.simulator: the nu-ICNet model of the auditory midbrain (variational conditioning).

Lowest layer of hearloop: imports nothing from ``listeners``, ``audiometry``, ``compensation`` or ``runners``.
"""

from typing import TYPE_CHECKING

from simulator.constants import BIN_RATE, CONTEXT_SAMPLES, FRAME_SAMPLES, N_CLASSES, SAMPLE_RATE
from simulator.errors import (
    CheckpointError,
    HearloopError,
    HearloopInputError,
    HearloopStateError,
    MissingFileError,
    RecordingFormatError,
    SpecError,
    UnknownNameError,
)
from simulator.lazy import lazy_getattr

if TYPE_CHECKING:
    from simulator.data.alignment import align_channels, align_cohort, apply_alignment
    from simulator.data.audio_io import load_audio, resample, save_audio
    from simulator.data.dataset import load_test_sounds, make_datasets
    from simulator.data.recordings import read_cohort, write_cohort
    from simulator.metrics import (
        channel_weights,
        feve,
        feve_per_channel,
        spike_histogram_kl,
        spike_histogram_kl_per_channel,
    )
    from simulator.model.checkpoint import load_model, save_model
    from simulator.model.config import ModelConfig
    from simulator.model.factory import build_model
    from simulator.model.icnet import ICNet
    from simulator.model.nuicnet import ABRNet, NuICNet
    from simulator.model.spikes import expected_counts, sample_counts
    from simulator.model.streaming import StreamingPredictor, stream
    from simulator.training.losses import NuICNetLoss

# Model names are imported lazily (PEP 562) so that `import simulator` (and the CLI's --help) does not load torch.
_LAZY = {
    "load_model": "simulator.model.checkpoint",
    "save_model": "simulator.model.checkpoint",
    "ICNet": "simulator.model.icnet",
    "ABRNet": "simulator.model.nuicnet",
    "NuICNet": "simulator.model.nuicnet",
    "ModelConfig": "simulator.model.config",
    "build_model": "simulator.model.factory",
    "StreamingPredictor": "simulator.model.streaming",
    "stream": "simulator.model.streaming",
    "feve": "simulator.metrics",
    "feve_per_channel": "simulator.metrics",
    "channel_weights": "simulator.metrics",
    "spike_histogram_kl": "simulator.metrics",
    "spike_histogram_kl_per_channel": "simulator.metrics",
    "NuICNetLoss": "simulator.training.losses",
    "expected_counts": "simulator.model.spikes",
    "sample_counts": "simulator.model.spikes",
    "load_audio": "simulator.data.audio_io",
    "save_audio": "simulator.data.audio_io",
    "resample": "simulator.data.audio_io",
    "read_cohort": "simulator.data.recordings",
    "write_cohort": "simulator.data.recordings",
    "make_datasets": "simulator.data.dataset",
    "load_test_sounds": "simulator.data.dataset",
    "align_channels": "simulator.data.alignment",
    "align_cohort": "simulator.data.alignment",
    "apply_alignment": "simulator.data.alignment",
}


__getattr__ = lazy_getattr("simulator", _LAZY, globals())


__all__ = [
    "BIN_RATE",
    "CONTEXT_SAMPLES",
    "FRAME_SAMPLES",
    "N_CLASSES",
    "SAMPLE_RATE",
    "ABRNet",
    "CheckpointError",
    "HearloopError",
    "HearloopInputError",
    "HearloopStateError",
    "ICNet",
    "MissingFileError",
    "ModelConfig",
    "NuICNet",
    "NuICNetLoss",
    "RecordingFormatError",
    "SpecError",
    "StreamingPredictor",
    "UnknownNameError",
    "align_channels",
    "align_cohort",
    "apply_alignment",
    "build_model",
    "channel_weights",
    "expected_counts",
    "feve",
    "feve_per_channel",
    "load_audio",
    "load_model",
    "load_test_sounds",
    "make_datasets",
    "read_cohort",
    "resample",
    "sample_counts",
    "save_audio",
    "save_model",
    "spike_histogram_kl",
    "spike_histogram_kl_per_channel",
    "stream",
    "write_cohort",
]
