"""DNN compensator: causality, conditioning (audiogram, or nu for the upper bound), gradients, limiter safety,
prescription, checkpoints, the training loss and resumed training."""

import json

import numpy as np
import pytest
import torch

import compensation
from compensation import DNNCompensator, DNNConfig, get_strategy, load_compensator, save_compensator
from compensation.dnn import DNNNuOracle
from compensation.dnn_conditioning import measured_audiograms
from compensation.dnn_training import TrainConfig, train_compensator
from compensation.population import ListenerSpec
from simulator.constants import REF_PRESSURE_PA
from simulator.errors import CheckpointError, HearloopInputError
from simulator.model.checkpoint import BUNDLED_MODEL_DIR, read_config

SMALL = DNNConfig(hidden=16, dilations=(1, 2, 4), cond_hidden=16)
SMALL_NU = DNNConfig(conditioning="nu", n_cond=6, hidden=16, dilations=(1, 2, 4), cond_hidden=16)
AUDIOGRAM = {250: 20, 500: 30, 1000: 40, 2000: 50, 4000: 60, 8000: 70}


def _noise(batch: int, n: int, level_db_spl: float, seed: int = 0) -> torch.Tensor:
    x = torch.randn(batch, n, generator=torch.Generator().manual_seed(seed))
    return x * REF_PRESSURE_PA * 10 ** (level_db_spl / 20)


def _random_dnn(seed: int = 0, compensate_delay: bool = True, config: DNNConfig = SMALL_NU) -> DNNCompensator:
    """A DNN with O(1) random weights everywhere, so every path (conditioning included) visibly matters."""
    torch.manual_seed(seed)
    dnn = (DNNNuOracle if config.conditioning == "nu" else DNNCompensator)(config, compensate_delay=compensate_delay)
    with torch.no_grad():
        for p in dnn.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.5 / p.shape[1] ** 0.5 * 3)
    return dnn.eval()


def test_registry_knows_every_strategy_and_nalr_alias():
    assert sorted(compensation.STRATEGIES) == ["dnn", "dnn_nu_oracle", "multiband", "nalr", "unaided", "wdrc"]
    assert compensation.NALR is compensation.NALRStrategy
    dnn = get_strategy("dnn", pretrained=None, config=SMALL)
    assert isinstance(dnn, DNNCompensator) and dnn.prescribed_from == "audiogram"
    assert dnn.param_names == ("hl_250hz", "hl_500hz", "hl_1000hz", "hl_2000hz", "hl_3000hz", "hl_4000hz",
                               "hl_6000hz", "hl_8000hz")  # fmt: skip
    assert dnn.lower.tolist() == [-10.0] * 8 and dnn.upper.tolist() == [120.0] * 8
    oracle = get_strategy("dnn_nu_oracle", pretrained=None, config={"hidden": 8})
    assert isinstance(oracle, DNNNuOracle) and oracle.prescribed_from == "nu" and oracle.param_names[0] == "nu_0"
    with pytest.raises(HearloopInputError, match="nu-conditioned"):
        DNNNuOracle(SMALL)


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
    y = causal(x, torch.full((8,), 40.0))
    lag = causal.latency_samples
    assert lag == 64
    torch.testing.assert_close(y[:, lag:], x[:, :-lag], rtol=0, atol=0.03 * float(x.abs().max()))
    aligned = DNNCompensator(SMALL)  # default: time-aligned with the input, like NAL-R and WDRC
    aligned.load_state_dict(causal.state_dict())
    z = aligned(x, torch.full((8,), 40.0))
    assert z.shape == x.shape
    torch.testing.assert_close(z[:, :-lag], x[:, :-lag], rtol=0, atol=0.03 * float(x.abs().max()))


@pytest.mark.parametrize("conditioning", ["nu", "audiogram"])
def test_conditioning_changes_the_output_and_receives_gradient(conditioning):
    dnn = _random_dnn(2, config=SMALL_NU if conditioning == "nu" else SMALL)
    lo, hi = (0.1, 0.9) if conditioning == "nu" else (10.0, 90.0)  # nu, or dB HL
    n = dnn.n_params
    x = _noise(2, 3000, 60)
    a = dnn(x, torch.full((2, n), lo))
    b = dnn(x, torch.full((2, n), hi))
    rel = float((a - b).detach().norm() / a.detach().norm())
    assert rel > 0.05
    theta = torch.full((2, n), (lo + hi) / 2, requires_grad=True)
    (dnn(x, theta) ** 2).mean().backward()
    assert theta.grad is not None and bool(torch.isfinite(theta.grad).all()) and float(theta.grad.abs().sum()) > 0
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in dnn.parameters())


def test_limiter_bounds_peaks_and_output_is_never_nan():
    dnn = DNNNuOracle(SMALL_NU, max_output_db_spl=110.0)
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


def test_audiogram_conditioned_compensator_is_prescribed_from_the_measured_audiogram():
    dnn = DNNCompensator(SMALL)
    theta = dnn.prescribe({250: 20, 500: 30, 1000: 40, 2000: 50, 4000: -25, 8000: 130})
    # as an audiometer reports it: clipped into -10..120 dB HL; 3 and 6 kHz interpolated on log frequency
    expected = [20.0, 30.0, 40.0, 50.0, 50.0 - 60.0 * np.log2(1.5), -10.0, -10.0 + 130.0 * np.log2(1.5), 120.0]
    torch.testing.assert_close(theta, torch.tensor(expected, dtype=torch.float32), atol=1e-4, rtol=0)
    nu = np.full(6, 0.3)
    assert torch.equal(dnn.prescribe_for(AUDIOGRAM, nu), dnn.prescribe(AUDIOGRAM))  # the audiogram, never nu
    with pytest.raises(HearloopInputError, match="prescribed from an audiogram"):
        dnn.prescribe(nu)
    with pytest.raises(HearloopInputError, match="nu-conditioned"):
        dnn.audiogram_to_nu(AUDIOGRAM)


def test_measured_audiograms_are_seeded_noisy_and_clipped():
    true = torch.tensor([[0.0, 40.0, 118.0]]).repeat(2000, 1)
    a = measured_audiograms(true, 5.0, torch.Generator().manual_seed(0))
    b = measured_audiograms(true, 5.0, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert float((a[:, 1] - 40.0).std()) == pytest.approx(5.0, rel=0.1)
    assert float(a.min()) >= -10.0 and float(a.max()) <= 120.0
    assert torch.equal(measured_audiograms(true, 0.0, torch.Generator()), true)
    with pytest.raises(HearloopInputError):
        measured_audiograms(true, -1.0, torch.Generator())


def test_version_1_configs_are_the_nu_conditioned_compensators_they_were():
    old = {k: v for k, v in SMALL_NU.to_dict().items() if k != "conditioning"} | {"version": 1}
    config = DNNConfig.from_dict(old)
    assert config.conditioning == "nu" and config.version == 2 and config.n_cond == 6
    with pytest.raises(HearloopInputError, match="n_cond"):
        DNNConfig(n_cond=6)  # audiogram conditioning has one value per audiogram frequency
    with pytest.raises(HearloopInputError, match="conditioning"):
        DNNConfig(conditioning="abr")


def test_nu_oracle_takes_nu_or_an_audiogram_through_the_fitted_map():
    dnn = DNNNuOracle(SMALL_NU)
    nu = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    torch.testing.assert_close(dnn.prescribe(nu), torch.tensor(nu))
    assert torch.equal(dnn.prescribe_for(AUDIOGRAM, np.asarray(nu)), dnn.prescribe(nu))
    audiogram = AUDIOGRAM
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
    assert loaded.config == dnn.config and isinstance(loaded, DNNNuOracle)  # a nu checkpoint is the upper bound
    assert isinstance(get_strategy("dnn_nu_oracle", pretrained=str(tmp_path / "c")), DNNNuOracle)
    with pytest.raises(HearloopInputError, match="'dnn_nu_oracle', not 'dnn'"):
        get_strategy("dnn", pretrained=str(tmp_path / "c"))
    save_compensator(_random_dnn(4, config=SMALL), tmp_path / "a")
    assert type(get_strategy("dnn", pretrained=str(tmp_path / "a"))) is DNNCompensator
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


def _two_listeners():
    return [
        ListenerSpec("a", np.full(6, 0.3), {500: 10, 1000: 20, 2000: 40, 4000: 50}),
        ListenerSpec("b", np.full(6, 0.7), {500: 40, 1000: 50, 2000: 60, 4000: 70}),
    ]


TINY_TRAIN = {"steps": 4, "batch": 2, "segment_samples": 1024, "sounds_per_class": 1, "val_sounds_per_class": 1,
              "sound_duration_s": 0.1, "eval_every": 2, "checkpoint_every": 2}  # fmt: skip


def test_training_is_seeded_and_resumable_with_audiogram_measurement_error(tiny_model, tmp_path):
    listeners, ref = _two_listeners(), np.full(6, 0.5)
    cfg = TrainConfig(**TINY_TRAIN, audiogram_sd_db=5.0)
    full, state = train_compensator(tiny_model, listeners, ref, tmp_path / "full", cfg, SMALL, progress=False)
    assert state["step"] == 4 and [h["step"] for h in state["history"]] == [2, 4]
    assert type(full) is DNNCompensator and full.config.conditioning == "audiogram" and full.n_params == 8
    assert full.config.audiogram_map is None
    _, state_part = train_compensator(tiny_model, listeners, ref, tmp_path / "split", cfg, SMALL, progress=False,
                                      stop_at=2)  # fmt: skip
    assert state_part["step"] == 2
    resumed, state_resumed = train_compensator(tiny_model, listeners, ref, tmp_path / "split", cfg, SMALL,
                                               progress=False)  # fmt: skip
    assert state_resumed["history"] == state["history"]
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=k)
    exact, _ = train_compensator(tiny_model, listeners, ref, tmp_path / "exact",
                                 TrainConfig(**TINY_TRAIN, audiogram_sd_db=0.0), SMALL, progress=False)  # fmt: skip
    pairs = zip(full.state_dict().values(), exact.state_dict().values(), strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs)  # the measurement error changes what is learnt


def test_selectivity_term_is_computed_on_every_kth_step_only():
    from compensation.dnn_losses import LossTerms
    from compensation.dnn_training import _train_step

    class Loss:
        def __init__(self):
            self.steps: list[int] = []

        def selectivity(self, dnn, who, step, n, rng, generator):
            self.steps.append(step)
            return dnn.static.bias.sum()

    class Run:  # the two calls a training step makes
        pool, nus, loss = _noise(4, 1024, 60), torch.zeros(2, 6), Loss()

        def losses(self, dnn, idx, who, generator=None):
            out = dnn(self.pool[idx], torch.full((len(idx), 8), 30.0))
            return LossTerms(out.square().mean(-1), torch.ones(len(idx)), torch.zeros(len(idx)))

    dnn = DNNCompensator(SMALL)
    cfg = TrainConfig(steps=7, batch=2, selectivity_weight=0.5, selectivity_every=3)
    optimizer = torch.optim.Adam(dnn.parameters(), lr=1e-3)
    run = Run()
    for step in range(7):
        _train_step(run, dnn, optimizer, cfg, step)
    assert run.loss.steps == [0, 3, 6]
    for bad in ({"selectivity_every": 0}, {"selectivity_tokens": 0}, {"audiogram_sd_db": -1.0}):
        with pytest.raises(HearloopInputError, match="selectivity_every"):
            TrainConfig(**bad)


def test_nu_conditioned_training_fits_the_audiogram_map(tiny_model, tmp_path):
    listeners = _two_listeners()
    cfg = TrainConfig(**TINY_TRAIN, conditioning="nu")
    oracle, _ = train_compensator(tiny_model, listeners, np.full(6, 0.5), tmp_path / "nu", cfg, SMALL, progress=False)
    assert isinstance(oracle, DNNNuOracle) and oracle.n_params == 6
    assert np.asarray(oracle.config.audiogram_map).shape == (6, 9)
    nu = oracle.prescribe(listeners[1].audiogram)  # two listeners: the ridge map nearly interpolates them
    assert float((nu - torch.tensor(listeners[1].nu, dtype=torch.float32)).abs().max()) < 0.1


def test_training_loss_compares_at_matched_loudness_and_pulls_level_under_the_comfort_limit(tiny_model):
    from compensation.dnn_losses import CompensatorLoss, loudness_target_phon
    from compensation.objective import NeuralFidelityObjective

    listeners = _two_listeners()
    objective = NeuralFidelityObjective(tiny_model, np.full(6, 0.5))
    loss = CompensatorLoss(objective, listeners, "audiogram", SMALL.audiogram_freqs_hz, tolerance_phon=2.0)
    clean = _noise(2, 2048, 65)
    who = torch.tensor([0, 1])
    target = objective.target(clean)
    norm = torch.ones(2)
    dnn = _random_dnn(5, config=SMALL)
    with torch.no_grad():
        base = loss.fidelity_and_loudness(dnn, clean, target, who, norm)
        dnn.static.bias.add_(1.0)  # about +5 dB in every band: louder, the same shape
        louder = loss.fidelity_and_loudness(dnn, clean, target, who, norm)
    # eq. 1: a broadband gain changes nothing at matched loudness; eq. 2 sees it
    torch.testing.assert_close(louder.d_matched, base.d_matched, rtol=0.02, atol=1e-4)
    assert not torch.allclose(louder.loudness, base.loudness)
    capped = loudness_target_phon(torch.tensor([60.0, 130.0]), loss.comfort)
    assert float(capped[0]) == 60.0 and float(capped[1]) == pytest.approx(loss.comfort.phons()["upper"])


def test_bundled_compensators_load_by_name_are_small_and_name_their_nu_icnet():
    _, _, bundled_digest = read_config(BUNDLED_MODEL_DIR)
    for name, bundle, conditioning in (("dnn", "dnn-small", "audiogram"),
                                       ("dnn_nu_oracle", "dnn-nu-oracle-small", "nu")):  # fmt: skip
        directory = compensation.dnn_checkpoint.ASSETS_DIR / bundle
        assert sorted(p.name for p in directory.iterdir()) == ["config.json", "model.safetensors"]
        assert sum(p.stat().st_size for p in directory.iterdir()) < 10e6
        dnn = get_strategy(name)
        same = load_compensator(bundle)
        assert dnn.name == name and dnn.config.conditioning == conditioning and not dnn.training
        for (k, a), b in zip(dnn.state_dict().items(), same.state_dict().values(), strict=True):
            assert torch.equal(a, b), k
        provenance = dnn.metadata["nuicnet"]
        assert provenance["weights_sha256"] == bundled_digest  # trained through the bundled (final) nu-ICNet
        assert provenance["provisional"] is False
        # the oracle is the version-1 compensator, trained before conditioning was recorded (always nu then)
        assert dnn.metadata["train_config"].get("conditioning", "nu") == conditioning and dnn.metadata["history"]
        x = _noise(2, 4096, 65)
        theta = dnn.prescribe({250: 30, 500: 40, 1000: 50, 2000: 60, 4000: 65, 8000: 70})
        with torch.no_grad():
            y = dnn(x, theta)
        assert torch.isfinite(y).all() and not torch.allclose(y, x, atol=1e-3)  # trained: not the unaided condition
