"""Fault injection for fleet engines: make chosen job attempts raise, kill their worker process, or press Ctrl-C.

Reliability claims (README, "Fleet runs": a fleet hit by a dead worker or an interrupt finishes on resume with every
result, none twice) are only as good as the tests that break things on purpose. A :class:`FaultyFactory` wraps any
worker factory; it is picklable, so it travels to process-pool and Ray workers::

    factory = FaultyFactory(FleetWorker, kill={"0001-L001": 1})      # SIGKILL the worker on attempt 0 of that job
    run_fleet(spec, factory=factory)
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from typing import Any

from runners.fleet.engine_base import WorkerFactory
from runners.fleet.jobs import Job


class FaultyJob:
    """A job function that misbehaves on chosen attempts before (or instead of) running the real one."""

    def __init__(self, inner: Any, fail: Mapping[str, int], kill: Mapping[str, int], interrupt: frozenset[str]):
        self.inner, self.fail, self.kill, self.interrupt = inner, fail, kill, interrupt

    def __call__(self, job: Job) -> dict[str, list]:
        if job.id in self.interrupt:
            signal.raise_signal(signal.SIGINT)  # a real Ctrl-C in this process (KeyboardInterrupt in the main thread)
        if job.attempt < self.kill.get(job.id, 0):
            os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies mid-job
        if job.attempt < self.fail.get(job.id, 0):
            raise RuntimeError(f"injected failure of job {job.id} attempt {job.attempt}")
        return self.inner(job)


class FaultyFactory:
    """Wrap ``factory`` so that its workers inject faults.

    Args:
        factory: the real worker factory (``factory(spec) -> job_fn``).
        fail: ``{job_id: n}``: the first ``n`` attempts of the job raise ``RuntimeError``.
        kill: ``{job_id: n}``: the first ``n`` attempts SIGKILL their own worker process (never use with an
            in-process engine: it would kill the driver).
        interrupt: job ids whose every attempt raises SIGINT in the worker (with the in-process local engine this is
            a Ctrl-C of the run).
    """

    def __init__(
        self,
        factory: WorkerFactory,
        *,
        fail: Mapping[str, int] | None = None,
        kill: Mapping[str, int] | None = None,
        interrupt: set[str] | frozenset[str] | None = None,
    ) -> None:
        self.factory = factory
        self.fail, self.kill = dict(fail or {}), dict(kill or {})
        self.interrupt = frozenset(interrupt or ())

    def __call__(self, spec: Any) -> FaultyJob:
        return FaultyJob(self.factory(spec), self.fail, self.kill, self.interrupt)
