"""``hearloop audiometry run`` and the interactive responder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audiometry import SessionAborted, TerminalResponder
from runners.cli import main


def test_run_simulated_session_writes_outputs(tmp_path, capsys):
    code = main(
        ["audiometry", "run", "--audiogram", "N3", "--method", "gppta", "--trials", "6", "--out", str(tmp_path)]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Audiogram (gppta, 6 trials)" in out and "MAE" in out
    gram = json.loads((tmp_path / "audiogram.json").read_text())
    assert gram["n_trials"] == 6 and len(gram["freqs_hz"]) == 8
    assert (tmp_path / "audiogram.csv").read_text().startswith("freq_hz,")
    assert (tmp_path / "posterior.png").stat().st_size > 10_000


def test_run_hw_on_random_listener(capsys):
    assert main(["audiometry", "run", "--random", "--seed", "1", "--method", "hw"]) == 0
    assert "hughson-westlake" in capsys.readouterr().out


def test_bad_cli_input_is_one_clear_error(capsys):
    assert main(["audiometry", "run", "--audiogram", "Z9"]) == 2
    assert "unknown Bisgaard audiogram" in capsys.readouterr().err


def test_terminal_responder_validates_answers():
    answers = iter(["maybe", "", "Y"])
    printed: list[str] = []
    r = TerminalResponder(input_fn=lambda prompt: next(answers), print_fn=printed.append)
    assert r.respond(1000.0, 40.0, np.random.default_rng(0)) is True
    assert len(printed) == 2 and "please answer" in printed[0]
    prompts: list[str] = []
    r = TerminalResponder(input_fn=lambda p: prompts.append(p) or "n")
    assert r.respond(4000.0, 55.0, np.random.default_rng(0)) is False
    assert "4000 Hz" in prompts[0] and "55.0 dB HL" in prompts[0]
    with pytest.raises(SessionAborted):
        TerminalResponder(input_fn=lambda p: "q").respond(1000.0, 40.0, np.random.default_rng(0))
