"""Strategy API: registry, theta bounds and normalisation, prescriptions, gradients, limiter safety."""

import numpy as np
import pytest
import torch

import compensation
from compensation import get_strategy
from compensation.limiter import OutputLimiter
from simulator.constants import REF_PRESSURE_PA
from simulator.errors import HearloopInputError

N2 = {250: 20, 375: 20, 500: 20, 750: 22.5, 1000: 25, 1500: 30, 2000: 35, 3000: 40, 4000: 45, 6000: 50}
N7 = {250: 90, 500: 95, 750: 100, 1000: 105, 1500: 105, 2000: 105, 3000: 105, 4000: 105, 6000: 105}
NAMES = ["unaided", "nalr", "multiband", "wdrc"]
SMALL = {"unaided": {}, "nalr": {"numtaps": 257}, "multiband": {"numtaps": 257}, "wdrc": {"numtaps": 257}}


def _noise(batch: int, n: int, level_db_spl: float, seed: int = 0) -> torch.Tensor:
    x = torch.randn(batch, n, generator=torch.Generator().manual_seed(seed))
    return x * REF_PRESSURE_PA * 10 ** (level_db_spl / 20)


def test_registry_builds_every_strategy_and_rejects_unknown_names():
    # the learned compensators are registered too; tests/compensation/test_dnn_compensator.py covers them
    assert sorted(compensation.STRATEGIES) == sorted([*NAMES, "dnn", "dnn_nu_oracle"])
    for name in NAMES:
        strategy = get_strategy(name)
        assert strategy.name == name and isinstance(strategy, compensation.Strategy)
    assert [get_strategy(n).n_params for n in NAMES] == [0, 10, 8, 40]
    assert get_strategy("wdrc", n_bands=4).n_params == 20
    with pytest.raises(ValueError, match="supported: dnn, dnn_nu_oracle, multiband, nalr, unaided, wdrc"):
        get_strategy("nal-nl2")
    with pytest.raises(ValueError, match="bad arguments"):
        get_strategy("nalr", n_bands=3)


@pytest.mark.parametrize("name", NAMES)
def test_normalisation_round_trip_bounds_and_clear_errors(name):
    strategy = get_strategy(name, **SMALL[name])
    p = strategy.n_params
    assert strategy.lower.shape == strategy.upper.shape == (p,) and len(strategy.param_names) == p
    assert bool((strategy.upper > strategy.lower).all())
    u = torch.rand(3, p, generator=torch.Generator().manual_seed(1)) * 2 - 1
    theta = strategy.from_normalized(u)
    assert bool((theta >= strategy.lower).all() and (theta <= strategy.upper).all())
    torch.testing.assert_close(strategy.to_normalized(theta), u, atol=1e-5, rtol=0)
    torch.testing.assert_close(strategy.from_normalized(-torch.ones(p)), strategy.lower)
    torch.testing.assert_close(strategy.from_normalized(torch.ones(p)), strategy.upper)
    if p == 0:
        assert strategy.from_normalized(torch.zeros(0)).shape == (0,)
        return
    bad = torch.zeros(p)
    bad[p - 1] = 1.5
    with pytest.raises(HearloopInputError, match=f"'{strategy.param_names[-1]}'.*outside"):
        strategy.from_normalized(bad)
    bad[p - 1] = float("nan")
    with pytest.raises(HearloopInputError, match=f"'{strategy.param_names[-1]}'.*NaN"):
        strategy.from_normalized(bad)
    with pytest.raises(HearloopInputError, match="shape"):
        strategy.from_normalized(torch.zeros(p + 1))
    out_of_bounds = strategy.upper.clone()
    out_of_bounds[0] += 1.0
    with pytest.raises(HearloopInputError, match=f"theta for parameter '{strategy.param_names[0]}'"):
        strategy(_noise(1, 512, 60), out_of_bounds)


@pytest.mark.parametrize("name", NAMES)
def test_prescriptions_are_within_bounds_and_grow_with_loss(name):
    strategy = get_strategy(name, **SMALL[name])
    mild, profound = strategy.prescribe(N2), strategy.prescribe(N7)
    assert mild.shape == profound.shape == (strategy.n_params,)
    for theta in (mild, profound):
        assert bool((theta >= strategy.lower).all() and (theta <= strategy.upper).all())
    if name == "unaided":
        return
    gains = {"nalr": slice(0, 9), "multiband": slice(0, 8), "wdrc": slice(16, 24)}[name]
    assert bool((profound[gains] > mild[gains]).all())
    if name == "nalr":
        expected = compensation.nalr_gains(N2)
        np.testing.assert_allclose(mild[:9].numpy(), [expected[f] for f in compensation.NALR_FREQS_HZ], atol=1e-5)
        assert float(mild[9]) == 0.0
    if name == "wdrc":
        fields = strategy.split_theta(profound.unsqueeze(0))
        assert torch.all(fields["ratio"] == 4.0) and torch.all(fields["threshold_db_spl"] == 45.0)
        assert torch.all(strategy.split_theta(mild.unsqueeze(0))["ratio"] < 1.8)


def test_unaided_is_identity_and_rejects_bad_audio():
    audio = _noise(2, 1000, 70)
    strategy = get_strategy("unaided")
    torch.testing.assert_close(strategy(audio), audio)
    assert strategy.prescribe(N2).numel() == 0
    with pytest.raises(HearloopInputError, match="non-finite"):
        strategy(torch.full((1, 10), float("nan")))
    with pytest.raises(HearloopInputError, match="batch, samples"):
        strategy(torch.zeros(10))


def test_multiband_gain_reconstructs_and_scales_exactly():
    strategy = get_strategy("multiband", numtaps=257)
    audio = _noise(2, 2000, 60)
    torch.testing.assert_close(strategy(audio, torch.zeros(8)), audio, atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(strategy(audio, torch.full((8,), 20.0)), 10 * audio, atol=1e-5, rtol=1e-4)
    # a single band gain acts on its own band: a tone at a band centre gets (about) that band's gain
    band = 4
    fc = float(strategy.filterbank.centres_hz[band])
    t = torch.arange(6000) / compensation.NALRStrategy().sample_rate
    tone = 0.01 * torch.sin(2 * torch.pi * fc * t).unsqueeze(0)
    theta = torch.zeros(8)
    theta[band] = 30.0
    gain_db = 20 * torch.log10(strategy(tone, theta)[0, 1000:-1000].std() / tone[0, 1000:-1000].std())
    assert float(gain_db) == pytest.approx(30.0, abs=0.5)


@pytest.mark.parametrize("name", ["nalr", "multiband", "wdrc"])
def test_gradients_flow_from_output_to_theta(name):
    strategy = get_strategy(name, **SMALL[name])
    audio = _noise(2, 2048, 65)
    theta = strategy.prescribe(N2).repeat(2, 1).requires_grad_(True)
    out = strategy(audio, theta)
    assert out.shape == audio.shape
    (out**2).mean().backward()
    grad = theta.grad
    assert grad is not None and bool(torch.isfinite(grad).all())
    per_field = grad.abs().sum(0)
    if name == "wdrc":  # every field (threshold, ratio, gain, attack, release) receives gradient
        assert all(float(g.sum()) > 0 for g in per_field.reshape(5, -1))
    else:
        assert int((per_field > 0).sum()) >= strategy.n_params - 1


def test_limiter_bounds_peaks_is_identity_below_knee_and_never_nan():
    limiter = OutputLimiter(115.0)
    peak = REF_PRESSURE_PA * 10 ** (115 / 20)
    assert limiter.peak_pa == pytest.approx(peak) and limiter.peak_pa == pytest.approx(11.247, abs=1e-3)
    x = torch.tensor([0.0, 1.0, -3.0, 20.0, -1e6, 1e30, float("inf"), -float("inf"), float("nan")])
    y = limiter(x)
    assert bool(torch.isfinite(y).all()) and float(y.abs().max()) <= peak
    assert y[:3].tolist() == pytest.approx([0.0, 1.0, -3.0])  # 1 and 3 Pa are below the 6 dB knee (5.6 Pa)
    assert float(y[3]) > 5.6 and float(y[4]) < -5.6
    z = torch.linspace(-50, 50, 2001, requires_grad=True)
    limiter(z).sum().backward()
    assert bool(torch.isfinite(z.grad).all()) and bool((z.grad > 0).all())
    assert bool((torch.diff(limiter(z)) >= 0).all())  # monotonic


@pytest.mark.parametrize("name", NAMES)
def test_strategies_keep_peaks_below_max_for_extreme_input_and_stay_finite_on_silence(name):
    strategy = get_strategy(name, max_output_db_spl=110.0, **SMALL[name])
    peak = REF_PRESSURE_PA * 10 ** (110 / 20)
    loud = _noise(2, 1500, 130)
    loudest = strategy.upper.unsqueeze(0)  # maximum gains, ratios, thresholds ...
    out = strategy(loud, loudest)
    assert bool(torch.isfinite(out).all()) and float(out.abs().max()) <= peak * (1 + 1e-6)
    silence = torch.zeros(2, 1500)
    for theta in (strategy.lower, strategy.upper):
        quiet = strategy(silence, theta)
        assert bool(torch.isfinite(quiet).all()) and float(quiet.abs().max()) < 1e-6
    if strategy.n_params:
        theta = strategy.prescribe(N7).requires_grad_(True)
        strategy(silence, theta).sum().backward()
        assert bool(torch.isfinite(theta.grad).all())


def test_theta_broadcasts_and_batches_independently():
    strategy = get_strategy("nalr", numtaps=257)
    audio = _noise(3, 800, 60)
    theta = strategy.prescribe(N2)
    torch.testing.assert_close(strategy(audio, theta), strategy(audio, theta.repeat(3, 1)))
    mixed = torch.stack([theta, strategy.prescribe(N7), theta])
    out = strategy(audio, mixed)
    torch.testing.assert_close(out[1:2], strategy(audio[1:2], mixed[1]))
    with pytest.raises(HearloopInputError, match="batch 2"):
        strategy(audio, theta.repeat(2, 1))


def test_a_strategy_declares_what_it_prescribes_from():
    from compensation import DNNConfig

    audiogram = {500: 30.0, 1000: 40.0, 2000: 50.0, 4000: 60.0}
    nu = np.full(6, 0.3)
    nalr = get_strategy("nalr", numtaps=257)
    assert nalr.prescribed_from == "audiogram"
    assert torch.equal(nalr.prescribe_for(audiogram, nu), nalr.prescribe(audiogram))
    small = {"hidden": 8, "dilations": (1, 2), "cond_hidden": 8}
    dnn = get_strategy("dnn", pretrained=None, config=DNNConfig(**small))
    assert dnn.prescribed_from == "audiogram"  # what a clinic has, as NAL-R
    assert torch.equal(dnn.prescribe_for(audiogram, nu), dnn.prescribe(audiogram))
    oracle = get_strategy("dnn_nu_oracle", pretrained=None, config=small)
    assert oracle.prescribed_from == "nu"
    assert torch.equal(oracle.prescribe_for(audiogram, nu), torch.full((6,), 0.3))  # the listener's nu, not a map
