"""The virtual IC's two peripheries side by side: midbrain tuning and Q10 with OHC loss, NH ABR thresholds, cost.

For each periphery (``gammatone``, ``bez2018``) a single midbrain unit of typical parameters (sustained weight 0.75,
modulation weight 1.25, BMF 16 Hz, gain 16, spontaneous p 0.03, no central gain, no synaptopathy) is placed at CFs of
1, 2 and 4 kHz in an animal that is normal (NH) or has a flat OHC-only loss of 20 or 50 dB (capped at what the
periphery can express at that CF: BEZ2018's ``cohc = 0`` gives 35-42 dB at 1 kHz). Its response to a 100 ms tone
(5 ms ramps) is the mean expected spike count over the tone; its threshold is the level where that rises by 0.1
above silence (a d' of about 1 over a 100-bin tone for counts near the spontaneous rate); Q10 is CF over the
bandwidth 10 dB above the threshold at CF. Tuning curves (threshold against frequency) are plotted.

Also: the BEZ2018 HSR fibre's Q10 and tip at 2 kHz for cohc 1 / 0.3 / 0 (the dependency's facts), the NH ABR
thresholds (true threshold + ABR offset, before measurement noise) of both peripheries for the nominal NH cochlea and
the NH animals of cohort seed 0, and (``--cost``) the generation cost (CPU-s) per animal-second of sound. Prints
Markdown tables and writes ``results.json`` and ``tuning_curves.png`` to ``--out``.

    .venv/bin/python benchmarks/bench_periphery.py [--out runs/periphery-bench] [--cost]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from simulator.constants import BIN_RATE, SAMPLE_RATE
from simulator.data.corpus import tone
from simulator.frequencies import ABR_FREQS_HZ
from simulator.virtual_ic.animal import AnimalParams, Degradation, expected_response
from simulator.virtual_ic.bez2018 import BezConfig
from simulator.virtual_ic.bez_tuning import level_threshold, q10, q10_of
from simulator.virtual_ic.cohort import generate_cohort, make_animal
from simulator.virtual_ic.hearing_profile import ABR_OFFSET_DB, HearingProfile, interp_cf
from simulator.virtual_ic.midbrain import P_MAX, MidbrainChannels, sample_channel_template
from simulator.virtual_ic.peripheries import make_periphery, ohc_cap_db
from simulator.virtual_ic.periphery import CF_GRID_HZ, N_CF

PERIPHERIES = ("gammatone", "bez2018")
CFS_HZ = (1000.0, 2000.0, 4000.0)
OHC_SHIFTS_DB = (0.0, 20.0, 50.0)
TONE_S, TAIL_S = 0.1, 0.05
CRITERION = 0.1
"""Rise of the mean expected count per bin over a tone that defines a midbrain unit's threshold."""


def unit_animal(periphery: str, cf_hz: float, ohc_shift_db: float) -> AnimalParams:
    """An animal with one typical midbrain unit at ``cf_hz`` and a flat OHC-only loss (capped per CF)."""
    cap = ohc_cap_db(periphery)
    profile = HearingProfile(
        "NH" if ohc_shift_db == 0 else "HI", "flat", {}, np.minimum(ohc_shift_db, cap), np.zeros(N_CF), 0.0, 0.0
    )
    pos = float(np.interp(np.log(cf_hz), np.log(CF_GRID_HZ), np.arange(N_CF)))
    p_spont = 0.03
    ch = MidbrainChannels(
        cf_pos=np.array([pos]), bmf_hz=np.array([16.0]), w_sust=np.array([0.75]), w_mod=np.array([1.25]),
        gain=np.array([16.0]), bias=np.array([np.log(p_spont / (P_MAX - p_spont))]), floor=np.array([0.015]),
    )  # fmt: skip
    return AnimalParams("unit", profile, ch, np.zeros(1, dtype=np.int64), Degradation(5.0, 10.0, 0.0, 0.0),
                        make_periphery(periphery, profile))  # fmt: skip


def unit_response(params: AnimalParams, freq_hz: float | None, level_db: float) -> float:
    """Mean expected count per bin over the tone (bins from 5 ms after onset to 5 ms after offset)."""
    n = round(TONE_S * SAMPLE_RATE)
    x = np.zeros(n + round(TAIL_S * SAMPLE_RATE))
    if freq_hz is not None:
        x[:n] = tone(freq_hz, level_db, TONE_S)
    r = expected_response(params, x)[0]
    return float(r[int(0.005 * BIN_RATE) : int((TONE_S + 0.005) * BIN_RATE)].mean())


def midbrain_tuning(periphery: str, curve_points: int) -> list[dict]:
    rows = []
    for cf in CFS_HZ:
        for shift in OHC_SHIFTS_DB:
            t0 = time.perf_counter()
            params = unit_animal(periphery, cf, shift)
            crit = unit_response(params, None, 0.0) + CRITERION
            res = q10_of(lambda f, level, p=params: unit_response(p, f, level), cf, crit)
            freqs = cf * 2.0 ** np.linspace(-2.0, 1.0, curve_points)
            curve = [level_threshold(lambda lv, f=f, p=params: unit_response(p, f, lv), crit, 1.0) for f in freqs]
            rows.append({
                "periphery": periphery, "cf_hz": cf, "ohc_shift_db": shift,
                "ohc_shift_at_cf_db": float(interp_cf(params.profile.ohc_loss_db, cf)),
                **res, "curve_hz": freqs.tolist(), "curve_db_spl": curve, "seconds": time.perf_counter() - t0,
            })  # fmt: skip
            print(f"  {periphery} {cf:.0f} Hz OHC {shift:.0f} dB: Q10 {res['q10']:.2f}", flush=True)
    return rows


def abr_rows() -> list[dict]:
    """Expected ABR thresholds (true threshold + ABR offset) of NH cochleas on both peripheries."""
    freqs = np.asarray(ABR_FREQS_HZ, dtype=float)
    offset = np.array([ABR_OFFSET_DB[int(f)] for f in freqs])
    template = sample_channel_template(np.random.default_rng([0, 1]), 32)
    rows = []
    for who in ("nominal", "NH01", "NH02", "NH03"):
        row = {"animal": who}
        for per in PERIPHERIES:
            if who == "nominal":
                profile = HearingProfile("NH", "normal", {}, np.zeros(N_CF), np.zeros(N_CF), 0.0, 0.0)
                peri = make_periphery(per, profile)
            else:
                a = make_animal(0, int(who[2:]) - 1, who, None, template, True, per)
                profile, peri = a.profile, a.periphery
            row[per] = (interp_cf(peri.thresholds_db_spl(profile), freqs) + offset).round(2).tolist()
        row["difference"] = (np.array(row["bez2018"]) - np.array(row["gammatone"])).round(2).tolist()
        rows.append(row)
    return rows


def spike_statistics(n_per_class: int, duration_s: float) -> dict:
    """Midbrain spike statistics of cohort seed 0's three NH animals (32 channels) on both peripheries.

    A corpus of every class at 45-90 dB SPL; per periphery the mean ``p`` during silence sounds (spontaneous), the
    mean ``p`` over the other sounds (driven), the 90th percentile of ``p`` and the expected fractions of counts
    0..4. For BEZ2018 also the AN gain ``g`` that would match the gammatone periphery's mean driven ``p`` (the
    midbrain input is linear in ``g``; the shipped value is ``peripheries.BEZ_AN_GAIN``).
    """
    from scipy.optimize import brentq
    from scipy.stats import binom

    from simulator.data.corpus import make_corpus
    from simulator.virtual_ic.animal import spike_probability_from_features
    from simulator.virtual_ic.midbrain import midbrain_drive, spike_probability

    sounds = make_corpus([0, 99], n_per_class, duration_s, (45.0, 90.0))
    template = sample_channel_template(np.random.default_rng([0, 1]), 32)
    out: dict = {}
    for per in PERIPHERIES:
        animals = [make_animal(0, a, f"NH{a + 1:02d}", None, template, True, per) for a in range(3)]
        p_sil, p_drv, an_cache = [], [], []
        for a in animals:
            for snd in sounds:
                prepared = a.periphery.prepare(snd.audio)
                p = spike_probability_from_features(a, prepared, 0.0)
                (p_sil if snd.sound_class == "silence" else p_drv).append(p)
                if per == "bez2018" and snd.sound_class != "silence":
                    an_cache.append((a, a.periphery.an_activity(prepared, a.profile, 0.0, a.channels.cf_pos)))
        drv = np.concatenate([q.ravel() for q in p_drv])
        counts = binom.pmf(np.arange(5)[:, None], 4, drv[None, :]).mean(axis=1)
        out[per] = {
            "spontaneous_p": float(np.mean([q.mean() for q in p_sil])),
            "driven_p": float(drv.mean()),
            "driven_p90": float(np.percentile(drv, 90)),
            "count_fractions": counts.round(4).tolist(),
        }
    target = out["gammatone"]["driven_p"]
    gain0 = make_animal(0, 0, "NH01", None, template, True, "bez2018").periphery.an_gain

    def mean_p(g: float) -> float:
        ps = [spike_probability(midbrain_drive(an * (g / gain0), a.channels), a.channels).ravel() for a, an in an_cache]
        return float(np.concatenate(ps).mean()) - target

    out["bez2018"]["an_gain_matching_gammatone"] = float(brentq(mean_p, 0.05, 5.0, xtol=1e-3))
    return out


def cpu_seconds() -> float:
    """User + system CPU time (s) of this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cost_rows(seconds: float) -> list[dict]:
    """CPU and wall time per animal-second of sound for a 1 NH + 1 HI cohort with 32 channels, 1 worker (CPU time is
    what a shared machine's load does not inflate)."""
    rows = []
    for per in PERIPHERIES:
        t0, c0 = time.perf_counter(), cpu_seconds()
        animals = generate_cohort(n_nh=1, n_hi=1, seed=0, n_channels=32, train_seconds=seconds, sound_duration_s=3.0,
                                  n_test_per_class=1, test_duration_s=3.0, progress=False, periphery=per)  # fmt: skip
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        sound_s = sum(s.audio.size for s in animals[0].sounds) / SAMPLE_RATE
        rows.append({"periphery": per, "animals": 2, "sound_s_per_animal": sound_s, "wall_s": wall, "cpu_s": cpu,
                     "cpu_s_per_animal_second": cpu / (2 * sound_s)})  # fmt: skip
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(CFS_HZ), figsize=(4.2 * len(CFS_HZ), 3.8), sharey=True)
    styles = {"gammatone": "--", "bez2018": "-"}
    colors = {0.0: "k", 20.0: "tab:orange", 50.0: "tab:red"}
    for ax, cf in zip(axes, CFS_HZ, strict=True):
        for r in (r for r in rows if r["cf_hz"] == cf):
            y = np.where(np.isfinite(r["curve_db_spl"]), r["curve_db_spl"], np.nan)
            label = f"{r['periphery']}, OHC {r['ohc_shift_db']:.0f} dB (Q10 {r['q10']:.1f})"
            ax.semilogx(r["curve_hz"], y, styles[r["periphery"]], color=colors[r["ohc_shift_db"]], label=label)
        ax.set_title(f"midbrain unit, CF {cf / 1000:g} kHz")
        ax.set_xlabel("tone frequency (Hz)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    axes[0].set_ylabel("threshold (dB SPL)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/periphery-bench")
    ap.add_argument("--curve-points", type=int, default=13, help="frequencies per plotted tuning curve")
    ap.add_argument("--stats-per-class", type=int, default=2, help="sounds per class for the spike statistics")
    ap.add_argument("--stats-seconds", type=float, default=1.5, help="duration of those sounds, s")
    ap.add_argument("--cost", action="store_true", help="also time cohort generation per animal-second of sound")
    ap.add_argument("--cost-seconds", type=float, default=6.0, help="training sound per animal for --cost")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"criterion_count": CRITERION}
    print("BEZ2018 HSR fibre at CF 2 kHz (cat):", flush=True)
    fibre = {str(c): q10(2000.0, c, 1.0, BezConfig()) for c in (1.0, 0.3, 0.0)}
    results["an_fibre_2khz"] = fibre
    print("| cohc | tip (dB SPL) | Q10 |\n|---|---|---|")
    for c, r in fibre.items():
        print(f"| {c} | {r['threshold_db_spl']:.1f} | {r['q10']:.2f} |")
    print("midbrain units:", flush=True)
    rows = [r for per in PERIPHERIES for r in midbrain_tuning(per, args.curve_points)]
    results["midbrain"] = rows
    print("\n| periphery | CF (Hz) | OHC shift (dB, at CF) | threshold (dB SPL) | Q10 | Q10 NH / Q10 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        nh = next(
            x for x in rows if x["periphery"] == r["periphery"] and x["cf_hz"] == r["cf_hz"] and not x["ohc_shift_db"]
        )
        print(f"| {r['periphery']} | {r['cf_hz']:.0f} | {r['ohc_shift_db']:.0f} ({r['ohc_shift_at_cf_db']:.0f}) | "
              f"{r['threshold_db_spl']:.1f} | {r['q10']:.2f} | {nh['q10'] / r['q10']:.2f} |")  # fmt: skip
    results["abr"] = abr_rows()
    print("\nNH ABR thresholds (dB SPL, before measurement noise) at", list(ABR_FREQS_HZ), "Hz:")
    print("| animal | gammatone | bez2018 | bez2018 - gammatone |\n|---|---|---|---|")
    for r in results["abr"]:
        print(f"| {r['animal']} | {r['gammatone']} | {r['bez2018']} | {r['difference']} |")
    results["spike_statistics"] = spike_statistics(args.stats_per_class, args.stats_seconds)
    print("\nMidbrain spike statistics (3 NH animals x 32 channels, corpus at 45-90 dB SPL):")
    print(
        "| periphery | spontaneous p | driven p | driven p, 90th pct | P(count = 0..4), driven |\n|---|---|---|---|---|"
    )
    for per in PERIPHERIES:
        st = results["spike_statistics"][per]
        print(f"| {per} | {st['spontaneous_p']:.3f} | {st['driven_p']:.3f} | {st['driven_p90']:.3f} | "
              f"{st['count_fractions']} |")  # fmt: skip
    match = results["spike_statistics"]["bez2018"]["an_gain_matching_gammatone"]
    print(f"BEZ2018 AN gain matching the gammatone driven p: {match:.3f}")
    if args.cost:
        results["cost"] = cost_rows(args.cost_seconds)
        print("\n| periphery | CPU-s per animal-second of sound (1 worker) |\n|---|---|")
        for r in results["cost"]:
            print(f"| {r['periphery']} | {r['cpu_s_per_animal_second']:.3f} |")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    plot(rows, out / "tuning_curves.png")
    print(f"wrote {out / 'results.json'} and {out / 'tuning_curves.png'}")


if __name__ == "__main__":
    main()
