"""Fleet runs: a spec (cohort, pipeline, strategies, sounds, engine) run as one job per virtual listener.

    from runners.fleet import load_spec, run_fleet, resume_fleet, write_report, regress
    summary = run_fleet(load_spec())                 # the default cohort on the bundled model, locally
    summary.run_dir, summary.ok, summary.failures

Modules: :mod:`~runners.fleet.spec` (strict TOML specs), :mod:`~runners.fleet.jobs` (per-listener jobs and seeds),
:mod:`~runners.fleet.pipeline` (audiometry -> prescription -> HITL -> evaluation), :mod:`~runners.fleet.engine_local`
and :mod:`~runners.fleet.engine_ray` (engines), :mod:`~runners.fleet.rundir` (atomic run directories),
:mod:`~runners.fleet.runner` (run / resume), :mod:`~runners.fleet.report` and :mod:`~runners.fleet.plots` (report),
:mod:`~runners.fleet.regress` (regression runs), :mod:`~runners.fleet.faults` (fault injection for tests).
Heavy libraries (torch, ray, matplotlib) load only when a run or report starts.
"""

from runners.fleet.engine_base import Engine, Outcome, drive
from runners.fleet.jobs import Job, ListenerRecord, job_seeds, make_jobs
from runners.fleet.regress import REGRESS_BASELINE, REGRESS_SPEC, RegressionResult, compare, regress, update_baseline
from runners.fleet.report import write_report
from runners.fleet.rundir import RunDir
from runners.fleet.runner import RunSummary, make_engine, resume_fleet, run_fleet
from runners.fleet.spec import DEFAULT_SPEC_PATH, FleetSpec, load_spec, parse_spec, spec_from_toml

__all__ = [
    "DEFAULT_SPEC_PATH",
    "REGRESS_BASELINE",
    "REGRESS_SPEC",
    "Engine",
    "FleetSpec",
    "Job",
    "ListenerRecord",
    "Outcome",
    "RegressionResult",
    "RunDir",
    "RunSummary",
    "compare",
    "drive",
    "job_seeds",
    "load_spec",
    "make_engine",
    "make_jobs",
    "parse_spec",
    "regress",
    "resume_fleet",
    "run_fleet",
    "spec_from_toml",
    "update_baseline",
    "write_report",
]
