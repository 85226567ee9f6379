"""The Ray fleet engine: same results as the local engine, and a killed worker loses no job and duplicates none.

One local Ray session (2 CPUs, no dashboard) serves the whole module and is shut down at the end.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from runners.fleet.engine_ray import RayEngine
from runners.fleet.faults import FaultyFactory
from runners.fleet.pipeline import FleetWorker
from runners.fleet.rundir import RunDir
from runners.fleet.runner import run_fleet
from tests.runners.fleet.support import job_values, same_values, tiny_spec

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_session():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_engine_gives_the_local_engine_results_and_survives_a_killed_worker(
    ray_session, model_dir, reference_run, tmp_path
):
    spec = tiny_spec(model_dir)
    jobs = [j["id"] for j in RunDir.open(reference_run).manifest()["jobs"]]
    # the actor running job 1 is SIGKILLed mid-job on its first attempt; the engine replaces it and retries the job
    factory = FaultyFactory(FleetWorker, kill={jobs[1]: 1})
    engine = RayEngine(workers=2)
    out = tmp_path / "ray"
    summary = run_fleet(spec, out, factory=factory, engine=engine, progress=False)
    assert summary.ok and summary.n_computed == 3 and summary.failures == []
    run = RunDir(out)
    assert run.job_meta(jobs[1])["attempt"] == 1 and run.job_meta(jobs[0])["attempt"] == 0
    assert run.manifest()["invocations"][-1]["engine"]["kind"] == "ray"
    # every job's result exactly once (job_values asserts there are no duplicate rows) ...
    table = pq.read_table(out / "results.parquet")
    assert sorted(table.column("job").unique().to_pylist()) == sorted(jobs)
    # ... and bit-identical to the local engine's
    assert same_values(job_values(out), job_values(reference_run))
    assert ray.is_initialized()  # the engine used the session it found and left it running
