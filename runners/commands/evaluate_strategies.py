"""``hearloop evaluate-strategies``: a cohort x strategies x sound classes table and plots of fidelity restored.

Listeners come from ``listeners.sample_cohort`` (stratified, seeded; or a saved cohort file), each with its true
neurometric audiogram, from which NAL-R / WDRC / multiband gain are prescribed; the DNN compensator gets the listener's
nu. Sounds are a seeded synthetic corpus (:func:`simulator.data.corpus.make_corpus`) -- use seeds different from the
DNN's training seeds for held-out results. ``--objective generator`` scores the model's training animals on the
virtual-IC generator itself (their regenerated ground truth against their NH twins) instead of through the model.
See :mod:`compensation.strategy_evaluation` for the matched-loudness rule.
"""

from __future__ import annotations

import argparse
import time

from runners import cli_ranges as ranges
from runners.cli_support import add_command, add_listener_arguments, ranged, ranged_pair
from simulator.errors import HearloopInputError

COMMAND = """
table and plots of fidelity restored: cohort x strategies x sound classes

Score unaided, NAL-R, WDRC, multiband gain and the DNN compensator for a seeded listener cohort and sound corpus
with the neural-fidelity objective; fidelity restored as prescribed and at matched output loudness (every output at
NAL-R's A-weighted level). Writes results.parquet, summary.md and a plot."""

DEFAULT_STRATA = "mild=2,moderate=4,severe=2"
"""The cohort when neither --n-listeners nor --strata is given."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "evaluate-strategies", run, COMMAND)
    parser.add_argument("--out", required=True, help="output directory (results.parquet, summary.md, plot)")
    parser.add_argument("--model", default=None, help="nu-ICNet checkpoint directory (default: the bundled model)")
    parser.add_argument(
        "--strategies",
        default="unaided,nalr,wdrc,dnn",
        help="comma-separated strategies: unaided, nalr, multiband, wdrc, dnn (default: %(default)s)",
    )
    parser.add_argument(
        "--dnn",
        default=None,
        help="DNN compensator of the dnn strategy: a bundled name or a directory (default: dnn-small)",
    )
    add_listener_arguments(
        parser,
        animals="the model's NH and HI training animals with their ABR audiograms",
        n_listeners="draw this many listeners without strata instead of --strata, 1-10000 (default: the strata)",
        strata=f"listeners per severity class, e.g. 'NH=2,mild=2,moderate=4' (default: {DEFAULT_STRATA})",
        cohort_seed="listener cohort seed, held out: not a training seed, 0-4294967295 (default: 7001)",
    )
    parser.add_argument(
        "--cohort-file",
        default=None,
        help="a saved cohort (TOML, listeners.save_cohort) instead of sampling (default: sample)",
    )
    parser.add_argument(
        "--strict-strata",
        action="store_true",
        help="fail if the strata cannot be filled (default: warn and draw without strata)",
    )
    parser.add_argument(
        "--sound-seed",
        type=ranged(int, ranges.SEED),
        default=9001,
        help="corpus seed, held out: not a training seed, 0-4294967295 (default: %(default)s)",
    )
    parser.add_argument(
        "--per-class",
        type=ranged(int, ranges.SOUND_COUNT),
        default=3,
        help="sounds per class: speech, speech in noise, music, ripple, tone; 1-1000 (default: %(default)s)",
    )
    parser.add_argument(
        "--duration",
        type=ranged(float, ranges.SOUND_SECONDS),
        default=1.0,
        help="seconds per sound, 0.05-60 (default: %(default)s)",
    )
    parser.add_argument(
        "--levels",
        type=ranged_pair(ranges.LEVEL_PAIR_DB_SPL),
        default="50,80",
        help="presentation levels drawn from LOW,HIGH, dB SPL, LOW <= HIGH, each 0-120 (default: %(default)s)",
    )
    parser.add_argument(
        "--distance", choices=("l1", "l2", "kl"), default="l1", help="neural-fidelity distance (default: %(default)s)"
    )
    parser.add_argument(
        "--objective",
        choices=("model", "generator"),
        default="model",
        help="where fidelity is scored: model (nu-ICNet at each listener's nu) or generator (each training animal's "
        "own virtual-IC responses against its NH twin; needs --listeners-from animals) (default: %(default)s)",
    )
    parser.add_argument(
        "--match-to",
        default="nalr",
        help="strategy whose A-weighted output level the matched comparison uses (default: %(default)s)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG (default: write it)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (default: bars)")


def run(args: argparse.Namespace) -> int:
    import torch

    from compensation.dnn_training import corpus_audio
    from compensation.generator_objective import MissingGroundTruthError
    from compensation.registry import get_strategy
    from compensation.strategy_evaluation import evaluate_strategies, summary_markdown, write_results
    from runners.cli_support import build_listeners, listener_choice, warn_if_stale
    from simulator import load_model
    from simulator.model.animals import nh_reference_nu

    t0 = time.time()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    source, strata, n, seed = listener_choice(args, default_n=8, default_seed=7001, default_strata=DEFAULT_STRATA)
    if args.strict_strata and strata is None:
        raise HearloopInputError("--strict-strata applies to a cohort drawn by --strata only")
    if args.objective == "generator" and source != "animals":
        raise MissingGroundTruthError(
            "--objective generator scores virtual-IC animals on their own responses; listeners sampled from the "
            "model's nu population carry no ground truth: use --listeners-from animals"
        )
    lo, hi = args.levels
    names = [s.strip().lower() for s in args.strategies.split(",") if s.strip()]
    if args.dnn is not None and "dnn" not in names:
        raise HearloopInputError("--dnn names the DNN compensator, but dnn is not among --strategies")
    model = load_model(args.model)
    strategies = {
        n: (get_strategy(n, pretrained=args.dnn or "dnn-small") if n == "dnn" else get_strategy(n)) for n in names
    }
    if "dnn" in strategies:
        warn_if_stale(strategies["dnn"], args.model, model)
    specs = build_listeners(
        model,
        source=source,
        n=n,
        seed=seed,
        strata=strata,
        cohort_file=args.cohort_file,
        fallback=not args.strict_strata,
        animal_statuses=("NH", "HI"),
        progress=not args.quiet,
    )
    if args.objective == "generator":
        from runners.ground_truth import training_ground_truths

        truths = training_ground_truths(model)
        for spec in specs:
            spec.ground_truth = truths.get(spec.id)
    audio, sound_names, classes = corpus_audio(args.sound_seed, args.per_class, args.duration, (lo, hi))
    table = evaluate_strategies(
        model,
        specs,
        audio,
        sound_names,
        classes,
        strategies,
        nh_reference_nu(model),
        distance=args.distance,
        match_to=args.match_to,
        progress=not args.quiet,
        objective=args.objective,
    )
    out = write_results(table, args.out, plots=not args.no_plots)
    print(summary_markdown(table))
    print(f"wrote {out}/results.parquet ({table.num_rows} rows) and summary.md in {time.time() - t0:.0f} s")
    return 0
