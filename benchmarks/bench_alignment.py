"""Channel alignment between brains ([Pellatt2025]_, nu-ICNet, "Alignment between brains"): accuracy by ground cost.

Generates virtual-IC cohorts (seeded, with known electrode placements) whose HI animals span a range of hearing-loss
severities, aligns every animal to the first NH animal with each ground cost of :mod:`simulator.data.alignment`
(``rate_correlation``, the default, and ``time_course``), and reports, side by side, the fraction of channels mapped
to the reference channel of the same generator template unit, with the time each cost took. Prints a Markdown table
and writes ``results.json``.

    .venv/bin/python benchmarks/bench_alignment.py [--seeds 0 1] [--hi-pta-range 10 70] [--out runs/alignment-bench]

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from simulator.data.alignment import SIGNATURES, align_channels
from simulator.virtual_ic import generate_cohort


def template_accuracy(animal, reference, perm: np.ndarray) -> float:
    """Fraction of aligned channels ``j`` whose recorded unit ``perm[j]`` is the reference's unit ``j``."""
    unit = np.asarray(animal.ground_truth["electrodes"]["template_index"])
    ref_unit = np.asarray(reference.ground_truth["electrodes"]["template_index"])
    return float(np.mean(unit[perm] == ref_unit))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--n-hi", type=int, default=6)
    ap.add_argument("--hi-pta-range", type=float, nargs=2, default=[10.0, 70.0])
    ap.add_argument("--flat-from", type=float, default=50.0, help="HI targets at or above this PTA are flat losses")
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--periphery", default="gammatone", help="cohort periphery (the README's numbers: gammatone)")
    ap.add_argument("--out", default="runs/alignment-bench")
    args = ap.parse_args()
    rows = []
    for seed in args.seeds:
        animals = generate_cohort(
            n_nh=2, n_hi=args.n_hi, seed=seed, n_channels=args.channels, hi_pta_range_db=tuple(args.hi_pta_range),
            flat_from_pta_db=args.flat_from, session_hours=10.0, periphery=args.periphery,
        )  # fmt: skip
        reference = animals[0]
        for animal in animals[1:]:
            row = {
                "seed": seed,
                "animal": animal.animal_id,
                "status": animal.hearing_status,
                "severity_db_hl": float(animal.ground_truth["severity_db_hl"]),
            }
            for signature in SIGNATURES:
                t0 = time.perf_counter()
                perm = align_channels(animal, reference, signature=signature)
                row[f"{signature}_s"] = time.perf_counter() - t0
                row[signature] = template_accuracy(animal, reference, perm)
            rows.append(row)
    bands = [
        (-np.inf, 20.0, "< 20 (NH and slight)"),
        (20.0, 35.0, "20-35"),
        (35.0, 50.0, "35-50"),
        (50.0, np.inf, ">= 50"),
    ]
    lines = [
        f"Alignment to the first NH animal, {args.channels} channels, seeds {args.seeds}: fraction of channels on the "
        "right template unit (median per severity band, min in brackets).",
        "",
        "| severity (dB HL) | n | " + " | ".join(SIGNATURES) + " |",
        "|---|---:|" + "---:|" * len(SIGNATURES),
    ]
    for lo, hi, name in bands:
        sel = [r for r in rows if lo <= r["severity_db_hl"] < hi]
        if sel:
            cells = [f"{np.median([r[s] for r in sel]):.2f} ({min(r[s] for r in sel):.2f})" for s in SIGNATURES]
            lines.append(f"| {name} | {len(sel)} | " + " | ".join(cells) + " |")
    times = [f"{s} {np.median([r[f'{s}_s'] for r in rows]):.2f} s" for s in SIGNATURES]
    lines += ["", "Median time per animal: " + ", ".join(times)]
    print("\n".join(lines))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"args": vars(args), "animals": rows}, indent=2))


if __name__ == "__main__":
    main()
