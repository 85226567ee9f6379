"""Fitting-environment throughput: the batched vector env vs gymnasium's SyncVectorEnv, side by side in one run.

For each number of sub-environments, both vector envs are built from ``gymnasium.make_vec("hearloop/
HearingAidFitting-v0", ...)`` with the same options and the SAME model object (so they share the NH-target, unaided
and audiogram caches, which are filled beforehand: no episode start pays a GP-PTA session while timed). Both are reset
with the same seed and stepped with the same seeded random actions (autoresets included, as they fall). Timing rounds
alternate batched / sync and the median round is reported, which keeps the ratio fair on a shared, noisy machine.
Throughput is environment steps per second (num_envs x vector steps / wall time), with the process CPU milliseconds
per environment step beside it (on a shared machine the wall time depends on the load, the CPU time much less) and the
1-minute load average. Prints a Markdown table.

The batched env is timed as specified (ONE strategy call and ONE model call per step, ``eval_chunk_rows`` = all rows)
and, as a third column, with ``eval_chunk_rows=K`` (the same stacked rows fed in chunks of K; the env's CPU default is
``runners.env.core.CPU_CHUNK_ROWS``): on CPU a single call over all rows is bound by memory traffic (full-rate
activations of every row at once overflow the caches), so moderate chunks are faster. On CPU both vector envs do the
same model work per environment step (nothing in the model call is shared between listeners with different theta), so
the ratio there measures only per-call overhead; the batched env's advantage is parallel hardware (GPU).

    nice -n 15 .venv/bin/python benchmarks/bench_env.py [--envs 1 8 32] [--steps 10] [--rounds 3] [--strategy wdrc]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

import runners  # noqa: F401  (registers hearloop/HearingAidFitting-v0)
from runners.env.config import EnvConfig
from runners.env.registration import ENV_ID


def _time_steps(env: gym.vector.VectorEnv, actions: np.ndarray) -> tuple[float, float]:
    """(wall, process CPU) seconds of stepping ``env`` through ``actions``."""
    start, cpu = time.perf_counter(), time.process_time()
    for a in actions:
        env.step(a)
    return time.perf_counter() - start, time.process_time() - cpu


def bench(n_envs: int, model, options: dict, steps: int, rounds: int, seed: int, chunk_rows: int) -> dict[str, float]:
    """Median env-steps/s of the batched (one call; and chunked) and the sync vector env with ``n_envs`` sub-envs."""
    one_call = n_envs * int(
        options.get("n_sounds", EnvConfig.n_sounds)
    )  # every row in ONE strategy call and ONE model call
    envs = {
        "batched": gym.make_vec(
            ENV_ID,
            num_envs=n_envs,
            vectorization_mode="vector_entry_point",
            model=model,
            eval_chunk_rows=one_call,
            **options,
        ),
        "sync": gym.make_vec(ENV_ID, num_envs=n_envs, vectorization_mode="sync", model=model, **options),
    }
    if chunk_rows:
        envs["chunked"] = gym.make_vec(
            ENV_ID, num_envs=n_envs, vectorization_mode="vector_entry_point", model=model,
            eval_chunk_rows=chunk_rows, **options,
        )  # fmt: skip
    envs["batched"].unwrapped.core.prefetch()  # fills the caches all envs share (same model object)
    rng = np.random.default_rng(seed)
    space = envs["batched"].action_space
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in envs}
    for env in envs.values():
        env.reset(seed=seed)
        _time_steps(env, rng.uniform(-1, 1, (2, *space.shape)).astype(np.float32))  # warm-up
    for _ in range(rounds):
        actions = rng.uniform(-1, 1, (steps, *space.shape)).astype(np.float32)
        for name, env in envs.items():
            times[name].append(_time_steps(env, actions))
    for env in envs.values():
        env.close()
    out = {"n_envs": n_envs}
    for name, t in times.items():
        out[f"{name}_steps_per_s"] = n_envs * steps / statistics.median(w for w, _ in t)
        out[f"{name}_cpu_ms"] = 1e3 * statistics.median(c for _, c in t) / (n_envs * steps)
    out["load"] = os.getloadavg()[0]
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 8, 32], help="numbers of sub-environments")
    parser.add_argument("--steps", type=int, default=10, help="vector steps per timing round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (median reported)")
    parser.add_argument("--strategy", default="wdrc")
    parser.add_argument("--n-sounds", type=int, default=None, help="sounds per episode (default: the env's)")
    parser.add_argument("--sound-duration", type=float, default=None, help="seconds per sound (default: the env's)")
    parser.add_argument("--max-steps", type=int, default=None, help="fitting budget (default: the env's)")
    parser.add_argument("--model", default=None, help="checkpoint directory (default: the bundled model)")
    parser.add_argument(
        "--untrained", choices=["tiny", "small"], default=None, help="an untrained preset (for testing the script only)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument(
        "--chunk-rows", type=int, default=4, help="also time the batched env with eval_chunk_rows=K (0: skip)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    from runners.env.resources import get_model
    from simulator import build_model

    model = build_model(args.untrained, seed=0) if args.untrained else get_model(args.model)
    options: dict = {"strategy": args.strategy}
    for key, value in (("n_sounds", args.n_sounds), ("sound_duration_s", args.sound_duration)):
        if value is not None:
            options[key] = value
    if args.max_steps is not None:
        options["max_steps"] = args.max_steps
    if args.untrained:
        options["reference_nu"] = [0.5] * model.n_params
    rows = [bench(n, model, options, args.steps, args.rounds, args.seed, args.chunk_rows) for n in args.envs]
    env = gym.make(ENV_ID, model=model, **options).unwrapped
    cfg = env.config
    print(
        f"\nhearloop/HearingAidFitting-v0 | strategy={cfg.strategy} (P={env.strategy.n_params}) | "
        f"{cfg.n_sounds} sounds x {cfg.sound_duration_s} s | model={getattr(model.config, 'preset', '?')} "
        f"C={model.n_channels} | torch threads={torch.get_num_threads()} | {args.rounds} rounds x {args.steps} steps\n"
    )
    chunked = f"batched, {args.chunk_rows}-row chunks"
    head = "| envs | batched, one call (steps/s) | SyncVectorEnv (steps/s) | batched / sync "
    head += "| CPU ms/step (batched, sync) | load |"
    rule = "|-----:|----------------------------:|------------------------:|---------------:|---:|---:|"
    if args.chunk_rows:
        head += f" {chunked} (steps/s) | chunked / sync |"
        rule += "---:|---:|"
    print(head)
    print(rule)
    for r in rows:
        r["ratio"] = r["batched_steps_per_s"] / r["sync_steps_per_s"]
        line = f"| {r['n_envs']} | {r['batched_steps_per_s']:.1f} | {r['sync_steps_per_s']:.1f} | {r['ratio']:.2f}x |"
        line += f" {r['batched_cpu_ms']:.0f}, {r['sync_cpu_ms']:.0f} | {r['load']:.1f} |"
        if args.chunk_rows:
            r["chunked_ratio"] = r["chunked_steps_per_s"] / r["sync_steps_per_s"]
            line += f" {r['chunked_steps_per_s']:.1f} | {r['chunked_ratio']:.2f}x |"
        print(line)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"options": options, "rows": rows}, fh, indent=2)
    return {"rows": rows}


if __name__ == "__main__":
    main()
