"""The nu-fitting loss over the plane of the two principal components of nu ([Pellatt2025]_, Fig. 4).

The principal axes are those of the training animals' learned nu (centred at their mean); the loss of a new animal is
mapped on a grid in that plane (other directions held at the centre, nu clipped to [0, 1]), and fitted points are
projected onto it, as in the paper's picture of the fitting landscape.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from listeners.fit_objective import NuFitObjective

__all__ = ["LossSurface", "loss_surface", "principal_axes"]


def principal_axes(nus: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(centre D, axes 2 x D, explained-variance ratios 2)`` of ``K x D`` nu values (SVD of the centred values)."""
    nus = np.asarray(nus, dtype=np.float64)
    centre = nus.mean(axis=0)
    _, s, vt = np.linalg.svd(nus - centre, full_matrices=False)
    var = s**2
    ratio = var[:2] / var.sum() if var.sum() > 0 else np.zeros(2)
    axes = vt[:2]
    if axes.shape[0] < 2:  # fewer than 2 non-degenerate directions: complete with an orthogonal unit vector
        extra = np.eye(nus.shape[1])[np.argmin(np.abs(axes[0]))]
        extra = extra - axes[0] * (axes[0] @ extra)
        axes = np.vstack([axes, extra / np.linalg.norm(extra)])
    return centre, axes, ratio


@dataclass
class LossSurface:
    """Loss on a PC1 x PC2 grid: ``a`` (G1), ``b`` (G2), ``loss`` (G2 x G1); ``centre``/``axes`` define the plane."""

    a: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    centre: np.ndarray
    axes: np.ndarray
    explained: np.ndarray

    def project(self, nus: np.ndarray) -> np.ndarray:
        """``N x 2`` coordinates of ``N x D`` nu values in the plane."""
        return (np.atleast_2d(nus) - self.centre) @ self.axes.T


def loss_surface(
    objective: NuFitObjective,
    basis_nus: np.ndarray,
    extra_nus: np.ndarray | None = None,
    n_grid: int = 11,
    progress: bool = False,
) -> LossSurface:
    """Map ``objective`` over the plane of the two principal components of ``basis_nus``.

    Args:
        objective: the animal's loss.
        basis_nus: ``K x D`` nu defining the plane (the training animals' nu).
        extra_nus: ``N x D`` points the grid must cover (fitted points), besides ``basis_nus``.
        n_grid: grid points per axis.
        progress: a tqdm bar over the grid's rows (``n_grid`` loss evaluations each).
    """
    centre, axes, ratio = principal_axes(basis_nus)
    pts = np.asarray(basis_nus) if extra_nus is None else np.vstack([basis_nus, np.atleast_2d(extra_nus)])
    coords = (pts - centre) @ axes.T
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    pad = 0.25 * np.maximum(hi - lo, 0.1)
    a = np.linspace(lo[0] - pad[0], hi[0] + pad[0], n_grid)
    b = np.linspace(lo[1] - pad[1], hi[1] + pad[1], n_grid)
    aa, bb = np.meshgrid(a, b)
    grid = np.clip(centre + aa.reshape(-1, 1) * axes[0] + bb.reshape(-1, 1) * axes[1], 0.0, 1.0)
    rows = tqdm(range(n_grid), desc="loss surface", unit="row", disable=not progress)
    loss = np.stack([objective.losses(grid[i * n_grid : (i + 1) * n_grid]) for i in rows])
    return LossSurface(a, b, loss, centre, axes, ratio)
