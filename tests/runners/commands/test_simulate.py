"""``hearloop simulate``: sound file -> nu-ICNet neurogram figure, with clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from runners.cli import main
from simulator.constants import SAMPLE_RATE
from simulator.model.checkpoint import save_model
from simulator.model.factory import build_model


@pytest.fixture
def wav(tmp_path):
    rate = 44100
    t = np.arange(int(0.3 * rate)) / rate
    path = tmp_path / "tone.wav"
    sf.write(path, 0.1 * np.sin(2 * np.pi * 1000 * t) * (t > 0.1), rate)
    return path


def _is_png(path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_untrained_preset_runs_and_says_so(wav, tmp_path, capsys):
    out = tmp_path / "figs" / "ng.png"
    code = main(
        ["simulate", str(wav), "--preset", "tiny", "--untrained", "--nu", "0.1,0.5,0.9,0.2,0.3,0.4", "--out", str(out)]
    )
    text = capsys.readouterr().out
    assert code == 0 and _is_png(out)
    assert "UNTRAINED" in text and "untrained" in text.lower()
    n_bins = int(0.3 * 44100 * SAMPLE_RATE / 44100) // 32
    assert f"x {n_bins} bins" in text  # resampled to SAMPLE_RATE before binning


def test_checkpoint_model_and_chunked_streaming(wav, tmp_path, capsys):
    model = build_model("tiny", n_params=3, seed=1)
    save_model(model, tmp_path / "ckpt")
    out = tmp_path / "ng.png"
    args = ["--model", str(tmp_path / "ckpt"), "--nu", "0.2,0.4,0.6", "--chunk-seconds", "0.05", "--level-db", "70"]
    code = main(["simulate", str(wav), *args, "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and _is_png(out)
    assert "UNTRAINED" not in text and "70.0 dB SPL" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "tiny"], "--untrained"),
        (["--preset", "tiny", "--untrained", "--nu", "0.5,0.5"], "D=6"),
        (["--preset", "tiny", "--untrained", "--nu", "0.5,0.5,0.5,0.5,0.5,1.5"], "[0, 1]"),
        (["--preset", "tiny", "--untrained", "--nu", "a,b"], "comma-separated"),
    ],
)
def test_bad_arguments_give_one_clear_error(wav, tmp_path, capsys, args, message):
    code = main(["simulate", str(wav), "--out", str(tmp_path / "x.png"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_bad_sound_file_and_missing_bundled_model(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    assert main(["simulate", str(bad), "--preset", "tiny", "--untrained", "--out", str(tmp_path / "a.png")]) == 2
    assert "bad.wav" in capsys.readouterr().err
    import simulator.model.checkpoint as ckpt

    monkeypatch.setattr(ckpt, "BUNDLED_MODEL_DIR", tmp_path / "missing")
    assert main(["simulate", str(bad), "--out", str(tmp_path / "b.png")]) == 2
    assert "hearloop train" in capsys.readouterr().err
