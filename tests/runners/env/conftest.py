"""Fixtures of the environment tests: the tiny model, a 3-listener cohort and small, fast env options."""

from __future__ import annotations

import pytest
import torch

from listeners import VirtualListener
from tests.runners.env.support import NUS, REF_NU


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a shared machine their barriers cost milliseconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model(tiny_model):
    return tiny_model


@pytest.fixture(scope="module")
def cohort(model):
    reference = VirtualListener("NH-ref", REF_NU, model)  # defines 0 dB HL for the tiny model's listeners
    return [VirtualListener(f"T{i}", nu, model, reference=reference) for i, nu in enumerate(NUS)]


@pytest.fixture(scope="module")
def options(model, cohort):
    """Small, fast env options (tiny model, 3 listeners, 2 x 0.15 s sounds, 4 GP-PTA trials)."""
    return {
        "model": model,
        "listeners": cohort,
        "reference_nu": REF_NU,
        "sound_duration_s": 0.15,
        "n_per_class": 2,
        "sound_classes": ("speech", "music", "ripple"),
        "audiometry_trials": 4,
        "n_bands": 3,
        "max_steps": 3,
        "strategy": "multiband",
        "include_nh": True,  # the untrained tiny model hears like the reference: every listener is NH
    }
