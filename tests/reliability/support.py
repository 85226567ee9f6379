"""Helpers of the fault tests (no tests here): a light fleet spec, worker factories that count, wait or sleep, and a
simulated read-only file system.

Tests may run as root, where ``chmod`` does not stop writes; :func:`read_only_tree` simulates a read-only file system
under a folder instead (every write-mode ``os.open``, rename, replace, unlink and mkdir there raises ``EROFS``), which
is what a read-only mount gives any user.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import time
from pathlib import Path

from runners.fleet.pipeline import FleetWorker
from tests.runners.fleet.support import tiny_spec_text

LIGHT_PIPELINE = 'steps = ["audiometry", "prescription"]'
"""The fault tests run the tiny fleet spec through audiometry and prescription only: the faults concern the run
directory and the engines, not what a job computes, and every job still has seeded results to compare bit for bit."""


def light_spec_text(model_dir: Path) -> str:
    """TOML of the 3-listener tiny spec with :data:`LIGHT_PIPELINE`."""
    return tiny_spec_text(model_dir, pipeline=LIGHT_PIPELINE)


def light_spec(model_dir: Path):
    from runners.fleet.spec import spec_from_toml

    return spec_from_toml(light_spec_text(model_dir))


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class CountingFactory:
    """Records which jobs an in-process worker computes."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def __call__(self, spec):
        worker = FleetWorker(spec)

        def job_fn(job):
            self.ran.append(job.id)
            return worker(job)

        return job_fn


class GatedFactory:
    """Picklable factory whose jobs announce themselves (``<dir>/started-<job>``) and wait for ``<dir>/go``."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def __call__(self, spec):
        worker = FleetWorker(spec)

        def job_fn(job):
            Path(self.folder, f"started-{job.id}").write_text(str(os.getpid()))
            deadline = time.monotonic() + 120
            while not Path(self.folder, "go").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            return worker(job)

        return job_fn


class SleepyFactory:
    """Picklable factory of a light worker (no model: one row per job, value = job index) whose job ``stuck`` sleeps
    ``seconds`` before it answers."""

    def __init__(self, stuck: str, seconds: float = 300.0) -> None:
        self.stuck, self.seconds = stuck, seconds

    def __call__(self, spec):
        def job_fn(job):
            if job.id == self.stuck:
                time.sleep(self.seconds)
            return {"job": [job.id], "metric": ["index"], "value": [float(job.index)]}

        return job_fn


def resume_with_gate(run_dir: str, folder: str) -> None:
    """Subprocess entry: resume ``run_dir`` in this process, its jobs gated by ``folder`` (:class:`GatedFactory`)."""
    from runners.fleet.runner import resume_fleet

    summary = resume_fleet(run_dir, factory=GatedFactory(folder), progress=False)
    raise SystemExit(0 if summary.ok else 1)


def read_only_tree(monkeypatch, root: Path, err: int = errno.EROFS) -> None:
    """Make writes under ``root`` fail with ``err`` (default EROFS) for the rest of the test (see the module)."""
    root = str(Path(root).resolve())

    def under(path) -> bool:
        try:
            return str(Path(os.fsdecode(path)).resolve()).startswith(root)
        except (TypeError, ValueError):
            return False

    def refuse(path):
        raise OSError(err, os.strerror(err), os.fsdecode(path))

    real_open, real_replace, real_rename = os.open, os.replace, os.rename
    real_unlink, real_mkdir, real_builtin_open = os.unlink, os.mkdir, builtins.open

    def guarded_builtin_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and set(mode) & set("wax+") and under(file):
            refuse(file)
        return real_builtin_open(file, mode, *args, **kwargs)

    def guarded_open(path, flags, *args, **kwargs):
        if flags & _WRITE_FLAGS and under(path):
            refuse(path)
        return real_open(path, flags, *args, **kwargs)

    def guard(real, n_paths=1):
        def wrapper(*args, **kwargs):
            if any(under(p) for p in args[:n_paths]):
                refuse(args[0])
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(builtins, "open", guarded_builtin_open)
    monkeypatch.setattr(io, "open", guarded_builtin_open)
    monkeypatch.setattr(os, "replace", guard(real_replace, 2))
    monkeypatch.setattr(os, "rename", guard(real_rename, 2))
    monkeypatch.setattr(os, "unlink", guard(real_unlink))
    monkeypatch.setattr(os, "mkdir", guard(real_mkdir))
