"""hearloop.simulator: the nu-ICNet model of the auditory midbrain (Pellatt et al., variational conditioning).

Lowest layer of hearloop: imports nothing from ``listeners``, ``audiometry``, ``compensation`` or ``runners``.
"""

from typing import TYPE_CHECKING

from simulator.constants import BIN_RATE, CONTEXT_SAMPLES, FRAME_SAMPLES, N_CLASSES, SAMPLE_RATE
from simulator.errors import CheckpointError, HearloopInputError, RecordingFormatError, SpecError

if TYPE_CHECKING:
    from simulator.alignment import align_channels, align_cohort, apply_alignment
    from simulator.audio_io import load_audio, resample, save_audio
    from simulator.checkpoint import load_model, save_model
    from simulator.dataset import load_test_sounds, make_datasets
    from simulator.icnet import ICNet
    from simulator.losses import NuICNetLoss
    from simulator.metrics import (
        channel_weights,
        feve,
        feve_per_channel,
        spike_histogram_kl,
        spike_histogram_kl_per_channel,
    )
    from simulator.model import ABRNet, NuICNet
    from simulator.presets import ModelConfig, build_model
    from simulator.recordings import read_cohort, write_cohort
    from simulator.spikes import expected_counts, sample_counts
    from simulator.streaming import StreamingPredictor, stream

# Model names are imported lazily (PEP 562) so that `import simulator` (and the CLI's --help) does not load torch.
_LAZY = {
    "load_model": "simulator.checkpoint",
    "save_model": "simulator.checkpoint",
    "ICNet": "simulator.icnet",
    "ABRNet": "simulator.model",
    "NuICNet": "simulator.model",
    "ModelConfig": "simulator.presets",
    "build_model": "simulator.presets",
    "StreamingPredictor": "simulator.streaming",
    "stream": "simulator.streaming",
    "feve": "simulator.metrics",
    "feve_per_channel": "simulator.metrics",
    "channel_weights": "simulator.metrics",
    "spike_histogram_kl": "simulator.metrics",
    "spike_histogram_kl_per_channel": "simulator.metrics",
    "NuICNetLoss": "simulator.losses",
    "expected_counts": "simulator.spikes",
    "sample_counts": "simulator.spikes",
    "load_audio": "simulator.audio_io",
    "save_audio": "simulator.audio_io",
    "resample": "simulator.audio_io",
    "read_cohort": "simulator.recordings",
    "write_cohort": "simulator.recordings",
    "make_datasets": "simulator.dataset",
    "load_test_sounds": "simulator.dataset",
    "align_channels": "simulator.alignment",
    "align_cohort": "simulator.alignment",
    "apply_alignment": "simulator.alignment",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")


__all__ = [
    "BIN_RATE",
    "CONTEXT_SAMPLES",
    "FRAME_SAMPLES",
    "N_CLASSES",
    "SAMPLE_RATE",
    "ABRNet",
    "CheckpointError",
    "HearloopInputError",
    "ICNet",
    "ModelConfig",
    "NuICNet",
    "NuICNetLoss",
    "RecordingFormatError",
    "SpecError",
    "StreamingPredictor",
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
