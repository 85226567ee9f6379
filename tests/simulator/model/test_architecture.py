"""nu-ICNet architecture, conditioning, time transfer, baselines and input validation ([Pellatt2025]_).

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import json

import pytest
import torch

from simulator.constants import CONTEXT_SAMPLES, FRAME_SAMPLES
from simulator.errors import HearloopInputError
from simulator.model.causal_conv import CausalConv1d
from simulator.model.conditioning import A_MAX, B_MAX, C_RANGE, MU_MAX, abr_to_nu, time_transfer
from simulator.model.config import ModelConfig
from simulator.model.factory import build_model, macs_per_second, preset_config
from simulator.model.icnet import ICNet
from simulator.model.nuicnet import ABRNet, NuICNet


@pytest.fixture(scope="module")
def tiny() -> NuICNet:
    return build_model("tiny", n_params=3, n_animals=4, seed=0)


def _audio(batch: int, n: int, seed: int = 0, scale: float = 0.2) -> torch.Tensor:
    return scale * torch.randn(batch, n, generator=torch.Generator().manual_seed(seed))


def test_paper_preset_has_the_paper_sizes():
    model = build_model("paper", n_params=6, n_animals=9)
    assert isinstance(model, NuICNet)
    assert (model.n_params, model.n_channels, model.n_animals) == (6, 512, 9)
    enc = model.encoder
    assert enc.sinc.n_filters == 48 and enc.sinc.filters().shape[:2] == (48, 1)
    assert len(enc.convs) == 5
    c_in = 48
    for conv in enc.convs:
        assert isinstance(conv, CausalConv1d)
        assert tuple(conv.weight.shape) == (246, c_in, 60) and conv.stride == (2,)
        c_in = 246
    assert tuple(enc.bottleneck.weight.shape)[:2] == (64, 246) and enc.bottleneck.stride == (1,)
    assert len(model.expander.net) == 5  # 3 conv layers with PReLU between
    assert model.expander.net[0].in_channels == 6
    layers = model.combiner.layers
    assert len(layers) == 4 and all(layer.kernel_size == (16,) for layer in layers)
    assert layers[0].in_channels == 64 + model.expander.out_features
    widths = [layer.out_channels for layer in layers]
    assert widths == sorted(widths, reverse=True) and widths[-1] == 64
    assert tuple(model.decoder.proj.weight.shape) == (512 * 5, 64, 1)
    with torch.inference_mode():
        z = model.encode(_audio(1, 2048 + 7))
        assert z.shape == (1, 64, 64)
        assert model.decode(z[..., :4], torch.full((1, 6), 0.5)).shape == (1, 512, 4, 5)


def test_small_preset_is_cheap_and_encoder_dominated():
    cfg = preset_config("small")
    assert len(cfg.conv_channels) == 5 and cfg.conv_stride == 2 and cfg.combine_kernel == 16
    macs = macs_per_second(cfg)
    assert macs["total"] < 0.33e9
    assert macs["encoder"] > 5 * macs["per_listener"]


def test_shapes_probabilities_and_trailing_samples(tiny):
    audio = _audio(2, 32 * 20 + 17)
    nu = torch.rand(2, 3, generator=torch.Generator().manual_seed(1))
    z = tiny.encode(audio)
    assert z.shape == (2, tiny.latent_channels, 20)
    p = tiny.predict(audio, nu)
    assert p.shape == (2, tiny.n_channels, 20, 5)
    torch.testing.assert_close(p.sum(-1), torch.ones(2, tiny.n_channels, 20))
    assert not p.requires_grad  # predict runs without autograd in eval mode
    # Samples after the last whole bin are dropped, not used.
    torch.testing.assert_close(tiny.predict(audio[:, : 32 * 20], nu), p)


def test_decode_broadcasts_one_latent_over_listeners():
    tiny = build_model("tiny", n_params=3, n_animals=4, seed=0)
    with torch.no_grad():  # make nu matter more than at initialisation, so listeners differ clearly
        tiny.combiner.layers[0].weight[:, tiny.latent_channels :].mul_(20.0)
    audio = _audio(1, 32 * 30 + 5, seed=2)
    nu = torch.rand(5, 3, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        batched = torch.softmax(tiny.decode(tiny.encode(audio), nu), -1)
        single = torch.cat([tiny.predict(audio, nu[i : i + 1]) for i in range(5)])
        assert batched.shape == (5, tiny.n_channels, 30, 5)
        torch.testing.assert_close(batched, single, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(tiny.predict(audio, nu), single, atol=1e-6, rtol=1e-5)
        # Different listeners really get different outputs.
        assert float((single[0] - single[1]).abs().max()) > 1e-4
        # Paired batches: item i of audio with nu i.
        audio2 = torch.cat([audio, _audio(1, audio.shape[1], seed=9)])
        paired = tiny.predict(audio2, nu[:2])
        torch.testing.assert_close(paired[1], tiny.predict(audio2[1:], nu[1:2])[0], atol=1e-6, rtol=1e-5)
        with pytest.raises(HearloopInputError, match="batch"):
            tiny.decode(tiny.encode(audio2), nu[:3])


def test_cpu_decode_in_listener_chunks_equals_one_pass(monkeypatch):
    import simulator.model.nuicnet as model_module

    tiny = build_model("tiny", n_params=3, n_animals=4, seed=0)
    with torch.no_grad():
        tiny.combiner.layers[0].weight[:, tiny.latent_channels :].mul_(20.0)
    audio = _audio(1, 32 * 40, seed=4)
    nu = torch.rand(11, 3, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        latent = tiny.encode(audio)
        one_pass = tiny.decode(latent, nu, crop_bins=3)  # 11 listeners x 40 bins: below the chunk budget
        monkeypatch.setattr(model_module, "CPU_DECODE_LISTENER_BINS", 40 * 4)  # chunks of 4 listeners: 4 + 4 + 3
        chunked = tiny.decode(latent, nu, crop_bins=3)
    assert chunked.shape == one_pass.shape == (11, tiny.n_channels, 37, 5)
    torch.testing.assert_close(chunked, one_pass, atol=1e-6, rtol=1e-5)
    assert chunked.transpose(-1, -2).is_contiguous()  # same memory layout as the one-pass output (class_softmax)


def test_forward_animals_crops_context_and_broadcasts_frames(tiny):
    audio = _audio(3, CONTEXT_SAMPLES + FRAME_SAMPLES, seed=4)
    g = torch.Generator().manual_seed(0)
    logits = tiny.forward_animals(audio, torch.tensor([0, 1, 3]), hours=torch.tensor([0.0, 2.0, 9.0]), generator=g)
    assert logits.shape == (3, tiny.n_channels, 256, 5)
    # The cropped output equals the last 256 bins of the uncropped one (cropping happens after causal layers).
    with torch.no_grad():
        full = tiny.forward_animals(audio, torch.tensor([0, 1, 3]), sample=False, crop_bins=0)
        crop = tiny.forward_animals(audio, torch.tensor([0, 1, 3]), sample=False)
        torch.testing.assert_close(crop, full[:, :, 64:])
        # One frame decoded for several animals equals decoding it once per animal.
        many = tiny.forward_animals(audio[:1], torch.tensor([0, 2]), sample=False)
        one = tiny.forward_animals(audio[:1], 2, sample=False)
        torch.testing.assert_close(many[1], one[0], atol=1e-6, rtol=1e-5)


def test_gradients_reach_nu_and_conditioning_means(tiny):
    tiny.train()
    try:
        audio = _audio(2, 32 * 40, seed=5)
        g = torch.Generator().manual_seed(1)
        logits = tiny.forward_animals(audio, torch.tensor([1, 2]), hours=3.0, generator=g, crop_bins=8)
        logits.logsumexp(-1).mean().backward()
        grad_mu = tiny.conditioning.raw_mu.grad
        assert grad_mu is not None and float(grad_mu[1:3].abs().sum()) > 0
        assert float(grad_mu[[0, 3]].abs().sum()) == 0  # animals not in the batch get no gradient
        assert float(tiny.conditioning.raw_s.grad[1:3].abs().sum()) > 0  # reparameterisation reaches s
        tiny.zero_grad()
        nu = torch.full((2, 3), 0.4, requires_grad=True)
        tiny.eval()
        p = tiny.predict(audio, nu)  # grad=None: follows nu.requires_grad
        (p[..., 1:] * torch.arange(1, 5.0)).sum().backward()
        assert nu.grad is not None and float(nu.grad.abs().sum()) > 0
    finally:
        tiny.zero_grad()
        tiny.eval()


def test_time_transfer_shape_continuity_monotonicity():
    mu = torch.zeros(1, 2)
    a, b, c = torch.tensor([[5.0, 20.0]]), torch.tensor([[10.0, 50.0]]), torch.tensor([[0.2, 0.05]])
    ts = torch.linspace(0, 1.5, 601)
    vals = torch.stack([time_transfer(mu, t.reshape(1), a, b, c)[0] for t in ts])
    before = ts < c[0, 0]
    assert torch.equal(vals[before, 0], torch.zeros(int(before.sum())))  # zero before the onset
    # Continuous at the onset: just after c the shift is ~ a * b * eps * sigmoid'(-6), vanishing with eps.
    slope = 5.0 * 10.0 * float(torch.sigmoid(torch.tensor(-6.0)) * torch.sigmoid(torch.tensor(6.0)))
    for eps in (1e-2, 1e-3, 1e-4):
        at = float(time_transfer(mu, torch.tensor([0.2 + eps]), a, b, c)[0, 0])
        assert 0 <= at <= 1.2 * slope * eps + 1e-7
    assert bool((vals.diff(dim=0) >= -1e-7).all())  # non-decreasing in t
    assert float(vals[-1, 1]) > 19.0 and float(vals.max()) <= 20.0  # saturates at a


def test_conditioning_bounds_survive_large_gradient_steps():
    for sign in (1.0, -1.0):  # drive every parameter hard towards its lower, then (fresh model) its upper bound
        cond = build_model("tiny", n_params=3, n_animals=2, seed=1).conditioning
        opt = torch.optim.SGD(cond.parameters(), lr=1e4)
        for _ in range(3):
            opt.zero_grad()
            a, b, c = cond.time_params()
            (sign * (a.sum() + b.sum() + c.sum() + cond.means.sum() + cond.scales.sum())).backward()
            opt.step()
        with torch.no_grad():
            a, b, c = cond.time_params()
        assert float(a.min()) >= 0 and float(a.max()) <= A_MAX
        assert float(b.min()) >= 0 and float(b.max()) <= B_MAX
        assert float(c.min()) >= C_RANGE[0] and float(c.max()) <= C_RANGE[1]
        edge_a, edge_c = (0.0, C_RANGE[0]) if sign > 0 else (A_MAX, C_RANGE[1])
        assert float((a - edge_a).abs().max()) < 1e-3 and float((c - edge_c).abs().max()) < 1e-3  # pushed to the edge
        with torch.no_grad():
            assert float(cond.means.abs().max()) <= MU_MAX and float(cond.scales.min()) > 0
            nu = cond.nu_mean(torch.tensor([0, 1]), hours=torch.tensor([0.0, 50.0]))
        assert bool(((nu >= 0) & (nu <= 1)).all())


def test_nu_sampling_is_seeded_and_has_the_learned_spread(tiny):
    cond = tiny.conditioning
    idx = torch.zeros(20000, dtype=torch.long)
    s1 = cond.sample_nu(idx, 0.0, torch.Generator().manual_seed(7))
    s2 = cond.sample_nu(idx, 0.0, torch.Generator().manual_seed(7))
    assert torch.equal(s1, s2)
    with torch.no_grad():
        torch.testing.assert_close(s1.mean(0), cond.nu_mean(0)[0], atol=2e-3, rtol=0)
        torch.testing.assert_close(s1.std(0), cond.scales[0], atol=2e-3, rtol=0.05)
    with torch.no_grad():
        clamped = tiny.animal_nu(idx[:50], sample=True, generator=torch.Generator().manual_seed(0))
    assert float(clamped.min()) >= 0 and float(clamped.max()) <= 1
    terms = tiny.loss_terms()
    assert terms["s"].shape == terms["nu_means"].shape == terms["means"].shape == (4, 3)


def test_abrnet_uses_abr_thresholds_without_noise():
    model = build_model("tiny", n_animals=3, kind="abrnet")
    assert isinstance(model, ABRNet) and model.n_params == 5
    thr = torch.tensor([[20.0, 25, 30, 30, 35], [40, 50, 60, 70, 80], [-10, 0, 50, 100, 120]])
    model.set_abr_thresholds(thr)
    expected = abr_to_nu(thr)
    assert torch.equal(model.conditioning.nu_table, expected)
    assert float(expected[2, 0]) == 0.0 and float(expected[2, 4]) == 1.0  # clamped
    audio = _audio(1, CONTEXT_SAMPLES + 1024, seed=6)
    with torch.no_grad():
        a = model.forward_animals(audio, 1, hours=5.0, sample=True, generator=torch.Generator().manual_seed(0))
        b = model.forward_animals(audio, 1, hours=0.0, sample=True, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)  # no noise, no time transfer
    assert model.loss_terms()["s"] is None


def test_icnet_baselines():
    single = build_model("tiny", kind="icnet")
    multi = build_model("tiny", n_animals=3, kind="multibranch_icnet")
    assert isinstance(single, ICNet) and single.n_animals == 1 and single.n_params == 0
    audio = _audio(2, CONTEXT_SAMPLES + 1024, seed=8)
    with torch.no_grad():
        out = multi.forward_animals(audio, torch.tensor([0, 2]))
        assert out.shape == (2, multi.n_channels, 32, 5)
        multi.branch_weight[2].add_(0.5)  # make branch 2 differ from branch 0
        b0 = multi.forward_branch(audio, 0)
        b2 = multi.forward_branch(audio, 2)
        mixed = multi.forward_branch(audio, torch.tensor([0, 2]))
        torch.testing.assert_close(mixed[0], b0[0])
        torch.testing.assert_close(mixed[1], b2[1])
        assert float((b0 - b2).abs().max()) > 1e-3
        torch.testing.assert_close(single.predict(audio).sum(-1), torch.ones(2, single.n_channels, 96))
    with pytest.raises(HearloopInputError, match="animal_idx"):
        single.forward_branch(audio, 1)
    # The ICNet encoder initialises the nu-ICNet encoder (paper: encoders initialised from an NH ICNet).
    nu_model = build_model("tiny", n_animals=3, seed=3)
    nu_model.encoder.load_state_dict(multi.encoder.state_dict())
    torch.testing.assert_close(nu_model.encode(audio), multi.encode(audio))


def test_input_validation_at_entry_points(tiny):
    good = _audio(1, 640)
    nu = torch.full((1, 3), 0.5)
    bad_audio = good.clone()
    bad_audio[0, 100] = float("nan")
    with pytest.raises(HearloopInputError, match="non-finite"):
        tiny.predict(bad_audio, nu)
    with pytest.raises(HearloopInputError, match="shape"):
        tiny.predict(good[0], nu)
    with pytest.raises(HearloopInputError, match="shape"):
        tiny.encode(good.unsqueeze(0))
    with pytest.raises(HearloopInputError, match="at least 32"):
        tiny.encode(good[:, :31])
    with pytest.raises(HearloopInputError, match=r"\[0, 1\]"):
        tiny.predict(good, torch.tensor([[0.5, 1.2, 0.5]]))
    with pytest.raises(HearloopInputError, match="D=2"):
        tiny.predict(good, torch.full((1, 2), 0.5))
    with pytest.raises(HearloopInputError, match="latent"):
        tiny.decode(torch.zeros(1, tiny.latent_channels + 1, 5), nu)
    with pytest.raises(HearloopInputError, match="animal_idx"):
        tiny.forward_animals(_audio(2, 4096), torch.tensor([0, 9]))
    with pytest.raises(HearloopInputError, match="hours"):
        tiny.forward_animals(_audio(2, 4096), torch.tensor([0, 1]), hours=torch.tensor([1.0, -2.0]))
    with pytest.raises(HearloopInputError, match="crop_bins"):
        tiny.forward_animals(_audio(1, 640), 0, crop_bins=64)


def test_config_round_trip_and_determinism():
    cfg = preset_config("small", n_params=3, n_animals=5, n_channels=40)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert ModelConfig.from_dict(data) == cfg
    with pytest.raises(HearloopInputError, match="unknown"):
        ModelConfig.from_dict(data | {"dropout": 0.1})
    with pytest.raises(HearloopInputError, match="preset"):
        build_model("huge")
    with pytest.raises(HearloopInputError, match="32"):
        ModelConfig(conv_channels=(8, 8, 8, 8), conv_kernels=(4, 4, 4, 4))
    m1, m2, m3 = (build_model("tiny", seed=s) for s in (0, 0, 1))
    w1, w2, w3 = (m.decoder.proj.weight for m in (m1, m2, m3))
    assert torch.equal(w1, w2) and not torch.equal(w1, w3)
