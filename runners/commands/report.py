"""``hearloop report``: (re)build the Markdown report and plots of a fleet run from its run directory.

hearloop report runs/fleet/default-cohort-20250101-120000
hearloop report RUN_DIR --no-neurogram        # skip the neurogram example (it reloads the run's model)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from runners.cli_support import add_command

COMMAND = """
rebuild the Markdown report and plots of a fleet run

Write RUN_DIR/report.md and RUN_DIR/plots/*.png from a fleet run directory (manifest and Parquet results):
audiogram estimates vs truth, fidelity restored per strategy, HITL convergence, a neurogram."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "report", _report, COMMAND)
    parser.add_argument("run_dir", type=Path, help="fleet run directory (finished, interrupted or partly failed)")
    parser.add_argument(
        "--no-neurogram",
        action="store_true",
        help="skip the neurogram example, which reloads the run's model (default: the spec's [report] neurogram)",
    )


def _report(args: argparse.Namespace) -> int:
    from runners.fleet.report import write_report

    path = write_report(args.run_dir, neurogram=False if args.no_neurogram else None)
    print(f"report: {path}")
    return 0
