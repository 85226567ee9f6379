"""Tests for simulator.metrics (weighted FEVE, spike-histogram KL) and simulator.model.spikes (expected counts,
sampling)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from simulator.errors import HearloopInputError
from simulator.metrics import (
    channel_weights,
    feve,
    feve_per_channel,
    spike_histogram_kl,
    spike_histogram_kl_per_channel,
)
from simulator.model.spikes import count_histogram, counts_to_onehot, expected_counts, sample_counts


def _two_trials(seed: int, c: int = 8, t: int = 4000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two Binomial(4, p_t) trials per channel around a slowly varying, channel-specific rate; returns r1, r2, p."""
    rng = np.random.default_rng(seed)
    tt = np.arange(t)
    freqs = rng.uniform(0.002, 0.02, (c, 3))
    phase = rng.uniform(0, 2 * np.pi, (c, 3))
    drive = np.sin(2 * np.pi * freqs[..., None] * tt + phase[..., None]).sum(1)
    p = 1.0 / (1.0 + np.exp(-(rng.uniform(0.5, 2.0, (c, 1)) * drive - 1.0)))
    return rng.binomial(4, p), rng.binomial(4, p), p


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feve_is_one_for_noise_free_rate_zero_for_constant_and_between_for_partial(seed: int):
    r1, r2, p = _two_trials(seed)
    assert feve(r1, r2, 4 * p) == pytest.approx(1.0, abs=0.03)
    constant = np.broadcast_to(4 * p.mean(1, keepdims=True), p.shape)
    assert abs(feve(r1, r2, constant)) < 0.05
    rng = np.random.default_rng(100 + seed)
    partial = 4 * (0.5 * p + 0.5 * p.mean(1, keepdims=True)) + rng.normal(0, 0.3, p.shape)
    value = feve(r1, r2, partial)
    assert 0.3 < value < 0.9
    # torch inputs (e.g. expected_counts of model output) give the same float
    assert feve(torch.from_numpy(r1), torch.from_numpy(r2), torch.from_numpy(partial).float()) == pytest.approx(
        value, abs=1e-5
    )


def test_channel_weights_follow_the_formula_on_a_hand_made_case():
    r1 = np.array([[0, 1, 2, 3], [0, 2, 0, 2], [0, 0, 4, 4]])
    r2 = np.array([[0, 1, 2, 3], [2, 0, 2, 0], [0, 0, 4, 4]])
    # covariances (population, ddof=0): 1.25, -1 (clipped to 0), 4
    np.testing.assert_allclose(channel_weights(r1, r2), [1.25 / 5.25, 0.0, 4.0 / 5.25], rtol=1e-12)


def test_feve_per_channel_hand_case_and_weighting():
    r1 = np.array([[0, 2, 0, 2], [1, 3, 1, 3]], dtype=float)
    r2 = np.array([[0, 2, 0, 2], [1, 1, 3, 3]], dtype=float)
    pred = np.array([[0.5, 1.5, 0.5, 1.5], [2.0, 2.0, 2.0, 2.0]])
    # channel 0: noise 0, var 1, mse 0.25 -> 0.75. channel 1: noise 0.5*mean([0,4,4,0]) = 1, var 1 each,
    # mse 1 -> 1 - (1 - 1) / (1 - 1): no explainable variance -> NaN
    per = feve_per_channel(r1, r2, pred)
    assert per[0] == pytest.approx(0.75, abs=1e-12)
    assert math.isnan(per[1])
    # cov of channel 1 is 0, so the weighted FEVE is channel 0's alone
    assert feve(r1, r2, pred) == pytest.approx(0.75, abs=1e-12)


def test_feve_weights_channels_by_cross_trial_covariance():
    r1 = np.array([[0, 1, 2, 3], [0, 0, 4, 4]], dtype=float)
    r2 = np.array([[0, 1, 2, 3], [0, 0, 4, 4]], dtype=float)
    pred = np.array([[0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 3.0, 3.0]])
    # noise-free trials: channel 0 predicted exactly (FEVE 1), channel 1: mse 1, var 4 -> FEVE 0.75.
    # weights 1.25 / 5.25 and 4 / 5.25 (covariances 1.25 and 4)
    np.testing.assert_allclose(feve_per_channel(r1, r2, pred), [1.0, 0.75], atol=1e-12)
    assert feve(r1, r2, pred) == pytest.approx((1.25 * 1.0 + 4.0 * 0.75) / 5.25, abs=1e-12)
    # a per-trial prediction enters only the second trial's mse: 1 - (0.5 * (1 + 0) - 0) / 4 = 0.875 on channel 1
    np.testing.assert_allclose(feve_per_channel(r1, r2, pred, pred2=r2), [1.0, 0.875], atol=1e-12)


def test_feve_rejects_bad_shapes_non_finite_and_undefined_sounds():
    r1, r2, p = _two_trials(3, c=2, t=50)
    with pytest.raises(HearloopInputError, match="same shape"):
        feve(r1, r2[:, :-1], 4 * p)
    with pytest.raises(HearloopInputError, match="pred must have"):
        feve(r1, r2, 4 * p[:1])
    with pytest.raises(HearloopInputError, match=r"\(channels, bins\)"):
        feve(r1[0], r2[0], 4 * p[0])
    bad = 4 * p.copy()
    bad[0, 3] = np.nan
    with pytest.raises(HearloopInputError, match="non-finite"):
        feve(r1, r2, bad)
    silence = np.zeros((2, 50))
    message = (
        "no channel has a positive cross-trial covariance between r1 and r2, so the covariance weights (and FEVE) "
        "are undefined for this sound (e.g. silence or activity without a repeatable signal)"
    )
    with pytest.raises(HearloopInputError, match=f"^{re.escape(message)}$"):
        feve(silence, silence, silence)
    assert math.isnan(feve(silence, silence, silence, undefined="nan"))


def test_histogram_kl_is_zero_for_identical_distributions():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=(3, 1)).repeat(200, axis=1)  # (C, T, 5), constant over time
    counts = np.stack([rng.choice(5, size=200, p=probs[c, 0]) for c in range(3)])
    exact = np.stack([count_histogram(torch.from_numpy(counts[c])).numpy() for c in range(3)])
    exact_probs = np.repeat(exact[:, None, :], 200, axis=1)  # predicted probabilities equal to the recorded histogram
    assert spike_histogram_kl(counts, exact_probs) < 1e-6
    assert spike_histogram_kl(counts, counts) < 1e-6  # predicted counts path
    assert spike_histogram_kl(counts, probs) > 1e-4  # sampling noise makes a real difference


def test_histogram_kl_matches_hand_computation():
    recorded = np.array([[0, 0, 1, 2], [4, 4, 4, 4]])
    q = np.array([0.25, 0.25, 0.25, 0.125, 0.125])
    predicted = np.broadcast_to(q, (2, 4, 5)).copy()
    # channel 0: h = [.5, .25, .25, 0, 0] -> .5 ln(.5/.25) = 0.5 ln 2; channel 1: h = e_4 -> ln(1/.125) = ln 8
    per = spike_histogram_kl_per_channel(recorded, predicted)
    np.testing.assert_allclose(per, [0.5 * math.log(2), math.log(8)], atol=1e-5)
    got = spike_histogram_kl(recorded, predicted, weights=[1.0, 3.0])
    assert got == pytest.approx(0.25 * 0.5 * math.log(2) + 0.75 * math.log(8), abs=1e-5)
    # a predicted class with zero probability stays finite thanks to the epsilon
    zero_q = np.broadcast_to(np.array([0.0, 0.0, 0.0, 0.0, 1.0]), (2, 4, 5)).copy()
    assert np.isfinite(spike_histogram_kl(recorded, zero_q, weights=[1.0, 1.0]))
    with pytest.raises(HearloopInputError, match="probabilities summing to 1"):
        spike_histogram_kl(recorded, predicted[:1], predicted_kind="probs")
    with pytest.raises(HearloopInputError, match="1 channels but recorded has 2"):
        spike_histogram_kl(recorded, recorded[:1], weights=[1.0, 1.0])
    with pytest.raises(HearloopInputError, match="integer spike counts"):
        spike_histogram_kl(recorded, predicted, predicted_kind="counts")


def test_histogram_kl_uses_cross_trial_weights_for_trial_stacks():
    r1, r2, p = _two_trials(4, c=4, t=500)
    stack = np.stack([r1, r2])
    probs = np.stack([(1 - p) ** 4, 4 * p * (1 - p) ** 3, 6 * p**2 * (1 - p) ** 2, 4 * p**3 * (1 - p), p**4], axis=-1)
    per = spike_histogram_kl_per_channel(stack, probs)
    w = channel_weights(r1, r2)
    assert spike_histogram_kl(stack, probs) == pytest.approx(float(np.sum(w * per)), rel=1e-12)
    assert spike_histogram_kl(stack, probs) < 0.02  # binomial model of the data fits its histogram


def test_sample_counts_reproducible_and_mean_matches_expected_counts():
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(2, 3, 1, 5, generator=g), dim=-1)
    probs = probs.expand(2, 3, 20_000, 5).contiguous()
    a = sample_counts(probs, torch.Generator().manual_seed(7))
    b = sample_counts(probs, seed=7)
    c = sample_counts(probs, seed=8)
    assert a.dtype == torch.int64 and a.shape == (2, 3, 20_000)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert int(a.min()) >= 0 and int(a.max()) <= 4
    mean = expected_counts(probs)[..., 0]
    var = (probs[..., 0, :] * (torch.arange(5.0) - mean[..., None]) ** 2).sum(-1)
    se = (var / 20_000).sqrt()
    assert bool(((a.double().mean(-1) - mean).abs() < 4 * se + 1e-9).all())
    hist = count_histogram(a, dim=-1)
    assert torch.allclose(hist, probs[..., 0, :].double(), atol=0.015)


def test_expected_counts_and_onehot():
    probs = torch.tensor([[[0.0, 0.0, 1.0, 0.0, 0.0], [0.1, 0.2, 0.3, 0.2, 0.2]]])
    np.testing.assert_allclose(expected_counts(probs).numpy(), [[2.0, 0.2 + 0.6 + 0.6 + 0.8]], atol=1e-6)
    counts = torch.tensor([[0, 4, 2]])
    onehot = counts_to_onehot(counts)
    assert onehot.shape == (1, 3, 5) and torch.equal(onehot.argmax(-1), counts)
    assert torch.equal(expected_counts(onehot), counts.float())
    with pytest.raises(HearloopInputError, match=r"0\.\.4"):
        counts_to_onehot(torch.tensor([5]))


# ------------------------------------------------------------------------------- FEVE renormalisation, KL layout
def test_feve_renormalises_over_the_channels_whose_feve_is_defined():
    # channel 0: identical trials [0, 1, 2, 3] (cov 1.25), prediction off by 0.5 at the ends: mse 0.125, var 1.25,
    # noise 0 -> FEVE_0 = 1 - 0.125 / 1.25 = 0.9. Channel 1: trial 2 = trial 1 + 2 (cov 0.25 > 0, so weight 1/6),
    # noise 0.5 * 4 = 2 > var 0.25: no explainable variance, FEVE_1 undefined. FEVE = 0.9, not (5/6) * 0.9 = 0.75.
    r1 = np.array([[0, 1, 2, 3], [0, 1, 0, 1]], dtype=float)
    r2 = np.array([[0, 1, 2, 3], [2, 3, 2, 3]], dtype=float)
    pred = np.array([[0.5, 1.0, 2.0, 2.5], [1.0, 2.0, 1.0, 2.0]])
    np.testing.assert_allclose(channel_weights(r1, r2), [5 / 6, 1 / 6], rtol=1e-12)
    per = feve_per_channel(r1, r2, pred)
    assert per[0] == pytest.approx(0.9, abs=1e-12) and math.isnan(per[1])
    assert feve(r1, r2, pred) == pytest.approx(0.9, abs=1e-12)
    # when no channel with weight has a defined FEVE the sound is undefined: an error, or NaN on request
    message = "no channel with positive covariance weight has a positive explainable variance"
    with pytest.raises(HearloopInputError, match=f"^{message}$"):
        feve(r1[1:], r2[1:], pred[1:])
    assert math.isnan(feve(r1[1:], r2[1:], pred[1:], undefined="nan"))
    with pytest.raises(HearloopInputError, match="undefined must be 'raise' or 'nan', got 'zero'"):
        feve(r1, r2, pred, undefined="zero")


def test_feve_per_channel_formula_with_noisy_trials():
    # r1 = [0, 2, 4, 2], r2 = [1, 1, 3, 3], y = [1, 1, 3, 3]: noise = 0.5 mean([1, 1, 1, 1]) = 0.5;
    # mse = 0.5 (mean([1, 1, 1, 1]) + 0) = 0.5; var r1 = 2, var r2 = 1 -> total 1.5; FEVE = 1 - 0 / 1.0 = 1.0
    # y = [2, 2, 2, 2] (the mean): mse = 0.5 (2 + 1) = 1.5 -> FEVE = 1 - (1.5 - 0.5) / (1.5 - 0.5) = 0
    r1, r2 = np.array([[0.0, 2.0, 4.0, 2.0]]), np.array([[1.0, 1.0, 3.0, 3.0]])
    assert feve_per_channel(r1, r2, r2)[0] == pytest.approx(1.0, abs=1e-12)
    assert feve_per_channel(r1, r2, np.full((1, 4), 2.0))[0] == pytest.approx(0.0, abs=1e-12)
    # y = (r1 + r2) / 2: mse = 0.5 (0.25 + 0.25) = 0.25 below the noise -> FEVE = 1 - (0.25 - 0.5) / 1 = 1.25
    assert feve_per_channel(r1, r2, (r1 + r2) / 2)[0] == pytest.approx(1.25, abs=1e-12)
    # y = r1 + 1: mse = 0.5 (1 + mean([0, 4, 4, 0])) = 1.5 -> FEVE = 0
    assert feve_per_channel(r1, r2, r1 + 1.0)[0] == pytest.approx(0.0, abs=1e-12)


def test_histograms_of_trial_stacks_keep_trials_and_channels_apart():
    # trials x channels x bins: channel 0 is silent but for one 1, channel 1 fires 4 but for one 3, in both trials.
    recorded = np.array([[[0, 0, 0], [4, 4, 4]], [[0, 0, 1], [4, 4, 3]]])
    q = np.full(5, 0.2)
    predicted = np.broadcast_to(q, (2, 3, 5)).copy()
    # channel 0: h = [5/6, 1/6, 0, 0, 0]; channel 1: h = [0, 0, 0, 1/6, 5/6]; KL vs uniform = sum h ln(5 h)
    kl_expected = 5 / 6 * math.log(5 * 5 / 6) + 1 / 6 * math.log(5 / 6)
    per = spike_histogram_kl_per_channel(recorded, predicted, eps=0.0)
    np.testing.assert_allclose(per, [kl_expected, kl_expected], rtol=1e-12)
    # against the channel's own histogram the KL is 0 (a trials/channels mix-up would make it positive)
    own = np.array([[5 / 6, 1 / 6, 0, 0, 0], [0, 0, 0, 1 / 6, 5 / 6]])
    np.testing.assert_allclose(
        spike_histogram_kl_per_channel(recorded, np.repeat(own[:, None], 3, 1), eps=0.0), 0.0, atol=1e-12
    )
    # predicted counts may be a trial stack too; pooled the same way
    assert spike_histogram_kl(recorded, recorded, eps=0.0, weights=[1.0, 1.0]) == pytest.approx(0.0, abs=1e-12)
    swapped = recorded[:, ::-1]  # channels exchanged: ch 0 now fires 4
    assert spike_histogram_kl_per_channel(recorded, swapped, eps=1e-6).min() > 5.0


def test_histogram_kl_smoothing_and_default_weights():
    recorded = np.zeros((2, 4), dtype=int)  # both channels always 0
    predicted = np.broadcast_to(np.array([1.0, 0.0, 0.0, 0.0, 0.0]), (2, 4, 5)).copy()
    # h_hat <- (1 - eps) h_hat + eps / 5 = 0.9 + 0.02 at class 0 for eps = 0.1: KL = ln(1 / 0.92)
    np.testing.assert_allclose(
        spike_histogram_kl_per_channel(recorded, predicted, eps=0.1), -math.log(0.92), rtol=1e-12
    )
    # channels x bins recordings are weighted uniformly; a single trial in a stack too
    recorded = np.array([[0, 0, 0, 0], [0, 0, 1, 1]])
    per = spike_histogram_kl_per_channel(recorded, predicted, eps=0.1)
    assert spike_histogram_kl(recorded, predicted, eps=0.1) == pytest.approx(per.mean(), rel=1e-12)
    assert spike_histogram_kl(recorded[None], predicted, eps=0.1) == pytest.approx(per.mean(), rel=1e-12)
    assert spike_histogram_kl(recorded, predicted, weights=[0.0, 2.0], eps=0.1) == pytest.approx(per[1], rel=1e-12)
    # weights summing below 1 are normalised like any others
    assert spike_histogram_kl(recorded, predicted, weights=[0.1, 0.3], eps=0.1) == pytest.approx(
        0.25 * per[0] + 0.75 * per[1], rel=1e-12
    )


def test_probabilities_are_recognised_within_a_tolerance():
    recorded = np.array([[0, 1, 2, 3]])
    near = np.full((1, 4, 5), 0.2002)  # rows sum to 1.001: still probabilities
    for kind in ("auto", "probs"):  # recognised, or declared
        assert spike_histogram_kl_per_channel(recorded, near, eps=0.0, predicted_kind=kind)[0] == pytest.approx(
            0.25 * 4 * math.log(0.25 / 0.2002), rel=1e-12
        )
    with pytest.raises(HearloopInputError, match="predicted counts must hold integer spike counts"):
        spike_histogram_kl_per_channel(recorded, np.full((1, 4, 5), 0.21))  # sums to 1.05: read as counts


@pytest.mark.parametrize(
    ("recorded", "predicted", "kwargs", "match"),
    [
        ([[0, 1], [5, 1]], [[0, 1], [1, 1]], {}, r"recorded must hold integer spike counts 0\.\.4"),
        ([[0, 1], [-1, 1]], [[0, 1], [1, 1]], {}, r"recorded must hold integer spike counts"),
        ([[0, 1.5], [1, 1]], [[0, 1], [1, 1]], {}, r"recorded must hold integer spike counts"),
        ([[0, 1], [1, 1]], [[0, 1], [1, 5]], {}, r"predicted counts must hold integer spike counts"),
        ([0, 1, 2], [0, 1, 2], {}, r"recorded must be \(channels, bins\) or \(trials, channels, bins\)"),
        (
            [[0, 1], [1, 1]],
            [[0, 1], [1, 1]],
            {"weights": [-1.0, 2.0]},
            "^weights must be non-negative and not all zero$",
        ),
        (
            [[0, 1], [1, 1]],
            [[0, 1], [1, 1]],
            {"weights": [0.0, 0.0]},
            "^weights must be non-negative and not all zero$",
        ),
        ([[0, 1], [1, 1]], [[0, 1], [1, 1]], {"weights": [1.0, np.nan]}, "^weights contains 1 non-finite values"),
        ([[0, 1], [1, 1]], [[0, 1], [1, 1]], {"weights": ["a", 1.0]}, "^weights must be a numeric array or tensor"),
        ([[0, 1], [1, 1]], [[0, 1], [1, 1]], {"weights": [1.0]}, r"weights must have shape \(2,\)"),
        ([[0, 1], [1, 1]], [[0, 1], [1, 1]], {"eps": 1.0}, r"eps must be in \[0, 1\), got 1.0"),
        ([[0, 1], [1, 1]], [[0, 1], [1, 1]], {"eps": -0.1}, r"eps must be in \[0, 1\)"),
        ([[0, 1], [1, 1]], [[0, 1], [1, 1]], {"predicted_kind": "rates"}, "predicted_kind must be 'auto'"),
        (
            [[0, 1], [1, 1]],
            np.zeros((1, 2, 2, 2)),
            {},
            re.escape(
                "predicted must be probabilities (channels, bins, 5) or counts (channels, bins) or (trials, channels, "
                "bins); got shape (1, 2, 2, 2)"
            ),
        ),
        (np.zeros((2, 0)), [[0, 1], [1, 1]], {}, r"recorded is empty"),
        ([[0, 1], [1, float("nan")]], [[0, 1], [1, 1]], {}, r"recorded contains 1 non-finite"),
        ([["a", 1], [1, 1]], [[0, 1], [1, 1]], {}, r"recorded must be a numeric array"),
    ],
)
def test_histogram_kl_rejects_bad_input_by_name(recorded, predicted, kwargs, match):
    with pytest.raises(HearloopInputError, match=match):
        spike_histogram_kl(np.asarray(recorded) if not isinstance(recorded, list) else recorded, predicted, **kwargs)


@pytest.mark.parametrize(
    ("r1", "r2", "match"),
    [
        (np.zeros((2, 1)), np.zeros((2, 1)), r"need at least 1 channel and 2 bins; got shape \(2, 1\)"),
        (np.zeros((0, 4)), np.zeros((0, 4)), r"need at least 1 channel and 2 bins"),
        (np.zeros((2, 4, 1)), np.zeros((2, 4, 1)), r"r1 must have shape \(channels, bins\)"),
        (np.zeros((2, 4)), np.full((2, 4), np.inf), r"r2 contains 8 non-finite"),
    ],
)
def test_channel_weights_reject_bad_trials_by_name(r1, r2, match):
    with pytest.raises(HearloopInputError, match=match):
        channel_weights(r1, r2)
    with pytest.raises(HearloopInputError, match=match):
        feve(r1, r2, r1)


def test_feve_second_prediction_must_match_the_recordings():
    r1 = np.array([[0.0, 1.0, 2.0, 3.0]])
    with pytest.raises(HearloopInputError, match=r"pred2 must have the recordings' shape \(1, 4\)"):
        feve(r1, r1, r1, pred2=r1[:, :2])


def test_feve_accepts_two_bins_is_scale_free_and_leaves_constant_channels_undefined():
    # two bins are the fewest with a variance: identical trials [0, 1] predicted exactly -> weight 1, FEVE 1
    np.testing.assert_allclose(channel_weights([[0.0, 1.0]], [[0.0, 1.0]]), [1.0], rtol=1e-12)
    assert feve([[0.0, 1.0]], [[0.0, 1.0]], [[0.0, 1.0]]) == pytest.approx(1.0, abs=1e-12)
    # the explainable-variance guard is relative: FEVE_0 = 0.9 (hand case above) at any scale of the counts
    r, pred = np.array([[0.0, 1.0, 2.0, 3.0]]), np.array([[0.5, 1.0, 2.0, 2.5]])
    for scale in (1e-4, 1.0, 1e4):
        assert feve_per_channel(scale * r, scale * r, scale * pred)[0] == pytest.approx(0.9, abs=1e-9)
    # a channel constant in both trials has no explainable variance (0 = 0): undefined, not -inf
    r = np.array([[2.0, 2.0, 2.0, 2.0], [0.0, 1.0, 2.0, 3.0]])
    per = feve_per_channel(r, r, np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 2.0, 3.0]]))
    assert math.isnan(per[0]) and per[1] == pytest.approx(1.0, abs=1e-12)


def test_tensors_that_require_grad_are_detached():
    r1, r2, p = _two_trials(5, c=3, t=200)
    expected = feve(r1, r2, 4 * p)
    assert feve(r1, r2, torch.from_numpy(4 * p).requires_grad_()) == pytest.approx(expected, rel=1e-12)
    probs = torch.full((3, 200, 5), 0.2, dtype=torch.float64, requires_grad=True)
    assert spike_histogram_kl(r1, probs) == pytest.approx(spike_histogram_kl(r1, np.full((3, 200, 5), 0.2)), rel=1e-12)


@pytest.mark.parametrize(
    ("arg", "match"),
    [
        ("r1", "^r1 contains 1 non-finite values"),
        ("r2", "^r2 contains 1 non-finite values"),
        ("pred", "^pred contains 1 non-finite values"),
        ("pred2", "^pred2 contains 1 non-finite values"),
        ("pred_text", "^pred must be a numeric array or tensor"),
        ("pred2_text", "^pred2 must be a numeric array or tensor"),
    ],
)
def test_feve_names_the_bad_argument(arg, match):
    good = np.array([[0.0, 1.0, 2.0, 3.0]])
    bad = np.array([[0.0, np.nan, 2.0, 3.0]])
    kwargs = {"r1": good, "r2": good, "pred": good, "pred2": good}
    kwargs[arg.removesuffix("_text")] = [["a", 1.0, 2.0, 3.0]] if arg.endswith("_text") else bad
    with pytest.raises(HearloopInputError, match=match):
        feve(**kwargs)


def test_histogram_kl_names_bad_predictions():
    with pytest.raises(HearloopInputError, match=r"^predicted contains 1 non-finite values"):
        spike_histogram_kl_per_channel([[0, 1]], [[0.0, np.nan]])
    with pytest.raises(HearloopInputError, match=r"^predicted must be a numeric array or tensor"):
        spike_histogram_kl([[0, 1]], [["a", 1]])
