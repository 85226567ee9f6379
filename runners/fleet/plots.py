"""Figures of a fleet report (matplotlib, Agg): audiograms, fidelity restored, HITL convergence, a neurogram.

Each function takes the run's tidy results (a ``pyarrow.Table`` with :data:`runners.fleet.pipeline.COLUMNS`) and
writes one PNG; it returns the path, or None when the run has no data for that figure (e.g. HITL switched off).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from listeners.plots import STRATUM_COLOURS
from simulator.atomic_io import atomic_savefig


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    """Lay out, write (PNG, 110 dpi) and close ``fig``; returns ``path``."""
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    _plt().close(fig)
    return path


def rows(table: Any, step: str, metric: str) -> list[dict[str, Any]]:
    """The rows of ``table`` with the given step and metric, as dicts."""
    import pyarrow.compute as pc

    mask = pc.and_(pc.equal(table["step"], step), pc.equal(table["metric"], metric))
    return table.filter(mask).to_pylist()


METHOD_NAMES = {"gppta": "GP-PTA", "hw": "modified Hughson-Westlake"}
"""Report names of the fleet's audiometry methods (``[audiometry] method``)."""


def plot_audiograms(table: Any, path: Path, max_listeners: int = 16, method: str = "gppta") -> Path | None:
    """The audiogram estimate vs the neurometric truth, one panel per listener: GP-PTA with its 95 % posterior band
    (+-1.96 SD); Hughson-Westlake's thresholds as points (no band: the procedure has no posterior)."""
    est, sd, true = (rows(table, "audiometry", m) for m in
                     ("threshold_estimate_db_hl", "threshold_sd_db", "threshold_true_db_hl"))  # fmt: skip
    if not est:
        return None
    by: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for name, rs in (("est", est), ("sd", sd), ("true", true)):
        for r in rs:
            by[r["listener"]][name].append((r["freq_hz"], r["value"]))
    strata = {r["listener"]: r["stratum"] for r in est}
    names = list(by)[:max_listeners]
    cols = min(4, len(names))
    n_rows = math.ceil(len(names) / cols)
    plt = _plt()
    fig, axes = plt.subplots(n_rows, cols, figsize=(3.2 * cols, 2.8 * n_rows), squeeze=False, sharey=True)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names, strict=False):
        f_e, v_e = np.array(sorted(by[name]["est"])).T
        _, v_s = np.array(sorted(by[name]["sd"])).T
        f_t, v_t = np.array(sorted(by[name]["true"])).T
        ax.plot(f_t, v_t, "k-", lw=1.5, label="neurometric truth")
        if method == "gppta":
            ax.errorbar(
                f_e, v_e, yerr=1.96 * v_s, fmt="o", ms=4, capsize=2, color="tab:blue", label="GP-PTA, 95 % band"
            )
        else:
            ax.plot(f_e, v_e, "o", ms=4, color="tab:blue", label=METHOD_NAMES.get(method, method))
        ax.set_xscale("log")
        ax.set_xticks([250, 500, 1000, 2000, 4000, 8000], ["250", "500", "1k", "2k", "4k", "8k"])
        ax.minorticks_off()
        ax.set_title(f"{name} ({strata[name]})", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].invert_yaxis()
    axes[0, 0].set_ylabel("threshold (dB HL)")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Audiogram estimates ({METHOD_NAMES.get(method, method)}) vs neurometric truth")
    return _save(fig, path)


NH_STRATUM = "NH"
"""Listeners of this stratum are reported apart: their unaided distance is tiny, so fidelity restored is no measure for
them; their panel shows the benefit (:func:`compensation.benefit`)."""


def _strip(ax: Any, data: list[dict[str, Any]], strategies: list[str], title: str, ylabel: str) -> None:
    """One dot per listener (coloured by stratum) and a box per strategy."""
    rng = np.random.default_rng(0)
    for i, s in enumerate(strategies):
        vals = [r for r in data if r["strategy"] == s]
        if not vals:
            continue
        y = np.array([r["value"] for r in vals])
        ax.boxplot([y], positions=[i], widths=0.5, showfliers=False)
        x = i + rng.uniform(-0.15, 0.15, len(vals))
        ax.scatter(x, y, c=[STRATUM_COLOURS.get(r["stratum"], "grey") for r in vals], s=18, zorder=3)
    ax.axhline(0.0, color="k", lw=0.8, ls="--")
    ax.set_xticks(range(len(strategies)), strategies, rotation=20, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.grid(alpha=0.3, axis="y")


def plot_fidelity(table: Any, path: Path) -> Path | None:
    """Per strategy (the volume control included): fidelity restored of the hearing-impaired listeners as heard and at
    matched loudness, and the NH listeners' benefit, apart; one dot per listener, coloured by severity stratum."""
    data = rows(table, "evaluation", "fidelity_restored_mean")
    if not data:
        return None
    strategies = list(dict.fromkeys(r["strategy"] for r in data))
    matched = rows(table, "evaluation", "fidelity_restored_matched_mean")
    benefit = [r for r in rows(table, "evaluation", "benefit_mean") if r["stratum"] == NH_STRATUM]
    panels = [
        ([r for r in data if r["stratum"] != NH_STRATUM], "hearing-impaired: as heard", "fidelity restored"),
        ([r for r in matched if r["stratum"] != NH_STRATUM], "hearing-impaired: matched loudness", "fidelity restored"),
    ]
    if benefit:
        panels.append((benefit, "NH listeners: benefit as heard", "benefit (D_u - D_a) / D_0"))
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(len(panels) * (1.0 * len(strategies) + 1.6), 3.8))
    for ax, (values, title, ylabel) in zip(np.atleast_1d(axes), panels, strict=True):
        _strip(ax, values, strategies, title, ylabel)
    present = {r["stratum"] for r in data}
    for stratum, colour in STRATUM_COLOURS.items():
        if stratum in present:
            np.atleast_1d(axes)[0].scatter([], [], c=colour, s=18, label=stratum)
    np.atleast_1d(axes)[0].legend(fontsize=7, title="stratum", title_fontsize=7)
    return _save(fig, path)


def plot_hitl(table: Any, path: Path) -> Path | None:
    """Fraction of the oracle improvement reached by the session's incumbent against queries (median and listeners)."""
    data = rows(table, "hitl", "fraction_of_oracle")
    if not data:
        return None
    curves: dict[str, dict[int, float]] = defaultdict(dict)
    for r in data:
        curves[r["listener"]][r["query"]] = r["value"]
    queries = sorted({q for c in curves.values() for q in c})
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    mat = np.array([[c.get(q, np.nan) for q in queries] for c in curves.values()], dtype=float)
    for line in mat:
        ax.plot(queries, line, color="grey", alpha=0.4, lw=1)
    with np.errstate(all="ignore"):
        if np.isfinite(mat).any():
            ax.plot(queries, np.nanmedian(mat, axis=0), color="tab:blue", lw=2.2, label="median over listeners")
    ax.axhline(0.9, color="tab:red", ls="--", lw=1, label="90 % of oracle")
    ax.set_xlabel("queries")
    ax.set_ylabel("fraction of oracle improvement")
    ax.set_ylim(-0.5, 1.2)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_neurogram(panels: list[tuple[str, np.ndarray]], path: Path, bin_rate: float) -> Path:
    """Expected spike counts (channels x bins) side by side, e.g. NH/clean, listener/unaided, listener/aided."""
    plt = _plt()
    vmax = max(float(np.max(p)) for _, p in panels) or 1.0
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2), sharey=True, squeeze=False)
    for ax, (title, counts) in zip(axes[0], panels, strict=True):
        im = ax.imshow(counts, aspect="auto", origin="lower", cmap="magma", vmin=0.0, vmax=vmax,
                       extent=(0.0, counts.shape[1] / bin_rate, -0.5, counts.shape[0] - 0.5))  # fmt: skip
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("time (s)")
    axes[0, 0].set_ylabel("channel")
    fig.colorbar(im, ax=axes[0].tolist(), label="expected spikes / bin", shrink=0.9)
    atomic_savefig(fig, path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
