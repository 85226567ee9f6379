"""Checkpoints: safetensors + JSON round trips, and clear errors for corrupt or mismatched files."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

import simulator.model.checkpoint as ckpt
from simulator.errors import CheckpointError
from simulator.model.checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_model, save_model
from simulator.model.factory import build_model


def _audio(n: int = 32 * 40 + 3) -> torch.Tensor:
    return 0.1 * torch.randn(2, n, generator=torch.Generator().manual_seed(0))


def _rehash(directory) -> None:
    """Rewrite the checksum after tampering with the weights (to reach the checks behind it)."""
    doc = json.loads((directory / CONFIG_FILE).read_text())
    doc["weights_sha256"] = ckpt.sha256_file(directory / WEIGHTS_FILE)
    (directory / CONFIG_FILE).write_text(json.dumps(doc))


@pytest.mark.parametrize("kind", ["nuicnet", "abrnet", "multibranch_icnet"])
def test_round_trip_gives_identical_outputs(tmp_path, kind):
    model = build_model("tiny", n_animals=3, kind=kind, seed=4)
    with torch.no_grad():  # move away from the seeded initialisation so a rebuilt model would differ
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
        if kind == "abrnet":
            model.set_abr_thresholds(torch.tensor([[10.0, 20, 30, 40, 50], [60, 60, 60, 60, 60], [0, 0, 90, 90, 90]]))
    save_model(model, tmp_path / "m", metadata={"epochs": 3, "note": "test"})
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.config == model.config
    assert loaded.metadata == {"epochs": 3, "note": "test"}
    assert not loaded.training
    audio = _audio()
    with torch.no_grad():
        if kind == "multibranch_icnet":
            a, b = model.forward_branch(audio, torch.tensor([0, 2])), loaded.forward_branch(audio, torch.tensor([0, 2]))
        else:
            nu = torch.rand(2, model.n_params, generator=torch.Generator().manual_seed(1))
            a, b = model.predict(audio, nu), loaded.predict(audio, nu)
            torch.testing.assert_close(loaded.conditioning.nu_bar(), model.conditioning.nu_bar(), atol=0, rtol=0)
    assert torch.equal(a, b)
    # Loading through the config.json path works too.
    assert load_model(tmp_path / "m" / CONFIG_FILE).config == model.config


@pytest.fixture
def saved(tmp_path):
    return save_model(build_model("tiny", seed=0), tmp_path / "ckpt")


def test_checksum_mismatch_is_refused(saved):
    data = bytearray((saved / WEIGHTS_FILE).read_bytes())
    data[-3] ^= 0xFF
    (saved / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_model(saved)


def test_corrupt_weights_are_refused(saved):
    (saved / WEIGHTS_FILE).write_bytes(b"\x00\x01 not a safetensors file")
    _rehash(saved)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(saved)


@pytest.mark.parametrize("change", ["missing", "extra", "shape", "nan"])
def test_mismatched_tensors_are_refused(saved, change):
    tensors = load_file(saved / WEIGHTS_FILE)
    name = "decoder.proj.weight"
    if change == "missing":
        del tensors[name]
    elif change == "extra":
        tensors["decoder.extra"] = torch.zeros(3)
    elif change == "shape":
        tensors[name] = torch.zeros(tensors[name].shape[0] + 5, *tensors[name].shape[1:])
    else:
        tensors[name] = tensors[name].clone()
        tensors[name][0, 0, 0] = float("nan")
    save_file(tensors, saved / WEIGHTS_FILE)
    _rehash(saved)
    match = {"missing": "missing tensors", "extra": "unexpected tensors", "shape": "mis-shaped", "nan": "non-finite"}
    with pytest.raises(CheckpointError, match=match[change]):
        load_model(saved)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d["config"].update(dropout=0.5), "unknown model config keys"),
        (lambda d: d.update(format_version=99), "unsupported format"),
        (lambda d: d["config"].update(version=7), "version 7"),
        (lambda d: d["config"].update(n_channels=9), "mis-shaped"),
        (lambda d: d.update(extra_key=1), "must have keys"),
        (lambda d: d["config"].update(kind="transformer"), "kind"),
    ],
)
def test_bad_config_is_refused(saved, edit, match):
    doc = json.loads((saved / CONFIG_FILE).read_text())
    edit(doc)
    (saved / CONFIG_FILE).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=match):
        load_model(saved)


def test_missing_files_and_bundled_model(saved, tmp_path, monkeypatch):
    (saved / CONFIG_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_model(saved)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"missing config\.json"):
        load_model(tmp_path / "empty")
    monkeypatch.setattr(ckpt, "BUNDLED_MODEL_DIR", tmp_path / "assets" / "nuicnet-small")
    with pytest.raises(CheckpointError, match="hearloop train"):
        load_model()


def test_device_handling(saved):
    assert load_model(saved, device="auto").decoder.proj.weight.device.type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(CheckpointError, match="CUDA is not available"):
            load_model(saved, device="cuda")
    with pytest.raises(CheckpointError, match="device"):
        load_model(saved, device="tpu")


def test_save_refuses_non_json_metadata(tmp_path):
    with pytest.raises(CheckpointError, match="JSON"):
        save_model(build_model("tiny"), tmp_path / "x", metadata={"bad": object()})
