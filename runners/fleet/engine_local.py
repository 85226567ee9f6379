"""The local fleet engine (the default): jobs run in this process, or in a pool of worker processes.

* ``workers=0``: in-process and sequential; the worker (model, sounds, strategies) is built once.
* ``workers=N``: N spawned processes (``concurrent.futures.ProcessPoolExecutor``), each building its worker once in
  the pool initializer. Workers ignore SIGINT so that Ctrl-C reaches only the driver, which then stops the pool. A
  worker that dies (killed, out of memory) breaks the pool: the engine starts a new pool and reports the jobs that
  were in flight as failed attempts, so :func:`runners.fleet.engine_base.drive` retries them.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import multiprocessing
import signal
from typing import Any

from runners.fleet.engine_base import Engine, Outcome, WorkerFactory, execute, worker_died
from runners.fleet.jobs import Job
from simulator.errors import HearloopInputError, HearloopStateError

_WORKER: Any = None


def _init_worker(factory: WorkerFactory, spec: Any) -> None:
    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = factory(spec)


def _run_in_worker(job: Job) -> Outcome:
    return execute(_WORKER, job)


class LocalEngine(Engine):
    """In-process (``workers=0``) or process-pool (``workers >= 1``) engine.

    Args:
        workers: number of worker processes; 0 runs jobs in this process.
    """

    name = "local"

    def __init__(self, workers: int = 0) -> None:
        if int(workers) < 0:
            raise HearloopInputError(f"workers must be >= 0, got {workers}")
        self.workers = int(workers)
        self._factory: WorkerFactory | None = None
        self._spec: Any = None
        self._job_fn: Any = None
        self._queue: collections.deque[Job] = collections.deque()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._futures: dict[cf.Future, Job] = {}

    def describe(self) -> dict[str, Any]:
        return {"kind": self.name, "workers": self.workers}

    def start(self, factory: WorkerFactory, spec: Any) -> None:
        self._factory, self._spec = factory, spec
        if self.workers == 0:
            self._job_fn = factory(spec)
        else:
            self._new_pool()

    def _new_pool(self) -> None:
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self._factory, self._spec),
        )

    def submit(self, job: Job) -> None:
        if self.workers == 0:
            self._queue.append(job)
            return
        if self._pool is None:
            raise HearloopStateError("LocalEngine.submit before start")
        self._futures[self._pool.submit(_run_in_worker, job)] = job

    def poll(self) -> list[Outcome]:
        if self.workers == 0:
            return [execute(self._job_fn, self._queue.popleft())] if self._queue else []
        if not self._futures:
            return []
        done, _ = cf.wait(list(self._futures), return_when=cf.FIRST_COMPLETED)
        outcomes, broken = [], False
        for future in done:
            job = self._futures.pop(future)
            try:
                outcomes.append(future.result())
            except cf.process.BrokenProcessPool as err:
                broken = True
                outcomes.append(worker_died(job, f"worker process died ({err})"))
        if broken:
            # Every other in-flight job died with the pool: report them too, then start a fresh pool.
            for future, job in list(self._futures.items()):
                outcomes.append(worker_died(job, "worker pool broken by another worker's death"))
                self._futures.pop(future)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._new_pool()
        return outcomes

    def stop(self) -> None:
        self._queue.clear()
        if self._pool is not None:
            for future in self._futures:
                future.cancel()
            self._futures.clear()
            # terminate workers still busy with a job (Ctrl-C): their results are not wanted any more
            processes = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for proc in processes:
                if proc.is_alive():
                    proc.terminate()
            for proc in processes:
                proc.join(timeout=10)
            self._pool = None
        self._job_fn = None
