#!/usr/bin/env bash
# One run on a machine with one GPU and 16 CPU cores, at most 9 minutes wall clock, everything under one folder:
#   1. generate the virtual-IC cohort on the 16 cores (BEZ2018 periphery where `hearloop synth` offers it);
#   2. train the `paper` preset (multibranch encoder + nu-ICNet-6) on the GPU;
#   3. train the `small` preset (the bundle's size) on the GPU;
#   4. record the paper preset's GPU throughput (inference and training steps, scripts/gpu_throughput.py).
#
#   bash scripts/gpu_bundle.sh [--smoke] [OUT_DIR]       (default: $OUT if set, else runs/gpu-bundle)
#
# Every phase runs under `timeout` from one deadline (GPU_BUNDLE_BUDGET_S, default 540 s), keeping a reserve for the
# phases after it, so the run ends within the budget whatever the machine's speed; a phase cut short is recorded
# (rc 124) and the next one still runs (training checkpoints every epoch, so a cut training keeps its best epoch).
# OUT_DIR gets cohort/, train-paper/, train-small/, logs/<phase>.log, phases.jsonl (phase, rc, wall_s, limit_s),
# throughput_paper.json and summary.json.
#
# Cohort sizing (full run). BEZ2018 costs about 4.2 CPU-s per animal-second of sound (README, 2 shared CPU cores), and
# synth parallelises over sounds, so 16 workers give about 16 CPU-s per wall second. 3 NH + 6 HI animals x (80 s of
# training sound + 2 test sounds x 5 classes x 2 s) = 9 x 100 = 900 animal-seconds = about 3800 CPU-s = about 4 min on
# 16 cores. The rest (about 4.5 min) trains the two presets and measures throughput; the epoch caps below are what we
# expect to fit (paper preset about 51 GMAC per audio second), the timeouts what guarantees it.
#
# --smoke: the same phases on CPU in about a minute (gammatone periphery, 1 NH + 1 HI animal, 6 channels, the `tiny`
# preset standing in for both presets, one epoch of two steps): it checks the plumbing, not the GPU numbers.
# PYTHON selects the interpreter (default .venv/bin/python; the environment of scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=full
if [ "${1:-}" = "--smoke" ]; then MODE=smoke; shift; fi
OUT_DIR="${1:-${OUT:-runs/gpu-bundle}}"
PY="${PYTHON:-.venv/bin/python}"
BUDGET_S="${GPU_BUNDLE_BUDGET_S:-540}"
START=$(date +%s)
mkdir -p "$OUT_DIR/logs"
: > "$OUT_DIR/phases.jsonl"

if [ "$MODE" = full ]; then
  DEVICE=cuda; WORKERS=16; PERIPHERY=bez2018; CHANNELS=32; THREADS=16
  SYNTH_ARGS=(--n-nh 3 --n-hi 6 --train-seconds 80 --sound-seconds 2 --test-per-class 2 --test-seconds 2)
  PAPER_PRESET=paper; SMALL_PRESET=small
  PAPER_EPOCHS=(--encoder-epochs 8 --epochs 10); SMALL_EPOCHS=(--encoder-epochs 15 --epochs 30)
  STEPS=(); THROUGHPUT=(--preset paper --device cuda --seconds 10 --batch 8 --repeats 5)
  RESERVE_SYNTH=250; RESERVE_PAPER=100; RESERVE_SMALL=40
else
  DEVICE=cpu; WORKERS=2; PERIPHERY=gammatone; CHANNELS=6; THREADS=2
  SYNTH_ARGS=(--n-nh 1 --n-hi 1 --train-seconds 4 --sound-seconds 1 --test-per-class 1 --test-seconds 0.5)
  PAPER_PRESET=tiny; SMALL_PRESET=tiny
  PAPER_EPOCHS=(--encoder-epochs 1 --epochs 1); SMALL_EPOCHS=(--encoder-epochs 1 --epochs 1)
  STEPS=(--max-steps-per-epoch 2 --batch-size 2); THROUGHPUT=(--preset tiny --device cpu --seconds 0.5 --batch 2 --repeats 1)
  RESERVE_SYNTH=60; RESERVE_PAPER=40; RESERVE_SMALL=20
fi

left() { echo $((BUDGET_S - ($(date +%s) - START))); }

# phase NAME RESERVE_S CMD...: run CMD with a time limit that leaves RESERVE_S for the later phases.
phase() {
  local name=$1 reserve=$2 limit t0 rc
  shift 2
  limit=$(($(left) - reserve))
  if [ "$limit" -lt 5 ]; then
    echo "{\"phase\": \"$name\", \"rc\": null, \"wall_s\": 0, \"limit_s\": $limit, \"skipped\": true}" >>"$OUT_DIR/phases.jsonl"
    echo "[gpu_bundle] $name skipped: no time left" >&2
    return 0
  fi
  echo "[gpu_bundle] $name (limit ${limit} s)" >&2
  t0=$(date +%s)
  set +e
  timeout --signal=INT --kill-after=10 "$limit" "$@" >"$OUT_DIR/logs/$name.log" 2>&1
  rc=$?
  set -e
  echo "{\"phase\": \"$name\", \"rc\": $rc, \"wall_s\": $(($(date +%s) - t0)), \"limit_s\": $limit}" >>"$OUT_DIR/phases.jsonl"
  echo "[gpu_bundle] $name rc=$rc in $(($(date +%s) - t0)) s" >&2
}

# The periphery options exist once `hearloop synth` has them (the BEZ2018 periphery); before, it is the gammatone one.
PERIPHERY_ARGS=()
if "$PY" -m runners synth --help 2>/dev/null | grep -q -- "--periphery"; then
  PERIPHERY_ARGS=(--periphery "$PERIPHERY" --workers "$WORKERS")
else
  PERIPHERY=gammatone
fi

phase synth "$RESERVE_SYNTH" "$PY" -m runners synth --out "$OUT_DIR/cohort" --seed 0 --channels "$CHANNELS" \
  "${SYNTH_ARGS[@]}" --session-hours 10 --hi-pta-range 10 70 --flat-from 50 --level-range 45 105 \
  --tone-frequencies continuous --quiet "${PERIPHERY_ARGS[@]}"

TRAIN=("$PY" -m runners train --cohort "$OUT_DIR/cohort" --stages multibranch,nuicnet6 --finetune-encoder --hop 4096
  --lr 2e-3 --encoder-lr 3e-3 --seed 0 --device "$DEVICE" --threads "$THREADS" --quiet "${STEPS[@]}")
phase train-paper "$RESERVE_PAPER" "${TRAIN[@]}" --preset "$PAPER_PRESET" --out "$OUT_DIR/train-paper" "${PAPER_EPOCHS[@]}"
phase train-small "$RESERVE_SMALL" "${TRAIN[@]}" --preset "$SMALL_PRESET" --out "$OUT_DIR/train-small" "${SMALL_EPOCHS[@]}"
phase throughput 0 "$PY" scripts/gpu_throughput.py "${THROUGHPUT[@]}" --json "$OUT_DIR/throughput_paper.json"

"$PY" - "$OUT_DIR" "$MODE" "$PERIPHERY" "$(($(date +%s) - START))" "$BUDGET_S" <<'EOF'
import json, os, platform, sys
from pathlib import Path

out, mode, periphery, wall, budget = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
phases = [json.loads(line) for line in (out / "phases.jsonl").read_text().splitlines() if line.strip()]
cohort = out / "cohort" / "cohort.json"
throughput = out / "throughput_paper.json"
summary = {
    "mode": mode, "periphery": periphery, "wall_s": wall, "budget_s": budget, "cpus": os.cpu_count(),
    "machine": platform.machine(), "phases": phases,
    "animals": len(json.loads(cohort.read_text()).get("animals", [])) if cohort.exists() else 0,
    "models": sorted(str(p.parent.relative_to(out)) for p in out.glob("train-*/*/best/model.safetensors")),
    "throughput": json.loads(throughput.read_text()) if throughput.exists() else None,
}
tmp = out / "summary.json.tmp"
tmp.write_text(json.dumps(summary, indent=2) + "\n")
os.replace(tmp, out / "summary.json")
print(json.dumps({k: summary[k] for k in ("mode", "periphery", "wall_s", "animals", "models")}, indent=2))
EOF
