"""``scripts/gpu_bundle.sh --smoke``: the one-run GPU recipe end to end on CPU (cohort, two trainings, throughput)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_smoke_run_writes_every_phase_into_one_folder(tmp_path):
    out = tmp_path / "gpu-bundle"
    env = {**os.environ, "PYTHON": sys.executable, "GPU_BUNDLE_BUDGET_S": "300"}
    proc = subprocess.run(["bash", str(ROOT / "scripts/gpu_bundle.sh"), "--smoke", str(out)], env=env,
                          capture_output=True, text=True, timeout=400)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    phases = {p["phase"]: p for p in summary["phases"]}
    assert list(phases) == ["synth", "train-paper", "train-small", "throughput"]
    assert all(p["rc"] == 0 for p in phases.values()), {k: (p["rc"], (out / "logs" / f"{k}.log").read_text()[-800:])
                                                        for k, p in phases.items() if p["rc"] != 0}  # fmt: skip
    assert summary["mode"] == "smoke" and summary["animals"] == 2 and summary["wall_s"] <= summary["budget_s"]
    assert summary["models"] == [f"train-{p}/{s}/best" for p in ("paper", "small") for s in ("multibranch", "nuicnet6")]
    thr = summary["throughput"]
    assert thr["preset"] == "tiny" and thr["inference_audio_s_per_s"] > 0 and thr["train_audio_s_per_s"] > 0
    assert not list(out.glob("**/*.tmp"))


def test_a_spent_budget_skips_phases_but_still_reports(tmp_path):
    out = tmp_path / "spent"
    env = {**os.environ, "PYTHON": sys.executable, "GPU_BUNDLE_BUDGET_S": "1"}
    proc = subprocess.run(["bash", str(ROOT / "scripts/gpu_bundle.sh"), "--smoke", str(out)], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert [p.get("skipped") for p in summary["phases"]] == [True] * 4
    assert summary["models"] == [] and summary["throughput"] is None
