"""The exclusive lock of a fleet run directory: one invocation at a time writes a run (a new run or a ``--resume``).

The lock is ``<run>/.lock``, a :mod:`filelock` OS lock that the kernel releases when its holder dies (a killed run
leaves no stale lock). Beside it, ``<run>/.lock.holder.json`` says who holds it (pid, host, start time, command), so
a second invocation fails at once with :class:`~runners.fleet.errors.RunDirectoryBusyError` naming the holder instead
of computing the same jobs twice::

    with RunLock(run_dir):          # or lock.acquire() ... lock.release()
        ...                         # write jobs, the manifest, failures.json
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import filelock

from runners.fleet.errors import RunDirectoryBusyError, RunDirectoryWriteError
from simulator.atomic_io import atomic_write_text

LOCK_FILE = ".lock"
HOLDER_FILE = ".lock.holder.json"


def _now_iso() -> str:
    import datetime as _dt

    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class RunLock:
    """The lock of the run directory ``run_path`` (see the module docstring)."""

    def __init__(self, run_path: str | os.PathLike) -> None:
        self.path = Path(run_path)
        self._lock = filelock.FileLock(str(self.path / LOCK_FILE))

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def holder(self) -> dict[str, Any] | None:
        """Who holds (or last held) the lock, from the holder file; None if it cannot be read."""
        try:
            return json.loads((self.path / HOLDER_FILE).read_text())
        except (OSError, ValueError):
            return None

    def describe_holder(self) -> str:
        h = self.holder()
        if not isinstance(h, dict):
            return "another process (no holder record)"
        return f"pid {h.get('pid')} on host {h.get('host')} since {h.get('started')} ({h.get('command', '')})"

    def acquire(self) -> RunLock:
        """Take the lock without waiting and record this process as its holder.

        Raises:
            RunDirectoryBusyError: another invocation holds it (the message names it).
            RunDirectoryWriteError: the lock file cannot be created (read-only directory, disk full).
        """
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            raise RunDirectoryBusyError(
                f"run directory {str(self.path)!r} is in use by {self.describe_holder()}; wait for that run to end "
                "(or stop it) and try again"
            ) from None
        except OSError as err:
            raise RunDirectoryWriteError(
                f"cannot lock run directory {str(self.path)!r}: {err.strerror or err}; nothing was computed or changed",
                err.errno,
            ) from err
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now_iso()}
        record["command"] = " ".join(sys.argv)
        try:
            atomic_write_text(self.path / HOLDER_FILE, json.dumps(record))
        except OSError as err:
            self._lock.release()
            raise RunDirectoryWriteError(
                f"cannot write {self.path / HOLDER_FILE}: {err.strerror or err}; nothing was computed or changed",
                err.errno,
            ) from err
        return self

    def release(self) -> None:
        """Give the lock back (idempotent); the holder record goes with it."""
        if not self._lock.is_locked:
            return
        try:
            (self.path / HOLDER_FILE).unlink(missing_ok=True)
        except OSError:
            pass  # a read-only or vanished directory: the OS lock below is what counts
        self._lock.release(force=True)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
