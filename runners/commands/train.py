"""``hearloop train``: train nu-ICNet, ABRNet and the ICNet baselines on a recorded (or synthetic) cohort.

Stages ([Pellatt2025]_, "Training"): a multi-branch ICNet on the NH animals, whose encoder initialises nu-ICNet-6,
nu-ICNet-3, ABRNet and the single-branch ICNets (see :mod:`simulator.training.stages`). Every stage checkpoints after
each epoch and resumes when run again with the same ``--out``.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import argparse
import time

from runners.cli_support import add_command
from simulator.errors import HearloopInputError

COMMAND = """
train nu-ICNet (D=6, 3), ABRNet and ICNet baselines on a cohort (resumable)

Align every animal to an NH reference, split sounds 90:10, then train: multibranch (multi-branch ICNet on NH
animals, full backprop) -> nuicnet6, nuicnet3, abrnet, icnet (single-branch, one per animal) from its encoder.
Adam, LR halved on a 4-epoch plateau (ReduceLROnPlateau), early stop after 10 epochs without improvement, at
most --epochs. By default the NH encoder is frozen after the first stage and its latents cached (several times
cheaper per epoch); --finetune-encoder trains it in every stage."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "train", run, COMMAND)
    parser.add_argument("--cohort", required=True, help="cohort directory (from `hearloop synth` or converted data)")
    parser.add_argument("--out", default="runs/train", help="run directory for checkpoints (default runs/train)")
    parser.add_argument("--stages", default="multibranch,nuicnet6,nuicnet3,abrnet,icnet",
                        help="comma-separated stages to run (default all)")  # fmt: skip
    parser.add_argument("--preset", default="small", choices=("small", "tiny", "paper"), help="model size preset")
    parser.add_argument("--epochs", type=int, default=120, help="max epochs of the conditioned stages (default 120)")
    parser.add_argument("--encoder-epochs", type=int, default=None, help="max epochs of the multibranch stage")
    parser.add_argument("--lr", type=float, default=3e-3, help="initial Adam learning rate (default 3e-3)")
    parser.add_argument("--encoder-lr", type=float, default=None, help="learning rate of the multibranch stage")
    parser.add_argument("--batch-size", type=int, default=8, help="frames per step (default 8)")
    parser.add_argument(
        "--beta", type=float, default=None, help="KL weight beta (default simulator.training.losses 1e-3)"
    )
    parser.add_argument("--lam", type=float, default=None, help="clustering-penalty weight (default 0.1)")
    parser.add_argument("--early-stop", type=int, default=10, help="epochs without improvement before stopping")
    parser.add_argument("--lr-patience", type=int, default=4, help="plateau epochs before the LR halves")
    parser.add_argument("--max-steps-per-epoch", type=int, default=None, help="cap steps per epoch")
    parser.add_argument("--hop", type=int, default=None, help="frame hop in samples (default 8192: no overlap)")
    parser.add_argument("--finetune-encoder", action="store_true", help="train the encoder in every stage")
    parser.add_argument("--encoder-from", default="multibranch",
                        choices=("multibranch", "nuicnet6", "nuicnet3", "abrnet"),
                        help="stage (trained in an earlier call with the same --out) whose encoder initialises the "
                        "stages of this call when multibranch is not among them (default multibranch)")  # fmt: skip
    parser.add_argument("--reference", default=None, help="NH animal id to align to (default the first NH animal)")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation, batch order and nu samples")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="torch device")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default torch's choice)")
    parser.add_argument("--bundle", default=None, help="also copy the nu-ICNet-6 model to this checkpoint directory")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _train_config(args: argparse.Namespace, epochs: int, lr: float):
    from simulator.training.loop import TrainConfig
    from simulator.training.losses import DEFAULT_BETA, DEFAULT_LAMBDA

    return TrainConfig(
        lr=lr, batch_size=args.batch_size, max_epochs=epochs, early_stop=args.early_stop,
        lr_patience=args.lr_patience, beta=DEFAULT_BETA if args.beta is None else args.beta,
        lam=DEFAULT_LAMBDA if args.lam is None else args.lam, seed=args.seed,
        max_steps_per_epoch=args.max_steps_per_epoch,
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    import torch

    from simulator.device import resolve_device
    from simulator.model.checkpoint import load_model, save_model
    from simulator.training.cohort import prepare_cohort
    from simulator.training.stages import STAGES, StageOptions, run_stages, stage_model_dir

    bad = [s for s in stages if s not in STAGES]
    if bad or not stages:
        raise HearloopInputError(f"--stages: unknown {bad or 'empty'}; choose from {','.join(STAGES)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    options = StageOptions(
        preset=args.preset,
        train=_train_config(args, args.epochs, args.lr),
        encoder_train=_train_config(args, args.encoder_epochs or args.epochs, args.encoder_lr or args.lr),
        freeze_encoder=not args.finetune_encoder,
        encoder_from=args.encoder_from,
        device=str(device),
        seed=args.seed,
        progress=not args.quiet,
    )
    t0 = time.perf_counter()
    prepared = prepare_cohort(args.cohort, args.reference, hop=args.hop)
    print(f"cohort {args.cohort}: {len(prepared.animals)} animals aligned to {prepared.metadata['reference_animal']}; "
          f"{len(prepared.split.train)} train / {len(prepared.split.validation)} validation / "
          f"{len(prepared.split.test)} test sounds")  # fmt: skip
    results = run_stages(prepared, args.out, stages, options)
    for stage, res in results.items():
        items = res.items() if isinstance(res, dict) else [(stage, res)]
        for name, r in items:
            print(f"{name:14s} best val CE {r.best_val:.4f} at epoch {r.best_epoch} of {r.epochs_run} "
                  f"({r.stop_reason}; {r.wall_s:.0f} s)")  # fmt: skip
    if args.bundle:
        model = load_model(stage_model_dir(args.out, "nuicnet6"))
        save_model(model, args.bundle, metadata=model.metadata)
        print(f"bundled nu-ICNet-6 -> {args.bundle}")
    print(f"training finished in {time.perf_counter() - t0:.0f} s")
    return 0
