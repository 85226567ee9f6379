"""Figures: the GP-PTA posterior over (frequency, level) as clinicians read audiograms ([CoxDeVries2015]_, Fig. 2), and
the accuracy-versus-trials benchmark figure. Matplotlib with the Agg backend; imported lazily by callers.

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from audiometry.warp import STANDARD_FREQS_HZ
from simulator.atomic_io import atomic_savefig


def _figure_target(ax_or_path: Any, figsize: tuple[float, float]):
    import matplotlib

    if ax_or_path is None or isinstance(ax_or_path, str | Path):
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax, ax_or_path
    return ax_or_path.figure, ax_or_path, None


def _audiogram_axes(ax, freq_range: tuple[float, float], level_range: tuple[float, float]) -> None:
    ax.set_xscale("log")
    ticks = [f for f in STANDARD_FREQS_HZ if freq_range[0] <= f <= freq_range[1]]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{f / 1000:g}k" if f >= 1000 else f"{f:g}" for f in ticks])
    ax.minorticks_off()
    ax.set_xlim(freq_range)
    ax.set_ylim(level_range[1], level_range[0])  # dB HL grows downward, as on a clinical audiogram
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("level (dB HL)")


def plot_posterior(agent: Any, ax_or_path: Any = None, true_curve: Any = None, n_levels: int = 200):
    """Posterior p(heard) over (frequency, level) with the trials and the threshold mean +/- 95% band.

    Args:
        agent: a ``GPPTA`` (image + band) or any procedure with trials/threshold (band only).
        ax_or_path: a matplotlib Axes to draw into, a path to save a PNG to, or None (new figure, returned).
        true_curve: optional callable freq_hz -> dB HL drawn for reference (simulations).
        n_levels: vertical resolution of the image.

    Returns:
        The matplotlib Figure.
    """
    fig, ax, path = _figure_target(ax_or_path, (7.0, 5.0))
    lo_f, hi_f = getattr(agent, "freq_range", (250.0, 8000.0))
    lo_l, hi_l = agent.level_range
    freqs = np.geomspace(lo_f, hi_f, 160)
    if hasattr(agent, "p_heard"):
        levels = np.linspace(lo_l, hi_l, n_levels)
        img = agent.p_heard(freqs, levels)
        mesh = ax.pcolormesh(freqs, levels, img, cmap="RdBu", vmin=0, vmax=1, shading="auto")
        fig.colorbar(mesh, ax=ax, label="p(heard)")
    mean, sd = agent.threshold(freqs)
    ax.plot(freqs, mean, color="k", lw=2, label="threshold mean")
    ax.fill_between(freqs, mean - 1.96 * sd, mean + 1.96 * sd, color="k", alpha=0.15, label="95% band")
    if true_curve is not None:
        ax.plot(freqs, true_curve(freqs), color="tab:green", lw=1.5, ls="--", label="true threshold")
    trials = agent.trials
    if trials:
        f = np.array([t.freq_hz for t in trials])
        lv = np.array([t.level_db_hl for t in trials])
        heard = np.array([t.heard for t in trials])
        ax.scatter(f[heard], lv[heard], marker="o", facecolor="white", edgecolor="k", s=28, label="heard", zorder=3)
        ax.scatter(f[~heard], lv[~heard], marker="x", color="k", s=28, label="missed", zorder=3)
    _audiogram_axes(ax, (lo_f, hi_f), (lo_l, hi_l))
    ax.set_title(f"{getattr(agent, 'method', 'audiometry')}: {len(trials)} trials")
    ax.legend(loc="lower left", fontsize=8)
    if path is not None:
        import matplotlib.pyplot as plt

        atomic_savefig(fig, path, dpi=120, bbox_inches="tight")
        plt.close(fig)
    return fig


def plot_benchmark(curves: dict[str, dict[str, np.ndarray]], calibration: dict[str, np.ndarray], path: str | Path):
    """MAE versus trials (median and IQR per method) and the calibration of GP-PTA's bands.

    Args:
        curves: method -> {"trials": (T,), "median": (T,), "q25": (T,), "q75": (T,)} MAE in dB.
        calibration: {"nominal": (K,), "empirical": (K,)} coverage of central posterior intervals at the end.
        path: PNG path.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.0, 4.2))
    for name, c in curves.items():
        ax1.plot(c["trials"], c["median"], lw=2, label=f"{name} (median)")
        ax1.fill_between(c["trials"], c["q25"], c["q75"], alpha=0.2)
    ax1.axhline(5.0, color="k", ls=":", lw=1, label="5 dB")
    ax1.set_xlabel("trials")
    ax1.set_ylabel("MAE at 250-8000 Hz (dB)")
    ax1.set_ylim(0, 30)
    ax1.legend()
    ax1.set_title("accuracy versus trials")
    ax2.plot([0, 1], [0, 1], color="k", ls=":", lw=1)
    ax2.plot(calibration["nominal"], calibration["empirical"], "o-", color="tab:blue", label="GP-PTA, end of session")
    ax2.set_xlabel("nominal coverage of central interval")
    ax2.set_ylabel("empirical coverage")
    ax2.set_title("calibration of the posterior bands")
    ax2.legend()
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)
