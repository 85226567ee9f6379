"""``hearloop fit-aid``: human-in-the-loop fitting of one virtual listener, from audiometry to a fine-tuned aid.

hearloop fit-aid --strategy wdrc --mode pairwise --listener-seed 0
hearloop fit-aid --strategy multiband --mode rating --budget 30 --tune bands:3 --out runs/fit-aid/lis0

Pipeline: sample the listener (seeded), measure its audiogram with GP-PTA through its neurometric responder, prescribe
theta0, compute the oracle optimum by gradient descent, run the feedback session on the tuning sounds within the
listener's comfort limit (its loudness from its true audiogram), score the prescription and the fit on held-out sounds
(never judged in the session) as heard, at matched loudness and against the volume control, print a summary and write
``result.json``, ``trace.parquet`` and ``convergence.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from runners import cli_ranges as ranges
from runners.cli_support import add_command, ranged
from simulator.errors import HearloopInputError

"""Sounds judged or held out (``--n-sounds``, ``--eval-sounds``): the range of the fleet spec's sound counts."""

COMMAND = """
human-in-the-loop Bayesian fitting of a hearing aid for a virtual listener

GP-PTA audiometry -> prescription -> Bayesian fine-tuning from ratings or A/B preferences, measured against the
oracle optimum (gradient descent through the frozen model)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "fit-aid", _run, COMMAND)
    parser.add_argument(
        "--strategy", default="wdrc", help="compensation strategy to fit: nalr, multiband, wdrc (default: %(default)s)"
    )
    parser.add_argument(
        "--mode",
        choices=("pairwise", "rating"),
        default="pairwise",
        help="feedback: pairwise A/B answers or 0-100 ratings (default: %(default)s)",
    )
    parser.add_argument(
        "--budget",
        type=ranged(int, ranges.TRIALS),
        default=30,
        help="comparisons / ratings of the session, 1-1000 (default: %(default)s)",
    )
    parser.add_argument(
        "--listener-seed",
        type=ranged(int, ranges.SEED),
        default=0,
        help="seed of the sampled virtual listener, 0-4294967295 (default: %(default)s)",
    )
    parser.add_argument(
        "--stratum",
        default="any",
        help="severity stratum of the listener: NH, slight, mild, moderate, severe, or any: one listener drawn from "
        "the model's nu population; a stratum the population cannot reach is an error (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=ranged(int, ranges.SEED),
        default=0,
        help="seed of audiometry, feedback noise, oracle and optimiser, 0-4294967295 (default: %(default)s)",
    )
    parser.add_argument(
        "--tune",
        default="bands:3",
        help="what the session tunes: 'bands:N' (band gains in N groups, e.g. bass/mid/treble), 'gains' (every band "
        "gain), 'all', or comma-separated parameter names (default: %(default)s)",
    )
    parser.add_argument(
        "--radius",
        type=ranged(float, ranges.SEARCH_RADIUS),
        default=0.5,
        help="search half-width around theta0, normalised units (box [-1, 1]), in (0, 2] (default: %(default)s)",
    )
    parser.add_argument(
        "--sigma",
        type=ranged(float, ranges.FEEDBACK_SD),
        default=None,
        help="listener's internal noise SD per comparison (pairwise) or rating, fidelity units, in (0, 1] "
        "(default: 0.01 pairwise, 0.02 rating)",
    )
    parser.add_argument(
        "--audiometry-trials",
        type=ranged(int, ranges.TRIALS),
        default=40,
        help="GP-PTA trial budget, 1-1000 (default: %(default)s)",
    )
    _add_sound_options(parser)
    parser.add_argument("--model", type=Path, default=None, help="checkpoint directory (default: the bundled model)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: runs/fit-aid/<strategy>-<mode>-listener<listener-seed>)",
    )


def _add_sound_options(parser: argparse.ArgumentParser) -> None:
    """The sounds the listener judges and the fit is scored on."""
    parser.add_argument(
        "--n-sounds",
        type=ranged(int, ranges.SOUND_COUNT),
        default=2,
        help="speech sounds the listener judges, 1-1000 (default: %(default)s)",
    )
    parser.add_argument(
        "--eval-sounds",
        type=ranged(int, ranges.SOUND_COUNT),
        default=2,
        help="held-out sounds (speech, speech in noise) the fit is scored on, never judged in the session, 1-1000 "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--sound-seconds",
        type=ranged(float, ranges.SOUND_SECONDS),
        default=0.5,
        help="duration of each sound, s, 0.05-60 (default: %(default)s)",
    )
    parser.add_argument(
        "--level",
        type=ranged(float, ranges.SOUND_LEVEL_DB_SPL),
        default=65.0,
        help="presentation level, dB SPL, 0-120 (default: %(default)s)",
    )


def speech_sounds(n: int, seconds: float, level_db_spl: float, seed: int = 0):
    """``n x samples`` speech-like tuning sounds (Pa) from the synthetic corpus, seeded (stream ``[seed, 0, i]``)."""
    import numpy as np
    import torch

    from simulator.data.corpus import synthesise

    if n < 1:
        raise HearloopInputError("--n-sounds must be >= 1")
    return torch.tensor(np.stack([synthesise("speech", [seed, 0, i], seconds, level_db_spl).audio for i in range(n)]))


def evaluation_sounds(n: int, seconds: float, level_db_spl: float, seed: int = 0):
    """``n x samples`` held-out evaluation sounds (speech and speech in noise in turn; stream ``[seed, 1, i]``, so
    never a tuning sound of :func:`speech_sounds`) and their names."""
    import numpy as np
    import torch

    from simulator.data.corpus import synthesise

    if n < 1:
        raise HearloopInputError("--eval-sounds must be >= 1")
    classes = [("speech", "speech_in_noise")[i % 2] for i in range(n)]
    audio = [synthesise(c, [seed, 1, i], seconds, level_db_spl).audio for i, c in enumerate(classes)]
    return torch.tensor(np.stack(audio)), [f"eval_{c}_{i:02d}" for i, c in enumerate(classes)]


def score_fit(listener, strategy, theta0, res, sounds, comfort):
    """The prescription and the HITL fit on held-out ``sounds``, as heard, at matched loudness and against the
    volume control (:func:`compensation.compare_with_volume_control`) -> its summary."""
    import torch

    from compensation import compare_with_volume_control
    from compensation.objective import NeuralFidelityObjective
    from listeners import nh_reference

    objective = NeuralFidelityObjective(listener.model, nh_reference(listener.model).nu)
    with torch.no_grad():
        theta_best = torch.as_tensor(res.theta_best, dtype=torch.float32)
        aided = {"prescription": strategy(sounds, torch.as_tensor(theta0, dtype=torch.float32)),
                 "hitl": strategy(sounds, theta_best) * 10.0 ** (res.output_gain_db / 20.0)}  # fmt: skip
    return compare_with_volume_control(objective, sounds, listener.nu_tensor(), aided, comfort.loudness,
                                       comfort.comfort).summary()  # fmt: skip


def print_scores(summary: dict, res) -> None:
    """The held-out comparison and the session's comfort and box edges, as a table."""
    print(f"held-out sounds: {'':14}{'FR as heard':>12}{'FR matched':>12}{'FR over VC':>12}{'benefit':>10}{'phon':>8}")
    for name, row in summary.items():
        print(f"  {name:28}{row['fr']:12.3f}{row['fr_matched']:12.3f}{row['fr_over_vc']:12.3f}"
              f"{row['benefit']:10.3f}{row['loudness_phon']:8.1f}")  # fmt: skip
    print(f"HITL delivered loudness {res.loudness_phon:.1f} phon (comfort limit {res.comfort_limit_phon:.1f}); "
          f"coordinates on the edge of the search box: {', '.join(res.at_edge) or 'none'}")  # fmt: skip


def measure_and_prescribe(listener, strategy, *, seed: int, trials: int):
    """GP-PTA audiogram of the listener (its neurometric responder) and the strategy's prescription from it."""
    import numpy as np

    import audiometry

    agent = audiometry.GPPTA(seed=seed, max_trials=trials)
    session = audiometry.run_session(agent, listener, rng=np.random.default_rng([seed, 1]))
    audiogram = session.audiogram
    from compensation.population import clinical_audiogram

    return audiogram, strategy.prescribe(clinical_audiogram(audiogram.as_dict()))


def _run(args: argparse.Namespace) -> int:
    import time

    import listeners
    import simulator
    from compensation import get_strategy
    from compensation.objective import fidelity_restored
    from listeners.listener import THRESHOLD_GRID_HZ
    from runners.hitl import listener_comfort, make_problem, oracle_optimum, parse_tune, run_session
    from runners.hitl.report import plot_convergence, write_json, write_trace_parquet

    if args.budget < 1:
        raise HearloopInputError(f"--budget must be a positive number of queries, got {args.budget}")
    model = simulator.load_model(args.model) if args.model is not None else simulator.load_model()
    strata = None if args.stratum == "any" else {args.stratum: 1}
    listener = listeners.sample_cohort(1, seed=args.listener_seed, model=model, strata=strata, progress=True)[0]
    strategy = get_strategy(args.strategy)
    t0 = time.perf_counter()
    refs = [listener.reference] if listener.reference is not None else []
    listeners.prime_thresholds([listener, *refs], THRESHOLD_GRID_HZ, progress=True)  # the true curve: the slow part
    audiogram, theta0 = measure_and_prescribe(listener, strategy, seed=args.seed, trials=args.audiometry_trials)
    t_audiometry = time.perf_counter() - t0
    sounds = speech_sounds(args.n_sounds, args.sound_seconds, args.level, seed=args.seed)
    held_out, held_out_names = evaluation_sounds(args.eval_sounds, args.sound_seconds, args.level, seed=args.seed)
    comfort = listener_comfort(listener)
    problem = make_problem(listener, strategy, sounds, theta0, tune=parse_tune(args.tune, strategy.param_names),
                           radius=args.radius, comfort=comfort)  # fmt: skip
    t0 = time.perf_counter()
    oracle = oracle_optimum(problem, seed=args.seed, progress=True)
    t_oracle = time.perf_counter() - t0
    noise = "sigma" if args.mode == "pairwise" else "rating_sigma"  # the listener's noise of this feedback mode
    kwargs = {} if args.sigma is None else {noise: args.sigma}
    t0 = time.perf_counter()
    res = run_session(problem, mode=args.mode, budget=args.budget, seed=args.seed, oracle=oracle, **kwargs)
    t_session = time.perf_counter() - t0

    out = args.out or Path("runs/fit-aid") / f"{args.strategy}-{args.mode}-listener{args.listener_seed}"
    d_un = res.objective_unaided
    print(f"listener {listener.id}  PTA {listener.pta():.1f} dB HL  strategy {args.strategy}  mode {args.mode}")
    print("GP-PTA audiogram (dB HL): " + "  ".join(f"{f:g}:{t:.0f}" for f, t in audiogram.as_dict().items()))
    print(f"tuned coordinates: {', '.join(res.param_names)}  (radius {args.radius} normalised)")
    print(f"{'':24}{'D (l1)':>12}{'fidelity restored':>20}")
    for name, d in (
        ("unaided", d_un),
        ("prescription", res.objective_start),
        ("HITL incumbent", res.objective_best),
        ("oracle", res.oracle_objective),
    ):
        print(f"{name:24}{d:12.5g}{fidelity_restored(d, d_un):20.3f}")
    q90, q90s = res.queries_to(0.9), res.queries_to(0.9, sustained=True)
    print(
        f"fraction of oracle improvement after {res.queries_used} queries: {res.fraction_of_oracle_reached:.3f}; "
        f"90% reached after {q90 if q90 is not None else '>' + str(res.queries_used)} queries "
        f"(sustained: {q90s if q90s is not None else '>' + str(res.queries_used)})"
    )
    summary = score_fit(listener, strategy, theta0, res, held_out, comfort)
    print_scores(summary, res)
    print(f"time: audiometry {t_audiometry:.1f} s, oracle {t_oracle:.1f} s, session {t_session:.1f} s")
    record = {
        "listener": {"id": listener.id, "nu": listener.nu.tolist(), "pta_db_hl": listener.pta()},
        "audiogram": {str(k): v for k, v in audiogram.as_dict().items()},
        "strategy": args.strategy,
        "theta0": [float(v) for v in theta0],
        "param_names": list(strategy.param_names),
        "oracle": {"theta": oracle.theta, "objective": oracle.objective, "restarts": oracle.restart_objectives},
        "result": res.to_dict(),
        "held_out": {"sounds": held_out_names, "scores": summary, "comfort": comfort.comfort.to_dict()},
        "timing_s": {"audiometry": t_audiometry, "oracle": t_oracle, "session": t_session},
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "handler"},
    }
    write_json(out / "result.json", record)
    write_trace_parquet(out / "trace.parquet", [res], [{"listener": listener.id, "strategy": args.strategy}])
    plot_convergence(out / "convergence.png", [res], [f"{args.mode} ({listener.id})"])
    print(f"wrote {out}/result.json, trace.parquet, convergence.png")
    return 0
