"""Every flag either works or is refused: a combination in which a flag would be silently ignored is a named error,
raised before any model is loaded or anything is written."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from runners.cli import main

REFUSED = [
    (["evaluate-strategies", "--out", "{tmp}/x", "--n-listeners", "2", "--strata", "NH=2"], "not both"),
    (
        ["evaluate-strategies", "--out", "{tmp}/x", "--listeners-from", "animals", "--n-listeners", "2"],
        "--n-listeners only apply to a sampled cohort",
    ),
    (
        ["evaluate-strategies", "--out", "{tmp}/x", "--cohort-file", "{tmp}/c.toml", "--cohort-seed", "3"],
        "--cohort-seed only apply to a sampled one",
    ),
    (["evaluate-strategies", "--out", "{tmp}/x", "--n-listeners", "3", "--strict-strata"], "--strict-strata"),
    (["evaluate-strategies", "--out", "{tmp}/x", "--strategies", "nalr", "--dnn", "dnn-small"], "dnn is not among"),
    (["evaluate-strategies", "--out", "{tmp}/x", "--objective", "generator"], "carry no ground truth"),
    (
        ["compensate", "train", "--run-dir", "{tmp}/x", "--listeners-from", "animals", "--strata", "NH=1"],
        "--strata only apply",
    ),
    (["compensate", "train", "--run-dir", "{tmp}/x", "--strata", "NH=1", "--n-listeners", "4"], "not both"),
    (["compensate", "train", "--run-dir", "{tmp}/x", "--selectivity-every", "4"], "--selectivity-every applies"),
    (["cohort", "--from-file", "{tmp}/c.toml", "--n", "3"], "only apply to sampling"),
    (["cohort", "--n", "3", "--strata", "NH=3"], "not both"),
    (["fit", "--fresh", "1", "--aligned"], "fresh animals are generated in the model's channel order"),
    (["fit", "--animal", "{tmp}/a.h5", "--aligned", "--reference", "{tmp}/b.h5"], "not both"),
    (["audiometry", "run", "--method", "hw", "--target-sd", "2"], "Hughson-Westlake has none"),
    (["audiometry", "run", "--interactive", "--lapse", "0.1"], "no meaning with --interactive"),
    (["train", "--cohort", "{tmp}/c", "--recipe", "bundle", "--epochs", "3"], "sets --epochs per step"),
    (["train", "--cohort", "{tmp}/c", "--epoch-cap", "1"], "--epoch-cap caps the steps of a --recipe"),
    (["train", "--cohort", "{tmp}/c", "--stages", "nuicnet6", "--encoder-lr", "1e-3"], "apply to the multibranch"),
    (["train", "--cohort", "{tmp}/c", "--encoder-from", "nuicnet6"], "this call trains multibranch"),
    (["regress", "--update", "--out", "{tmp}/x"], "--out applies to a comparison run"),
    (["fleet", "--describe", "--out", "{tmp}/x"], "drop --out"),
    (["fleet", "--engine", "local", "--num-gpus", "1"], "apply to the ray engine only"),
    (["simulate", "{tmp}/s.wav", "--seed", "3"], "apply to an untrained --preset only"),
]


@pytest.mark.parametrize(("argv", "message"), REFUSED, ids=[" ".join(a[:3]) + "..." for a, _ in REFUSED])
def test_a_flag_that_would_be_ignored_is_refused(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a refused command wrote something"


def test_n_listeners_alone_draws_that_many_without_strata(tiny_model_dir, tmp_path, capsys):
    """The issue's example: --n-listeners 2 used to be ignored because the default --strata won."""
    out = tmp_path / "strategies"
    argv = ["evaluate-strategies", "--out", str(out), "--model", str(tiny_model_dir), "--strategies", "unaided,nalr",
            "--n-listeners", "2", "--per-class", "1", "--duration", "0.1", "--no-plots", "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert len(set(pq.read_table(out / "results.parquet").column("listener").to_pylist())) == 2
