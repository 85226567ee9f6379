"""The response distances of simulator.metrics (eqs. (D1)-(D3)): hand-computed values, broadcasting, gradients, the
channel weights of a model, and every validation branch (error type and the argument named)."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from simulator.errors import HearloopInputError
from simulator.metrics import (
    KL_FLOOR,
    RESPONSE_DISTANCES,
    check_response_distance,
    expected_counts,
    response_channel_weights,
    response_distance,
    response_distance_per_channel,
)


def _onehot(n: int) -> list[float]:
    return [1.0 if k == n else 0.0 for k in range(5)]


# 1 x 2 channels x 2 bins x 5 count classes (float64). Expected counts: reference [[1, 3], [0.5, 4]], response
# [[2, 1], [0.75, 4]]; channel 1, bin 0 holds soft distributions (0.5, 0.5) and (0.25, 0.75) over counts 0 and 1.
REFERENCE = torch.tensor([[[_onehot(1), _onehot(3)], [[0.5, 0.5, 0.0, 0.0, 0.0], _onehot(4)]]], dtype=torch.float64)
RESPONSE = torch.tensor([[[_onehot(2), _onehot(1)], [[0.25, 0.75, 0.0, 0.0, 0.0], _onehot(4)]]], dtype=torch.float64)
SILENCE = torch.tensor([[[_onehot(0), _onehot(0)], [_onehot(0), _onehot(0)]]], dtype=torch.float64)
WEIGHTS = torch.tensor([0.25, 0.75], dtype=torch.float64)

# d_i by hand (eq. (D1)): l1 = mean_t |E_ref - E|, l2 = mean_t (E_ref - E)^2,
# kl: channel 0 puts all its mass on a count the response gives 0 (floored to 1e-8): 1 * (0 - log 1e-8) plus the
# reference's floored 1e-8 on the response's count: 1e-8 * (log 1e-8 - log 1); channel 1: (0.5 ln(0.5 / 0.25) +
# 0.5 ln(0.5 / 0.75)) / 2 bins = ln(4/3) / 4, the identical bin and the classes both floor to 1e-8 adding 0.
KL_CH0 = -math.log(1e-8) + 1e-8 * math.log(1e-8)
KL_CH1 = math.log(4.0 / 3.0) / 4.0
PER_CHANNEL = {"l1": [1.5, 0.125], "l2": [2.5, 0.03125], "kl": [KL_CH0, KL_CH1]}
WEIGHTED = {"l1": 0.25 * 1.5 + 0.75 * 0.125, "l2": 0.25 * 2.5 + 0.75 * 0.03125, "kl": 0.25 * KL_CH0 + 0.75 * KL_CH1}


def test_the_distances_and_the_floor():
    assert RESPONSE_DISTANCES == ("l1", "l2", "kl")
    assert KL_FLOOR == 1e-8
    assert WEIGHTED["l1"] == 0.46875 and WEIGHTED["l2"] == 0.6484375 and WEIGHTED["kl"] == pytest.approx(4.6591105285)


def test_expected_counts_known_values():
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.2, 0.2], _onehot(4), [0.2] * 5], dtype=torch.float64)
    e = expected_counts(probs)
    assert e.dtype == torch.float64 and e.shape == (3,)
    torch.testing.assert_close(e, torch.tensor([0.2 + 0.6 + 0.6 + 0.8, 4.0, 2.0], dtype=torch.float64))
    assert expected_counts(probs.float()).dtype == torch.float32
    # on the probabilities' device (a `meta` tensor stands in for a GPU: a CPU count vector would not multiply it)
    meta = expected_counts(torch.zeros(2, 3, 5, device="meta"))
    assert meta.device.type == "meta" and meta.shape == (2, 3)


@pytest.mark.parametrize("distance", RESPONSE_DISTANCES)
def test_per_channel_distances_known_values(distance):
    d = response_distance_per_channel(REFERENCE, RESPONSE, distance)
    assert d.shape == (1, 2) and d.dtype == torch.float64
    torch.testing.assert_close(d[0], torch.tensor(PER_CHANNEL[distance], dtype=torch.float64), rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("distance", RESPONSE_DISTANCES)
def test_channel_weighted_distance_known_values(distance):
    d = response_distance(REFERENCE, RESPONSE, WEIGHTS, distance)
    assert d.shape == (1,)
    assert float(d[0]) == pytest.approx(WEIGHTED[distance], rel=1e-12)


def test_l1_is_the_default_and_identical_responses_are_at_zero():
    assert float(response_distance(REFERENCE, RESPONSE, WEIGHTS)[0]) == pytest.approx(0.46875, rel=1e-12)
    torch.testing.assert_close(response_distance_per_channel(REFERENCE, RESPONSE), response_distance_per_channel(
        REFERENCE, RESPONSE, "l1"))  # fmt: skip
    for distance in RESPONSE_DISTANCES:
        assert float(response_distance(REFERENCE, REFERENCE, WEIGHTS, distance)[0]) == 0.0


def test_response_scale_is_the_distance_to_silence():
    # D_0 (eq. (D3)), l1: channel 0 (1 + 3) / 2 = 2, channel 1 (0.5 + 4) / 2 = 2.25 -> 0.25 * 2 + 0.75 * 2.25
    assert float(response_distance(REFERENCE, SILENCE, WEIGHTS)[0]) == pytest.approx(2.1875, rel=1e-12)


def test_kl_is_of_the_reference_from_the_response_not_the_reverse():
    reverse = response_distance_per_channel(RESPONSE, REFERENCE, "kl")[0, 1]
    # KL(response || reference) on channel 1: (0.25 ln(0.25 / 0.5) + 0.75 ln(0.75 / 0.5)) / 2
    assert float(reverse) == pytest.approx((0.25 * math.log(0.5) + 0.75 * math.log(1.5)) / 2, rel=1e-12)
    assert float(reverse) != pytest.approx(KL_CH1, rel=1e-3)


def test_one_reference_broadcasts_over_a_batch_of_responses():
    batch = torch.cat([RESPONSE, REFERENCE, SILENCE])  # 3 x 2 x 2 x 5
    d = response_distance(REFERENCE, batch, WEIGHTS)
    torch.testing.assert_close(d, torch.tensor([0.46875, 0.0, 2.1875], dtype=torch.float64), rtol=1e-12, atol=0.0)
    per_channel = response_distance_per_channel(batch, REFERENCE, "l2")  # and the other way round
    assert per_channel.shape == (3, 2)
    torch.testing.assert_close(per_channel[0], torch.tensor([2.5, 0.03125], dtype=torch.float64))


def test_responses_without_or_with_more_leading_axes():
    d = response_distance(REFERENCE[0], RESPONSE[0], WEIGHTS, "l1")  # channels x bins x 5: one value, shape ()
    assert d.shape == () and float(d) == pytest.approx(0.46875, rel=1e-12)
    batch = torch.stack([torch.cat([RESPONSE, SILENCE, REFERENCE])] * 2)  # 2 x 3 x channels x bins x 5
    d = response_distance(REFERENCE, batch, WEIGHTS, "l1")
    expected = torch.tensor([[0.46875, 2.1875, 0.0]] * 2, dtype=torch.float64)
    torch.testing.assert_close(d, expected, rtol=1e-12, atol=0.0)
    assert response_distance_per_channel(REFERENCE[0], batch).shape == (2, 3, 2)


def test_float32_inputs_give_float32_distances():
    d = response_distance(REFERENCE.float(), RESPONSE.float(), WEIGHTS.float(), "l2")
    assert d.dtype == torch.float32 and float(d[0]) == pytest.approx(0.6484375, rel=1e-6)


def test_gradients_reach_the_response():
    response = RESPONSE.clone().requires_grad_(True)
    response_distance(REFERENCE, response, WEIGHTS, "l1").sum().backward()
    # dD / dp(n) = w_i sign(E - E_ref) n / T: channel 0, bin 0 (E = 2 > 1) 0.25 n / 2; bin 1 (E = 1 < 3) -0.25 n / 2
    n = torch.arange(5, dtype=torch.float64)
    torch.testing.assert_close(response.grad[0, 0, 0], 0.125 * n)
    torch.testing.assert_close(response.grad[0, 0, 1], -0.125 * n)
    weights = WEIGHTS.clone().requires_grad_(True)  # and the weights (dD / dw_i = d_i)
    response_distance(REFERENCE, RESPONSE, weights, "l2").sum().backward()
    torch.testing.assert_close(weights.grad, torch.tensor(PER_CHANNEL["l2"], dtype=torch.float64))


# -------------------------------------------------------------------------------------------- validation branches
def test_unknown_distance_is_named():
    message = r"^unknown distance 'cosine'; supported: l1, l2, kl$"
    assert check_response_distance("kl") == "kl"
    with pytest.raises(HearloopInputError, match=message):
        check_response_distance("cosine")
    with pytest.raises(HearloopInputError, match=message):
        response_distance_per_channel(REFERENCE, RESPONSE, "cosine")
    with pytest.raises(HearloopInputError, match=message):
        response_distance(REFERENCE, RESPONSE, WEIGHTS, "cosine")


@pytest.mark.parametrize(
    ("reference", "response", "message"),
    [
        (REFERENCE.numpy(), RESPONSE, r"^reference must be a tensor \(\.\.\., channels, bins, 5\); got ndarray$"),
        (REFERENCE[0, 0], RESPONSE, r"^reference must be a tensor \(\.\.\., channels, bins, 5\); got \(2, 5\)$"),
        (REFERENCE, RESPONSE[..., :4], r"^response must be a tensor \(\.\.\., channels, bins, 5\); got \(1, 2, 2, 4\)"),
        (REFERENCE, [0.2] * 5, r"^response must be a tensor \(\.\.\., channels, bins, 5\); got list$"),
    ],
)
def test_a_response_that_is_not_channels_bins_classes_is_named(reference, response, message):
    with pytest.raises(HearloopInputError, match=message):
        response_distance_per_channel(reference, response)


@pytest.mark.parametrize(
    ("response", "shape"),
    [
        (RESPONSE[:, :, :1], r"\(1, 2, 1, 5\)"),  # other bins
        (RESPONSE[:, :1], r"\(1, 1, 2, 5\)"),  # other channels
        (torch.cat([RESPONSE] * 2), r"\(2, 2, 2, 5\)"),  # a batch of 2 against 3
    ],
)
def test_responses_of_other_channels_bins_or_batches_are_named(response, shape):
    reference = torch.cat([REFERENCE] * 3)  # a batch of 3: broadcasts with 1 or none, not with 2
    assert response_distance_per_channel(reference, RESPONSE[0]).shape == (3, 2)
    assert response_distance_per_channel(reference, RESPONSE).shape == (3, 2)
    message = (
        r"^reference and response must have the same channels and bins and broadcastable leading dimensions; got "
        rf"\(3, 2, 2, 5\) and {shape}$"
    )
    with pytest.raises(HearloopInputError, match=message):
        response_distance_per_channel(reference, response)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (torch.full((3,), 1 / 3), r"^weights must be a tensor of one weight per channel \(2\); got \(3,\)"),
        (WEIGHTS.reshape(1, 2), r"^weights must be a tensor of one weight per channel \(2\); got \(1, 2\)$"),
        ([0.25, 0.75], r"^weights must be a tensor of one weight per channel \(2\); got list$"),
    ],
)
def test_weights_of_the_wrong_shape_are_named(weights, message):
    with pytest.raises(HearloopInputError, match=message):
        response_distance(REFERENCE, RESPONSE, weights)


@pytest.mark.parametrize(
    "weights",
    [[1.25, -0.25], [float("nan"), 1.0], [float("inf"), 0.0], [0.25, 0.7], [0.25, 0.7502], [0.5, 0.5 - 2e-4]],
)
def test_weights_that_are_negative_not_finite_or_do_not_sum_to_one_are_refused(weights):
    message = r"^weights must be finite, non-negative and sum to 1 \(see response_channel_weights\)$"
    with pytest.raises(HearloopInputError, match=message):
        response_distance(REFERENCE, RESPONSE, torch.tensor(weights, dtype=torch.float64))


@pytest.mark.parametrize("weights", [[0.25, 0.75 + 9e-5], [0.25, 0.75 - 9e-5], [0.0, 1.0]])
def test_weights_within_the_tolerance_of_one_are_accepted(weights):
    w = torch.tensor(weights, dtype=torch.float64)
    expected = w[0] * PER_CHANNEL["l1"][0] + w[1] * PER_CHANNEL["l1"][1]
    assert float(response_distance(REFERENCE, RESPONSE, w)[0]) == pytest.approx(float(expected), rel=1e-12)


def test_expected_counts_names_a_wrong_last_dimension():
    with pytest.raises(HearloopInputError, match=r"^probs must have a last dimension of 5; got shape \(2, 4\)$"):
        expected_counts(torch.zeros(2, 4))


# --------------------------------------------------------------------------------------- a model's channel weights
def test_channel_weights_given_stored_or_uniform_are_normalised_float32():
    stored = SimpleNamespace(n_channels=2, metadata={"channel_weights": [1.0, 3.0]})
    w = response_channel_weights(stored)
    assert w.dtype == torch.float32 and w.device.type == "cpu"
    torch.testing.assert_close(w, torch.tensor([0.25, 0.75]), rtol=0.0, atol=0.0)
    given = response_channel_weights(stored, np.array([2.0, 2.0]))  # given wins over stored
    torch.testing.assert_close(given, torch.tensor([0.5, 0.5]), rtol=0.0, atol=0.0)
    for bare in (SimpleNamespace(n_channels=4), SimpleNamespace(n_channels=4, metadata=None),
                 SimpleNamespace(n_channels=4, metadata={"other": 1})):  # fmt: skip
        torch.testing.assert_close(response_channel_weights(bare), torch.full((4,), 0.25), rtol=0.0, atol=0.0)
    torch.testing.assert_close(response_channel_weights(stored, torch.tensor([0.0, 5.0])), torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1.0, 2.0, 3.0], r"^channel_weights must have one value per model channel \(2\); got shape \(3,\)$"),
        ([[1.0, 2.0]], r"^channel_weights must have one value per model channel \(2\); got shape \(1, 2\)$"),
        ([0.0, 0.0], r"^channel_weights must be finite, non-negative and not all zero$"),
        ([2.0, -1.0], r"^channel_weights must be finite, non-negative and not all zero$"),  # positive sum
        ([float("nan"), 1.0], r"^channel_weights must be finite, non-negative and not all zero$"),
        ([float("inf"), 1.0], r"^channel_weights must be finite, non-negative and not all zero$"),
    ],
)
def test_bad_channel_weights_are_named(weights, message):
    with pytest.raises(HearloopInputError, match=message):
        response_channel_weights(SimpleNamespace(n_channels=2), weights)
    with pytest.raises(HearloopInputError, match=message):  # stored in the model's metadata alike
        response_channel_weights(SimpleNamespace(n_channels=2, metadata={"channel_weights": weights}))
