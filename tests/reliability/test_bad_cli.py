"""Bad command-line values: each is refused while the command line is parsed (exit 2, the option named), before a
spec is read, a model loaded or a run directory written."""

from __future__ import annotations

import pytest

from runners.cli import main

BAD_OPTIONS = [
    (["--workers", "-3"], "--workers"),
    (["--workers", "many"], "--workers"),
    (["--workers", "2.5"], "--workers"),
    (["--retries", "-5"], "--retries"),
    (["--retries", "1000"], "--retries"),
    (["--num-gpus", "-1"], "--num-gpus"),
    (["--num-gpus", "nan"], "--num-gpus"),
    (["--num-cpus", "-2"], "--num-cpus"),
    (["--num-cpus", "inf"], "--num-cpus"),
    (["--timeout", "0"], "--timeout"),
    (["--timeout", "-1"], "--timeout"),
]


@pytest.mark.parametrize("command", ["fleet", "regress"])
@pytest.mark.parametrize(("option", "name"), BAD_OPTIONS, ids=[" ".join(o) for o, _ in BAD_OPTIONS])
def test_bad_engine_option_is_refused_at_parse_time_naming_it(command, option, name, tmp_path, capsys):
    out = tmp_path / "runs" / "never"
    extra = ["--out", str(out)]
    with pytest.raises(SystemExit) as exited:
        main([command, *extra, *option])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {name}:" in err, err
    assert not (tmp_path / "runs").exists()


BAD_COMMAND_OPTIONS = [
    (["synth", "--workers", "0"], "--workers"),
    (["synth", "--workers", "100000"], "--workers"),
    (["synth", "--workers", "two"], "--workers"),
    (["synth", "--ihc-dominant", "-1"], "--ihc-dominant"),
    (["synth", "--bez-sample-rate", "48000"], "--bez-sample-rate"),
    (["synth", "--bez-sample-rate", "1e5"], "--bez-sample-rate"),
    (["fit-aid", "--n-sounds", "0"], "--n-sounds"),
    (["fit-aid", "--eval-sounds", "0"], "--eval-sounds"),
    (["fit-aid", "--eval-sounds", "1000000"], "--eval-sounds"),
]


@pytest.mark.parametrize(("option", "name"), BAD_COMMAND_OPTIONS, ids=[" ".join(o) for o, _ in BAD_COMMAND_OPTIONS])
def test_bad_synth_and_fit_aid_option_is_refused_at_parse_time_naming_it(option, name, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exited:
        main([*option, "--out", str(out)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {name}:" in err, err
    assert not out.exists()
