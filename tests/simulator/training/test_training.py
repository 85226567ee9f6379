"""Training loop, resumable checkpoints, stages and the latent cache on a tiny synthetic cohort (tiny preset)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from simulator.constants import DOWNSAMPLE
from simulator.errors import CheckpointError
from simulator.model.checkpoint import load_model
from simulator.model.factory import build_model
from simulator.training.cohort import prepare_cohort
from simulator.training.frames import SharedFrames
from simulator.training.loop import TrainConfig, evaluate_loss, train_model
from simulator.training.stages import StageOptions, run_stages, stage_model_dir

COHORT_KW = dict(n_nh=2, n_hi=1, seed=5, n_channels=6, train_seconds=8.0, sound_duration_s=1.0,
                 n_test_per_class=1, test_duration_s=0.5, periphery="gammatone")  # fmt: skip


@pytest.fixture(scope="module")
def prepared(synthetic_cohort):
    root, _ = synthetic_cohort(**COHORT_KW)
    return prepare_cohort(root)


@pytest.fixture(scope="module")
def frames(prepared):
    return SharedFrames(prepared.train), SharedFrames(prepared.val)


def _model(prepared, seed=0):
    m = build_model("tiny", n_params=3, n_animals=len(prepared.animals), n_channels=6, seed=seed)
    return m


CFG = TrainConfig(lr=1e-2, batch_size=4, max_epochs=4, seed=1)


def test_shared_frames_group_animals(prepared, frames):
    train, _ = frames
    # every frame was heard by all three animals and is stored once
    assert train.present.all()
    assert train.n_recordings == len(prepared.train)
    assert len(train) * 3 == len(prepared.train)
    batch = train.batch(torch.arange(2))
    assert batch.counts.shape == (6, 6, 256)
    assert batch.row_animal.tolist() == [0, 1, 2, 0, 1, 2]


def test_loss_decreases(prepared, frames):
    train, val = frames
    model = _model(prepared)  # random output layer: the loss starts above the marginal count prior
    before = evaluate_loss(model, train, 8)
    result = train_model(model, train, val, CFG, progress=False)
    after = evaluate_loss(model, train, 8)
    assert after < before - 0.02
    assert len(result.history) == 4 and result.best_epoch >= 0


def test_resume_reproduces_uninterrupted_run(prepared, frames, tmp_path):
    train, val = frames
    full = _model(prepared)
    res_full = train_model(full, train, val, CFG, tmp_path / "a", progress=False)
    part = _model(prepared)
    train_model(part, train, val, CFG, tmp_path / "b", progress=False, stop_after_epochs=2)
    doc = json.loads((tmp_path / "b" / "last" / "trainer.json").read_text())
    assert doc["epoch"] == 1
    resumed = _model(prepared, seed=99)  # different init: everything must come from the checkpoint
    res_resumed = train_model(resumed, train, val, CFG, tmp_path / "b", progress=False)
    assert [h["val_ce"] for h in res_resumed.history] == [h["val_ce"] for h in res_full.history]
    for k, v in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v, rtol=0, atol=0)
    best = load_model(tmp_path / "b" / "best")
    assert best.config == full.config


def test_early_stopping_and_lr_schedule(prepared, frames):
    train, val = frames
    model = _model(prepared)
    cfg = TrainConfig(lr=1e-12, batch_size=8, max_epochs=50, early_stop=3, lr_patience=1, seed=0)
    result = train_model(model, train, val, cfg, progress=False)
    # epoch 0 sets the best; 3 epochs without improvement stop the run
    assert result.epochs_run == 4 and result.best_epoch == 0
    assert result.stop_reason.startswith("early stop")
    lrs = [h["lr"] for h in result.history]
    # ReduceLROnPlateau(patience=1) halves after the 2nd epoch without improvement
    assert lrs[:3] == [1e-12, 1e-12, 1e-12] and lrs[3] == pytest.approx(5e-13)


def test_corrupt_training_checkpoint_is_a_clear_error(prepared, frames, tmp_path):
    train, val = frames
    cfg = replace(CFG, max_epochs=1)
    train_model(_model(prepared), train, val, cfg, tmp_path, progress=False)
    opt = tmp_path / "last" / "optimizer.safetensors"
    opt.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match=r"optimizer\.safetensors"):
        train_model(_model(prepared), train, val, replace(cfg, max_epochs=2), tmp_path, progress=False)
    (tmp_path / "last" / "trainer.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        train_model(_model(prepared), train, val, replace(cfg, max_epochs=2), tmp_path, progress=False)


def test_latent_cache_matches_frame_encoding(prepared):
    train = SharedFrames(prepared.train)
    enc = build_model("tiny", n_channels=6).encoder.eval()
    train.cache_latents(enc, torch.device("cpu"))
    with torch.no_grad():
        direct = enc(train.audio)
    cached = train.batch(torch.arange(len(train))).latent
    starts = train.keys[:, 2]
    first = torch.as_tensor(starts == 0)
    # frames at the start of a sound: identical input (zero context), identical latent
    torch.testing.assert_close(cached[first], direct[first], rtol=1e-4, atol=1e-5)
    # later frames: the whole-sound latent only differs where the frame's receptive field would hit its left edge
    tail = 64 + 16  # bins beyond the context plus the tiny encoder's receptive field
    torch.testing.assert_close(cached[~first][..., tail:], direct[~first][..., tail:], rtol=1e-4, atol=1e-5)
    assert int(starts[~first][0]) % DOWNSAMPLE == 0


def test_stages_write_models_with_metadata_schema(prepared, tmp_path):
    options = StageOptions(preset="tiny", train=TrainConfig(max_epochs=1, batch_size=8), progress=False)
    results = run_stages(prepared, tmp_path, ("multibranch", "nuicnet6", "abrnet", "icnet"), options)
    assert set(results) == {"multibranch", "nuicnet6", "abrnet", "icnet"}
    nu6 = load_model(stage_model_dir(tmp_path, "nuicnet6"))
    assert nu6.n_params == 6 and nu6.n_animals == 3
    md = nu6.metadata
    assert [a["id"] for a in md["animals"]] == ["NH01", "NH02", "HI01"]
    assert {"id", "status", "abr_thresholds_db", "severity_db", "hours"} <= set(md["animals"][0])
    assert len(md["animals"][0]["abr_thresholds_db"]) == 5
    assert np.isclose(sum(md["channel_weights"]), 1.0) and len(md["channel_weights"]) == 6
    assert md["cohort"]["kwargs"]["seed"] == 5 and md["reference_animal"] == "NH01"
    assert md["training"]["freeze_encoder"] is True
    # the frozen encoder is the NH multi-branch ICNet's
    mb = load_model(stage_model_dir(tmp_path, "multibranch"))
    for k, v in mb.encoder.state_dict().items():
        torch.testing.assert_close(nu6.encoder.state_dict()[k], v)
    assert stage_model_dir(tmp_path, "icnet", "HI01").is_dir()
    assert load_model(stage_model_dir(tmp_path, "icnet", "HI01")).metadata["animals"][0]["id"] == "HI01"
