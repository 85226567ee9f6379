"""``hearloop ground-truth``: a strategy grid scored through the model and on the generator, and their agreement.

hearloop ground-truth --out runs/ground-truth
hearloop ground-truth --out runs/gt --training HI01,HI04 --fresh-hi 0 --per-class 1 --duration 0.5

See :mod:`compensation.ground_truth` (the grid), :mod:`compensation.ground_truth_agreement` (the figures) and
:mod:`runners.ground_truth` (training and fresh animals).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from runners import cli_ranges as ranges
from runners.cli_support import add_command, ranged, ranged_pair

COMMAND = """
strategy grid scored through the model and on the generator itself, with their agreement

For the model's training animals (regenerated from its metadata) and fresh animals with BO-fitted nu, score unaided,
flat gains -10..+50 dB re NAL-R's level, NAL-R, multiband, WDRC, the DNN (and a HITL setting per animal when given)
with the neural-fidelity objective through the model and with the same objective on the virtual-IC generator.
Writes results.parquet, per_condition.parquet, agreement.json (Pearson r, per-animal rank Spearman, best-strategy
agreement per cohort and status), summary.md and ground_truth.png; with fresh animals, first fresh_animals.json and
fresh_animals.md (each fresh animal's fitted nu, true generator parameters, PTA, held-out FEVE at the fitted nu and
its nu distance to the nearest training animal and to their centre). --fit-only stops there. The fresh animals'
simulated sounds are kept in OUT/fresh-sounds: a rerun with the same --out and fresh-animal options (after an
interruption, or the full loop after --fit-only) reads them back instead of simulating them again."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "ground-truth", run, COMMAND)
    parser.add_argument("--out", required=True, help="output directory (results, agreement.json, summary.md, plot)")
    parser.add_argument("--model", default=None, help="nu-ICNet checkpoint directory (default: the bundled model)")
    parser.add_argument(
        "--strategies",
        default="unaided,nalr,multiband,wdrc,dnn",
        help="comma-separated strategies; unaided and nalr are always scored (default %(default)s)",
    )
    parser.add_argument("--dnn", default="dnn-small", help="DNN compensator name or directory (default %(default)s)")
    parser.add_argument(
        "--training",
        default="HI",
        help="training animals: 'HI', 'NH,HI', 'none' or a list of ids (default %(default)s)",
    )
    parser.add_argument(
        "--fresh-nh", type=ranged(int, ranges.FRESH_COUNT), default=0, help="fresh NH animals, 0-100 (default: none)"
    )
    parser.add_argument(
        "--fresh-hi",
        type=ranged(int, ranges.FRESH_COUNT),
        default=3,
        help="fresh HI animals, 0-100 (default %(default)s)",
    )
    parser.add_argument(
        "--fresh-seed",
        type=ranged(int, ranges.SEED),
        default=1000,
        help="seed of the fresh animals, not the cohort's, 0-4294967295 (default %(default)s)",
    )
    parser.add_argument(
        "--fit-evals",
        type=ranged(int, ranges.EVALUATIONS),
        default=24,
        help="BO evaluations of a fresh animal's nu fit, 1-1000 (default %(default)s)",
    )
    parser.add_argument(
        "--fit-only",
        action="store_true",
        help="fit the fresh animals and write fresh_animals.json only, without scoring the grid (default: score it)",
    )
    parser.add_argument(
        "--hitl", default=None, help="JSON {'strategy': NAME, 'theta': {animal_id: [...]}} (default: no HITL condition)"
    )
    parser.add_argument(
        "--sound-seed",
        type=ranged(int, ranges.SEED),
        default=9001,
        help="corpus seed, held out from training, 0-4294967295 (default %(default)s)",
    )
    parser.add_argument(
        "--per-class",
        type=ranged(int, ranges.SOUND_COUNT),
        default=1,
        help="sounds per class: speech, sin, music, ripple, tone; 1-1000 (default %(default)s)",
    )
    parser.add_argument(
        "--duration",
        type=ranged(float, ranges.SOUND_SECONDS),
        default=1.0,
        help="seconds per sound, 0.05-60 (default %(default)s)",
    )
    parser.add_argument(
        "--levels",
        type=ranged_pair(ranges.LEVEL_PAIR_DB_SPL),
        default="50,80",
        help="presentation level range, dB SPL, low,high: LOW <= HIGH, each 0-120 (default %(default)s)",
    )
    parser.add_argument(
        "--distance", choices=("l1", "l2", "kl"), default="l1", help="objective distance (default %(default)s)"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG (default: write it)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (default: show them)")


def _training_selection(text: str) -> tuple[tuple[str, ...], list[str] | None]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if items in (["none"], []):
        return (), []
    if set(items) <= {"NH", "HI"}:
        return tuple(items), None
    return (), items


def run(args: argparse.Namespace) -> int:
    from compensation.dnn_training import corpus_audio
    from compensation.ground_truth import ground_truth_loop
    from compensation.ground_truth_agreement import agreement, summary_markdown, write_loop_results
    from compensation.registry import get_strategy
    from runners.cli_support import warn_if_stale
    from runners.fresh_nu import nu_report, nu_report_markdown, write_nu_report
    from runners.ground_truth import fresh_fits, load_hitl_settings, training_loop_animals
    from simulator import load_model
    from simulator.errors import HearloopInputError
    from simulator.model.animals import nh_reference_nu

    t0 = time.time()
    lo, hi = args.levels
    names = list(dict.fromkeys(["unaided", "nalr", *(s.strip().lower() for s in args.strategies.split(",") if s)]))
    strategies = {n: (get_strategy(n, pretrained=args.dnn) if n == "dnn" else get_strategy(n)) for n in names}
    hitl = load_hitl_settings(args.hitl, strategies) if args.hitl else {}
    statuses, ids = _training_selection(args.training)
    if not (statuses or ids or args.fresh_nh or args.fresh_hi):
        raise HearloopInputError("no animals: give --training and/or --fresh-nh/--fresh-hi")
    if args.fit_only and not (args.fresh_nh or args.fresh_hi):
        raise HearloopInputError("--fit-only fits fresh animals: give --fresh-nh and/or --fresh-hi")
    model = load_model(args.model)
    if "dnn" in strategies:
        warn_if_stale(strategies["dnn"], args.model, model)
    config = {k: v for k, v in vars(args).items() if k != "handler"}
    animals = [] if args.fit_only or not (statuses or ids) else training_loop_animals(model, statuses, ids)
    if args.fresh_nh or args.fresh_hi:
        fits = fresh_fits(model, args.fresh_nh, args.fresh_hi, args.fresh_seed, args.fit_evals, not args.quiet,
                          Path(args.out) / "fresh-sounds")  # fmt: skip
        report = nu_report(fits, training_loop_animals(model, ("NH", "HI")))
        path = write_nu_report({"config": config, **report}, args.out)
        print(nu_report_markdown(report))
        if args.fit_only:
            print(f"wrote {path} in {time.time() - t0:.0f} s")
            return 0
        animals += [fit.animal for fit in fits]
    for animal in animals:
        animal.hitl = hitl.get(animal.listener.id)
    audio, sound_names, classes = corpus_audio(args.sound_seed, args.per_class, args.duration, (lo, hi))
    table = ground_truth_loop(model, animals, audio, sound_names, classes, strategies, nh_reference_nu(model),
                              distance=args.distance, progress=not args.quiet)  # fmt: skip
    out = write_loop_results(table, args.out, plots=not args.no_plots, config=config)
    print(summary_markdown(table, agreement(table)))
    print(f"wrote {out}/results.parquet ({table.num_rows} rows), agreement.json in {time.time() - t0:.0f} s")
    return 0
