"""The RESULTS.md table of ``benchmarks/bench_listeners.py`` (every must-show number of the virtual listeners)."""

from __future__ import annotations

import argparse
from pathlib import Path

from listeners.population import NH_LIMIT_DB_HL, STRATA
from simulator.atomic_io import atomic_write_text


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
    atomic_write_text(out / "RESULTS.md", "\n".join(lines))
