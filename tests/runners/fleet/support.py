"""Shared helpers of the fleet tests (no tests here): a tiny fleet spec that runs in seconds and result comparisons.

The tiny checkpoint the specs point at is the ``tiny_model_dir`` fixture (``tests/conftest.py``).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from runners.fleet.spec import spec_from_toml


def tiny_spec_text(model_dir: Path, **sections: str) -> str:
    """TOML of a 3-listener spec on the tiny model with small budgets; ``sections`` replace whole sections."""
    parts = {
        "run": 'name = "tiny"\nseed = 3',
        "model": f'path = "{model_dir}"',
        "cohort": "n = 3\nseed = 0",
        "audiometry": "max_trials = 4\nfreqs_hz = [500.0, 2000.0, 4000.0]",
        "strategies": 'names = ["nalr", "wdrc"]',
        "hitl": 'strategy = "wdrc"\nbudget = 2\noracle_restarts = 1\noracle_steps = 2\ntune = "bands:2"',
        "sounds": 'classes = ["speech"]\nn_per_class = 1\nduration_s = 0.15',
        "evaluation": 'distance = "l1"\nextra_distances = ["l2"]',
        "engine": "workers = 0\nretries = 1",
        "report": "enabled = false",
    }
    parts.update(sections)
    return "\n".join(f"[{name}]\n{body}\n" for name, body in parts.items())


def tiny_spec(model_dir: Path, **sections: str):
    return spec_from_toml(tiny_spec_text(model_dir, **sections))


def job_values(run_dir: Path) -> dict[tuple, float]:
    """All result rows of a run keyed by (job, step, metric, strategy, param, sound, freq, query)."""
    table = pq.read_table(Path(run_dir) / "results.parquet").to_pylist()
    keys = ("job", "step", "metric", "strategy", "param", "sound", "freq_hz", "query")
    out = {}
    for row in table:
        key = tuple(-1.0 if k == "freq_hz" and row[k] != row[k] else row[k] for k in keys)
        assert key not in out, f"duplicate result row {key}"
        out[key] = row["value"]
    return out


def same_values(a: dict[tuple, float], b: dict[tuple, float]) -> bool:
    """Bitwise-equal values (NaN equals NaN) on the same keys."""
    return a.keys() == b.keys() and all((a[k] == b[k]) or (a[k] != a[k] and b[k] != b[k]) for k in a)
