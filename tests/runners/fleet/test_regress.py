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


def _step_table(rows: list[tuple[str, str, str, float]]) -> pa.Table:
    """A result table with rows (step, metric, strategy, value) of one listener."""
    base = {"job": "0000-L000", "listener": "L000", "stratum": "NH", "param": "", "sound": "", "freq_hz": math.nan,
            "query": -1}  # fmt: skip
    return pa.Table.from_pylist(
        [{**base, "step": st, "metric": m, "strategy": s, "value": v} for st, m, s, v in rows]
    ).select(COLUMNS)


def test_the_diff_puts_the_cause_first_and_names_nan_changes():
    base = _step_table([("evaluation", "fidelity_restored_mean", "nalr", 0.5), ("hitl", "queries_to_90", "wdrc", 3.0),
                        ("prescription", "theta0", "nalr", 1.0), ("audiometry", "n_trials", "", 12.0),
                        ("hitl", "oracle_objective", "wdrc", math.inf)])  # fmt: skip
    new = _step_table([("evaluation", "fidelity_restored_mean", "nalr", 0.2),
                       ("hitl", "queries_to_90", "wdrc", math.nan), ("prescription", "theta0", "nalr", 2.0),
                       ("audiometry", "n_trials", "", 12.0),
                       ("hitl", "oracle_objective", "wdrc", math.inf)])  # fmt: skip
    result = compare(base, new)
    lines = result.table().splitlines()[2:]
    steps = [line.split("|")[2].strip() for line in lines]
    status = [line.split("|")[1].strip() for line in lines]
    assert status == ["FAIL", "FAIL", "FAIL", "ok", "ok"]
    assert steps == ["prescription", "hitl", "evaluation", "audiometry", "hitl"]  # failures in pipeline order
    nan_line = next(line for line in lines if "queries_to_90" in line)
    assert "1 NaN change" in nan_line and "3 -> nan" in nan_line and "inf" not in nan_line
    assert "| ok | hitl | oracle_objective |" in result.table()  # inf -> inf is no change
    assert "earliest failing step: prescription (theta0 of nalr" in result.summary()
    nan_row = next(r for r in result.rows if r["metric"] == "queries_to_90")
    assert math.isnan(nan_row["abs_diff"]) and not nan_row["ok"]


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
    monkeypatch.chdir(tmp_path)  # without --out the rerun is kept in runs/regress/<name>-<time>
    assert main(["regress", str(spec_file), "--baseline", str(baseline)]) == 1
    out = capsys.readouterr().out
    assert "regression FAILED" in out
    (kept,) = (tmp_path / "runs" / "regress").iterdir()
    assert kept.name.startswith("tiny-") and (kept / "regress.md").read_text().startswith("regression FAILED")
    assert (kept / "regress_diff.parquet").is_file() and (kept / "results.parquet").is_file()
    failed = {tuple(c.strip() for c in line.split("|")[2:5]) for line in out.splitlines() if line.startswith("| FAIL")}
    assert ("prescription", "theta0", "nalr") in failed
    assert all(strategy.startswith("nalr") for _, _, strategy in failed)  # only what depends on NAL-R moved

    other = tiny_spec(model_dir, cohort="n = 2\nseed = 1")
    with pytest.raises(ValueError, match="--update"):
        regress(other, baseline)


def test_committed_baseline_passes_on_the_unchanged_tree(capsys, tmp_path):
    spec = load_spec(REGRESS_SPEC)
    assert baseline_model_matches(REGRESS_BASELINE, spec), (
        f"the committed baseline was made with another model; regenerate it: {REGENERATE}"
    )
    code = main(["regress", "--out", str(tmp_path / "rerun")])
    out = capsys.readouterr().out
    assert code == 0, f"{out}\nif the change is intended, regenerate the baseline: {REGENERATE}"
    assert "regression PASSED" in out
