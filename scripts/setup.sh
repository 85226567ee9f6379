#!/usr/bin/env bash
# Create .venv in the repo root and install hearloop with its dependencies (idempotent).
# torch==2.13.0 goes in first: a CPU wheel on local disk here, and every later range it satisfies installs nothing more.
# GPU users can install any CUDA build of torch>=2.2 instead before running this.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
log=$(mktemp)
pip_install() {
  if ! .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" "$log" >&2
    echo "setup: pip install $* failed" >&2
    exit 1
  fi
}
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  pip_install "torch==2.13.0"
fi
# The rl extra (stable-baselines3) too: the tests cover the SB3 adapter and run the README's gymnasium block.
pip_install -e ".[dev,rl]"
rm -f "$log"
.venv/bin/python -c "import torch, simulator; print('hearloop environment ready: torch', torch.__version__)"
