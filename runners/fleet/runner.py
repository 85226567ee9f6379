"""Run a fleet: resolve the cohort, create (or resume) the run directory, run the jobs on an engine, combine, report.

    summary = run_fleet(load_spec("cohort.toml"))                 # a new run under spec.run.out_dir
    summary = resume_fleet("runs/fleet/default-cohort-20250101-120000")   # finish an interrupted run

The spec is validated and the cohort resolved *before* the run directory exists, so a bad spec leaves nothing behind.
Each finished job is written at once (atomically), so an interrupted run loses at most the jobs in flight; a resumed
run recomputes only the jobs without a result file. Jobs that fail after every retry are listed in ``failures.json``
and in the summary, never dropped silently.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from pathlib import Path
from typing import Any

from runners.fleet.engine_base import Engine, Outcome, WorkerFactory, drive
from runners.fleet.jobs import Job, ListenerRecord, make_jobs, resolve_cohort
from runners.fleet.rundir import RunDir, file_sha256, git_revision, now_iso, package_versions
from runners.fleet.spec import FleetSpec, parse_spec
from simulator.errors import HearloopInputError


@dataclasses.dataclass
class RunSummary:
    """What a fleet invocation did. ``ok`` is True when every job of the run has a result."""

    run_dir: Path
    n_jobs: int
    n_finished: int
    n_computed: int
    n_skipped: int
    failures: list[dict[str, Any]]
    seconds: float
    report: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.failures and self.n_finished == self.n_jobs


def default_factory() -> WorkerFactory:
    from runners.fleet.pipeline import FleetWorker

    return FleetWorker


def make_engine(spec: FleetSpec, **overrides: Any) -> Engine:
    """The engine the spec's ``[engine]`` section describes (keyword overrides win)."""
    e = {**dataclasses.asdict(spec.engine), **{k: v for k, v in overrides.items() if v is not None}}
    if e["kind"] == "ray":
        from runners.fleet.engine_ray import RayEngine

        return RayEngine(
            workers=max(1, e["workers"]), address=e["address"], num_cpus=e["num_cpus"], num_gpus=e["num_gpus"]
        )
    if e["kind"] != "local":
        raise HearloopInputError(f"unknown engine kind {e['kind']!r} (local, ray)")
    from runners.fleet.engine_local import LocalEngine

    return LocalEngine(workers=e["workers"])


def model_identity(spec: FleetSpec) -> dict[str, Any]:
    from simulator.model.checkpoint import BUNDLED_MODEL_DIR

    path = Path(spec.model.path) if spec.model.path else BUNDLED_MODEL_DIR
    return {
        "path": str(path),
        "bundled": not spec.model.path,
        "weights_sha256": file_sha256(path / "model.safetensors"),
    }


def _default_run_dir(spec: FleetSpec) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(spec.run.out_dir) / f"{spec.run.name}-{stamp}"


def create_run(
    spec: FleetSpec,
    out: str | Path | None = None,
    listeners: list[ListenerRecord] | None = None,
    progress: bool = False,
) -> tuple[RunDir, list[Job]]:
    """Resolve the cohort and create the run directory with its manifest (atomically); ``progress``: a bar while a
    stratified cohort is drawn."""
    listeners = resolve_cohort(spec, progress=progress) if listeners is None else list(listeners)
    jobs = make_jobs(spec, listeners)
    manifest = {
        "created": now_iso(),
        "spec": spec.to_dict(),
        "spec_digest": spec.digest(),
        "seeds": {"master": spec.run.seed, "cohort": spec.cohort.seed, "sounds": spec.sounds.seed},
        "jobs": [j.to_dict() for j in jobs],
        "model": model_identity(spec),
        "git": git_revision(),
        "versions": package_versions(),
        "invocations": [],
    }
    run = RunDir.create(Path(out) if out is not None else _default_run_dir(spec), manifest)
    return run, jobs


def open_run(run_dir: str | Path, spec: FleetSpec | None = None) -> tuple[RunDir, FleetSpec, list[Job]]:
    """Reopen a run; ``spec``, if given, must describe the same run (same digest) as the manifest's."""
    run = RunDir.open(run_dir)
    manifest = run.manifest()
    stored = parse_spec(manifest["spec"])
    if spec is not None and spec.digest() != manifest["spec_digest"]:
        raise HearloopInputError(f"the spec differs from the one {run.path} was started with; resume without a spec")
    return run, spec or stored, [Job.from_dict(d) for d in manifest["jobs"]]


def execute_run(
    run: RunDir,
    spec: FleetSpec,
    jobs: list[Job],
    *,
    factory: WorkerFactory | None = None,
    engine: Engine | None = None,
    progress: bool = True,
    report: bool | None = None,
) -> RunSummary:
    """Run the unfinished ``jobs`` of ``run`` on ``engine`` (default: the spec's), then combine and report."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    done = run.finished(j.id for j in jobs)
    pending = [j for j in jobs if j.id not in done]
    engine = engine or make_engine(spec)
    failures: list[dict[str, Any]] = []
    computed = 0
    started = now_iso()
    bar = tqdm(total=len(jobs), initial=len(done), desc=f"fleet {spec.run.name}", unit="job", disable=not progress)

    def on_success(outcome: Outcome) -> None:
        nonlocal computed
        import pyarrow as pa

        run.write_job(outcome.job.id, pa.table(outcome.columns), outcome.meta())
        computed += 1
        bar.update(1)

    def on_failure(outcome: Outcome, errors: list[str]) -> None:
        failures.append(
            {"job": outcome.job.id, "listener": outcome.job.listener.id, "attempts": outcome.job.attempt + 1,
             "errors": errors, "traceback": outcome.traceback, "finished": outcome.finished}
        )  # fmt: skip
        bar.set_postfix(failed=len(failures))

    def on_retry(outcome: Outcome) -> None:
        bar.write(f"job {outcome.job.id} attempt {outcome.job.attempt} failed ({outcome.error}); retrying")

    status = "interrupted"
    try:
        if pending:
            engine.start(factory or default_factory(), spec)
            drive(engine, pending, retries=spec.engine.retries, on_success=on_success, on_failure=on_failure,
                  on_retry=on_retry)  # fmt: skip
        status = "finished"
    finally:
        engine.stop()
        bar.close()
        record = {"started": started, "ended": now_iso(), "status": status, "engine": engine.describe(),
                  "computed": computed, "skipped": len(done), "failed": len(failures)}  # fmt: skip
        run.update_manifest(lambda m: m.setdefault("invocations", []).append(record))
        if status == "finished":
            run.write_failures(failures)
    finished = run.finished(j.id for j in jobs)
    if finished:
        run.combine([j.id for j in jobs])
    summary = RunSummary(run.path, len(jobs), len(finished), computed, len(done), failures, time.perf_counter() - t0)
    if (spec.report.enabled if report is None else report) and finished:
        from runners.fleet.report import write_report

        summary.report = write_report(run.path)
    return summary


def run_fleet(
    spec: FleetSpec,
    out: str | Path | None = None,
    *,
    listeners: list[ListenerRecord] | None = None,
    factory: WorkerFactory | None = None,
    engine: Engine | None = None,
    progress: bool = True,
    report: bool | None = None,
) -> RunSummary:
    """Start a new fleet run of ``spec`` in ``out`` (default ``<run.out_dir>/<run.name>-<timestamp>``).

    Args:
        spec: validated spec (:func:`runners.fleet.spec.load_spec`).
        out: run directory to create (must not exist).
        listeners: explicit cohort (default: resolved from the spec with the ``listeners`` package).
        factory: worker factory ``factory(spec) -> job_fn`` (default :class:`runners.fleet.pipeline.FleetWorker`).
        engine: engine instance (default from ``spec.engine``).
        progress: tqdm progress bar over jobs.
        report: write the report (default ``spec.report.enabled``).
    """
    run, jobs = create_run(spec, out, listeners)
    return execute_run(run, spec, jobs, factory=factory, engine=engine, progress=progress, report=report)


def resume_fleet(
    run_dir: str | Path,
    spec: FleetSpec | None = None,
    *,
    factory: WorkerFactory | None = None,
    engine: Engine | None = None,
    progress: bool = True,
    report: bool | None = None,
) -> RunSummary:
    """Finish an interrupted (or partly failed) run: only jobs without a result file are computed."""
    run, spec, jobs = open_run(run_dir, spec)
    return execute_run(run, spec, jobs, factory=factory, engine=engine, progress=progress, report=report)
