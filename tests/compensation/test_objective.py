"""The neural-fidelity objective: zero at the target, correct per-channel values, gradients, weights and errors."""

import numpy as np
import pytest
import torch

from compensation.objective import NeuralFidelityObjective, fidelity_restored
from simulator.constants import SAMPLE_RATE
from simulator.errors import HearloopInputError
from simulator.model.spikes import expected_counts

REF_NU = np.array([0.3, 0.4, 0.5, 0.6, 0.5, 0.4], dtype=np.float32)
HI_NU = np.array([0.9, 0.1, 0.8, 0.2, 0.9, 0.1], dtype=np.float32)


@pytest.fixture(scope="module")
def model(tiny_model):
    return tiny_model


@pytest.fixture(scope="module")
def clean():
    t = torch.arange(4096) / SAMPLE_RATE
    gen = torch.Generator().manual_seed(1)
    tone = 0.2 * torch.sin(2 * torch.pi * 1000.0 * t)
    noise = 0.05 * torch.randn(4096, generator=gen)
    return torch.stack([tone, noise]).float()


@pytest.mark.parametrize("distance", ["l1", "l2", "kl"])
def test_zero_distance_for_the_reference_listener_hearing_the_clean_sound(model, clean, distance):
    obj = NeuralFidelityObjective(model, REF_NU, distance=distance)
    d = obj(clean, clean, REF_NU)
    assert d.shape == (2,)
    assert torch.allclose(d, torch.zeros(2), atol=1e-6)


@pytest.mark.parametrize("distance", ["l1", "l2", "kl"])
def test_impaired_listener_is_at_positive_distance_and_unaided_restores_nothing(model, clean, distance):
    obj = NeuralFidelityObjective(model, REF_NU, distance=distance)
    d_unaided = obj(clean, clean, HI_NU)
    assert bool((d_unaided > 0).all())
    assert torch.allclose(fidelity_restored(d_unaided, d_unaided), torch.zeros(2))


def test_l1_equals_a_direct_computation_with_channel_weights(model, clean):
    weights = np.arange(1, model.n_channels + 1, dtype=np.float32)
    obj = NeuralFidelityObjective(model, REF_NU, distance="l1", channel_weights=weights)
    aided = clean * 1.7
    with torch.no_grad():
        ref = torch.softmax(model.decode(model.encode(clean), torch.as_tensor(REF_NU).expand(2, -1)), -1)
        lis = torch.softmax(model.decode(model.encode(aided), torch.as_tensor(HI_NU).expand(2, -1)), -1)
    per_channel = (expected_counts(ref) - expected_counts(lis)).abs().mean(-1)
    expected = per_channel @ torch.as_tensor(weights / weights.sum())
    assert torch.allclose(obj(clean, aided, HI_NU), expected, rtol=1e-4, atol=1e-7)
    assert torch.allclose(obj.per_channel(clean, aided, HI_NU), per_channel, rtol=1e-4, atol=1e-7)


def test_cached_target_and_broadcast_clean_give_the_same_distance(model, clean):
    obj = NeuralFidelityObjective(model, REF_NU, distance="kl")
    one = clean[:1]
    aided = torch.cat([one, one * 2.0])
    nus = torch.as_tensor(np.stack([HI_NU, REF_NU]))
    d = obj(one, aided, nus, target=obj.target(one))
    d0 = obj(one, one, HI_NU)
    d1 = obj(one, one * 2.0, REF_NU)
    assert torch.allclose(d, torch.cat([d0, d1]), rtol=1e-5, atol=1e-7)


def test_gradients_reach_the_aided_audio_and_nu(model, clean):
    obj = NeuralFidelityObjective(model, REF_NU, distance="l2")
    aided = (clean * 1.3).requires_grad_(True)
    nu = torch.as_tensor(HI_NU).clone().requires_grad_(True)
    obj(clean, aided, nu).sum().backward()
    assert aided.grad is not None and float(aided.grad.abs().sum()) > 0
    assert nu.grad is not None and float(nu.grad.abs().sum()) > 0


def test_weights_come_from_model_metadata_when_not_given(model, clean):
    weights = np.zeros(model.n_channels, dtype=np.float32)
    weights[0] = 1.0
    model.metadata = {"channel_weights": weights.tolist()}
    try:
        obj = NeuralFidelityObjective(model, REF_NU)
        d = obj(clean, clean * 1.5, HI_NU)
        assert torch.allclose(d, obj.per_channel(clean, clean * 1.5, HI_NU)[:, 0])
    finally:
        del model.metadata


def test_bad_input_is_named(model, clean):
    with pytest.raises(HearloopInputError, match="unknown distance"):
        NeuralFidelityObjective(model, REF_NU, distance="cosine")
    with pytest.raises(HearloopInputError, match="channel_weights"):
        NeuralFidelityObjective(model, REF_NU, channel_weights=[1.0, 2.0])
    obj = NeuralFidelityObjective(model, REF_NU)
    bad = clean.clone()
    bad[0, 10] = float("nan")
    with pytest.raises(HearloopInputError, match="NaN"):
        obj(clean, bad, HI_NU)
    with pytest.raises(HearloopInputError):
        obj(clean, clean, HI_NU * 2.0)
    with pytest.raises(HearloopInputError, match="length"):
        obj(clean, clean[:, :2048], HI_NU)
    with pytest.raises(HearloopInputError, match="undefined"):
        fidelity_restored(torch.tensor([0.1]), torch.tensor([0.0]))


# ------------------------------------------------------------------------------------------------ fidelity restored
@pytest.mark.parametrize(
    ("d_aided", "d_unaided", "expected"),
    [
        (0.25, 1.0, 0.75),  # 1 - 0.25 / 1 (the inverted 1 - 1 / 0.25 would give -3)
        (0.0, 2.0, 1.0),  # a perfect restoration
        (2.0, 2.0, 0.0),  # no change
        (3.0, 2.0, -0.5),  # the aid makes things worse: 1 - 3 / 2
        (0.5, 4.0, 0.875),  # 1 - 0.125
        (1e-3, 1e-12, 1.0 - 1e9),  # any positive unaided distance is defined
    ],
)
def test_fidelity_restored_known_values(d_aided, d_unaided, expected):
    assert fidelity_restored(d_aided, d_unaided) == pytest.approx(expected, rel=1e-12)


def test_fidelity_restored_is_elementwise_and_keeps_the_type():
    d_aided, d_unaided = np.array([0.1, 0.6, 0.9]), np.array([0.2, 0.3, 0.9])
    np.testing.assert_allclose(fidelity_restored(d_aided, d_unaided), [0.5, -1.0, 0.0], rtol=1e-12)
    t = fidelity_restored(torch.tensor([0.1, 0.6]), torch.tensor([0.4, 0.3]))
    assert isinstance(t, torch.Tensor) and torch.allclose(t, torch.tensor([0.75, -1.0]))
    # a tensor of aided distances over one unaided float (the HITL quality), gradients pass through
    d = torch.tensor([0.5, 1.5], requires_grad=True)
    q = fidelity_restored(d, 2.0)
    q.sum().backward()
    assert torch.allclose(q.detach(), torch.tensor([0.75, 0.25])) and torch.allclose(d.grad, torch.full((2,), -0.5))


@pytest.mark.parametrize("d_unaided", [0.0, -0.5, [0.3, 0.0], np.array([1.0, -1e-9]), torch.tensor([0.0, 1.0])])
def test_fidelity_restored_rejects_non_positive_unaided_distances(d_unaided):
    d_aided = 0.1 if np.ndim(d_unaided) == 0 else torch.full((2,), 0.1)
    with pytest.raises(HearloopInputError, match="d_unaided"):
        fidelity_restored(d_aided, d_unaided)


def test_fidelity_restored_error_message_and_gradient_through_the_unaided_distance():
    message = (
        r"^fidelity restored is undefined when the unaided distance d_unaided is 0 \(the listener already matches the "
        r"NH target\)$"
    )
    with pytest.raises(HearloopInputError, match=message):
        fidelity_restored(0.1, 0.0)
    # an unaided distance that carries a gradient is checked without leaving the graph: d FR / d D_u = D_a / D_u^2
    d_unaided = torch.tensor([2.0, 4.0], requires_grad=True)
    fr = fidelity_restored(torch.tensor([1.0, 1.0]), d_unaided)
    fr.sum().backward()
    assert torch.allclose(fr.detach(), torch.tensor([0.5, 0.75]))
    assert torch.allclose(d_unaided.grad, torch.tensor([0.25, 0.0625]))


# -------------------------------------------------------------------------------------------- validation branches
def test_objective_input_errors_name_the_argument(model, clean):
    obj = NeuralFidelityObjective(model, REF_NU)
    bad = clean.clone()
    bad[1, 5] = float("inf")
    with pytest.raises(HearloopInputError, match="aided audio contains NaN or Inf"):
        obj.response(bad, HI_NU)
    with pytest.raises(HearloopInputError, match=r"aided audio must have shape \(batch, samples\); got \(4096,\)"):
        obj.response(clean[0], HI_NU)
    three = torch.as_tensor(np.stack([HI_NU] * 3))
    with pytest.raises(HearloopInputError, match="nu batch 3 must be 1 or equal the audio batch 2"):
        obj(clean, clean, three)
    with pytest.raises(HearloopInputError, match=r"target shape \(2, 2, 128, 5\) does not match response"):
        obj(clean, clean, HI_NU, target=obj.target(clean)[:, :2])
    with pytest.raises(HearloopInputError, match=r"clean audio must have the aided audio's length and its batch"):
        obj(clean[:1].expand(3, -1), clean.repeat(2, 1)[:2], HI_NU)
    with pytest.raises(HearloopInputError, match="clean"):
        obj.target(torch.full((1, 4096), float("nan")))
    with pytest.raises(HearloopInputError, match="channel_weights must be finite, non-negative and not all zero"):
        NeuralFidelityObjective(model, REF_NU, channel_weights=-np.ones(model.n_channels))
    with pytest.raises(HearloopInputError, match="channel_weights must be finite"):
        NeuralFidelityObjective(model, REF_NU, channel_weights=np.zeros(model.n_channels))
    # each condition alone: one negative weight among positive ones (positive sum), one NaN weight
    with pytest.raises(HearloopInputError, match="channel_weights must be finite, non-negative and not all zero"):
        NeuralFidelityObjective(model, REF_NU, channel_weights=[2.0, -1.0, 1.0, 1.0, 1.0, 1.0])
    with pytest.raises(HearloopInputError, match="channel_weights must be finite, non-negative and not all zero"):
        NeuralFidelityObjective(model, REF_NU, channel_weights=[float("nan"), 1.0, 1.0, 1.0, 1.0, 1.0])
    with pytest.raises(HearloopInputError, match=r"one value per model channel \(6\); got shape \(2,\)"):
        NeuralFidelityObjective(model, REF_NU, channel_weights=[1.0, 2.0])


def test_nu_is_shared_or_paired_with_the_sounds(model, clean):
    obj = NeuralFidelityObjective(model, REF_NU, distance="l2")
    d_one = obj(clean, clean * 1.4, HI_NU)
    d_row = obj(clean, clean * 1.4, torch.as_tensor(HI_NU).reshape(1, -1))
    d_pair = obj(clean, clean * 1.4, torch.as_tensor(np.stack([HI_NU, REF_NU])))
    torch.testing.assert_close(d_one, d_row)
    assert d_pair[0] == pytest.approx(float(d_one[0]), rel=1e-5)
    assert d_pair[1] == pytest.approx(float(obj(clean[1:], clean[1:] * 1.4, REF_NU)[0]), rel=1e-5)


def test_kl_and_l2_distances_equal_a_direct_computation(model, clean):
    aided = clean * 0.6
    with torch.no_grad():
        ref = torch.softmax(model.decode(model.encode(clean), torch.as_tensor(REF_NU).expand(2, -1)), -1)
        lis = torch.softmax(model.decode(model.encode(aided), torch.as_tensor(HI_NU).expand(2, -1)), -1)
    kl = (ref.clamp_min(1e-8) * (ref.clamp_min(1e-8).log() - lis.clamp_min(1e-8).log())).sum(-1).mean(-1)
    l2 = (expected_counts(ref) - expected_counts(lis)).square().mean(-1)
    w = torch.full((model.n_channels,), 1.0 / model.n_channels)
    for distance, per_channel in (("kl", kl), ("l2", l2)):
        obj = NeuralFidelityObjective(model, REF_NU, distance=distance)
        torch.testing.assert_close(obj.per_channel(clean, aided, HI_NU), per_channel, rtol=1e-4, atol=1e-8)
        torch.testing.assert_close(obj(clean, aided, HI_NU), per_channel @ w, rtol=1e-4, atol=1e-8)


def test_whole_error_messages_name_the_argument(model):
    with pytest.raises(HearloopInputError, match=r"^unknown distance 'cosine'; supported: l1, l2, kl$"):
        NeuralFidelityObjective(model, REF_NU, distance="cosine")
    with pytest.raises(HearloopInputError, match=r"^channel_weights must be finite, non-negative and not all zero$"):
        NeuralFidelityObjective(model, REF_NU, channel_weights=np.zeros(model.n_channels))
    obj = NeuralFidelityObjective(model, REF_NU)
    with pytest.raises(HearloopInputError, match=r"^clean contains 3 non-finite values \(NaN or inf\)$"):
        obj.target(torch.tensor([[0.0, float("nan"), float("inf"), 1.0, float("-inf")]]))


def test_reference_nu_from_any_numeric_array_is_one_float32_row(model):
    expected = torch.as_tensor(REF_NU).reshape(1, -1)
    for given in (REF_NU.tolist(), REF_NU.astype(np.float64), REF_NU.astype(np.longdouble), torch.as_tensor(REF_NU)):
        ref = NeuralFidelityObjective(model, given).reference_nu
        assert ref.dtype == torch.float32 and ref.shape == (1, model.n_params)
        torch.testing.assert_close(ref, expected, rtol=0.0, atol=0.0)


def test_target_never_builds_a_graph(model, clean):
    obj = NeuralFidelityObjective(model, REF_NU)
    plain = obj.target(clean)
    with_grad = obj.target(clean.clone().requires_grad_(True))  # the target is a constant of the optimisation
    assert not plain.requires_grad and not with_grad.requires_grad
    torch.testing.assert_close(with_grad, plain, rtol=0.0, atol=0.0)


class _MetaDeviceModel(torch.nn.Module):
    """Stand-in for a model on another device (``meta``): it records what the objective passes to ``predict`` and
    answers 0.2 for every count class."""

    n_params = 6
    n_channels = 6
    device = torch.device("meta")

    def __init__(self):
        super().__init__()
        self.calls = []

    def predict(self, audio, nu, grad=None):
        self.calls.append((audio, nu, grad))
        return torch.full((audio.shape[0], 6, audio.shape[1] // 32, 5), 0.2, device=audio.device)


def test_reference_nu_and_weights_live_on_the_model_device():
    obj = NeuralFidelityObjective(_MetaDeviceModel(), REF_NU)
    assert obj.reference_nu.device.type == "meta" and obj.channel_weights.device.type == "meta"
    assert obj.reference_nu.shape == (1, 6) and obj.channel_weights.shape == (6,)


def test_listener_nu_goes_to_the_model_device_and_a_graph_is_built_only_on_request():
    model = _MetaDeviceModel()
    obj = NeuralFidelityObjective(model, REF_NU)
    aided = torch.zeros(2, 64)
    assert obj.response(aided, HI_NU).shape == (2, 6, 2, 5)
    audio, nu, grad = model.calls[-1]
    assert audio is aided and nu.device.type == "meta" and nu.shape == (2, 6) and nu.dtype == torch.float32
    # the objective decides whether the model builds a graph: only when the aided audio or nu requires grad (a
    # model put back in training mode would otherwise build one)
    assert grad is False
    obj.response(aided.clone().requires_grad_(True), HI_NU)
    assert model.calls[-1][2] is True
    obj.response(aided, torch.as_tensor(HI_NU).requires_grad_(True))
    assert model.calls[-1][2] is True


def test_gradient_reaches_the_aided_audio_alone_and_nu_alone(model, clean):
    obj = NeuralFidelityObjective(model, REF_NU, distance="l1")
    aided = (clean * 1.3).requires_grad_(True)
    obj(clean, aided, HI_NU).sum().backward()
    assert aided.grad is not None and float(aided.grad.abs().sum()) > 0
    nu = torch.as_tensor(HI_NU).clone().requires_grad_(True)
    obj(clean, clean * 1.3, nu).sum().backward()
    assert nu.grad is not None and float(nu.grad.abs().sum()) > 0


def test_listener_nu_from_any_numeric_array_gives_the_same_distance(model, clean):
    obj = NeuralFidelityObjective(model, REF_NU, distance="l2")
    expected = obj(clean, clean * 1.4, HI_NU)
    for given in (HI_NU.tolist(), HI_NU.astype(np.float64), HI_NU.astype(np.longdouble)):
        torch.testing.assert_close(obj(clean, clean * 1.4, given), expected, rtol=0.0, atol=0.0)


def test_more_whole_input_messages(model, clean):
    obj = NeuralFidelityObjective(model, REF_NU)
    bad = clean.clone()
    bad[0, 3] = float("nan")
    with pytest.raises(HearloopInputError, match=r"^aided audio contains NaN or Inf$"):
        obj.response(bad, HI_NU)
    # a single sound without its batch axis is named, not an IndexError
    message = (
        r"^clean audio must have the aided audio's length and its batch \(or batch 1\); got \(2, 4096\) and "
        r"\(4096,\)$"
    )
    with pytest.raises(HearloopInputError, match=message):
        obj(clean, clean[0], HI_NU)


@pytest.mark.parametrize("distance", ["l1", "l2", "kl"])
def test_a_given_target_is_what_the_distances_compare_with(model, clean, distance):
    # the listener's own response as the target: every distance is 0, where the NH response to clean is far from it
    obj = NeuralFidelityObjective(model, REF_NU, distance=distance)
    aided = clean * 1.2
    own = obj.response(aided, HI_NU)
    zeros = torch.zeros(2, model.n_channels)
    torch.testing.assert_close(obj.per_channel(clean, aided, HI_NU, target=own), zeros, rtol=0.0, atol=1e-7)
    torch.testing.assert_close(obj(clean, aided, HI_NU, target=own), torch.zeros(2), rtol=0.0, atol=1e-7)
    assert bool((obj.per_channel(clean, aided, HI_NU) > 1e-4).any()) and bool((obj(clean, aided, HI_NU) > 1e-4).all())
    # a target of another sound: the distances are those to that sound's NH response, the clean sound is not used
    other = clean * 0.5
    torch.testing.assert_close(
        obj.per_channel(clean, aided, HI_NU, target=obj.target(other)), obj.per_channel(other, aided, HI_NU)
    )
