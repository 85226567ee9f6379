"""The Ray fleet engine: same results as the local engine, a killed worker loses no job and duplicates none, the
cluster is bound to localhost, GPUs beyond the cluster are refused before anything is written, and a stuck job stops
the run after ``timeout_s`` with the finished jobs kept.

One local Ray session (2 CPUs, no GPU, started like the engine starts one: bound to 127.0.0.1, no dashboard) serves
the whole module and is shut down at the end.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from runners.cli import main
from runners.fleet.engine_ray import RayEngine, start_local_ray
from runners.fleet.errors import EngineResourceError, EngineTimeoutError
from runners.fleet.faults import FaultyFactory
from runners.fleet.pipeline import FleetWorker
from runners.fleet.rundir import RunDir
from runners.fleet.runner import resume_fleet, run_fleet
from tests.reliability.support import SleepyFactory
from tests.runners.fleet.support import job_values, same_values, tiny_spec, tiny_spec_text

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def ray_session():
    start_local_ray(num_cpus=2, num_gpus=0, configure_logging=False)
    yield
    ray.shutdown()


def test_the_local_cluster_is_bound_to_localhost(ray_session):
    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert [n["NodeManagerAddress"] for n in nodes] == ["127.0.0.1"]
    assert ray.util.get_node_ip_address() == "127.0.0.1"


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


BEYOND = [({"num_gpus": 1.0}, "num_gpus"), ({"num_cpus": 4.0, "workers": 1}, "num_cpus"),
          ({"num_cpus": 1.0, "workers": 3}, "num_cpus")]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "key"), BEYOND, ids=["gpu", "cpus-per-actor", "cpus-in-all"])
def test_resources_beyond_the_cluster_are_refused_before_anything_is_written(ray_session, model_dir, tmp_path, kwargs,
                                                                             key):  # fmt: skip
    out = tmp_path / "never"
    with pytest.raises(EngineResourceError, match=rf"^engine\.{key} \(--{key.replace('_', '-')}\)"):
        run_fleet(tiny_spec(model_dir), out, engine=RayEngine(**kwargs), progress=False)
    assert not out.exists()


def test_cli_num_gpus_on_a_cluster_without_gpus_is_a_named_error(ray_session, model_dir, tmp_path, capsys):
    spec = tmp_path / "tiny.toml"
    spec.write_text(tiny_spec_text(model_dir))
    out = tmp_path / "never"
    assert main(["fleet", str(spec), "--out", str(out), "--engine", "ray", "--num-gpus", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "engine.num_gpus (--num-gpus) = 1 per actor" in err and "has 0 GPUs" in err, err
    assert not out.exists() and ray.is_initialized()


def test_a_stuck_ray_job_stops_the_run_after_timeout_and_keeps_the_rest(ray_session, model_dir, tmp_path):
    jobs = ["0000-L000", "0001-L001", "0002-L002"]
    out = tmp_path / "stuck"
    engine = RayEngine(workers=1, timeout_s=4.0, start_timeout_s=600.0)
    with pytest.raises(EngineTimeoutError, match=rf"timeout_s = 4 s \(jobs in flight: {jobs[1]}\)"):
        run_fleet(tiny_spec(model_dir), out, factory=SleepyFactory(jobs[1]), engine=engine, progress=False)
    assert RunDir.open(out).finished(jobs) == {jobs[0]}
    summary = resume_fleet(out, factory=SleepyFactory("none"), engine=RayEngine(workers=1), progress=False)
    assert summary.ok and summary.n_computed == 2
    assert pq.read_table(out / "results.parquet").column("job").to_pylist() == jobs  # each job exactly once
