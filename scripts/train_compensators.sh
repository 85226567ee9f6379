#!/usr/bin/env bash
# Retrain the bundled audiogram-conditioned DNN compensator (compensation/assets/dnn-small, strategy `dnn`): the
# recipe of the committed checkpoint (its config.json records the command and every training setting). 40 training
# listeners drawn from the model's nu population (cohort seed 5001, NH to severe, with their neurometric audiograms;
# the benchmark's held-out listeners use 7001), fidelity at matched loudness,
# the loudness term under the comfort limit and a small selectivity term (NH token decoder cross-entropy, weight 0.1,
# on every second step), 800 steps of 8 (sound, listener) pairs, one torch thread. CPU time: MODEL_CARD.md, "DNN
# compensator". Seeded and resumable: re-running continues the run.
#
#   bash scripts/train_compensators.sh [WORK_DIR]     (default runs/compensator-train)
#
# The nu-conditioned upper bound (compensation/assets/dnn-nu-oracle-small, strategy `dnn_nu_oracle`) is trained second,
# by the same recipe with the listener's nu in place of its audiogram: what the compensator could do if it knew the
# listener's midbrain exactly.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-runs/compensator-train}"
THREADS="${HEARLOOP_THREADS:-1}"

# The one recipe of both compensators (``hearloop compensate train`` flags).
RECIPE=(--n-listeners 40 --cohort-seed 5001 --steps 800 --selectivity-weight 0.1 --selectivity-every 2
  --threads "$THREADS")

.venv/bin/hearloop compensate train --run-dir "$WORK/dnn-audiogram" --bundle compensation/assets/dnn-small "${RECIPE[@]}"

.venv/bin/hearloop compensate train --run-dir "$WORK/dnn-nu-oracle" --bundle compensation/assets/dnn-nu-oracle-small \
  --conditioning nu "${RECIPE[@]}"
