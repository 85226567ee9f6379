"""Figures of virtual listeners: the cohort's audiogram fan and the nu-fitting loss landscape ([Pellatt2025]_, Fig. 4).

Both draw with matplotlib's Agg backend into a file and return its path.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from listeners.loss_surface import LossSurface
from simulator.atomic_io import atomic_savefig

__all__ = ["plot_audiogram_fan", "plot_loss_surface"]

STRATUM_COLOURS = {
    "NH": "tab:green",
    "slight": "tab:olive",
    "mild": "tab:blue",
    "moderate": "tab:orange",
    "severe": "tab:red",
}
"""Colour of each severity stratum (:data:`listeners.population.STRATA`) in every plot."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_audiogram_fan(
    freqs_hz: Sequence[float],
    thresholds_db_hl: np.ndarray,
    strata: Sequence[str],
    path: str | Path,
    title: str = "Virtual listeners: neurometric audiograms",
) -> Path:
    """Audiogram fan: one neurometric audiogram per listener (dB HL, inverted axis), coloured by severity stratum,
    with each stratum's median drawn thick.

    Args:
        freqs_hz: ``F`` frequencies.
        thresholds_db_hl: ``L x F`` thresholds.
        strata: ``L`` stratum names.
        path: output image path.
    """
    plt = _pyplot()
    th = np.asarray(thresholds_db_hl, dtype=np.float64)
    f = np.asarray(freqs_hz, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for row, s in zip(th, strata, strict=True):
        ax.plot(f, row, color=STRATUM_COLOURS.get(s, "grey"), alpha=0.35, lw=1)
    for s, colour in STRATUM_COLOURS.items():
        rows = th[[x == s for x in strata]]
        if len(rows):
            ax.plot(f, np.median(rows, axis=0), color=colour, lw=2.5, marker="o", label=f"{s} (n={len(rows)})")
    ax.set_xscale("log")
    ax.set_xticks(f, [f"{v / 1000:g}k" if v >= 1000 else f"{v:g}" for v in f])
    ax.minorticks_off()
    ax.invert_yaxis()
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("threshold (dB HL re NH reference)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path = Path(path)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)
    return path


def plot_loss_surface(
    surface: LossSurface,
    path: str | Path,
    points: Mapping[str, np.ndarray] | None = None,
    animals: Mapping[str, np.ndarray] | None = None,
    title: str = "nu-fitting loss over the principal components of nu",
) -> Path:
    """Fig. 4-style map: the loss on the PC1 x PC2 plane, with fitted / evaluated nu projected onto it.

    Args:
        surface: from :func:`listeners.loss_surface.loss_surface`.
        path: output image path.
        points: label -> ``N x D`` nu (e.g. BO evaluations, the BO optimum, the gradient path, the target nu).
        animals: label -> ``D`` nu of training animals (the basis of the plane), drawn as reference markers.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    mesh = ax.contourf(surface.a, surface.b, surface.loss, levels=20, cmap="viridis")
    fig.colorbar(mesh, ax=ax, label="loss (cross-entropy, nats / channel-bin)")
    markers = ["o", "*", "x", "D", "s", "^"]
    for k, (label, nus) in enumerate((points or {}).items()):
        xy = surface.project(np.atleast_2d(nus))
        style = {"ls": "-", "lw": 1} if len(xy) > 1 and "path" in label else {"ls": "none"}
        ax.plot(xy[:, 0], xy[:, 1], marker=markers[k % len(markers)], ms=9 if len(xy) == 1 else 5, label=label, **style)
    for label, nu in (animals or {}).items():
        xy = surface.project(np.atleast_2d(nu))[0]
        ax.plot(*xy, marker="+", color="w", ms=8)
        ax.annotate(label, xy, color="w", fontsize=7, xytext=(3, 3), textcoords="offset points")
    ex = surface.explained
    ax.set_xlabel(f"PC1 of training nu ({100 * ex[0]:.0f}% var.)")
    ax.set_ylabel(f"PC2 ({100 * ex[1]:.0f}% var.)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    path = Path(path)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)
    return path
