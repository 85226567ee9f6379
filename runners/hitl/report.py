"""Writing fitting sessions out: a JSON record, a Parquet trace table and the convergence plot.

Files are written atomically (temporary file + ``os.replace``), so an interrupted run never leaves a half-written one.
The convergence plot shows the fraction of the oracle improvement reached by the incumbent against the number of queries
(measured against the oracle optimum, :mod:`runners.hitl.oracle`), one line per session, with the 90 % level marked.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from runners.hitl.result import HITLResult
from simulator.atomic_io import atomic_savefig, atomic_write_table, atomic_write_text


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    """Write ``data`` as JSON (NaN/inf as null) atomically; returns the path."""
    path = Path(path)
    text = json.dumps(_jsonable(data), indent=2)
    atomic_write_text(path, text + "\n")
    return path


def trace_table(results: Sequence[HITLResult], labels: Sequence[dict[str, Any]] | None = None):
    """One row per (session, query count) as a ``pyarrow.Table``; ``labels[i]`` adds columns to session i's rows."""
    import pyarrow as pa

    rows: list[dict[str, Any]] = []
    for i, res in enumerate(results):
        extra = dict(labels[i]) if labels is not None else {}
        for row in res.trace:
            rows.append(
                {
                    **extra,
                    "mode": res.mode,
                    "query": int(row["query"]),
                    "objective_of_incumbent": float(row["objective_of_incumbent"]),
                    "fraction_of_oracle": float(row["fraction_of_oracle"]),
                    "quality_of_incumbent": float(row["quality_of_incumbent"]),
                    "feedback": None if row.get("feedback") is None else float(row["feedback"]),
                    "seconds": float(row.get("seconds", 0.0)),
                    "x_incumbent": json.dumps(row["x_incumbent"]),
                    "x_query": json.dumps(row.get("x_query", [])),
                }
            )
    return pa.Table.from_pylist(rows)


def write_trace_parquet(
    path: str | os.PathLike, results: Sequence[HITLResult], labels: Sequence[dict[str, Any]] | None = None
) -> Path:
    """Write :func:`trace_table` to Parquet atomically; returns the path."""
    return atomic_write_table(path, trace_table(results, labels))


def plot_convergence(
    path: str | os.PathLike,
    results: Sequence[HITLResult],
    labels: Sequence[str] | None = None,
    title: str = "HITL fitting: fraction of the oracle improvement",
    level: float = 0.9,
) -> Path:
    """Fraction of the oracle improvement vs queries, one line per session (median per mode when several)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    colours = {"pairwise": "tab:blue", "rating": "tab:orange"}
    by_mode: dict[str, list[np.ndarray]] = {}
    for i, res in enumerate(results):
        q = np.array([r["query"] for r in res.trace])
        f = res.fractions()
        by_mode.setdefault(res.mode, []).append(f)
        many = len(results) > 2
        label = None if many else (labels[i] if labels is not None else res.mode)
        ax.plot(q, f, color=colours.get(res.mode, "grey"), alpha=0.3 if many else 0.9, lw=1.0, label=label)
    if len(results) > 2:
        for mode, curves in by_mode.items():
            n = min(len(c) for c in curves)
            med = np.nanmedian(np.stack([c[:n] for c in curves]), axis=0)
            ax.plot(np.arange(n), med, color=colours.get(mode, "k"), lw=2.5, label=f"{mode} (median of {len(curves)})")
    ax.axhline(level, color="k", ls="--", lw=0.8, label=f"{level:.0%} of oracle")
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set_xlabel("queries (comparisons or ratings)")
    ax.set_ylabel("fraction of oracle improvement")
    ax.set_ylim(-0.5, 1.2)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)
    return path
