"""Fleet jobs: one per listener, self-contained (id, nu, recording hours, seeds) so any worker can run it.

The cohort is resolved once, in the driver, into explicit listener records (sampled with ``listeners.sample_cohort``
or read with ``listeners.load_cohort``) and stored in the run manifest: a resumed run, another engine or a remote Ray
worker recomputes exactly the same listeners without sampling again. Every random step of a job has its own seed,
derived from the spec's master seed and the listener index with ``numpy.random.SeedSequence`` (independent streams,
stable under reordering and resumption).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np

from runners.fleet.spec import FleetSpec
from simulator.errors import HearloopInputError

SEED_STREAMS: tuple[str, ...] = ("audiometry", "responses", "hitl")
"""Seeded parts of a job: the audiometry agent, the listener's tone responses, the HITL session."""


@dataclasses.dataclass(frozen=True)
class ListenerRecord:
    """An explicit virtual listener: id, conditioning nu (``D`` in [0, 1]) and optional recording time (hours)."""

    id: str
    nu: tuple[float, ...]
    hours: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "nu": list(self.nu), "hours": self.hours}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ListenerRecord:
        hours = d.get("hours")
        return cls(str(d["id"]), tuple(float(v) for v in d["nu"]), None if hours is None else float(hours))


@dataclasses.dataclass(frozen=True)
class Job:
    """One per-listener job of a fleet run.

    Attributes:
        id: unique, file-name-safe job id (``0003-L003``).
        index: position in the cohort.
        listener: the listener record.
        seeds: ``{stream: int}`` for every name in :data:`SEED_STREAMS`.
        attempt: 0 for the first try, incremented by the engine on every retry.
    """

    id: str
    index: int
    listener: ListenerRecord
    seeds: dict[str, int]
    attempt: int = 0

    def retry(self) -> Job:
        return dataclasses.replace(self, attempt=self.attempt + 1)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "index": self.index, "listener": self.listener.to_dict(), "seeds": dict(self.seeds)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        return cls(str(d["id"]), int(d["index"]), ListenerRecord.from_dict(d["listener"]), dict(d["seeds"]))


def job_seeds(master_seed: int, index: int) -> dict[str, int]:
    """Independent 32-bit seeds for each stream of job ``index`` (SeedSequence spawn keys)."""
    seq = np.random.SeedSequence(entropy=int(master_seed), spawn_key=(int(index),))
    values = seq.generate_state(len(SEED_STREAMS), dtype=np.uint32)
    return {name: int(v) for name, v in zip(SEED_STREAMS, values, strict=True)}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:48] or "listener"


def make_jobs(spec: FleetSpec, listeners: list[ListenerRecord]) -> list[Job]:
    """One job per listener, with ids ``{index:04d}-{listener id}`` and seeds from ``spec.run.seed``."""
    ids = [lis.id for lis in listeners]
    if len(set(ids)) != len(ids):
        raise HearloopInputError(f"listener ids must be unique; got duplicates in {ids}")
    return [Job(f"{i:04d}-{_safe(lis.id)}", i, lis, job_seeds(spec.run.seed, i)) for i, lis in enumerate(listeners)]


def resolve_cohort(spec: FleetSpec, model: Any = None, progress: bool = False) -> list[ListenerRecord]:
    """The spec's cohort as explicit listener records (samples or loads it with the ``listeners`` package).

    Args:
        spec: validated spec.
        model: the loaded model (None: load the spec's model).
        progress: a tqdm bar while a stratified cohort is drawn (minutes: every candidate's audiogram is measured).
    """
    import listeners

    if model is None:
        model = load_spec_model(spec)
    if spec.cohort.file:
        cohort = listeners.load_cohort(spec.cohort.file, model=model)
    else:
        strata = {k: v for k, v in spec.cohort.strata.items() if v > 0} or None
        cohort = listeners.sample_cohort(spec.cohort.n, seed=spec.cohort.seed, model=model, strata=strata,
                                         progress=progress)  # fmt: skip
    return [
        ListenerRecord(str(lis.id), tuple(float(v) for v in np.asarray(lis.nu).reshape(-1)), _hours(lis))
        for lis in cohort
    ]


def _hours(listener: Any) -> float | None:
    hours = getattr(listener, "hours", None)
    return None if hours is None else float(hours)


def load_spec_model(spec: FleetSpec, device: str | None = None) -> Any:
    """The spec's model (bundled when ``spec.model.path`` is empty) on ``device`` (default: the spec's)."""
    import simulator

    return simulator.load_model(spec.model.path or None, device=device or spec.model.device)
