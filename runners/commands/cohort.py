"""``hearloop cohort``: sample a seeded cohort of virtual listeners, print their neurometric audiograms and write an
audiogram-fan plot (and optionally the cohort file and a GP-PTA check of every listener).

Listeners are nu-ICNet conditioning vectors drawn from the density fitted to the training animals' learned nu
(:func:`listeners.sample_cohort`); thresholds are neurometric (tone-vs-silence detectability, bisection), in dB HL re
the NH reference listener.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from runners import cli_ranges as ranges
from runners.cli_support import add_command, parse_strata, ranged
from simulator.errors import HearloopInputError
from simulator.severity import STRATA

COMMAND = """
sample a seeded cohort of virtual listeners, print their audiograms and plot the audiogram fan

Draw N virtual listeners (nu-ICNet conditioning parameters) from the density fitted to the bundled model's training
animals, compute their neurometric audiograms (dB HL re the NH reference), print a summary table and write an
audiogram-fan plot."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "cohort", run, COMMAND)
    parser.add_argument(
        "--n",
        type=ranged(int, ranges.LISTENER_COUNT),
        default=None,
        help="number of listeners drawn without strata, 1-10000 (default: 32; not with --strata)",
    )
    parser.add_argument(
        "--seed", type=ranged(int, ranges.SEED), default=None, help="sampling seed, 0-4294967295 (default: 0)"
    )
    parser.add_argument(
        "--strata",
        default=None,
        help='listeners per severity class instead of --n, e.g. "NH=2,mild=2,moderate=2" (classes NH, '
        "slight, mild, moderate, severe; default: none)",
    )
    parser.add_argument(
        "--from-file",
        default=None,
        help="load the cohort from a TOML cohort file instead of sampling (default: sample)",
    )
    parser.add_argument("--model", default=None, help="checkpoint directory (default: the bundled model)")
    parser.add_argument("--out", default="runs/cohort", help="output directory of the plot (default: %(default)s)")
    parser.add_argument("--save", default=None, help="also write the cohort to this TOML file (default: not saved)")
    parser.add_argument(
        "--audiometry",
        type=ranged(int, ranges.OPTIONAL_TRIALS),
        default=0,
        metavar="TRIALS",
        help="also run GP-PTA on every listener with this trial budget, 0-1000; 0 = no (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    if args.from_file and (args.n is not None or args.strata is not None or args.seed is not None):
        raise HearloopInputError("--from-file loads a saved cohort; --n, --strata and --seed only apply to sampling")
    if args.n is not None and args.strata is not None:
        raise HearloopInputError(
            "give --n (listeners drawn without strata) or --strata (listeners per class), not both"
        )
    n = 32 if args.n is None else args.n
    if n < 1:
        raise HearloopInputError(f"--n must be >= 1, got {n}")
    seed = 0 if args.seed is None else args.seed
    strata = parse_strata(args.strata)
    import numpy as np

    import simulator
    from listeners import AUDIOGRAM_FREQS_HZ, listener_stratum, load_cohort, nh_reference, sample_cohort, save_cohort
    from listeners.listener import prime_thresholds
    from listeners.plots import plot_audiogram_fan

    model = simulator.load_model(args.model) if args.model else simulator.load_model()
    if args.from_file:
        cohort = load_cohort(args.from_file, model=model)
    else:
        cohort = sample_cohort(
            sum(strata.values()) if strata else n, seed=seed, model=model, strata=strata, progress=True
        )
    freqs = AUDIOGRAM_FREQS_HZ
    prime_thresholds([*cohort, nh_reference(model)], freqs, progress=True)
    th = np.stack([lis.thresholds(freqs) for lis in cohort])
    ptas = [lis.pta() for lis in cohort]
    classes = [listener_stratum(lis) for lis in cohort]

    print(f"{'id':6s} {'stratum':9s} {'PTA':>6s}  " + " ".join(f"{f:>6d}" for f in freqs) + "   (dB HL)")
    for lis, row, pta, cls in zip(cohort, th, ptas, classes, strict=True):
        print(f"{lis.id:6s} {cls:9s} {pta:6.1f}  " + " ".join(f"{v:6.1f}" for v in row))
    print()
    print(f"{'stratum':9s} {'n':>3s} {'PTA min':>8s} {'median':>7s} {'max':>6s}")
    for s in STRATA:
        p = [x for x, c in zip(ptas, classes, strict=True) if c == s]
        if p:
            print(f"{s:9s} {len(p):3d} {min(p):8.1f} {np.median(p):7.1f} {max(p):6.1f}")
    out = Path(args.out)
    fig = plot_audiogram_fan(freqs, th, classes, out / "audiogram_fan.png", title=f"{len(cohort)} virtual listeners")
    print(f"\naudiogram fan: {fig}")
    if args.save:
        print(f"cohort file: {save_cohort(args.save, cohort)}")
    if args.audiometry > 0:
        from listeners.cohort_audiometry import run_cohort_audiometry, summarise_audiometry

        res = run_cohort_audiometry(cohort, max_trials=args.audiometry, seed=seed, progress=True)
        s = summarise_audiometry(res)
        print(
            f"GP-PTA ({args.audiometry} trials): median final MAE {s['median_final_mae_db']:.1f} dB, median trials to "
            f"MAE <= 5 dB {s['median_trials_to_target']:g}, reached by {100 * s['fraction_reached']:.0f}%"
        )
    return 0
