"""The listener population: one Gaussian per hearing-status group, strata from the right component, and who counts as
NH (normal audiogram AND a response within the NH training animals' range)."""

import numpy as np
import pytest
import torch

import listeners.population as population
from listeners import (
    NuDensity,
    NuMixture,
    PopulationError,
    animal_nus,
    listener_stratum,
    nh_response_limit,
    sample_cohort,
    severity_stratum,
    unaided_response_distance,
)
from simulator import build_model


def _logit(nu):
    nu = np.clip(np.asarray(nu, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(nu / (1 - nu))


@pytest.fixture(scope="module")
def model():
    """4 animals, 2 NH (logit nu -3 and -2.5 in turn) and 2 HI (+2.5 and +3): well apart in every dimension."""
    m = build_model("tiny", n_params=6, n_animals=4, seed=3).eval()
    logit_nu = torch.tensor([[-3.0, -2.5] * 3, [-2.5, -3.0] * 3, [2.5, 3.0] * 3, [3.0, 2.5] * 3])
    with torch.no_grad():  # nu_bar = sigmoid(10 tanh(raw_mu)) at the start of recording
        m.conditioning.raw_mu.copy_(torch.atanh(logit_nu / 10.0))
    m.metadata = {"animals": [{"id": f"A{k}", "status": s} for k, s in enumerate(["NH", "NH", "HI", "HI"])]}
    return m


def test_each_component_is_fitted_to_its_own_groups_animals_and_weighted_by_their_count():
    rng = np.random.default_rng(0)
    nus = 1 / (1 + np.exp(-rng.normal(size=(5, 3))))
    statuses = ["HI", "NH", "HI", "NH", "HI"]
    mix = NuMixture(nus, statuses)
    assert mix.weights == pytest.approx({"HI": 0.6, "NH": 0.4})
    for group, rows in (("NH", [1, 3]), ("HI", [0, 2, 4])):
        alone = NuDensity(nus[rows])
        assert np.allclose(mix.components[group].mean, _logit(nus[rows]).mean(0))
        assert np.allclose(mix.components[group].cov, alone.cov)
    assert not np.allclose(mix.components["NH"].mean, NuDensity(nus).mean)  # not the pooled density


def test_the_models_mixture_reads_the_statuses_from_the_checkpoint(model):
    mix = NuMixture.from_model(model)
    assert mix.groups == {"NH": [0, 1], "HI": [2, 3]} and mix.weights == {"NH": 0.5, "HI": 0.5}
    assert np.allclose(mix.components["NH"].mean, -2.75, atol=1e-4)
    assert np.allclose(mix.components["HI"].mean, 2.75, atol=1e-4)
    assert np.allclose(np.diag(mix.components["NH"].cov), 0.125 + 0.05, atol=1e-4)  # sample variance + floor


def test_draws_pick_components_by_weight_and_come_from_the_picked_component(model):
    mix = NuMixture.from_model(model, weights={"NH": 0.25, "HI": 0.75})
    nus, labels = mix.sample(4000, np.random.default_rng(1))
    assert labels.count("NH") / 4000 == pytest.approx(0.25, abs=0.025)
    z = _logit(nus)
    centres = {g: c.mean for g, c in mix.components.items()}
    nearest = [min(centres, key=lambda g, zi=zi: np.sum((zi - centres[g]) ** 2)) for zi in z]
    assert np.mean(np.array(nearest) == np.array(labels)) > 0.99
    only_nh, labels_nh = mix.sample(50, np.random.default_rng(2), groups=["NH"])
    assert set(labels_nh) == {"NH"} and np.allclose(_logit(only_nh).mean(0), centres["NH"], atol=0.25)


def test_seeded_cohorts_are_reproducible_and_seed_dependent(model):
    a, b, c = (np.stack([x.nu for x in sample_cohort(6, seed=s, model=model)]) for s in (5, 5, 6))
    assert np.array_equal(a, b) and not np.allclose(a, c)
    w = {"NH": 0.9, "HI": 0.1}
    assert np.array_equal(*(np.stack([x.nu for x in sample_cohort(6, seed=5, model=model, weights=w)]) for _ in "ab"))
    assert not np.allclose(a, np.stack([x.nu for x in sample_cohort(6, seed=5, model=model, weights=w)]))


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ({"NH": 1.5, "HI": -0.5}, r"in \[0, 1\]"),
        ({"NH": float("nan"), "HI": 1.0}, r"in \[0, 1\]"),
        ({"NH": 0.5, "HI": 0.4}, "sum to 1"),
        ({"NH": 0.5, "XX": 0.5}, "unknown groups"),
    ],
)
def test_bad_mixture_weights_are_refused_before_any_draw(model, weights, match, monkeypatch):
    monkeypatch.setattr(population, "_make", lambda *a, **k: pytest.fail("listeners were drawn"))
    with pytest.raises(PopulationError, match=match):
        sample_cohort(3, seed=0, model=model, weights=weights)


def test_a_group_of_one_animal_cannot_be_drawn_from(monkeypatch):
    nus = np.full((3, 2), 0.5) + np.array([[0.1, 0.0], [0.0, 0.1], [0.2, 0.2]])
    with pytest.warns(UserWarning, match="fewer than 2"):
        mix = NuMixture(nus, ["NH", "NH", "HI"])
    assert mix.weights == {"NH": 1.0, "HI": 0.0} and set(mix.components) == {"NH"}
    with pytest.raises(PopulationError, match="fewer than 2"):
        NuMixture(nus, ["NH", "NH", "HI"], weights={"NH": 0.5, "HI": 0.5})
    with pytest.raises(PopulationError, match="'HI': 1 training animal"):
        mix.require(["HI"])
    with pytest.raises(PopulationError, match="positive mixture weight"):
        mix.sample(2, np.random.default_rng(0), groups=["HI"])
    with pytest.raises(PopulationError, match="no hearing-status group"):
        NuMixture(nus, ["NH", "HI", "XX"])


def test_strata_needing_a_group_of_one_animal_are_refused_before_any_work(model, monkeypatch):
    monkeypatch.setattr(population, "prime_thresholds", lambda *a, **k: pytest.fail("thresholds were measured"))
    saved = model.metadata
    model.metadata = {"animals": [{"id": f"A{k}", "status": s} for k, s in enumerate(["NH", "HI", "HI", "HI"])]}
    try:
        with pytest.warns(UserWarning), pytest.raises(PopulationError, match="'NH': 1 training animal"):
            sample_cohort(2, seed=0, model=model, strata={"NH": 1, "mild": 1})
        model.metadata = {"animals": [{"id": f"A{k}", "status": s} for k, s in enumerate(["NH", "NH", "HI", "HI"])]}
        with pytest.raises(PopulationError, match="impaired group"):
            sample_cohort(1, seed=0, model=model, strata={"mild": 1}, weights={"HI": 0.0, "NH": 1.0})
    finally:
        model.metadata = saved


def test_each_stratum_fills_from_its_own_component(model, monkeypatch):
    """Candidates are classed NH and mild in turn, whatever their nu: the NH listeners must all come from the NH
    component and the mild ones from the HI component."""
    monkeypatch.setattr(population, "prime_thresholds", lambda *a, **k: None)
    turn = iter(range(10**6))
    monkeypatch.setattr(population, "listener_stratum", lambda listener: ("NH", "mild")[next(turn) % 2])
    cohort = sample_cohort(6, seed=0, model=model, strata={"NH": 3, "mild": 3})
    mix = NuMixture.from_model(model)
    z = _logit(np.stack([x.nu for x in cohort]))
    d = {g: np.sum((z - c.mean) ** 2, axis=1) for g, c in mix.components.items()}
    assert [x.id for x in cohort] == [f"L{i:03d}" for i in range(6)]  # NH first, then mild
    assert list(d["NH"] < d["HI"]) == [True] * 3 + [False] * 3


# ------------------------------------------------------------------- who counts as NH (the bundled model, known values)
@pytest.fixture(scope="module")
def bundled():
    import simulator

    return simulator.load_model()


def test_the_nh_range_is_the_nh_animals_unaided_distance_on_the_default_fleets_sounds(bundled):
    """The default fleet report's NH animals' range (README, fleet section): 0.004..0.139 of D_0."""
    statuses = [a["status"] for a in bundled.metadata["animals"]]
    u = unaided_response_distance(bundled, animal_nus(bundled))
    nh = u[[s == "NH" for s in statuses]]
    assert nh_response_limit(bundled) == pytest.approx(nh.max()) == pytest.approx(0.139, abs=0.001)
    assert nh.min() == pytest.approx(0.004, abs=0.001)
    hi = u[[s == "HI" for s in statuses]]
    assert hi.min() > 1.4 * nh.max() and np.median(hi) > 3.5 * nh.max()  # even the 12 dB HL animal responds outside it


def test_a_normal_audiogram_with_an_impaired_response_is_a_hidden_loss_not_nh(bundled):
    """The pooled density's 14th draw: PTA 4.2 dB HL, nu_2 (nu[1]) = 0.965 far from every NH animal, unaided 0.205
    D_0; its audiogram is normal, its response is not, so it is 'slight'."""
    pooled = NuDensity(animal_nus(bundled)).sample(16, np.random.default_rng(0))
    (old,) = sample_cohort(1, model=bundled, nus=pooled[13:14])
    assert old.nu[1] > 0.95 and old.pta() == pytest.approx(4.2, abs=0.2)
    assert severity_stratum(old.pta(), old.thresholds(population.AUDIOGRAM_FREQS_HZ)) == "NH"
    assert unaided_response_distance(bundled, old.nu)[0] == pytest.approx(0.205, abs=0.01)
    assert listener_stratum(old) == "slight"


def test_the_default_fleet_cohorts_nh_listeners_are_nh_in_audiogram_and_response(bundled):
    cohort = sample_cohort(8, seed=0, model=bundled)  # the default fleet's cohort
    strata = [listener_stratum(x) for x in cohort]
    nh = [x for x, s in zip(cohort, strata, strict=True) if s == "NH"]
    assert len(nh) == 3, strata
    assert all(x.pta() < 20 for x in nh)
    assert unaided_response_distance(bundled, np.stack([x.nu for x in nh])).max() <= nh_response_limit(bundled)
