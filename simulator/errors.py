"""Exception types raised by hearloop for bad input, bad files and bad configuration.

All derive from built-in exceptions so callers that catch ``ValueError``/``RuntimeError`` keep working.
"""

from __future__ import annotations


class HearloopInputError(ValueError):
    """Bad input to a public entry point: non-finite audio, wrong shape, wrong sample rate, nu out of range."""


class CheckpointError(RuntimeError):
    """A checkpoint directory is missing, corrupt, or does not match the model configuration it claims."""


class RecordingFormatError(ValueError):
    """A recording file (HDF5) does not follow the documented hearloop schema."""


class SpecError(ValueError):
    """A run specification (TOML) is malformed: unknown key, wrong type, missing file."""
