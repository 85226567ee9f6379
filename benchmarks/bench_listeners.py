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

import numpy as np
import torch
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
from listeners.population import NH_LIMIT_DB_HL, STRATA, listener_stratum
from listeners.unseen import cohort_kwargs, generate_unseen_animals, reference_animal_params, true_loss_db_hl
from simulator.data.alignment import apply_alignment, model_signature
from simulator.data.recordings import read_animal, read_cohort, write_cohort
from simulator.errors import HearloopInputError
from simulator.evaluation.evaluate import evaluate_model
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


def main() -> None:
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
    torch.set_num_threads(2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    model = simulator.load_model(args.model) if args.model else simulator.load_model()
    meta = model.metadata
    train_seed = int(cohort_kwargs(model)["seed"])
    if args.seed == train_seed:
        raise SystemExit(f"--seed {args.seed} is the model's training-cohort seed: choose another")
    model_dir = Path(args.model) if args.model else Path(simulator.__file__).parent / "assets" / "nuicnet-small"
    cfg = model_dir / "config.json"
    res: dict = {
        "model": {
            "path": "bundled nuicnet-small" if args.model is None else str(model_dir),
            "provisional": bool(meta.get("provisional", False)),
            "config_sha256": hashlib.sha256(cfg.read_bytes()).hexdigest()[:16],
            "config_mtime": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(cfg.stat().st_mtime)),
            "training_cohort_seed": train_seed,
            "fresh_seed": args.seed,
        },
        "args": vars(args),
    }
    timings = {}

    # ------------------------------------------------------------------ 1. fitting unseen animals
    t0 = time.perf_counter()
    animals = unseen_animals(model, args.n_nh, args.n_hi, args.seed, out)
    timings["unseen_animals_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fits, rows = [], []
    for a in animals:
        fit = fit_animal(model, a, n_init=8 if 8 in args.sobol else args.sobol[0], max_evals=args.max_evals, seed=0)
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
                "alignment_correct": alignment_accuracy(fit.animal, model),
            }
        )
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    timings["fitting_s"] = time.perf_counter() - t0
    bo_med = {k: float(np.median([r[f"bo_evals_sobol{k}"] for r in rows])) for k in args.sobol}
    grad_med = float(np.median([r["grad_evals_to_2pct"] for r in rows]))
    feve_unseen = float(np.median([f.feve["bo"] for f in fits]))
    t0 = time.perf_counter()
    try:
        feve_in = in_sample_feve(model)
    except (OSError, KeyError, ValueError) as err:  # the training cohort is not on disk
        print(f"in-sample FEVE unavailable: {err}")
        feve_in = dict.fromkeys(("all", "window", "NH", "HI"), float("nan"))
    timings["in_sample_feve_s"] = time.perf_counter() - t0
    res["fitting"] = {
        "animals": rows,
        "bo_median_evals": bo_med,
        "gradient_median_evals": grad_med,
        "feve_unseen_median_bo": feve_unseen,
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
    # Fig. 4 for the most impaired animal
    t0 = time.perf_counter()
    fit = fits[-1]
    basis = animal_nus(model)
    surface = loss_surface(fit.objective, basis, np.vstack([fit.bo.points, fit.target.nu[None]]), n_grid=7)
    plot_loss_surface(
        surface,
        out / "loss_surface.png",
        points={"BO evaluations": fit.bo.points, "gradient path": fit.gradient.points, "target nu": fit.target.nu},
        animals={a["id"]: nu for a, nu in zip(meta["animals"], basis, strict=True)},
        title=f"{fit.animal_id}: loss over the principal components of nu",
    )
    timings["loss_surface_s"] = time.perf_counter() - t0

    # ------------------------------------------------------------------ 2. thresholds vs true loss
    t0 = time.perf_counter()
    ref = nh_reference(model)
    freqs = np.asarray(AUDIOGRAM_FREQS_HZ, dtype=np.float64)
    fitted = [VirtualListener(f"fit-{f.animal_id}", f.bo.nu, model, reference=ref) for f in fits]
    prime_thresholds([*fitted, ref], freqs)
    neuro = np.stack([lis.thresholds(freqs) for lis in fitted])
    truth = np.stack([true_loss_db_hl(a, freqs, hours=1.0) for a in animals])
    r = float(stats.pearsonr(neuro.ravel(), truth.ravel()).statistic)
    res["threshold_vs_true_loss"] = {
        "pearson_r": r,
        "neurometric_db_hl": neuro.round(1).tolist(),
        "true_loss_db_hl": truth.round(1).tolist(),
    }
    timings["thresholds_s"] = time.perf_counter() - t0

    # ------------------------------------------------------------------ 3./4. strata, NH, GP-PTA
    t0 = time.perf_counter()
    cohort = sample_cohort(args.n_listeners, seed=0, model=model)  # the natural population (temperature 1)
    prime_thresholds([*cohort, ref], freqs)
    th = np.stack([lis.thresholds(freqs) for lis in cohort])
    ptas = np.array([lis.pta() for lis in cohort])
    classes = [listener_stratum(lis) for lis in cohort]
    plot_audiogram_fan(freqs, th, classes, out / "audiogram_fan.png", title=f"{len(cohort)} virtual listeners")
    nh_rows = th[[c == "NH" for c in classes]]
    nh_animals = [k for k, a in enumerate(meta["animals"]) if a["status"] == "NH"]
    nh_listeners = [
        VirtualListener(f"animal-{meta['animals'][k]['id']}", basis[k], model, reference=ref) for k in nh_animals
    ]
    prime_thresholds([*nh_listeners, ref], freqs)
    nh_anim_th = np.stack([lis.thresholds(freqs) for lis in nh_listeners])
    res["strata"] = {
        s: {
            "n": int(sum(c == s for c in classes)),
            "pta_range": [float(ptas[[c == s for c in classes]].min(initial=np.inf)),
                          float(ptas[[c == s for c in classes]].max(initial=-np.inf))],
            "expected_range": list(STRATA[s]),
        }
        for s in STRATA
    }  # fmt: skip
    res["nh"] = {
        "nh_stratum_max_abs_db_hl": float(np.abs(nh_rows).max()) if len(nh_rows) else float("nan"),
        "nh_animals_max_abs_db_hl": float(np.abs(nh_anim_th).max()),
        "nh_animals_thresholds_db_hl": nh_anim_th.round(1).tolist(),
    }
    # every class on demand: 2 listeners per stratum by stratified sampling (the density widens if it must)
    with warnings.catch_warnings(record=True) as widened:
        warnings.simplefilter("always")
        try:
            by_class = sample_cohort(2 * len(STRATA), seed=0, model=model, strata=dict.fromkeys(STRATA, 2))
        except HearloopInputError as err:
            by_class, res["stratified_error"] = [], str(err)
    prime_thresholds([*by_class, ref], freqs)
    res["stratified"] = {
        "warnings": [str(w.message) for w in widened],
        "per_class": {s: [round(lis.pta(), 1) for lis in by_class if listener_stratum(lis) == s] for s in STRATA},
    }
    # GP-PTA listeners: up to --per-stratum of every stratum present, topped up to 4 x per-stratum in draw order
    pick = [i for s in STRATA for i in [j for j, c in enumerate(classes) if c == s][: args.per_stratum]]
    pick += [i for i in range(len(cohort)) if i not in pick][: max(0, 4 * args.per_stratum - len(pick))]
    cohort = [cohort[i] for i in sorted(pick)]
    timings["strata_s"] = time.perf_counter() - t0
    # how impaired can a listener of this model be at all? PTA over the corners of the nu cube and uniform draws
    t0 = time.perf_counter()
    corners = np.array(list(itertools.product([0.0, 1.0], repeat=basis.shape[1])))
    uniform = np.random.default_rng(0).uniform(0.0, 1.0, (64, basis.shape[1]))
    probes = [VirtualListener(f"p{i}", v, model, reference=ref) for i, v in enumerate(np.vstack([corners, uniform]))]
    animal_listeners = [
        VirtualListener(f"animal-{a['id']}", basis[k], model, reference=ref) for k, a in enumerate(meta["animals"])
    ]
    prime_thresholds([*probes, *animal_listeners, ref], PTA_FREQS_HZ)
    probe_pta = np.array([lis.pta() for lis in probes])
    res["nu_space_reach"] = {
        "corners_max_pta_db_hl": float(probe_pta[: len(corners)].max()),
        "uniform_max_pta_db_hl": float(probe_pta[len(corners) :].max()),
        "n_corners": len(corners),
        "n_uniform": len(uniform),
        "training_animals_max_pta_db_hl": float(max(lis.pta() for lis in animal_listeners)),
    }
    timings["nu_space_reach_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    aud = run_cohort_audiometry(cohort, max_trials=args.trials, seed=0)
    res["gppta"] = summarise_audiometry(aud)
    res["gppta"]["per_listener"] = [
        {"id": a.listener_id, "final_mae": round(a.final_mae, 2), "trials_to_5db": a.trials_to_target} for a in aud
    ]
    timings["gppta_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_all
    res["timings"] = {k: round(v, 1) for k, v in timings.items()}
    (out / "results.json").write_text(json.dumps(res, indent=2, default=float))
    write_markdown(res, args, out)
    print((out / "RESULTS.md").read_text())


def write_markdown(res: dict, args: argparse.Namespace, out: Path) -> None:
    f, g, s, nh, reach = res["fitting"], res["gppta"], res["strata"], res["nh"], res["nu_space_reach"]
    m = res["model"]
    bo = ", ".join(f"Sobol {k}: {v:g}" for k, v in f["bo_median_evals"].items())
    lines = [
        "# Virtual listeners: measured numbers (benchmarks/bench_listeners.py)",
        "",
        f"Model: {m['path']}, config sha256 {m['config_sha256']}, written {m['config_mtime']} UTC, "
        f"provisional={m['provisional']}. Machine: 2 shared CPU cores. Total runtime {res['timings']['total_s']} s.",
        "",
        "| must show | target | measured |",
        "|---|---|---|",
        f"| BO median evaluations to 2% of target loss (fresh unseen animals, n={len(f['animals'])}) | <= 15 | {bo} |",
        f"| gradient fit (L-BFGS on logit nu, from the NH-ref nu), median evaluations to 2% | reported | "
        f"{f['gradient_median_evals']:g} |",
        f"| median held-out FEVE, unseen (BO nu; {f['fresh_session_hours']:g} h fitting session) vs in-sample "
        f"(learned nu and time transfer, all test sounds) | within 0.15 | "
        f"{f['feve_unseen_median_bo']:.3f} vs {f['feve_in_sample_median']:.3f} "
        f"(diff {f['feve_in_sample_median'] - f['feve_unseen_median_bo']:+.3f}) |",
        f"| the same, in-sample on its test sounds of the first {f['fresh_session_hours']:g} h only | within 0.15 | "
        f"{f['feve_unseen_median_bo']:.3f} vs {f['feve_in_sample_window_median']:.3f} "
        f"(diff {f['feve_in_sample_window_median'] - f['feve_unseen_median_bo']:+.3f}) |",
        f"| the same per hearing status, unseen vs in-sample: NH / HI | reported | "
        f"{f['feve_unseen_median_bo_by_status']['NH']:.3f} vs {f['feve_in_sample_median_by_status']['NH']:.3f} / "
        f"{f['feve_unseen_median_bo_by_status']['HI']:.3f} vs {f['feve_in_sample_median_by_status']['HI']:.3f} |",
        f"| Pearson r, neurometric thresholds of fitted listeners vs true loss (animals x 8 freqs) | >= 0.8 | "
        f"{res['threshold_vs_true_loss']['pearson_r']:.3f} |",
        f"| GP-PTA on virtual listeners (n={g['listeners']}, {args.trials} trials): median final MAE | <= 5 dB | "
        f"{g['median_final_mae_db']:.2f} dB |",
        f"| GP-PTA median trials to sustained MAE <= 5 dB | <= 25 | {g['median_trials_to_target']:g} "
        f"({100 * g['fraction_reached']:.0f}% reached) |",
        f"| NH-stratum listeners, max abs threshold over 8 freqs (NH: PTA < 20 and every threshold within "
        f"{NH_LIMIT_DB_HL:g} dB HL; PTA < 20 otherwise is 'slight') | <= 10 dB HL | "
        f"{nh['nh_stratum_max_abs_db_hl']:.1f} |",
        f"| NH training animals as listeners, max abs threshold | <= 10 dB HL | {nh['nh_animals_max_abs_db_hl']:.1f} |",
        f"| most impaired listener the model can be: max PTA over the nu cube ({reach['n_corners']} corners / "
        f"{reach['n_uniform']} uniform) and of its training animals | >= 50 dB HL for 'severe' | "
        f"{reach['corners_max_pta_db_hl']:.1f} / {reach['uniform_max_pta_db_hl']:.1f} / "
        f"{reach['training_animals_max_pta_db_hl']:.1f} |",
    ]
    for name, v in s.items():
        lines.append(
            f"| stratum {name} of {args.n_listeners} drawn: n, PTA range (dB HL) | {v['expected_range']} | "
            f"{v['n']}, {v['pta_range'][0]:.1f} .. "
            f"{v['pta_range'][1]:.1f} |"
        )
    strat = res["stratified"]
    for name, ptas in strat["per_class"].items():
        lines.append(f"| stratified draw, 2 per class: {name} PTAs (dB HL) | {STRATA[name]} | {ptas or 'none'} |")
    lines += [
        "",
        f"Stratified draw: {res.get('stratified_error') or '; '.join(strat['warnings']) or 'natural density'}.",
        "",
        "Definitions: loss = mean cross-entropy (nats/channel-bin) of the frozen model on 15 s of every training sound "
        "from the first 2 h; target loss = best loss of long multi-start Adam fits (starts: NH-ref nu, cube centre, a "
        "seeded point; 100 steps); criterion: best-so-far loss - target <= 2% |target| (Sobol points count). "
        "'inf' = not reached within 40 evaluations. True loss = generator threshold at 1 h minus the nominal NH "
        "cochlea (dB HL). Trials to MAE <= 5 dB: first trial after which the MAE (8 audiogram freqs, vs the listener's "
        "neurometric thresholds) stays <= 5 dB.",
        "",
        "Per animal:",
        "",
        "| animal | status | target | NH-ref loss | BO evals (4/8/16) | grad evals | FEVE BO / grad / target | "
        "realigned | channels aligned right |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in f["animals"]:
        evs = "/".join(f"{r.get(f'bo_evals_sobol{k}', float('nan')):g}" for k in (4, 8, 16))
        lines.append(
            f"| {r['animal']} | {r['status']} | {r['target_loss']:.4f} | {r['nh_ref_loss']:.4f} | {evs} | "
            f"{r['grad_evals_to_2pct']:g} | {r['feve_bo']:.3f} / {r['feve_gradient']:.3f} / {r['feve_target']:.3f} | "
            f"{'yes' if r['realigned'] else 'no'} | {100 * r['alignment_correct']:.0f} % |"
        )
    lines += ["", f"Timings (s): {res['timings']}", ""]
    (out / "RESULTS.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
