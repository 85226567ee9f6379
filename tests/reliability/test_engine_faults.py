"""Engine faults on the local process pool: a SIGKILLed worker costs only the job it held, a job that never finishes
stops the run with a named error after ``timeout_s`` (finished jobs kept), and a worker that cannot be built is named.
(The Ray engine's faults, which share one Ray session, are in ``tests/runners/fleet/test_fleet_ray.py``.)"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from runners.fleet.engine_local import LocalEngine
from runners.fleet.errors import EngineTimeoutError, WorkerStartError
from runners.fleet.faults import FaultyFactory
from runners.fleet.pipeline import FleetWorker
from runners.fleet.rundir import RunDir
from runners.fleet.runner import resume_fleet, run_fleet
from simulator.errors import HearloopInputError
from tests.reliability.support import SleepyFactory, light_spec
from tests.runners.fleet.support import job_values, same_values

pytestmark = pytest.mark.slow


def _job_ids(run: Path) -> list[str]:
    return [j["id"] for j in RunDir.open(run).manifest()["jobs"]]


def test_a_sigkilled_pool_worker_costs_only_its_own_job(tiny_model_dir, reference, tmp_path):
    jobs = _job_ids(reference)
    out = tmp_path / "pool"
    killer = FaultyFactory(FleetWorker, kill={jobs[1]: 1})  # the worker holding job 1 dies on its first attempt
    summary = run_fleet(light_spec(tiny_model_dir), out, factory=killer, engine=LocalEngine(workers=2), progress=False)
    assert summary.ok and summary.n_computed == 3
    run = RunDir(out)
    attempts = {j: run.job_meta(j)["attempt"] for j in jobs}
    assert attempts == {jobs[0]: 0, jobs[1]: 1, jobs[2]: 0}  # the job in flight on the other worker was not retried
    assert all(run.job_meta(j)["worker"] != f"{os.getpid()}@{socket.gethostname()}" for j in jobs)  # in the pool
    assert same_values(job_values(out), job_values(reference))


def test_a_job_that_never_finishes_stops_the_run_after_timeout_and_keeps_the_rest(tiny_model_dir, tmp_path):
    out = tmp_path / "stuck"
    spec = light_spec(tiny_model_dir)
    jobs = ["0000-L000", "0001-L001", "0002-L002"]
    with pytest.raises(EngineTimeoutError, match=rf"timeout_s = 3 s \(jobs in flight: {jobs[1]}\)"):
        engine = LocalEngine(workers=1, timeout_s=3.0, start_timeout_s=600.0)
        run_fleet(spec, out, factory=SleepyFactory(jobs[1]), engine=engine, progress=False)
    run = RunDir.open(out)
    assert run.finished(jobs) == {jobs[0]} and run.job_problem(jobs[0]) is None
    assert run.manifest()["invocations"][-1]["status"].startswith("stopped: EngineTimeoutError")
    first = run.job_path(jobs[0]).read_bytes()
    summary = resume_fleet(out, factory=SleepyFactory("none"), engine=LocalEngine(workers=0), progress=False)
    assert summary.ok and summary.n_computed == 2 and run.job_path(jobs[0]).read_bytes() == first
    assert pq.read_table(out / "results.parquet").column("job").to_pylist() == jobs  # each job exactly once


class _BrokenFactory:
    def __call__(self, spec):
        raise FileNotFoundError("no model at /nowhere")


def test_a_worker_that_cannot_be_built_is_named(tiny_model_dir, tmp_path):
    out = tmp_path / "broken"
    with pytest.raises(WorkerStartError, match="FileNotFoundError: no model at /nowhere"):
        run_fleet(light_spec(tiny_model_dir), out, factory=_BrokenFactory(), engine=LocalEngine(workers=1),
                  progress=False)  # fmt: skip
    assert RunDir.open(out).finished(_job_ids(out)) == set()


@pytest.mark.parametrize(("kwargs", "says"), [({"workers": -3}, "workers"), ({"workers": 1.5}, "workers"),
                                              ({"timeout_s": 0}, "timeout_s")])  # fmt: skip
def test_bad_local_engine_arguments_are_named(kwargs, says):
    with pytest.raises(HearloopInputError, match=f"^{says} must be"):
        LocalEngine(**kwargs)
