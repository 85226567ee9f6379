"""``hearloop fleet``: run a cohort through audiometry -> prescription -> HITL fitting -> evaluation.

hearloop fleet                                  # the default cohort (runners/assets/fleet-default.toml), locally
hearloop fleet cohort.toml --out runs/my-run    # a spec of your own into a chosen run directory
hearloop fleet cohort.toml --engine ray --workers 8 --address auto --num-gpus 0.25
hearloop fleet --resume runs/fleet/default-cohort-20250101-120000
hearloop fleet --describe                       # every spec key with its type, default and meaning
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runners.cli_support import add_command, add_engine_arguments, override_engine
from simulator.errors import HearloopInputError

COMMAND = """
run a cohort of virtual listeners through the fitting pipeline (local or Ray)

Run a fleet spec: one job per listener (GP-PTA audiometry, prescription, HITL fitting, evaluation) on the local or
the Ray engine, into a run directory with a manifest, Parquet results and a Markdown report. With no arguments it
runs the default cohort on the bundled model."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "fleet", _fleet, COMMAND)
    parser.add_argument(
        "spec",
        nargs="?",
        type=Path,
        default=None,
        help="spec TOML; missing keys take their defaults (default: the default cohort, "
        "runners/assets/fleet-default.toml)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="run directory to create (default: <run.out_dir>/<run.name>-<time>)"
    )
    parser.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="finish an interrupted run: compute only the jobs without a result (default: a new run)",
    )
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="do not write report.md and plots (default: the spec's [report] enabled)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (default: bars)")
    parser.add_argument(
        "--describe",
        action="store_true",
        help="print every spec key with its type, default and meaning, and exit (default: off)",
    )
    add_engine_arguments(parser)


def _fleet(args: argparse.Namespace) -> int:
    from runners.fleet.runner import create_run, execute_run, make_engine, open_run
    from runners.fleet.spec import load_spec
    from runners.fleet.spec_docs import describe_fields

    if args.describe:
        others = [
            flag
            for flag, value in (("SPEC", args.spec), ("--out", args.out), ("--resume", args.resume))
            if value is not None
        ]
        if others:
            raise HearloopInputError(f"--describe prints the spec keys and runs nothing; drop {', '.join(others)}")
        print(describe_fields())
        return 0
    if args.resume is not None:
        if args.out is not None:
            raise HearloopInputError("--out cannot be combined with --resume (the run directory is RUN_DIR)")
        spec = load_spec(args.spec) if args.spec is not None else None
        run, spec, jobs = open_run(args.resume, spec)  # the manifest checked against its digests
        override_engine(spec, args)
        engine = make_engine(spec)
        run.lock.acquire()  # another invocation writing this run is a named error
    else:
        spec = load_spec(args.spec)
        override_engine(spec, args)  # a refused engine option fails before the cohort is drawn
        engine = make_engine(spec)
        engine.prepare()  # e.g. GPUs the Ray cluster lacks: refused before the run directory is written
        try:
            run, jobs = create_run(spec, args.out, progress=not args.no_progress)
        except BaseException:
            engine.stop()
            raise
    print(f"fleet: {len(jobs)} jobs on the {engine.name} engine -> {run.path}", file=sys.stderr)
    try:
        summary = execute_run(
            run, spec, jobs, engine=engine, progress=not args.no_progress, report=False if args.no_report else None
        )
    except KeyboardInterrupt:
        print(f"interrupted; finish the run with: hearloop fleet --resume {run.path}", file=sys.stderr)
        return 130
    finally:
        engine.stop()
        run.lock.release()
    if summary.damaged:
        print(
            f"recomputed {len(summary.damaged)} damaged job files (kept beside them as *.damaged): "
            + "; ".join(f"{job}: {why}" for job, why in summary.damaged.items()),
            file=sys.stderr,
        )
    print(
        f"{summary.n_finished}/{summary.n_jobs} jobs finished ({summary.n_computed} computed, {summary.n_skipped} "
        f"already done) in {summary.seconds:.1f} s; results: {run.path / 'results.parquet'}"
    )
    if summary.report is not None:
        print(f"report: {summary.report}")
    for failure in summary.failures:
        print(f"FAILED {failure['job']} after {failure['attempts']} attempts: {failure['errors'][-1]}", file=sys.stderr)
    if summary.failures:
        print(
            f"{len(summary.failures)} jobs failed (see {run.path / 'failures.json'}); rerun them with "
            f"hearloop fleet --resume {run.path}",
            file=sys.stderr,
        )
    return 0 if summary.ok else 1
