"""Agreement between the model's and the generator's fidelity restored over a ground-truth loop's strategy grid.

From the rows of :func:`compensation.ground_truth.ground_truth_loop`, per cohort (and hearing status), with FR of an
(animal, condition) the mean over sounds:

* **Pearson r** of model FR against generator FR over every (animal, condition);
* **rank Spearman per animal**: Spearman's rho of the conditions' FR, model against generator, for each animal (does
  the model order the strategies as the animal would?); the median over animals is the headline;
* **rank Spearman per condition**: Spearman's rho over animals of one condition's FR (does the model tell which
  animals a strategy helps most?);
* **best-strategy agreement**: the fraction of animals whose best condition is the same on both sides, and the regret,
  generator FR of the generator's best minus that of the model's pick (0 when the model's pick is as good).

:func:`write_loop_results` writes ``results.parquet`` (rows), ``per_condition.parquet``, ``agreement.json``,
``summary.md`` and ``ground_truth.png`` atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import pearsonr, spearmanr

from simulator.atomic_io import atomic_savefig, atomic_write_table, atomic_write_text
from simulator.errors import HearloopInputError

__all__ = ["agreement", "condition_means", "summary_markdown", "write_loop_results"]


def condition_means(table) -> dict[tuple[str, str, str, str], tuple[float, float, float]]:
    """``{(cohort, status, animal, condition): (model FR, generator FR, level re NAL-R)}``, means over sounds."""
    data = table.to_pydict()
    groups: dict[tuple[str, str, str, str], list[int]] = {}
    for i, key in enumerate(zip(data["cohort"], data["status"], data["animal"], data["condition"], strict=True)):
        groups.setdefault(key, []).append(i)
    return {
        key: tuple(float(np.mean([data[c][i] for i in idx])) for c in ("fr_model", "fr_generator", "level_re_nalr_db"))
        for key, idx in groups.items()
    }


def _rho(x: Sequence[float], y: Sequence[float], method) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(method(x, y)[0])


def _group_agreement(means: dict, animals: list[str], conditions: list[str]) -> dict[str, Any]:
    """Agreement figures of one group (one cohort x status)."""
    model = np.array([[means[a][c][0] for c in conditions] for a in animals])
    gen = np.array([[means[a][c][1] for c in conditions] for a in animals])
    per_animal = {a: _rho(model[i], gen[i], spearmanr) for i, a in enumerate(animals)}
    per_condition = {c: _rho(model[:, j], gen[:, j], spearmanr) for j, c in enumerate(conditions)}
    pick_model, pick_gen = model.argmax(1), gen.argmax(1)
    regret = gen.max(1) - gen[np.arange(len(animals)), pick_model]
    finite = [v for v in per_animal.values() if np.isfinite(v)]
    return {
        "n_animals": len(animals),
        "n_conditions": len(conditions),
        "pearson_r": _rho(model.ravel(), gen.ravel(), pearsonr),
        "median_spearman_per_animal": float(np.median(finite)) if finite else float("nan"),
        "spearman_per_animal": per_animal,
        "spearman_per_condition": per_condition,
        "best_agreement": float(np.mean(pick_model == pick_gen)),
        "median_regret": float(np.median(regret)),
        "best_model": {a: conditions[k] for a, k in zip(animals, pick_model, strict=True)},
        "best_generator": {a: conditions[k] for a, k in zip(animals, pick_gen, strict=True)},
        "best_fr_generator": {a: float(gen[i].max()) for i, a in enumerate(animals)},
    }


def agreement(table) -> dict[str, dict[str, Any]]:
    """Agreement per ``"<cohort>/<status>"`` group (see the module docstring); conditions every animal of the group
    has (``hitl`` only where all have one)."""
    means = condition_means(table)
    groups: dict[str, dict[str, dict[str, tuple[float, float, float]]]] = {}
    for (cohort, status, animal, condition), value in means.items():
        groups.setdefault(f"{cohort}/{status}", {}).setdefault(animal, {})[condition] = value
    if not groups:
        raise HearloopInputError("the ground-truth table has no rows")
    out = {}
    for group, by_animal in sorted(groups.items()):
        animals = sorted(by_animal)
        conditions = [c for c in by_animal[animals[0]] if all(c in by_animal[a] for a in animals)]
        out[group] = _group_agreement(by_animal, animals, conditions)
    return out


def _condition_table(table, result: dict[str, dict[str, Any]]):
    """One row per (group, condition): median FR on both sides, median level re NAL-R, Spearman over animals."""
    import pyarrow as pa

    means = condition_means(table)
    rows: dict[str, list] = {k: [] for k in ("group", "condition", "median_fr_model", "median_fr_generator",
                                              "median_level_re_nalr_db", "spearman_over_animals")}  # fmt: skip
    for group, res in result.items():
        for condition, rho in res["spearman_per_condition"].items():
            vals = [v for (co, st, _, c), v in means.items() if f"{co}/{st}" == group and c == condition]
            rows["group"].append(group)
            rows["condition"].append(condition)
            rows["median_fr_model"].append(float(np.median([v[0] for v in vals])))
            rows["median_fr_generator"].append(float(np.median([v[1] for v in vals])))
            rows["median_level_re_nalr_db"].append(float(np.median([v[2] for v in vals])))
            rows["spearman_over_animals"].append(rho)
    return pa.table(rows)


def summary_markdown(table, result: dict[str, dict[str, Any]], title: str = "Ground-truth loop") -> str:
    """Markdown: the agreement figures per group, then median FR per condition on both sides."""
    intro = ("FR = 1 - D(aided)/D(unaided), through the model (animal's nu vs the NH reference nu) and on the "
             "generator (animal vs its NH twin); means over sounds per animal and condition.")  # fmt: skip
    lines = [f"# {title}", "", intro, ""]
    lines += ["| group | animals | conditions | Pearson r | median Spearman (per animal) | best agrees | "
              "median regret |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for group, r in result.items():
        lines.append(
            f"| {group} | {r['n_animals']} | {r['n_conditions']} | {r['pearson_r']:.3f} | "
            f"{r['median_spearman_per_animal']:.3f} | {r['best_agreement']:.2f} | {r['median_regret']:.3f} |"
        )
    lines += ["", "## Best condition per animal (model / generator, generator FR of its best)", ""]
    for group, r in result.items():
        cells = [f"{a}: {r['best_model'][a]} / {r['best_generator'][a]} ({r['best_fr_generator'][a]:.2f})"
                 for a in r["best_model"]]  # fmt: skip
        lines.append(f"- {group}: " + "; ".join(cells))
    per = _condition_table(table, result).to_pydict()
    lines += ["", "## Median FR per condition", "", "| group | condition | model | generator | level re NAL-R dB | "
              "Spearman over animals |", "|---|---|---|---|---|---|"]  # fmt: skip
    for i in range(len(per["group"])):
        lines.append(
            f"| {per['group'][i]} | {per['condition'][i]} | {per['median_fr_model'][i]:+.3f} | "
            f"{per['median_fr_generator'][i]:+.3f} | {per['median_level_re_nalr_db'][i]:+.1f} | "
            f"{per['spearman_over_animals'][i]:.2f} |"
        )
    return "\n".join(lines) + "\n"


def plot_loop(table, path: str | os.PathLike) -> Path:
    """Scatter of model vs generator FR per (animal, condition), and FR against flat gain per animal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    means = condition_means(table)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.5))
    cohorts = sorted({k[0] for k in means})
    for n, cohort in enumerate(cohorts):
        pts = np.array([v[:2] for k, v in means.items() if k[0] == cohort])
        ax0.scatter(pts[:, 1], pts[:, 0], s=12, alpha=0.7, color=f"C{n}", label=cohort)
    lo = min(0.0, *(min(v[:2]) for v in means.values()))
    ax0.plot([lo, 1], [lo, 1], "k:", lw=1)
    ax0.set(xlabel="FR on the generator", ylabel="FR through the model", title="per animal x condition")
    ax0.legend()
    animals = sorted({k[:3] for k in means if k[1] != "NH"})
    for n, key in enumerate(animals):
        flat = sorted((v[2], v[0], v[1]) for k, v in means.items() if k[:3] == key and k[3].startswith("flat"))
        if flat:
            x, m, g = (np.array(col) for col in zip(*flat, strict=True))
            ax1.plot(x, g, "-", color=f"C{n % 10}", lw=1.2, label=f"{key[0]} {key[2]}")
            ax1.plot(x, m, "--", color=f"C{n % 10}", lw=1.0)
    ax1.set(xlabel="level re NAL-R output, dB(A)", ylabel="FR", title="flat gain: generator (—) vs model (--)")
    if animals:
        ax1.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    out = atomic_savefig(fig, path, dpi=120)
    plt.close(fig)
    return out


def write_loop_results(table, out_dir: str | os.PathLike, *, plots: bool = True, config: dict | None = None) -> Path:
    """Write the loop's results into ``out_dir`` (module docstring); returns it. ``config`` goes into the JSON."""
    out = Path(out_dir)
    result = agreement(table)
    atomic_write_table(out / "results.parquet", table)
    atomic_write_table(out / "per_condition.parquet", _condition_table(table, result))
    payload = {"config": config or {}, "agreement": result}
    atomic_write_text(out / "agreement.json", json.dumps(payload, indent=2, allow_nan=True) + "\n")
    atomic_write_text(out / "summary.md", summary_markdown(table, result))
    if plots:
        plot_loop(table, out / "ground_truth.png")
    return out
