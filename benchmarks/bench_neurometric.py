"""Neurometric calibration: how well the model's tone thresholds track the true hearing loss, per d' criterion.

For the bundled nu-ICNet ([Pellatt2025]_; or ``--model DIR``) the training animals are regenerated from the model's
metadata with a token corpus (``runners.ground_truth.training_cohort``: the same animals as the cohort it was trained
on, a fraction of a second of sound, so a BEZ2018 cohort costs seconds), and each training animal becomes a listener
at its learned nu. Its neurometric thresholds (``listeners.neurometric``) in dB HL re the NH reference are compared with
the generator's true cochlear threshold shift re the reference animal, at 6 frequencies, for several d' criteria:
Pearson r, least-squares slope (1 = thresholds grow dB for dB with the loss), mean absolute error, and the largest
|threshold| of the NH animals. The default criterion (``listeners.neurometric.DETECTION_D_PRIME``) is the one with the
smallest error. Prints a Markdown table and writes ``results.json``.

    .venv/bin/python benchmarks/bench_neurometric.py [--model DIR] [--criteria 3 5 10 20 30 50] [--out DIR]

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from scipy.stats import pearsonr

import simulator
from listeners.neurometric import DETECTION_D_PRIME, neurometric_thresholds_db_spl
from listeners.reference import animal_nus, nh_reference_nu
from listeners.unseen import true_loss_db_hl
from runners.ground_truth import training_cohort

FREQS_HZ = np.array([250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--criteria", type=float, nargs="+", default=[3.0, 5.0, 10.0, 20.0, 30.0, 50.0])
    ap.add_argument("--hours", type=float, default=5.0, help="recording time of the true thresholds (mid-session)")
    ap.add_argument("--model", default=None, help="nu-ICNet checkpoint directory (default: the bundled model)")
    ap.add_argument("--out", default="runs/neurometric-bench")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = simulator.load_model(args.model)
    animals = training_cohort(model)
    ids = [a["id"] for a in model.metadata["animals"]]
    by_id = {a.animal_id: a for a in animals}
    ref_id = model.metadata["reference_animal"]
    reference_loss = true_loss_db_hl(by_id[ref_id], FREQS_HZ, args.hours)
    true_hl = np.stack([true_loss_db_hl(by_id[i], FREQS_HZ, args.hours) for i in ids]) - reference_loss
    nh = [k for k, a in enumerate(model.metadata["animals"]) if a["status"] == "NH"]
    nus = np.vstack([animal_nus(model), nh_reference_nu(model)[None]])
    rows = []
    for c in args.criteria:
        spl = neurometric_thresholds_db_spl(model, nus, FREQS_HZ, criterion=c)
        hl = spl[:-1] - spl[-1]
        rows.append(
            {
                "criterion": c,
                "pearson_r": float(pearsonr(hl.ravel(), true_hl.ravel())[0]),
                "slope": float(np.polyfit(true_hl.ravel(), hl.ravel(), 1)[0]),
                "mae_db": float(np.abs(hl - true_hl).mean()),
                "nh_max_abs_db_hl": float(np.abs(hl[nh]).max()),
                "reference_db_spl": spl[-1].round(1).tolist(),
            }
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"freqs_hz": FREQS_HZ.tolist(), "rows": rows}, indent=2))
    print(f"{len(ids)} training animals x {FREQS_HZ.size} frequencies; default criterion d' = {DETECTION_D_PRIME:g}")
    print("| d' criterion | Pearson r | slope | MAE (dB) | NH animals max \\|HL\\| | reference thresholds (dB SPL) |")
    print("|---:|---:|---:|---:|---:|---|")
    for r in rows:
        ref = " / ".join(f"{v:.0f}" for v in r["reference_db_spl"])
        print(
            f"| {r['criterion']:g} | {r['pearson_r']:.3f} | {r['slope']:.2f} | {r['mae_db']:.1f} | "
            f"{r['nh_max_abs_db_hl']:.1f} | {ref} |"
        )


if __name__ == "__main__":
    main()
