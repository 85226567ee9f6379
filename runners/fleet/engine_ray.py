"""The Ray fleet engine: a pool of actors, each holding the model, on a local or remote Ray cluster.

* ``address``: join that cluster (``ray.init(address=...)``, e.g. ``"auto"`` or ``"ray://head:10001"``); empty starts
  a private local cluster (``include_dashboard=False``) that is shut down again when the run ends. When Ray is already
  initialised in this process, the engine uses that session and leaves it running.
* Each actor builds its worker once (``factory(spec)``: the model, NH targets and strategies) and then runs one job at
  a time. Actors request ``num_cpus`` and ``num_gpus``; with ``num_gpus > 0`` the worker puts the model on the GPU
  Ray assigned to it.
* A dead actor (process killed, node lost: ``RayActorError``) is replaced by a fresh one and its job reported as a
  failed attempt, which :func:`runners.fleet.engine_base.drive` retries. Every job's final result arrives once.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

from runners.fleet.engine_base import Engine, Outcome, WorkerFactory, execute, worker_died
from runners.fleet.jobs import Job
from simulator.errors import HearloopInputError


class _FleetActor:
    """Ray actor body (decorated with ``ray.remote`` at start): one worker, built once."""

    def __init__(self, factory: WorkerFactory, spec: Any, use_gpu: bool) -> None:
        if use_gpu and hasattr(spec, "model"):
            spec = dataclasses.replace(spec, model=dataclasses.replace(spec.model, device="cuda"))
        self._job_fn = factory(spec)

    def run(self, job: Job) -> Outcome:
        return execute(self._job_fn, job)

    def pid(self) -> int:
        import os

        return os.getpid()


class RayEngine(Engine):
    """Ray actor-pool engine.

    Args:
        workers: number of actors.
        address: cluster to join ("" or None: start a local cluster unless Ray is already initialised).
        num_cpus, num_gpus: resources per actor.
        init_kwargs: extra ``ray.init`` keyword arguments for a local cluster.
    """

    name = "ray"

    def __init__(
        self,
        workers: int = 2,
        address: str | None = None,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if int(workers) < 1:
            raise HearloopInputError(f"the ray engine needs workers >= 1 actors, got {workers}")
        self.workers, self.address = int(workers), address or None
        self.num_cpus, self.num_gpus = float(num_cpus), float(num_gpus)
        self.init_kwargs = dict(init_kwargs or {})
        self._owns_ray = False
        self._actor_cls: Any = None
        self._factory: WorkerFactory | None = None
        self._spec: Any = None
        self._idle: list[Any] = []
        self._queue: collections.deque[Job] = collections.deque()
        self._running: dict[Any, tuple[Any, Job]] = {}

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "workers": self.workers,
            "address": self.address or "local",
            "num_cpus": self.num_cpus,
            "num_gpus": self.num_gpus,
        }

    def start(self, factory: WorkerFactory, spec: Any) -> None:
        import ray

        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                kwargs = {"include_dashboard": False, "log_to_driver": False, **self.init_kwargs}
                ray.init(**kwargs)
            self._owns_ray = True
        self._factory, self._spec = factory, spec
        self._actor_cls = ray.remote(_FleetActor).options(
            num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_restarts=0, max_task_retries=0
        )
        self._idle = [self._new_actor() for _ in range(self.workers)]

    def _new_actor(self) -> Any:
        return self._actor_cls.remote(self._factory, self._spec, self.num_gpus > 0)

    def actor_pids(self) -> list[int]:
        """Process ids of the live actors (idle and busy)."""
        import ray

        actors = self._idle + [a for a, _ in self._running.values()]
        return ray.get([a.pid.remote() for a in actors])

    def submit(self, job: Job) -> None:
        self._queue.append(job)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._idle and self._queue:
            actor, job = self._idle.pop(), self._queue.popleft()
            self._running[actor.run.remote(job)] = (actor, job)

    def poll(self) -> list[Outcome]:
        import ray
        from ray.exceptions import RayActorError, WorkerCrashedError

        self._dispatch()
        if not self._running:
            return []
        ready, _ = ray.wait(list(self._running), num_returns=1)
        outcomes = []
        for ref in ready:
            actor, job = self._running.pop(ref)
            try:
                outcomes.append(ray.get(ref))
                self._idle.append(actor)
            except (RayActorError, WorkerCrashedError) as err:
                ray.kill(actor, no_restart=True)
                self._idle.append(self._new_actor())
                outcomes.append(worker_died(job, f"ray actor died ({type(err).__name__})"))
        self._dispatch()
        return outcomes

    def stop(self) -> None:
        import ray

        if not ray.is_initialized():
            return
        for actor in self._idle + [a for a, _ in self._running.values()]:
            ray.kill(actor, no_restart=True)
        self._idle, self._running = [], {}
        self._queue.clear()
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False
