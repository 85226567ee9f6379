"""Training the DNN compensator through the frozen nu-ICNet over a population of listeners.

Closed-loop training in the manner of Drakopoulos & Verhulst (2023, IEEE/ACM TASLP 31:2395-2409), with nu-ICNet as the
frozen auditory model: for a batch of (clean sound s, listener k) pairs the compensator, conditioned on what a clinic
has (the listener's audiogram, with a fresh measurement error each step; or its nu for the upper-bound variant),
processes s; the loss (:mod:`compensation.dnn_losses`) is one minus fidelity restored at matched loudness (the output
heard as loud as normal hearing hears s, so the network can only win by how it shapes sound), plus a loudness term that
sets its own output to normal loudness under the listener's comfort limit, plus optionally the NH token decoder's
cross-entropy on compensated speech tokens (neural selectivity). Adam with cosine learning-rate decay and gradient
clipping.

Data: a pool of non-overlapping ``segment_samples`` crops of a seeded training corpus
(:func:`simulator.data.corpus.make_corpus`, silence excluded) whose NH targets are computed once and cached; each step
draws ``batch`` (crop, listener) pairs. A fixed validation set of pairs from a different corpus seed is scored every
``eval_every`` steps with the listeners' true audiograms (median fidelity restored at matched loudness is logged) and
the best weights are kept. Held-out sounds and listeners for reporting come from yet other seeds
(:mod:`compensation.strategy_evaluation`).

Resumable: every ``checkpoint_every`` steps the run directory gets ``last/`` (weights + config, safetensors),
``optimizer.safetensors`` (Adam moments) and ``state.json`` (step, history, best score); batches, audiogram
measurements and tokens are drawn from generators seeded by ``[seed, step]``, so a resumed run continues with the same
draws as an uninterrupted one. A nu-conditioned compensator also gets an audiogram -> nu ridge map (nu ~ W [HL/100; 1],
ridge 1e-2) fitted on the training listeners, so it can be prescribed from an audiogram.
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

from compensation.dnn import DNNCompensator, DNNConfig, compensator_class
from compensation.dnn_checkpoint import load_compensator, save_compensator
from compensation.dnn_conditioning import check_conditioning
from compensation.dnn_losses import CompensatorLoss, LossTerms, TokenPool
from compensation.nalr import interpolate_audiogram
from compensation.objective import NeuralFidelityObjective, fidelity_restored
from compensation.population import ListenerSpec, clinical_audiogram
from simulator.atomic_io import atomic_write, atomic_write_text
from simulator.errors import HearloopInputError

__all__ = ["TrainConfig", "corpus_audio", "fit_audiogram_map", "train_compensator"]

TRAIN_CLASSES: tuple[str, ...] = ("speech", "speech_in_noise", "music", "ripple", "tone")


@dataclasses.dataclass
class TrainConfig:
    """Hyperparameters of :func:`train_compensator` (all recorded in the checkpoint metadata).

    ``conditioning``: ``"audiogram"`` (default) or ``"nu"`` (the upper bound); ``audiogram_sd_db``: the measurement
    error drawn into each training audiogram; ``loudness_weight``, ``loudness_tolerance_phon``: eq. (2) of
    :mod:`compensation.dnn_losses`; ``selectivity_weight`` (0: off), ``selectivity_tokens`` per step and
    ``token_seed``: eq. (3).
    """

    steps: int = 1200
    batch: int = 8
    segment_samples: int = 4096
    lr: float = 2e-3
    conditioning: str = "audiogram"
    audiogram_sd_db: float = 5.0
    loudness_weight: float = 1.0
    loudness_tolerance_phon: float = 2.0
    selectivity_weight: float = 0.0
    selectivity_tokens: int = 4
    selectivity_every: int = 1
    token_seed: int = 3103
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
        if not (self.lr > 0 and self.loudness_weight >= 0 and self.selectivity_weight >= 0):
            raise HearloopInputError("lr must be > 0, loudness_weight and selectivity_weight >= 0")
        if self.audiogram_sd_db < 0 or self.selectivity_tokens < 1 or self.selectivity_every < 1:
            raise HearloopInputError("audiogram_sd_db must be >= 0, selectivity_tokens and selectivity_every >= 1")
        check_conditioning(self.conditioning)


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
    """Everything shared by the steps: segment pools with cached NH targets, the loss terms, the normalisers."""

    def __init__(self, model, listeners, reference_nu, cfg: TrainConfig, freqs_hz):
        self.cfg = cfg
        self.objective = NeuralFidelityObjective(model, reference_nu, distance=cfg.distance)
        tokens = None
        if cfg.selectivity_weight > 0:
            from compensation.selectivity import SelectivityObjective

            tokens = TokenPool(SelectivityObjective(model, reference_nu), cfg.token_seed)
        self.loss = CompensatorLoss(
            self.objective, listeners, cfg.conditioning, freqs_hz, tolerance_phon=cfg.loudness_tolerance_phon,
            audiogram_sd_db=cfg.audiogram_sd_db, tokens=tokens,
        )  # fmt: skip
        self.nus = self.loss.nus
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

    def losses(self, dnn: DNNCompensator, idx, who, val: bool = False, generator=None) -> LossTerms:
        """Eqs. (1)-(2) of :mod:`compensation.dnn_losses` for pairs (pool ``idx``, listener ``who``); ``generator``
        draws the audiogram measurement (None: the true audiograms, as for validation)."""
        pool, targets = (self.val_pool, self.val_targets) if val else (self.pool, self.targets)
        with torch.no_grad():
            d_unaided = self.val_unaided if val else self._d_unaided(idx, who)
            norm = torch.maximum(d_unaided, self.cfg.unaided_floor * self.unaided_scale[who])
        return self.loss.fidelity_and_loudness(dnn, pool[idx], targets[idx], who, norm, generator)


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
        config: :class:`TrainConfig`; dnn_config: :class:`DNNConfig` (its conditioning is set from ``config`` and
            n_cond to the number of audiogram frequencies, or to the model's D for nu).
        resume: continue an interrupted run found in ``out_dir``.
        progress: show a tqdm bar.
        stop_at: stop (checkpointed) once this many steps are done, e.g. to split a run over sessions; the
            schedule still follows ``config.steps``.

    Returns:
        (best-validation compensator -- with the audiogram map filled in when nu-conditioned --, state dict with the
        history).
    """
    from tqdm import tqdm

    cfg = config or TrainConfig()
    listeners = list(listeners)
    if len(listeners) < 2:
        raise HearloopInputError("DNN training needs at least two listeners")
    for p in model.parameters():
        p.requires_grad_(False)
    base = dnn_config or DNNConfig()
    n_cond = int(model.n_params) if cfg.conditioning == "nu" else len(base.audiogram_freqs_hz)
    dcfg = dataclasses.replace(base, conditioning=cfg.conditioning, n_cond=n_cond, audiogram_map=None)
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    run = _Run(model, listeners, reference_nu, cfg, dcfg.audiogram_freqs_hz)
    torch.manual_seed(cfg.seed)
    dnn = compensator_class(dcfg)(dcfg)
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
    if best.config.conditioning == "nu":
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
    generator = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
    idx = torch.as_tensor(rng.integers(0, len(run.pool), size=cfg.batch))
    who = torch.as_tensor(rng.integers(0, len(run.nus), size=cfg.batch))
    for group in optimizer.param_groups:
        group["lr"] = _lr_at(cfg, step)
    dnn.train()
    terms = run.losses(dnn, idx, who, generator=generator)
    if cfg.selectivity_weight > 0 and step % cfg.selectivity_every == 0:
        terms.selectivity = run.loss.selectivity(dnn, who, step, cfg.selectivity_tokens, rng, generator)
    loss = terms.total(cfg.loudness_weight, cfg.selectivity_weight)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(dnn.parameters(), cfg.grad_clip)
    optimizer.step()
    return loss


def _validate(run: _Run, dnn: DNNCompensator, cfg: TrainConfig, state: dict, train_loss: float, run_dir: Path) -> None:
    """Score the validation pairs (true audiograms), append to the history and keep the best compensator."""
    dnn.eval()
    with torch.no_grad():
        terms = run.losses(dnn, run.val_idx, run.val_who, val=True)
    score = float(terms.total(cfg.loudness_weight, 0.0))
    state["history"].append(
        {"step": state["step"], "train_loss": train_loss, "val_loss": score,
         "val_median_fr": float(fidelity_restored(terms.d_matched, run.val_unaided).median()),
         "val_loudness": float(terms.loudness.mean())}
    )  # fmt: skip
    if state["best_val"] is None or score < state["best_val"]:
        state["best_val"], state["best_step"] = score, state["step"]
        save_compensator(dnn, run_dir / "best", {"step": state["step"], "val_loss": score})
