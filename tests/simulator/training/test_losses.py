"""Tests for simulator.training.losses: cross-entropy, conditioning KL, ABR clustering penalty, delta_D and the combined
loss."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from simulator.errors import HearloopInputError
from simulator.training.losses import (
    DEFAULT_BETA,
    NuICNetLoss,
    abr_clustering_penalty,
    conditioning_kl,
    expected_unit_cube_distance,
    spike_count_cross_entropy,
)


def _batch(seed: int = 0, b: int = 2, c: int = 3, t: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, c, t, 5, generator=g, dtype=torch.float64)
    counts = torch.randint(0, 5, (b, c, t), generator=g)
    return logits, counts


def test_cross_entropy_matches_torch_on_class_first_layout():
    logits, counts = _batch()
    ours = spike_count_cross_entropy(logits, counts)
    ref = F.cross_entropy(logits.permute(0, 3, 1, 2), counts)  # (B, 5, C, T) layout
    assert torch.allclose(ours, ref, rtol=0, atol=1e-12)


def test_cross_entropy_channel_weights_select_and_average():
    logits, counts = _batch(1)
    plain = spike_count_cross_entropy(logits, counts)
    assert torch.allclose(spike_count_cross_entropy(logits, counts, torch.ones(3)), plain, atol=1e-12)
    only_c1 = spike_count_cross_entropy(logits, counts, torch.tensor([0.0, 1.0, 0.0]))
    ref_c1 = F.cross_entropy(logits[:, 1].reshape(-1, 5), counts[:, 1].reshape(-1))
    assert torch.allclose(only_c1, ref_c1, atol=1e-12)


def test_cross_entropy_gradient_flows_and_bad_input_is_rejected():
    logits, counts = _batch(2)
    logits.requires_grad_(True)
    spike_count_cross_entropy(logits, counts).backward()
    assert logits.grad is not None and float(logits.grad.abs().sum()) > 0
    with pytest.raises(HearloopInputError, match=r"0\.\.4"):
        spike_count_cross_entropy(logits.detach(), counts + 1)
    with pytest.raises(HearloopInputError, match="does not match"):
        spike_count_cross_entropy(logits.detach(), counts[:, :, :-1])
    with pytest.raises(HearloopInputError, match="not all zero"):
        spike_count_cross_entropy(logits.detach(), counts, torch.zeros(3))


@pytest.mark.parametrize("k", [1, 4, 9])
def test_conditioning_kl_is_zero_only_at_target_variance(k: int):
    d = 6
    s_target = torch.full((k, d), 1.0 / math.sqrt(k), dtype=torch.float64, requires_grad=True)
    kl = conditioning_kl(s_target, k)
    assert abs(kl.item()) < 1e-12
    kl.backward()
    assert float(s_target.grad.abs().max()) < 1e-9  # a minimum, not just a zero
    for factor in (0.5, 0.99, 1.01, 3.0):
        assert float(conditioning_kl(s_target.detach() * factor, k)) > 0


def test_conditioning_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(3)
    k, d = 9, 6
    s = torch.rand(k, d, generator=g, dtype=torch.float64) * 0.8 + 0.05
    nu_bar = torch.rand(k, d, generator=g, dtype=torch.float64)
    q = torch.distributions.Normal(nu_bar, s)
    p = torch.distributions.Normal(nu_bar, torch.full_like(s, 1.0 / math.sqrt(k)))
    ref = torch.distributions.kl_divergence(q, p).sum()
    assert torch.allclose(conditioning_kl(s, k), ref, rtol=1e-12, atol=1e-12)
    # the target covariance uses the model's K even if fewer rows are passed
    ref_sub = torch.distributions.kl_divergence(
        torch.distributions.Normal(nu_bar[:2], s[:2]), torch.distributions.Normal(nu_bar[:2], 1 / math.sqrt(k))
    ).sum()
    assert torch.allclose(conditioning_kl(s[:2], k), ref_sub, atol=1e-12)


def test_clustering_penalty_hand_checked_k3():
    nu = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.2, 0.0], [0.9, 0.8, 0.7]], dtype=torch.float64)
    thr = torch.tensor([[20.0, 30.0], [40.0, 30.0], [60.0, 70.0]], dtype=torch.float64)
    lam = 0.5
    # by hand: thresholds span 20..70 dB -> normalised (x - 20) / 50
    tn = (thr.numpy() - 20.0) / 50.0
    delta = 1.0 / 3.0
    terms = []
    for i, j in itertools.combinations(range(3), 2):
        r = math.sqrt(np.mean((tn[i] - tn[j]) ** 2))
        d = np.mean(np.abs(nu[i].numpy() - nu[j].numpy()))
        terms.append(r * math.exp(-d / delta))
    expected = lam * sum(terms) / 3
    # explicit numbers for pair (0, 1): r = sqrt(((0.4)^2 + 0^2) / 2) = 0.28284, d = (0.3 + 0 + 0.3) / 3 = 0.2
    assert terms[0] == pytest.approx(math.sqrt(0.08) * math.exp(-0.6), rel=1e-12)
    got = abr_clustering_penalty(nu, thr, lam)
    assert float(got) == pytest.approx(expected, rel=1e-12)
    # a fixed dB range changes only the normalisation
    got_fixed = abr_clustering_penalty(nu, thr, lam, abr_range_db=(20.0, 70.0))
    assert float(got_fixed) == pytest.approx(expected, rel=1e-12)


def test_clustering_penalty_pushes_dissimilar_animals_apart():
    nu = torch.tensor([[0.5, 0.5], [0.52, 0.5]], dtype=torch.float64, requires_grad=True)
    thr = torch.tensor([[10.0, 10.0], [60.0, 60.0]], dtype=torch.float64)
    p = abr_clustering_penalty(nu, thr, 1.0)
    p.backward()
    # descending the gradient increases the distance between the two animals
    moved = nu.detach() - 0.1 * nu.grad
    assert float((moved[0] - moved[1]).abs().sum()) > float((nu[0] - nu[1]).detach().abs().sum())
    same = abr_clustering_penalty(nu.detach(), torch.full((2, 2), 30.0, dtype=torch.float64), 1.0)
    assert float(same) == 0.0
    with pytest.raises(HearloopInputError, match="non-finite"):
        abr_clustering_penalty(nu.detach(), torch.tensor([[1.0, float("nan")], [1.0, 2.0]]))


@pytest.mark.parametrize("dim", [1, 2, 3, 6])
def test_expected_unit_cube_distance_matches_monte_carlo(dim: int):
    rng = np.random.default_rng(dim)
    x, y = rng.random((2, 200_000, dim))
    mc_euclid = np.linalg.norm(x - y, axis=1).mean()
    mc_mean_abs = np.abs(x - y).mean(axis=1).mean()
    assert expected_unit_cube_distance(dim, "euclidean") == pytest.approx(mc_euclid, abs=4e-3)
    assert expected_unit_cube_distance(dim) == pytest.approx(mc_mean_abs, abs=3e-3)
    assert expected_unit_cube_distance(dim, "l1") == pytest.approx(dim * mc_mean_abs, rel=1e-2)


def test_expected_unit_cube_distance_known_constants():
    assert expected_unit_cube_distance(1, "euclidean") == pytest.approx(1 / 3, abs=1e-9)
    assert expected_unit_cube_distance(2, "euclidean") == pytest.approx(0.5214054331647207, abs=1e-9)
    assert expected_unit_cube_distance(3, "euclidean") == pytest.approx(0.6617071822671762, abs=1e-9)
    with pytest.raises(HearloopInputError):
        expected_unit_cube_distance(0)


def test_nu_icnet_loss_combines_parts_and_stops_clustering_after_epoch_10():
    logits, counts = _batch(4, b=2, c=3, t=5)
    logits.requires_grad_(True)
    k = 3
    s = torch.full((k, 2), 0.3, dtype=torch.float64, requires_grad=True)
    nu = torch.tensor([[0.1, 0.1], [0.15, 0.1], [0.9, 0.9]], dtype=torch.float64, requires_grad=True)
    thr = torch.tensor([[10.0, 20.0], [70.0, 80.0], [30.0, 30.0]], dtype=torch.float64)
    loss_fn = NuICNetLoss(n_animals=k)
    assert loss_fn.beta == DEFAULT_BETA
    early = loss_fn(logits, counts, s, nu_means=nu, abr_thresholds=thr, epoch=9)
    expect = early["ce"] + DEFAULT_BETA * early["kl"] + early["cluster"]
    assert torch.allclose(early["loss"], expect, atol=1e-12)
    assert early["cluster"].item() > 0 and early["kl"].item() > 0
    early["loss"].backward()
    early = {key: v.detach() for key, v in early.items()}
    assert nu.grad is not None and float(nu.grad.abs().sum()) > 0 and float(s.grad.abs().sum()) > 0
    late = loss_fn(logits, counts, s, nu_means=nu, abr_thresholds=thr, epoch=10)
    assert late["cluster"].item() == 0.0
    assert late["loss"].item() == pytest.approx((late["ce"] + DEFAULT_BETA * late["kl"]).item(), abs=1e-12)
    no_noise = loss_fn(logits, counts)  # ICNet / ABRNet: CE only
    assert no_noise["loss"].item() == pytest.approx(no_noise["ce"].item(), abs=1e-12)
