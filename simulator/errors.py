"""The exceptions hearloop raises, all under one base, :class:`HearloopError` (as botorch's ``BotorchError``).

Each also derives from the built-in exception callers caught before the base existed (``ValueError`` for bad input,
``RuntimeError`` for a broken checkpoint or a call out of order, ``FileNotFoundError``, ``KeyError``), so existing
``except`` clauses keep working, and ``except HearloopError`` catches every error of ours::

    HearloopError
    ├── HearloopInputError (ValueError)        bad input to a public entry point
    │   ├── NoSpeechTokensError                a selectivity request for sounds without speech tokens
    │   └── PeripheryError                     a cohort request the auditory periphery cannot serve
    │                                          (simulator.virtual_ic.bez2018)
    ├── RecordingFormatError (ValueError)      a recording file breaks the documented schema
    │   └── RecordingNotFoundError (FileNotFoundError)       (simulator.data.recordings)
    ├── SpecError (ValueError)                 a run specification (TOML) is malformed
    ├── AudiometryInputError (ValueError)      bad input to an audiometry procedure (audiometry.errors)
    ├── MissingFileError (FileNotFoundError)   a file or directory that was named does not exist
    ├── UnknownNameError (KeyError)            a sound, animal, ... of that name is not there
    ├── HearloopStateError (RuntimeError)      an object used out of order; a run that cannot go on
    ├── AudiometryStateError, SessionAborted (RuntimeError)    (audiometry.errors)
    └── CheckpointError (RuntimeError)         a checkpoint is missing, corrupt or does not match its config
        └── PartialCohortError                 a cohort's scratch folder (OUT.partial) is foreign or unreadable
            ├── PartialCohortMismatchError     it holds part of a cohort with another config
            └── PartialCohortBusyError         another run is generating the same output
                                               (simulator.virtual_ic.partial_cohort)

The families stay apart as they were (a ``RecordingFormatError`` is not a ``HearloopInputError``), so no ``except``
clause catches more than it did.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "HearloopError",
    "HearloopInputError",
    "HearloopStateError",
    "MissingFileError",
    "NoSpeechTokensError",
    "RecordingFormatError",
    "SpecError",
    "UnknownNameError",
]


class HearloopError(Exception):
    """Base class of every exception hearloop raises."""


class HearloopInputError(HearloopError, ValueError):
    """Bad input to a public entry point: non-finite audio, wrong shape, wrong sample rate, nu out of range."""


class RecordingFormatError(HearloopError, ValueError):
    """A recording file (HDF5) does not follow the documented hearloop schema."""


class SpecError(HearloopError, ValueError):
    """A run specification (TOML) is malformed: unknown key, wrong type, missing file."""


class MissingFileError(HearloopError, FileNotFoundError):
    """A file or directory that was named (audio, cohort file, spec, run directory, baseline) does not exist."""


class UnknownNameError(HearloopError, KeyError):
    """A name that is not there: a sound of a recording, an animal of a cohort."""


class HearloopStateError(HearloopError, RuntimeError):
    """An object was used out of order (``step`` before ``reset``), or a run cannot go on (jobs lost, no results)."""


class CheckpointError(HearloopError, RuntimeError):
    """A checkpoint directory is missing, corrupt, or does not match the model configuration it claims."""


class NoSpeechTokensError(HearloopInputError):
    """A speech-selectivity request for sounds that carry no labelled speech tokens (``simulator.data.speech``)."""
