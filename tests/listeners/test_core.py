"""Virtual listeners: sampling, cohort files, neurometric thresholds, responder, NH reference and input errors."""

import numpy as np
import pytest
import torch

from listeners import (
    NuDensity,
    ToneProtocol,
    VirtualListener,
    animal_nus,
    detectability,
    listener_stratum,
    load_cohort,
    neurometric_thresholds_db_spl,
    nh_reference,
    nh_reference_nu,
    prime_thresholds,
    sample_cohort,
    save_cohort,
    severity_stratum,
)
from listeners.listener import AUDIOGRAM_FREQS_HZ
from simulator import build_model
from simulator.errors import HearloopInputError, SpecError
from simulator.model.conditioning import MU_MAX

FAST = ToneProtocol(lead_s=0.03, tone_s=0.06, ramp_ms=5.0, tail_s=0.01, iterations=10)


@pytest.fixture(scope="module")
def model():
    m = build_model("tiny", n_params=6, n_animals=4, seed=3).eval()
    means = torch.linspace(-2.0, 2.0, 24).reshape(4, 6)
    with torch.no_grad():  # `means` is computed from raw_mu on every read (MU_MAX tanh(raw_mu)): set raw_mu
        m.conditioning.raw_mu.copy_(torch.atanh(means / MU_MAX))
    torch.testing.assert_close(m.conditioning.means.detach(), means)
    status = ["NH", "NH", "HI", "HI"]
    m.metadata = {"animals": [{"id": f"A{k}", "status": s} for k, s in enumerate(status)]}
    return m


def test_reference_is_the_logit_centre_of_the_nh_animals(model):
    nus = model.animal_nu(torch.arange(2), sample=False).detach().double().numpy()
    logit = np.log(nus / (1 - nus)).mean(0)
    assert np.allclose(nh_reference_nu(model), 1 / (1 + np.exp(-logit)), atol=1e-6)
    ref = nh_reference(model)
    assert ref.id == "NH-ref" and nh_reference(model) is ref
    assert np.allclose(ref.thresholds([500.0, 2000.0]), 0.0)


def test_seeded_sampling_is_reproducible_and_seed_dependent(model):
    a = sample_cohort(5, seed=7, model=model)
    b = sample_cohort(5, seed=7, model=model)
    c = sample_cohort(5, seed=8, model=model)
    assert [lis.id for lis in a] == ["L000", "L001", "L002", "L003", "L004"]
    assert np.array_equal(np.stack([x.nu for x in a]), np.stack([x.nu for x in b]))
    assert not np.allclose(np.stack([x.nu for x in a]), np.stack([x.nu for x in c]))
    assert all(np.all((x.nu >= 0) & (x.nu <= 1)) for x in a)


def test_density_matches_its_training_points_in_logit_space():
    rng = np.random.default_rng(0)
    nus = 1 / (1 + np.exp(-rng.normal([1.0, -1.0, 0.0], 0.5, size=(40, 3))))
    dens = NuDensity(nus, shrinkage=0.0, floor=0.0)
    draws = dens.sample(20000, np.random.default_rng(1))
    z = np.log(draws / (1 - draws))
    assert np.allclose(z.mean(0), dens.mean, atol=0.03)
    assert np.allclose(np.cov(z, rowvar=False), dens.cov, atol=0.03)


def test_cohort_file_round_trip_is_exact(model, tmp_path):
    cohort = sample_cohort(3, seed=1, model=model, lapse_rate=0.05)
    cohort[1].hours = 2.5
    path = save_cohort(tmp_path / "cohort.toml", cohort)
    back = load_cohort(path, model=model)
    assert [x.id for x in back] == [x.id for x in cohort]
    for x, y in zip(cohort, back, strict=True):
        assert np.array_equal(x.nu, y.nu)
        assert (x.hours, x.sigma_db, x.lapse_rate, x.false_alarm_rate) == (
            y.hours,
            y.sigma_db,
            y.lapse_rate,
            y.false_alarm_rate,
        )


def test_malformed_cohort_files_name_the_problem(model, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'format = "hearloop-cohort"\nversion = 1\nn_params = 6\n[[listener]]\nid = "x"\nnu = [0.5]\ncolour = 1\n'
    )
    with pytest.raises(SpecError, match="colour"):
        load_cohort(bad, model=model)
    bad.write_text(
        'format = "hearloop-cohort"\nversion = 1\nn_params = 3\n[[listener]]\nid = "x"\nnu = [0.5, 0.5, 0.5]\n'
    )
    with pytest.raises(SpecError, match="D = 6"):
        load_cohort(bad, model=model)
    with pytest.raises(FileNotFoundError):
        load_cohort(tmp_path / "missing.toml", model=model)


def test_nu_out_of_range_or_wrong_dimension_is_refused(model):
    with pytest.raises(HearloopInputError, match=r"\[0, 1\]"):
        VirtualListener("x", [0.5, 0.5, 0.5, 0.5, 0.5, 1.2], model)
    with pytest.raises(HearloopInputError, match="D = 6"):
        VirtualListener("x", [0.5, 0.5, 0.5], model)
    with pytest.raises(HearloopInputError, match="n = 2"):
        sample_cohort(2, model=model, nus=[[0.5] * 6])
    with pytest.raises(HearloopInputError, match="unknown strata"):
        sample_cohort(2, model=model, strata={"profound": 2})


def test_bisection_threshold_matches_a_brute_force_level_sweep():
    import simulator

    small = simulator.load_model()  # the bundled small model: a trained model that responds to tones
    nu = torch.full((1, small.n_params), 0.4)
    freqs = [500.0, 3000.0]
    fast = neurometric_thresholds_db_spl(small, nu[0].numpy(), freqs, FAST)
    levels = np.arange(-20.0, 130.0, 0.5)
    with torch.no_grad():
        silence = small.predict(torch.zeros(1, FAST.n_samples), nu)
        for f, th in zip(freqs, fast, strict=True):
            audio = FAST.tones(torch.full((levels.size,), f), torch.as_tensor(levels))
            probs = small.predict(audio, nu.expand(levels.size, -1))
            d = detectability(probs, silence, FAST.window).numpy()
            above = np.nonzero(d >= FAST.criterion)[0]
            assert above.size > 0, "the bundled model must detect loud tones"
            assert np.all(d[above[0] :] >= FAST.criterion), "d' must stay above the criterion once reached"
            brute = levels[above[0]]
            assert brute - 0.5 - 0.2 <= th <= brute + 0.2, (f, th, brute)


def test_a_stricter_detection_criterion_raises_thresholds_and_bad_criteria_are_rejected():
    import simulator

    small, nu = simulator.load_model(), np.full(6, 0.4)  # the bundled model: a trained model that responds to tones
    loose = neurometric_thresholds_db_spl(small, nu, [1000.0], FAST, criterion=1.0)
    strict = neurometric_thresholds_db_spl(small, nu, [1000.0], FAST)  # the protocol's default, d' = 20
    assert FAST.criterion == 20.0 and loose[0] + 1.0 < strict[0] < 120.0
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(HearloopInputError, match="criterion"):
            ToneProtocol(criterion=bad)


def test_the_bundled_models_training_animals_span_normal_to_moderate_listeners_in_order_of_their_true_loss():
    """Trained on animals up to 64 dB HL, the bundle's listeners (default protocol) run from NH to moderate, ranked by
    true loss. Its neurometric PTAs are compressed (the most impaired animal reads about 41 dB HL: MODEL_CARD.md,
    "Neurometric calibration"), so its training animals give no severe listener."""
    from scipy.stats import spearmanr

    import simulator

    small = simulator.load_model()
    animals = small.metadata["animals"]
    listeners = sample_cohort(len(animals), model=small, nus=animal_nus(small))
    ptas = np.array([x.pta() for x in listeners])
    strata = [listener_stratum(x) for x in listeners]
    true_loss = np.array([a["severity_db"] for a in animals])
    assert {"NH", "slight", "mild", "moderate"} <= set(strata), list(zip(strata, ptas.round(1), strict=True))
    assert all((s == "NH") == (a["status"] == "NH") for s, a in zip(strata, animals, strict=True))
    assert ptas[np.argmax(true_loss)] >= 40.0  # the most impaired animal is a moderate listener
    assert spearmanr(ptas, true_loss).statistic >= 0.9


def test_batched_priming_equals_per_listener_thresholds(model):
    cohort = sample_cohort(3, seed=2, model=model, protocol=FAST)
    single = [VirtualListener(x.id, x.nu, model, protocol=FAST).thresholds_db_spl([1000.0]) for x in cohort]
    prime_thresholds(cohort, [1000.0])
    batched = [x.thresholds_db_spl([1000.0]) for x in cohort]
    assert np.allclose(np.concatenate(single), np.concatenate(batched), atol=1e-6)


def test_priming_batches_listeners_whose_protocols_are_equal_objects(model, monkeypatch):
    import listeners.listener as listener_module

    calls = []
    real = listener_module.neurometric_thresholds_db_spl

    def counting(model, nu, freqs, protocol, progress=False):
        calls.append(np.atleast_2d(nu).shape[0])
        return real(model, nu, freqs, protocol, progress=progress)

    monkeypatch.setattr(listener_module, "neurometric_thresholds_db_spl", counting)
    settings = {"lead_s": 0.03, "tone_s": 0.06, "ramp_ms": 5.0, "tail_s": 0.01, "iterations": 10}  # FAST's
    group = [VirtualListener(f"x{i}", np.full(6, 0.2 * i), model, protocol=ToneProtocol(**settings)) for i in range(3)]
    assert group[0].protocol == group[1].protocol and group[0].protocol is not group[1].protocol
    prime_thresholds(group, [1000.0])
    assert calls == [3]  # one batched bisection, not one per listener
    other = VirtualListener("y", np.full(6, 0.5), model, protocol=ToneProtocol(**{**settings, "iterations": 3}))
    assert other.protocol != group[0].protocol
    calls.clear()
    prime_thresholds([other, VirtualListener("z", np.full(6, 0.5), model, protocol=FAST)], [1000.0])
    assert len(calls) == 2  # unequal protocols: measured one by one


def test_responder_follows_the_probit_psychometric_function(model):
    lis = VirtualListener("x", np.full(6, 0.5), model, sigma_db=5.0, lapse_rate=0.02, false_alarm_rate=0.01)
    lis._spl_cache[1000.0] = 40.0  # fix the threshold (the reference is None, so dB HL = 0 here)
    rng = np.random.default_rng(0)
    for level, expected in [(-10.0, 0.01 + 0.97 * 0.02275), (0.0, 0.01 + 0.97 * 0.5), (10.0, 0.01 + 0.97 * 0.97725)]:
        p = np.mean([lis.respond(1000.0, level, rng) for _ in range(4000)])
        assert abs(p - expected) < 0.025, (level, p, expected)
    with pytest.raises(HearloopInputError):
        lis.respond(float("nan"), 10.0, rng)


def test_severity_strata_boundaries():
    assert [severity_stratum(x) for x in (-5, 19.9, 20, 34.9, 35, 49.9, 50, 90)] == [
        "NH",
        "NH",
        "mild",
        "mild",
        "moderate",
        "moderate",
        "severe",
        "severe",
    ]


def test_nh_needs_every_threshold_within_10_db_of_the_reference(model):
    flat, notch = [0.0, 5.0, -10.0, 10.0], [0.0, 0.0, 5.0, 34.0]
    assert severity_stratum(12.0, flat) == "NH"
    assert severity_stratum(12.0, notch) == "slight"  # PTA < 20 hides a 34 dB HL notch
    assert severity_stratum(2.0, [0.0, -12.0]) == "slight"
    assert severity_stratum(25.0, notch) == "mild"  # from 20 dB HL PTA up the PTA alone decides
    assert severity_stratum(12.0) == "NH"  # no audiogram: PTA only
    with pytest.raises(HearloopInputError, match="audiogram"):
        severity_stratum(12.0, [0.0, float("nan")])

    # listeners at the NH reference's nu: their response is NH (u = 0), so the audiogram alone decides
    ref = VirtualListener("ref", nh_reference_nu(model), model)
    ref._spl_cache.update({float(f): 30.0 for f in AUDIOGRAM_FREQS_HZ})
    lis = VirtualListener("x", nh_reference_nu(model), model, reference=ref)
    lis._spl_cache.update({float(f): 30.0 + (25.0 if f == 6000 else 3.0) for f in AUDIOGRAM_FREQS_HZ})
    assert lis.pta() == pytest.approx(3.0) and listener_stratum(lis) == "slight"
    lis._spl_cache[6000.0] = 38.0
    assert listener_stratum(lis) == "NH"


def test_fleet_specs_and_the_cli_know_every_stratum():
    from listeners import STRATA
    from runners.fleet.spec import STRATUM_NAMES

    assert STRATUM_NAMES == tuple(STRATA)
