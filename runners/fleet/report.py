"""The Markdown report of a fleet run, rebuilt at any time from its run directory (``hearloop report RUN_DIR``).

The report reads only the run directory (manifest and Parquet results) plus, for the neurogram example, the model the
manifest names. It states what was run (spec digest, model hash, git revision, package versions, engines), how many jobs
finished and which failed (with their errors), and summarises each pipeline step:

* audiometry: the audiogram error of the method that ran (GP-PTA or Hughson-Westlake) against the neurometric truth
  (mean absolute error over frequencies, dB), with the sessions that stopped at their trial cap flagged;
* evaluation (:mod:`runners.fleet.report_comparison`): the hearing-impaired listeners' fidelity restored
  1 - D(aided) / D(unaided) per strategy as heard, at matched loudness and over the volume-control baseline; the NH
  listeners' benefit apart; the comfort limit against the loudest output;
* HITL fitting: fraction of the oracle improvement reached, the queries needed to reach 90 % of it, loudness at the
  start and end, tuning vs evaluation sounds, sessions above the comfort limit and on the edge of the search box.

    path = write_report("runs/fleet/default-cohort-20250101-120000")    # -> <run>/report.md (+ plots/*.png)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from compensation.comparison import VOLUME_CONTROL
from runners.fleet import plots
from runners.fleet.report_comparison import comparison_sections, hitl_honesty
from runners.fleet.rundir import RunDir
from simulator.atomic_io import atomic_write_text

REPORT_FILE = "report.md"
PLOTS_DIR = "plots"


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _table(header: list[str], body: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return lines


def _per_listener(table: Any, step: str, metric: str) -> dict[str, float]:
    return {r["listener"]: r["value"] for r in plots.rows(table, step, metric)}


def _header(run: RunDir, manifest: dict[str, Any]) -> list[str]:
    spec, model, git = manifest["spec"], manifest.get("model", {}), manifest.get("git", {})
    versions = manifest.get("versions", {})
    rev = git.get("revision") or "unknown"
    rev += " (uncommitted changes)" if git.get("dirty") else ""
    engines = ", ".join(
        f"{inv['engine'].get('kind')} ({inv['status']}, {inv['computed']} computed)" for inv in manifest["invocations"]
    )
    sha = model.get("weights_sha256")
    lines = [
        f"# Fleet run `{spec['run']['name']}`",
        "",
        f"- run directory: `{run.path}`; created {manifest.get('created', '?')}",
        f"- spec digest: `{manifest.get('spec_digest', '?')[:16]}`; master seed {spec['run']['seed']}, cohort seed "
        f"{spec['cohort']['seed']}, sound seed {spec['sounds']['seed']}",
        f"- model: `{model.get('path', '?')}` (weights sha256 `{(sha or '?')[:16]}`)",
        f"- git revision: `{rev}`",
        f"- engines: {engines or 'none yet'}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v),
        f"- pipeline: {' -> '.join(spec['pipeline']['steps'])}; strategies {', '.join(spec['strategies']['names'])}",
    ]
    return lines


def _status(run: RunDir, manifest: dict[str, Any]) -> list[str]:
    jobs = [j["id"] for j in manifest["jobs"]]
    finished = run.finished(jobs)
    failures = run.failures()
    lines = ["", "## Jobs", "", f"{len(finished)} of {len(jobs)} jobs finished, {len(failures)} failed after retries."]
    if not manifest["invocations"] or manifest["invocations"][-1]["status"] != "finished":
        lines.append("The last invocation did not finish: resume the run with `hearloop fleet --resume RUN_DIR`.")
    if failures:
        body = [[f["job"], f["listener"], f["attempts"], f["errors"][-1]] for f in failures]
        lines += ["", *_table(["job", "listener", "attempts", "last error"], body)]
    missing = sorted(set(jobs) - finished - {f["job"] for f in failures})
    if missing:
        lines.append(f"Not run yet: {', '.join(missing)}.")
    return lines


def _audiometry(table: Any, spec: dict[str, Any]) -> list[str]:
    mae = _per_listener(table, "audiometry", "audiogram_mae_db")
    if not mae:
        return []
    method = plots.METHOD_NAMES.get(spec["audiometry"]["method"], spec["audiometry"]["method"])
    cap = spec["audiometry"]["max_trials"]
    pta = _per_listener(table, "audiometry", "pta_true_db_hl")
    trials = _per_listener(table, "audiometry", "n_trials")
    capped = {name for name, v in _per_listener(table, "audiometry", "stopped_by_trial_cap").items() if v > 0}
    strata = {r["listener"]: r["stratum"] for r in table.select(["listener", "stratum"]).to_pylist()}
    body = [[name, strata[name], _fmt(pta.get(name, math.nan), 1), _fmt(mae[name], 2),
             f"{int(trials.get(name, 0))}{' (cap: not finished)' if name in capped else ''}"]
            for name in mae]  # fmt: skip
    values = np.array(list(mae.values()))
    lines = [
        "", f"## Audiometry ({method} vs neurometric truth)", "",
        f"Median audiogram error {np.median(values):.2f} dB (mean {values.mean():.2f} dB) over {len(values)} "
        f"listeners, measured by {method} with at most {cap} trials; error = mean absolute difference of the estimate "
        "and the true neurometric threshold.", "",
    ]  # fmt: skip
    if capped:
        rule = ("its posterior SD was still above the target SD" if spec["audiometry"]["method"] == "gppta" else
                "not every frequency has a threshold: the others are interpolated from the finished ones")  # fmt: skip
        lines += [f"**{len(capped)} of {len(mae)} sessions stopped at the trial cap ({cap}) before the procedure "
                  f"finished** ({rule}): their audiograms are less certain than a finished session's.", ""]  # fmt: skip
    return lines + _table(["listener", "stratum", "true PTA (dB HL)", "audiogram MAE (dB)", "trials"], body)


def _hitl(table: Any, spec: dict[str, Any]) -> list[str]:
    reached = _per_listener(table, "hitl", "fraction_of_oracle_reached")
    if not reached:
        return []
    q90 = np.array(list(_per_listener(table, "hitl", "queries_to_90").values()), dtype=float)
    start = _per_listener(table, "hitl", "objective_start")
    best = _per_listener(table, "hitl", "objective_best")
    oracle = _per_listener(table, "hitl", "oracle_objective")
    h = spec["hitl"]
    n_reached = int(np.isfinite(q90).sum())
    median_q = float(np.median(np.where(np.isfinite(q90), q90, np.inf))) if q90.size else math.nan
    median_txt = f"{median_q:.0f}" if math.isfinite(median_q) else f"not reached within {h['budget']}"
    l0, l1 = _per_listener(table, "hitl", "loudness_phon_start"), _per_listener(table, "hitl", "loudness_phon")
    body = [[name, _fmt(start[name], 4), _fmt(best[name], 4), _fmt(oracle[name], 4), _fmt(reached[name], 2),
             f"{_fmt(l0.get(name, math.nan), 1)} -> {_fmt(l1.get(name, math.nan), 1)}"]
            for name in reached]  # fmt: skip
    return [
        "", f"## HITL fitting ({h['mode']}, {h['strategy']}, budget {h['budget']})", "",
        f"{n_reached} of {len(q90)} listeners reached 90 % of the oracle improvement within the budget; median "
        f"queries to 90 %: {median_txt} (listeners that never reached it count as infinite). Median final fraction of "
        f"the oracle improvement: {np.median(list(reached.values())):.2f}.", "",
        *_table(["listener", "D start", "D best", "D oracle", "fraction of oracle", "loudness (phon)"], body),
        *hitl_honesty(table),
    ]  # fmt: skip


def neurogram_panels(manifest: dict[str, Any], table: Any) -> tuple[list[tuple[str, np.ndarray]], float, str]:
    """Expected spike counts of the first job's listener for the first sound: NH reference / clean, listener /
    unaided, listener / aided with the best strategy of that listener (by fidelity restored)."""
    from listeners import VirtualListener, nh_reference
    from runners.fleet.jobs import Job, load_spec_model
    from runners.fleet.pipeline import make_sounds
    from runners.fleet.spec import parse_spec
    from simulator.constants import BIN_RATE
    from simulator.model.spikes import expected_counts

    spec = parse_spec(manifest["spec"])
    job = Job.from_dict(manifest["jobs"][0])
    model = load_spec_model(spec, device="cpu")
    sounds, names = make_sounds(spec)
    clean = sounds[:1]
    ref = nh_reference(model)
    lis = VirtualListener(job.listener.id, np.asarray(job.listener.nu), model, hours=job.listener.hours, reference=ref)
    mine = [r for r in plots.rows(table, "evaluation", "fidelity_restored_mean")
            if r["listener"] == lis.id and r["strategy"] != VOLUME_CONTROL]  # fmt: skip
    panels = [("NH reference, clean", ref.response(clean)), (f"{lis.id}, unaided", lis.response(clean))]
    title = f"{lis.id}, sound {names[0]}"
    if mine:
        best = max(mine, key=lambda r: r["value"])
        aided = _aided(model, table, lis.id, best["strategy"], clean)
        panels.append((f"{lis.id}, {best['strategy']} (FR {best['value']:.2f})", lis.response(aided)))
    return [(t, expected_counts(p)[0].cpu().numpy()) for t, p in panels], float(BIN_RATE), title


def _aided(model: Any, table: Any, listener: str, name: str, clean: Any) -> Any:
    """The aided sound of ``listener`` with strategy ``name`` (``<s>+hitl`` uses the session's theta_best)."""
    import torch

    from compensation import get_strategy

    base = name.removesuffix("+hitl")
    strategy = get_strategy(base)
    if strategy.n_params == 0:
        return strategy(clean)
    step, metric = ("hitl", "theta_best") if name.endswith("+hitl") else ("prescription", "theta0")
    rows = [r for r in plots.rows(table, step, metric) if r["listener"] == listener and r["strategy"] == base]
    by_name = {r["param"]: r["value"] for r in rows}
    theta = torch.tensor([by_name[p] for p in strategy.param_names], dtype=torch.float32)
    trims = [r["value"] for r in plots.rows(table, "hitl", "output_gain_db") if r["listener"] == listener]
    trim = trims[0] if name.endswith("+hitl") and trims else 0.0
    with torch.no_grad():
        return _as_heard(table, listener, strategy(clean, theta) * 10.0 ** (trim / 20.0))


def _as_heard(table: Any, listener: str, aided: Any) -> Any:
    """``aided`` through the listener's comfort-aware output limit (its true audiogram from the table), as the
    evaluation scored it; unchanged when the run has no true thresholds."""
    from compensation import ListenerComfort

    truth = {r["freq_hz"]: r["value"] for r in plots.rows(table, "audiometry", "threshold_true_db_hl")
             if r["listener"] == listener}  # fmt: skip
    return ListenerComfort.from_audiogram(truth).limit(aided) if truth else aided


def write_report(run_dir: str | Path, *, neurogram: bool | None = None) -> Path:
    """Write ``<run>/report.md`` and ``<run>/plots/*.png`` from the run directory; returns the report path.

    Args:
        run_dir: a fleet run directory (finished, interrupted or partly failed).
        neurogram: include the neurogram example (recomputed with the run's model; default: the spec's
            ``report.neurogram``).
    """
    run = RunDir.open(run_dir)
    manifest = run.manifest()
    spec = manifest["spec"]
    lines = _header(run, manifest) + _status(run, manifest)
    job_ids = [j["id"] for j in manifest["jobs"]]
    if run.finished(job_ids):
        run.combine(job_ids)  # an interrupted run has no results.parquet yet: report what has finished
    results = run.path / "results.parquet"
    if results.is_file():
        table = run.results()
        plot_dir = run.path / PLOTS_DIR
        plot_dir.mkdir(exist_ok=True)
        figures = [
            (
                "Audiogram estimates vs truth",
                plots.plot_audiograms(table, plot_dir / "audiograms.png", method=spec["audiometry"]["method"]),
            ),
            ("Fidelity restored per strategy", plots.plot_fidelity(table, plot_dir / "fidelity_restored.png")),
            ("HITL convergence", plots.plot_hitl(table, plot_dir / "hitl_convergence.png")),
        ]
        if spec["report"]["neurogram"] if neurogram is None else neurogram:
            panels, bin_rate, title = neurogram_panels(manifest, table)
            figures.append((f"Neurogram example ({title})", plots.plot_neurogram(panels, plot_dir / "neurogram.png",
                                                                                 bin_rate)))  # fmt: skip
        lines += _audiometry(table, spec) + comparison_sections(table) + _hitl(table, spec)
        lines += ["", "## Figures"]
        for caption, path in figures:
            if path is not None:
                lines += ["", f"### {caption}", "", f"![{caption}]({PLOTS_DIR}/{Path(path).name})"]
        lines += ["", f"Results table: `results.parquet` ({table.num_rows} rows; one value per row, columns "
                  f"{', '.join(table.column_names)})."]  # fmt: skip
    lines += ["", "Rebuild this report with `hearloop report RUN_DIR`.", ""]
    path = run.path / REPORT_FILE
    atomic_write_text(path, "\n".join(lines))
    return path
