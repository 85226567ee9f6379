"""``hearloop evaluate-strategies``: a cohort x strategies x sound classes table and plots of fidelity restored.

Listeners come from ``listeners.sample_cohort`` (stratified, seeded; or a saved cohort file), each with its true
neurometric audiogram, from which NAL-R / WDRC / multiband gain are prescribed; the DNN compensator gets the listener's
nu. Sounds are a seeded synthetic corpus (:func:`simulator.data.corpus.make_corpus`) -- use seeds different from the
DNN's training seeds for held-out results. See :mod:`compensation.strategy_evaluation` for the matched-loudness rule.
"""

from __future__ import annotations

import argparse
import time

from runners.cli_support import add_command

COMMAND = """
table and plots of fidelity restored: cohort x strategies x sound classes

Score unaided, NAL-R, WDRC, multiband gain and the DNN compensator for a seeded listener cohort and sound corpus
with the neural-fidelity objective; fidelity restored as prescribed and at matched output loudness (every output
at NAL-R's A-weighted level). Writes results.parquet, summary.md and a plot."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "evaluate-strategies", run, COMMAND)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--model", default=None, help="nu-ICNet checkpoint directory (default: the bundled model)")
    parser.add_argument("--strategies", default="unaided,nalr,wdrc,dnn", help="comma-separated strategy names")
    parser.add_argument("--dnn", default="dnn-small", help="DNN compensator name or directory (default dnn-small)")
    parser.add_argument("--listeners-from", choices=("cohort", "animals"), default="cohort",
                        help="sample listeners (default) or use the model's training animals")  # fmt: skip
    parser.add_argument("--n-listeners", type=int, default=8, help="cohort size when --strata is not given")
    parser.add_argument("--strata", default="mild=2,moderate=4,severe=2", help="e.g. 'NH=2,mild=2,moderate=4'")
    parser.add_argument("--cohort-seed", type=int, default=7001, help="listener cohort seed (held out: != training)")
    parser.add_argument("--cohort-file", default=None, help="a saved cohort (TOML) instead of sampling")
    parser.add_argument("--strict-strata", action="store_true",
                        help="fail if the strata cannot be filled (default: warn and draw without strata)")  # fmt: skip
    parser.add_argument("--sound-seed", type=int, default=9001, help="corpus seed (held out: != training)")
    parser.add_argument("--per-class", type=int, default=3, help="sounds per class (speech, sin, music, ripple, tone)")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per sound")
    parser.add_argument("--levels", default="50,80", help="presentation level range, dB SPL (low,high)")
    parser.add_argument("--distance", choices=("l1", "l2", "kl"), default="l1", help="objective distance")
    parser.add_argument("--match-to", default="nalr", help="strategy whose loudness the matched comparison uses")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import torch

    from compensation.dnn_training import corpus_audio
    from compensation.registry import get_strategy
    from compensation.strategy_evaluation import evaluate_strategies, summary_markdown, write_results
    from runners.cli_support import build_listeners, parse_strata, warn_if_stale
    from simulator import load_model
    from simulator.model.animals import nh_reference_nu

    t0 = time.time()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    lo, hi = (float(v) for v in args.levels.split(","))
    model = load_model(args.model)
    names = [s.strip().lower() for s in args.strategies.split(",") if s.strip()]
    strategies = {n: (get_strategy(n, pretrained=args.dnn) if n == "dnn" else get_strategy(n)) for n in names}
    if "dnn" in strategies:
        warn_if_stale(strategies["dnn"], args.model, model)
    strata = parse_strata(args.strata)
    specs = build_listeners(
        model, source=args.listeners_from, n=args.n_listeners, seed=args.cohort_seed, strata=strata,
        cohort_file=args.cohort_file, fallback=not args.strict_strata,
    )  # fmt: skip
    audio, sound_names, classes = corpus_audio(args.sound_seed, args.per_class, args.duration, (lo, hi))
    table = evaluate_strategies(
        model, specs, audio, sound_names, classes, strategies, nh_reference_nu(model),
        distance=args.distance, match_to=args.match_to, progress=not args.quiet,
    )  # fmt: skip
    out = write_results(table, args.out, plots=not args.no_plots)
    print(summary_markdown(table))
    print(f"wrote {out}/results.parquet ({table.num_rows} rows) and summary.md in {time.time() - t0:.0f} s")
    return 0
