"""The audiogram-conditioned DNN compensator on held-out listeners, at matched loudness, against the volume knob.

Held-out listeners: ``--n-listeners`` 32 drawn from the model's nu population (cohort seed ``--cohort-seed`` 7001, not
the compensators' training seed 5001; or a stratified cohort with ``--strata``), with their true neurometric
audiograms. The mild, moderate and severe ones are scored; of the NH ones the first ``--nh`` are scored and reported
apart (their fidelity restored divides by a tiny unaided distance, so they get the listener-independent benefit
instead); slight losses are left out. ``--listeners-from animals`` scores the nu-ICNet's training animals instead
(their learned nu and ABR audiograms; listeners the compensators never saw, but not the generator's fresh draws).
Held-out sounds: ``--per-class`` sounds of each training class (seed ``--sound-seed`` 9001, ``--duration`` s, 50-80
dB SPL). Every strategy is prescribed from the audiogram except the
nu-conditioned upper bound ``dnn_nu_oracle`` (``--strategies``; not in the default run), which is given the listener's
nu (no clinic could). ``--listeners-cache`` keeps the sampled listeners (nu, audiogram, stratum) for a rerun.

Per listener (:func:`compensation.compare_with_volume_control`, the one comparison every report uses): fidelity
restored FR as heard (through the listener's comfort limit) and at matched loudness (every output scaled to the
loudness normal hearing has for the clean sound, so level buys nothing), the volume control (the best single broadband
gain under the comfort limit; at matched loudness the unprocessed sound at NH loudness), and neural selectivity
(:func:`compensation.selectivity_comparison.compare_selectivity`: NH-trained decoders' accuracy on held-out vowel and
consonant tokens in quiet, 5 and 0 dB SNR, ``--test-per-class`` tokens per class and task, mean over the six tasks,
chance 1/12; at matched loudness, and as heard with ``--selectivity-heard``). Listeners are the unit: each figure is
a per-listener mean over sounds (or tokens) first, then the mean over listeners with its 95 % BCa bootstrap interval,
and the DNN's gain over the volume control is a paired difference over the same listeners
(:mod:`compensation.listener_statistics`).

Writes ``results.json``, ``table.md`` and ``dnn_vs_volume.png`` under ``--out`` (and the figure to ``--figure``).

    .venv/bin/python benchmarks/bench_dnn_compensator.py [--listeners-from animals | --n-listeners 32 |
        --strata mild=4,...] [--nh 2]
        [--per-class 1] [--duration 1.0] [--test-per-class 1] [--no-selectivity] [--selectivity-heard]
        [--listeners-cache runs/bench-dnn/listeners.json] [--out runs/bench-dnn] [--figure docs/dnn_compensator.png]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from compensation.comfort import ListenerComfort
from compensation.comparison import VOLUME_CONTROL, compare_with_volume_control
from compensation.dnn_training import TRAIN_CLASSES, corpus_audio
from compensation.listener_statistics import bootstrap_mean, paired_difference
from compensation.objective import NeuralFidelityObjective
from compensation.population import ListenerSpec, clinical_audiogram
from compensation.registry import get_strategy
from compensation.selectivity import SelectivityConfig, SelectivityObjective
from compensation.selectivity_comparison import NH_REFERENCE, compare_selectivity, nh_selectivity
from runners.cli_support import build_listeners, parse_strata
from simulator import load_model
from simulator.atomic_io import atomic_savefig, atomic_write_text
from simulator.model.animals import nh_reference_nu

STRATEGIES: tuple[str, ...] = ("nalr", "wdrc", "dnn")
LABELS: dict[str, str] = {
    "nalr": "NAL-R", "wdrc": "WDRC", "dnn": "DNN (audiogram)", "dnn_nu_oracle": "DNN nu-oracle (upper bound)",
    VOLUME_CONTROL: "volume control",
}  # fmt: skip
IMPAIRED: tuple[str, ...] = ("mild", "moderate", "severe")
METRICS: tuple[str, ...] = ("fr", "fr_matched", "benefit", "benefit_matched", "sel", "sel_matched", "above_comfort")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listeners-from", choices=("cohort", "animals"), default="cohort",
                   help="cohort: drawn from the nu population; animals: the model's training animals")  # fmt: skip
    p.add_argument("--n-listeners", type=int, default=32, help="held-out listeners drawn (when --strata is empty)")
    p.add_argument("--strata", default="", help="a stratified held-out cohort instead, e.g. mild=4,moderate=4")
    p.add_argument("--nh", type=int, default=2, help="NH listeners, reported apart")
    p.add_argument("--cohort-seed", type=int, default=7001, help="held-out cohort seed (training used 5001)")
    p.add_argument("--sound-seed", type=int, default=9001, help="held-out sound seed")
    p.add_argument("--per-class", type=int, default=1, help="sounds per class")
    p.add_argument("--duration", type=float, default=1.0, help="sound duration (s)")
    p.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated strategies")
    p.add_argument("--no-selectivity", action="store_true", help="fidelity only")
    p.add_argument("--selectivity-heard", action="store_true", help="also score selectivity as heard")
    p.add_argument("--test-per-class", type=int, default=1, help="selectivity test tokens per class and task")
    p.add_argument("--listeners-cache", default="", help="JSON of the held-out listeners (written, or read if there)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--out", default="runs/bench-dnn", help="output directory")
    p.add_argument("--figure", default="docs/dnn_compensator.png", help="copy of the figure ('' for none)")
    return p.parse_args()


def held_out_listeners(model, args) -> list[ListenerSpec]:
    """The held-out listeners scored (mild to severe, and ``--nh`` NH), from ``--listeners-cache`` when it holds this
    cohort."""
    if args.listeners_from == "animals":
        drawn = build_listeners(model, source="animals", n=0, seed=0, strata=None, cohort_file=None,
                                animal_statuses=("NH", "HI"))  # fmt: skip
        return [s for s in drawn if s.stratum == "NH"][: args.nh] + [s for s in drawn if s.stratum in IMPAIRED]
    strata = parse_strata(args.strata)
    if strata is not None and args.nh:
        strata = {"NH": args.nh, **strata}
    n = args.n_listeners if strata is None else sum(strata.values())
    key = {"seed": args.cohort_seed, "strata": strata, "n": n}
    cache = Path(args.listeners_cache) if args.listeners_cache else None
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text())
        if data["key"] == key:
            return [ListenerSpec(d["id"], np.asarray(d["nu"]), d["audiogram"], d["stratum"]) for d in data["listeners"]]
    drawn = build_listeners(model, source="cohort", n=n, seed=args.cohort_seed, strata=strata, cohort_file=None)
    specs = [s for s in drawn if s.stratum == "NH"][: args.nh] + [s for s in drawn if s.stratum in IMPAIRED]
    if cache is not None:
        rows = [{"id": s.id, "nu": s.nu.tolist(), "audiogram": s.audiogram, "stratum": s.stratum} for s in specs]
        atomic_write_text(cache, json.dumps({"key": key, "listeners": rows}))
    return specs


def score_listener(objective, selectivity, lis, strategies, clean, target, sel_heard: bool = False) -> dict:
    """One listener's per-strategy means (:data:`METRICS`) and the volume-control gain."""
    audiogram = clinical_audiogram(lis.audiogram)
    thetas = {n: s.prescribe_for(audiogram, lis.nu) if s.n_params else None for n, s in strategies.items()}
    with torch.no_grad():
        aided = {n: s(clean, thetas[n]) for n, s in strategies.items()}
    comfort = ListenerComfort.from_audiogram(lis.audiogram)  # its own perception: the true audiogram
    comp = compare_with_volume_control(objective, clean, lis.nu, aided, comfort.loudness, comfort.comfort,
                                       target=target)  # fmt: skip
    summary = comp.summary()
    row = {"id": lis.id, "stratum": lis.stratum, "pta_db_hl": lis.pta, "volume_gain_db": comp.volume.gain_db}
    for name, scores in summary.items():
        row[name] = {k: scores[k] for k in ("fr", "fr_matched", "benefit", "benefit_matched", "above_comfort")}
        row[name]["loudness_phon"] = scores["loudness_phon"]
    if selectivity is not None:
        processes = {n: (lambda tok, s=s, th=thetas[n]: s(tok, th)) for n, s in strategies.items()}
        sel = compare_selectivity(selectivity, lis.nu, processes, comfort, volume_gain_db=comp.volume.gain_db,
                                  as_heard=sel_heard)  # fmt: skip
        for name, tasks in sel.items():
            if sel_heard:
                row[name]["sel"] = float(np.mean([t["accuracy"] for t in tasks.values()]))
            row[name]["sel_matched"] = float(np.mean([t["accuracy_matched"] for t in tasks.values()]))
            row[name]["sel_tasks_matched"] = {task: t["accuracy_matched"] for task, t in tasks.items()}
    return row


def group(rows: list[dict], names: list[str]) -> dict:
    """Per strategy and metric: the mean over listeners with its interval; per strategy the paired gains over the
    volume control."""
    out: dict = {"n": len(rows), "strategies": {}, "over_volume_control": {}}
    if not rows:
        return out
    for name in [*names, VOLUME_CONTROL]:
        out["strategies"][name] = {
            m: bootstrap_mean([r[name][m] for r in rows]).to_dict() for m in METRICS if m in rows[0][name]
        }
    for name in names:
        out["over_volume_control"][name] = {
            m: paired_difference([r[name][m] for r in rows], [r[VOLUME_CONTROL][m] for r in rows]).to_dict()
            for m in ("fr", "fr_matched", "benefit_matched", "sel", "sel_matched")
            if m in rows[0][name]
        }
    return out


def _cell(g: dict | None) -> str:
    if g is None:
        return "-"
    if not np.isfinite(g["low"]):
        return f"{g['mean']:+.3f}"
    return f"{g['mean']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]"


def markdown(result: dict) -> str:
    """The report tables (impaired listeners; NH apart)."""
    hi, nh = result["impaired"], result["nh"]
    cols = [("fr_matched", "FR matched"), ("fr", "FR as heard"), ("sel_matched", "selectivity matched"),
            ("sel", "selectivity as heard")]  # fmt: skip
    strata = []
    for name in ("NH", *IMPAIRED):
        pta = [r["pta_db_hl"] for r in result["listeners"] if r["stratum"] == name]
        if pta:
            strata.append(f"{name} {len(pta)} (PTA {min(pta):.1f}-{max(pta):.1f} dB HL)")
    lines = [f"Held-out impaired listeners (n = {hi['n']}): mean over listeners [95 % BCa interval]; "
             f"listeners by stratum: {', '.join(strata)}", "",
             "| strategy | " + " | ".join(c[1] for c in cols) + " |", "|---|" + "---:|" * len(cols)]  # fmt: skip
    for name, stats in hi["strategies"].items():
        lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(_cell(stats.get(c)) for c, _ in cols) + " |")
    lines += ["", "Gain over the volume control (paired over listeners; positive = better):", "",
              "| strategy | " + " | ".join(c[1] for c in cols) + " |", "|---|" + "---:|" * len(cols)]  # fmt: skip
    for name, stats in hi["over_volume_control"].items():
        lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(_cell(stats.get(c)) for c, _ in cols) + " |")
    if nh["n"]:
        lines += ["", f"NH listeners (n = {nh['n']}, kept apart): benefit (D(unaided) - D) / D_0", "",
                  "| strategy | benefit matched | benefit as heard |", "|---|---:|---:|"]  # fmt: skip
        for name, stats in nh["strategies"].items():
            cells = f"{_cell(stats['benefit_matched'])} | {_cell(stats['benefit'])}"
            lines.append(f"| {LABELS.get(name, name)} | {cells} |")
    if result.get("nh_reference_selectivity"):
        ref = result["nh_reference_selectivity"]
        lines += ["", f"{NH_REFERENCE} selectivity (ceiling): mean accuracy {np.mean(list(ref.values())):.3f}"]
    return "\n".join(lines) + "\n"


def plot(result: dict, rows: list[dict], path: Path) -> None:
    """Per-listener FR and selectivity at matched loudness (dots) with group means and intervals (bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hi = [r for r in rows if r["stratum"] in IMPAIRED]
    names = list(result["impaired"]["strategies"])
    metrics = [("fr_matched", "fidelity restored at matched loudness")]
    if "sel_matched" in hi[0][names[0]]:
        metrics.append(("sel_matched", "selectivity (accuracy) at matched loudness"))
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.5 * len(metrics), 4.2), squeeze=False)
    for ax, (metric, title) in zip(axes[0], metrics, strict=True):
        for i, name in enumerate(names):
            vals = [r[name][metric] for r in hi]
            ax.scatter(np.full(len(vals), i) + np.linspace(-0.15, 0.15, len(vals)), vals, s=10, alpha=0.5)
            g = result["impaired"]["strategies"][name][metric]
            ax.errorbar(i, g["mean"], yerr=[[g["mean"] - g["low"]], [g["high"] - g["mean"]]], fmt="k_", capsize=6)
        ax.set_xticks(range(len(names)), [LABELS.get(n, n) for n in names], rotation=20, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Held-out impaired listeners (n = {len(hi)}): per listener and mean [95 % CI]", fontsize=10)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    model = load_model()
    ref = nh_reference_nu(model)
    listeners = held_out_listeners(model, args)
    t_listeners = time.time() - t0
    names = [n.strip() for n in args.strategies.split(",") if n.strip()]
    strategies = {n: get_strategy(n) for n in names}
    clean, _, _ = corpus_audio(args.sound_seed, args.per_class, args.duration, (50.0, 80.0), TRAIN_CLASSES)
    objective = NeuralFidelityObjective(model, ref)
    with torch.no_grad():
        target = objective.target(clean)
    config = SelectivityConfig(test_per_class=args.test_per_class)
    selectivity = None if args.no_selectivity else SelectivityObjective(model, ref, config)
    rows = [score_listener(objective, selectivity, lis, strategies, clean, target, args.selectivity_heard)
            for lis in tqdm(listeners, desc="held-out listeners")]  # fmt: skip
    result = {
        "impaired": group([r for r in rows if r["stratum"] in IMPAIRED], names),
        "nh": group([r for r in rows if r["stratum"] == "NH"], names),
        "nh_reference_selectivity": None if selectivity is None else
        {t: s["accuracy"] for t, s in nh_selectivity(selectivity).items()},
        "listeners": rows,
        "config": {**vars(args), "sounds": int(clean.shape[0]), "listener_seconds": round(t_listeners, 1),
                   "seconds": round(time.time() - t0, 1), "torch": torch.__version__},
    }  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps(result, indent=1))
    table = markdown(result)
    atomic_write_text(out / "table.md", table)
    if any(r["stratum"] in IMPAIRED for r in rows):
        plot(result, rows, out / "dnn_vs_volume.png")
        if args.figure:
            plot(result, rows, Path(args.figure))
    print(table)
    print(f"{len(rows)} listeners ({t_listeners:.0f} s to build), {clean.shape[0]} sounds; {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
