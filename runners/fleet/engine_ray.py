"""The Ray fleet engine: a pool of actors, each holding the model, on a local or remote Ray cluster.

* ``address``: join that cluster (``ray.init(address=...)``, e.g. ``"auto"`` or ``"ray://head:10001"``); empty starts
  a private local cluster (:func:`start_local_ray`: no dashboard, every service bound to the loopback interface
  127.0.0.1, so nothing of it is reachable from another machine) that is shut down again when the run ends. When Ray
  is already initialised in this process, the engine uses that session and leaves it running.
* Before anything is submitted (:meth:`RayEngine.prepare`, called before the run directory is written) the cluster's
  CPUs and GPUs are checked against what the actors request: ``num_gpus = 1`` on a cluster without a GPU is an
  :class:`~runners.fleet.errors.EngineResourceError`, not an actor that waits forever for a GPU.
* Each actor builds its worker once (``factory(spec)``: the model, NH targets and strategies) and then runs one job at
  a time. Actors request ``num_cpus`` and ``num_gpus``; with ``num_gpus > 0`` the worker puts the model on the GPU
  Ray assigned to it. An actor whose factory raises stops the run with
  :class:`~runners.fleet.errors.WorkerStartError`.
* Every wait is bounded (``start_timeout_s`` for the actors to start, ``timeout_s`` for a job in flight): actors
  that do not start, or jobs of which none finishes, stop the run with
  :class:`~runners.fleet.errors.EngineTimeoutError` (finished jobs are on disk; ``--resume`` goes on).
* A dead actor (process killed, node lost: ``RayActorError``) is replaced by a fresh one and its job reported as a
  failed attempt, which :func:`runners.fleet.engine_base.drive` retries. Every job's final result arrives once.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import time
from typing import Any

from runners.fleet.engine_base import Engine, Outcome, WorkerFactory, execute, worker_died
from runners.fleet.errors import EngineResourceError, EngineTimeoutError, WorkerStartError
from runners.fleet.jobs import Job
from simulator.errors import HearloopInputError

DEFAULT_TIMEOUT_S = 3600.0
"""Longest wait for the actors to start or for a job in flight to finish (s) before the run stops."""

_LOOPBACK_VAR = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""With this variable at 0, Ray takes the loopback address as the node address, and its services listen there only."""


def start_local_ray(**init_kwargs: Any) -> None:
    """Start a private local Ray cluster bound to 127.0.0.1 only, without the dashboard.

    Ray chooses a node's address (where the GCS, the raylet and the workers listen) from the machine's route to the
    outside unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, where it takes the loopback address; the variable (and
    Ray's copy of it, read when ``ray`` was imported) is set for the start of the cluster only.
    """
    import ray

    try:
        from ray._private import ray_constants
    except ImportError:  # pragma: no cover - a Ray without the constant: the variable alone decides
        ray_constants = None
    saved_env = os.environ.get(_LOOPBACK_VAR)
    saved_flag = getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    os.environ[_LOOPBACK_VAR] = "0"
    if saved_flag is not None:
        ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        kwargs = {"include_dashboard": False, "log_to_driver": False, **init_kwargs}
        ray.init(**kwargs)
    finally:
        if saved_env is None:
            os.environ.pop(_LOOPBACK_VAR, None)
        else:
            os.environ[_LOOPBACK_VAR] = saved_env
        if saved_flag is not None:
            ray_constants.ENABLE_RAY_CLUSTER = saved_flag


class _FleetActor:
    """Ray actor body (decorated with ``ray.remote`` at start): one worker, built once."""

    def __init__(self, factory: WorkerFactory, spec: Any, use_gpu: bool) -> None:
        if use_gpu and hasattr(spec, "model"):
            spec = dataclasses.replace(spec, model=dataclasses.replace(spec.model, device="cuda"))
        self._job_fn = factory(spec)

    def run(self, job: Job) -> Outcome:
        return execute(self._job_fn, job)

    def pid(self) -> int:
        return os.getpid()


class RayEngine(Engine):
    """Ray actor-pool engine.

    Args:
        workers: number of actors.
        address: cluster to join ("" or None: start a local cluster unless Ray is already initialised).
        num_cpus, num_gpus: resources per actor.
        timeout_s: longest wait for a job in flight to finish (s).
        start_timeout_s: longest wait for the actors to build their workers (s; None: ``timeout_s``).
        init_kwargs: extra ``ray.init`` keyword arguments for a local cluster.
    """

    name = "ray"

    def __init__(
        self,
        workers: int = 2,
        address: str | None = None,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        init_kwargs: dict[str, Any] | None = None,
        start_timeout_s: float | None = None,
    ) -> None:
        if int(workers) < 1:
            raise HearloopInputError(f"the ray engine needs workers >= 1 actors, got {workers}")
        if not timeout_s > 0:
            raise HearloopInputError(f"timeout_s must be > 0, got {timeout_s!r}")
        self.workers, self.address = int(workers), address or None
        self.num_cpus, self.num_gpus, self.timeout_s = float(num_cpus), float(num_gpus), float(timeout_s)
        self.start_timeout_s = self.timeout_s if start_timeout_s is None else float(start_timeout_s)
        self.init_kwargs = dict(init_kwargs or {})
        self._owns_ray = False
        self._actor_cls: Any = None
        self._factory: WorkerFactory | None = None
        self._spec: Any = None
        self._idle: list[Any] = []
        self._queue: collections.deque[Job] = collections.deque()
        self._running: dict[Any, tuple[Any, Job, float]] = {}

    def describe(self) -> dict[str, Any]:
        return {"kind": self.name, "workers": self.workers, "address": self.address or "local",
                "num_cpus": self.num_cpus, "num_gpus": self.num_gpus}  # fmt: skip

    # ----------------------------------------------------------------------------------------------------- start
    def prepare(self) -> None:
        """Join (or start) the cluster and check its CPUs and GPUs against the actors' requests."""
        import ray

        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                start_local_ray(**self.init_kwargs)
            self._owns_ray = True
        self._check_resources()

    def _check_resources(self) -> None:
        import ray

        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive", True)]
        for key, per_actor, option in (("CPU", self.num_cpus, "num_cpus"), ("GPU", self.num_gpus, "num_gpus")):
            if per_actor <= 0:
                continue
            total = sum(float(n.get(key, 0.0)) for n in nodes)
            largest = max((float(n.get(key, 0.0)) for n in nodes), default=0.0)
            if per_actor > largest + 1e-9 or per_actor * self.workers > total + 1e-9:
                raise EngineResourceError(
                    f"engine.{option} (--{option.replace('_', '-')}) = {per_actor:g} per actor x {self.workers} "
                    f"workers needs {per_actor * self.workers:g} {key}s (at most {largest:g} per node) but the Ray "
                    f"cluster has {total:g} {key}s in all; ask for fewer, or join a cluster that has them"
                )

    def start(self, factory: WorkerFactory, spec: Any) -> None:
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        self.prepare()
        self._factory, self._spec = factory, spec
        self._actor_cls = ray.remote(_FleetActor).options(
            num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_restarts=0, max_task_retries=0
        )
        self._idle = [self._new_actor() for _ in range(self.workers)]
        try:
            ray.get([a.pid.remote() for a in self._idle], timeout=self.start_timeout_s)
        except GetTimeoutError as err:
            raise EngineTimeoutError(
                f"the {self.workers} Ray actors did not start within {self.start_timeout_s:g} s (each asks for "
                f"num_cpus={self.num_cpus:g}, num_gpus={self.num_gpus:g}); nothing was computed"
            ) from err
        except RayActorError as err:
            raise WorkerStartError(f"a Ray actor could not build its worker: {err}") from err

    def _new_actor(self) -> Any:
        return self._actor_cls.remote(self._factory, self._spec, self.num_gpus > 0)

    def actor_pids(self) -> list[int]:
        """Process ids of the live actors (idle and busy)."""
        import ray

        actors = self._idle + [a for a, _, _ in self._running.values()]
        return ray.get([a.pid.remote() for a in actors], timeout=self.timeout_s)

    # ------------------------------------------------------------------------------------------------------ jobs
    def submit(self, job: Job) -> None:
        self._queue.append(job)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._idle and self._queue:
            actor, job = self._idle.pop(), self._queue.popleft()
            self._running[actor.run.remote(job)] = (actor, job, time.monotonic())

    def poll(self) -> list[Outcome]:
        import ray
        from ray.exceptions import RayActorError, WorkerCrashedError

        self._dispatch()
        if not self._running:
            return []
        deadline = min(since for _, _, since in self._running.values()) + self.timeout_s
        ready, _ = ray.wait(list(self._running), num_returns=1, timeout=max(0.0, deadline - time.monotonic()))
        if not ready:
            jobs = ", ".join(job.id for _, job, _ in self._running.values())
            raise EngineTimeoutError(
                f"no job finished within timeout_s = {self.timeout_s:g} s (jobs in flight: {jobs}); finished jobs are "
                "kept: raise spec.engine.timeout_s (--timeout) and finish the run with --resume"
            )
        outcomes = []
        for ref in ready:
            actor, job, _ = self._running.pop(ref)
            try:
                outcomes.append(ray.get(ref, timeout=self.timeout_s))
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
        for actor in self._idle + [a for a, _, _ in self._running.values()]:
            ray.kill(actor, no_restart=True)
        self._idle, self._running = [], {}
        self._queue.clear()
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False
