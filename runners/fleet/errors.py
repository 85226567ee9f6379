"""Errors of fleet runs, under hearloop's one base :class:`simulator.errors.HearloopError`.

Each names what went wrong and what is kept: a fleet run never loses a finished job's result, so every error here
leaves the run directory resumable (``hearloop fleet --resume RUN_DIR``) once its cause is gone.

    RunDirectoryExistsError (FileExistsError)   the run directory to create exists (or another fleet just made it)
    RunDirectoryBusyError (RuntimeError)        another invocation holds the run directory's lock (it is named)
    RunDirectoryWriteError (OSError)            the run directory cannot be written (read-only, disk full)
    ManifestError (ValueError)                  manifest.json is unreadable or was edited (the file is named)
    EngineResourceError (ValueError)            the engine asks for more CPUs / GPUs than the cluster has
    EngineTimeoutError (RuntimeError)           no worker started or no job finished within engine.timeout_s
    WorkerStartError (RuntimeError)             a worker could not be built (its factory raised)
"""

from __future__ import annotations

from simulator.errors import HearloopError, HearloopStateError

__all__ = [
    "EngineResourceError",
    "EngineTimeoutError",
    "ManifestError",
    "RunDirectoryBusyError",
    "RunDirectoryExistsError",
    "RunDirectoryWriteError",
    "WorkerStartError",
]


class RunDirectoryExistsError(HearloopError, FileExistsError):
    """The run directory to create already exists: finish it with ``--resume`` or choose another ``--out``."""


class RunDirectoryBusyError(HearloopStateError):
    """Another fleet invocation (named in the message: pid, host, start time) holds the run directory's lock."""


class RunDirectoryWriteError(HearloopError, OSError):
    """A file of the run directory cannot be written (read-only file system, no space left); every job result written
    before stays, and the run can be resumed once the directory is writable again. ``errno`` is the OS error number."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno

    def __str__(self) -> str:
        return str(self.args[0])


class ManifestError(HearloopError, ValueError):
    """A run's ``manifest.json`` is unreadable, not a fleet manifest, or no longer matches its recorded digests."""


class EngineResourceError(HearloopError, ValueError):
    """The engine requests more CPUs or GPUs per worker (or in all) than the cluster has."""


class EngineTimeoutError(HearloopStateError):
    """No worker started, or no job finished, within ``engine.timeout_s``; finished jobs are kept."""


class WorkerStartError(HearloopStateError):
    """A worker could not be built: its factory raised (a missing model, a bad device)."""
