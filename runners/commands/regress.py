"""``hearloop regress``: rerun a fixed seeded fleet spec and compare it metric by metric with a stored baseline.

hearloop regress                                          # the committed small spec against its committed baseline
hearloop regress SPEC --baseline DIR                      # exit 0: within tolerances, 1: regression
hearloop regress SPEC --baseline DIR --out runs/regress   # keep the rerun, its diff table and row-level diff
hearloop regress SPEC --baseline DIR --update             # regenerate the baseline (after an intended change)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from runners.cli_support import add_command, add_engine_arguments, override_engine
from simulator.errors import HearloopInputError

COMMAND = """
regression run: rerun a seeded cohort and compare it with a stored baseline (exit 0/1)

Rerun a fixed, seeded fleet spec and compare every result, metric by metric, with a stored baseline within
documented tolerances (runners/fleet/regress.py). Prints a diff table; exit code 0 when everything is within
tolerance, 1 on a regression (2 on a usage error, e.g. a spec that is not the baseline's)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    from runners.fleet.regress import REGRESS_BASELINE, REGRESS_SPEC  # light: no torch

    parser = add_command(subparsers, "regress", _regress, COMMAND)
    parser.add_argument(
        "spec", nargs="?", type=Path, default=REGRESS_SPEC, help="regression spec TOML (default: %(default)s)"
    )
    parser.add_argument(
        "--baseline", type=Path, default=REGRESS_BASELINE, help="baseline directory of that spec (default: %(default)s)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run directory of the rerun, which keeps regress.md and regress_diff.parquet (default: "
        "runs/regress/<run.name>-<time>)",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="regenerate the baseline from this tree instead of comparing (default: compare)",
    )
    parser.add_argument("--progress", action="store_true", help="show a progress bar (default: none)")
    add_engine_arguments(parser)


def _regress(args: argparse.Namespace) -> int:
    from runners.fleet.regress import regress, update_baseline
    from runners.fleet.runner import make_engine
    from runners.fleet.spec import load_spec

    if args.update and args.out is not None:
        raise HearloopInputError("--update writes the baseline (--baseline); --out applies to a comparison run")
    spec = load_spec(args.spec)
    override_engine(spec, args)
    engine = make_engine(spec)
    if args.update:
        path = update_baseline(spec, args.baseline, engine=engine, progress=args.progress)
        print(f"baseline of {args.spec} written to {path}")
        return 0
    result = regress(spec, args.baseline, out=args.out, engine=engine, progress=args.progress)
    print(result.table())
    print()
    print(result.summary())
    print(f"rerun and diff: {result.run_dir} (regress.md, regress_diff.parquet)")
    return 0 if result.passed else 1
