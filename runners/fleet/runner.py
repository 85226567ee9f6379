"""Run a fleet: resolve the cohort, create (or resume) the run directory, run the jobs on an engine, combine, report.

    summary = run_fleet(load_spec("cohort.toml"))                 # a new run under spec.run.out_dir
    summary = resume_fleet("runs/fleet/default-cohort-20250101-120000")   # finish an interrupted run

The spec is validated, the engine checked (:meth:`Engine.prepare`: a Ray cluster's CPUs and GPUs) and the cohort
resolved *before* the run directory exists, so a bad spec leaves nothing behind. An invocation holds the run
directory's lock (:mod:`runners.fleet.run_lock`) while it writes, so two fleets never compute the same jobs. Each
finished job is written at once (atomically), so an interrupted run loses at most the jobs in flight; a resumed run
checks the manifest against its digests, re-reads every finished job file and recomputes only the jobs without a sound
one. A directory that cannot be written is a named error before any job is computed (or, when the disk fills up
mid-run, at the first file that cannot be written), and every result written before it stays. Jobs that fail after
every retry are listed in ``failures.json`` and in the summary, never dropped silently.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from pathlib import Path
from typing import Any

from runners.fleet.engine_base import Engine, Outcome, WorkerFactory, drive
from runners.fleet.errors import ManifestError
from runners.fleet.jobs import Job, ListenerRecord, make_jobs, resolve_cohort
from runners.fleet.rundir import MANIFEST, RunDir, file_sha256, git_revision, jobs_digest, now_iso, package_versions
from runners.fleet.spec import FleetSpec, parse_spec
from simulator.errors import HearloopInputError, HearloopStateError, SpecError


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
    damaged: dict[str, str] = dataclasses.field(default_factory=dict)
    """Job files found damaged on resume ({job: why}), moved aside and computed again."""

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

        return RayEngine(workers=max(1, e["workers"]), address=e["address"], num_cpus=e["num_cpus"],
                         num_gpus=e["num_gpus"], timeout_s=e["timeout_s"])  # fmt: skip
    if e["kind"] != "local":
        raise HearloopInputError(f"unknown engine kind {e['kind']!r} (local, ray)")
    from runners.fleet.engine_local import LocalEngine

    return LocalEngine(workers=e["workers"], timeout_s=e["timeout_s"])


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
    """Resolve the cohort and create the run directory with its manifest (atomically); returns it locked (release
    ``run.lock`` when done). ``progress``: a bar while a stratified cohort is drawn."""
    listeners = resolve_cohort(spec, progress=progress) if listeners is None else list(listeners)
    jobs = make_jobs(spec, listeners)
    job_dicts = [j.to_dict() for j in jobs]
    manifest = {
        "created": now_iso(),
        "spec": spec.to_dict(),
        "spec_digest": spec.digest(),
        "seeds": {"master": spec.run.seed, "cohort": spec.cohort.seed, "sounds": spec.sounds.seed},
        "jobs": job_dicts,
        "jobs_digest": jobs_digest(job_dicts),
        "model": model_identity(spec),
        "git": git_revision(),
        "versions": package_versions(),
        "invocations": [],
    }
    run = RunDir.create(Path(out) if out is not None else _default_run_dir(spec), manifest)
    run.lock.acquire()
    return run, jobs


def open_run(run_dir: str | Path, spec: FleetSpec | None = None) -> tuple[RunDir, FleetSpec, list[Job]]:
    """Reopen a run after checking its manifest: the stored spec and jobs must match the digests recorded when the run
    was created, and ``spec``, if given, must describe the same run.

    Raises:
        ManifestError: unreadable manifest, missing keys, or a spec / job list that no longer matches its digest.
        HearloopInputError: ``spec`` differs from the run's.
    """
    run = RunDir.open(run_dir)
    manifest = run.manifest()
    where = run.path / MANIFEST
    try:
        stored = parse_spec(manifest["spec"], stored=True)
        jobs = [Job.from_dict(d) for d in manifest["jobs"]]
        spec_digest, recorded_jobs = manifest["spec_digest"], manifest.get("jobs_digest")
    except SpecError as err:
        raise ManifestError(f"{where}: its spec is no longer valid ({err})") from err
    except (KeyError, TypeError, ValueError) as err:
        raise ManifestError(f"{where}: missing or malformed entry ({type(err).__name__}: {err})") from err
    if stored.digest() != spec_digest:
        raise ManifestError(f"{where}: its spec does not match the spec_digest recorded when the run was created (was "
                            "it edited?); start a new run instead of resuming this one")  # fmt: skip
    if recorded_jobs is not None and jobs_digest(manifest["jobs"]) != recorded_jobs:
        raise ManifestError(f"{where}: its jobs do not match the jobs_digest recorded when the run was created (was "
                            "it edited?); start a new run instead of resuming this one")  # fmt: skip
    if spec is not None and spec.digest() != spec_digest:
        raise HearloopInputError(f"the spec differs from the one {run.path} was started with; resume without a spec")
    return run, spec or stored, jobs


def _job_failure(outcome: Outcome, errors: list[str]) -> dict[str, Any]:
    return {"job": outcome.job.id, "listener": outcome.job.listener.id, "attempts": outcome.job.attempt + 1,
            "errors": errors, "traceback": outcome.traceback, "finished": outcome.finished}  # fmt: skip


def _record_invocation(run: RunDir, record: dict[str, Any], failures: list[dict[str, Any]] | None) -> None:
    """Append the invocation to the manifest (and write failures.json when the run finished)."""
    run.update_manifest(lambda m: m.setdefault("invocations", []).append(record))
    if failures is not None:
        run.write_failures(failures)


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
    """Run the unfinished ``jobs`` of ``run`` on ``engine`` (default: the spec's), then combine and report.

    The caller holds ``run.lock`` (:func:`run_fleet` and :func:`resume_fleet` do). Finished job files are re-read
    first; damaged ones are moved aside and computed again (``summary.damaged``).
    """
    from tqdm import tqdm

    if not run.lock.held:
        raise HearloopStateError(f"execute_run needs the lock of {run.path}: use run_fleet / resume_fleet")
    t0 = time.perf_counter()
    done, damaged = run.verify_finished(j.id for j in jobs)
    pending = [j for j in jobs if j.id not in done]
    run.check_writable()
    engine = engine or make_engine(spec)
    failures: list[dict[str, Any]] = []
    computed, started = 0, now_iso()
    bar = tqdm(total=len(jobs), initial=len(done), desc=f"fleet {spec.run.name}", unit="job", disable=not progress)

    def on_success(outcome: Outcome) -> None:
        nonlocal computed
        import pyarrow as pa

        run.write_job(outcome.job.id, pa.table(outcome.columns), outcome.meta())
        computed += 1
        bar.update(1)

    def on_failure(outcome: Outcome, errors: list[str]) -> None:
        failures.append(_job_failure(outcome, errors))
        bar.set_postfix(failed=len(failures))

    def on_retry(outcome: Outcome) -> None:
        bar.write(f"job {outcome.job.id} attempt {outcome.job.attempt} failed ({outcome.error}); retrying")

    record = {"started": started, "engine": engine.describe(), "skipped": len(done), "damaged": sorted(damaged)}
    try:
        if pending:
            engine.prepare()
            engine.start(factory or default_factory(), spec)
            drive(engine, pending, retries=spec.engine.retries, on_success=on_success, on_failure=on_failure,
                  on_retry=on_retry)  # fmt: skip
    except BaseException as err:
        engine.stop()
        bar.close()
        status = "interrupted" if isinstance(err, KeyboardInterrupt) else f"stopped: {type(err).__name__}: {err}"
        record.update(ended=now_iso(), status=status, computed=computed, failed=len(failures))
        try:  # best effort: the error that stopped the run is what the caller must see
            _record_invocation(run, record, None)
        except OSError:
            pass
        raise
    engine.stop()
    bar.close()
    record.update(ended=now_iso(), status="finished", computed=computed, failed=len(failures))
    _record_invocation(run, record, failures)
    finished = run.finished(j.id for j in jobs)
    if finished:
        run.combine([j.id for j in jobs])
    summary = RunSummary(run.path, len(jobs), len(finished), computed, len(done), failures, time.perf_counter() - t0,
                         damaged=damaged)  # fmt: skip
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
    engine = engine or make_engine(spec)
    try:
        engine.prepare()  # e.g. GPUs the cluster lacks: a named error before anything is written
        run, jobs = create_run(spec, out, listeners)
    except BaseException:
        engine.stop()
        raise
    try:
        return execute_run(run, spec, jobs, factory=factory, engine=engine, progress=progress, report=report)
    finally:
        run.lock.release()


def resume_fleet(
    run_dir: str | Path,
    spec: FleetSpec | None = None,
    *,
    factory: WorkerFactory | None = None,
    engine: Engine | None = None,
    progress: bool = True,
    report: bool | None = None,
) -> RunSummary:
    """Finish an interrupted (or partly failed) run: only jobs without a sound result file are computed.

    Raises:
        RunDirectoryBusyError: another invocation is writing the run (it is named). ManifestError: see
            :func:`open_run`. RunDirectoryWriteError: the run directory cannot be written (nothing is computed).
    """
    run, spec, jobs = open_run(run_dir, spec)
    with run.lock:
        return execute_run(run, spec, jobs, factory=factory, engine=engine, progress=progress, report=report)
