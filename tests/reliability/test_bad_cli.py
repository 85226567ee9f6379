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
    (["evaluate-strategies", "--objective", "oracle"], "--objective"),
    (["evaluate-strategies", "--objective", "1"], "--objective"),
    (["compensate", "train", "--conditioning", "oracle"], "--conditioning"),
]


@pytest.mark.parametrize(("option", "name"), BAD_COMMAND_OPTIONS, ids=[" ".join(o) for o, _ in BAD_COMMAND_OPTIONS])
def test_bad_command_option_is_refused_at_parse_time_naming_it(option, name, tmp_path, capsys):
    out = tmp_path / "out"
    output = ["--run-dir", str(out)] if option[0] == "compensate" else ["--out", str(out)]
    with pytest.raises(SystemExit) as exited:
        main([*option, *output])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {name}:" in err, err
    assert not out.exists()


RANGE_CASES = [
    # audiometry
    (["audiometry", "bench", "--seeds", "0"], "--seeds"),
    (["audiometry", "bench", "--seeds", "1e9"], "--seeds"),
    (["audiometry", "bench", "--trials", "0"], "--trials"),
    (["audiometry", "bench", "--random-listeners", "-1"], "--random-listeners"),
    (["audiometry", "bench", "--lapse", "0.9"], "--lapse"),
    (["audiometry", "bench", "--lapse", "nan"], "--lapse"),
    (["audiometry", "bench", "--sigma", "0"], "--sigma"),
    (["audiometry", "run", "--trials", "100000"], "--trials"),
    (["audiometry", "run", "--target-sd", "0"], "--target-sd"),
    (["audiometry", "run", "--target-sd", "inf"], "--target-sd"),
    (["audiometry", "run", "--seed", "-1"], "--seed"),
    (["audiometry", "run", "--sigma", "-5"], "--sigma"),
    (["audiometry", "run", "--lapse", "-0.1"], "--lapse"),
    (["audiometry", "run", "--max-level", "200"], "--max-level"),
    (["audiometry", "run", "--max-level", "-10"], "--max-level"),
    # cohort
    (["cohort", "--n", "0"], "--n"),
    (["cohort", "--n", "1000000000"], "--n"),
    (["cohort", "--seed", "-1"], "--seed"),
    (["cohort", "--audiometry", "-5"], "--audiometry"),
    # compensate train
    (["compensate", "train", "--n-listeners", "0"], "--n-listeners"),
    (["compensate", "train", "--cohort-seed", "-3"], "--cohort-seed"),
    (["compensate", "train", "--steps", "0"], "--steps"),
    (["compensate", "train", "--batch", "0"], "--batch"),
    (["compensate", "train", "--lr", "0"], "--lr"),
    (["compensate", "train", "--lr", "nan"], "--lr"),
    (["compensate", "train", "--loudness-weight", "-1"], "--loudness-weight"),
    (["compensate", "train", "--loudness-weight", "inf"], "--loudness-weight"),
    (["compensate", "train", "--seed", "2.5"], "--seed"),
    (["compensate", "train", "--sound-seed", "-1"], "--sound-seed"),
    (["compensate", "train", "--stop-at", "0"], "--stop-at"),
    (["compensate", "train", "--threads", "0"], "--threads"),
    (["compensate", "train", "--threads", "1000"], "--threads"),
    (["compensate", "train", "--audiogram-sd", "-1"], "--audiogram-sd"),
    (["compensate", "train", "--audiogram-sd", "100"], "--audiogram-sd"),
    (["compensate", "train", "--audiogram-sd", "nan"], "--audiogram-sd"),
    (["compensate", "train", "--selectivity-weight", "-0.5"], "--selectivity-weight"),
    (["compensate", "train", "--selectivity-weight", "inf"], "--selectivity-weight"),
    (["compensate", "train", "--selectivity-every", "0"], "--selectivity-every"),
    (["compensate", "train", "--selectivity-every", "2.5"], "--selectivity-every"),
    # evaluate, evaluate-strategies
    (["evaluate", "--threads", "-2"], "--threads"),
    (["evaluate-strategies", "--n-listeners", "-1"], "--n-listeners"),
    (["evaluate-strategies", "--cohort-seed", "x"], "--cohort-seed"),
    (["evaluate-strategies", "--sound-seed", "-9001"], "--sound-seed"),
    (["evaluate-strategies", "--per-class", "0"], "--per-class"),
    (["evaluate-strategies", "--duration", "0"], "--duration"),
    (["evaluate-strategies", "--duration", "3600"], "--duration"),
    (["evaluate-strategies", "--levels", "200,250"], "--levels"),
    (["evaluate-strategies", "--levels", "80,50"], "--levels"),
    (["evaluate-strategies", "--levels", "80"], "--levels"),
    (["evaluate-strategies", "--levels", "nan,80"], "--levels"),
    # ground-truth
    (["ground-truth", "--fresh-nh", "-1"], "--fresh-nh"),
    (["ground-truth", "--fresh-hi", "1000"], "--fresh-hi"),
    (["ground-truth", "--fresh-seed", "-1"], "--fresh-seed"),
    (["ground-truth", "--fit-evals", "0"], "--fit-evals"),
    (["ground-truth", "--sound-seed", "1.5"], "--sound-seed"),
    (["ground-truth", "--per-class", "0"], "--per-class"),
    (["ground-truth", "--duration", "-1"], "--duration"),
    (["ground-truth", "--levels", "50,200"], "--levels"),
    # fit
    (["fit", "--fresh", "0"], "--fresh"),
    (["fit", "--fresh", "1000"], "--fresh"),
    (["fit", "--seed", "-1"], "--seed"),
    (["fit", "--n-init", "5"], "--n-init"),
    (["fit", "--max-evals", "0"], "--max-evals"),
    (["fit", "--seconds-per-sound", "0"], "--seconds-per-sound"),
    (["fit", "--max-hours", "-2"], "--max-hours"),
    (["fit", "--grid", "-1"], "--grid"),
    (["fit", "--grid", "1000"], "--grid"),
    # fit-aid
    (["fit-aid", "--level", "200"], "--level"),
    (["fit-aid", "--level", "-300"], "--level"),
    (["fit-aid", "--level", "nan"], "--level"),
    (["fit-aid", "--budget", "0"], "--budget"),
    (["fit-aid", "--budget", "-5"], "--budget"),
    (["fit-aid", "--listener-seed", "-1"], "--listener-seed"),
    (["fit-aid", "--seed", "99999999999"], "--seed"),
    (["fit-aid", "--radius", "0"], "--radius"),
    (["fit-aid", "--radius", "5"], "--radius"),
    (["fit-aid", "--sigma", "0"], "--sigma"),
    (["fit-aid", "--sigma", "inf"], "--sigma"),
    (["fit-aid", "--audiometry-trials", "0"], "--audiometry-trials"),
    (["fit-aid", "--sound-seconds", "0"], "--sound-seconds"),
    # simulate
    (["simulate", "s.wav", "--seed", "-1"], "--seed"),
    (["simulate", "s.wav", "--level-db", "200"], "--level-db"),
    (["simulate", "s.wav", "--full-scale-db", "300"], "--full-scale-db"),
    (["simulate", "s.wav", "--chunk-seconds", "0"], "--chunk-seconds"),
    (["simulate", "s.wav", "--chunk-seconds", "nan"], "--chunk-seconds"),
    # synth
    (["synth", "--n-nh", "-1"], "--n-nh"),
    (["synth", "--n-hi", "100000"], "--n-hi"),
    (["synth", "--seed", "-1"], "--seed"),
    (["synth", "--channels", "0"], "--channels"),
    (["synth", "--train-seconds", "0"], "--train-seconds"),
    (["synth", "--train-seconds", "inf"], "--train-seconds"),
    (["synth", "--sound-seconds", "-3"], "--sound-seconds"),
    (["synth", "--test-per-class", "0"], "--test-per-class"),
    (["synth", "--test-seconds", "0"], "--test-seconds"),
    (["synth", "--session-hours", "0"], "--session-hours"),
    (["synth", "--level-range", "45", "200"], "--level-range"),
    (["synth", "--level-range", "nan", "90"], "--level-range"),
    (["synth", "--test-level-range", "-20", "90"], "--test-level-range"),
    (["synth", "--hi-pta-range", "10", "300"], "--hi-pta-range"),
    (["synth", "--flat-from", "inf"], "--flat-from"),
    (["synth", "--ihc-dominant", "100000"], "--ihc-dominant"),
    # train
    (["train", "--epoch-cap", "0"], "--epoch-cap"),
    (["train", "--epochs", "-1"], "--epochs"),
    (["train", "--encoder-epochs", "0"], "--encoder-epochs"),
    (["train", "--lr", "-1e-3"], "--lr"),
    (["train", "--encoder-lr", "2"], "--encoder-lr"),
    (["train", "--hop", "0"], "--hop"),
    (["train", "--hop", "4100"], "--hop"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--beta", "-1"], "--beta"),
    (["train", "--lam", "nan"], "--lam"),
    (["train", "--early-stop", "0"], "--early-stop"),
    (["train", "--lr-patience", "-1"], "--lr-patience"),
    (["train", "--max-steps-per-epoch", "0"], "--max-steps-per-epoch"),
    (["train", "--seed", "-1"], "--seed"),
    (["train", "--threads", "0"], "--threads"),
]


@pytest.mark.parametrize(("argv", "name"), RANGE_CASES, ids=[" ".join(a) for a, _ in RANGE_CASES])
def test_out_of_range_option_is_refused_at_parse_time_naming_it_and_its_range(
    argv, name, tmp_path, capsys, monkeypatch
):
    """Each numeric option of each command (#22's follow-up: options that predate the ranges): exit 2 while the command
    line is parsed, the message names the option and what it accepts, and nothing is written (the default output
    directories lie under the working directory)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {name}: must be " in err or f"argument {name}: expected " in err, err
    assert list(tmp_path.iterdir()) == []


STRATA_CASES = [
    ["cohort", "--strata", "NH=0,mild=0"],
    ["cohort", "--strata", "NH=2,severe=1000000000"],
    ["evaluate-strategies", "--out", "x", "--strata", "moderate=20000"],
]


@pytest.mark.parametrize("argv", STRATA_CASES, ids=[" ".join(a) for a in STRATA_CASES])
def test_strata_totalling_no_listener_or_too_many_are_refused_before_work(argv, tmp_path, capsys, monkeypatch):
    """Listener counts given per stratum have --n-listeners' range in all (a typo is not a billion listeners drawn)."""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert "--strata must total 1-10000 listeners, got " in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
