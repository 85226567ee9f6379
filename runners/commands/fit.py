"""``hearloop fit``: fit nu to new animals with the bundled nu-ICNet frozen ([Pellatt2025]_, "Fitting nu").

Animals come from a recording file (HDF5, ``simulator.data.recordings``; aligned to the model's channel order with a
reference recording, or stored alignment) or are generated fresh by the virtual-IC generator (never seen in training).
For each animal it reports the evaluations Bayesian optimisation and the gradient fit needed to come within 2% of the
target loss (the loss at the animal's best nu found by long gradient fits), their losses, and the FEVE of the fitted nu
on held-out two-trial test sounds; it writes results.json and the Fig. 4-style loss-surface plot.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from runners import cli_ranges as ranges
from runners.cli_support import add_command, ranged
from simulator.atomic_io import atomic_write_text
from simulator.errors import HearloopInputError

COMMAND = """
fit nu to new animals (recording file or fresh generator animals) with the model frozen

Fit the conditioning parameters nu of a new animal with the nu-ICNet weights fixed, on 15 s of every training sound
from the first 2 hours: Bayesian optimisation (Sobol start, GP + LogEI, stop within 2% of the target loss) and a
gradient fit; report evaluations, losses, held-out FEVE; plot the loss surface."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "fit", run, COMMAND)
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--animal", help="animal recording file (HDF5) to fit (this or --fresh is required)")
    src.add_argument(
        "--fresh",
        type=ranged(int, ranges.FRESH_ANIMALS),
        metavar="N",
        help="generate N fresh unseen animals, 1 NH then HI, 1-100 (this or --animal is required)",
    )
    parser.add_argument(
        "--reference",
        default=None,
        help="--animal: a recording in the model's channel order sharing sounds with it, to align its "
        "channels (default: the alignment the model stores for that animal)",
    )
    parser.add_argument(
        "--aligned", action="store_true", help="--animal is already in the model's channel order (default: align it)"
    )
    parser.add_argument(
        "--seed",
        type=ranged(int, ranges.SEED),
        default=1000,
        help="seed of the fresh animals and of the fits, 0-4294967295 (default: %(default)s)",
    )
    parser.add_argument(
        "--n-init",
        type=ranged(int, ranges.SOBOL_STARTS),
        default=8,
        help="Sobol start points of the Bayesian optimisation, 4, 8 or 16 (default: %(default)s)",
    )
    parser.add_argument(
        "--max-evals",
        type=ranged(int, ranges.EVALUATIONS),
        default=40,
        help="loss evaluations per fit, 1-1000 (default: %(default)s)",
    )
    parser.add_argument(
        "--grad-method",
        default="lbfgs",
        choices=("lbfgs", "adam"),
        help="optimiser of the gradient fit (default: %(default)s)",
    )
    parser.add_argument(
        "--seconds-per-sound",
        type=ranged(float, ranges.AUDIO_SECONDS),
        default=15.0,
        help="fitting data per training sound, s, in (0, 86400] (default: %(default)s)",
    )
    parser.add_argument(
        "--max-hours",
        type=ranged(float, ranges.HOURS),
        default=2.0,
        help="fit on sounds presented in the first this-many recording hours, h, in (0, 1000] (default: %(default)s)",
    )
    parser.add_argument(
        "--grid",
        type=ranged(int, ranges.GRID_POINTS),
        default=9,
        help="loss-surface grid points per axis, 0-100; 0 = no plot, 1 is refused (default: %(default)s)",
    )
    parser.add_argument("--model", default=None, help="checkpoint directory (default: the bundled model)")
    parser.add_argument("--out", default="runs/fit", help="output directory (default: %(default)s)")


def _file_animal(args: argparse.Namespace, model):
    from simulator.data.alignment import align_channels, apply_alignment, model_signature
    from simulator.data.dataset import subset_recording
    from simulator.data.recordings import read_animal

    animal = read_animal(args.animal)
    subset = subset_recording(args.animal, args.seconds_per_sound, args.max_hours)
    stored = (model.metadata or {}).get("alignment", {}).get(animal.animal_id)
    if args.reference:
        perm = align_channels(animal, read_animal(args.reference), signature=model_signature(model.metadata))
    elif args.aligned:
        return animal, subset
    elif stored is not None:
        perm = stored
    else:
        raise HearloopInputError(
            f"{args.animal}: give --reference (a recording in the model's channel order sharing sounds with it) or "
            "--aligned; the model stores no alignment for this animal"
        )
    return apply_alignment(animal, perm), apply_alignment(subset, perm)


def run(args: argparse.Namespace) -> int:
    if args.fresh is not None and args.fresh < 1:
        raise HearloopInputError(f"--fresh must be >= 1, got {args.fresh}")
    if args.fresh is not None and (args.reference or args.aligned):
        raise HearloopInputError(
            "--reference and --aligned align a recorded --animal; fresh animals are generated in "
            "the model's channel order"
        )
    if args.reference and args.aligned:
        raise HearloopInputError("give --reference (align the animal to it) or --aligned (already aligned), not both")
    if args.grid == 1:
        raise HearloopInputError("--grid 1 is one point, not a surface: give 2-100 points per axis, or 0 for no plot")
    if args.max_evals < args.n_init:
        raise HearloopInputError(f"--max-evals ({args.max_evals}) must be >= --n-init ({args.n_init})")
    import numpy as np

    import simulator
    from listeners.animal_fit import fit_animal
    from listeners.fit_objective import recording_subset
    from listeners.reference import animal_nus

    model = simulator.load_model(args.model) if args.model else simulator.load_model()
    if args.animal:
        pairs = [_file_animal(args, model)]
    else:
        from listeners.unseen import generate_unseen_animals

        n_hi = args.fresh - 1
        animals = generate_unseen_animals(model, n_nh=1, n_hi=n_hi, seed=args.seed, progress=True)
        pairs = [(a, recording_subset(a, args.seconds_per_sound, args.max_hours)) for a in animals]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fits = []
    head = f"{'animal':8s} {'status':6s} {'BO evals':>8s} {'grad evals':>10s} {'target':>8s} {'BO loss':>8s} "
    print(head + f"{'grad loss':>9s} {'FEVE BO':>8s} {'FEVE grad':>9s}")
    for animal, subset in pairs:
        fit = fit_animal(
            model,
            animal,
            n_init=args.n_init,
            max_evals=args.max_evals,
            seed=args.seed,
            subset=subset,
            grad_method=args.grad_method,
            progress=True,
        )
        fits.append(fit)
        bo_e = f"{fit.bo.evaluations}{'' if fit.bo.reached else '+'}"
        gr_e = f"{fit.gradient.evaluations}{'' if fit.gradient.reached else '+'}"
        print(
            f"{animal.animal_id:8s} {animal.hearing_status:6s} {bo_e:>8s} {gr_e:>10s} {fit.target.loss:8.4f} "
            f"{fit.bo.loss:8.4f} {fit.gradient.loss:9.4f} {fit.feve['bo']:8.3f} {fit.feve['gradient']:9.3f}"
        )
    print("('+': the 2% criterion was not reached within --max-evals)")
    results = [{**f.row(), "nu_bo": f.bo.nu.tolist(), "nu_gradient": f.gradient.nu.tolist()} for f in fits]
    atomic_write_text(out / "results.json", json.dumps(results, indent=2, default=float))
    print(f"results: {out / 'results.json'}")
    if args.grid > 0:
        from listeners.loss_surface import loss_surface
        from listeners.plots import plot_loss_surface

        fit = fits[0]
        basis = animal_nus(model)
        pts = np.vstack([fit.bo.points, fit.gradient.points, fit.target.nu[None]])
        surface = loss_surface(fit.objective, basis, pts, n_grid=args.grid, progress=True)
        ids = [a["id"] for a in (model.metadata or {}).get("animals", [])] or [str(k) for k in range(len(basis))]
        path = plot_loss_surface(
            surface,
            out / f"loss_surface_{fit.animal_id}.png",
            points={
                "BO evaluations": fit.bo.points,
                "gradient path": fit.gradient.points,
                "BO best": fit.bo.nu,
                "target (best) nu": fit.target.nu,
            },
            animals=dict(zip(ids, basis, strict=False)),
            title=f"{fit.animal_id}: loss over the principal components of nu",
        )
        print(f"loss surface: {path}")
    return 0
