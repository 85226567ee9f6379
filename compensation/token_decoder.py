"""A speech-token decoder on time-binned neural responses: shrinkage linear discriminant analysis.

Features. From expected spike counts ``tokens x channels x bins`` (1.31 ms bins) the decoder keeps the analysis window
of the token kind (:data:`ANALYSIS_WINDOW_S`: the vowel, or the consonant with its transitions into and out of the
flanking vowels), averages :data:`DECODER_BIN` model bins into one 21 ms time bin and takes the square root (the
variance-stabilising transform of spike counts, ``sqrt(x + eps) - sqrt(eps)`` so that the gradient stays finite at
0). The feature vector is ``channels x time bins`` long (448 for 32 channels and a 0.3 s window).

Decoder. Linear discriminant analysis [Hastie2009]_ (section 4.3) with the pooled within-class covariance shrunk
toward its diagonal (regularised discriminant analysis, [Friedman1989]_): with class means mu_k (equal priors),

    S_a = (1 - a) S + a diag(S) + r I,      delta_k(x) = x^T S_a^-1 mu_k - mu_k^T S_a^-1 mu_k / 2,          (1)

``a`` = :data:`SHRINKAGE` and a small ridge r (1e-4 of the mean variance). The prediction is argmax_k delta_k.
Eq. (1) is the log-posterior of Gaussian classes with a shared covariance up to a constant, but fitted to responses
without trial-to-trial noise (expected counts) it is far too confident (posteriors of 0.99 on tokens it gets wrong), so
the posterior is temperature-scaled [Guo2017]_,

    p(k | x) = softmax_k (delta_k(x) / T),                                                                     (2)

with T fitted by maximum likelihood on held-out folds of the training tokens (folds of whole instances, every class in
every fold; the fold decoders use eq. 1 on the rest), then eq. (1) refitted on all of them. Accuracy is the fraction
of tokens predicted right, *soft accuracy* the mean posterior of the true class, and the cross-entropy
-log p(true | x) the differentiable training term. The discriminants are linear in the features, so gradients flow
from the posterior back through the features to the sound.

.. [Hastie2009] T. Hastie, R. Tibshirani, J. Friedman, The Elements of Statistical Learning, 2nd ed., Springer, 2009.
.. [Guo2017] C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On calibration of modern neural networks", Proceedings of
   the 34th International Conference on Machine Learning (PMLR 70):1321-1330, 2017.
.. [Friedman1989] J. H. Friedman, "Regularized discriminant analysis", Journal of the American Statistical Association
   84(405):165-175, 1989.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from simulator.constants import BIN_RATE
from simulator.errors import HearloopInputError

__all__ = ["ANALYSIS_WINDOW_S", "DECODER_BIN", "SHRINKAGE", "TokenDecoder", "response_features"]

ANALYSIS_WINDOW_S: dict[str, tuple[float, float]] = {"vowel": (0.05, 0.35), "consonant": (0.15, 0.45)}
"""Decoded span of each token kind (s from the window start): the vowel; the /aCa/ consonant with the last 50 ms of
the first vowel and the start of the second."""

DECODER_BIN: int = 16
"""Model bins (1.31 ms) averaged into one decoder time bin (21 ms)."""

SHRINKAGE: float = 0.1
"""Shrinkage ``a`` of the pooled covariance toward its diagonal (eq. 1)."""

_SQRT_EPS = 1e-3
_RIDGE = 1e-4


def response_features(counts: torch.Tensor, kind: str) -> torch.Tensor:
    """Decoder features of expected spike counts.

    Args:
        counts: ``tokens x channels x bins`` expected counts (differentiable), bins from the token window's start.
        kind: token kind (a key of :data:`ANALYSIS_WINDOW_S`).

    Returns:
        ``tokens x (channels * time bins)`` features.

    Raises:
        HearloopInputError: unknown kind, or responses shorter than the analysis window.
    """
    if kind not in ANALYSIS_WINDOW_S:
        raise HearloopInputError(f"unknown token kind {kind!r}; expected one of {tuple(ANALYSIS_WINDOW_S)}")
    if counts.dim() != 3:
        raise HearloopInputError(f"counts must be tokens x channels x bins; got {tuple(counts.shape)}")
    lo, hi = (round(t * BIN_RATE) for t in ANALYSIS_WINDOW_S[kind])
    n_bins = (hi - lo) // DECODER_BIN
    if counts.shape[-1] < lo + n_bins * DECODER_BIN:
        raise HearloopInputError(
            f"{kind} responses need {lo + n_bins * DECODER_BIN} bins for the analysis window; got {counts.shape[-1]}"
        )
    window = counts[..., lo : lo + n_bins * DECODER_BIN]
    binned = window.reshape(*counts.shape[:2], n_bins, DECODER_BIN).mean(-1).clamp_min(0.0)
    return ((binned + _SQRT_EPS).sqrt() - _SQRT_EPS**0.5).reshape(counts.shape[0], -1)


def _lda(x: torch.Tensor, y: torch.Tensor, n_classes: int, shrinkage: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (1) on float64 features ``x`` (``tokens x F``) and labels ``y``: (projection ``F x K``, bias ``K``)."""
    counts = torch.bincount(y, minlength=n_classes).to(x.dtype)
    means = torch.zeros(n_classes, x.shape[1], dtype=x.dtype).index_add_(0, y, x) / counts[:, None]
    resid = x - means[y]
    cov = resid.T @ resid / max(x.shape[0] - n_classes, 1)
    cov = (1.0 - shrinkage) * cov + shrinkage * torch.diag(torch.diag(cov))
    cov = cov + _RIDGE * float(torch.diag(cov).mean().clamp_min(1e-12)) * torch.eye(x.shape[1], dtype=x.dtype)
    projection = torch.linalg.solve(cov, means.T)
    return projection, -0.5 * (means * projection.T).sum(-1)


def _temperature(x: torch.Tensor, y: torch.Tensor, folds: np.ndarray, n_classes: int, shrinkage: float) -> float:
    """T of eq. (2): maximum likelihood of held-out-fold discriminants (1 without usable folds)."""
    from scipy.optimize import minimize_scalar

    held_logits, held_labels = [], []
    for fold in np.unique(folds):
        test = torch.as_tensor(folds == fold)
        if bool(test.all()) or bool((torch.bincount(y[~test], minlength=n_classes) < 2).any()):
            continue
        projection, bias = _lda(x[~test], y[~test], n_classes, shrinkage)
        held_logits.append(x[test] @ projection + bias)
        held_labels.append(y[test])
    if not held_logits:
        return 1.0
    logits, labels = torch.cat(held_logits), torch.cat(held_labels)

    def nll(log_t: float) -> float:
        return float(torch.nn.functional.cross_entropy(logits / np.exp(log_t), labels))

    return float(np.exp(minimize_scalar(nll, bounds=(-4.0, 8.0), method="bounded").x))


@dataclasses.dataclass
class TokenDecoder:
    """A fitted shrinkage-LDA decoder (eqs. 1-2).

    Attributes:
        projection: ``features x classes`` S_a^-1 mu_k.
        bias: ``classes`` -mu_k^T S_a^-1 mu_k / 2.
        temperature: T of eq. (2).
        n_train: tokens it was fitted on.
    """

    projection: torch.Tensor
    bias: torch.Tensor
    temperature: float
    n_train: int

    @property
    def n_classes(self) -> int:
        return int(self.bias.numel())

    @classmethod
    def fit(
        cls,
        features: torch.Tensor,
        labels: torch.Tensor | np.ndarray,
        n_classes: int,
        shrinkage: float = SHRINKAGE,
        folds: np.ndarray | None = None,
    ) -> TokenDecoder:
        """Fit eq. (1) on ``tokens x features`` features and ``tokens`` labels in 0..n_classes-1 (every class at
        least twice), and T of eq. (2) on the held-out ``folds`` (``tokens`` fold ids; None: T = 1)."""
        x = features.detach().to(torch.float64)
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        if x.dim() != 2 or y.shape != (x.shape[0],):
            raise HearloopInputError(f"features must be tokens x features with one label each; got {tuple(x.shape)}")
        if not 0.0 <= shrinkage <= 1.0:
            raise HearloopInputError(f"shrinkage must lie in [0, 1], got {shrinkage}")
        counts = torch.bincount(y, minlength=n_classes)
        if counts.numel() != n_classes or bool((counts < 2).any()):
            raise HearloopInputError(f"every one of the {n_classes} classes needs >= 2 training tokens; got {counts}")
        temperature = 1.0 if folds is None else _temperature(x, y, np.asarray(folds), n_classes, shrinkage)
        projection, bias = _lda(x, y, n_classes, shrinkage)
        return cls(projection.float(), bias.float(), temperature, int(x.shape[0]))

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Discriminants delta_k / T (eq. 2: log-posteriors up to a constant), ``tokens x classes``; differentiable."""
        if features.dim() != 2 or features.shape[1] != self.projection.shape[0]:
            raise HearloopInputError(
                f"features must be tokens x {self.projection.shape[0]}; got {tuple(features.shape)}"
            )
        return (features @ self.projection.to(features) + self.bias.to(features)) / self.temperature

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """Predicted class of each token (``tokens`` int64)."""
        return self.logits(features.detach()).argmax(-1)

    def accuracy(self, features: torch.Tensor, labels: torch.Tensor | np.ndarray) -> float:
        """Fraction of tokens decoded right."""
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=features.device)
        return float((self.predict(features) == y).double().mean())

    def soft_accuracy(self, features: torch.Tensor, labels: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Mean posterior of the true class (a smooth accuracy in [0, 1]); differentiable scalar."""
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=features.device)
        return torch.softmax(self.logits(features), -1).gather(-1, y[:, None]).mean()

    def cross_entropy(self, features: torch.Tensor, labels: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Mean -log p(true class | features) (nats); differentiable scalar, the selectivity training term."""
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=features.device)
        return torch.nn.functional.cross_entropy(self.logits(features), y)
