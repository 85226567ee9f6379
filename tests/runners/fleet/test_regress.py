"""Regression runs: the committed baseline passes on an unchanged tree, a planted regression fails it."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

import compensation.nalr_strategy
from runners.cli import main
from runners.fleet.pipeline import COLUMNS
from runners.fleet.regress import (
    REGRESS_BASELINE,
    REGRESS_SPEC,
    baseline_model_matches,
    compare,
    regress,
    tolerance,
)
from runners.fleet.spec import load_spec
from tests.runners.fleet.support import tiny_spec, tiny_spec_text

REGENERATE = f"hearloop regress {REGRESS_SPEC} --baseline {REGRESS_BASELINE} --update"


def _table(rows: list[tuple[str, str, float]]) -> pa.Table:
    """A result table with rows (metric, strategy, value) of one listener."""
    base = {"job": "0000-L000", "listener": "L000", "stratum": "NH", "step": "evaluation", "param": "", "sound": "",
            "freq_hz": math.nan, "query": -1}  # fmt: skip
    return pa.Table.from_pylist([{**base, "metric": m, "strategy": s, "value": v} for m, s, v in rows]).select(COLUMNS)


def test_compare_applies_per_metric_tolerances_and_flags_missing_rows():
    base = _table([("fidelity_restored_mean", "nalr", 0.5), ("d_aided", "nalr", 0.2), ("queries_to_90", "", math.nan)])
    tol = tolerance("fidelity_restored_mean")["abs"]
    same = compare(base, _table([("fidelity_restored_mean", "nalr", 0.5 + tol / 2), ("d_aided", "nalr", 0.2),
                                 ("queries_to_90", "", math.nan)]))  # fmt: skip
    assert same.passed and len(same.metrics) == 3
    worse = compare(base, _table([("fidelity_restored_mean", "nalr", 0.5 - 3 * tol), ("d_aided", "nalr", 0.2),
                                  ("queries_to_90", "", 7.0)]))  # fmt: skip
    failed = {m.metric for m in worse.metrics if not m.passed}
    assert not worse.passed and failed == {"fidelity_restored_mean", "queries_to_90"}
    assert "FAIL" in worse.table() and "fidelity_restored_mean" in worse.table()
    partial = compare(base, _table([("d_aided", "nalr", 0.2), ("queries_to_90", "", math.nan)]))
    assert not partial.passed and len(partial.missing) == 1 and "fidelity_restored_mean" in partial.missing[0]
    shifted = _table(
        [("fidelity_restored_mean", "nalr", 0.45), ("d_aided", "nalr", 0.2), ("queries_to_90", "", math.nan)]
    )
    loose = compare(base, shifted, {"fidelity_restored_mean": {"abs": 0.1}})
    assert loose.passed


def test_update_then_regress_round_trip_and_a_planted_regression(tiny_model_dir, tmp_path, monkeypatch, capsys):
    model_dir = tiny_model_dir
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(tiny_spec_text(model_dir, cohort="n = 2\nseed = 0"))
    spec = load_spec(spec_file)
    baseline = tmp_path / "baseline"
    assert main(["regress", str(spec_file), "--baseline", str(baseline), "--update"]) == 0
    assert sorted(p.name for p in baseline.iterdir()) == ["failures.json", "manifest.json", "results.parquet"]
    result = regress(spec, baseline, out=tmp_path / "rerun")
    assert result.passed, result.table()
    assert (tmp_path / "rerun" / "regress.md").read_text().startswith("regression PASSED")

    # the planted regression: NAL-R prescribes 3 dB more gain everywhere (in-process engine, so the patch applies)
    real = compensation.nalr_strategy.nalr_gains
    monkeypatch.setattr(compensation.nalr_strategy, "nalr_gains",
                        lambda *a, **k: {f: g + 3.0 for f, g in real(*a, **k).items()})  # fmt: skip
    capsys.readouterr()
    assert main(["regress", str(spec_file), "--baseline", str(baseline)]) == 1
    out = capsys.readouterr().out
    assert "regression FAILED" in out
    failed = {tuple(c.strip() for c in line.split("|")[2:5]) for line in out.splitlines() if line.startswith("| FAIL")}
    assert ("prescription", "theta0", "nalr") in failed
    assert all(strategy.startswith("nalr") for _, _, strategy in failed)  # only what depends on NAL-R moved

    other = tiny_spec(model_dir, cohort="n = 2\nseed = 1")
    with pytest.raises(ValueError, match="--update"):
        regress(other, baseline)


def test_committed_baseline_passes_on_the_unchanged_tree(capsys):
    spec = load_spec(REGRESS_SPEC)
    assert baseline_model_matches(REGRESS_BASELINE, spec), (
        f"the committed baseline was made with another model; regenerate it: {REGENERATE}"
    )
    code = main(["regress"])
    out = capsys.readouterr().out
    assert code == 0, f"{out}\nif the change is intended, regenerate the baseline: {REGENERATE}"
    assert "regression PASSED" in out
