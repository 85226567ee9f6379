"""Training losses of nu-ICNet: cross-entropy, variational-conditioning KL and the ABR clustering penalty.

Implements the loss of eqs. (2) and (3) of [Pellatt2025]_:

    L = CE(y_hat, y) + beta * sum_k KL(N(nu_bar_k, diag(s_k^2)) || N(nu_bar_k, I/K))
        + [epoch < 10] * lam * mean_{i<j} r_ij * exp(-d_ij / delta_D)

All functions are differentiable torch code and run on any device.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from scipy import integrate, special

from simulator.constants import N_CLASSES
from simulator.errors import HearloopInputError
from simulator.model.spikes import validate_counts

__all__ = [
    "DEFAULT_BETA",
    "DEFAULT_CLUSTER_EPOCHS",
    "DEFAULT_LAMBDA",
    "NuICNetLoss",
    "abr_clustering_penalty",
    "conditioning_kl",
    "expected_unit_cube_distance",
    "spike_count_cross_entropy",
]

DEFAULT_BETA: float = 1e-3
"""Default KL weight beta. The value in the paper was lost in extraction, so it is chosen here: the cross-entropy is a
mean over bins (~0.3-1 nats per bin), while the KL is a *sum* over K animals x D parameters. Collapsing every s_k to a
tenth of the target SD 1/sqrt(K) costs ~1.8 nats per parameter, i.e. ~100 nats for K=9, D=6, which beta=1e-3 turns into
~0.1, a clear but non-dominant pull (10-30 % of the CE) that keeps the noise from collapsing and the nu space smooth,
while leaving the CE in charge of the fit. beta=1e-2 would let the prior dominate the data term."""

DEFAULT_LAMBDA: float = 0.1
"""Default clustering-penalty weight lam ("a small penalty" in the paper; value lost in extraction). The penalty is a
mean of products of two terms in [0, 1], so it is at most lam = 0.1, small next to a cross-entropy of ~0.3-1 nats."""

DEFAULT_CLUSTER_EPOCHS: int = 10
"""The clustering penalty applies for epochs 0..9 only (paper: "in the first 10 epochs")."""


def spike_count_cross_entropy(
    logits: torch.Tensor, counts: torch.Tensor, channel_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy between 5-class logits and recorded spike counts (first term of eq. (2) of [Pellatt2025]_).

    Args:
        logits: ``batch x channels x bins x 5`` unnormalised log-probabilities.
        counts: ``batch x channels x bins`` integer counts in 0..4.
        channel_weights: optional ``channels`` non-negative weights (e.g. to drop dead channels). The result is then the
            weighted mean sum_c w_c sum_{b,t} ce / (B T sum_c w_c), so uniform weights give the plain mean.

    Returns:
        Scalar mean cross-entropy in nats per bin.
    """
    if logits.dim() != 4 or logits.shape[-1] != N_CLASSES:
        raise HearloopInputError(f"logits must have shape (batch, channels, bins, 5); got {tuple(logits.shape)}")
    if tuple(counts.shape) != tuple(logits.shape[:-1]):
        raise HearloopInputError(
            f"counts shape {tuple(counts.shape)} does not match logits {tuple(logits.shape)} "
            f"(expected {tuple(logits.shape[:-1])})"
        )
    counts = validate_counts(counts).to(logits.device)
    ce = F.cross_entropy(logits.reshape(-1, N_CLASSES), counts.reshape(-1), reduction="none").view(counts.shape)
    if channel_weights is None:
        return ce.mean()
    w = torch.as_tensor(channel_weights, dtype=ce.dtype, device=ce.device)
    if w.shape != (logits.shape[1],):
        raise HearloopInputError(f"channel_weights must have shape ({logits.shape[1]},); got {tuple(w.shape)}")
    total = w.sum()
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or not float(total) > 0:
        raise HearloopInputError("channel_weights must be finite, non-negative and not all zero")
    per_channel = ce.mean(dim=(0, 2))
    return (per_channel * w).sum() / total


def conditioning_kl(s: torch.Tensor, n_animals: int | None = None) -> torch.Tensor:
    """Sum over animals of KL(N(nu_bar_k, diag(s_k^2)) || N(nu_bar_k, I/K)) (second term of eq. (2) of [Pellatt2025]_).

    Both Gaussians share the mean nu_bar_k, so the KL depends on the standard deviations only. Per parameter d,
    with sigma^2 = 1/K as the target variance:

        KL = 0.5 * (K s_kd^2 - 1 - log(K s_kd^2)),

    which is zero exactly at s_kd^2 = 1/K and positive otherwise. The log is taken as 2 log s + log K for stability.

    Args:
        s: ``animals x D`` positive standard deviations s_k of the conditioning noise.
        n_animals: K of the target covariance I/K; defaults to ``s.shape[0]`` (all animals of the model).

    Returns:
        Scalar KL in nats, summed over animals and parameters.
    """
    if s.dim() != 2:
        raise HearloopInputError(f"s must have shape (animals, D); got {tuple(s.shape)}")
    k = int(s.shape[0] if n_animals is None else n_animals)
    if k < 1:
        raise HearloopInputError(f"n_animals must be >= 1, got {k}")
    ks2 = k * s.square()
    log_ks2 = 2.0 * torch.log(s) + math.log(k)
    return 0.5 * (ks2 - 1.0 - log_ks2).sum()


def _mean_abs_cube_distance(dim: int) -> float:
    # E|U - V| = 1/3 for independent U, V ~ U(0, 1); the mean over dimensions keeps that value for every D.
    return 1.0 / 3.0


@lru_cache(maxsize=64)
def _euclidean_cube_distance(dim: int) -> float:
    # Hypercube line picking: E||X - Y||_2 for X, Y ~ U([0, 1]^D). Each coordinate difference Z has the triangular
    # density 1 - |z| on [-1, 1], with Laplace transform
    #     phi(t) = E exp(-t Z^2) = sqrt(pi/t) erf(sqrt t) - (1 - exp(-t)) / t.
    # Using sqrt(x) = 1/(2 sqrt(pi)) int_0^inf (1 - exp(-t x)) t^(-3/2) dt and independence of the coordinates:
    #     E sqrt(S) = 1/(2 sqrt(pi)) int_0^inf (1 - phi(t)^D) t^(-3/2) dt.
    def integrand(t: float) -> float:
        if t < 1e-8:  # phi(t) ~ 1 - t/6, so the integrand tends to D/6 * t^(-1/2)
            return dim / 6.0 * t**-0.5
        phi = math.sqrt(math.pi / t) * special.erf(math.sqrt(t)) - (-math.expm1(-t)) / t
        return -math.expm1(dim * math.log(phi)) * t**-1.5

    head, _ = integrate.quad(integrand, 0.0, 1.0, limit=200)
    tail, _ = integrate.quad(integrand, 1.0, math.inf, limit=200)
    return (head + tail) / (2.0 * math.sqrt(math.pi))


def expected_unit_cube_distance(dim: int, metric: str = "mean_abs") -> float:
    """delta_D: the expected distance between two independent uniform points of the unit hypercube [0, 1]^D.

    The distance must match the one used for d_ij in :func:`abr_clustering_penalty`, otherwise exp(-d_ij / delta_D)
    would change meaning with D. hearloop defines d_ij as the *mean absolute difference* of the animals' means (the
    per-parameter average of |nu_bar_i - nu_bar_j|), and the paper scales it by the expected distance in the unit cube
    "to ensure that the penalty is applied consistently for different sizes of D". With that d_ij the consistent
    delta_D is E[(1/D) sum_d |U_d - V_d|] = 1/3 exactly, for every D (default ``metric="mean_abs"``).

    Other metrics, for a d_ij measured differently:
        ``"l1"``: sum of absolute differences, delta_D = D/3 exactly.
        ``"euclidean"``: hypercube line picking, E||X - Y||_2 (1/3, 0.5214, 0.6617, ... for D = 1, 2, 3), computed by
        1-D quadrature of an exact integral representation (see ``_euclidean_cube_distance``), accurate to ~1e-10.

    Args:
        dim: dimension D >= 1.
        metric: ``"mean_abs"`` (default), ``"l1"`` or ``"euclidean"``.

    Returns:
        delta_D as a float.
    """
    dim = int(dim)
    if dim < 1:
        raise HearloopInputError(f"dimension D must be >= 1, got {dim}")
    if metric == "mean_abs":
        return _mean_abs_cube_distance(dim)
    if metric == "l1":
        return dim / 3.0
    if metric == "euclidean":
        return _euclidean_cube_distance(dim)
    raise HearloopInputError(f"unknown metric {metric!r}; use 'mean_abs', 'l1' or 'euclidean'")


def _pair_distances(nu_means: torch.Tensor, metric: str) -> torch.Tensor:
    diff = nu_means.unsqueeze(0) - nu_means.unsqueeze(1)  # K x K x D
    if metric == "mean_abs":
        return diff.abs().mean(-1)
    if metric == "l1":
        return diff.abs().sum(-1)
    if metric == "euclidean":
        # sqrt has an infinite gradient at 0 (the diagonal); the epsilon keeps the graph finite.
        return (diff.square().sum(-1) + 1e-12).sqrt()
    raise HearloopInputError(f"unknown metric {metric!r}; use 'mean_abs', 'l1' or 'euclidean'")


def abr_clustering_penalty(
    nu_means: torch.Tensor,
    abr_thresholds: torch.Tensor,
    lam: float = DEFAULT_LAMBDA,
    delta: float | None = None,
    *,
    metric: str = "mean_abs",
    abr_range_db: tuple[float, float] | None = None,
) -> torch.Tensor:
    """Penalty for placing animals with dissimilar ABR thresholds close together in nu space (eq. (3) of
    [Pellatt2025]_).

        P = lam * mean_{i<j} r_ij * exp(-d_ij / delta_D)

    d_ij is the mean absolute difference between the animals' means nu_bar (in [0, 1]^D, i.e. sigmoid(mu_k)), and r_ij
    is the RMSE over the F ABR frequencies between the animals' *normalised* thresholds. Normalisation: thresholds in
    dB are mapped to [0, 1] by min-max over ``abr_range_db`` (lo, hi); with None it is the range of all thresholds of
    these K animals, the same [0, 1] scaling ABRNet applies to its input. So r_ij is in [0, 1], and if every threshold
    is equal the penalty is 0.

    Args:
        nu_means: ``animals x D`` means nu_bar_k (gradients flow into them).
        abr_thresholds: ``animals x F`` ABR thresholds in dB SPL (fixed data; finite).
        lam: weight lam >= 0.
        delta: delta_D; None computes :func:`expected_unit_cube_distance` for ``metric``.
        metric: how d_ij is measured (``"mean_abs"``, the default; ``"l1"``, ``"euclidean"``).
        abr_range_db: (lo, hi) dB used to normalise thresholds; None uses the cohort's min and max.

    Returns:
        Scalar penalty.
    """
    if nu_means.dim() != 2:
        raise HearloopInputError(f"nu_means must have shape (animals, D); got {tuple(nu_means.shape)}")
    thr = torch.as_tensor(abr_thresholds, dtype=nu_means.dtype, device=nu_means.device)
    if thr.dim() != 2 or thr.shape[0] != nu_means.shape[0]:
        raise HearloopInputError(
            f"abr_thresholds must have shape ({nu_means.shape[0]}, F) to match nu_means; got {tuple(thr.shape)}"
        )
    if not bool(torch.isfinite(thr).all()):
        raise HearloopInputError("abr_thresholds contains non-finite values; every animal needs all F thresholds")
    k = nu_means.shape[0]
    if k < 2:
        return nu_means.sum() * 0.0  # no pairs: zero, but still attached to the graph
    if delta is None:
        delta = expected_unit_cube_distance(nu_means.shape[1], metric)
    if not delta > 0:
        raise HearloopInputError(f"delta must be > 0, got {delta}")
    lo, hi = (float(thr.min()), float(thr.max())) if abr_range_db is None else map(float, abr_range_db)
    span = hi - lo
    thr_n = (thr - lo) / span if span > 0 else torch.zeros_like(thr)
    r = (thr_n.unsqueeze(0) - thr_n.unsqueeze(1)).square().mean(-1).sqrt()  # K x K RMSE
    d = _pair_distances(nu_means, metric)
    iu = torch.triu_indices(k, k, offset=1, device=nu_means.device)
    pairs = r[iu[0], iu[1]] * torch.exp(-d[iu[0], iu[1]] / delta)
    return lam * pairs.mean()


class NuICNetLoss(torch.nn.Module):
    """The full nu-ICNet training loss (eq. (2) of [Pellatt2025]_ plus the eq. 3 penalty for the first epochs).

    Args:
        n_animals: K, the number of animals of the model (sets the KL target covariance I/K).
        beta: KL weight; default :data:`DEFAULT_BETA` (1e-3, see its docstring for the reasoning).
        lam: clustering-penalty weight; default :data:`DEFAULT_LAMBDA` (0.1).
        cluster_epochs: the penalty applies while ``epoch < cluster_epochs`` (10 in the paper).
        metric: distance used for d_ij and delta_D (``"mean_abs"``).
        abr_range_db: normalisation range of the ABR thresholds (None: the cohort's range).
    """

    def __init__(
        self,
        n_animals: int,
        beta: float = DEFAULT_BETA,
        lam: float = DEFAULT_LAMBDA,
        cluster_epochs: int = DEFAULT_CLUSTER_EPOCHS,
        metric: str = "mean_abs",
        abr_range_db: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        if n_animals < 1:
            raise HearloopInputError(f"n_animals must be >= 1, got {n_animals}")
        if beta < 0 or lam < 0:
            raise HearloopInputError(f"beta and lam must be >= 0; got beta={beta}, lam={lam}")
        self.n_animals = int(n_animals)
        self.beta = float(beta)
        self.lam = float(lam)
        self.cluster_epochs = int(cluster_epochs)
        self.metric = metric
        self.abr_range_db = abr_range_db

    def forward(
        self,
        logits: torch.Tensor,
        counts: torch.Tensor,
        s: torch.Tensor | None = None,
        *,
        nu_means: torch.Tensor | None = None,
        abr_thresholds: torch.Tensor | None = None,
        epoch: int = 0,
        channel_weights: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Compute the loss and its parts.

        Args:
            logits: ``batch x channels x bins x 5`` model logits.
            counts: ``batch x channels x bins`` recorded counts 0..4.
            s: ``animals x D`` conditioning noise SDs; None (ICNet / ABRNet, no noise) skips the KL term.
            nu_means: ``animals x D`` means nu_bar_k in [0, 1]; with ``abr_thresholds`` enables the penalty.
            abr_thresholds: ``animals x F`` ABR thresholds in dB.
            epoch: current epoch (0-based); the penalty is used while ``epoch < cluster_epochs``.
            channel_weights: optional per-channel CE weights.

        Returns:
            dict with scalar tensors ``"loss"`` (to backpropagate), ``"ce"``, ``"kl"`` (unweighted) and ``"cluster"``
            (already multiplied by lam; 0 when inactive).
        """
        ce = spike_count_cross_entropy(logits, counts, channel_weights)
        zero = ce.new_zeros(())
        kl = conditioning_kl(s, self.n_animals) if s is not None else zero
        use_cluster = (
            epoch < self.cluster_epochs and self.lam > 0 and nu_means is not None and abr_thresholds is not None
        )
        cluster = (
            abr_clustering_penalty(
                nu_means, abr_thresholds, self.lam, metric=self.metric, abr_range_db=self.abr_range_db
            )
            if use_cluster
            else zero
        )
        loss = ce + self.beta * kl + cluster
        return {"loss": loss, "ce": ce, "kl": kl, "cluster": cluster}

    def extra_repr(self) -> str:
        return f"n_animals={self.n_animals}, beta={self.beta}, lam={self.lam}, cluster_epochs={self.cluster_epochs}"
