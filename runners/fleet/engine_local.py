"""The local fleet engine (the default): jobs run in this process, or in a pool of worker processes.

* ``workers=0``: in-process and sequential; the worker (model, sounds, strategies) is built once.
* ``workers=N``: N spawned processes, each builds its worker once and then runs one job at a time, sent over its own
  pipe. The driver knows which job each process holds, so a process that dies (killed, out of memory) costs only its
  own job: that attempt is reported as failed (:func:`runners.fleet.engine_base.drive` retries it) and a fresh
  process takes the dead one's place while the others keep their jobs. Workers ignore SIGINT so that Ctrl-C reaches
  only the driver, which then stops them.
* Every wait is bounded: a process that has not built its worker within ``start_timeout_s`` (default ``timeout_s``)
  of its start, or a job that has not finished within ``timeout_s`` of its worker being ready for it, stops the run with
  :class:`~runners.fleet.errors.EngineTimeoutError` (finished jobs are on disk; ``--resume`` goes on).
  A worker whose factory raises stops the run with :class:`~runners.fleet.errors.WorkerStartError`.
"""

from __future__ import annotations

import collections
import multiprocessing
import signal
import time
import traceback
from multiprocessing.connection import Connection, wait
from typing import Any

from runners.fleet.engine_base import Engine, Outcome, WorkerFactory, execute, worker_died
from runners.fleet.errors import EngineTimeoutError, WorkerStartError
from runners.fleet.jobs import Job
from simulator.errors import HearloopInputError, HearloopStateError

DEFAULT_TIMEOUT_S = 3600.0
"""Longest wait for a job in flight (worker start included) before the run stops with a named error (s)."""


def _worker_main(conn: Connection, factory: WorkerFactory, spec: Any) -> None:
    """A worker process: build the worker once, then answer one job per message until told to stop (``None``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        job_fn = factory(spec)
    except Exception as err:  # the driver stops the run with a named error
        conn.send(("start-failed", f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))
        return
    conn.send(("ready", None))
    try:
        while (job := conn.recv()) is not None:
            conn.send(("outcome", execute(job_fn, job)))
    except (EOFError, OSError):  # the driver went away: nothing left to do
        return


class _Process:
    """One worker process, its end of the pipe, and the job it holds (None when idle)."""

    def __init__(self, ctx: Any, factory: WorkerFactory, spec: Any) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, factory, spec), daemon=True)
        self.process.start()
        child.close()
        self.job: Job | None = None
        self.started_at, self.ready_at, self.given_at = time.monotonic(), None, 0.0

    def give(self, job: Job) -> None:
        self.conn.send(job)
        self.job, self.given_at = job, time.monotonic()

    def deadline(self, timeout_s: float, start_timeout_s: float) -> float:
        """When waiting for this process becomes a timeout: ``start_timeout_s`` after it started (while it builds its
        worker), then ``timeout_s`` after its job could begin."""
        if self.ready_at is None:
            return self.started_at + start_timeout_s
        return max(self.given_at, self.ready_at) + timeout_s

    def close(self, grace_s: float = 5.0) -> None:
        """Ask an idle process to exit; terminate a busy or stuck one."""
        if self.job is None and self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(timeout=grace_s)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=grace_s)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class LocalEngine(Engine):
    """In-process (``workers=0``) or process-pool (``workers >= 1``) engine.

    Args:
        workers: number of worker processes; 0 runs jobs in this process.
        timeout_s: longest wait for a job in flight (s), see the module docstring.
        start_timeout_s: longest wait for a worker process to build its worker (s; None: ``timeout_s``).
    """

    name = "local"

    def __init__(
        self, workers: int = 0, timeout_s: float = DEFAULT_TIMEOUT_S, start_timeout_s: float | None = None
    ) -> None:
        if isinstance(workers, bool) or int(workers) != workers or workers < 0:
            raise HearloopInputError(f"workers must be an integer >= 0, got {workers!r}")
        if not timeout_s > 0:
            raise HearloopInputError(f"timeout_s must be > 0, got {timeout_s!r}")
        self.workers, self.timeout_s = int(workers), float(timeout_s)
        self.start_timeout_s = self.timeout_s if start_timeout_s is None else float(start_timeout_s)
        self._factory: WorkerFactory | None = None
        self._spec: Any = None
        self._job_fn: Any = None
        self._queue: collections.deque[Job] = collections.deque()
        self._procs: list[_Process] = []
        self._ctx = multiprocessing.get_context("spawn")

    def describe(self) -> dict[str, Any]:
        return {"kind": self.name, "workers": self.workers}

    def start(self, factory: WorkerFactory, spec: Any) -> None:
        self._factory, self._spec = factory, spec
        if self.workers == 0:
            self._job_fn = factory(spec)
        else:
            self._procs = [_Process(self._ctx, factory, spec) for _ in range(self.workers)]

    def submit(self, job: Job) -> None:
        if self.workers > 0 and not self._procs:
            raise HearloopStateError("LocalEngine.submit before start")
        self._queue.append(job)
        self._dispatch()

    def _dispatch(self) -> None:
        for proc in self._procs:
            if proc.job is None and self._queue:
                proc.give(self._queue.popleft())

    def poll(self) -> list[Outcome]:
        if self.workers == 0:
            return [execute(self._job_fn, self._queue.popleft())] if self._queue else []
        while True:
            self._dispatch()
            busy = [p for p in self._procs if p.job is not None]
            if not busy:
                return []
            first = min(busy, key=lambda p: p.deadline(self.timeout_s, self.start_timeout_s))
            timeout = max(0.0, first.deadline(self.timeout_s, self.start_timeout_s) - time.monotonic())
            ready = wait([p.conn for p in busy] + [p.process.sentinel for p in busy], timeout)
            if not ready:
                raise self._timeout(first, busy)
            outcomes = [
                self._collect(i, p)
                for i, p in enumerate(self._procs)
                if p.job is not None and (p.conn in ready or p.process.sentinel in ready)
            ]
            outcomes = [o for o in outcomes if o is not None]
            if outcomes:
                self._dispatch()
                return outcomes

    def _timeout(self, first: _Process, busy: list[_Process]) -> EngineTimeoutError:
        if first.ready_at is None:
            return EngineTimeoutError(
                f"a worker process did not start within {self.start_timeout_s:g} s (building its worker: the "
                "model, targets and strategies); nothing of its job was computed: raise spec.engine.timeout_s "
                "(--timeout) and finish the run with --resume"
            )
        jobs = ", ".join(p.job.id for p in busy)
        return EngineTimeoutError(
            f"no job finished within timeout_s = {self.timeout_s:g} s (jobs in flight: {jobs}); finished jobs are "
            "kept: raise spec.engine.timeout_s (--timeout) and finish the run with --resume"
        )

    def _collect(self, index: int, proc: _Process) -> Outcome | None:
        """The outcome a ready process sent (None for its "worker built" message), or a worker-died outcome (and a
        fresh process in its place)."""
        job = proc.job
        try:
            if proc.conn.poll():
                kind, payload = proc.conn.recv()
                if kind == "start-failed":
                    raise WorkerStartError(f"a worker process could not build its worker: {payload}")
                if kind == "ready":
                    proc.ready_at = time.monotonic()
                    return None
                proc.job = None
                return payload
        except (EOFError, OSError):
            pass
        code = proc.process.exitcode
        proc.job = None
        proc.close(grace_s=0.0)
        self._procs[index] = _Process(self._ctx, self._factory, self._spec)
        why = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return worker_died(job, f"worker process {proc.process.pid} died ({why})")

    def stop(self) -> None:
        self._queue.clear()
        for proc in self._procs:
            proc.close()
        self._procs = []
        self._job_fn = None
