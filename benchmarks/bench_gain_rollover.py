"""Does more gain keep helping? Fidelity restored against flat gain, scored on the generator itself, both peripheries.

For every HI animal of at least ``--min-hl`` dB HL (true PTA) of a virtual-IC cohort (the same seeded animals on the
``gammatone`` and the ``bez2018`` periphery), the clean sounds (speech-like and speech in babble at 65 dB SPL) are
amplified by a flat (frequency-independent) gain of NAL-R's level + ``offset``, offset -10..+50 dB in 5 dB steps, where
NAL-R's level is the broadband level gain of the NAL-R-aided sound (NAL-R prescribed by
:mod:`compensation.nalr` from the animal's true audiogram at 250-8000 Hz, applied by
:class:`compensation.nalr_strategy.NALRStrategy`). Each aided sound is scored by
:func:`simulator.virtual_ic.fidelity.fidelity_restored_on_generator`: L1 distance of expected counts to the animal's
NH twin's response to the clean sound, fidelity restored = 1 - D(aided) / D(unaided).

What it should show: on the BEZ2018 periphery each animal's curve has an interior maximum within +40 dB of NAL-R's
level (too much gain hurts), and its best flat gain restores clearly less than on the gammatone periphery. Prints a
Markdown table per periphery and writes ``results.json`` and ``rollover.png`` to ``--out``.

    .venv/bin/python benchmarks/bench_gain_rollover.py [--seed 0] [--sound-seconds 1.5] [--out runs/rollover-bench]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from compensation.nalr import nalr_gains
from compensation.nalr_strategy import NALRStrategy
from simulator.data.corpus import speech_in_noise, speech_like
from simulator.virtual_ic.animal import AnimalParams, true_loss_db_hl
from simulator.virtual_ic.cohort import hi_targets, make_animal
from simulator.virtual_ic.fidelity import fidelity_restored_on_generator
from simulator.virtual_ic.midbrain import sample_channel_template

AUDIOGRAM_HZ = (250, 500, 1000, 2000, 3000, 4000, 6000, 8000)
OFFSETS_DB = tuple(float(o) for o in range(-10, 55, 5))


def cohort_animals(periphery: str, seed: int, n_hi: int, pta_range: tuple[float, float], channels: int):
    """The HI animals of ``generate_cohort(n_nh=0, n_hi, seed, hi_pta_range_db=pta_range, flat_from_pta_db=50)``."""
    template = sample_channel_template(np.random.default_rng([seed, 1]), channels)
    targets = hi_targets(n_hi, np.random.default_rng([seed, 2]), pta_range, 50.0)
    return [make_animal(seed, j, f"HI{j + 1:02d}", t, template, True, periphery) for j, t in enumerate(targets)]


def nalr_aided(params: AnimalParams, sounds: list[np.ndarray]) -> tuple[list[np.ndarray], float, dict]:
    """NAL-R from the animal's true audiogram: aided sounds, NAL-R's broadband level gain (dB), the gains."""
    audiogram = {f: float(v) for f, v in zip(AUDIOGRAM_HZ, true_loss_db_hl(params, AUDIOGRAM_HZ), strict=True)}
    strategy = NALRStrategy()
    theta = strategy.prescribe(audiogram)
    aided = [strategy(torch.as_tensor(x, dtype=torch.float32)[None], theta)[0].double().numpy() for x in sounds]
    level = 10 * np.log10(sum(np.sum(a**2) for a in aided) / sum(np.sum(x**2) for x in sounds))
    return aided, float(level), {"audiogram_db_hl": audiogram, "nalr_gains_db": nalr_gains(audiogram)}


def score_animal(params: AnimalParams, sounds: list[np.ndarray]) -> dict:
    """Fidelity restored of NAL-R and of every flat gain (NAL-R's level + offset), averaged over the sounds."""
    aided_nalr, level, info = nalr_aided(params, sounds)
    flat, nalr, d_un = [], [], []
    for x, xn in zip(sounds, aided_nalr, strict=True):
        versions = [x * 10.0 ** ((level + o) / 20.0) for o in OFFSETS_DB] + [xn]
        fid, d0 = fidelity_restored_on_generator(params, x, versions)
        flat.append(fid[:-1])
        nalr.append(fid[-1])
        d_un.append(d0)
    curve = np.mean(flat, axis=0)
    best = int(np.argmax(curve))
    return {
        "animal": params.animal_id, "severity_db_hl": float(np.mean(
            true_loss_db_hl(params, [500, 1000, 2000, 4000, 8000]))),
        "shape": params.profile.shape, "nalr_level_db": level, **info, "offsets_db": list(OFFSETS_DB),
        "flat_fidelity": curve.tolist(), "nalr_fidelity": float(np.mean(nalr)), "d_unaided": float(np.mean(d_un)),
        "best_offset_db": OFFSETS_DB[best], "best_fidelity": float(curve[best]),
        "interior_max_within_40": bool(0 < best < len(OFFSETS_DB) - 1 and OFFSETS_DB[best] <= 40.0),
    }  # fmt: skip


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pers = list(results["peripheries"])
    fig, axes = plt.subplots(1, len(pers), figsize=(5.0 * len(pers), 3.8), sharey=True)
    for ax, per in zip(np.atleast_1d(axes), pers, strict=True):
        for r in results["peripheries"][per]:
            ax.plot(
                r["offsets_db"],
                r["flat_fidelity"],
                "-o",
                ms=3,
                label=f"{r['animal']} ({r['severity_db_hl']:.0f} dB HL)",
            )
        ax.axvline(0.0, color="grey", lw=0.8)
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_title(f"{per}: flat gain")
        ax.set_xlabel("gain re NAL-R's level (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    np.atleast_1d(axes)[0].set_ylabel("fidelity restored (generator)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="cohort seed (animals as in generate_cohort)")
    ap.add_argument("--n-hi", type=int, default=6)
    ap.add_argument("--hi-pta-range", type=float, nargs=2, default=[10.0, 70.0])
    ap.add_argument("--min-hl", type=float, default=35.0, help="score animals with a true PTA at least this (dB HL)")
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--sound-seconds", type=float, default=1.5)
    ap.add_argument("--level", type=float, default=65.0, help="clean sound level, dB SPL")
    ap.add_argument("--peripheries", nargs="+", default=["gammatone", "bez2018"])
    ap.add_argument("--out", default="runs/rollover-bench")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([args.seed, 77])
    sounds = [speech_like(rng, args.sound_seconds, args.level).astype(np.float64),
              speech_in_noise(rng, args.sound_seconds, args.level, snr_db=5.0)[0].astype(np.float64)]  # fmt: skip
    results: dict = {"args": vars(args), "peripheries": {}}
    for per in args.peripheries:
        rows = []
        for params in cohort_animals(per, args.seed, args.n_hi, tuple(args.hi_pta_range), args.channels):
            sev = float(np.mean(true_loss_db_hl(params, [500, 1000, 2000, 4000, 8000])))
            if sev < args.min_hl:
                continue
            t0 = time.perf_counter()
            rows.append(score_animal(params, sounds) | {"seconds": time.perf_counter() - t0})
            r = rows[-1]
            print(f"{per} {r['animal']} {r['severity_db_hl']:.1f} dB HL: best {r['best_offset_db']:+.0f} dB "
                  f"{r['best_fidelity']:.3f}, NAL-R {r['nalr_fidelity']:.3f} ({r['seconds']:.0f} s)",
                  flush=True)  # fmt: skip
        results["peripheries"][per] = rows
    for per, rows in results["peripheries"].items():
        print(f"\n{per}: fidelity restored against flat gain re NAL-R's level (dB)")
        print("| animal | dB HL | shape | NAL-R level (dB) | NAL-R | " + " | ".join(f"{o:+.0f}" for o in OFFSETS_DB)
              + " | best | interior max <= +40 |")  # fmt: skip
        print("|---" * (len(OFFSETS_DB) + 7) + "|")
        for r in rows:
            cells = " | ".join(f"{v:.2f}" for v in r["flat_fidelity"])
            print(f"| {r['animal']} | {r['severity_db_hl']:.1f} | {r['shape']} | {r['nalr_level_db']:.1f} | "
                  f"{r['nalr_fidelity']:.2f} | {cells} | {r['best_offset_db']:+.0f} dB: {r['best_fidelity']:.2f} | "
                  f"{r['interior_max_within_40']} |")  # fmt: skip
    (out / "results.json").write_text(json.dumps(results, indent=1))
    plot(results, out / "rollover.png")
    print(f"wrote {out / 'results.json'} and {out / 'rollover.png'}")


if __name__ == "__main__":
    main()
