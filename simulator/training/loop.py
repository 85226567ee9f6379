"""The training loop of nu-ICNet, ABRNet and ICNet ([Pellatt2025]_, "Training").

Adam; the learning rate halves when the validation loss has not improved for ``lr_patience`` (4) epochs
(``torch.optim.lr_scheduler.ReduceLROnPlateau``, which halves on the 5th consecutive epoch without a relative
improvement of 1e-4); training stops after ``early_stop`` (10) epochs without improvement or at ``max_epochs`` (120);
the weights of the best validation epoch are kept. The loss is :class:`simulator.training.losses.NuICNetLoss`
(cross-entropy + beta KL + the clustering penalty for the first 10 epochs); ICNet and ABRNet have no noise, so only the
CE applies. Validation loss = cross-entropy with nu at its mean (no sampling), so it is deterministic.

Randomness: the batch order and the nu samples of epoch ``e`` come from a generator seeded with ``(seed, e)``, so a run
resumed from the checkpoint written at the end of epoch ``e - 1`` reproduces an uninterrupted run exactly.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from simulator.constants import CONTEXT_BINS
from simulator.errors import HearloopInputError
from simulator.model.checkpoint import load_model, save_model
from simulator.model.icnet import ICNet
from simulator.training.frames import FrameBatch, SharedFrames
from simulator.training.losses import DEFAULT_BETA, DEFAULT_CLUSTER_EPOCHS, DEFAULT_LAMBDA, NuICNetLoss
from simulator.training.state import TRAIN_STATE_FILE, load_training_state, save_training_state

__all__ = ["TrainConfig", "TrainResult", "forward_batch", "train_model"]


@dataclass
class TrainConfig:
    """Optimisation settings (JSON-serialisable; stored in checkpoints and model cards).

    Attributes:
        lr: initial Adam learning rate.
        batch_size: frames per step (each frame is decoded for every animal that heard it).
        max_epochs, early_stop, lr_patience, lr_factor: schedule (see the module docstring).
        beta, lam, cluster_epochs: loss weights (:mod:`simulator.training.losses`).
        weight_decay: Adam L2 weight decay.
        grad_clip: max global gradient norm (None: no clipping).
        seed: seed of the batch order and nu samples.
        max_steps_per_epoch: cap on steps per epoch (None: every frame once).
    """

    lr: float = 3e-3
    batch_size: int = 8
    max_epochs: int = 120
    early_stop: int = 10
    lr_patience: int = 4
    lr_factor: float = 0.5
    beta: float = DEFAULT_BETA
    lam: float = DEFAULT_LAMBDA
    cluster_epochs: int = DEFAULT_CLUSTER_EPOCHS
    weight_decay: float = 0.0
    grad_clip: float | None = 5.0
    seed: int = 0
    max_steps_per_epoch: int | None = None

    def validate(self) -> None:
        if not self.lr > 0 or self.batch_size < 1 or self.max_epochs < 0 or self.early_stop < 1:
            raise HearloopInputError("lr must be > 0, batch_size >= 1, max_epochs >= 0 and early_stop >= 1")
        if not 0 < self.lr_factor < 1 or self.lr_patience < 0:
            raise HearloopInputError("lr_factor must lie in (0, 1) and lr_patience be >= 0")


@dataclass
class TrainResult:
    """What a training run did: per-epoch history, best epoch and validation loss, why it stopped, wall time (s)."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_val: float = math.inf
    stop_reason: str = ""
    wall_s: float = 0.0
    epochs_run: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def forward_batch(
    model: nn.Module, batch: FrameBatch, *, sample: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Logits ``R x C x T x 5`` of every recording of a batch; each frame is encoded once (or its latent is cached).

    nu-ICNet / ABRNet: the listener-independent half of the first combination layer also runs once per frame; nu is
    drawn per recording (``sample``) at its recording time. ICNet: each recording uses its animal's decoder branch.
    """
    dev = next(model.parameters()).device
    latent = batch.latent.to(dev) if batch.latent is not None else model.encoder(batch.audio.to(dev))
    rows = batch.row_frame.to(dev)
    animals = batch.row_animal.to(dev)
    if isinstance(model, ICNet):
        return model.decode_branch(latent[rows], animals, crop_bins=CONTEXT_BINS)
    shared, _ = model.combiner.shared(latent)
    nu = model.animal_nu(animals, batch.row_hours.to(dev), sample=sample, generator=generator)
    bias = model.combiner.listener_bias(model.expander(nu))
    h, _ = model.combiner.finish(shared[rows], bias)
    return model.decoder(h[..., CONTEXT_BINS:])


def _loss(model, loss_fn: NuICNetLoss, logits, counts, abr: torch.Tensor | None, epoch: int) -> dict[str, torch.Tensor]:
    if isinstance(model, ICNet):
        return loss_fn(logits, counts)
    terms = model.loss_terms()
    return loss_fn(logits, counts, terms["s"], nu_means=terms["nu_means"], abr_thresholds=abr, epoch=epoch)


@torch.no_grad()
def evaluate_loss(model: nn.Module, frames: SharedFrames, batch_size: int) -> float:
    """Mean validation cross-entropy (nats per bin) with nu at its mean, over every recording of ``frames``."""
    was = model.training
    model.eval()
    total, n = 0.0, 0
    for batch in frames.batches(batch_size, shuffle=False):
        logits = forward_batch(model, batch, sample=False)
        ce = nn.functional.cross_entropy(
            logits.reshape(-1, 5), batch.counts.to(logits.device).reshape(-1), reduction="sum"
        )
        total += float(ce)
        n += batch.counts.numel()
    model.train(was)
    return total / max(n, 1)


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))


def train_model(
    model: nn.Module,
    train: SharedFrames,
    val: SharedFrames,
    config: TrainConfig,
    run_dir: str | Path | None = None,
    *,
    abr_thresholds: torch.Tensor | None = None,
    resume: bool = True,
    progress: bool = True,
    desc: str = "train",
    stop_after_epochs: int | None = None,
) -> TrainResult:
    """Train ``model`` in place (its trainable parameters: set ``requires_grad`` to freeze parts first).

    Args:
        model: NuICNet, ABRNet or ICNet whose animal indices match the frames'.
        train, val: :class:`SharedFrames` (with cached latents when the encoder is frozen).
        config: :class:`TrainConfig`.
        run_dir: checkpoint directory; the training state is saved there after every epoch (``last/``) and the best
            model in ``best/``. With ``resume`` and an existing ``last/``, training continues from it.
        abr_thresholds: ``animals x 5`` dB SPL, enables the clustering penalty of nu-ICNet.
        stop_after_epochs: stop (as if interrupted) after this many epochs of this call; for tests and time budgets.

    Returns:
        :class:`TrainResult`; the model ends with the best validation epoch's weights.
    """
    config.validate()
    dev = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise HearloopInputError("the model has no trainable parameters")
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.lr_factor, patience=config.lr_patience
    )
    loss_fn = NuICNetLoss(
        max(model.n_animals, 1), beta=config.beta, lam=config.lam, cluster_epochs=config.cluster_epochs
    )
    abr = None if abr_thresholds is None else torch.as_tensor(abr_thresholds, dtype=torch.float32, device=dev)
    run_dir = None if run_dir is None else Path(run_dir)
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    result, start_epoch, bad_epochs = TrainResult(), 0, 0
    if run_dir is not None and resume and (run_dir / "last" / TRAIN_STATE_FILE).is_file():
        result, start_epoch, bad_epochs, best_state = _resume(run_dir, model, optimizer, scheduler, best_state)
    t0 = time.perf_counter() - result.wall_s
    step = _EpochStep(model, train, config, optimizer, params, loss_fn, abr, progress, desc)
    for epoch in range(start_epoch, config.max_epochs):
        if result.stop_reason:
            break
        if stop_after_epochs is not None and epoch - start_epoch >= stop_after_epochs:
            return result
        row = step(epoch)
        val_loss = evaluate_loss(model, val, config.batch_size)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(val_loss)
        improved = val_loss < result.best_val - 1e-6
        if improved:
            result.best_val, result.best_epoch, bad_epochs = val_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
        row.update(epoch=epoch, val_ce=val_loss, lr=lr, wall_s=time.perf_counter() - t0)
        result.history.append(row)
        result.epochs_run = epoch + 1
        result.wall_s = time.perf_counter() - t0
        if progress:
            tqdm.write(f"{desc} epoch {epoch:3d}: train ce {row['ce']:.4f}  val ce {val_loss:.4f}  lr {lr:.2e}"
                       f"{'  *' if improved else ''}  ({result.wall_s:.0f} s)")  # fmt: skip
        if bad_epochs >= config.early_stop:
            result.stop_reason = f"early stop: {config.early_stop} epochs without improvement"
        elif epoch + 1 >= config.max_epochs:
            result.stop_reason = f"max_epochs {config.max_epochs} reached"
        if run_dir is not None:
            _checkpoint(run_dir, model, optimizer, scheduler, result, config, epoch, bad_epochs, improved, best_state)
    if not result.stop_reason:
        result.stop_reason = f"max_epochs {config.max_epochs} reached"
    model.load_state_dict(best_state)
    model.eval()
    return result


def _checkpoint(run_dir: Path, model, optimizer, scheduler, result, config, epoch, bad_epochs, improved, best) -> None:
    """Save the best model (when this epoch improved) and the resumable state of this epoch."""
    if improved:
        _save_best(model, best, run_dir / "best")
    save_training_state(
        run_dir / "last", model, optimizer,
        {"epoch": epoch, "bad_epochs": bad_epochs, "scheduler": scheduler.state_dict(),
         "result": result.to_dict(), "train_config": asdict(config), "seed": config.seed},
    )  # fmt: skip


def _resume(run_dir: Path, model: nn.Module, optimizer, scheduler, best_state: dict) -> tuple:
    """Restore model, optimiser and scheduler from ``run_dir/last``.

    Returns:
        ``(result, start epoch, bad epochs, best state)``.
    """
    doc = load_training_state(run_dir / "last", model, optimizer)
    scheduler.load_state_dict(doc["scheduler"])
    if (run_dir / "best" / "config.json").is_file():
        best_state = load_model(run_dir / "best", device=next(model.parameters()).device).state_dict()
    return TrainResult(**doc["result"]), int(doc["epoch"]) + 1, int(doc["bad_epochs"]), best_state


class _EpochStep:
    """One training epoch over ``train`` (seeded by the epoch): returns the mean loss terms of its steps."""

    def __init__(self, model, train, config, optimizer, params, loss_fn, abr, progress: bool, desc: str) -> None:
        self.model, self.train, self.config, self.optimizer = model, train, config, optimizer
        self.params, self.loss_fn, self.abr, self.progress, self.desc = params, loss_fn, abr, progress, desc

    def __call__(self, epoch: int) -> dict[str, float]:
        config = self.config
        gen = _epoch_generator(config.seed, epoch)
        self.model.train()
        sums = {"loss": 0.0, "ce": 0.0, "kl": 0.0, "cluster": 0.0}
        steps = 0
        bar = tqdm(self.train.batches(config.batch_size, gen), total=math.ceil(len(self.train) / config.batch_size),
                   desc=f"{self.desc} epoch {epoch}", disable=not self.progress, leave=False)  # fmt: skip
        for batch in bar:
            if config.max_steps_per_epoch is not None and steps >= config.max_steps_per_epoch:
                break
            logits = forward_batch(self.model, batch, sample=True, generator=gen)
            terms = _loss(self.model, self.loss_fn, logits, batch.counts, self.abr, epoch)
            self.optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            if config.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.params, config.grad_clip)
            self.optimizer.step()
            for k in sums:
                sums[k] += float(terms[k].detach())
            steps += 1
            bar.set_postfix(ce=f"{float(terms['ce'].detach()):.4f}")
        return {k: v / max(steps, 1) for k, v in sums.items()}


def _save_best(model: nn.Module, state: dict[str, torch.Tensor], directory: Path) -> None:
    current = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    save_model(model, directory, metadata=getattr(model, "metadata", {}))
    model.load_state_dict(current)
