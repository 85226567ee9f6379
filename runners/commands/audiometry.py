"""``hearloop audiometry``: the GP-PTA audiometry benchmark and single (simulated or interactive) sessions.

hearloop audiometry bench --quick --out runs/audiometry-bench
hearloop audiometry bench --seeds 20 --trials 100 --out runs/audiometry-bench-full
hearloop audiometry run --audiogram N3 --method gppta --trials 40 --out runs/session
hearloop audiometry run --random --seed 0 --method hw
hearloop audiometry run --interactive --out runs/me
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from runners import cli_ranges as ranges
from runners.cli_support import add_command, ranged
from simulator.errors import HearloopInputError

COMMAND = """
GP-PTA audiometry: accuracy-vs-trials benchmark and single sessions

Bayesian pure-tone audiometry (GP-PTA) and the modified Hughson-Westlake baseline: the accuracy-vs-trials benchmark
(bench) and single sessions (run)."""


BENCH = """
GP-PTA vs Hughson-Westlake on simulated listeners (MAE vs trials, calibration)

Run GP-PTA and the modified Hughson-Westlake procedure on simulated probit listeners with the 10 Bisgaard standard
audiograms (and optionally random ones), several seeds each, and report audiogram error against trials, trials to an
error of 5 dB, 95 % band coverage and per-trial latency. Writes report.md, summary.json, sessions.csv, curves.csv
and bench.png to --out."""


RUN = """
one session: simulated listener or a person at the terminal

Run one audiometry session with GP-PTA or the modified Hughson-Westlake procedure against a simulated listener (a
Bisgaard standard audiogram or a random one, probit responses with lapses) or a person answering y/n at the
terminal; print the audiogram (and the error against the simulated truth) and optionally write audiogram.json,
audiogram.csv and posterior.png."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "audiometry", None, COMMAND)
    sub = parser.add_subparsers(dest="audiometry_command", metavar="SUBCOMMAND")
    sub.required = True

    _add_bench_options(add_command(sub, "bench", _bench, BENCH))
    _add_run_options(add_command(sub, "run", _run, RUN))


def _add_bench_options(bench: argparse.ArgumentParser) -> None:
    """Options of ``audiometry bench``."""
    bench.add_argument(
        "--quick", action="store_true", help="2 seeds per audiogram, about 2 min on 2 cores (default: off, 20 seeds)"
    )
    bench.add_argument(
        "--seeds",
        type=ranged(int, ranges.SOUND_COUNT),
        default=None,
        help="seeds per audiogram, 1-1000 (default: 20, or 2 with --quick)",
    )
    bench.add_argument(
        "--trials",
        type=ranged(int, ranges.TRIALS),
        default=None,
        help="trial budget per session, 1-1000 (default: 100)",
    )
    bench.add_argument(
        "--random-listeners",
        type=ranged(int, ranges.OPTIONAL_TRIALS),
        default=0,
        help="also test this many random audiograms, 0-1000 (default: %(default)s)",
    )
    bench.add_argument(
        "--lapse",
        type=ranged(float, ranges.RESPONSE_RATE),
        default=0.02,
        help="simulated lapse rate, a probability in [0, 0.5) (default: %(default)s)",
    )
    bench.add_argument(
        "--sigma",
        type=ranged(float, ranges.SD_DB),
        default=5.0,
        help="simulated response noise (psychometric SD), dB, in (0, 50] (default: %(default)s)",
    )
    bench.add_argument(
        "--out", type=Path, default=Path("runs/audiometry-bench"), help="output directory (default: %(default)s)"
    )
    bench.add_argument("--no-progress", action="store_true", help="no tqdm progress bar (default: a bar)")


def _add_run_options(run: argparse.ArgumentParser) -> None:
    """Options of ``audiometry run``."""
    who = run.add_mutually_exclusive_group()
    who.add_argument(
        "--audiogram", default=None, help="Bisgaard audiogram of the simulated listener, N1..N7 or S1..S3 (default: N3)"
    )
    who.add_argument(
        "--random", action="store_true", help="a random simulated audiogram, seeded by --seed (default: off)"
    )
    who.add_argument(
        "--interactive",
        action="store_true",
        help="a person answers y/n at the terminal (default: off, a simulated listener)",
    )
    run.add_argument(
        "--method",
        choices=("gppta", "hw"),
        default="gppta",
        help="gppta (GP-PTA) or hw (modified Hughson-Westlake) (default: %(default)s)",
    )
    run.add_argument(
        "--trials",
        type=ranged(int, ranges.TRIALS),
        default=100,
        help="trial cap of the session, 1-1000 (default: %(default)s)",
    )
    run.add_argument(
        "--target-sd",
        type=ranged(float, ranges.POSITIVE),
        default=None,
        help="gppta only: stop when the posterior SD of the threshold is below this at every frequency, dB, > 0 "
        "(default: 3)",
    )
    run.add_argument(
        "--seed",
        type=ranged(int, ranges.SEED),
        default=0,
        help="seed of the procedure, the simulated answers and --random, 0-4294967295 (default: %(default)s)",
    )
    run.add_argument(
        "--sigma",
        type=ranged(float, ranges.SD_DB),
        default=5.0,
        help="response noise (psychometric SD), dB, of the simulated listener and of GP-PTA's model, in (0, 50] "
        "(default: %(default)s)",
    )
    run.add_argument(
        "--lapse",
        type=ranged(float, ranges.RESPONSE_RATE),
        default=None,
        help="simulated listeners: lapse rate, a probability in [0, 0.5) (default: 0.02)",
    )
    run.add_argument(
        "--max-level",
        type=ranged(float, ranges.MAX_LEVEL_DB_HL),
        default=120.0,
        help="highest level presented, dB HL, in (-10, 120]: above the audiometer's -10 dB HL floor "
        "(default: %(default)s)",
    )
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for audiogram.json/.csv and posterior.png (default: print only)",
    )


def _bench(args: argparse.Namespace) -> int:
    from audiometry.benchmark import BenchmarkConfig, run_benchmark

    config = BenchmarkConfig.quick() if args.quick else BenchmarkConfig()
    if args.seeds is not None:
        config.seeds = args.seeds
    if args.trials is not None:
        config.trials = args.trials
    config.random_listeners, config.lapse, config.sigma = args.random_listeners, args.lapse, args.sigma
    if config.seeds < 1 or config.trials < 1 or config.random_listeners < 0:
        raise HearloopInputError("--seeds and --trials must be >= 1 and --random-listeners >= 0")
    summary = run_benchmark(config, args.out, progress=not args.no_progress)
    print((args.out / "report.md").read_text())
    print(f"wrote {args.out}/report.md, summary.json, sessions.csv, curves.csv, bench.png")
    gp = summary["groups"]["bisgaard"]["gppta"] if config.audiograms else {}
    print(json.dumps({"median_trials_to_mae5": gp.get("trials_to_mae_sustained", {}).get("median")}))
    return 0


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    import audiometry
    from audiometry.plotting import plot_posterior

    if args.method == "hw" and args.target_sd is not None:
        raise HearloopInputError("--target-sd is GP-PTA's stopping rule; modified Hughson-Westlake has none")
    if args.interactive and args.lapse is not None:
        raise HearloopInputError(
            "--lapse sets the simulated listener's lapse rate; it has no meaning with --interactive"
        )
    level_range = (-10.0, float(args.max_level))
    if args.method == "gppta":
        target_sd = 3.0 if args.target_sd is None else args.target_sd
        agent = audiometry.GPPTA(
            sigma=args.sigma, seed=args.seed, max_trials=args.trials, target_sd=target_sd, level_range=level_range
        )
    else:
        agent = audiometry.HughsonWestlake(seed=args.seed, level_range=level_range, max_trials=max(args.trials, 1))
    curve = None
    if args.interactive:
        responder = audiometry.TerminalResponder()
        print("Answer y if you heard the tone, n if not, q to quit.")
    else:
        if args.random:
            curve = audiometry.random_audiogram_curve(np.random.default_rng(args.seed))
        else:
            curve = audiometry.bisgaard_curve(args.audiogram or "N3")
        lapse = 0.02 if args.lapse is None else args.lapse
        responder = audiometry.ProbitResponder(curve, sigma=args.sigma, lapse=lapse)
    try:
        result = audiometry.run_session(agent, responder, rng=np.random.default_rng([args.seed, 1]))
        gram = result.audiogram
    except audiometry.SessionAborted as err:
        print(f"session stopped: {err}; audiogram from the {len(agent.trials)} trials so far")
        gram = agent.audiogram()
    print(gram.format_table())
    if curve is not None:
        truth = curve(np.asarray(gram.freqs_hz))
        print("  true:   " + "  ".join(f"{v:.0f}" for v in truth))
        print(f"  MAE {np.mean(np.abs(np.asarray(gram.threshold_db_hl) - truth)):.2f} dB")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        gram.to_json(args.out / "audiogram.json")
        gram.to_csv(args.out / "audiogram.csv")
        plot_posterior(agent, args.out / "posterior.png", true_curve=curve)
        print(f"wrote {args.out}/audiogram.json, audiogram.csv, posterior.png")
    return 0
