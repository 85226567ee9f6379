"""Fixtures of the fault tests: one uninterrupted run of the light spec that every faulty run must match."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from runners.fleet.runner import run_fleet
from tests.reliability.support import light_spec


@pytest.fixture(scope="session")
def reference(tiny_model_dir, tmp_path_factory) -> Path:
    """An undisturbed in-process run of :func:`~tests.reliability.support.light_spec` (read-only)."""
    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("runs") / "reference"
    summary = run_fleet(light_spec(tiny_model_dir), out, progress=False)
    torch.set_num_threads(threads)  # an in-process run pins the worker's thread count
    assert summary.ok and summary.n_computed == 3
    return out
