"""DNN compensator: causality, conditioning, gradients, limiter safety, prescription, checkpoints, resumed training."""

import json

import numpy as np
import pytest
import torch

import compensation
from compensation import DNNCompensator, DNNConfig, get_strategy, load_compensator, save_compensator
from compensation.dnn_training import TrainConfig, train_compensator
from compensation.population import ListenerSpec
from simulator.constants import REF_PRESSURE_PA
from simulator.errors import CheckpointError, HearloopInputError
from simulator.model.checkpoint import BUNDLED_MODEL_DIR, read_config

SMALL = DNNConfig(hidden=16, dilations=(1, 2, 4), cond_hidden=16)


def _noise(batch: int, n: int, level_db_spl: float, seed: int = 0) -> torch.Tensor:
    x = torch.randn(batch, n, generator=torch.Generator().manual_seed(seed))
    return x * REF_PRESSURE_PA * 10 ** (level_db_spl / 20)


def _random_dnn(seed: int = 0, compensate_delay: bool = True) -> DNNCompensator:
    """A DNN with O(1) random weights everywhere, so every path (conditioning included) visibly matters."""
    torch.manual_seed(seed)
    dnn = DNNCompensator(SMALL, compensate_delay=compensate_delay)
    with torch.no_grad():
        for p in dnn.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.5 / p.shape[1] ** 0.5 * 3)
    return dnn.eval()


def test_registry_knows_every_strategy_and_nalr_alias():
    assert sorted(compensation.STRATEGIES) == ["dnn", "multiband", "nalr", "unaided", "wdrc"]
    assert compensation.NALR is compensation.NALRStrategy
    dnn = get_strategy("dnn", pretrained=None, config=SMALL)
    assert isinstance(dnn, DNNCompensator) and dnn.n_params == 6 and dnn.param_names[0] == "nu_0"


@pytest.mark.parametrize("compensate_delay", [False, True])
def test_output_is_causal_up_to_the_latency_it_compensates(compensate_delay):
    dnn = _random_dnn(compensate_delay=compensate_delay)
    look_ahead = dnn.latency_samples if compensate_delay else 0  # aligned output: the linear-phase filter's half
    x = _noise(2, 4000, 65)
    nu = torch.rand(2, 6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = dnn(x, nu)
    for n in (1000, 2017, 3200):
        x2 = x.clone()
        x2[:, n:] += _noise(2, 4000 - n, 90, seed=n)
        with torch.no_grad():
            y2 = dnn(x2, nu)
        m = n - look_ahead
        assert torch.equal(y2[:, :m], y[:, :m])  # output before n - look_ahead unchanged, bit for bit
        assert float((y2[:, m:] - y[:, m:]).abs().max()) > 1e-3  # and it does react afterwards


def test_untrained_compensator_is_the_unaided_condition_delayed_by_its_latency():
    torch.manual_seed(0)
    causal = DNNCompensator(SMALL, compensate_delay=False)
    x = _noise(1, 3000, 70)
    y = causal(x, torch.full((6,), 0.5))
    lag = causal.latency_samples
    assert lag == 64
    torch.testing.assert_close(y[:, lag:], x[:, :-lag], rtol=0, atol=0.03 * float(x.abs().max()))
    aligned = DNNCompensator(SMALL)  # default: time-aligned with the input, like NAL-R and WDRC
    aligned.load_state_dict(causal.state_dict())
    z = aligned(x, torch.full((6,), 0.5))
    assert z.shape == x.shape
    torch.testing.assert_close(z[:, :-lag], x[:, :-lag], rtol=0, atol=0.03 * float(x.abs().max()))


def test_conditioning_changes_the_output_and_receives_gradient():
    dnn = _random_dnn(2)
    x = _noise(2, 3000, 60)
    a = dnn(x, torch.full((2, 6), 0.1))
    b = dnn(x, torch.full((2, 6), 0.9))
    rel = float((a - b).detach().norm() / a.detach().norm())
    assert rel > 0.05
    nu = torch.full((2, 6), 0.4, requires_grad=True)
    (dnn(x, nu) ** 2).mean().backward()
    assert nu.grad is not None and bool(torch.isfinite(nu.grad).all()) and float(nu.grad.abs().sum()) > 0
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in dnn.parameters())


def test_limiter_bounds_peaks_and_output_is_never_nan():
    dnn = DNNCompensator(SMALL, max_output_db_spl=110.0)
    with torch.no_grad():
        dnn.static.bias.fill_(50.0)  # every gain at its +60 dB maximum
    peak = REF_PRESSURE_PA * 10 ** (110 / 20)
    with torch.no_grad():
        out = dnn(_noise(2, 1500, 130), torch.ones(6))
    assert bool(torch.isfinite(out).all()) and float(out.abs().max()) <= peak * (1 + 1e-6)
    with torch.no_grad():
        quiet = dnn(torch.zeros(2, 1500), torch.zeros(6))
    assert bool(torch.isfinite(quiet).all()) and float(quiet.abs().max()) < 1e-6
    with pytest.raises(HearloopInputError, match="non-finite"):
        dnn(torch.full((1, 100), float("nan")), torch.zeros(6))
    with pytest.raises(HearloopInputError, match="nu_2"):
        dnn(_noise(1, 100, 60), torch.tensor([0.5, 0.5, 1.5, 0.5, 0.5, 0.5]))


def test_prescribe_takes_nu_or_an_audiogram_through_the_fitted_map():
    dnn = DNNCompensator(SMALL)
    nu = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    torch.testing.assert_close(dnn.prescribe(nu), torch.tensor(nu))
    audiogram = {250: 20, 500: 30, 1000: 40, 2000: 50, 4000: 60, 8000: 70}
    with pytest.raises(HearloopInputError, match="no audiogram->nu map"):
        dnn.prescribe(audiogram)
    weights = np.zeros((6, 9))
    weights[:, -1] = 0.25
    weights[0, 2] = 1.0  # nu_0 = 0.25 + HL(1 kHz) / 100
    dnn.config.audiogram_map = weights.tolist()
    torch.testing.assert_close(dnn.prescribe(audiogram), torch.tensor([0.65, 0.25, 0.25, 0.25, 0.25, 0.25]))


def test_save_load_round_trip_and_corrupt_files(tmp_path):
    dnn = _random_dnn(3)
    save_compensator(dnn, tmp_path / "c", {"note": "test"})
    loaded = load_compensator(tmp_path / "c")
    x, nu = _noise(1, 2000, 60), torch.full((6,), 0.3)
    assert torch.equal(loaded(x, nu), dnn(x, nu)) and loaded.metadata == {"note": "test"}
    assert loaded.config == dnn.config
    assert isinstance(get_strategy("dnn", pretrained=str(tmp_path / "c")), DNNCompensator)
    weights = tmp_path / "c" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_compensator(tmp_path / "c")
    save_compensator(dnn, tmp_path / "d")
    doc = json.loads((tmp_path / "d" / "config.json").read_text())
    doc["config"]["hidden"] = 8  # a different architecture than the weights
    (tmp_path / "d" / "config.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="mis-shaped"):
        load_compensator(tmp_path / "d")
    (tmp_path / "d" / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_compensator(tmp_path / "d")
    with pytest.raises(CheckpointError, match="no compensator named"):
        load_compensator(tmp_path / "missing")


def test_training_is_seeded_resumable_and_fits_the_audiogram_map(tiny_model, tmp_path):
    model = tiny_model
    listeners = [
        ListenerSpec("a", np.full(6, 0.3), {500: 10, 1000: 20, 2000: 40, 4000: 50}),
        ListenerSpec("b", np.full(6, 0.7), {500: 40, 1000: 50, 2000: 60, 4000: 70}),
    ]
    cfg = TrainConfig(steps=4, batch=2, segment_samples=1024, sounds_per_class=1, val_sounds_per_class=1,
                      sound_duration_s=0.1, eval_every=2, checkpoint_every=2)  # fmt: skip
    ref = np.full(6, 0.5)
    full, state = train_compensator(model, listeners, ref, tmp_path / "full", cfg, SMALL, progress=False)
    assert state["step"] == 4 and [h["step"] for h in state["history"]] == [2, 4]
    _, state_part = train_compensator(model, listeners, ref, tmp_path / "split", cfg, SMALL, progress=False,
                                         stop_at=2)  # fmt: skip
    assert state_part["step"] == 2
    resumed, state_resumed = train_compensator(model, listeners, ref, tmp_path / "split", cfg, SMALL, progress=False)
    assert state_resumed["history"] == state["history"]
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=k)
    assert np.asarray(full.config.audiogram_map).shape == (6, 9)
    nu = full.prescribe(listeners[1].audiogram)  # two listeners: the ridge map nearly interpolates them
    assert float((nu - torch.tensor(listeners[1].nu, dtype=torch.float32)).abs().max()) < 0.1


def test_bundled_compensator_loads_by_name_is_small_and_names_its_nu_icnet():
    directory = compensation.dnn_checkpoint.ASSETS_DIR / "dnn-small"
    assert sorted(p.name for p in directory.iterdir()) == ["config.json", "model.safetensors"]
    assert sum(p.stat().st_size for p in directory.iterdir()) < 10e6
    dnn = get_strategy("dnn")
    same = load_compensator("dnn-small")
    assert isinstance(dnn, DNNCompensator) and not dnn.training and dnn.config.audiogram_map is not None
    for (k, a), b in zip(dnn.state_dict().items(), same.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    provenance = dnn.metadata["nuicnet"]
    _, _, bundled_digest = read_config(BUNDLED_MODEL_DIR)
    assert provenance["weights_sha256"] == bundled_digest  # trained through the bundled (final) nu-ICNet
    assert provenance["provisional"] is False
    assert dnn.metadata["train_config"]["steps"] >= 1 and dnn.metadata["history"]
    x = _noise(2, 4096, 65)
    nu = dnn.prescribe({250: 30, 500: 40, 1000: 50, 2000: 60, 4000: 65, 8000: 70})
    with torch.no_grad():
        y = dnn(x, nu)
    assert torch.isfinite(y).all() and not torch.allclose(y, x, atol=1e-3)  # trained: not the unaided condition
