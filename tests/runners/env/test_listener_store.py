"""The on-disk listener store: keys with the weights digest, atomic JSON entries, fast resets across processes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import audiometry
from listeners import VirtualListener
from runners.env import HearingAidFittingEnv
from runners.env.listener_store import ListenerStore, default_cache_dir, model_digest
from tests.conftest import build_tiny_model
from tests.runners.env.support import NUS, REF_NU


def test_entries_round_trip_and_a_foreign_or_broken_file_is_recomputed(tmp_path, model):
    store = ListenerStore(model, tmp_path)
    key = {"listener": "T0|abc", "nu": [0.5] * 6, "trials": 4}
    calls = []

    def compute():
        calls.append(1)
        return {"mean_db_hl": np.array([1.5, 2.25]), "sd_db": [0.0, 3.0]}

    assert store.fetch("gppta", key, compute) == {"mean_db_hl": [1.5, 2.25], "sd_db": [0.0, 3.0]}
    assert store.fetch("gppta", key, compute)["mean_db_hl"] == [1.5, 2.25] and len(calls) == 1
    [path] = list(store.folder.glob("gppta-*.json"))
    assert store.folder.parent.name == "env-listeners" and store.folder.name == model_digest(model)[:16]
    assert store.load("gppta", {**key, "trials": 5}) is None  # another setting, another entry
    doc = json.loads(path.read_text())
    doc["key"]["trials"] = 99  # a file whose key is not the one asked for is never trusted
    path.write_text(json.dumps(doc))
    with pytest.warns(UserWarning, match="stored key differs"):
        assert store.load("gppta", key) is None
    path.write_text("{not json")
    with pytest.warns(UserWarning, match="recomputing"):
        store.fetch("gppta", key, compute)
    assert len(calls) == 2 and store.load("gppta", key)["sd_db"] == [0.0, 3.0]
    assert not list(store.folder.glob("*.tmp"))  # atomic writes leave no temporary file


def test_the_model_digest_follows_the_weights_not_the_object(model):
    same = build_tiny_model()
    assert same is not model and model_digest(same) == model_digest(model)
    other = build_tiny_model()
    with torch.no_grad():
        next(other.parameters()).add_(1e-3)
    assert model_digest(other) != model_digest(model)


def test_default_cache_dir_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("HEARLOOP_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("HEARLOOP_CACHE_DIR")
    assert default_cache_dir().name == "hearloop"


def test_a_listener_measured_before_resets_without_a_new_session_in_a_fresh_process(options, tmp_path, monkeypatch):
    """A second env on an equal model object (empty in-memory cache, as in a new process) reads the GP-PTA estimate,
    the true audiogram and the unaided distances from disk: no audiometry session runs, results are identical."""
    first = HearingAidFittingEnv({**options, "cache_dir": str(tmp_path)})
    obs_a, info_a = first.reset(seed=4)
    assert len(list((tmp_path / "env-listeners").rglob("*.json"))) >= 3

    def no_session(*args, **kwargs):
        raise AssertionError("a GP-PTA session ran for a listener measured before")

    monkeypatch.setattr(audiometry, "run_session", no_session)
    fresh = build_tiny_model()  # new objects throughout, as in another process
    reference = VirtualListener("NH-ref", REF_NU, fresh)
    cohort = [VirtualListener(f"T{i}", nu, fresh, reference=reference) for i, nu in enumerate(NUS)]
    second = HearingAidFittingEnv({**options, "cache_dir": str(tmp_path), "model": fresh, "listeners": cohort})
    obs_b, info_b = second.reset(seed=4)
    np.testing.assert_array_equal(obs_a, obs_b)
    assert info_a["distance"] == info_b["distance"] and info_a["listener_id"] == info_b["listener_id"]
    uncached = HearingAidFittingEnv({**options, "disk_cache": False, "model": build_tiny_model()})
    with pytest.raises(AssertionError, match="GP-PTA session ran"):
        uncached.reset(seed=4)
