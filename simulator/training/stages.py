"""The training stages of nu-ICNet and its baselines ([Pellatt2025]_, "Training" and Table 1).

1. ``multibranch``: a multi-branch ICNet (shared encoder, one pointwise decoder per animal) on the NH animals, with full
   backpropagation. Its encoder initialises every later model ("The encoders for all models were initialised with
   weights from an ICNet model").
2. ``nuicnet6`` / ``nuicnet3``: nu-ICNet with D = 6 / 3 on all animals (CE + beta KL + clustering penalty).
3. ``abrnet``: nu from each animal's ABR thresholds (no learned means, no noise).
4. ``icnet``: one single-branch ICNet per animal.

Speed-up (documented in the model card): with ``freeze_encoder=True`` (default) the NH-trained encoder is kept frozen
in stages 2-4, so each sound is encoded once and its latents are cached (the encoder is causal; see
:meth:`simulator.training.frames.SharedFrames.cache_latents`). ``freeze_encoder=False`` (CLI ``--finetune-encoder``)
fine-tunes the encoder in every stage, as in the paper, at several times the cost per epoch.

Each stage writes ``<out>/<stage>/best`` (a model checkpoint with the cohort metadata schema of
:mod:`simulator.training.cohort` plus a ``"training"`` record), ``<out>/<stage>/last`` (resumable training state) and
``<out>/<stage>/result.json``. Single-branch ICNets go to ``<out>/icnet/<animal id>/``.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from simulator.atomic_io import atomic_write_text
from simulator.errors import HearloopInputError
from simulator.model.checkpoint import load_model
from simulator.model.factory import build_model
from simulator.training.cohort import PreparedCohort
from simulator.training.frames import SharedFrames
from simulator.training.loop import TrainConfig, TrainResult, train_model

__all__ = ["STAGES", "StageOptions", "run_stages", "stage_model_dir"]

STAGES: tuple[str, ...] = ("multibranch", "nuicnet6", "nuicnet3", "abrnet", "icnet")
"""Stage names, in the order they run."""

_KIND = {"nuicnet6": ("nuicnet", 6), "nuicnet3": ("nuicnet", 3), "abrnet": ("abrnet", 5)}


@dataclass
class StageOptions:
    """How to train the stages.

    Attributes:
        preset: model size preset (``"small"`` for the bundled model, ``"tiny"`` for tests).
        train: optimisation settings of stages 2-4; ``encoder_train`` of the multi-branch NH stage (None: ``train``).
        freeze_encoder: keep the NH encoder frozen after stage 1 and cache latents (module docstring).
        encoder_from: when ``multibranch`` is not among the stages of this call, the stage whose saved ``best``
            encoder initialises the later stages (default ``"multibranch"``; e.g. ``"nuicnet6"`` after fine-tuning the
            encoder in a nu-ICNet-6 run, so the baselines share the fine-tuned encoder).
        device: torch device.
        seed: model initialisation seed.
        progress: tqdm bars and per-epoch lines.
    """

    preset: str = "small"
    train: TrainConfig = field(default_factory=TrainConfig)
    encoder_train: TrainConfig | None = None
    freeze_encoder: bool = True
    encoder_from: str = "multibranch"
    device: str = "cpu"
    seed: int = 0
    progress: bool = True


def stage_model_dir(out_dir: str | Path, stage: str, animal_id: str | None = None) -> Path:
    """Where a stage's best model is written (single-branch ICNets: one directory per animal)."""
    base = Path(out_dir) / stage
    return (base / animal_id if animal_id else base) / "best"


def _record(result: TrainResult, config: TrainConfig, options: StageOptions, stage: str) -> dict[str, Any]:
    return {
        "stage": stage,
        "train_config": asdict(config),
        "freeze_encoder": options.freeze_encoder and stage != "multibranch",
        "encoder_from": None if stage == "multibranch" else options.encoder_from,
        "preset": options.preset,
        "best_epoch": result.best_epoch,
        "best_val_ce": result.best_val,
        "epochs_run": result.epochs_run,
        "stop_reason": result.stop_reason,
        "wall_s": round(result.wall_s, 1),
        "hardware": f"{platform.machine()} {platform.processor() or ''} torch {torch.__version__} "
        f"threads {torch.get_num_threads()} device {options.device}".strip(),
    }


def _train_and_save(
    model: nn.Module,
    train: SharedFrames,
    val: SharedFrames,
    config: TrainConfig,
    options: StageOptions,
    stage_dir: Path,
    stage: str,
    metadata: dict[str, Any],
    abr: torch.Tensor | None = None,
) -> TrainResult:
    from simulator.model.checkpoint import save_model

    model.metadata = metadata
    result = train_model(model, train, val, config, stage_dir, abr_thresholds=abr, progress=options.progress,
                         desc=stage)  # fmt: skip
    model.metadata = {**metadata, "training": _record(result, config, options, stage)}
    save_model(model, stage_dir / "best", metadata=model.metadata)
    atomic_write_text(stage_dir / "result.json", json.dumps(result.to_dict(), indent=1) + "\n")
    return result


def _init_from_encoder(model: nn.Module, encoder: nn.Module | None, prior: torch.Tensor, freeze: bool) -> nn.Module:
    if encoder is not None:
        model.encoder.load_state_dict(encoder.state_dict())
    model.set_output_prior(prior)
    if freeze:
        for p in model.encoder.parameters():
            p.requires_grad_(False)
    return model


def run_stages(
    prepared: PreparedCohort, out_dir: str | Path, stages: tuple[str, ...] = STAGES, options: StageOptions | None = None
) -> dict[str, Any]:
    """Run the selected stages in order (see the module docstring); returns ``{stage: TrainResult or {id: ...}}``.

    Stages missing from ``stages`` are skipped; a later stage then takes the encoder from
    ``<out>/<options.encoder_from>/best`` when it exists (else a freshly initialised encoder, for quick provisional
    models).
    Each stage resumes from its ``last/`` checkpoint when present.
    """
    options = options or StageOptions()
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise HearloopInputError(f"unknown stages {sorted(unknown)}; choose from {STAGES}")
    if options.encoder_from not in STAGES or options.encoder_from == "icnet":
        raise HearloopInputError(f"encoder_from must be one of {STAGES[:-1]}, got {options.encoder_from!r}")
    if options.encoder_from in stages and options.encoder_from != "multibranch":
        raise HearloopInputError(
            f"encoder_from {options.encoder_from!r} must be trained in an earlier call, not with {stages}"
        )
    out = Path(out_dir)
    dev = torch.device(options.device)
    train_all = SharedFrames(prepared.train, progress=options.progress)
    val_all = SharedFrames(prepared.val, progress=options.progress)
    prior = train_all.count_frequencies()
    n_channels = prepared.index.n_channels
    results: dict[str, Any] = {}
    encoder = None
    if "multibranch" in stages:
        nh = prepared.nh_indices
        model = build_model(options.preset, n_animals=len(nh), n_channels=n_channels, kind="multibranch_icnet",
                            seed=options.seed).to(dev)  # fmt: skip
        model.set_output_prior(prior)
        meta = {**prepared.metadata, "animals": [prepared.metadata["animals"][i] for i in nh]}
        config = options.encoder_train or options.train
        results["multibranch"] = _train_and_save(model, train_all.subset(nh), val_all.subset(nh), config, options,
                                                 out / "multibranch", "multibranch", meta)  # fmt: skip
        encoder = model.encoder
    elif stage_model_dir(out, options.encoder_from).is_dir():
        encoder = load_model(stage_model_dir(out, options.encoder_from), device=dev).encoder
    later = [s for s in stages if s != "multibranch"]
    if not later:
        return results
    if options.freeze_encoder:
        enc = encoder if encoder is not None else build_model(options.preset, n_channels=n_channels,
                                                              seed=options.seed).encoder  # fmt: skip
        enc = enc.to(dev).eval()
        t0 = time.perf_counter()
        train_all.cache_latents(enc, dev, options.progress)
        val_all.cache_latents(enc, dev, options.progress)
        if options.progress:
            print(f"cached latents of the frozen encoder in {time.perf_counter() - t0:.1f} s")
        encoder = enc
    abr = torch.as_tensor(prepared.abr_matrix(), dtype=torch.float32)
    k = len(prepared.animals)
    for stage in later:
        if stage == "icnet":
            results["icnet"] = {}
            for a, animal_id in enumerate(prepared.ids):
                model = build_model(options.preset, n_channels=n_channels, kind="icnet", seed=options.seed).to(dev)
                _init_from_encoder(model, encoder, train_all.subset([a]).count_frequencies(), options.freeze_encoder)
                meta = {**prepared.metadata, "animals": [prepared.metadata["animals"][a]]}
                results["icnet"][animal_id] = _train_and_save(
                    model, train_all.subset([a]), val_all.subset([a]), options.train, options,
                    out / "icnet" / animal_id, f"icnet {animal_id}", meta,
                )  # fmt: skip
            continue
        kind, d = _KIND[stage]
        model = build_model(options.preset, n_params=d, n_animals=k, n_channels=n_channels, kind=kind,
                            seed=options.seed).to(dev)  # fmt: skip
        _init_from_encoder(model, encoder, prior, options.freeze_encoder)
        if kind == "abrnet":
            model.set_abr_thresholds(abr)
        config = options.train if kind == "nuicnet" else replace(options.train, beta=0.0, lam=0.0)
        results[stage] = _train_and_save(model, train_all, val_all, config, options, out / stage, stage,
                                         dict(prepared.metadata), abr if kind == "nuicnet" else None)  # fmt: skip
    return results
