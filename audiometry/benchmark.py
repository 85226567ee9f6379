"""Accuracy-versus-trials benchmark of GP-PTA ([CoxDeVries2015]_, Sec. 6) against the modified Hughson-Westlake
procedure.

Simulated listeners answer with the probit model around known true curves (every Bisgaard 2010 audiogram, optionally
plus random audiograms), sigma = 5 dB and a 2% lapse rate, over many seeds. Definitions (also written into the report):

- Accuracy: MAE and RMSE of the estimate against the true thresholds at 250, 500, 1k, 2k, 3k, 4k, 6k, 8k Hz after k
  trials (k = 0 is the prior / the procedure's starting guess). After a procedure finishes, its final audiogram stands.
- Trials to MAE <= 5 dB, per session: "sustained" = the first k after which the MAE stays <= 5 dB up to the end of the
  session (the headline); "first" = the first k with MAE <= 5 dB. Sessions that never get there count as infinite.
- HW trials: presentations Hughson-Westlake needs to finish all frequencies of its order.
- Latency: wall (and CPU) time of update(k) + next_stimulus(k+1) at trial k = 100, median and p95 over sessions, also
  pooled over trials 91-100. The load average of the machine is recorded next to it.
- Calibration: fraction of (session, frequency) pairs whose true threshold lies inside GP-PTA's 95% band at the end of
  the session (trial budget), and the coverage of central intervals at other nominal levels.

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.special import ndtri

from audiometry.gppta import GPPTA
from audiometry.hughson_westlake import HughsonWestlake
from audiometry.responders import ProbitResponder, bisgaard_curve, bisgaard_names, random_audiogram_curve
from audiometry.session import run_session
from audiometry.warp import STANDARD_FREQS_HZ
from simulator.atomic_io import atomic_write_text

NOMINAL = (0.5, 0.68, 0.8, 0.9, 0.95, 0.99)
CHECKPOINTS = (0, 5, 10, 15, 20, 30, 40, 50, 75, 100, 150)


@dataclass
class BenchmarkConfig:
    """What to run. ``quick()`` is the README main-job preset (< ~2 min on 2 cores)."""

    audiograms: tuple[str, ...] = field(default_factory=lambda: tuple(bisgaard_names()))
    seeds: int = 20
    trials: int = 100
    random_listeners: int = 0
    sigma: float = 5.0
    lapse: float = 0.02
    false_alarm: float = 0.0
    mae_target: float = 5.0
    hw_max_trials: int = 400
    latency_trial: int = 100

    @classmethod
    def quick(cls) -> BenchmarkConfig:
        return cls(seeds=2, trials=100)


@dataclass
class SessionRecord:
    group: str
    listener: str
    method: str
    seed: int
    n_trials: int
    mae: np.ndarray  # (n + 1,)
    rmse: np.ndarray
    z_end: np.ndarray  # (F,) (estimate - truth) / sd at the end
    latency_s: np.ndarray
    cpu_s: np.ndarray


def trials_to_target(mae: np.ndarray, target: float) -> tuple[float, float]:
    """(sustained, first) trial counts at which MAE <= target (module docstring); inf when never."""
    ok = mae <= target
    first = float(np.argmax(ok)) if ok.any() else np.inf
    if not ok[-1]:
        return np.inf, first
    bad = np.flatnonzero(~ok)
    return float(bad[-1] + 1 if bad.size else 0), first


def _listeners(config: BenchmarkConfig) -> list[tuple[str, str, object]]:
    out: list[tuple[str, str, object]] = [("bisgaard", n, bisgaard_curve(n)) for n in config.audiograms]
    rng = np.random.default_rng(12345)
    for i in range(config.random_listeners):
        curve = random_audiogram_curve(rng)
        out.append(("random", f"R{i:03d}-{curve.__name__.removeprefix('random_')}", curve))
    return out


def _run_one(method: str, curve, seed: int, config: BenchmarkConfig, freqs: np.ndarray) -> tuple:
    responder = ProbitResponder(curve, sigma=config.sigma, lapse=config.lapse, false_alarm=config.false_alarm)
    if method == "gppta":
        # budget + 1 so that the agent is not "done" at the budget: the last trial's latency includes next_stimulus
        agent = GPPTA(seed=seed, sigma=config.sigma, max_trials=config.trials + 1, target_sd=None)
        cap = config.trials
    else:
        agent, cap = HughsonWestlake(seed=seed, max_trials=config.hw_max_trials), None
    res = run_session(
        agent, responder, rng=np.random.default_rng([seed, 7919]), eval_freqs_hz=tuple(freqs), max_trials=cap
    )
    truth = responder.thresholds(freqs)
    err = res.means - truth[None, :]
    return res, np.abs(err).mean(axis=1), np.sqrt((err**2).mean(axis=1)), err[-1] / res.sds[-1]


def _pad(x: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate([x, np.full(n - len(x), x[-1])]) if len(x) < n else x[:n]


def _stats(x: np.ndarray) -> dict[str, float]:
    finite = x[np.isfinite(x)]
    return {
        "median": float(np.median(x)),
        "mean_finite": float(finite.mean()) if finite.size else float("nan"),
        "p90": float(np.percentile(x, 90)),
        "never_fraction": float(np.mean(~np.isfinite(x))),
    }


def summarise(records: list[SessionRecord], config: BenchmarkConfig) -> dict:
    """All aggregate numbers of the benchmark (JSON-ready)."""
    out: dict = {"groups": {}}
    for group in sorted({r.group for r in records}):
        g: dict = {}
        for method in ("gppta", "hughson-westlake"):
            rs = [r for r in records if r.group == group and r.method == method]
            if not rs:
                continue
            length = max(len(r.mae) for r in rs)
            mae = np.stack([_pad(r.mae, length) for r in rs])
            rmse = np.stack([_pad(r.rmse, length) for r in rs])
            tt = np.array([trials_to_target(r.mae, config.mae_target) for r in rs])
            m: dict = {
                "sessions": len(rs),
                "trials_to_mae_sustained": _stats(tt[:, 0]),
                "trials_to_mae_first": _stats(tt[:, 1]),
                "checkpoints": {
                    str(k): {
                        "mae_median": float(np.median(mae[:, k])),
                        "mae_mean": float(mae[:, k].mean()),
                        "rmse_mean": float(rmse[:, k].mean()),
                    }
                    for k in CHECKPOINTS
                    if k < length
                },
                "final_mae_mean": float(np.mean([r.mae[-1] for r in rs])),
                "final_rmse_mean": float(np.mean([r.rmse[-1] for r in rs])),
                "curve": {
                    "median": np.median(mae, 0).tolist(),
                    "mean": mae.mean(0).tolist(),
                    "q25": np.percentile(mae, 25, 0).tolist(),
                    "q75": np.percentile(mae, 75, 0).tolist(),
                    "rmse_mean": rmse.mean(0).tolist(),
                },
            }
            if method == "hughson-westlake":
                n = np.array([r.n_trials for r in rs])
                m["trials_to_finish"] = {
                    "median": float(np.median(n)),
                    "q25": float(np.percentile(n, 25)),
                    "q75": float(np.percentile(n, 75)),
                    "min": int(n.min()),
                    "max": int(n.max()),
                }
            else:
                z = np.concatenate([r.z_end for r in rs])
                m["calibration"] = {
                    "nominal": list(NOMINAL),
                    "empirical": [float(np.mean(np.abs(z) <= ndtri(0.5 + p / 2))) for p in NOMINAL],
                    "coverage95": float(np.mean(np.abs(z) <= ndtri(0.975))),
                    "z_mean": float(z.mean()),
                    "z_sd": float(z.std()),
                }
                k = config.latency_trial
                at = np.array([r.latency_s[k - 1] for r in rs if len(r.latency_s) >= k])
                cpu_at = np.array([r.cpu_s[k - 1] for r in rs if len(r.cpu_s) >= k])
                win = np.concatenate([r.latency_s[max(0, k - 10) : k] for r in rs])
                if at.size:
                    m["latency_ms"] = {
                        "trial": k,
                        "median": float(np.median(at) * 1e3),
                        "p95": float(np.percentile(at, 95) * 1e3),
                        "cpu_median": float(np.median(cpu_at) * 1e3),
                        "window_91_100_median": float(np.median(win) * 1e3),
                        "window_91_100_p95": float(np.percentile(win, 95) * 1e3),
                        "samples": int(at.size),
                    }
            g[method] = m
        out["groups"][group] = g
    return out


def _report_md(summary: dict, config: BenchmarkConfig) -> str:
    lines = [
        "# Audiometry benchmark: GP-PTA vs modified Hughson-Westlake",
        "",
        f"Listeners: {len(config.audiograms)} Bisgaard audiograms + {config.random_listeners} random, "
        f"{config.seeds} seeds each; sigma = {config.sigma} dB, lapse = {config.lapse:.0%}, false alarms = "
        f"{config.false_alarm:.0%}. GP-PTA budget {config.trials} trials. MAE/RMSE over 250-8000 Hz (8 frequencies).",
        f"Machine: {summary['machine']['cpus']} CPUs, load average {summary['machine']['loadavg_start']} at start, "
        f"{summary['machine']['loadavg_end']} at end; wall time {summary['machine']['wall_s']:.0f} s.",
        "",
        "Trials to MAE <= 5 dB: 'sustained' = first trial count after which the MAE stays <= 5 dB to the end of the "
        "session; 'first' = first trial count with MAE <= 5 dB. 'never' = fraction of sessions not reaching it.",
        "",
    ]
    for group, g in summary["groups"].items():
        lines += [f"## {group}", "", "| metric | GP-PTA | Hughson-Westlake |", "|---|---|---|"]
        gp, hw = g.get("gppta", {}), g.get("hughson-westlake", {})

        def cell(d: dict, *keys: str, fmt: str = "{:.1f}") -> str:
            for k in keys:
                if not isinstance(d, dict) or k not in d:
                    return "-"
                d = d[k]
            return fmt.format(d)

        rows = [
            ("median trials to MAE <= 5 dB (sustained)", ("trials_to_mae_sustained", "median")),
            ("median trials to MAE <= 5 dB (first)", ("trials_to_mae_first", "median")),
            ("p90 trials to MAE <= 5 dB (sustained)", ("trials_to_mae_sustained", "p90")),
            ("sessions never reaching MAE <= 5 dB", ("trials_to_mae_sustained", "never_fraction")),
            ("final MAE, mean (dB)", ("final_mae_mean",)),
            ("final RMSE, mean (dB)", ("final_rmse_mean",)),
        ]
        for label, keys in rows:
            lines.append(f"| {label} | {cell(gp, *keys, fmt='{:.2f}')} | {cell(hw, *keys, fmt='{:.2f}')} |")
        lines.append(f"| trials to finish (median) | - | {cell(hw, 'trials_to_finish', 'median')} |")
        if "calibration" in gp:
            lines.append(f"| 95% band coverage at the end | {gp['calibration']['coverage95']:.1%} | - |")
        if "latency_ms" in gp:
            lat = gp["latency_ms"]
            lines.append(
                f"| update + next_stimulus at trial {lat['trial']}: median / p95 (ms) | "
                f"{lat['median']:.1f} / {lat['p95']:.1f} (CPU median {lat['cpu_median']:.1f}) | - |"
            )
        lines += [
            "",
            "| trials | GP-PTA MAE median | GP-PTA RMSE mean | HW MAE median | HW RMSE mean |",
            "|---|---|---|---|---|",
        ]
        for k in CHECKPOINTS:
            if str(k) in gp.get("checkpoints", {}):
                a, b = gp["checkpoints"][str(k)], hw.get("checkpoints", {}).get(str(k), {})
                hw_med = f"{b['mae_median']:.2f}" if b else "-"
                hw_rmse = f"{b['rmse_mean']:.2f}" if b else "-"
                lines.append(f"| {k} | {a['mae_median']:.2f} | {a['rmse_mean']:.2f} | {hw_med} | {hw_rmse} |")
        if "calibration" in gp:
            cal = gp["calibration"]
            lines += ["", "Calibration (GP-PTA, end): nominal -> empirical coverage: "]
            lines.append(
                ", ".join(f"{a:.0%} -> {b:.1%}" for a, b in zip(cal["nominal"], cal["empirical"], strict=True))
            )
        lines.append("")
    return "\n".join(lines)


def _csv_text(rows: list[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


def _sessions_csv(records: list, config: BenchmarkConfig) -> str:
    """One row per session: trials to the MAE target, final errors, band coverage, latency."""
    header = ["group", "listener", "method", "seed", "n_trials", "trials_to_mae5_sustained"]
    header += ["trials_to_mae5_first", "final_mae", "final_rmse", "coverage95_end", "latency_ms_last"]
    rows = [header]
    for r in records:
        sus, first = trials_to_target(r.mae, config.mae_target)
        cov = float(np.mean(np.abs(r.z_end) <= 1.959963984540054))
        last = f"{r.latency_s[-1] * 1e3:.2f}" if len(r.latency_s) else ""
        row = [r.group, r.listener, r.method, r.seed, r.n_trials, sus, first]
        rows.append([*row, f"{r.mae[-1]:.3f}", f"{r.rmse[-1]:.3f}", f"{cov:.3f}", last])
    return _csv_text(rows)


def _curves_csv(summary: dict) -> str:
    """One row per (group, method, trial count): the MAE curve's median, mean, quartiles and the mean RMSE."""
    rows = [["group", "method", "trials", "mae_median", "mae_mean", "mae_q25", "mae_q75", "rmse_mean"]]
    for group, g in summary["groups"].items():
        for method, m in g.items():
            c = m["curve"]
            for k in range(len(c["median"])):
                rows.append(
                    [group, method, k] + [f"{c[key][k]:.3f}" for key in ("median", "mean", "q25", "q75", "rmse_mean")]
                )
    return _csv_text(rows)


def run_benchmark(config: BenchmarkConfig, out_dir: str | Path, progress: bool = True) -> dict:
    """Run the benchmark and write report.md, summary.json, sessions.csv, curves.csv and bench.png into ``out_dir``."""
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    freqs = np.array(STANDARD_FREQS_HZ)
    jobs = [
        (g, n, c, s, m)
        for g, n, c in _listeners(config)
        for s in range(config.seeds)
        for m in ("gppta", "hughson-westlake")
    ]
    load0, t0 = os.getloadavg(), time.perf_counter()
    records: list[SessionRecord] = []
    for group, name, curve, seed, method in tqdm(jobs, desc="audiometry sessions", disable=not progress):
        res, mae, rmse, z_end = _run_one(method, curve, seed, config, freqs)
        records.append(
            SessionRecord(group, name, method, seed, len(res.trials), mae, rmse, z_end, res.latency_s, res.cpu_s)
        )
    summary = summarise(records, config)
    summary["config"] = asdict(config)
    summary["machine"] = {
        "cpus": os.cpu_count(),
        "loadavg_start": [round(v, 2) for v in load0],
        "loadavg_end": [round(v, 2) for v in os.getloadavg()],
        "wall_s": time.perf_counter() - t0,
    }
    atomic_write_text(out / "sessions.csv", _sessions_csv(records, config))
    atomic_write_text(out / "curves.csv", _curves_csv(summary))
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    atomic_write_text(out / "report.md", _report_md(summary, config))
    from audiometry.plotting import plot_benchmark

    main = summary["groups"]["bisgaard"] if "bisgaard" in summary["groups"] else next(iter(summary["groups"].values()))
    curves = {
        meth: {
            "trials": np.arange(len(m["curve"]["median"])),
            **{k: np.array(m["curve"][k]) for k in ("median", "q25", "q75")},
        }
        for meth, m in main.items()
    }
    cal = main["gppta"]["calibration"]
    plot_benchmark(
        curves, {"nominal": np.array(cal["nominal"]), "empirical": np.array(cal["empirical"])}, out / "bench.png"
    )
    return summary
