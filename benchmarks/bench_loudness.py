"""Listener loudness: the NH check against mosqito's ISO 532-1, and loudness growth (recruitment) by listener.

Part 1, NH check. A seeded corpus of ``--per-class`` sounds in each of speech, speech in noise, music, ripples and tones
(``--duration`` s each), levels stratified over 40-90 dB SPL, is scored by hearloop's torch ISO 532-1 model for normal
hearing (:class:`compensation.listener_loudness.ListenerLoudness`) and by ``mosqito.sq_metrics.loudness_zwst`` (the
reference implementation, resampling to 48 kHz, time-domain filters). Reported: Spearman and Pearson correlation,
median and largest relative difference, and the wall time of each (torch: one batched call; mosqito: one call per
sound), side by side in one run.

Part 2, loudness growth. Loudness level (phon) against presentation level (dB SPL) of one corpus speech sound for the
ISO normal ear, three reference audiograms (flat 30 and 50 dB HL, a sloping mild-to-severe loss), and the virtual
listeners of the default fleet cohort (``--cohort`` listeners, ``listeners.sample_cohort(n, seed=0)`` on the bundled
model) with their true neurometric audiograms. Per listener: the levels of the comfort anchors ("soft", "loud", "too
loud"; :mod:`compensation.comfort`) and the loudness-growth slope over the comfortable range, (LN_loud - LN_soft) /
(L_loud - L_soft) phon per dB. Recruitment means the impaired slopes exceed the normal one. Writes the figure
(``--figure``, default ``docs/loudness_growth.png``) and ``results.json`` under ``--out``.

    .venv/bin/python benchmarks/bench_loudness.py [--per-class 10] [--duration 1.0] [--cohort 8] [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from tqdm import tqdm

from compensation.comfort import ComfortRange, comfortable_levels
from compensation.listener_loudness import ListenerLoudness
from simulator.constants import SAMPLE_RATE
from simulator.data.corpus import make_corpus, synthesise

CLASSES = ("speech", "speech_in_noise", "music", "ripple", "tone")
REFERENCE_AUDIOGRAMS = {
    "flat 30 dB HL": {250: 30.0, 8000: 30.0},
    "flat 50 dB HL": {250: 50.0, 8000: 50.0},
    "sloping 10-75 dB HL": {250: 10.0, 1000: 30.0, 2000: 50.0, 4000: 65.0, 8000: 75.0},
}


def nh_check(per_class: int, duration_s: float, seed: int) -> dict:
    """Part 1: torch ISO 532-1 (normal hearing) against mosqito over the corpus pairs."""
    from mosqito.sq_metrics import loudness_zwst

    sounds = make_corpus(seed, dict.fromkeys(CLASSES, per_class), duration_s, (40.0, 90.0), prefix="loud_")
    audio = torch.tensor(np.stack([s.audio for s in sounds]))
    start = time.perf_counter()
    ours = ListenerLoudness.normal().sones(audio).numpy().astype(float)
    t_ours = time.perf_counter() - start
    ref, start = [], time.perf_counter()
    for s in tqdm(sounds, desc="mosqito ISO 532-1"):
        with contextlib.redirect_stdout(io.StringIO()):  # mosqito notes that it resamples to 48 kHz
            ref.append(float(loudness_zwst(s.audio.astype(np.float64), SAMPLE_RATE)[0]))
    t_ref = time.perf_counter() - start
    ref = np.asarray(ref)
    rel = np.abs(ours - ref) / ref
    return {
        "n_pairs": len(sounds),
        "levels_db_spl": [min(s.level_db_spl for s in sounds), max(s.level_db_spl for s in sounds)],
        "spearman": float(spearmanr(ours, ref).statistic),
        "pearson_log": float(pearsonr(np.log(ours), np.log(ref)).statistic),
        "median_rel_diff": float(np.median(rel)),
        "max_rel_diff": float(rel.max()),
        "seconds_torch": t_ours,
        "seconds_mosqito": t_ref,
        "pairs": [
            {"sound": s.name, "level_db_spl": s.level_db_spl, "torch_sone": float(a), "mosqito_sone": float(b)}
            for s, a, b in zip(sounds, ours, ref, strict=True)
        ],
    }


def cohort_audiograms(n: int) -> dict[str, dict]:
    """The default fleet cohort's true neurometric audiograms and strata (bundled model)."""
    import simulator
    from listeners import listener_stratum, prime_thresholds, sample_cohort
    from listeners.listener import AUDIOGRAM_FREQS_HZ

    model = simulator.load_model()
    cohort = sample_cohort(n, seed=0, model=model)
    prime_thresholds([cohort[0].reference, *cohort], AUDIOGRAM_FREQS_HZ)
    return {f"{lis.id} ({listener_stratum(lis)}, PTA {lis.pta():.0f})": lis.audiogram() for lis in cohort}


def growth(audiograms: dict[str, dict], comfort: ComfortRange) -> tuple[dict, np.ndarray, dict]:
    """Part 2: loudness level against level for each listener, anchor levels and slopes."""
    speech = torch.tensor(synthesise("speech", 3, 1.0, 65.0).audio).unsqueeze(0)
    levels = np.arange(20.0, 121.0, 1.0)
    batch = speech * torch.pow(10.0, torch.tensor((levels - 65.0) / 20.0, dtype=torch.float32)).unsqueeze(-1)
    anchors = comfort.phons()
    curves, table = {}, {}
    for name, gram in tqdm(audiograms.items(), desc="loudness growth"):
        model = ListenerLoudness.normal() if gram is None else ListenerLoudness.from_audiogram(gram)
        curves[name] = model.sones(batch).numpy().astype(float)
        lv = {k: float(v) for k, v in comfortable_levels(speech, model, comfort).items()}
        lv["slope_phon_per_db"] = (anchors["upper"] - anchors["lower"]) / lv["width_db"]
        table[name] = lv
    return curves, levels, table


def plot(curves: dict, audiograms: dict, levels: np.ndarray, comfort: ComfortRange, path: Path) -> None:
    """Loudness against level, one line per listener coloured by PTA (reference audiograms dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from compensation.population import pta_db_hl

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    cmap = plt.get_cmap("plasma")
    for name, sones in curves.items():
        gram = audiograms[name]
        if gram is None:
            style = {"color": "k", "lw": 2.5}
        else:  # coloured by PTA (0 to 70 dB HL); reference audiograms dashed, virtual listeners solid
            colour = cmap(float(np.clip(pta_db_hl(gram) / 70.0, 0.0, 0.9)))
            style = {"color": colour, "lw": 1.3, "ls": "--" if name in REFERENCE_AUDIOGRAMS else "-"}
        ax.semilogy(levels, np.clip(sones, 1e-2, None), label=name, **style)
    for label, value in (("soft", comfort.lower_sone), ("loud (comfort limit)", comfort.upper_sone),
                         ("too loud (UCL)", comfort.ucl_sone)):  # fmt: skip
        ax.axhline(value, color="grey", ls=":", lw=1)
        ax.text(levels[0] + 1, value * 1.08, label, color="grey", fontsize=8)
    ax.set_xlabel("speech level (dB SPL)")
    ax.set_ylabel("loudness (sone, ISO 532-1 with hearing loss)")
    ax.set_ylim(1e-2, 400)
    ax.set_title("Loudness growth: recruitment in impaired listeners")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--cohort", type=int, default=8, help="default-fleet listeners to include (0: none)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="runs/loudness-bench")
    ap.add_argument("--figure", default="docs/loudness_growth.png")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    check = nh_check(args.per_class, args.duration, args.seed)
    comfort = ComfortRange()
    audiograms: dict = {"normal (ISO 532-1)": None, **REFERENCE_AUDIOGRAMS}
    if args.cohort:
        audiograms.update(cohort_audiograms(args.cohort))
    curves, levels, table = growth(audiograms, comfort)
    plot(curves, audiograms, levels, comfort, Path(args.figure))
    nh_slope = table["normal (ISO 532-1)"]["slope_phon_per_db"]
    print(f"\n## NH check: {check['n_pairs']} (sound, level) pairs, {check['levels_db_spl'][0]:.1f}-"
          f"{check['levels_db_spl'][1]:.1f} dB SPL, {args.duration} s each")  # fmt: skip
    print(f"Spearman {check['spearman']:.4f}, Pearson (log) {check['pearson_log']:.4f}, relative difference median "
          f"{100 * check['median_rel_diff']:.2f} % / max {100 * check['max_rel_diff']:.2f} %; wall time torch "
          f"{check['seconds_torch']:.2f} s (batched) vs mosqito {check['seconds_mosqito']:.2f} s "
          f"({check['seconds_mosqito'] / check['seconds_torch']:.0f}x)")  # fmt: skip
    print("\n## Loudness growth of speech (comfort anchors in dB SPL)\n")
    print("| listener | soft | loud (comfort limit) | too loud (UCL) | comfortable width dB | slope phon/dB |")
    print("|---|---|---|---|---|---|")
    for name, row in table.items():
        print(f"| {name} | {row['lower_db']:.1f} | {row['upper_db']:.1f} | {row['ucl_db']:.1f} | {row['width_db']:.1f} "
              f"| {row['slope_phon_per_db']:.2f} |")  # fmt: skip
    impaired = {k: v for k, v in table.items() if k != "normal (ISO 532-1)" and "(NH," not in k}
    steeper = all(v["slope_phon_per_db"] > nh_slope for v in impaired.values())
    print(f"\nimpaired slopes steeper than normal ({nh_slope:.2f} phon/dB): {'yes' if steeper else 'NO'} "
          f"({len(impaired)} impaired listeners)")  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"nh_check": check, "growth": table, "comfort": comfort.to_dict(),
                                                  "impaired_steeper": steeper}, indent=2))  # fmt: skip
    print(f"figure: {args.figure}; results: {out / 'results.json'}")


if __name__ == "__main__":
    main()
