"""Audiometry benchmark entry point: GP-PTA vs modified Hughson-Westlake (accuracy vs trials, calibration, latency).

    .venv/bin/python benchmarks/bench_audiometry.py --quick --out runs/audiometry-bench
    .venv/bin/python benchmarks/bench_audiometry.py --seeds 20 --trials 100 --out runs/audiometry-bench-full

Same as ``hearloop audiometry bench``; see ``audiometry.benchmark`` for the definitions of every reported number.
"""

from __future__ import annotations

import sys

from runners.cli import main

if __name__ == "__main__":
    sys.exit(main(["audiometry", "bench", *sys.argv[1:]]))
