"""Training the DNN compensator through the frozen nu-ICNet over a population of listeners.

Closed-loop training in the manner of Drakopoulos & Verhulst (2023, IEEE/ACM TASLP 31:2395-2409), with nu-ICNet as the
frozen auditory model: for a batch of (clean sound s, listener nu) pairs,

    target   = NH reference response to s                       (compensation.objective, no grad)
    aided    = DNN(s; nu)                                        (compensation.dnn)
    matched  = aided scaled to L_ref = L_Aeq(NAL-R(s; audiogram))  (compensation.loudness.match_loudness)
    loss     = mean_pairs D(matched) / max(D(unaided), f * Dbar_unaided(nu))
               + w * mean_pairs ((|L_Aeq(aided) - L_ref| - tol)_+ / 10 dB)^2

The first term is the mean of (one minus) fidelity restored per (sound, listener) pair at the loudness of the
prescribed NAL-R fitting -- the quantity the evaluation reports the median of -- so the network learns where to put the
gain rather than how much overall gain to add, and every pair weighs the same whatever its level or the listener's
severity. The denominator is floored at ``f = unaided_floor`` times the listener's mean unaided distance Dbar over a
fixed sample of training segments, so near-silent segments or listeners very close to the NH reference (D(unaided)
near 0) cannot dominate the gradient. (A first version divided by Dbar alone: with the final nu-ICNet, whose sampled
listeners are mostly near-NH, the level spread of D(unaided) across segments made a few pairs dominate and the run
did not improve validation FR.) The second term, the loudness penalty, ties the network's own output level to NAL-R's,
so it cannot win by blasting. Adam with cosine learning-rate decay and gradient clipping.

Data: a pool of non-overlapping ``segment_samples`` crops of a seeded training corpus
(:func:`simulator.data.corpus.make_corpus`, silence excluded) whose NH targets are computed once and cached; each step
draws ``batch`` (crop, listener) pairs. A fixed validation set of pairs from a different corpus seed is scored every
``eval_every`` steps (median fidelity restored at matched loudness is logged) and the best weights are kept.
Held-out sounds and listeners for reporting come from yet other seeds (:mod:`compensation.strategy_evaluation`).

Resumable: every ``checkpoint_every`` steps the run directory gets ``last/`` (weights + config, safetensors),
``optimizer.safetensors`` (Adam moments) and ``state.json`` (step, history, best score); batches are drawn from
``numpy.random.default_rng([seed, step])`` so a resumed run continues with the same batches as an uninterrupted one.
After training an audiogram -> nu ridge map (nu ~ W [HL/100; 1], ridge 1e-2) is fitted on the training listeners and
stored in the config, so the compensator can also be prescribed from an audiogram.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from compensation.dnn import DNNCompensator, DNNConfig
from compensation.dnn_checkpoint import load_compensator, save_compensator
from compensation.loudness import a_weighted_level, loudness_penalty, match_loudness
from compensation.nalr import interpolate_audiogram
from compensation.nalr_strategy import NALRStrategy
from compensation.objective import NeuralFidelityObjective, fidelity_restored
from compensation.population import ListenerSpec, clinical_audiogram
from simulator.atomic_io import atomic_write, atomic_write_text
from simulator.errors import HearloopInputError

__all__ = ["TrainConfig", "corpus_audio", "fit_audiogram_map", "train_compensator"]

TRAIN_CLASSES: tuple[str, ...] = ("speech", "speech_in_noise", "music", "ripple", "tone")


@dataclasses.dataclass
class TrainConfig:
    """Hyperparameters of :func:`train_compensator` (all recorded in the checkpoint metadata)."""

    steps: int = 1200
    batch: int = 8
    segment_samples: int = 4096
    lr: float = 2e-3
    loudness_weight: float = 1.0
    loudness_tolerance_db: float = 1.0
    distance: str = "l1"
    seed: int = 0
    sound_seed: int = 101
    val_sound_seed: int = 202
    sounds_per_class: int = 12
    val_sounds_per_class: int = 3
    sound_duration_s: float = 1.0
    level_range_db_spl: tuple[float, float] = (45.0, 85.0)
    eval_every: int = 100
    checkpoint_every: int = 100
    grad_clip: float = 1.0
    unaided_floor: float = 0.25
    norm_segments: int = 64

    def __post_init__(self) -> None:
        self.level_range_db_spl = tuple(float(v) for v in self.level_range_db_spl)
        if self.steps < 1 or self.batch < 1 or self.segment_samples < 1024:
            raise HearloopInputError("steps and batch must be >= 1 and segment_samples >= 1024")
        if not (self.lr > 0 and self.loudness_weight >= 0):
            raise HearloopInputError("lr must be > 0 and loudness_weight >= 0")


def corpus_audio(
    seed: int, per_class: int, duration_s: float, level_range: Sequence[float], classes: Sequence[str] = TRAIN_CLASSES
) -> tuple[torch.Tensor, list[str], list[str]]:
    """A seeded corpus as ``sounds x samples`` Pa, with names and classes (silence excluded by default)."""
    from simulator.data.corpus import make_corpus

    sounds = make_corpus(seed, dict.fromkeys(classes, int(per_class)), duration_s, tuple(level_range))
    audio = torch.as_tensor(np.stack([s.audio for s in sounds]), dtype=torch.float32)
    return audio, [s.name for s in sounds], [s.sound_class for s in sounds]


def fit_audiogram_map(listeners: Sequence[ListenerSpec], freqs_hz: Sequence[float], ridge: float = 1e-2) -> list:
    """Ridge regression nu ~ W [HL/100; 1] over ``listeners``; returns W (``D x (F + 1)``) as nested lists."""
    x = np.stack([interpolate_audiogram(clinical_audiogram(lis.audiogram), freqs_hz, require_3fa=False) / 100.0
                  for lis in listeners])  # fmt: skip
    x = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    y = np.stack([lis.nu for lis in listeners])
    penalty = ridge * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # intercept unpenalised
    w = np.linalg.solve(x.T @ x + penalty, x.T @ y).T
    return w.tolist()


class _Run:
    """Everything shared by the steps: segment pools with cached NH targets, listeners, NAL-R thetas, objective."""

    def __init__(self, model, listeners, reference_nu, cfg: TrainConfig):
        self.cfg = cfg
        self.objective = NeuralFidelityObjective(model, reference_nu, distance=cfg.distance)
        self.nalr = NALRStrategy()
        self.nus = torch.as_tensor(np.stack([lis.nu for lis in listeners]), dtype=torch.float32)
        self.nalr_theta = torch.stack([self.nalr.prescribe(clinical_audiogram(lis.audiogram)) for lis in listeners])
        train, _, _ = corpus_audio(cfg.sound_seed, cfg.sounds_per_class, cfg.sound_duration_s, cfg.level_range_db_spl)
        val, _, _ = corpus_audio(
            cfg.val_sound_seed, cfg.val_sounds_per_class, cfg.sound_duration_s, cfg.level_range_db_spl
        )
        self.pool, self.targets = self._pool(train)
        self.val_pool, self.val_targets = self._pool(val)
        # Per-listener normaliser: mean unaided distance over a fixed sample of training segments.
        rng = np.random.default_rng([cfg.seed, 7])
        norm_idx = torch.as_tensor(
            rng.choice(len(self.pool), size=min(cfg.norm_segments, len(self.pool)), replace=False)
        )
        self.unaided_scale = torch.stack([self._d_unaided(norm_idx, torch.full_like(norm_idx, k)).mean()
                                          for k in range(len(listeners))])  # fmt: skip
        self.val_idx = torch.as_tensor(rng.integers(0, len(self.val_pool), size=max(64, 4 * cfg.batch)))
        self.val_who = torch.as_tensor(rng.integers(0, len(listeners), size=max(64, 4 * cfg.batch)))
        self.val_unaided = self._d_unaided(self.val_idx, self.val_who, val=True)

    def _pool(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Non-overlapping ``segment_samples`` crops of every sound (near-silent ones dropped) and their NH targets."""
        n = self.cfg.segment_samples
        if audio.shape[-1] < n:
            raise HearloopInputError(f"sound_duration_s is too short for {n}-sample segments")
        crops = audio[:, : (audio.shape[-1] // n) * n].reshape(-1, n)
        crops = crops[crops.square().mean(-1).sqrt() > 1e-4]  # > -6 dB SPL RMS
        with torch.no_grad():
            targets = torch.cat([self.objective.target(c) for c in crops.split(16)])
        return crops, targets

    def _d_unaided(self, idx: torch.Tensor, who: torch.Tensor, val: bool = False) -> torch.Tensor:
        pool, targets = (self.val_pool, self.val_targets) if val else (self.pool, self.targets)
        with torch.no_grad():
            clean = pool[idx]
            return self.objective(clean, clean, self.nus[who], target=targets[idx])

    def losses(self, dnn: DNNCompensator, idx: torch.Tensor, who: torch.Tensor, val: bool = False):
        """Per-pair (``batch``) distance at matched loudness, its floored unaided normaliser, and loudness penalty."""
        pool, targets = (self.val_pool, self.val_targets) if val else (self.pool, self.targets)
        clean, nu = pool[idx], self.nus[who]
        with torch.no_grad():
            ref_db = a_weighted_level(self.nalr(clean, self.nalr_theta[who]))
            d_unaided = self.val_unaided if val else self._d_unaided(idx, who)
            norm = torch.maximum(d_unaided, self.cfg.unaided_floor * self.unaided_scale[who])
        aided = dnn(clean, nu)
        matched = dnn.limiter(match_loudness(aided, ref_db))
        d_aided = self.objective(clean, matched, nu, target=targets[idx])
        penalty = loudness_penalty(aided, ref_db, self.cfg.loudness_tolerance_db)
        return d_aided, norm, penalty


def _save_state(run_dir: Path, dnn, optimizer, state: dict[str, Any], metadata: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    save_compensator(dnn, run_dir / "last", metadata)
    flat = {}
    for pid, param_state in optimizer.state_dict()["state"].items():
        for key, value in param_state.items():
            flat[f"{pid}.{key}"] = torch.as_tensor(value, dtype=torch.float32).reshape(-1).contiguous()
    atomic_write(run_dir / "optimizer.safetensors", lambda tmp: save_file(flat, str(tmp)))
    atomic_write_text(run_dir / "state.json", json.dumps(state, indent=1))


def _load_optimizer(run_dir: Path, optimizer: torch.optim.Optimizer) -> None:
    """Restore Adam moments saved by :func:`_save_state` (keys ``"<param index>.<field>"``)."""
    from safetensors.torch import load_file

    flat = load_file(str(run_dir / "optimizer.safetensors"))
    sd = optimizer.state_dict()
    params = optimizer.param_groups[0]["params"]
    for pid, param in zip(sd["param_groups"][0]["params"], params, strict=True):
        if f"{pid}.exp_avg" in flat:
            sd["state"][pid] = {
                "step": flat[f"{pid}.step"].reshape(()),
                "exp_avg": flat[f"{pid}.exp_avg"].reshape(param.shape),
                "exp_avg_sq": flat[f"{pid}.exp_avg_sq"].reshape(param.shape),
            }
    optimizer.load_state_dict(sd)


def train_compensator(
    model: torch.nn.Module,
    listeners: Sequence[ListenerSpec],
    reference_nu: Sequence[float] | np.ndarray,
    out_dir: str | os.PathLike,
    config: TrainConfig | None = None,
    dnn_config: DNNConfig | None = None,
    *,
    resume: bool = True,
    progress: bool = True,
    stop_at: int | None = None,
) -> tuple[DNNCompensator, dict[str, Any]]:
    """Train a DNN compensator; writes ``out_dir/{last,best}/`` and returns (best model, state).

    Args:
        model: the frozen nu-ICNet (its weights are never updated).
        listeners: the training population (nu + audiogram each).
        reference_nu: ``D`` NH reference nu.
        out_dir: run directory (resumed from ``last/`` when it holds a run with the same configs and ``resume``).
        config: :class:`TrainConfig`; dnn_config: :class:`DNNConfig` (n_cond is set to the model's D).
        resume: continue an interrupted run found in ``out_dir``.
        progress: show a tqdm bar.
        stop_at: stop (checkpointed) once this many steps are done, e.g. to split a run over sessions; the
            schedule still follows ``config.steps``.

    Returns:
        (best-validation compensator with the audiogram map filled in, state dict with the history).
    """
    from tqdm import tqdm

    cfg = config or TrainConfig()
    listeners = list(listeners)
    if len(listeners) < 2:
        raise HearloopInputError("DNN training needs at least two listeners")
    for p in model.parameters():
        p.requires_grad_(False)
    dcfg = dataclasses.replace(dnn_config or DNNConfig(), n_cond=int(model.n_params))
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    run = _Run(model, listeners, reference_nu, cfg)
    torch.manual_seed(cfg.seed)
    dnn = DNNCompensator(dcfg)
    optimizer = torch.optim.Adam([p for p in dnn.parameters() if p.requires_grad], lr=cfg.lr)
    provenance = {"train_config": dataclasses.asdict(cfg), "listeners": [lis.id for lis in listeners]}
    state = _resumed_state(run_dir, dnn, optimizer, provenance) if resume else _fresh_state(provenance)
    bar = tqdm(total=cfg.steps, initial=state["step"], disable=not progress, desc="train compensator")
    last = cfg.steps if stop_at is None else min(int(stop_at), cfg.steps)
    while state["step"] < last:
        loss = _train_step(run, dnn, optimizer, cfg, state["step"])
        state["step"] += 1
        bar.update(1)
        bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        if state["step"] % cfg.eval_every == 0 or state["step"] == cfg.steps:
            _validate(run, dnn, cfg, state, float(loss.detach()), run_dir)
        if state["step"] % cfg.checkpoint_every == 0 or state["step"] == last:
            _save_state(run_dir, dnn, optimizer, state, {"step": state["step"]})
    bar.close()
    best = load_compensator(run_dir / "best")
    best.config.audiogram_map = fit_audiogram_map(listeners, best.config.audiogram_freqs_hz)
    best.config.validate()
    return best.eval(), state


def _fresh_state(provenance: dict[str, Any]) -> dict[str, Any]:
    return {"step": 0, "history": [], "best_val": None, "best_step": None,
            "provenance": json.loads(json.dumps(provenance))}  # fmt: skip


def _resumed_state(run_dir: Path, dnn: DNNCompensator, optimizer, provenance: dict[str, Any]) -> dict[str, Any]:
    """The state of an interrupted run of the same configs in ``run_dir`` (weights and Adam moments restored into
    ``dnn`` and ``optimizer``), or a fresh state."""
    state = _fresh_state(provenance)
    if (run_dir / "state.json").is_file():
        old = json.loads((run_dir / "state.json").read_text())
        if old.get("provenance") == state["provenance"]:
            dnn.load_state_dict(load_compensator(run_dir / "last").state_dict())
            _load_optimizer(run_dir, optimizer)
            state = old
    return state


def _lr_at(cfg: TrainConfig, step: int) -> float:
    """Cosine decay from ``cfg.lr`` to 5 % of it over ``cfg.steps``."""
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * step / cfg.steps)))


def _train_step(run: _Run, dnn: DNNCompensator, optimizer, cfg: TrainConfig, step: int) -> torch.Tensor:
    """One seeded optimisation step on a batch of (sound, listener) pairs; returns its loss."""
    rng = np.random.default_rng([cfg.seed, step])
    idx = torch.as_tensor(rng.integers(0, len(run.pool), size=cfg.batch))
    who = torch.as_tensor(rng.integers(0, len(run.nus), size=cfg.batch))
    for group in optimizer.param_groups:
        group["lr"] = _lr_at(cfg, step)
    dnn.train()
    d_aided, norm, penalty = run.losses(dnn, idx, who)
    loss = (d_aided / norm).mean() + cfg.loudness_weight * penalty.mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(dnn.parameters(), cfg.grad_clip)
    optimizer.step()
    return loss


def _validate(run: _Run, dnn: DNNCompensator, cfg: TrainConfig, state: dict, train_loss: float, run_dir: Path) -> None:
    """Score the validation pairs, append to the history and keep the best compensator in ``run_dir/best``."""
    dnn.eval()
    with torch.no_grad():
        d_val, norm_val, pen_val = run.losses(dnn, run.val_idx, run.val_who, val=True)
    score = float((d_val / norm_val).mean() + cfg.loudness_weight * pen_val.mean())
    state["history"].append(
        {"step": state["step"], "train_loss": train_loss, "val_loss": score,
         "val_median_fr": float(fidelity_restored(d_val, run.val_unaided).median()),
         "val_penalty": float(pen_val.mean())}
    )  # fmt: skip
    if state["best_val"] is None or score < state["best_val"]:
        state["best_val"], state["best_step"] = score, state["step"]
        save_compensator(dnn, run_dir / "best", {"step": state["step"], "val_loss": score})
