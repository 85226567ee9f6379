"""``hearloop train``: train nu-ICNet, ABRNet and the ICNet baselines on a recorded (or synthetic) cohort.

Stages (Pellatt et al., "Training"): a multi-branch ICNet on the NH animals, whose encoder initialises nu-ICNet-6,
nu-ICNet-3, ABRNet and the single-branch ICNets (see :mod:`simulator.training.stages`). ``--recipe bundle`` runs the
bundled model's whole staged schedule in one command (:mod:`simulator.training.recipes`); without ``--recipe`` one call
trains the ``--stages`` given with one set of options. Every stage checkpoints after each epoch and resumes when run
again with the same ``--out``.
"""

from __future__ import annotations

import argparse
import time

from runners import cli_ranges as ranges
from runners.cli_support import add_command, ranged
from simulator.errors import HearloopInputError

COMMAND = """
train nu-ICNet (D=6, 3), ABRNet and ICNet baselines on a cohort (resumable)

Align every animal to an NH reference, split the training sounds by name into train and validation (about 10 %, at
least one sound of each class), then train: multibranch (multi-branch ICNet on NH animals, full backprop) ->
nuicnet6, nuicnet3, abrnet, icnet (single-branch, one per animal) from its encoder. Adam, LR halved on a plateau,
early stop after --early-stop epochs without improvement. --recipe bundle runs the bundled model's staged schedule
in one command; otherwise one call trains --stages with one set of options (by default the NH encoder is frozen
after the first stage and its latents cached; --finetune-encoder trains it in every stage)."""

_DEFAULT_STAGES = "multibranch,nuicnet6,nuicnet3,abrnet,icnet"
_STAGE_OPTIONS = ("stages", "epochs", "encoder_epochs", "lr", "encoder_lr", "hop", "finetune_encoder", "encoder_from")
"""Options that a recipe sets per step (given with --recipe they would be ignored, so they are refused)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "train", run, COMMAND)
    parser.add_argument("--cohort", required=True, help="cohort directory (from `hearloop synth` or converted data)")
    parser.add_argument("--out", default="runs/train", help="run directory for checkpoints (default: %(default)s)")
    parser.add_argument(
        "--recipe",
        default=None,
        choices=("bundle",),
        help="run a whole staged recipe: bundle = the bundled model's four steps (per-step epochs, "
        "learning rates, hops and encoder handling; refuses the per-stage options below) (default: "
        "none, train --stages)",
    )
    parser.add_argument(
        "--epoch-cap",
        type=ranged(int, ranges.EPOCHS),
        default=None,
        help="with --recipe: at most this many epochs in every stage, for a quick check of a cohort, 1-10000 "
        "(default: the recipe's)",
    )
    parser.add_argument(
        "--preset", default="small", choices=("small", "tiny", "paper"), help="model size preset (default: %(default)s)"
    )
    _add_stage_options(parser.add_argument_group("per-stage options (without --recipe)"))
    _add_shared_options(parser)


def _add_stage_options(per_stage: argparse._ArgumentGroup) -> None:
    """Options that a recipe sets per step, for a call that trains ``--stages`` itself."""
    per_stage.add_argument(
        "--stages", default=None, help=f"comma-separated stages to run, in order (default: {_DEFAULT_STAGES})"
    )
    per_stage.add_argument(
        "--epochs",
        type=ranged(int, ranges.EPOCHS),
        default=None,
        help="max epochs of the conditioned stages, 1-10000 (default: 120)",
    )
    per_stage.add_argument(
        "--encoder-epochs",
        type=ranged(int, ranges.EPOCHS),
        default=None,
        help="max epochs of the multibranch stage, 1-10000 (default: --epochs)",
    )
    per_stage.add_argument(
        "--lr",
        type=ranged(float, ranges.LEARNING_RATE),
        default=None,
        help="initial Adam learning rate, in (0, 1] (default: 3e-3)",
    )
    per_stage.add_argument(
        "--encoder-lr",
        type=ranged(float, ranges.LEARNING_RATE),
        default=None,
        help="learning rate of the multibranch stage, in (0, 1] (default: --lr)",
    )
    per_stage.add_argument(
        "--hop",
        type=ranged(int, ranges.HOP_SAMPLES),
        default=None,
        help="frame hop in samples, a multiple of 32 in [32, 8192]; 4096 = half-overlapping frames (default: 8192, no "
        "overlap)",
    )
    per_stage.add_argument(
        "--finetune-encoder",
        action="store_true",
        help="train the encoder in every stage (default: frozen after multibranch, latents cached)",
    )
    per_stage.add_argument(
        "--encoder-from",
        default=None,
        choices=("multibranch", "nuicnet6", "nuicnet3", "abrnet"),
        help="stage (trained in an earlier call with the same --out) whose encoder initialises "
        "the stages of this call, when multibranch is not among them (default: multibranch)",
    )


def _add_shared_options(parser: argparse.ArgumentParser) -> None:
    """Options of every stage, with or without a recipe."""
    parser.add_argument(
        "--batch-size", type=ranged(int, ranges.BATCH), default=8, help="frames per step, 1-4096 (default: %(default)s)"
    )
    parser.add_argument(
        "--beta",
        type=ranged(float, ranges.WEIGHT),
        default=None,
        help="KL weight beta of the nu-ICNets, >= 0 (default: 1e-3)",
    )
    parser.add_argument(
        "--lam",
        type=ranged(float, ranges.WEIGHT),
        default=None,
        help="clustering-penalty weight lambda of the nu-ICNets, >= 0 (default: 0.1)",
    )
    parser.add_argument(
        "--early-stop",
        type=ranged(int, ranges.EPOCHS),
        default=10,
        help="epochs without a better validation loss before a stage stops, 1-10000 (default: %(default)s)",
    )
    parser.add_argument(
        "--lr-patience",
        type=ranged(int, ranges.PATIENCE),
        default=4,
        help="plateau epochs before the learning rate halves, 0-10000 (default: %(default)s)",
    )
    parser.add_argument(
        "--max-steps-per-epoch",
        type=ranged(int, ranges.STEPS),
        default=None,
        help="cap optimisation steps per epoch, 1-1000000 (default: every frame once per epoch)",
    )
    parser.add_argument("--reference", default=None, help="NH animal id to align to (default: the first NH animal)")
    parser.add_argument(
        "--seed",
        type=ranged(int, ranges.SEED),
        default=0,
        help="seed of initialisation, batch order and nu samples, 0-4294967295 (default: %(default)s)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="torch device; auto = cuda when there is one (default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=ranged(int, ranges.THREADS),
        default=None,
        help="torch CPU threads, 1-256 (default: torch's choice)",
    )
    parser.add_argument(
        "--bundle",
        default=None,
        help="also copy the trained nu-ICNet-6 to this checkpoint directory (default: no copy)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars (default: bars)")


def _train_config(args: argparse.Namespace, epochs: int, lr: float):
    from simulator.training.loop import TrainConfig
    from simulator.training.losses import DEFAULT_BETA, DEFAULT_LAMBDA

    return TrainConfig(
        lr=lr,
        batch_size=args.batch_size,
        max_epochs=epochs,
        early_stop=args.early_stop,
        lr_patience=args.lr_patience,
        beta=DEFAULT_BETA if args.beta is None else args.beta,
        lam=DEFAULT_LAMBDA if args.lam is None else args.lam,
        seed=args.seed,
        max_steps_per_epoch=args.max_steps_per_epoch,
    )


def _check(args: argparse.Namespace) -> tuple[str, ...]:
    """The stages of a --stages call; refuses options that this kind of call would ignore."""
    from simulator.training.stages import STAGES

    if args.recipe is not None:
        given = [f"--{o.replace('_', '-')}" for o in _STAGE_OPTIONS if getattr(args, o) not in (None, False)]
        if given:
            raise HearloopInputError(
                f"--recipe {args.recipe} sets {', '.join(given)} per step; drop them (or train without --recipe)"
            )
        return ()
    if args.epoch_cap is not None:
        raise HearloopInputError("--epoch-cap caps the steps of a --recipe; without one use --epochs")
    stages = tuple(s.strip() for s in (args.stages or _DEFAULT_STAGES).split(",") if s.strip())
    bad = [s for s in stages if s not in STAGES]
    if bad or not stages:
        raise HearloopInputError(f"--stages: unknown {bad or 'empty'}; choose from {','.join(STAGES)}")
    if "multibranch" in stages and args.encoder_from not in (None, "multibranch"):
        raise HearloopInputError("--encoder-from takes the encoder of an earlier call; this call trains multibranch")
    if "multibranch" not in stages and (args.encoder_epochs is not None or args.encoder_lr is not None):
        raise HearloopInputError("--encoder-epochs and --encoder-lr apply to the multibranch stage, not in --stages")
    return stages


def _print_results(results: dict) -> None:
    for stage, res in results.items():
        items = res.items() if isinstance(res, dict) else [(stage, res)]
        for name, r in items:
            print(
                f"{name:14s} best val CE {r.best_val:.4f} at epoch {r.best_epoch} of {r.epochs_run} "
                f"({r.stop_reason}; {r.wall_s:.0f} s)"
            )


def run(args: argparse.Namespace) -> int:
    stages = _check(args)
    import torch

    from simulator.device import resolve_device
    from simulator.model.checkpoint import load_model, save_model
    from simulator.training.stages import StageOptions, run_stages, stage_model_dir

    if args.threads:
        torch.set_num_threads(args.threads)
    device = str(resolve_device(args.device))
    t0 = time.perf_counter()
    if args.recipe is not None:
        from simulator.training.recipes import run_recipe

        results = run_recipe(
            args.cohort,
            args.out,
            args.recipe,
            config=_train_config(args, 1, 1e-3),
            preset=args.preset,
            device=device,
            reference=args.reference,
            epoch_cap=args.epoch_cap,
            progress=not args.quiet,
        )
    else:
        from simulator.training.cohort import prepare_cohort
        from simulator.training.recipes import describe_prepared

        epochs = 120 if args.epochs is None else args.epochs
        lr = 3e-3 if args.lr is None else args.lr
        options = StageOptions(
            preset=args.preset,
            train=_train_config(args, epochs, lr),
            encoder_train=_train_config(
                args,
                epochs if args.encoder_epochs is None else args.encoder_epochs,
                lr if args.encoder_lr is None else args.encoder_lr,
            ),
            freeze_encoder=not args.finetune_encoder,
            encoder_from=args.encoder_from or "multibranch",
            device=device,
            seed=args.seed,
            progress=not args.quiet,
        )
        prepared = prepare_cohort(args.cohort, args.reference, hop=args.hop)
        print(describe_prepared(prepared))
        results = run_stages(prepared, args.out, stages, options)
    _print_results(results)
    if args.bundle:
        model = load_model(stage_model_dir(args.out, "nuicnet6"))
        save_model(model, args.bundle, metadata=model.metadata)
        print(f"bundled nu-ICNet-6 -> {args.bundle}")
    print(f"training finished in {time.perf_counter() - t0:.0f} s")
    return 0
