"""Reward range of the default environment over 1,000 random-action episodes across severity strata.

A cohort of ``--cohort`` listeners drawn from the bundled model (every stratum the draw gives, NH included:
``include_nh=True``), the default env otherwise (WDRC, P = 40, benefit reward, comfort term w = 1) but with the true
audiogram as observation (no GP-PTA session: the reward does not depend on it), one sound per episode and one step per
episode, so that 1,000 episodes take minutes. Reports, per stratum, the per-step reward range (documented: [-2, 1]),
how often the raw benefit lay outside [-1, 1] (where the clip acts), the mean discomfort, the benefit of the NAL-R
prescription (the starting fit: about 0 for NH listeners, whatever their unaided distance) and, for comparison, the
range of the previous reward, fidelity restored 1 - D / D_u without a floor.

    nice -n 5 .venv/bin/python benchmarks/bench_env_rewards.py [--episodes 1000] [--cohort 24] [--envs 50]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np
import torch


def run(episodes: int, cohort_size: int, n_envs: int, seed: int) -> dict[str, dict[str, float]]:
    """Per-stratum statistics of ``episodes`` one-step random-action episodes (module docstring)."""
    from listeners import sample_cohort
    from runners.env import HearingAidFittingVectorEnv
    from runners.env.resources import get_model

    model = get_model(None)
    cohort = sample_cohort(cohort_size, seed=seed, model=model, prefix="R")
    venv = HearingAidFittingVectorEnv(
        n_envs, model=model, listeners=cohort, include_nh=True, audiometry="true", n_sounds=1, max_steps=1
    )
    low, high = venv.reward_range
    rng = np.random.default_rng(seed)
    _, info = venv.reset(seed=seed)
    stats: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    done = 0
    while done < episodes:
        starts = np.array(info["benefit"])  # each sub-environment's starting fit: the prescription
        actions = rng.uniform(-1, 1, venv.action_space.shape).astype(np.float32)
        _, reward, terminated, truncated, info = venv.step(actions)
        for i in np.flatnonzero(terminated | truncated)[: episodes - done]:
            s = stats[info["stratum"][i]]
            s["reward"].append(reward[i])
            s["benefit"].append(info["benefit"][i])
            s["fidelity_restored"].append(info["fidelity_restored"][i])
            s["discomfort"].append(info["discomfort"][i])
            s["prescription_benefit"].append(starts[i])
            s["listener"].append(info["listener_id"][i])
            done += 1
        info = venv.step(actions)[4]  # NEXT_STEP autoreset: the new episodes' starting fits
    out = {}
    for stratum, s in sorted(stats.items()):
        r, b, fr = (np.asarray(s[k]) for k in ("reward", "benefit", "fidelity_restored"))
        out[stratum] = {
            "episodes": int(r.size),
            "listeners": len(set(s["listener"])),
            "reward_min": float(r.min()),
            "reward_max": float(r.max()),
            "outside_range": int(((r < low) | (r > high)).sum()),
            "raw_benefit_outside_unit": float((np.abs(b) > 1).mean()),
            "mean_discomfort": float(np.mean(s["discomfort"])),
            "prescription_benefit_median": float(np.median(s["prescription_benefit"])),
            "old_fidelity_min": float(fr.min()),
            "old_fidelity_max": float(fr.max()),
        }
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--cohort", type=int, default=24, help="listeners drawn (every stratum the draw gives)")
    parser.add_argument("--envs", type=int, default=50, help="batched sub-environments")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = run(args.episodes, args.cohort, args.envs, args.seed)
    print("\n| stratum | listeners | episodes | reward min | reward max | outside [-2, 1] | raw benefit outside "
          "[-1, 1] | mean discomfort | prescription benefit (median) | old FR min | old FR max |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for stratum, s in out.items():
        print(f"| {stratum} | {s['listeners']} | {s['episodes']} | {s['reward_min']:+.3f} | {s['reward_max']:+.3f} | "
              f"{s['outside_range']} | {100 * s['raw_benefit_outside_unit']:.1f} % | {s['mean_discomfort']:.3f} | "
              f"{s['prescription_benefit_median']:+.3f} | {s['old_fidelity_min']:+.2f} | "
              f"{s['old_fidelity_max']:+.2f} |")  # fmt: skip
    if args.json:
        from simulator.atomic_io import atomic_write_text

        atomic_write_text(args.json, json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
