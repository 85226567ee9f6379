"""Virtual-listener benchmark: every must-show number of issue 5 in one run, on the bundled model (or ``--model DIR``).

1. nu fitting on fresh unseen virtual-IC animals (same population/probe as training, new profiles, electrodes, sounds,
   noise; 2 NH + 4 HI as in the training cohort, recorded in a 2 h fitting session; :mod:`listeners.unseen`): BO
   evaluations to the 2% criterion (Sobol starts 4/8/16), the gradient fit beside it, and the held-out FEVE of the
   fitted nu vs the in-sample FEVE of the training animals (their learned nu), overall and per hearing status.
2. Pearson r between the neurometric threshold curves of listeners at the fitted nu and the generator's true hearing
   loss of the same animals, over animals x frequencies.
3. GP-PTA on a stratified cohort of virtual listeners: MAE vs neurometric truth, trials to sustained MAE <= 5 dB.
4. NH listeners (NH stratum and the NH training animals as listeners) within 10 dB HL of 0; PTA ranges of the strata
   (natural draw, and 2 listeners per class by stratified sampling);
   the largest PTA any nu of the unit cube gives (can the model have severe listeners at all?).

Run:  nice -n 15 .venv/bin/python benchmarks/bench_listeners.py [--quick] [--out DIR] [--model DIR]   (about 11 min)
Writes DIR/RESULTS.md, DIR/results.json and figures (default DIR runs/listeners-bench); the fresh animals are cached in
DIR/unseen-* (they depend on the training cohort's kwargs and the seed, not on the weights).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_listeners_report import write_markdown
from scipy import stats

import simulator
from listeners import (
    AUDIOGRAM_FREQS_HZ,
    PTA_FREQS_HZ,
    VirtualListener,
    animal_nus,
    nh_reference,
    prime_thresholds,
    sample_cohort,
)
from listeners.animal_fit import fit_animal
from listeners.cohort_audiometry import run_cohort_audiometry, summarise_audiometry
from listeners.fit_objective import FIT_WINDOW_HOURS
from listeners.fit_result import evaluations_to_criterion
from listeners.loss_surface import loss_surface
from listeners.nu_fitting import bo_fit
from listeners.plots import plot_audiogram_fan, plot_loss_surface
from listeners.population import STRATA, listener_stratum
from listeners.unseen import cohort_kwargs, generate_unseen_animals, reference_animal_params, true_loss_db_hl
from simulator.atomic_io import atomic_write_text
from simulator.data.alignment import apply_alignment, model_signature
from simulator.data.recordings import read_animal, read_cohort, write_cohort
from simulator.errors import HearloopInputError
from simulator.evaluation.evaluate import evaluate_model
from simulator.model.checkpoint import BUNDLED_MODEL_DIR
from simulator.virtual_ic import generate_cohort


def unseen_animals(model, n_nh: int, n_hi: int, seed: int, out: Path) -> list:
    """Fresh aligned animals, cached on disk (they depend on the cohort kwargs and seed, not on the weights)."""
    settings = {"session_hours": FIT_WINDOW_HOURS, "alignment": model_signature(model.metadata)}
    key = [cohort_kwargs(model), n_nh, n_hi, seed, settings]
    key = hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()[:10]
    path = out / f"unseen-{key}"
    if (path / "cohort.json").is_file():
        index = read_cohort(path)
        return [index.load(a) for a in index.animal_ids]
    animals = generate_unseen_animals(model, n_nh=n_nh, n_hi=n_hi, seed=seed)
    write_cohort(path, animals, {"generator": "listeners.unseen.generate_unseen_animals", "seed": seed})
    return animals


def alignment_accuracy(animal, model) -> float:
    """Fraction of the animal's channels mapped to the model channel of the same generator template unit."""
    ref = reference_animal_params(cohort_kwargs(model), model.metadata["reference_animal"])
    template = np.asarray(animal.ground_truth["electrodes"]["template_index"])
    perm = np.asarray(animal.ground_truth["alignment"]["permutation"])
    return float(np.mean(template[perm] == ref.template_index))


def in_sample_feve(model) -> dict[str, float]:
    """Median FEVE of the training animals (learned nu and time transfer) on their held-out test sounds (aligned as in
    training): over the whole session, and on the test sounds presented in the fitting window only.

    The training cohort is read from ``metadata["cohort"]["path"]`` when it is on disk, otherwise regenerated exactly
    from its recorded ``generate_cohort`` kwargs (the generator is seeded; the stored alignment permutations apply).
    """
    meta = model.metadata
    root = Path(meta["cohort"].get("path", ""))
    perms = meta.get("alignment", {})
    if all((root / f"{a['id']}.h5").is_file() for a in meta["animals"]):
        recordings = [read_animal(root / f"{a['id']}.h5") for a in meta["animals"]]
    else:
        print(f"training cohort not at {root!s}: regenerating it from its generate_cohort kwargs", flush=True)
        by_id = {r.animal_id: r for r in generate_cohort(progress=False, **cohort_kwargs(model))}
        recordings = [by_id[a["id"]] for a in meta["animals"]]
    animals = []
    for a, rec in zip(meta["animals"], recordings, strict=True):
        rec.sounds = [s for s in rec.sounds if s.split == "test"]
        animals.append(apply_alignment(rec, perms[a["id"]]) if a["id"] in perms else rec)
    scores = evaluate_model(model, "in-sample", animals)
    hours = {(r.animal_id, s.name): s.hours for r in animals for s in r.sounds}

    def median_of_medians(max_hours: float = np.inf, status: str | None = None) -> float:
        """Median over animals (of ``status``) of the per-animal median over test sounds (as for unseen ones)."""
        per_animal = [
            np.nanmedian(f)
            for a in meta["animals"]
            if status in (None, a["status"])
            and (f := [s.feve for s in scores if s.animal_id == a["id"] and hours[(a["id"], s.sound)] <= max_hours])
        ]
        return float(np.nanmedian(per_animal))

    return {
        "all": median_of_medians(),
        "window": median_of_medians(FIT_WINDOW_HOURS),
        "NH": median_of_medians(status="NH"),
        "HI": median_of_medians(status="HI"),
    }


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 animals, Sobol 8 only, 8 listeners (a few minutes)")
    ap.add_argument("--out", default="runs/listeners-bench", help="output directory (default runs/listeners-bench)")
    ap.add_argument("--n-nh", type=int, default=2, help="fresh NH animals (default 2)")
    ap.add_argument("--n-hi", type=int, default=4, help="fresh HI animals (default 4: the training cohort's 1:2 NH:HI)")
    ap.add_argument("--seed", type=int, default=1000, help="seed of the fresh animals (must differ from the bundle's)")
    ap.add_argument("--sobol", type=int, nargs="+", default=[4, 8, 16], help="Sobol start sizes (default 4 8 16)")
    ap.add_argument("--max-evals", type=int, default=30, help="evaluation budget of every fit (default 30)")
    ap.add_argument("--n-listeners", type=int, default=24, help="listeners drawn for the strata (default 24)")
    ap.add_argument("--per-stratum", type=int, default=3, help="GP-PTA listeners per stratum present (default 3)")
    ap.add_argument("--trials", type=int, default=40, help="GP-PTA trial budget (default 40)")
    ap.add_argument("--model", default=None, help="nu-ICNet checkpoint directory (default: the bundled model)")
    args = ap.parse_args()
    if args.quick:
        args.n_nh, args.n_hi, args.sobol, args.n_listeners, args.per_stratum = 1, 2, [8], 16, 2
    return args


class ListenerBench:
    """The benchmark's sections in order; each fills ``self.res`` and records its wall time in ``self.timings``."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.out = args, Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.model = simulator.load_model(args.model) if args.model else simulator.load_model()
        self.meta = self.model.metadata
        self.train_seed = int(cohort_kwargs(self.model)["seed"])
        if args.seed == self.train_seed:
            raise SystemExit(f"--seed {args.seed} is the model's training-cohort seed: choose another")
        self.res: dict = {"model": self.model_record(), "args": vars(args)}
        self.timings: dict[str, float] = {}
        self.basis = animal_nus(self.model)
        self.ref = nh_reference(self.model)
        self.freqs = np.asarray(AUDIOGRAM_FREQS_HZ, dtype=np.float64)

    def timed(self, name: str, section) -> Any:
        t0 = time.perf_counter()
        value = section()
        self.timings[name] = time.perf_counter() - t0
        return value

    def model_record(self) -> dict:
        args = self.args
        model_dir = Path(args.model) if args.model else BUNDLED_MODEL_DIR
        cfg = model_dir / "config.json"
        return {
            "path": f"bundled {model_dir.name}" if args.model is None else str(model_dir),
            "provisional": bool(self.meta.get("provisional", False)),
            "config_sha256": hashlib.sha256(cfg.read_bytes()).hexdigest()[:16],
            "config_mtime": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(cfg.stat().st_mtime)),
            "training_cohort_seed": self.train_seed,
            "fresh_seed": args.seed,
        }

    def fit_all(self, animals: list) -> tuple[list, list[dict]]:
        """1. nu fitting of every fresh animal: BO evaluations to 2 % per Sobol size, gradient fit, alignment."""
        args, fits, rows = self.args, [], []
        for a in animals:
            fit = fit_animal(self.model, a, n_init=8 if 8 in args.sobol else args.sobol[0], max_evals=args.max_evals,
                             seed=0)  # fmt: skip
            evals = {}
            for n_init in args.sobol:  # evaluations to the 2% criterion, counting Sobol points one by one
                r = fit.bo if n_init == fit.bo.info["n_init"] else None
                if r is None:
                    r = bo_fit(fit.objective, n_init=n_init, max_evals=args.max_evals, target=fit.target.loss, seed=0)
                evals[n_init] = evaluations_to_criterion(r.losses, fit.target.loss)
            fits.append(fit)
            rows.append(
                {
                    **fit.row(),
                    **{f"bo_evals_sobol{k}": v for k, v in evals.items()},
                    "grad_evals_to_2pct": evaluations_to_criterion(fit.gradient.losses, fit.target.loss),
                    "target_evals": fit.target.info["target_evaluations"],
                    "nh_ref_within_2pct": bool(fit.reference_loss - fit.target.loss <= 0.02 * abs(fit.target.loss)),
                    "alignment_correct": alignment_accuracy(fit.animal, self.model),
                }
            )
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
        return fits, rows

    def fitting_summary(self, fits: list, rows: list[dict]) -> None:
        t0 = time.perf_counter()
        try:
            feve_in = in_sample_feve(self.model)
        except (OSError, KeyError, ValueError) as err:  # the training cohort is not on disk
            print(f"in-sample FEVE unavailable: {err}")
            feve_in = dict.fromkeys(("all", "window", "NH", "HI"), float("nan"))
        self.timings["in_sample_feve_s"] = time.perf_counter() - t0
        self.res["fitting"] = {
            "animals": rows,
            "bo_median_evals": {k: float(np.median([r[f"bo_evals_sobol{k}"] for r in rows])) for k in self.args.sobol},
            "gradient_median_evals": float(np.median([r["grad_evals_to_2pct"] for r in rows])),
            "feve_unseen_median_bo": float(np.median([f.feve["bo"] for f in fits])),
            "feve_unseen_median_gradient": float(np.median([f.feve["gradient"] for f in fits])),
            "feve_unseen_median_target": float(np.median([f.feve["target"] for f in fits])),
            "feve_in_sample_median": feve_in["all"],
            "feve_in_sample_window_median": feve_in["window"],
            "feve_in_sample_median_by_status": {k: feve_in[k] for k in ("NH", "HI")},
            "feve_unseen_median_bo_by_status": {
                st: float(np.median([f.feve["bo"] for f in fits if f.status == st])) for st in ("NH", "HI")
            },
            "fresh_session_hours": FIT_WINDOW_HOURS,
        }

    def loss_surface_figure(self, fit) -> None:
        """Fig. 4 of the paper for the most impaired animal."""
        surface = loss_surface(fit.objective, self.basis, np.vstack([fit.bo.points, fit.target.nu[None]]), n_grid=7)
        plot_loss_surface(
            surface,
            self.out / "loss_surface.png",
            points={"BO evaluations": fit.bo.points, "gradient path": fit.gradient.points, "target nu": fit.target.nu},
            animals={a["id"]: nu for a, nu in zip(self.meta["animals"], self.basis, strict=True)},
            title=f"{fit.animal_id}: loss over the principal components of nu",
        )

    def thresholds(self, fits: list, animals: list) -> None:
        """2. neurometric thresholds of listeners at the fitted nu against the generator's true loss."""
        freqs = self.freqs
        fitted = [VirtualListener(f"fit-{f.animal_id}", f.bo.nu, self.model, reference=self.ref) for f in fits]
        prime_thresholds([*fitted, self.ref], freqs)
        neuro = np.stack([lis.thresholds(freqs) for lis in fitted])
        truth = np.stack([true_loss_db_hl(a, freqs, hours=1.0) for a in animals])
        self.res["threshold_vs_true_loss"] = {
            "pearson_r": float(stats.pearsonr(neuro.ravel(), truth.ravel()).statistic),
            "neurometric_db_hl": neuro.round(1).tolist(),
            "true_loss_db_hl": truth.round(1).tolist(),
        }

    def listener(self, name: str, nu) -> VirtualListener:
        return VirtualListener(name, nu, self.model, reference=self.ref)

    def strata(self) -> list:
        """3./4. strata of a natural draw, NH listeners, a stratified draw; returns the GP-PTA cohort."""
        freqs, meta, args = self.freqs, self.meta, self.args
        cohort = sample_cohort(args.n_listeners, seed=0, model=self.model)  # the natural population (temperature 1)
        prime_thresholds([*cohort, self.ref], freqs)
        th = np.stack([lis.thresholds(freqs) for lis in cohort])
        ptas = np.array([lis.pta() for lis in cohort])
        classes = [listener_stratum(lis) for lis in cohort]
        plot_audiogram_fan(freqs, th, classes, self.out / "audiogram_fan.png", title=f"{len(cohort)} virtual listeners")
        nh_rows = th[[c == "NH" for c in classes]]
        nh_animals = [k for k, a in enumerate(meta["animals"]) if a["status"] == "NH"]
        nh_listeners = [self.listener(f"animal-{meta['animals'][k]['id']}", self.basis[k]) for k in nh_animals]
        prime_thresholds([*nh_listeners, self.ref], freqs)
        nh_anim_th = np.stack([lis.thresholds(freqs) for lis in nh_listeners])
        self.res["strata"] = {
            s: {
                "n": int(sum(c == s for c in classes)),
                "pta_range": [float(ptas[[c == s for c in classes]].min(initial=np.inf)),
                              float(ptas[[c == s for c in classes]].max(initial=-np.inf))],
                "expected_range": list(STRATA[s]),
            }
            for s in STRATA
        }  # fmt: skip
        self.res["nh"] = {
            "nh_stratum_max_abs_db_hl": float(np.abs(nh_rows).max()) if len(nh_rows) else float("nan"),
            "nh_animals_max_abs_db_hl": float(np.abs(nh_anim_th).max()),
            "nh_animals_thresholds_db_hl": nh_anim_th.round(1).tolist(),
        }
        self.stratified()
        # GP-PTA listeners: up to --per-stratum of every stratum present, topped up to 4 x per-stratum in draw order
        pick = [i for s in STRATA for i in [j for j, c in enumerate(classes) if c == s][: args.per_stratum]]
        pick += [i for i in range(len(cohort)) if i not in pick][: max(0, 4 * args.per_stratum - len(pick))]
        return [cohort[i] for i in sorted(pick)]

    def stratified(self) -> None:
        """Every class on demand: 2 listeners per stratum by stratified sampling (the density widens if it must)."""
        with warnings.catch_warnings(record=True) as widened:
            warnings.simplefilter("always")
            try:
                by_class = sample_cohort(2 * len(STRATA), seed=0, model=self.model, strata=dict.fromkeys(STRATA, 2))
            except HearloopInputError as err:
                by_class, self.res["stratified_error"] = [], str(err)
        prime_thresholds([*by_class, self.ref], self.freqs)
        self.res["stratified"] = {
            "warnings": [str(w.message) for w in widened],
            "per_class": {s: [round(lis.pta(), 1) for lis in by_class if listener_stratum(lis) == s] for s in STRATA},
        }

    def reach(self) -> None:
        """How impaired can a listener of this model be? PTA over the corners of the nu cube and uniform draws."""
        d = self.basis.shape[1]
        corners = np.array(list(itertools.product([0.0, 1.0], repeat=d)))
        uniform = np.random.default_rng(0).uniform(0.0, 1.0, (64, d))
        probes = [self.listener(f"p{i}", v) for i, v in enumerate(np.vstack([corners, uniform]))]
        animal_listeners = [
            self.listener(f"animal-{a['id']}", self.basis[k]) for k, a in enumerate(self.meta["animals"])
        ]
        prime_thresholds([*probes, *animal_listeners, self.ref], PTA_FREQS_HZ)
        probe_pta = np.array([lis.pta() for lis in probes])
        self.res["nu_space_reach"] = {
            "corners_max_pta_db_hl": float(probe_pta[: len(corners)].max()),
            "uniform_max_pta_db_hl": float(probe_pta[len(corners) :].max()),
            "n_corners": len(corners),
            "n_uniform": len(uniform),
            "training_animals_max_pta_db_hl": float(max(lis.pta() for lis in animal_listeners)),
        }

    def gppta(self, cohort: list) -> None:
        aud = run_cohort_audiometry(cohort, max_trials=self.args.trials, seed=0)
        self.res["gppta"] = summarise_audiometry(aud)
        self.res["gppta"]["per_listener"] = [
            {"id": a.listener_id, "final_mae": round(a.final_mae, 2), "trials_to_5db": a.trials_to_target} for a in aud
        ]


def main() -> None:
    args = parse_args()
    torch.set_num_threads(2)
    t_all = time.perf_counter()
    bench = ListenerBench(args)
    animals = bench.timed("unseen_animals_s", lambda: unseen_animals(bench.model, args.n_nh, args.n_hi, args.seed,
                                                                      bench.out))  # fmt: skip
    fits, rows = bench.timed("fitting_s", lambda: bench.fit_all(animals))
    bench.fitting_summary(fits, rows)
    bench.timed("loss_surface_s", lambda: bench.loss_surface_figure(fits[-1]))
    bench.timed("thresholds_s", lambda: bench.thresholds(fits, animals))
    cohort = bench.timed("strata_s", bench.strata)
    bench.timed("nu_space_reach_s", bench.reach)
    bench.timed("gppta_s", lambda: bench.gppta(cohort))
    bench.timings["total_s"] = time.perf_counter() - t_all
    bench.res["timings"] = {k: round(v, 1) for k, v in bench.timings.items()}
    atomic_write_text(bench.out / "results.json", json.dumps(bench.res, indent=2, default=float))
    write_markdown(bench.res, args, bench.out)
    print((bench.out / "RESULTS.md").read_text())


if __name__ == "__main__":
    main()
