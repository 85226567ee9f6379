"""Plots of the strategy evaluation (:mod:`compensation.strategy_evaluation`): fidelity restored per stratum.

One panel per severity stratum; per strategy a box of fidelity restored at matched output loudness (pairs of listener
and sound) with the as-prescribed median marked beside it. Matplotlib with the Agg backend (no display needed).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from simulator.atomic_io import atomic_savefig

__all__ = ["plot_fidelity"]

_ORDER = ("NH", "mild", "moderate", "severe")


def plot_fidelity(table, path: str | os.PathLike) -> Path:
    """Box plots of ``fr_matched`` by strategy, one panel per stratum; writes a PNG and returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = table.to_pydict()
    strata = [s for s in _ORDER if s in set(data["stratum"])] + sorted(set(data["stratum"]) - set(_ORDER))
    strategies = list(dict.fromkeys(data["strategy"]))
    fig, axes = plt.subplots(1, len(strata), figsize=(3.2 * len(strata) + 1, 3.6), squeeze=False, sharey=True)
    for ax, stratum in zip(axes[0], strata, strict=True):
        boxes, medians_raw = [], []
        for name in strategies:
            idx = [i for i, (s, g) in enumerate(zip(data["stratum"], data["strategy"], strict=True))
                   if s == stratum and g == name]  # fmt: skip
            boxes.append([data["fr_matched"][i] for i in idx])
            medians_raw.append(float(np.median([data["fr"][i] for i in idx])) if idx else np.nan)
        ax.boxplot(boxes, showfliers=False)
        ax.plot(np.arange(1, len(strategies) + 1) + 0.3, medians_raw, "k^", ms=5, label="median, as prescribed")
        ax.set_xticks(np.arange(1, len(strategies) + 1), strategies, rotation=30)
        ax.axhline(0.0, color="0.6", lw=0.8)
        n_listeners = len({lis for lis, s in zip(data["listener"], data["stratum"], strict=True) if s == stratum})
        ax.set_title(f"{stratum} (n listeners={n_listeners})")
    axes[0][0].set_ylabel("fidelity restored (matched loudness)")
    axes[0][-1].legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    out = Path(path)
    try:
        atomic_savefig(fig, out, dpi=120)
    finally:
        plt.close(fig)
    return out
