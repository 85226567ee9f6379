"""Train a PPO agent (Stable-Baselines3) to fit a hearing aid, and test it on held-out impaired listeners.

    pip install -e ".[rl]"
    nice -n 10 python examples/train_ppo.py --seeds 0 1 2  # 3,072 steps, ~3.5 CPU-min per seed (1 thread)

The task, chosen so that a small policy can learn it in minutes:

* action: three gains, bass / mid / treble (``multiband`` strategy, 3 crossover bands at 259 Hz, 1.1 kHz and
  4.8 kHz, -10..60 dB each), set as offsets from the listener's NAL-R prescription (``action_mode="from_start"``:
  up to +-17.5 dB per band, so the zero action IS the prescription and the policy learns to fine-tune it);
* observation: the listener's audiogram (its true neurometric one: ``audiometry="true"``, so no GP-PTA session is
  needed to build a cohort), the current gains, the per-CF-band and overall neural error of the current fit, elapsed;
* reward: the neural benefit (D_u - D) / D_0 of the fit just set minus that of the prescription on the same sounds
  (``reward="benefit_gain"``, :mod:`runners.env.reward`: it ranks fits exactly as the benefit does, without the
  listener's and the sound batch's own level, which varies far more than the fits do), heard at MATCHED loudness
  (``presentation="matched"``: the aid's output is scaled so that the listener hears it as loud as normal hearing
  hears the clean sound), so the agent can only win by spectral shape, never by volume;
* episodes of 4 fitting steps on 2 corpus sounds of 0.5 s; a cohort of impaired training listeners (NH excluded);
  ``gamma = 0``: a step's reward depends on the gains just set alone, so each step is its own contextual bandit.

Evaluation, on listeners drawn with another seed (impaired only) and on sounds of another corpus seed (held out
too), every strategy heard at matched loudness: PPO (its fit after one deterministic episode), the NAL-R
prescription, the volume control (the best single broadband gain under the listener's comfort limit; at matched
loudness it is the clean sound at NH loudness), random gains (8 per listener, uniform in the gain box) and random
actions of the agent's own action space (8 per listener, uniform offsets from the prescription). It writes, under
``--out``:
``seed<k>.json`` (per-listener scores, learning curve, timing), ``baselines.json``, ``summary.md`` (the table,
mean +- sd over seeds) and ``learning_curve.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from runners.env.listener_data import listener_key
from simulator.atomic_io import atomic_write_text

N_BANDS = 3
ENV_OPTIONS: dict[str, Any] = {
    "strategy": "multiband",
    "strategy_kwargs": {"n_bands": N_BANDS},
    "reward": "benefit_gain",
    "presentation": "matched",
    "audiometry": "true",
    "max_steps": 4,
    "n_sounds": 2,
    "sound_duration_s": 0.5,
    "start": "prescription",
    "action_mode": "from_start",
    "action_scale": 0.5,
}
"""The training environment (module docstring)."""

EVAL_CORPUS_SEED = 1
"""Corpus seed of the held-out evaluation sounds (training uses corpus seed 0)."""

N_RANDOM = 8
"""Random actions scored per held-out listener."""


def impaired(core, listeners: list) -> list:
    """The listeners whose true audiogram is not NH (the env's severity classes, cached on disk)."""
    return [lis for lis in listeners if core.data.stratum(lis, listener_key(lis)) != "NH"]


def cohorts(model, n_train: int, n_test: int) -> tuple[list, list, Any]:
    """Impaired training and held-out listeners (cohort seeds 100 and 200) and the evaluation core (held-out sounds)."""
    from listeners import sample_cohort
    from runners.env.config import EnvConfig
    from runners.env.core import FittingCore

    train = sample_cohort(n_train, seed=100, model=model, prefix="TR")
    test = sample_cohort(n_test, seed=200, model=model, prefix="TE")
    core = FittingCore(EnvConfig(**ENV_OPTIONS, model=model, listeners=train + test, corpus_seed=EVAL_CORPUS_SEED))
    return impaired(core, train), impaired(core, test), core


@torch.no_grad()
def score(core, listener, thetas: torch.Tensor) -> dict[str, np.ndarray]:
    """Benefit (D_u - D) / D_0 and fidelity restored 1 - D / D_u at matched loudness of ``K x P`` physical thetas,
    each the mean over every evaluation sound -> ``{"benefit": K, "fr": K}``."""
    from runners.env.hearing import hear

    key = listener_key(listener)
    clean, target, d_0 = core._corpus_audio(), core.targets(), core.scales().double()
    s = clean.shape[0]
    nu = core._nu(listener).expand(s, -1)
    d_u = (core.unaided(listener, key) @ core.channel_weights).double()
    ohc, ihc = (t.expand(s, -1) for t in core.data.hearing_loss(listener, key))
    benefit, fr = [], []
    for theta in thetas:
        aided = core.strategy(clean, theta.expand(s, -1))
        heard = hear(aided, clean, ohc, ihc, "matched", core.comfort, core.limiter)
        d = (core.objective.per_channel(clean, heard.audio, nu, target=target) @ core.channel_weights).double()
        benefit.append(float(((d_u - d) / d_0).mean()))
        fr.append(float((1.0 - d / d_u).mean()))
    return {"benefit": np.asarray(benefit), "fr": np.asarray(fr)}


def prescription(core, listener) -> torch.Tensor:
    """NAL-R bass / mid / treble gains (dB) from the listener's audiogram (what the env starts episodes at)."""
    from compensation.population import clinical_audiogram

    gram = core.audiogram(listener, listener_key(listener))[0]
    return core.strategy.prescribe(clinical_audiogram(dict(zip(core.freqs_hz, gram, strict=True))))


def baselines(core, test: list, out: Path) -> list[dict[str, Any]]:
    """Prescription, volume control (at matched loudness: the clean sound, 0 dB in every band, at NH loudness), random
    gains and random actions (offsets from the prescription) on every held-out listener; cached in
    ``baselines.json`` (they do not depend on the PPO seed)."""
    path = out / "baselines.json"
    if path.is_file():
        return json.loads(path.read_text())["listeners"]
    rows = []
    for i, lis in enumerate(test):
        rng = np.random.default_rng(1000 + i)
        random_u = torch.as_tensor(rng.uniform(-1, 1, (N_RANDOM, N_BANDS)), dtype=torch.float32)
        theta0 = prescription(core, lis)
        offsets = core.strategy.to_normalized(theta0) + ENV_OPTIONS["action_scale"] * random_u
        scores = {
            "prescription": score(core, lis, theta0[None]),
            "volume_control": score(core, lis, torch.zeros(1, N_BANDS)),
            "random": score(core, lis, core.strategy.from_normalized(random_u)),
            "random_offsets": score(core, lis, core.strategy.from_normalized(offsets.clamp(-1.0, 1.0))),
        }
        row = {"listener": lis.id, "stratum": core.data.stratum(lis, listener_key(lis))}
        for name, sc in scores.items():
            row[name], row[f"{name}_fr"] = float(sc["benefit"].mean()), float(sc["fr"].mean())
        rows.append(row)
        print(f"baselines {lis.id} ({row['stratum']}): " + ", ".join(f"{k} {row[k]:.4f}" for k in scores), flush=True)
    atomic_write_text(path, json.dumps({"listeners": rows}, indent=1))
    return rows


def ppo_fit(agent, core, model, listener) -> torch.Tensor:
    """The agent's fit for a held-out listener: one deterministic episode on two held-out sounds; its last gains."""
    from runners.env.fitting_env import HearingAidFittingEnv

    env = HearingAidFittingEnv(**ENV_OPTIONS, model=model, listeners=[listener], corpus_seed=EVAL_CORPUS_SEED)
    sounds = [core.corpus.names[0], core.corpus.names[-1]]
    obs, info = env.reset(seed=0, options={"listener": listener, "sounds": sounds})
    done = False
    while not done:
        action, _ = agent.predict(obs, deterministic=True)
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    return torch.as_tensor(info["theta"], dtype=torch.float32)


def train(seed: int, train_set: list, model, args) -> tuple[Any, list[dict[str, float]], float]:
    """PPO on the training cohort: ``args.timesteps`` env steps in ``args.n_envs`` batched envs."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import VecMonitor

    from runners.env.sb3_vec_env import make_sb3_vec_env

    curve: list[dict[str, float]] = []
    start, cpu_start = time.perf_counter(), time.process_time()

    class Curve(BaseCallback):
        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            rewards = self.model.rollout_buffer.rewards
            curve.append({"timesteps": self.num_timesteps, "mean_reward": float(np.mean(rewards)),
                          "wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu_start})  # fmt: skip
            print(f"seed {seed}: {self.num_timesteps} steps, mean step reward {curve[-1]['mean_reward']:+.4f}, "
                  f"{curve[-1]['cpu_s']:.0f} s CPU, {curve[-1]['wall_s']:.0f} s wall, load {os.getloadavg()[0]:.1f}",
                  flush=True)  # fmt: skip

    venv = VecMonitor(make_sb3_vec_env(args.n_envs, **ENV_OPTIONS, model=model, listeners=train_set))
    agent = PPO(
        "MlpPolicy", venv, n_steps=args.n_steps, batch_size=64, n_epochs=10, learning_rate=args.learning_rate,
        gamma=args.gamma, gae_lambda=0.9, policy_kwargs={"net_arch": [64, 64], "log_std_init": -1.0}, seed=seed,
        verbose=0,
    )  # fmt: skip
    agent.learn(args.timesteps, callback=Curve())
    return agent, curve, {"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu_start}


def run_seed(seed: int, model, train_set: list, test: list, core, args) -> dict[str, Any]:
    """Train one seed and score its fits on the held-out listeners; written to ``seed<k>.json``."""
    path = Path(args.out) / f"seed{seed}.json"
    if path.is_file() and not args.retrain:
        return json.loads(path.read_text())
    torch.manual_seed(seed)
    load_before = os.getloadavg()
    agent, curve, took = train(seed, train_set, model, args)
    rows = []
    for lis in test:
        theta = ppo_fit(agent, core, model, lis)
        sc = score(core, lis, theta[None])
        rows.append({"listener": lis.id, "ppo": float(sc["benefit"][0]), "ppo_fr": float(sc["fr"][0]),
                     "gains_db": theta.tolist()})  # fmt: skip
    result = {"seed": seed, "train_wall_s": took["wall_s"], "train_cpu_s": took["cpu_s"],
              "load_before": load_before, "load_after": os.getloadavg(), "curve": curve, "listeners": rows,
              "timesteps": args.timesteps}  # fmt: skip
    atomic_write_text(path, json.dumps(result, indent=1))
    return result


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):+.4f} ± {sd:.4f}"


def summarise(runs: list[dict[str, Any]], base: list[dict[str, Any]], out: Path) -> str:
    """``summary.md``: the held-out table (mean ± sd over seeds of the mean over listeners) and per-seed rows."""
    n = len(base)
    per_seed = {"ppo": [float(np.mean([r["ppo"] for r in run["listeners"]])) for run in runs]}
    per_seed_fr = [float(np.mean([r["ppo_fr"] for r in run["listeners"]])) for run in runs]
    counts = {s: sum(b["stratum"] == s for b in base) for s in sorted({b["stratum"] for b in base})}
    lines = [
        f"Held-out impaired listeners: {n} ({', '.join(f'{s} {c}' for s, c in counts.items())}), {len(runs)} PPO"
        " seeds; every strategy heard at matched loudness, on held-out sounds.",
        "",
        "| strategy | benefit (D_u - D) / D_0 | fidelity restored | PPO better on (listeners, per seed) |",
        "|---|---:|---:|---|",
        f"| PPO (mean ± sd over seeds) | {_mean_sd(per_seed['ppo'])} | {_mean_sd(per_seed_fr)} | |",
    ]
    for name, label in (("prescription", "NAL-R prescription"), ("volume_control", "volume control"),
                        ("random", f"random gains ({N_RANDOM} per listener)"),
                        ("random_offsets", f"random offsets from NAL-R ({N_RANDOM} per listener)")):  # fmt: skip
        value = float(np.mean([b[name] for b in base]))
        fr = float(np.mean([b[f"{name}_fr"] for b in base]))
        wins = [sum(r["ppo"] > b[name] for r, b in zip(run["listeners"], base, strict=True)) for run in runs]
        lines.append(f"| {label} | {value:+.4f} | {fr:+.4f} | {' / '.join(f'{w}/{n}' for w in wins)} |")
    lines += ["", "| seed | PPO benefit | − prescription | − volume control | − random gains | − random actions |"
              " train CPU (s) | train wall (s) | load |", "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    names = ("prescription", "volume_control", "random", "random_offsets")
    ref = {k: float(np.mean([b[k] for b in base])) for k in names}
    for run, value in zip(runs, per_seed["ppo"], strict=True):
        load = f"{run['load_before'][0]:.1f} → {run['load_after'][0]:.1f}"
        diffs = " | ".join(f"{value - ref[k]:+.4f}" for k in names)
        lines.append(f"| {run['seed']} | {value:+.4f} | {diffs} | {run.get('train_cpu_s', float('nan')):.0f} | "
                     f"{run['train_wall_s']:.0f} | {load} |")  # fmt: skip
    for name in names:
        diffs = [v - ref[name] for v in per_seed["ppo"]]
        lines.append(f"\nPPO − {name.replace('_', ' ')}: {_mean_sd(diffs)} (mean ± sd over seeds)")
    text = "\n".join(lines) + "\n"
    atomic_write_text(out / "summary.md", text)
    return text


def plot_curves(runs: list[dict[str, Any]], out: Path) -> Path:
    """``learning_curve.png``: mean per-step training reward of each rollout against environment steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simulator.atomic_io import atomic_savefig

    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    for run in runs:
        steps = [c["timesteps"] for c in run["curve"]]
        ax.plot(steps, [c["mean_reward"] for c in run["curve"]], marker=".", label=f"seed {run['seed']}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean reward per step")
    ax.set_title("PPO, bass / mid / treble gains; reward: benefit at matched loudness", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path = atomic_savefig(fig, out / "learning_curve.png", dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="PPO seeds, trained one at a time")
    parser.add_argument("--timesteps", type=int, default=3072, help="environment steps per seed")
    parser.add_argument("--n-envs", type=int, default=4, help="batched sub-environments")
    parser.add_argument("--n-steps", type=int, default=64, help="PPO rollout length per sub-environment")
    parser.add_argument("--train-size", type=int, default=20, help="training cohort draw (NH listeners dropped)")
    parser.add_argument("--test-size", type=int, default=12, help="held-out cohort draw (NH listeners dropped)")
    parser.add_argument("--gamma", type=float, default=0.0, help="PPO discount (0: each step its own bandit)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="PPO learning rate")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared machine)")
    parser.add_argument("--out", default="runs/train_ppo", help="output folder")
    parser.add_argument("--retrain", action="store_true", help="train seeds whose results are already written")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import simulator

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = simulator.load_model()
    t0 = time.perf_counter()
    train_set, test, core = cohorts(model, args.train_size, args.test_size)
    print(f"{len(train_set)} impaired training and {len(test)} held-out listeners ({time.perf_counter() - t0:.0f} s)")
    base = baselines(core, test, out)
    runs = [run_seed(seed, model, train_set, test, core, args) for seed in args.seeds]
    text = summarise(runs, base, out)
    plot_curves(runs, out)
    print(text)
    return text


if __name__ == "__main__":
    main()
