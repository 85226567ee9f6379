"""``hearloop evaluate``: score trained models on the held-out two-trial test sounds of their training animals.

Prints Table 1 of [Pellatt2025]_ (single-branch ICNet, nu-ICNet-3, nu-ICNet-6, ABRNet; median FEVE and KL, NH / HI),
per-animal and per-class medians, and the acceptance numbers: nu-ICNet-6 median FEVE (NH, HI), its gap to the
single-branch ICNets, ABRNet beside them, and the Spearman rho of ||nu - NH centre|| against true severity.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import argparse

from runners import cli_ranges as ranges
from runners.cli_support import add_command, ranged
from simulator.errors import HearloopInputError

COMMAND = """
Table 1 (median FEVE / KL, NH vs HI), neurogram figure and nu-severity Spearman rho of a training run

Evaluate the models of a `hearloop train` run (and/or one nu-ICNet-6 checkpoint, e.g. the bundled model) on the
held-out two-trial test sounds of the training cohort. Writes table1.md, scores.parquet, summary.json and
neurograms.png to --out and prints every acceptance number."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "evaluate", run, COMMAND)
    parser.add_argument("--cohort", required=True, help="the training cohort directory (its test sounds are scored)")
    parser.add_argument(
        "--run",
        default=None,
        help="a `hearloop train --out` directory; stages it lacks are reported as not trained "
        "(default: none, --model only)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="nu-ICNet-6 checkpoint to evaluate, e.g. the bundled one (default: the run's nuicnet6)",
    )
    parser.add_argument("--out", default="runs/eval", help="report directory (default: %(default)s)")
    parser.add_argument(
        "--threads",
        type=ranged(int, ranges.THREADS),
        default=None,
        help="torch CPU threads, 1-256 (default: torch's choice)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars (default: bars)")


def _value(m: dict, key: str, criterion: str = "") -> str:
    """A must-show number with its pass flag (``criterion`` given), or why it is missing ("not trained", ...)."""
    if m.get(key) is None:
        return m.get("missing", {}).get(key, "not available")
    text = f"{m[key]:.3f}"
    return f"{text} ({criterion}: {'PASS' if m[f'{key}_pass'] else 'MISS'})" if criterion else text


def run(args: argparse.Namespace) -> int:
    if args.run is None and args.model is None:
        raise HearloopInputError("give --run (a training run directory) and/or --model (a nu-ICNet-6 checkpoint)")
    import torch

    from simulator.evaluation.report import evaluate_run

    if args.threads:
        torch.set_num_threads(args.threads)
    doc = evaluate_run(args.run, args.cohort, args.out, args.model, progress=not args.quiet)
    from pathlib import Path

    print((Path(args.out) / "table1.md").read_text())
    m = doc["must_show"]
    print("Must show:")
    for st in ("NH", "HI"):
        print(
            f"  nu-ICNet-6 median FEVE {st}: {_value(m, f'nuicnet6_feve_{st}', '>= 0.6')}; single-branch ICNet "
            f"{_value(m, f'icnet_feve_{st}')}, gap {_value(m, f'gap_to_icnet_{st}', '<= 0.05')}; ABRNet "
            f"{_value(m, f'abrnet_feve_{st}')}"
        )
    rho3 = m.get("spearman_rho_nuicnet3")
    note = f" [{m['spearman_rho_note']}]" if m.get("spearman_rho_note") and m["spearman_rho"] is not None else ""
    print(
        f"  Spearman rho(||nu - NH centre||, true loss severity_db_hl), nu-ICNet-6: "
        f"{_value(m, 'spearman_rho', '>= 0.7')}{note}; nu-ICNet-3: "
        f"{'not trained or not available' if rho3 is None else f'{rho3:.3f}'}"
    )
    print(f"report: {args.out}/table1.md, summary.json, scores.parquet, neurograms.png")
    return 0
