"""Evaluation metrics of nu-ICNet: covariance-weighted FEVE and spike-count-histogram KL divergence.

Eqs. (4) and (5) of [Pellatt2025]_. For channel i with two repeated recordings r1_i, r2_i of one sound (counts per bin)
and a prediction y_i = E[count] under the model:

    w_i      = max(cov(r1_i, r2_i), 0) / sum_j max(cov(r1_j, r2_j), 0)
    noise_i  = 0.5 mean((r1_i - r2_i)^2)
    FEVE_i   = 1 - (0.5 [mse(r1_i, y_i) + mse(r2_i, y_i)] - noise_i) / (0.5 [var(r1_i) + var(r2_i)] - noise_i)
    FEVE     = sum_i w_i FEVE_i
    KL       = sum_i w_i KL(h_i || h_hat_i)

Means, variances and covariances are population moments over time (ddof = 0), matching the ``mean`` in noise_i and the
mse terms. Inputs may be numpy arrays or torch tensors (any device); the computation is float64 numpy and results are
Python floats. Medians over sounds/animals are left to the evaluator.

Response distances (the one home of the neural-fidelity distance, its channel weights and the response scale D_0): for
two responses of the model, probabilities p_ref, p over the spike counts n = 0..4 of every channel i and bin t, with
expected counts E[n] = sum_n n p(n) (the prediction y_i above), and T bins,

    d_i("l1") = (1/T) sum_t |E_ref[n]_it - E[n]_it|                       spikes per bin                        (D1)
    d_i("l2") = (1/T) sum_t (E_ref[n]_it - E[n]_it)^2                     spikes^2 per bin
    d_i("kl") = (1/T) sum_t sum_n p_ref,it(n) log(p_ref,it(n) / p_it(n))  nats per bin (both floored at 1e-8)
    D         = sum_i w_i d_i,   w_i >= 0, sum_i w_i = 1                                                           (D2)
    D_0       = D(reference's response to a sound, reference's response to silence)                               (D3)

with w the weights w_i above (averaged over the training animals, stored with the model) or uniform. D_0 is the whole
response a sound evokes, the scale of the benefit (D_u - D_aided) / D_0 and of the NH response range. These are torch
computations (differentiable, any device, batched over leading dimensions).

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy import special
from torch import Tensor

from simulator.constants import MAX_COUNT, N_CLASSES
from simulator.errors import HearloopInputError

__all__ = [
    "HISTOGRAM_EPS", "KL_FLOOR", "RESPONSE_DISTANCES", "channel_weights", "check_response_distance", "expected_counts",
    "feve", "feve_per_channel", "response_channel_weights", "response_distance", "response_distance_per_channel",
    "spike_histogram_kl", "spike_histogram_kl_per_channel",
]  # fmt: skip

HISTOGRAM_EPS: float = 1e-6
"""Smoothing of the predicted histogram in the KL metric: h_hat <- (1 - eps) h_hat + eps / 5. It keeps KL finite when
the model gives a count class zero probability (bounding each channel's KL by log(5 / eps) ~ 15.4 nats) and changes a
non-degenerate KL by O(eps). Bins with h_c = 0 contribute exactly 0 (0 log 0 = 0), and identical histograms give a KL
below ~eps."""


def _as_float64(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor on any device
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise HearloopInputError(f"{name} must be a numeric array or tensor: {exc}") from exc
    if not np.isfinite(arr).all():
        raise HearloopInputError(f"{name} contains {int((~np.isfinite(arr)).sum())} non-finite values (NaN or inf)")
    return arr


def _check_pair(r1: Any, r2: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_float64(r1, "r1"), _as_float64(r2, "r2")
    if a.ndim != 2:
        raise HearloopInputError(f"r1 must have shape (channels, bins); got {a.shape}")
    if a.shape != b.shape:
        raise HearloopInputError(f"r1 and r2 must have the same shape (channels, bins); got {a.shape} and {b.shape}")
    if a.shape[0] < 1 or a.shape[1] < 2:
        raise HearloopInputError(f"need at least 1 channel and 2 bins; got shape {a.shape}")
    return a, b


def _cross_trial_cov(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a - a.mean(1, keepdims=True)) * (b - b.mean(1, keepdims=True))).mean(1)


def channel_weights(r1: Any, r2: Any) -> np.ndarray:
    """Cross-trial-covariance weights w_i (eq. (4) of [Pellatt2025]_).

    Args:
        r1, r2: ``channels x bins`` counts of two repeated trials of the same sound.

    Returns:
        ``channels`` float64 weights, non-negative, summing to 1.

    Raises:
        HearloopInputError: on bad shapes or non-finite values, and when no channel has a positive cross-trial
            covariance (e.g. silence or pure noise). The weights, and so FEVE and the weighted KL, are undefined
            then; no uniform fallback is made because it would silently average channels with no repeatable signal.
    """
    a, b = _check_pair(r1, r2)
    cov = np.maximum(_cross_trial_cov(a, b), 0.0)
    total = cov.sum()
    if not total > 0:
        raise HearloopInputError(
            "no channel has a positive cross-trial covariance between r1 and r2, so the covariance weights (and FEVE) "
            "are undefined for this sound (e.g. silence or activity without a repeatable signal)"
        )
    return cov / total


def feve_per_channel(r1: Any, r2: Any, pred: Any, pred2: Any | None = None) -> np.ndarray:
    """Fraction of explainable variance explained, per channel (eq. (4) of [Pellatt2025]_ before weighting).

    Args:
        r1, r2: ``channels x bins`` recorded counts of two trials.
        pred: ``channels x bins`` predicted expected counts E[count].
        pred2: optional separate prediction for the second trial (the paper predicts one response per trial, which
            differ when the time transfer gives the two recording times different nu); mse(r2_i, .) then uses it.

    Returns:
        ``channels`` float64 FEVE_i. Channels whose explainable variance 0.5 [var(r1_i) + var(r2_i)] - noise_i is not
        positive (no repeatable signal) get NaN.
    """
    a, b = _check_pair(r1, r2)
    y = _as_float64(pred, "pred")
    y2 = y if pred2 is None else _as_float64(pred2, "pred2")
    for name, arr in (("pred", y), ("pred2", y2)):
        if arr.shape != a.shape:
            raise HearloopInputError(
                f"{name} must have the recordings' shape {a.shape} (channels, bins); got {arr.shape}"
            )
    noise = 0.5 * np.mean((a - b) ** 2, axis=1)
    mse = 0.5 * (np.mean((a - y) ** 2, axis=1) + np.mean((b - y2) ** 2, axis=1))
    total_var = 0.5 * (a.var(axis=1) + b.var(axis=1))
    explainable = total_var - noise
    out = np.full(a.shape[0], np.nan)
    ok = explainable > 1e-12 * total_var  # relative guard against rounding when the explainable variance is ~0
    out[ok] = 1.0 - (mse[ok] - noise[ok]) / explainable[ok]
    return out


def feve(r1: Any, r2: Any, pred: Any, pred2: Any | None = None, *, undefined: str = "raise") -> float:
    """Covariance-weighted FEVE = sum_i w_i FEVE_i (eq. (4) of [Pellatt2025]_); 1 is a perfect noise-free prediction, 0
    a constant.

    Channels with positive weight but no positive explainable variance (possible when the two trials' means differ)
    have an undefined FEVE_i; they are left out and the remaining weights renormalised.

    Args:
        r1, r2: ``channels x bins`` recorded counts of two trials of the same sound.
        pred: ``channels x bins`` predicted expected counts (e.g. :func:`simulator.model.spikes.expected_counts`).
        pred2: optional prediction for the second trial (see :func:`feve_per_channel`); default ``pred``.
        undefined: ``"raise"`` (default) raises HearloopInputError when no channel carries a repeatable signal;
            ``"nan"`` returns NaN instead (convenient with ``np.nanmedian`` over many sounds).

    Returns:
        FEVE as a float.
    """
    if undefined not in ("raise", "nan"):
        raise HearloopInputError(f"undefined must be 'raise' or 'nan', got {undefined!r}")
    per_channel = feve_per_channel(r1, r2, pred, pred2)
    try:
        w = channel_weights(r1, r2)
    except HearloopInputError:
        if undefined == "nan":
            return float("nan")
        raise
    use = (w > 0) & np.isfinite(per_channel)
    if not use.any():
        if undefined == "nan":
            return float("nan")
        raise HearloopInputError("no channel with positive covariance weight has a positive explainable variance")
    return float(np.sum(w[use] * per_channel[use]) / np.sum(w[use]))


def _histograms_from_counts(x: np.ndarray, name: str) -> np.ndarray:
    """``channels x bins`` or ``trials x channels x bins`` counts -> ``channels x 5`` normalised histograms."""
    if x.size == 0:
        raise HearloopInputError(f"{name} is empty (shape {x.shape})")
    if not np.all(x == np.round(x)) or x.min() < 0 or x.max() > MAX_COUNT:
        raise HearloopInputError(f"{name} must hold integer spike counts 0..{MAX_COUNT}")
    xi = x.astype(np.int64)
    if xi.ndim == 3:
        xi = np.moveaxis(xi, 0, 1).reshape(xi.shape[1], -1)  # channels x (trials * bins)
    onehot = xi[..., None] == np.arange(N_CLASSES)
    return onehot.mean(axis=1)


def _predicted_histograms(pred: np.ndarray, n_channels: int, kind: str) -> np.ndarray:
    if kind not in ("auto", "probs", "counts"):
        raise HearloopInputError(f"predicted_kind must be 'auto', 'probs' or 'counts', got {kind!r}")
    looks_like_probs = (
        pred.ndim == 3
        and pred.shape[0] == n_channels
        and pred.shape[-1] == N_CLASSES
        and pred.min() >= 0
        and np.allclose(pred.sum(-1), 1.0, atol=1e-3)
    )
    if kind == "probs" and not looks_like_probs:
        raise HearloopInputError(
            f"predicted must be ({n_channels}, bins, {N_CLASSES}) probabilities summing to 1; got shape {pred.shape}"
        )
    if kind == "probs" or (kind == "auto" and looks_like_probs):
        return pred.mean(axis=1)  # mean predicted class distribution over time
    if pred.ndim not in (2, 3):
        raise HearloopInputError(
            "predicted must be probabilities (channels, bins, 5) or counts (channels, bins) or "
            "(trials, channels, bins); "
            f"got shape {pred.shape}"
        )
    return _histograms_from_counts(pred, "predicted counts")


def spike_histogram_kl_per_channel(
    recorded: Any, predicted: Any, *, eps: float = HISTOGRAM_EPS, predicted_kind: str = "auto"
) -> np.ndarray:
    """KL(h_i || h_hat_i) in nats per channel between recorded and predicted 0..4 count histograms (eq. (5) of
    [Pellatt2025]_).

    Args:
        recorded: ``channels x bins`` or ``trials x channels x bins`` recorded counts; histograms pool trials and time.
        predicted: ``channels x bins x 5`` probabilities (h_hat_i is the time-averaged class distribution), or predicted
            counts ``channels x bins`` / ``trials x channels x bins`` (e.g. sampled MUA).
        eps: smoothing of h_hat (see :data:`HISTOGRAM_EPS`).
        predicted_kind: ``"probs"``, ``"counts"`` or ``"auto"`` (default): probabilities when ``predicted`` is
            ``channels x bins x 5`` with non-negative rows summing to 1, counts otherwise.

    Returns:
        ``channels`` float64 KL values.
    """
    rec = _as_float64(recorded, "recorded")
    if rec.ndim not in (2, 3):
        raise HearloopInputError(f"recorded must be (channels, bins) or (trials, channels, bins); got {rec.shape}")
    n_ch = rec.shape[-2]
    pred = _as_float64(predicted, "predicted")
    h = _histograms_from_counts(rec, "recorded")
    h_hat = _predicted_histograms(pred, n_ch, predicted_kind)
    if h_hat.shape != h.shape:
        raise HearloopInputError(f"predicted has {h_hat.shape[0]} channels but recorded has {n_ch}")
    if not 0 <= eps < 1:
        raise HearloopInputError(f"eps must be in [0, 1), got {eps}")
    h_hat = (1.0 - eps) * h_hat + eps / N_CLASSES
    return special.rel_entr(h, h_hat).sum(axis=1)


def spike_histogram_kl(
    recorded: Any,
    predicted: Any,
    weights: Any | None = None,
    *,
    eps: float = HISTOGRAM_EPS,
    predicted_kind: str = "auto",
) -> float:
    """Covariance-weighted spike-count-histogram KL divergence sum_i w_i KL(h_i || h_hat_i), in nats (eq. (5) of
    [Pellatt2025]_).

    Args:
        recorded: ``channels x bins`` or ``trials x channels x bins`` recorded counts 0..4.
        predicted: ``channels x bins x 5`` probabilities or predicted counts (see
            :func:`spike_histogram_kl_per_channel`).
        weights: ``channels`` non-negative weights (normalised here). None: :func:`channel_weights` of the first two
            trials when ``recorded`` has at least two, else uniform 1/C.
        eps: smoothing of the predicted histogram.
        predicted_kind: ``"auto"``, ``"probs"`` or ``"counts"``.

    Returns:
        Weighted KL as a float (0 for identical histograms, up to ~eps).
    """
    kl = spike_histogram_kl_per_channel(recorded, predicted, eps=eps, predicted_kind=predicted_kind)
    if weights is None:
        rec = _as_float64(recorded, "recorded")
        w = channel_weights(rec[0], rec[1]) if rec.ndim == 3 and rec.shape[0] >= 2 else np.full(kl.shape, 1 / kl.size)
    else:
        w = _as_float64(weights, "weights")
        if w.shape != kl.shape:
            raise HearloopInputError(f"weights must have shape {kl.shape} (one per channel); got {w.shape}")
        if (w < 0).any() or not w.sum() > 0:
            raise HearloopInputError("weights must be non-negative and not all zero")
        w = w / w.sum()
    return float(np.sum(w * kl))


# --------------------------------------------------------------------------------------------- response distances
RESPONSE_DISTANCES: tuple[str, ...] = ("l1", "l2", "kl")
"""The distances d_i of eq. (D1): between expected counts (``"l1"``, ``"l2"``) or count distributions (``"kl"``)."""
KL_FLOOR: float = 1e-8
"""Floor of both distributions' probabilities in the ``"kl"`` distance (keeps log 0 out of the values and gradients)."""


def expected_counts(probs: Tensor) -> Tensor:
    """Expected spike count E[n] = sum_n n p(n) per bin (y_hat, eq. (4) of [Pellatt2025]_): ``... x channels x bins x
    5`` probabilities of counts 0..4 (not logits) -> ``... x channels x bins`` in [0, 4], same dtype and device."""
    if probs.shape[-1] != N_CLASSES:
        raise HearloopInputError(f"probs must have a last dimension of {N_CLASSES}; got shape {tuple(probs.shape)}")
    values = torch.arange(N_CLASSES, dtype=probs.dtype, device=probs.device)
    return probs @ values


def check_response_distance(distance: str) -> str:
    """``distance`` if it is one of :data:`RESPONSE_DISTANCES`, else HearloopInputError naming it and those."""
    if distance not in RESPONSE_DISTANCES:
        raise HearloopInputError(f"unknown distance {distance!r}; supported: {', '.join(RESPONSE_DISTANCES)}")
    return distance


def response_distance_per_channel(reference: Tensor, response: Tensor, distance: str = "l1") -> Tensor:
    """d_i of eq. (D1): the distance of every channel between two responses, averaged over bins (not weighted).

    Args:
        reference: ``... x channels x bins x 5`` probabilities over spike counts 0..4 (e.g. the NH reference's response
            to the clean sound).
        response: ``... x channels x bins x 5`` probabilities; its leading dimensions broadcast with the reference's
            (one reference for a batch of responses).
        distance: ``"l1"`` (spikes/bin), ``"l2"`` (spikes^2/bin) or ``"kl"`` (nats/bin, KL(reference || response)).

    Returns:
        ``... x channels`` distances (the broadcast leading shape), the inputs' dtype and device; differentiable.
    Raises:
        HearloopInputError: an unknown ``distance``; ``reference`` or ``response`` not a ``(..., channels, bins, 5)``
            tensor; their channels or bins differ, or their leading dimensions do not broadcast.
    """
    check_response_distance(distance)
    for name, x in (("reference", reference), ("response", response)):
        if not isinstance(x, Tensor) or x.dim() < 3 or x.shape[-1] != N_CLASSES:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise HearloopInputError(f"{name} must be a tensor (..., channels, bins, {N_CLASSES}); got {shape}")
    try:
        torch.broadcast_shapes(reference.shape, response.shape)
        same_bins = reference.shape[-3:] == response.shape[-3:]
    except RuntimeError:
        same_bins = False
    if not same_bins:
        raise HearloopInputError(
            "reference and response must have the same channels and bins and broadcastable leading dimensions; got "
            f"{tuple(reference.shape)} and {tuple(response.shape)}"
        )
    if distance == "kl":
        p = reference.clamp_min(KL_FLOOR)
        per_bin = (p * (p.log() - response.clamp_min(KL_FLOOR).log())).sum(-1)
    else:
        diff = expected_counts(reference) - expected_counts(response)
        per_bin = diff.abs() if distance == "l1" else diff.square()
    return per_bin.mean(-1)


def response_distance(reference: Tensor, response: Tensor, weights: Tensor, distance: str = "l1") -> Tensor:
    """D of eq. (D2): the channel-weighted distance between two responses (D_0 of eq. (D3) with a response to silence).

    Args:
        reference, response, distance: as :func:`response_distance_per_channel`.
        weights: ``channels`` tensor of weights w_i >= 0 summing to 1 (:func:`response_channel_weights`), of the
            responses' dtype and device.

    Returns:
        ``...`` distances (spikes per bin, spikes^2 per bin or nats per bin); differentiable.
    Raises:
        HearloopInputError: as :func:`response_distance_per_channel`; ``weights`` not a ``channels`` tensor, or not
            finite, non-negative and summing to 1 (within 1e-4).
    """
    per_channel = response_distance_per_channel(reference, response, distance)
    n_channels = per_channel.shape[-1]
    if not isinstance(weights, Tensor) or weights.shape != (n_channels,):
        shape = tuple(weights.shape) if isinstance(weights, Tensor) else type(weights).__name__
        raise HearloopInputError(f"weights must be a tensor of one weight per channel ({n_channels}); got {shape}")
    w = weights.detach()  # NaN and -inf fail w >= 0, +inf the sum: both checks in one device sync
    if not bool((w >= 0).all() & ((w.sum() - 1.0).abs() <= 1e-4)):
        raise HearloopInputError("weights must be finite, non-negative and sum to 1 (see response_channel_weights)")
    return per_channel @ weights


def response_channel_weights(model: Any, channel_weights: Any | None = None) -> Tensor:
    """The weights w of eq. (D2) for a model's responses: ``channel_weights`` if given, else the model's
    ``metadata["channel_weights"]``, else uniform; normalised to sum to 1.

    Args:
        model: anything with ``n_channels`` and an optional ``metadata`` dict (a nu-ICNet).
        channel_weights: ``channels`` non-negative reliability weights, or None.

    Returns:
        ``channels`` float32 weights on the CPU (move them to the model's device).
    Raises:
        HearloopInputError: not one value per model channel; not finite, non-negative and not all zero.
    """
    n_channels = int(model.n_channels)
    if channel_weights is None:
        stored = (getattr(model, "metadata", None) or {}).get("channel_weights")
        channel_weights = stored if stored is not None else np.full(n_channels, 1.0 / n_channels)
    weights = torch.as_tensor(np.asarray(channel_weights, dtype=np.float32))
    if weights.shape != (n_channels,):
        raise HearloopInputError(
            f"channel_weights must have one value per model channel ({n_channels}); got shape {tuple(weights.shape)}"
        )
    if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()) or float(weights.sum()) <= 0:
        raise HearloopInputError("channel_weights must be finite, non-negative and not all zero")
    return weights / weights.sum()
