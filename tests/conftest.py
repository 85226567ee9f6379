"""Fixtures shared across the test tree: the tiny nu-ICNet, its checkpoint, and tiny synthetic cohorts.

- ``tiny_model``: an untrained ``tiny`` nu-ICNet (D = 6, K = 3, seed 0) whose nu pathway is amplified (expander weights
  x 4) so that its response depends visibly on nu; module-scoped, so a test module may not leak changes to another.
- ``tiny_model_dir``: that model saved as a checkpoint whose metadata names 2 NH + 1 HI training animals (what the
  listeners package needs to find the NH reference); session-scoped and read-only.
- ``private_cache_dir`` (autouse): ``$HEARLOOP_CACHE_DIR`` points at a session tmp folder.
- ``synthetic_cohort``: ``synthetic_cohort(**generate_cohort_kwargs) -> (cohort_dir, animals)``, a virtual-IC cohort
  generated and written once per set of arguments for the whole session (read-only).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def private_cache_dir(tmp_path_factory):
    """Every test writes hearloop's on-disk caches (the environment's listener store) under a session tmp folder."""
    old = os.environ.get("HEARLOOP_CACHE_DIR")
    os.environ["HEARLOOP_CACHE_DIR"] = str(tmp_path_factory.mktemp("hearloop-cache"))
    yield
    if old is None:
        os.environ.pop("HEARLOOP_CACHE_DIR", None)
    else:
        os.environ["HEARLOOP_CACHE_DIR"] = old


TINY_NH_HI_ANIMALS = [{"id": f"A{k}", "status": s} for k, s in enumerate(("NH", "NH", "HI"))]


def build_tiny_model():
    """The tiny nu-ICNet of :func:`tiny_model` (a fresh object on every call)."""
    from simulator import build_model

    model = build_model("tiny", n_params=6, n_animals=3, seed=0).eval()
    with torch.no_grad():  # make the untrained decoder depend visibly on nu
        for p in model.expander.parameters():
            p.mul_(4.0)
    return model


@pytest.fixture(scope="module")
def tiny_model():
    return build_tiny_model()


def save_tiny_model(directory: Path) -> Path:
    """Save :func:`build_tiny_model` with metadata naming 2 NH + 1 HI training animals; returns the directory."""
    from simulator.model.checkpoint import save_model

    return save_model(build_tiny_model(), directory, metadata={"animals": TINY_NH_HI_ANIMALS})


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def synthetic_cohort(tmp_path_factory) -> Callable[..., tuple[Path, list]]:
    from simulator.data.recordings import write_cohort
    from simulator.virtual_ic.cohort import cohort_metadata, generate_cohort

    cache: dict[tuple, tuple[Path, list]] = {}

    def make(**kwargs) -> tuple[Path, list]:
        key = tuple(sorted(kwargs.items()))
        if key not in cache:
            animals = generate_cohort(**kwargs, progress=False)
            root = tmp_path_factory.mktemp("cohort")
            write_cohort(root, animals, cohort_metadata(animals, **kwargs))
            cache[key] = (root, animals)
        return cache[key]

    return make
