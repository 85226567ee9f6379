"""The two bundled models: the default, trained on a BEZ2018-periphery cohort (what it is, and that its learned nu
orders the training animals by their true hearing loss), and the previous default, trained on gammatone."""

from __future__ import annotations

import numpy as np
import torch

from simulator.evaluation.evaluate import nu_distance_from_nh, severity_spearman
from simulator.model.animals import animal_nus
from simulator.model.checkpoint import (
    BEZ2018_MODEL_DIR,
    BUNDLED_MODEL_DIR,
    GAMMATONE_MODEL_DIR,
    load_model,
    read_config,
)


def test_the_default_bundle_was_trained_on_a_bez2018_cohort():
    model = load_model()
    meta = model.metadata
    kwargs = meta["cohort"]["kwargs"]
    assert kwargs["periphery"] == "bez2018"
    assert (kwargs["n_nh"], kwargs["n_hi"]) == (3, 6) and kwargs["train_seconds"] == 180.0
    assert [a["status"] for a in meta["animals"]] == ["NH"] * 3 + ["HI"] * 6
    assert meta["training"]["stage"] == "nuicnet6" and meta["training"]["preset"] == "small"
    assert BEZ2018_MODEL_DIR == BUNDLED_MODEL_DIR  # the old name of the second bundle now names the default


def test_the_gammatone_bundle_is_kept_beside_it_for_comparison():
    gammatone = load_model(GAMMATONE_MODEL_DIR)
    assert gammatone.metadata["cohort"]["kwargs"].get("periphery", "gammatone") == "gammatone"
    assert gammatone.metadata["training"]["stage"] == "nuicnet6"
    assert read_config(GAMMATONE_MODEL_DIR)[2] != read_config(BUNDLED_MODEL_DIR)[2]


def test_default_bundle_nu_orders_animals_by_true_loss():
    model = load_model()
    animals = model.metadata["animals"]
    distance = nu_distance_from_nh(animal_nus(model), [a["status"] for a in animals])
    severity = np.array([a["severity_db"] for a in animals])
    assert severity_spearman(distance, severity) >= 0.9
    hi = [k for k, a in enumerate(animals) if a["status"] == "HI"]
    nh = [k for k, a in enumerate(animals) if a["status"] == "NH"]
    assert distance[hi].min() > distance[nh].max()


def test_default_bundle_predicts_spike_count_probabilities():
    model = load_model()
    audio = 0.02 * torch.randn(1, 8192, generator=torch.Generator().manual_seed(0))
    nu = torch.from_numpy(animal_nus(model)[[0, -1]]).float()
    with torch.no_grad():
        probs = model.predict(audio.expand(2, -1), nu)
    assert probs.shape[0] == 2 and torch.isfinite(probs).all()
    torch.testing.assert_close(probs.sum(-1), torch.ones_like(probs.sum(-1)))
