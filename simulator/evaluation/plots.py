"""Neurogram figure: the sound waveform above the simulated IC activity (channels x time).

Shows the output of nu-ICNet ([Pellatt2025]_, Fig. 3/4k style): expected multi-unit spike counts E[count] = sum_k k p_k
per channel and 1.31 ms bin, drawn as an image with time in seconds, under the waveform in Pa. Uses matplotlib's Agg
backend (no display needed).

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from simulator.atomic_io import atomic_savefig
from simulator.constants import BIN_RATE, SAMPLE_RATE
from simulator.errors import HearloopInputError

__all__ = ["plot_neurogram"]


def plot_neurogram(
    audio: torch.Tensor | np.ndarray,
    counts: torch.Tensor | np.ndarray,
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
    channel_label: str = "channel",
    vmax: float | None = None,
    dpi: int = 120,
):
    """Draw the waveform above a neurogram of expected counts.

    Args:
        audio: ``samples`` (or ``1 x samples``) in Pa at SAMPLE_RATE.
        counts: ``channels x bins`` expected spike counts (e.g. :func:`simulator.model.spikes.expected_counts`).
        path: where to save the figure (PNG/PDF/SVG by extension); None returns the figure without saving.
        title: figure title.
        channel_label: y-axis label of the neurogram.
        vmax: upper end of the colour scale (default: the 99.5th percentile of the counts, at least 0.05).
        dpi: resolution of a saved raster image.

    Returns:
        the matplotlib Figure (closed after saving when ``path`` is given).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    wav = np.asarray(audio.detach().cpu() if isinstance(audio, torch.Tensor) else audio, dtype=np.float64).squeeze()
    img = np.asarray(counts.detach().cpu() if isinstance(counts, torch.Tensor) else counts, dtype=np.float64)
    if wav.ndim != 1:
        raise HearloopInputError(f"audio must be 1-D (samples), got shape {wav.shape}")
    if img.ndim != 2:
        raise HearloopInputError(f"counts must be (channels, bins), got shape {img.shape}")
    if not (np.isfinite(wav).all() and np.isfinite(img).all()):
        raise HearloopInputError("audio and counts must be finite")
    if vmax is None:
        vmax = max(float(np.percentile(img, 99.5)) if img.size else 0.0, 0.05)
    duration = wav.shape[0] / SAMPLE_RATE
    fig, (ax_w, ax_n) = plt.subplots(
        2, 1, figsize=(9, 5.5), sharex=True, gridspec_kw={"height_ratios": [1, 3]}, constrained_layout=True
    )
    ax_w.plot(np.arange(wav.shape[0]) / SAMPLE_RATE, wav, lw=0.5, color="0.2")
    ax_w.set_ylabel("pressure (Pa)")
    ax_w.set_xlim(0, max(duration, img.shape[1] / BIN_RATE))
    if title:
        ax_w.set_title(title)
    extent = (0.0, img.shape[1] / BIN_RATE, -0.5, img.shape[0] - 0.5)
    im = ax_n.imshow(
        img, aspect="auto", origin="lower", extent=extent, cmap="magma", vmin=0.0, vmax=vmax, interpolation="nearest"
    )
    ax_n.set_xlabel("time (s)")
    ax_n.set_ylabel(channel_label)
    fig.colorbar(im, ax=ax_n, label="expected spike count / 1.31 ms bin", shrink=0.9)
    if path is not None:
        atomic_savefig(fig, path, dpi=dpi)
        plt.close(fig)
    return fig
