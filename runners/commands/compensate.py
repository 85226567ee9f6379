"""``hearloop compensate train``: train the DNN compensator through the frozen nu-ICNet.

See :mod:`compensation.dnn_losses` for the loss (neural fidelity at matched loudness, loudness under the comfort limit,
optional selectivity) and :mod:`compensation.dnn` for the network. ``--conditioning audiogram`` (default) trains the
compensator a clinic can fit, ``--conditioning nu`` the upper bound. Runs resume from ``--run-dir``; ``--bundle``
writes the final compensator (best validation weights) where ``compensation.load_compensator`` can find it.
``scripts/train_compensators.sh`` retrains the bundled (audiogram-conditioned) compensator with its recorded settings.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from runners import cli_ranges as ranges
from runners.cli_support import add_command, add_listener_arguments, ranged

COMMAND = """
DNN hearing-aid compensator: train it through the frozen nu-ICNet

Commands for the listener-conditioned DNN compensator (compensation.dnn)."""


TRAIN = """
train the DNN compensator over a sampled listener population

Train compensation.dnn.DNNCompensator through the frozen nu-ICNet over a seeded listener population and sound corpus:
the neural-fidelity objective at matched loudness (the output heard as loud as normal hearing hears the clean sound),
a loudness term (normal loudness, under the listener's comfort limit) and optionally the NH token decoder's
cross-entropy (neural selectivity). Conditioned on the listener's audiogram (default; what a clinic measures, with a
measurement error drawn each step) or on its nu (the upper bound). Seeded and resumable (safetensors checkpoints in
--run-dir)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "compensate", run, COMMAND)
    sub = parser.add_subparsers(dest="compensate_command", metavar="SUBCOMMAND")
    sub.required = True
    train = add_command(sub, "train", None, TRAIN)
    train.add_argument(
        "--run-dir", required=True, help="run directory: checkpoints and training state; a run found there is resumed"
    )
    train.add_argument(
        "--bundle",
        default=None,
        help="also write the final compensator here, e.g. compensation/assets/dnn-small (default: "
        "<run-dir>/final only)",
    )
    train.add_argument("--model", default=None, help="nu-ICNet checkpoint directory (default: the bundled model)")
    add_listener_arguments(
        train,
        animals="the model's HI training animals",
        n_listeners="population drawn from the model's nu density without strata, 1-10000 (default: 32)",
        strata="training population per severity class instead of --n-listeners, e.g. "
        "'NH=4,mild=8,moderate=12,severe=8' (default: none, no threshold search per candidate)",
        cohort_seed="training population seed, 0-4294967295 (default: 5001)",
    )
    _add_optimisation_arguments(train)
    train.add_argument(
        "--seed",
        type=ranged(int, ranges.SEED),
        default=0,
        help="initialisation and batch seed, 0-4294967295 (default: %(default)s)",
    )
    train.add_argument(
        "--sound-seed",
        type=ranged(int, ranges.SEED),
        default=101,
        help="training corpus seed, 0-4294967295 (default: %(default)s)",
    )
    train.add_argument(
        "--stop-at",
        type=ranged(int, ranges.STEPS),
        default=None,
        help="stop (checkpointed, resumable) after this many steps, 1-1000000 (default: run all --steps)",
    )
    train.add_argument(
        "--threads",
        type=ranged(int, ranges.THREADS),
        default=None,
        help="torch CPU threads, 1-256 (default: torch's choice)",
    )
    train.add_argument(
        "--no-resume", action="store_true", help="start afresh even if --run-dir holds a run (default: resume)"
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar (default: a bar)")


def _add_optimisation_arguments(train: argparse.ArgumentParser) -> None:
    """``compensate train``'s optimisation and loss options: steps, batch, learning rate, conditioning, the audiogram
    error drawn into training, and the weights of the loudness and selectivity terms."""
    train.add_argument(
        "--steps",
        type=ranged(int, ranges.STEPS),
        default=1200,
        help="optimisation steps, 1-1000000 (default: %(default)s)",
    )
    train.add_argument(
        "--batch",
        type=ranged(int, ranges.BATCH),
        default=8,
        help="(sound, listener) pairs per step, 1-4096 (default: %(default)s)",
    )
    train.add_argument(
        "--lr",
        type=ranged(float, ranges.LEARNING_RATE),
        default=2e-3,
        help="Adam learning rate at the start of the cosine decay, in (0, 1] (default: %(default)s)",
    )
    train.add_argument(
        "--conditioning",
        choices=("audiogram", "nu"),
        default="audiogram",
        help="audiogram: the measured audiogram, what a clinic has; nu: the listener's nu, the upper bound "
        "(default: %(default)s)",
    )
    train.add_argument(
        "--audiogram-sd",
        type=ranged(float, ranges.AUDIOGRAM_SD_DB),
        default=5.0,
        help="audiogram measurement error drawn into each training audiogram, dB, 0-50 (0: the true audiogram; "
        "default: %(default)s)",
    )
    train.add_argument(
        "--loudness-weight",
        type=ranged(float, ranges.WEIGHT),
        default=1.0,
        help="weight of the loudness term against the neural-fidelity loss, >= 0 (default: %(default)s)",
    )
    train.add_argument(
        "--selectivity-weight",
        type=ranged(float, ranges.WEIGHT),
        default=0.0,
        help="weight of the NH token decoder's cross-entropy, neural selectivity, >= 0 (default: %(default)s: off)",
    )
    train.add_argument(
        "--selectivity-every",
        type=ranged(int, ranges.STEPS),
        default=1,
        help="compute the selectivity term on every k-th step only, to save time, 1-1000000 "
        "(default: %(default)s: every step)",
    )


def run(args: argparse.Namespace) -> int:
    import torch

    from compensation.dnn_checkpoint import nuicnet_provenance, save_compensator
    from compensation.dnn_training import TrainConfig, train_compensator
    from runners.cli_support import build_listeners, listener_choice
    from simulator import load_model
    from simulator.errors import HearloopInputError
    from simulator.model.animals import nh_reference_nu

    if args.selectivity_every != 1 and args.selectivity_weight == 0:
        raise HearloopInputError("--selectivity-every applies to the selectivity term; give --selectivity-weight > 0")
    t0 = time.time()
    if args.threads:
        torch.set_num_threads(int(args.threads))
    source, strata, n, seed = listener_choice(args, default_n=32, default_seed=5001)
    model = load_model(args.model)
    specs = build_listeners(
        model, source=source, n=n, seed=seed, strata=strata, cohort_file=None, progress=not args.quiet
    )
    t_listeners = time.time() - t0
    counts = {k: sum(s.stratum == k for s in specs) for k in dict.fromkeys(s.stratum for s in specs)}
    if not args.quiet:
        print(f"{len(specs)} training listeners {counts} in {t_listeners:.0f} s")
    cfg = TrainConfig(
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        conditioning=args.conditioning,
        audiogram_sd_db=args.audiogram_sd,
        loudness_weight=args.loudness_weight,
        selectivity_weight=args.selectivity_weight,
        selectivity_every=args.selectivity_every,
        seed=args.seed,
        sound_seed=args.sound_seed,
    )
    dnn, state = train_compensator(
        model,
        specs,
        nh_reference_nu(model),
        args.run_dir,
        cfg,
        resume=not args.no_resume,
        progress=not args.quiet,
        stop_at=args.stop_at,
    )
    if state["step"] < cfg.steps:
        print(f"stopped at step {state['step']}/{cfg.steps}; rerun the same command to resume")
        return 0
    metadata = {
        "command": "hearloop " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "torch_threads": torch.get_num_threads(),
        "nuicnet": nuicnet_provenance(args.model, model),
        "train_config": state["provenance"]["train_config"],
        "train_listeners": [{"id": s.id, "stratum": s.stratum, "pta_db_hl": round(s.pta, 1)} for s in specs],
        "cohort_seed": args.cohort_seed,
        "best_step": state["best_step"],
        "history": state["history"],
        "listener_seconds": round(t_listeners, 1),
        "train_seconds": round(time.time() - t0, 1),
    }
    out = save_compensator(dnn, args.bundle or f"{args.run_dir}/final", metadata)
    last = state["history"][-1] if state["history"] else {}
    print(
        f"trained {cfg.steps} steps in {time.time() - t0:.0f} s; best step {state['best_step']}; "
        f"validation median FR (matched) {last.get('val_median_fr', float('nan')):.3f}; wrote {out}"
    )
    return 0
