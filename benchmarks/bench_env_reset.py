"""The default fitting environment: build, reset (new listener vs one measured before) and step times.

Runs ``gymnasium.make("hearloop/HearingAidFitting-v0")`` with every option at its default (bundled model, WDRC,
2 sounds x 0.5 s, GP-PTA audiometry of 20 trials, comfort term on) in three processes, one after the other, sharing
one fresh listener-store folder (``cache_dir``):

1. cold: build the env and reset onto the first ``--listeners`` listeners of the default cohort, never measured
   before (each reset runs a GP-PTA session and the listener's true audiogram and unaided responses; all go to the
   store), then onto them again (in-process cache); then ``--steps`` random-action steps;
2. warm, new process: the same, the listeners now read from the store;
3. the same as 2 with ``disk_cache=False``, for comparison (every reset measures again).

Times are wall-clock seconds, with process CPU seconds beside them (``time.process_time``: on a shared machine the
wall time of a step depends on the load, its CPU time much less) and the 1-minute load average.

    nice -n 5 .venv/bin/python benchmarks/bench_env_reset.py [--listeners 4] [--steps 30] [--threads 1]

The first reset of a process also pays one-time start-up work (the first strategy, loudness and model calls), so it is
reported apart; "reset, listener new to the process" is the median over the other listeners.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def child(cache_dir: str, n_listeners: int, steps: int, threads: int, disk_cache: bool) -> dict:
    """One process: build the default env, reset onto the first listeners twice, step with random actions."""
    import gymnasium as gym
    import torch

    import runners

    torch.set_num_threads(threads)
    env, build_wall, build_cpu = _timed(lambda: gym.make(runners.ENV_ID, cache_dir=cache_dir, disk_cache=disk_cache))
    resets = {"first": [], "again": []}
    ids = []
    for rnd in ("first", "again"):
        for index in range(n_listeners):  # cohort listeners 0..n-1, each new to the process in the first round
            (_, info), wall, cpu = _timed(lambda i=index: env.reset(seed=i, options={"listener_index": i}))
            resets[rnd].append((wall, cpu))
            if rnd == "first":
                ids.append(f"{info['listener_id']} ({info['stratum']})")
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (steps, *env.action_space.shape)).astype(np.float32)
    env.reset(seed=0)
    wall, cpu = time.perf_counter(), time.process_time()
    for a in actions:
        if env.step(a)[3]:
            env.reset()
    step_wall, step_cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "build_s": [build_wall, build_cpu],
        "reset_process_first_s": list(resets["first"][0]),
        "reset_first_s": [statistics.median(t) for t in zip(*resets["first"][1:], strict=True)],
        "reset_again_s": [statistics.median(t) for t in zip(*resets["again"], strict=True)],
        "reset_first_max_s": max(w for w, _ in resets["first"]),
        "steps_per_s": steps / step_wall,
        "cpu_s_per_step": step_cpu / steps,
        "listeners": ids,
        "load": os.getloadavg()[0],
    }


def _run(cache_dir: str, args, disk_cache: bool = True) -> dict:
    cmd = [sys.executable, __file__, "--child", cache_dir, "--listeners", str(args.listeners), "--steps",
           str(args.steps), "--threads", str(args.threads)] + ([] if disk_cache else ["--no-disk-cache"])  # fmt: skip
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listeners", type=int, default=4, help="cohort listeners 0..n-1 reset onto")
    parser.add_argument("--steps", type=int, default=30, help="random-action steps timed in each warm process")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-disk-cache", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.listeners, args.steps, args.threads, not args.no_disk_cache)))
        return {}
    with tempfile.TemporaryDirectory(prefix="hearloop-bench-cache-") as cache_dir:
        runs = {"cold": _run(cache_dir, args), "warm, new process": _run(cache_dir, args),
                "no disk cache": _run(cache_dir, args, disk_cache=False)}  # fmt: skip
    print(f"\nDefault env, {args.listeners} listeners: {', '.join(runs['cold']['listeners'])}; torch threads "
          f"{args.threads}; wall s (CPU s)\n")  # fmt: skip
    print("| process | build | first reset of the process | reset, listener new to the process | reset again | "
          "steps/s | CPU s/step | load |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in runs.items():
        keys = ("build_s", "reset_process_first_s", "reset_first_s", "reset_again_s")
        cells = [f"{r[k][0]:.2f} ({r[k][1]:.2f})" for k in keys]
        print(
            f"| {name} | {' | '.join(cells)} | {r['steps_per_s']:.1f} | {r['cpu_s_per_step']:.3f} | {r['load']:.1f} |"
        )
    return runs


if __name__ == "__main__":
    main()
