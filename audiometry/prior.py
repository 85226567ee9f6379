"""GP prior of GP-PTA ([CoxDeVries2015]_, Sec. 3.1.2 and Sec. 6): threshold t(z) ~ GP(m, k) over the Bark-warped
frequency z.

- Mean m(z) = c0 + c1 z: linear regression in z on the AVERAGE of the standard audiograms of Bisgaard et al. (2010)
  (``data/bisgaard_2010.csv``; the file has no 8 kHz column, so the fit uses 250..6000 Hz), as in the paper's Sec. 6.
- Covariance k(z, z') = s^2 exp(-(z - z')^2 / (2 l^2)) + b^2: the paper's squared-exponential kernel (outputscale s,
  lengthscale l, both refit by marginal likelihood) plus a constant term b^2. The constant term is the "mean offset"
  hyperparameter treated the Bayesian way: an unknown offset of the whole curve with prior N(0, b^2), integrated out
  analytically instead of point-estimated (individual audiograms differ from the average mostly by an offset: across the
  Bisgaard set the offsets have SD ~26 dB while the residual shapes have SD ~9 dB; see ``bisgaard_offset_stats``).

An optional second, short-lengthscale SE term (``detail``, default 1 Bark / 3 dB in ``GPPTA``) lets the posterior admit
local corners and notches that one smooth SE cannot follow; without it the bands were overconfident on the steep
Bisgaard audiograms (95% bands covered ~82% of true thresholds instead of 95% in the benchmark).

The kernel is evaluated in numpy (the hot path has ~100 points; numpy beats a torch round trip there); it equals
``gpytorch.kernels.ScaleKernel(RBFKernel())`` + constant, which the tests check.

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass

import numpy as np

from audiometry.warp import hz_to_bark


def load_bisgaard() -> tuple[np.ndarray, list[str], np.ndarray]:
    """The Bisgaard (2010) standard audiograms.

    Returns:
        freqs_hz: (10,) column frequencies (250..6000 Hz).
        names: the 10 audiogram names (N1..N7, S1..S3).
        table: (10, 10) thresholds, dB HL, rows = audiograms.
    """
    text = importlib.resources.files("audiometry").joinpath("data/bisgaard_2010.csv").read_text()
    rows = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    freqs = np.array([float(v) for v in rows[0].split(",")[1:]])
    names, values = [], []
    for row in rows[1:]:
        cells = row.split(",")
        names.append(cells[0])
        values.append([float(v) for v in cells[1:]])
    return freqs, names, np.array(values)


@dataclass(frozen=True)
class LinearMean:
    """m(z) = intercept + slope * z, dB HL with z in Bark."""

    intercept: float
    slope: float

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.intercept + self.slope * np.asarray(z, dtype=float)

    @classmethod
    def from_bisgaard(cls) -> LinearMean:
        """Least-squares line in z through the average Bisgaard audiogram (Sec. 6 of the paper)."""
        freqs, _, table = load_bisgaard()
        z = hz_to_bark(freqs)
        slope, intercept = np.polyfit(z, table.mean(axis=0), 1)
        return cls(float(intercept), float(slope))


def bisgaard_offset_stats() -> tuple[float, float]:
    """SD of the per-audiogram offsets from the linear mean and SD of the remaining shapes (dB): the prior scales."""
    freqs, _, table = load_bisgaard()
    resid = table - LinearMean.from_bisgaard()(hz_to_bark(freqs))[None, :]
    offsets = resid.mean(axis=1)
    return float(offsets.std()), float((resid - offsets[:, None]).std())


def se_kernel(
    za: np.ndarray,
    zb: np.ndarray,
    lengthscale: float,
    outputscale: float,
    offset_sd: float,
    detail: tuple[float, float] | None = None,
) -> np.ndarray:
    """k(za, zb) = s^2 exp(-(za - zb)^2 / (2 l^2)) + b^2 [+ s_d^2 exp(-(za - zb)^2 / (2 l_d^2))].

    Args:
        za: (n,) Bark. zb: (m,) Bark.
        lengthscale: l, Bark. outputscale: s, dB (an SD, not a variance). offset_sd: b, dB.
        detail: optional fixed (l_d Bark, s_d dB) of a second, short-lengthscale SE term for local detail (corners,
            notches) that the smooth term cannot follow.

    Returns:
        (n, m) covariance, dB^2.
    """
    d = np.subtract.outer(np.asarray(za, dtype=float), np.asarray(zb, dtype=float))
    k = outputscale**2 * np.exp(-0.5 * (d / lengthscale) ** 2) + offset_sd**2
    if detail is not None and detail[1] > 0:
        k += detail[1] ** 2 * np.exp(-0.5 * (d / detail[0]) ** 2)
    return k


def se_kernel_grads(z: np.ndarray, lengthscale: float, outputscale: float) -> tuple[np.ndarray, np.ndarray]:
    """Derivatives of K(z, z) w.r.t. log lengthscale and log outputscale (the offset term is fixed).

    Returns:
        dK/dlog l, dK/dlog s: each (n, n).
    """
    d2 = np.subtract.outer(z, z) ** 2 / lengthscale**2
    k_se = outputscale**2 * np.exp(-0.5 * d2)
    return k_se * d2, 2.0 * k_se
