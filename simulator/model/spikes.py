"""Spike-count utilities for the 5-class multi-unit activity (MUA) output of nu-ICNet.

[Pellatt2025]_: the model predicts, for every channel and 1.31 ms bin, a categorical distribution over spike counts 0..4
(``N_CLASSES = 5``). The prediction used by the FEVE metric is the expectation of that distribution (eq. (4) of
[Pellatt2025]_), simulated MUA is a categorical sample of it, and the KL metric compares count histograms (eq. (5) of
[Pellatt2025]_).

Every function here is batched over arbitrary leading dimensions ("... x channels x bins x 5"); nothing loops over bins.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import torch

from simulator.constants import MAX_COUNT, N_CLASSES
from simulator.errors import HearloopInputError
from simulator.metrics import expected_counts  # the one home of E[n], re-exported here with the other count utilities

__all__ = [
    "count_histogram",
    "counts_to_onehot",
    "expected_counts",
    "sample_counts",
    "validate_counts",
    "validate_probs",
]


def validate_probs(probs: torch.Tensor, *, name: str = "probs", atol: float = 1e-3) -> torch.Tensor:
    """Check that ``probs`` is a finite ``... x 5`` tensor of class probabilities that sum to one.

    Args:
        probs: ``... x channels x bins x 5`` probabilities over spike counts 0..4.
        name: name used in error messages.
        atol: tolerance on the per-bin sum (float32 softmax output sums to 1 within ~1e-6).

    Returns:
        ``probs`` unchanged (as a floating tensor).

    Raises:
        HearloopInputError: if it is not a floating tensor with last dimension 5, holds non-finite or negative
            values, or a distribution does not sum to one.
    """
    if not isinstance(probs, torch.Tensor):
        probs = torch.as_tensor(probs)
    if not probs.is_floating_point():
        raise HearloopInputError(f"{name} must be a floating tensor of probabilities, got dtype {probs.dtype}")
    if probs.dim() < 1 or probs.shape[-1] != N_CLASSES:
        raise HearloopInputError(
            f"{name} must have a last dimension of {N_CLASSES} (spike counts 0..{MAX_COUNT}); "
            f"got shape {tuple(probs.shape)}"
        )
    if not bool(torch.isfinite(probs).all()):
        raise HearloopInputError(f"{name} contains non-finite values")
    if probs.numel() and float(probs.min()) < 0.0:
        raise HearloopInputError(f"{name} contains negative probabilities (min {float(probs.min()):.3g})")
    if probs.numel():
        err = float((probs.sum(-1) - 1.0).abs().max())
        if err > atol:
            raise HearloopInputError(
                f"{name} must sum to 1 over the last dimension (max deviation {err:.3g}); pass softmax(logits, -1)"
            )
    return probs


def validate_counts(counts: torch.Tensor, *, name: str = "counts") -> torch.Tensor:
    """Check that ``counts`` holds integer spike counts in 0..4 and return them as int64.

    Float tensors are accepted if every value is integral (recordings are often stored as float).

    Raises:
        HearloopInputError: on non-integral, non-finite or out-of-range values.
    """
    if not isinstance(counts, torch.Tensor):
        counts = torch.as_tensor(counts)
    if counts.is_floating_point():
        if not bool(torch.isfinite(counts).all()):
            raise HearloopInputError(f"{name} contains non-finite values")
        if not bool((counts == counts.round()).all()):
            raise HearloopInputError(f"{name} must hold integer spike counts 0..{MAX_COUNT}; got non-integral values")
    elif counts.dtype == torch.bool:
        raise HearloopInputError(f"{name} must hold integer spike counts, got a boolean tensor")
    if counts.numel():
        lo, hi = int(counts.min()), int(counts.max())
        if lo < 0 or hi > MAX_COUNT:
            raise HearloopInputError(f"{name} must lie in 0..{MAX_COUNT}; got values in [{lo}, {hi}]")
    return counts.to(torch.int64)


def sample_counts(
    probs: torch.Tensor, generator: torch.Generator | None = None, *, seed: int | None = None
) -> torch.Tensor:
    """Draw one categorical spike count per bin (simulated MUA), by inverse-CDF sampling.

    One uniform variate per bin is compared with the cumulative distribution, so the draw is fully vectorised and the
    random stream depends only on the number of bins: the same ``generator`` state (or ``seed``) gives the same counts.

    Args:
        probs: ``... x channels x bins x 5`` probabilities over counts 0..4.
        generator: a ``torch.Generator`` on the device of ``probs``; its state advances.
        seed: used to build a fresh generator when ``generator`` is None. With neither, torch's global RNG is used.

    Returns:
        ``... x channels x bins`` int64 counts in 0..4.
    """
    if probs.shape[-1] != N_CLASSES:
        raise HearloopInputError(f"probs must have a last dimension of {N_CLASSES}; got shape {tuple(probs.shape)}")
    if generator is None and seed is not None:
        generator = torch.Generator(device=probs.device).manual_seed(int(seed))
    u = torch.rand(probs.shape[:-1], generator=generator, device=probs.device, dtype=probs.dtype)
    cdf = probs.cumsum(-1)
    # Normalise by the total so rounding in a softmax cannot make the last class unreachable.
    cdf = cdf / cdf[..., -1:].clamp_min(torch.finfo(probs.dtype).tiny)
    counts = (u.unsqueeze(-1) >= cdf[..., :-1]).sum(-1)
    return counts.to(torch.int64)


def counts_to_onehot(counts: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One-hot encode spike counts (the cross-entropy target of eq. (2) of [Pellatt2025]_).

    Args:
        counts: ``... x channels x bins`` integer counts in 0..4.
        dtype: output dtype.

    Returns:
        ``... x channels x bins x 5`` one-hot tensor.
    """
    counts = validate_counts(counts)
    return torch.nn.functional.one_hot(counts, N_CLASSES).to(dtype)


def count_histogram(counts: torch.Tensor, dim: int | tuple[int, ...] = -1) -> torch.Tensor:
    """Normalised histogram of spike counts 0..4 over the dimension(s) ``dim`` (eq. (5) of [Pellatt2025]_'s h_i).

    Args:
        counts: integer counts in 0..4, e.g. ``channels x bins`` or ``trials x channels x bins``.
        dim: dimension(s) pooled into each histogram, e.g. ``-1`` (time) or ``(0, -1)`` (trials and time).

    Returns:
        float64 tensor: the remaining dimensions followed by 5 class frequencies summing to one.
    """
    onehot = counts_to_onehot(counts, dtype=torch.float64)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    dims = tuple(d if d >= 0 else d - 1 for d in dims)  # shift negatives past the new class axis
    return onehot.mean(dim=dims)
