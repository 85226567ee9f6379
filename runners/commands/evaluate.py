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
import math

from runners.cli_support import add_command
from simulator.errors import HearloopInputError

COMMAND = """
Table 1 (median FEVE / KL, NH vs HI), neurogram figure and nu-severity Spearman rho of a training run

Evaluate the models of a `hearloop train` run (and/or one nu-ICNet-6 checkpoint, e.g. the bundled model) on the
held-out two-trial test sounds of the training cohort. Writes table1.md, scores.parquet, summary.json and
neurograms.png to --out and prints every acceptance number."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "evaluate", run, COMMAND)
    parser.add_argument("--cohort", required=True, help="the training cohort directory")
    parser.add_argument("--run", default=None, help="a `hearloop train --out` directory with all stages")
    parser.add_argument("--model", default=None, help="nu-ICNet-6 checkpoint to evaluate (default: the run's)")
    parser.add_argument("--out", default="runs/eval", help="report directory (default runs/eval)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _yes(flag: bool) -> str:
    return "PASS" if flag else "MISS"


def _f(x) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


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
        print(f"  nu-ICNet-6 median FEVE {st}: {_f(m[f'nuicnet6_feve_{st}'])} (>= 0.6: "
              f"{_yes(m[f'nuicnet6_feve_{st}_pass'])}); single-branch ICNet {_f(m[f'icnet_feve_{st}'])}, "
              f"gap {_f(m[f'gap_to_icnet_{st}'])} (<= 0.05: {_yes(m[f'gap_to_icnet_{st}_pass'])}); "
              f"ABRNet {_f(m[f'abrnet_feve_{st}'])}")  # fmt: skip
    print(f"  Spearman rho(||nu - NH centre||, true severity), nu-ICNet-6: {_f(m['spearman_rho'])} "
          f"(>= 0.7: {_yes(m['spearman_rho_pass'])}); nu-ICNet-3: {_f(m.get('spearman_rho_nuicnet3'))}")  # fmt: skip
    print(f"report: {args.out}/table1.md, summary.json, scores.parquet, neurograms.png")
    return 0
