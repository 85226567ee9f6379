"""``render()`` of the fitting environment: NH target, unaided and aided neurograms as an RGB array.

Draws, for the first sound of the episode's batch, the expected spike counts (``channels x bins``, [Pellatt2025]_ Fig. 3
style, channels ordered by estimated CF) of

1. the NH reference listener hearing the clean sound (the target),
2. the listener hearing the clean sound (unaided),
3. the listener hearing the aided sound (current parameters),

on one colour scale, titled with the distance and fidelity restored. Uses matplotlib's Agg canvas directly (no pyplot
state, no display) and returns ``height x width x 3`` uint8.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import numpy as np
import torch

from runners.env.core import EpisodeState, FittingCore
from simulator.constants import BIN_RATE
from simulator.model.spikes import expected_counts


def neurogram_panels(core: FittingCore, state: EpisodeState) -> dict[str, np.ndarray]:
    """``{"NH target", "unaided", "aided"}`` -> ``channels x bins`` expected counts (CF-ordered) of the first sound."""
    clean = state.clean[:1]
    theta = core.strategy.from_normalized(torch.as_tensor(state.theta_u, device=core.model.device))
    with torch.no_grad():
        aided = core.strategy(clean, theta)
        panels = {
            "NH target (clean)": expected_counts(state.target[:1]),
            "listener, unaided": expected_counts(state.scoring.objective.response(clean, state.nu)),
            "listener, aided": expected_counts(state.scoring.objective.response(aided, state.nu)),
        }
    order = torch.as_tensor(state.scoring.bands.order)
    return {k: v[0][order].cpu().double().numpy() for k, v in panels.items()}


def render_rgb(core: FittingCore, state: EpisodeState, width_px: int = 720, height_px: int = 540) -> np.ndarray:
    """The three-panel neurogram figure as a ``height x width x 3`` uint8 array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = neurogram_panels(core, state)
    vmax = max(max(float(np.percentile(p, 99.5)) for p in panels.values()), 0.05)
    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, sharex=True)
    last = state.last
    fig.suptitle(
        f"{state.listener.id} | {core.corpus.names[state.sound_idx[0]]} | step {state.steps} | "
        f"D={last.get('distance', float('nan')):.3g} FR={last.get('fidelity_restored', float('nan')):+.3f}",
        fontsize=9,
    )
    image = None
    for ax, (title, counts) in zip(axes, panels.items(), strict=True):
        extent = (0.0, counts.shape[1] / BIN_RATE, -0.5, counts.shape[0] - 0.5)
        image = ax.imshow(counts, aspect="auto", origin="lower", extent=extent, cmap="magma", vmin=0.0, vmax=vmax)
        ax.set_title(title, fontsize=8)
        ax.set_ylabel("channel (CF order)", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("time (s)", fontsize=8)
    fig.colorbar(image, ax=list(axes), label="E[count] / 1.31 ms bin", shrink=0.8)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
