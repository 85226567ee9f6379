"""Regression runs: rerun a fixed, seeded fleet spec and compare it metric by metric with a stored baseline.

Every job of a fleet run is deterministic (seeds derive from the spec, torch runs with a fixed thread count), so on an
unchanged tree the rerun reproduces the baseline's numbers. A change in any layer (simulator, listeners, audiometry,
compensation, HITL) that moves a result beyond its tolerance fails the comparison.

Each result row is matched to the baseline's by its key (listener, step, metric, strategy, param, sound, freq_hz,
query) and passes when ``|new - base| <= abs + rel * |base|``; NaN matches NaN only, and a value that becomes NaN (or
stops being NaN) is reported as such (``3 -> nan``), not as an infinite difference. The diff table lists failures
first, in pipeline order (audiometry, prescription, hitl, evaluation), so the first failing row is the earliest step
that changed and the rows below it are usually its consequences. Tolerances, per metric
(:data:`DEFAULT_TOLERANCES`; ``[regress.tolerances]`` in the spec overrides them, e.g.
``audiogram_mae_db = {abs = 0.5}``):

============================================  =========  ==========  ==================================================
metrics                                       abs        rel         why
============================================  =========  ==========  ==================================================
threshold / audiogram / PTA values (dB)       0.01 dB    0           audiometric resolution is ~1 dB; 0.01 catches any
                                                                     change of a GP-PTA trajectory
``n_trials``, ``queries_to_90``               0          0           counts: exact (so is the flag
                                                                     ``stopped_by_trial_cap``)
``theta0``, ``theta_best`` (physical units)   0.01       1e-4        dB / ratio / ms settings of the aid
distances ``d_*``, ``objective_*``            1e-6       1e-3        neural-fidelity distances (float32 model)
fractions, fidelity restored, benefit         1e-3       0           dimensionless, in [-inf, 1]
loudness levels (phon), gains, comfort (dB)   0.01       0           loudness resolution is ~1 phon
``at_edge``, ``n_at_edge``                    0          0           counts: exact
anything else                                 1e-6       1e-4
============================================  =========  ==========  ==================================================

A row missing from the new run or new in it is a failure too, as is any failed job. :func:`regress` keeps the rerun
in a run directory (default ``runs/regress/<name>-<time>``) with the diff table ``regress.md`` and the row-level diff
``regress_diff.parquet``.

    result = regress(load_spec(REGRESS_SPEC), REGRESS_BASELINE)       # result.passed, result.table(), result.run_dir
    update_baseline(load_spec(REGRESS_SPEC), REGRESS_BASELINE)        # regenerate (after an intended change)
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from runners.fleet.rundir import MANIFEST, RunDir
from runners.fleet.spec import PIPELINE_STEPS, FleetSpec
from simulator.atomic_io import atomic_write_table, atomic_write_text
from simulator.errors import HearloopInputError, HearloopStateError, MissingFileError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
REGRESS_SPEC = ASSETS / "regress-small.toml"
"""The committed regression spec (a small fixed seeded cohort; runs in well under a minute)."""
REGRESS_BASELINE = ASSETS / "regress-baseline"
"""The committed baseline of :data:`REGRESS_SPEC` (manifest.json, results.parquet, failures.json)."""
BASELINE_FILES = (MANIFEST, "results.parquet", "failures.json")
DEFAULT_OUT_DIR = Path("runs/regress")
"""Parent of the rerun's run directory when :func:`regress` is given no ``out``."""
KEY = ("listener", "step", "metric", "strategy", "param", "sound", "freq_hz", "query")

_DB = {"abs": 0.01, "rel": 0.0}
_FRACTION = {"abs": 1e-3, "rel": 0.0}
_DISTANCE = {"abs": 1e-6, "rel": 1e-3}
DEFAULT_TOLERANCE = {"abs": 1e-6, "rel": 1e-4}
DEFAULT_TOLERANCES: dict[str, dict[str, float]] = {
    "threshold_estimate_db_hl": _DB, "threshold_sd_db": _DB, "threshold_true_db_hl": _DB,
    "audiogram_mae_db": _DB, "pta_true_db_hl": _DB,
    "n_trials": {"abs": 0.0, "rel": 0.0}, "queries_to_90": {"abs": 0.0, "rel": 0.0},
    "stopped_by_trial_cap": {"abs": 0.0, "rel": 0.0},
    "theta0": {"abs": 0.01, "rel": 1e-4}, "theta_best": {"abs": 0.01, "rel": 1e-4},
    "d_unaided": _DISTANCE, "d_aided": _DISTANCE, "objective_of_incumbent": _DISTANCE, "objective_start": _DISTANCE,
    "objective_best": _DISTANCE, "oracle_objective": _DISTANCE,
    "fidelity_restored": _FRACTION, "fidelity_restored_mean": _FRACTION, "fidelity_of_incumbent": _FRACTION,
    "fraction_of_oracle": _FRACTION, "fraction_of_oracle_reached": _FRACTION,
    "d_matched": _DISTANCE, "d_scale": _DISTANCE,
    "fidelity_restored_matched": _FRACTION, "fidelity_restored_matched_mean": _FRACTION, "benefit": _FRACTION,
    "benefit_mean": _FRACTION, "benefit_matched": _FRACTION, "benefit_matched_mean": _FRACTION,
    "fr_over_volume_control": _FRACTION, "benefit_over_volume_control": _FRACTION,
    "loudness_phon": _DB, "loudness_phon_mean": _DB, "loudness_phon_start": _DB, "above_comfort_phon": _DB,
    "nh_loudness_phon": _DB, "unaided_loudness_phon": _DB, "comfort_limit_phon": _DB, "ucl_phon": _DB,
    "comfort_gain_db": _DB, "volume_gain_db": _DB, "output_gain_db": _DB, "comfortable_lower_db": _DB,
    "comfortable_upper_db": _DB, "ucl_db": _DB,
    "at_edge": {"abs": 0.0, "rel": 0.0}, "n_at_edge": {"abs": 0.0, "rel": 0.0},
}  # fmt: skip
"""Per-metric tolerances (see the module docstring)."""


def tolerance(metric: str, overrides: dict[str, dict[str, float]] | None = None) -> dict[str, float]:
    """``{"abs": a, "rel": r}`` for ``metric`` (spec overrides win, key by key)."""
    base = re.sub(r"_(l1|l2|kl)$", "", metric)  # extra-distance metrics share their base metric's default
    return {**DEFAULT_TOLERANCE, **DEFAULT_TOLERANCES.get(base, {}), **(overrides or {}).get(metric, {})}


@dataclasses.dataclass
class MetricDiff:
    """Comparison of one metric (and strategy) over all its rows."""

    step: str
    metric: str
    strategy: str
    n: int
    n_failed: int
    max_abs_diff: float
    worst: str
    abs_tol: float
    rel_tol: float
    n_nan_changes: int = 0

    @property
    def passed(self) -> bool:
        return self.n_failed == 0

    @property
    def order(self) -> tuple:
        """Sort key of the diff table: failures first, then pipeline order (cause before consequence)."""
        step = PIPELINE_STEPS.index(self.step) if self.step in PIPELINE_STEPS else len(PIPELINE_STEPS)
        return (self.passed, step, self.metric, self.strategy)

    def diff_text(self) -> str:
        """The largest finite difference, and how many values became or stopped being NaN."""
        text = f"{self.max_abs_diff:.3g}" if self.n_nan_changes < self.n else ""
        nan = f"{self.n_nan_changes} NaN change{'s' if self.n_nan_changes > 1 else ''}" if self.n_nan_changes else ""
        return "; ".join(t for t in (text, nan) if t)


@dataclasses.dataclass
class RegressionResult:
    """Outcome of a regression comparison. ``passed`` decides the exit code of ``hearloop regress``."""

    metrics: list[MetricDiff]
    missing: list[str]
    extra: list[str]
    failed_jobs: list[str]
    baseline_model_sha: str | None = None
    model_sha: str | None = None
    run_dir: Path | None = None
    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(m.passed for m in self.metrics) and not self.missing and not self.extra and not self.failed_jobs

    def table(self) -> str:
        """The diff table (Markdown): one line per metric and strategy, failures first in pipeline order."""
        lines = ["| status | step | metric | strategy | rows | failed | max abs diff | tolerance | worst row |",
                 "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for m in sorted(self.metrics, key=lambda m: m.order):
            tol = f"{m.abs_tol:g} + {m.rel_tol:g} x |base|"
            status, worst = ("ok", "") if m.passed else ("FAIL", m.worst)
            cells = [status, m.step, m.metric, m.strategy or "-", m.n, m.n_failed, m.diff_text(), tol, worst]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        return "\n".join(lines)

    def summary(self) -> str:
        failed = sorted((m for m in self.metrics if not m.passed), key=lambda m: m.order)
        out = [f"regression {'PASSED' if self.passed else 'FAILED'}: {len(self.metrics) - len(failed)} of "
               f"{len(self.metrics)} metrics within tolerance"]  # fmt: skip
        if failed:
            first = failed[0]
            what = f"{first.metric} of {first.strategy}" if first.strategy else first.metric
            out.append(f"earliest failing step: {first.step} ({what}: {first.worst}); the failures after it may follow "
                       "from it")  # fmt: skip
        for name, items in (
            ("missing rows", self.missing),
            ("extra rows", self.extra),
            ("failed jobs", self.failed_jobs),
        ):
            if items:
                out.append(f"{len(items)} {name}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}")
        if self.baseline_model_sha != self.model_sha:
            old, new = str(self.baseline_model_sha)[:12], str(self.model_sha)[:12]
            out.append(f"note: the model differs from the baseline's (weights sha256 {old} -> {new}); regenerate the "
                       "baseline if that change is intended")  # fmt: skip
        return "\n".join(out)


def _key_text(key: tuple) -> str:
    parts = [f"{k}={v}" for k, v in zip(KEY, key, strict=True) if v not in ("", -1) and not _isnan(v)]
    return ",".join(parts)


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _index(table: Any) -> dict[tuple, float]:
    cols = [table[k].to_pylist() for k in (*KEY, "value")]
    out = {}
    for row in zip(*cols, strict=True):
        key = tuple(-1.0 if i == 6 and _isnan(v) else v for i, v in enumerate(row[:-1]))  # NaN freq: hashable
        out[key] = row[-1]
    return out


def compare(baseline: Any, new: Any, overrides: dict[str, dict[str, float]] | None = None) -> RegressionResult:
    """Compare two fleet result tables (``pyarrow.Table``, :data:`runners.fleet.pipeline.COLUMNS`) row by row."""
    base, cur = _index(baseline), _index(new)
    missing = sorted(_key_text(k) for k in base.keys() - cur.keys())
    extra = sorted(_key_text(k) for k in cur.keys() - base.keys())
    groups: dict[tuple[str, str, str], list[tuple[tuple, float, float]]] = {}
    for key in base.keys() & cur.keys():
        groups.setdefault((key[1], key[2], key[3]), []).append((key, base[key], cur[key]))
    metrics, rows = [], []
    for (step, metric, strategy), items in sorted(groups.items()):
        tol = tolerance(metric, overrides)
        n_failed, n_nan, worst_diff, worst = 0, 0, 0.0, ""
        for key, b, c in sorted(items, key=lambda item: str(item[0])):
            if _isnan(b) != _isnan(c):  # a value became NaN or stopped being one: a change with no size
                diff, ok = math.nan, False
                n_nan += 1
            else:
                diff = 0.0 if b == c or _isnan(b) else abs(c - b)  # b == c also for equal infinities
                ok = diff == 0.0 or diff <= tol["abs"] + tol["rel"] * abs(b)
                if diff > worst_diff:
                    worst_diff = diff
            n_failed += not ok
            if not ok and (not worst or (math.isfinite(diff) and diff >= worst_diff)):
                worst = f"{_key_text(key)}: {b:.6g} -> {c:.6g}"
            rows.append({**dict(zip(KEY, key, strict=True)), "baseline": b, "new": c, "abs_diff": diff, "ok": ok})
        metrics.append(MetricDiff(step, metric, strategy, len(items), n_failed, worst_diff, worst, tol["abs"],
                                  tol["rel"], n_nan))  # fmt: skip
    return RegressionResult(metrics, missing, extra, [], rows=rows)


def _check_baseline(spec: FleetSpec, baseline: RunDir) -> dict[str, Any]:
    manifest = baseline.manifest()
    if manifest["spec_digest"] != spec.digest():
        raise HearloopInputError(
            f"the spec differs from the one baseline {baseline.path} was made with (spec digest "
            f"{spec.digest()[:12]} vs {manifest['spec_digest'][:12]}); regenerate it with "
            f"`hearloop regress SPEC --baseline {baseline.path} --update`"
        )
    if not (baseline.path / "results.parquet").is_file():
        raise MissingFileError(f"baseline {baseline.path} has no results.parquet")
    return manifest


def run_spec(spec: FleetSpec, out: str | Path, **run_kwargs: Any) -> RunDir:
    """Run ``spec`` into the new run directory ``out`` (no report unless asked) and return it."""
    from runners.fleet.runner import run_fleet

    run_kwargs.setdefault("report", False)
    run_kwargs.setdefault("progress", False)
    summary = run_fleet(spec, out, **run_kwargs)
    return RunDir(summary.run_dir)


def regress(
    spec: FleetSpec, baseline_dir: str | Path, out: str | Path | None = None, **run_kwargs: Any
) -> RegressionResult:
    """Rerun ``spec`` and compare it with the baseline run in ``baseline_dir``.

    Args:
        spec: the regression spec (must be the spec the baseline was made with: same digest).
        baseline_dir: a baseline directory (:func:`update_baseline`) or any finished run directory of ``spec``.
        out: run directory of the rerun (created; default ``runs/regress/<spec run name>-<time>``). The diff table
            (``regress.md``) and the row-level diff (``regress_diff.parquet``) are written into it.
        run_kwargs: passed to :func:`runners.fleet.runner.run_fleet` (engine, factory, progress, report).
    """
    import pyarrow as pa

    baseline = RunDir.open(baseline_dir)
    manifest = _check_baseline(spec, baseline)
    if out is None:
        out = DEFAULT_OUT_DIR / f"{spec.run.name}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    run = run_spec(spec, Path(out), **run_kwargs)
    result = compare(baseline.results(), run.results(), spec.regress.tolerances)
    result.failed_jobs = [f["job"] for f in run.failures()]
    result.baseline_model_sha = manifest.get("model", {}).get("weights_sha256")
    result.model_sha = run.manifest().get("model", {}).get("weights_sha256")
    result.run_dir = run.path
    atomic_write_text(run.path / "regress.md", f"{result.summary()}\n\n{result.table()}\n")
    if result.rows:
        atomic_write_table(run.path / "regress_diff.parquet", pa.Table.from_pylist(result.rows))
    return result


def update_baseline(spec: FleetSpec, baseline_dir: str | Path, **run_kwargs: Any) -> Path:
    """Regenerate the baseline of ``spec`` in ``baseline_dir`` (replaced atomically; refused if any job failed).

    The baseline keeps only what a comparison needs: ``manifest.json``, ``results.parquet`` and ``failures.json``.
    """
    baseline_dir = Path(baseline_dir).resolve()
    baseline_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=baseline_dir.parent, prefix=f".{baseline_dir.name}.", suffix=".tmp"))
    try:
        run = run_spec(spec, tmp / "run", **run_kwargs)
        failures = run.failures()
        if failures:
            raise HearloopStateError(f"baseline not updated: {len(failures)} jobs failed: {json.dumps(failures)[:500]}")
        new = tmp / "baseline"
        new.mkdir(mode=0o777)  # tmp itself is 0700 (mkdtemp); the baseline gets the umask's permissions
        for name in BASELINE_FILES:
            shutil.copy2(run.path / name, new / name)
        old = tmp / "old"
        if baseline_dir.exists():
            os.rename(baseline_dir, old)
        os.rename(new, baseline_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return baseline_dir


def baseline_model_matches(baseline_dir: str | Path, spec: FleetSpec) -> bool:
    """Whether the baseline was made with the model ``spec`` names (same weights sha256)."""
    from runners.fleet.runner import model_identity

    stored = RunDir.open(baseline_dir).manifest().get("model", {}).get("weights_sha256")
    return stored is not None and stored == model_identity(spec)["weights_sha256"]
