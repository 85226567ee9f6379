"""The evaluation report of a training run ([Pellatt2025]_, Table 1 and Fig. 3).

:func:`evaluate_run` loads the models a run produced (:mod:`simulator.training.stages` layout), re-applies the channel
alignment stored in their metadata to the cohort's held-out test sounds, scores every model
(:mod:`simulator.evaluation.evaluate`), and writes to ``out_dir``:

    scores.parquet     one row per (model, animal, test sound): FEVE, KL
    table1.md          Table 1 (NH / HI median FEVE and KL per model) + per-animal and per-class tables
    summary.json       the "must show" numbers: nu-ICNet-6 NH/HI median FEVE, gap to the single-branch ICNets,
                       ABRNet, Spearman rho of ||nu - NH centre|| against true severity
    neurograms.png     recorded (mean of two trials) against predicted expected counts, one NH and one HI animal

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simulator.atomic_io import atomic_savefig, atomic_write_table, atomic_write_text
from simulator.data.alignment import apply_alignment
from simulator.data.recordings import read_cohort
from simulator.errors import MissingFileError
from simulator.evaluation.evaluate import (
    SoundScore,
    aggregate,
    evaluate_model,
    nu_distance_from_nh,
    predict_sound,
    severity_spearman,
)
from simulator.evaluation.table import TABLE1_MODELS, animal_table, class_table, table1_markdown
from simulator.model.checkpoint import load_model
from simulator.model.spikes import expected_counts
from simulator.training.stages import stage_model_dir

__all__ = ["evaluate_run", "must_show"]

_STAGE_LABEL = {"nuicnet6": "nu-ICNet-6", "nuicnet3": "nu-ICNet-3", "abrnet": "ABRNet"}


def _aligned_test_animals(cohort_dir: str | os.PathLike, metadata: dict[str, Any]):
    index = read_cohort(cohort_dir)
    perms = metadata.get("alignment", {})
    animals = []
    for entry in metadata["animals"]:
        a = index.load(entry["id"])
        a.sounds = [s for s in a.sounds if s.split == "test"]
        perm = perms.get(a.animal_id)
        animals.append(apply_alignment(a, np.asarray(perm)) if perm is not None else a)
    return animals


def _nu_separation(model, metadata: dict[str, Any]) -> dict[str, Any]:
    """nu of every training animal, its distance from the NH centre and the Spearman rho of that distance against the
    true severity (ground truth ``severity_db_hl``) over the animals that have one; rho is None (with the reason in
    ``rho_note``) when fewer than 3 animals have a severity or the NH centre is undefined."""
    with torch.no_grad():
        nu = model.animal_nu(torch.arange(model.n_animals), None, sample=False).cpu().numpy()
    statuses = [a["status"] for a in metadata["animals"]]
    severity = [a.get("severity_db") for a in metadata["animals"]]
    known = [i for i, s in enumerate(severity) if s is not None and np.isfinite(s)]
    out: dict[str, Any] = {
        "nu": nu.tolist(),
        "distance": None,
        "severity_db": severity,
        "spearman_rho": None,
        "n_animals_with_severity": len(known),
        "rho_note": "",
    }
    if "NH" not in statuses:
        out["rho_note"] = "not available: no NH animal (the NH centre of nu is undefined)"
        return out
    dist = nu_distance_from_nh(nu, statuses)
    out["distance"] = dist.tolist()
    if len(known) < 3:
        out["rho_note"] = (
            f"not available: {len(known)} of {len(statuses)} animals have a ground-truth "
            "severity_db_hl (at least 3 needed)"
        )
        return out
    rho = severity_spearman(dist[known], np.asarray([severity[i] for i in known], dtype=np.float64))
    if not np.isfinite(rho):
        out["rho_note"] = "not available: the severities or the nu distances are all equal"
        return out
    out["spearman_rho"] = rho
    if len(known) < len(statuses):
        out["rho_note"] = f"over the {len(known)} of {len(statuses)} animals with a ground-truth severity_db_hl"
    return out


NOT_TRAINED = "not trained"
NOT_AVAILABLE = "not available"


def _median_feve(groups: dict, model: str, status: str, trained: set[str]) -> tuple[float | None, str]:
    """The group's median FEVE, or None with the reason (model not trained; no such animals or undefined FEVE)."""
    if model not in trained:
        return None, NOT_TRAINED
    value = groups.get((model, status), {}).get("feve")
    if value is None or not np.isfinite(value):
        return None, f"{NOT_AVAILABLE} (no {status} animal with a defined FEVE)"
    return float(value), ""


def must_show(groups: dict, rho: float | None, trained: set[str] | None = None) -> dict[str, Any]:
    """The acceptance numbers of Table 1 and the Spearman rho, each with a pass flag.

    A number that cannot be computed is None, never NaN, and ``missing[key]`` says why ("not trained": the run has no
    such model; "not available": no animals of the group, an undefined FEVE, or no ground-truth severity); its pass
    flag is None too.

    Args:
        groups: ``{(model, status): {"feve": ...}}`` from :func:`simulator.evaluation.evaluate.aggregate`.
        rho: Spearman rho of nu-ICNet-6 (None: not available).
        trained: model labels the run has (default: those in ``groups``).
    """
    trained = {m for m, _ in groups} if trained is None else set(trained)
    out: dict[str, Any] = {"missing": {}}

    def put(key: str, value: float | None, why: str, passed=None) -> None:
        out[key] = value
        if value is None:
            out["missing"][key] = why
        if passed is not None:
            out[f"{key}_pass"] = None if value is None else bool(passed(value))

    for status in ("NH", "HI"):
        nu6, why6 = _median_feve(groups, "nu-ICNet-6", status, trained)
        icn, why_icn = _median_feve(groups, "ICNet", status, trained)
        abr, why_abr = _median_feve(groups, "ABRNet", status, trained)
        put(f"nuicnet6_feve_{status}", nu6, why6, lambda v: v >= 0.6)
        put(f"icnet_feve_{status}", icn, why_icn)
        put(f"abrnet_feve_{status}", abr, why_abr)
        gap = None if nu6 is None or icn is None else icn - nu6
        put(f"gap_to_icnet_{status}", gap, why_icn or why6, lambda v: v <= 0.05)
    put("spearman_rho", rho, NOT_AVAILABLE, lambda v: v >= 0.7)
    return out


def _figure(path: Path, model, animals, metadata: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = [next((i for i, a in enumerate(animals) if a.hearing_status == st), None) for st in ("NH", "HI")]
    picks = [i for i in picks if i is not None]
    fig, axes = plt.subplots(len(picks), 2, figsize=(11, 3.2 * len(picks)), squeeze=False, sharex=True)
    for row, i in enumerate(picks):
        a = animals[i]
        s = (
            next(s for s in a.sounds if s.sound_class == "speech")
            if any(s.sound_class == "speech" for s in a.sounds)
            else a.sounds[0]
        )
        pred = expected_counts(predict_sound(model, s.audio, i, s.presentation_hours[:2])).cpu().numpy()
        true = s.counts[:2].astype(np.float64).mean(axis=0)
        vmax = max(float(np.percentile(true, 99.5)), float(np.percentile(pred, 99.5)), 0.05)
        t_end = true.shape[1] / (len(s.audio) / s.counts.shape[2]) if False else len(s.audio) / 24414.0625
        for col, (img, lab) in enumerate(((true, "recorded (mean of 2 trials)"), (pred, "nu-ICNet-6 E[count]"))):
            ax = axes[row, col]
            im = ax.imshow(
                img,
                aspect="auto",
                origin="lower",
                vmin=0,
                vmax=vmax,
                cmap="magma",
                extent=(0, t_end, -0.5, img.shape[0] - 0.5),
                interpolation="nearest",
            )
            ax.set_title(f"{a.animal_id} ({a.hearing_status}) {s.name}: {lab}", fontsize=9)
            ax.set_ylabel("channel (aligned)")
            fig.colorbar(im, ax=ax, fraction=0.04)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)


def _summary(groups: dict, sep: dict[str, dict[str, Any]], trained: set[str]) -> dict[str, Any]:
    """:func:`must_show` of the run, with the Spearman rho's note (over which animals, or why it is missing)."""
    summary = must_show(groups, sep["nu-ICNet-6"]["spearman_rho"], trained)
    note = sep["nu-ICNet-6"]["rho_note"]
    if note and summary["spearman_rho"] is None:
        summary["missing"]["spearman_rho"] = note
    summary["spearman_rho_note"] = note
    summary["spearman_rho_nuicnet3"] = sep.get("nu-ICNet-3", {}).get("spearman_rho")
    return summary


def evaluate_run(
    run_dir: str | os.PathLike | None,
    cohort_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    model_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate the models of a run (and/or one nu-ICNet-6 checkpoint) and write the report files (module docstring).

    Args:
        run_dir: a ``hearloop train --out`` directory (None: only ``model_dir``).
        cohort_dir: the training cohort (test sounds are read from it).
        out_dir: where the report goes.
        model_dir: a nu-ICNet-6 checkpoint to evaluate as "nu-ICNet-6" (e.g. the bundled model); default the run's.

    Returns:
        the summary dict (also written to ``summary.json``).
    """
    import pyarrow as pa
    from tqdm.auto import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = None if run_dir is None else Path(run_dir)
    models: dict[str, Path] = {}
    if run is not None:
        for stage, label in _STAGE_LABEL.items():
            if stage_model_dir(run, stage).is_dir():
                models[label] = stage_model_dir(run, stage)
    if model_dir is not None:
        models["nu-ICNet-6"] = Path(model_dir)
    if "nu-ICNet-6" not in models:
        raise MissingFileError(f"no nu-ICNet-6 model found (run {run_dir}, model {model_dir})")
    main = load_model(models["nu-ICNet-6"])
    animals = _aligned_test_animals(cohort_dir, main.metadata)
    scores: list[SoundScore] = []
    for label, path in tqdm(models.items(), desc="models", disable=not progress):
        model = main if label == "nu-ICNet-6" else load_model(path)
        scores += evaluate_model(model, label, animals)
    if run is not None:
        for a in tqdm(animals, desc="ICNets", disable=not progress):
            path = stage_model_dir(run, "icnet", a.animal_id)
            if path.is_dir():
                scores += evaluate_model(load_model(path), "ICNet", [a], [0])
    groups, per_animal = aggregate(scores, "group"), aggregate(scores, "animal")
    classes = aggregate(scores, "class")
    sep = {
        label: _nu_separation(load_model(p) if label != "nu-ICNet-6" else main, main.metadata)
        for label, p in models.items()
        if label.startswith("nu-ICNet")
    }
    trained = set(models) | ({"ICNet"} if any(s.model == "ICNet" for s in scores) else set())
    summary = _summary(groups, sep, trained)
    distances = sep["nu-ICNet-6"]["distance"] or [None] * len(main.metadata["animals"])
    info = [{**a, "nu_distance": d} for a, d in zip(main.metadata["animals"], distances, strict=True)]
    present = [m for m in TABLE1_MODELS if any(k[0] == m for k in groups)]
    text = [
        "## Table 1: median FEVE and KL on held-out test sounds\n",
        table1_markdown(groups, trained=trained),
        "\n## Per animal (median FEVE over its test sounds)\n",
        animal_table(per_animal, present, info),
        "\n## nu-ICNet-6 per sound class\n",
        class_table(classes, "nu-ICNet-6"),
    ]
    atomic_write_text(out / "table1.md", "".join(text))
    cols = {k: [getattr(s, k) for s in scores] for k in SoundScore.__dataclass_fields__}
    atomic_write_table(out / "scores.parquet", pa.table(cols))
    doc = {
        "must_show": summary,
        "table1": {f"{m}|{s}": v for (m, s), v in groups.items()},
        "per_animal": {f"{m}|{a}": v for (m, a), v in per_animal.items()},
        "nu_separation": sep,
        "models": {k: str(v) for k, v in models.items()},
    }
    atomic_write_text(out / "summary.json", json.dumps(doc, indent=1) + "\n")
    _figure(out / "neurograms.png", main, animals, main.metadata)
    return doc
