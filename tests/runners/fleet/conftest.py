"""Fixtures of the fleet tests: the tiny checkpoint and one uninterrupted reference run that other runs must match."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from runners.fleet.runner import run_fleet
from tests.runners.fleet.support import tiny_spec


@pytest.fixture(scope="session")
def model_dir(tiny_model_dir) -> Path:
    return tiny_model_dir


@pytest.fixture(scope="session")
def reference_run(model_dir, tmp_path_factory) -> Path:
    """An uninterrupted in-process run of the tiny spec (the reference the other runs are compared with; read-only)."""
    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("runs") / "reference"
    summary = run_fleet(tiny_spec(model_dir), out, progress=False)
    torch.set_num_threads(threads)  # an in-process run pins the worker's thread count
    assert summary.ok and summary.n_computed == 3
    return out
