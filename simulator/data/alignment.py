"""Channel alignment between brains by optimal transport, as in nu-ICNet ([Pellatt2025]_, "Alignment between brains").

Two animals with the same hearing still differ in where the electrode sits in the tonotopic IC; nu-ICNet removes this
before training by finding "a permutation of the channels of each brain recording that minimised the Wasserstein
distance to a common NH reference animal", so that "no scale information is lost after alignment by only allowing
shuffling of channel order". The paper does not spell out the distributions compared; this module uses:

**Ground cost.** ``C_ij`` says how unlike animal channel ``i`` is to reference channel ``j`` on the sounds both heard
(same name = same audio). The permutation minimising ``sum_j C_perm[j], j`` (optimal transport between equal sets of
channels with uniform mass, i.e. the Wasserstein distance between the two recordings' channel populations) is solved
exactly by ``scipy.optimize.linear_sum_assignment``. Two ground costs (``signature``):

- ``"rate_correlation"`` (default, :mod:`simulator.data.rate_correlation`):
  ``1 - max_q corr(r_i, max(r_j - theta_q, 0))``, the correlation of smoothed rates with the reference rate also
  thresholded at its own quantiles, standing for the same unit with a raised threshold. It keeps impaired animals
  aligned: median 1.00 / 0.91 / 0.61 of 32 channels on the right unit at 20-35 / 35-50 / >= 50 dB HL, against 0.75 /
  0.62 / 0.16 for the time course (``benchmarks/bench_alignment.py``).
- ``"time_course"``: the Wasserstein-1 distance (seconds) between the normalised time courses, averaged over
  segments. Each channel's response (mean over trials, smoothed over ``smooth_bins`` = 10 ms) is cut into segments of
  ``segment_bins`` (256 bins = one 0.34 s training frame; silent segments are skipped); every segment has its minimum
  (the spontaneous baseline) removed and is normalised to unit mass, a distribution over time saying *when* the
  channel fires. In 1-D ``W1(p, q) = integral |F_p - F_q|``, so the matrix is one ``cdist(..., "cityblock")`` per
  sound. It is exact for NH animals (a planted permutation with new count noise and log-normal (sd 0.3) gain changes:
  100 % of 64 channels, 92 % of 128), but a raised threshold moves the time course's mass onto the peaks many
  channels share, so it degrades with hearing loss.

Both ignore each channel's gain and baseline.

**Scale survives.** :func:`apply_alignment` only reorders channels (``counts[:, perm, :]``, ``channel_cf_hz[perm]``);
no value is ever rescaled, so response-level differences caused by hearing loss remain in the aligned data.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from simulator.constants import BIN_RATE, DOWNSAMPLE
from simulator.data.rate_correlation import rate_correlation_cost
from simulator.data.recording_types import AnimalRecording
from simulator.errors import HearloopInputError


def _shared_sounds(animal: AnimalRecording, reference: AnimalRecording, sounds: Sequence[str] | None, max_hours):
    ref = {s.name: s for s in reference.sounds}
    names = [s.name for s in animal.sounds if s.name in ref] if sounds is None else list(sounds)
    own = {s.name: s for s in animal.sounds}
    pairs = []
    for n in names:
        if n not in own or n not in ref:
            raise HearloopInputError(f"sound {n!r} is not recorded in both {animal.animal_id!r} and the reference")
        a, r = own[n], ref[n]
        if a.audio.shape != r.audio.shape or not np.array_equal(a.audio, r.audio):
            raise HearloopInputError(f"sound {n!r} has different audio in {animal.animal_id!r} and the reference")
        if max_hours is None or (a.hours <= max_hours and r.hours <= max_hours):
            pairs.append((a, r))
    if not pairs:
        raise HearloopInputError(f"{animal.animal_id!r} and the reference share no sound to align on")
    return pairs


def segment_starts(pairs, segment_bins: int, max_segments: int | None) -> list[tuple[int, int]]:
    """``(pair index, start bin)`` of every non-silent whole segment, thinned evenly to ``max_segments``."""
    segs = []
    for k, (a, _) in enumerate(pairs):
        n_bins = a.counts.shape[2]
        for b0 in range(0, n_bins - segment_bins + 1, segment_bins):
            if np.any(a.audio[b0 * DOWNSAMPLE : (b0 + segment_bins) * DOWNSAMPLE] != 0):
                segs.append((k, b0))
    if max_segments is not None and len(segs) > max_segments:
        segs = [segs[i] for i in np.linspace(0, len(segs) - 1, max_segments).round().astype(int)]
    return segs


def time_course_cdfs(counts: np.ndarray, starts: Sequence[int], segment_bins: int, smooth_bins: int) -> np.ndarray:
    """CDFs of the smoothed time course of every channel in each segment, baseline removed and normalised to unit mass.

    Args:
        counts: ``trials x channels x bins`` counts of one sound.
        starts: segment start bins.

    Returns:
        ``channels x (len(starts) * segment_bins)`` float64: per segment the CDF over its bins (uniform where a
        channel did not fire).
    """
    r = counts.astype(np.float64).mean(axis=0)
    if smooth_bins > 1:
        r = uniform_filter1d(r, smooth_bins, axis=1, mode="nearest")
    seg = np.stack([r[:, b0 : b0 + segment_bins] for b0 in starts], axis=1)  # channels x segments x bins
    seg = seg - seg.min(axis=2, keepdims=True)  # drop the segment's baseline (spontaneous rate)
    mass = seg.sum(axis=2, keepdims=True)
    seg = np.where(mass > 1e-12, seg / np.maximum(mass, 1e-12), 1.0 / segment_bins)
    return np.cumsum(seg, axis=2).reshape(r.shape[0], -1)


SIGNATURES: tuple[str, ...] = ("rate_correlation", "time_course")
"""Ground costs of :func:`alignment_cost` (module docstring)."""

DEFAULT_SIGNATURE: str = SIGNATURES[0]
"""The ground cost used unless one is asked for (cached aligned data should record it)."""

LEGACY_SIGNATURE: str = "time_course"
"""The ground cost of checkpoints written before they recorded ``metadata["alignment_signature"]``."""


def model_signature(metadata: Mapping[str, Any] | None) -> str:
    """The ground cost a checkpoint's training animals were aligned with, so that new animals are aligned the same way.

    Args:
        metadata: a checkpoint's metadata (``model.metadata``). Training records ``"alignment_signature"`` next to the
            per-animal ``"alignment"``; an ``"alignment"`` without it predates the key and used
            :data:`LEGACY_SIGNATURE`; no ``"alignment"`` at all (a model not trained on a cohort) gets the default.

    Raises:
        HearloopInputError: the recorded signature is not one of :data:`SIGNATURES`.
    """
    metadata = metadata or {}
    if "alignment_signature" in metadata:
        signature = metadata["alignment_signature"]
        if signature not in SIGNATURES:
            raise HearloopInputError(
                f"checkpoint metadata names alignment signature {signature!r}; supported: {SIGNATURES}"
            )
        return str(signature)
    return LEGACY_SIGNATURE if "alignment" in metadata else DEFAULT_SIGNATURE


def time_course_cost(pairs, segment_bins: int, smooth_bins: int, max_segments: int | None) -> np.ndarray:
    """``channels x channels`` mean Wasserstein-1 distance (s) between normalised time courses (``"time_course"``)."""
    if segment_bins < 2:
        raise HearloopInputError(f"segment_bins must be >= 2, got {segment_bins}")
    segs = segment_starts(pairs, segment_bins, max_segments)
    if not segs:
        raise HearloopInputError(f"no shared non-silent sound is {segment_bins} bins long; lower segment_bins")
    n_channels = pairs[0][0].counts.shape[1]
    cost = np.zeros((n_channels, n_channels))
    for k, (a, r) in enumerate(pairs):
        starts = [b0 for kk, b0 in segs if kk == k]
        if starts:
            cdf_a = time_course_cdfs(a.counts, starts, segment_bins, smooth_bins)
            cdf_r = time_course_cdfs(r.counts, starts, segment_bins, smooth_bins)
            cost += cdist(cdf_a, cdf_r, metric="cityblock")
    return cost / (len(segs) * BIN_RATE)


def alignment_cost(
    animal: AnimalRecording,
    reference: AnimalRecording,
    *,
    signature: str = DEFAULT_SIGNATURE,
    sounds: Sequence[str] | None = None,
    max_hours: float | None = None,
    smooth_bins: int | None = None,
    segment_bins: int = 256,
    max_segments: int | None = 256,
) -> np.ndarray:
    """``channels x channels`` ground cost between animal channel ``i`` and reference channel ``j``.

    Args:
        animal, reference: recordings that share sounds (same name -> same audio).
        signature: ``"rate_correlation"`` (default; 1 - max thresholded correlation, in [0, 2]) or
            ``"time_course"`` (mean Wasserstein-1 distance in seconds); see the module docstring.
        sounds: sound names to use (default every shared sound); ``max_hours`` drops sounds presented later than this
            in either session (less recording degradation).
        smooth_bins: moving-average width (bins of 1.31 ms) against count noise (default 4 for
            ``"rate_correlation"``, 8 for ``"time_course"``).
        segment_bins, max_segments: ``"time_course"`` only: segment length (a sound shorter than this is skipped)
            and at most this many segments (evenly spread; ``None`` for all).

    Raises:
        HearloopInputError: unequal channel counts, no shared sound, an unknown ``signature`` or bad sizes.
    """
    if signature not in SIGNATURES:
        raise HearloopInputError(f"alignment signature must be one of {SIGNATURES}, got {signature!r}")
    if animal.n_channels != reference.n_channels:
        raise HearloopInputError(
            f"alignment needs equal channel counts: {animal.animal_id!r} has {animal.n_channels}, "
            f"reference {reference.animal_id!r} has {reference.n_channels}"
        )
    smooth = (4 if signature == "rate_correlation" else 8) if smooth_bins is None else int(smooth_bins)
    if smooth < 1:
        raise HearloopInputError(f"smooth_bins must be >= 1, got {smooth}")
    pairs = _shared_sounds(animal, reference, sounds, max_hours)
    if signature == "rate_correlation":
        return rate_correlation_cost(pairs, smooth_bins=smooth)
    return time_course_cost(pairs, segment_bins, smooth, max_segments)


def align_channels(animal: AnimalRecording, reference: AnimalRecording, **cost_kw) -> np.ndarray:
    """Permutation ``perm`` (length ``channels``) such that animal channel ``perm[j]`` matches reference channel ``j``.

    Minimises the summed ground cost of :func:`alignment_cost` over all permutations (optimal transport between
    equal-size sets of channels is an assignment problem). ``cost_kw`` is forwarded to :func:`alignment_cost`.
    """
    cost = alignment_cost(animal, reference, **cost_kw)
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(cost.shape[1], dtype=np.int64)
    perm[cols] = rows
    return perm


def apply_alignment(animal: AnimalRecording, perm: np.ndarray) -> AnimalRecording:
    """A copy of ``animal`` whose channel ``j`` is its channel ``perm[j]``: counts and ``channel_cf_hz`` are reordered,
    never rescaled. When ground truth exists, ``ground_truth["alignment"]["permutation"]`` records the permutation
    from the *recorded* channel order, composed with one already stored (re-aligning an aligned copy keeps it exact)."""
    perm = np.asarray(perm)
    if perm.shape != (animal.n_channels,) or not np.array_equal(np.sort(perm), np.arange(animal.n_channels)):
        raise HearloopInputError(f"perm must be a permutation of 0..{animal.n_channels - 1}, got shape {perm.shape}")
    sounds = [replace(s, counts=np.ascontiguousarray(s.counts[:, perm, :])) for s in animal.sounds]
    cf = None if animal.channel_cf_hz is None else np.asarray(animal.channel_cf_hz)[perm]
    gt = animal.ground_truth
    if gt is not None:
        previous = (gt.get("alignment") or {}).get("permutation")
        total = perm if previous is None else np.asarray(previous)[perm]
        gt = {**gt, "alignment": {"permutation": [int(p) for p in total]}}
    return replace(animal, sounds=sounds, channel_cf_hz=cf, ground_truth=gt)


def align_cohort(animals: Sequence[AnimalRecording], reference_id: str | None = None, **cost_kw):
    """Align every animal to one NH reference (default: the first NH animal).

    Returns:
        ``(aligned animals, {animal_id: perm})``; the reference keeps the identity permutation.
    """
    ids = [a.animal_id for a in animals]
    if reference_id is None:
        nh = [a.animal_id for a in animals if a.hearing_status == "NH"]
        if not nh:
            raise HearloopInputError("align_cohort needs an NH animal as reference (none in the cohort)")
        reference_id = nh[0]
    if reference_id not in ids:
        raise HearloopInputError(f"reference {reference_id!r} not in cohort {ids}")
    reference = animals[ids.index(reference_id)]
    perms = {
        a.animal_id: (np.arange(a.n_channels) if a is reference else align_channels(a, reference, **cost_kw))
        for a in animals
    }
    return [apply_alignment(a, perms[a.animal_id]) for a in animals], perms
