"""What every fleet engine shares: the job outcome, the in-worker wrapper, and the retry loop.

An engine runs jobs on workers that were built once by a *worker factory* ``factory(spec) -> job_fn`` (the default,
:class:`runners.fleet.pipeline.FleetWorker`, loads the model once per worker); ``job_fn(job) -> {column: list}`` is
one job's tidy result. Engines implement ``start / submit / poll / stop``; :func:`drive` feeds them jobs, retries
failed ones (an exception in the job, or a worker that died) up to ``retries`` times, and hands every final outcome
to the caller exactly once.
"""

from __future__ import annotations

import abc
import dataclasses
import os
import socket
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from runners.fleet.jobs import Job
from runners.fleet.rundir import now_iso
from simulator.errors import HearloopInputError, HearloopStateError

WorkerFactory = Callable[[Any], Callable[[Job], dict[str, list]]]
"""``factory(spec) -> job_fn``; ``job_fn(job) -> {column: list}`` (picklable: it is shipped to worker processes)."""


@dataclasses.dataclass
class Outcome:
    """The result of one attempt at a job.

    Attributes:
        job: the job (``job.attempt`` is the attempt number).
        columns: the job's result columns, None when it failed.
        error: one-line error, None on success. traceback: full traceback text of a failure.
        worker: ``pid@host`` of the worker. started, finished: ISO timestamps (UTC). seconds: wall time.
    """

    job: Job
    columns: dict[str, list] | None = None
    error: str | None = None
    traceback: str | None = None
    worker: str = ""
    started: str = ""
    finished: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def meta(self) -> dict[str, Any]:
        return {
            "job": self.job.id,
            "attempt": self.job.attempt,
            "worker": self.worker,
            "started": self.started,
            "finished": self.finished,
            "seconds": self.seconds,
        }


def worker_name() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


def execute(job_fn: Callable[[Job], dict[str, list]], job: Job) -> Outcome:
    """Run one job inside a worker; exceptions become a failed outcome (KeyboardInterrupt / SystemExit propagate)."""
    started, t0 = now_iso(), time.perf_counter()
    try:
        columns = job_fn(job)
        error = tb = None
    except Exception as err:  # a failed job is recorded and retried, never lost
        columns, error, tb = None, f"{type(err).__name__}: {err}", traceback.format_exc()
    return Outcome(job, columns, error, tb, worker_name(), started, now_iso(), time.perf_counter() - t0)


def worker_died(job: Job, why: str) -> Outcome:
    """Outcome of an attempt whose worker process died (killed, out of memory, node lost)."""
    return Outcome(job, None, f"WorkerDied: {why}", None, "", "", now_iso(), 0.0)


class Engine(abc.ABC):
    """A pool of workers that run jobs; see the module docstring."""

    name = "engine"

    def prepare(self) -> None:  # noqa: B027 (optional hook: most engines have nothing to check)
        """Check, before any run directory is written, that the engine can run at all (e.g. that a Ray cluster has the
        CPUs and GPUs its workers request); idempotent. The default checks nothing."""

    @abc.abstractmethod
    def start(self, factory: WorkerFactory, spec: Any) -> None:
        """Start the workers (each calls ``factory(spec)`` once)."""

    @abc.abstractmethod
    def submit(self, job: Job) -> None:
        """Queue one job."""

    @abc.abstractmethod
    def poll(self) -> list[Outcome]:
        """Block until at least one queued job finishes; return the finished outcomes ([] when nothing is queued)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the workers and release every resource (idempotent; also after KeyboardInterrupt)."""

    def describe(self) -> dict[str, Any]:
        return {"kind": self.name}

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def drive(
    engine: Engine,
    jobs: Iterable[Job],
    *,
    retries: int,
    on_success: Callable[[Outcome], None],
    on_failure: Callable[[Outcome, list[str]], None],
    on_retry: Callable[[Outcome], None] | None = None,
) -> None:
    """Run ``jobs`` on a started ``engine`` until each has succeeded or failed ``retries + 1`` times.

    Every job's final outcome is passed exactly once to ``on_success`` or to ``on_failure`` (with the errors of all its
    attempts); ``on_retry`` sees each failed attempt that will be retried.
    """
    pending: dict[str, Job] = {}
    errors: dict[str, list[str]] = {}
    for job in jobs:
        if job.id in pending:
            raise HearloopInputError(f"duplicate job id {job.id!r}")
        pending[job.id] = job
        engine.submit(job)
    while pending:
        outcomes = engine.poll()
        if not outcomes:
            raise HearloopStateError(f"engine {engine.name!r} lost {len(pending)} queued jobs: {sorted(pending)}")
        for outcome in outcomes:
            job = outcome.job
            if pending.get(job.id) is None or pending[job.id].attempt != job.attempt:
                continue  # a stale duplicate (e.g. a job re-queued after its worker was presumed dead)
            if outcome.ok:
                del pending[job.id]
                on_success(outcome)
                continue
            errors.setdefault(job.id, []).append(f"attempt {job.attempt}: {outcome.error}")
            if job.attempt < retries:
                if on_retry is not None:
                    on_retry(outcome)
                pending[job.id] = job.retry()
                engine.submit(pending[job.id])
            else:
                del pending[job.id]
                on_failure(outcome, errors[job.id])
