"""Fresh animals' fitted nu against the training animals': where the fits land in the model's conditioning space.

A fresh animal (:func:`listeners.unseen.generate_unseen_animals`) gets its nu by Bayesian optimisation on its fitting
window (:func:`runners.ground_truth.fit_fresh_animals`). :func:`nu_report` records, per fresh animal, that nu, the
generator's ground truth of the animal (hearing-loss shape and parameters, severity, central gain, synaptopathy), its
PTA (true audiogram), its held-out FEVE at the fitted nu, and how far the fitted nu lies from the training animals of
the same hearing status:

* ``distance_nearest``: ``min_k ||nu - nu_k||_2`` over the training animals' learned nu
  (:func:`simulator.evaluation.evaluate.nu_distances`), in the space the model is conditioned on, nu in [0, 1]^D (not
  logits): the space of the model card's ``||nu - NH centre||``;
* ``distance_centre``: ``||nu - mean_k nu_k||_2``, to the training group's centre;
* ``nu_minus_nearest``: the per-dimension difference to the nearest training animal (which dimension differs);
* ``outside_training_range``: per dimension, how far nu lies beyond the training group's [min, max] (0 inside).

For scale, each training animal's distance to its nearest *other* training animal of the same status is reported too
(``nearest_other``). ``target_distance`` (:data:`NU_DISTANCE_TARGET`, 0.15) is the figure each fresh animal's
``distance_nearest`` is held against (``within_target``). The held-out FEVE at the fitted nu (per animal, and its
median per status in ``median_heldout_feve``) is the figure to hold against the training animals' Table 1 FEVE, the
other reading of "fresh animals at their fitted nu within 0.15 of the training animals".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from compensation.ground_truth import LoopAnimal
from runners.ground_truth import FreshFit
from simulator.atomic_io import atomic_write_text
from simulator.errors import HearloopInputError
from simulator.evaluation.evaluate import nu_distances

__all__ = [
    "NU_DISTANCE_TARGET",
    "nu_report",
    "nu_report_markdown",
    "write_nu_report",
]

NU_DISTANCE_TARGET = 0.15
"""Euclidean nu distance (conditioning space [0, 1]^D) of a fresh animal's fitted nu to the nearest training animal."""


def _generator(ground_truth: dict[str, Any] | None) -> dict[str, Any]:
    """The generator parameters that make an animal's hearing (from its ground truth; {} when it has none)."""
    if not ground_truth:
        return {}
    profile = ground_truth.get("profile", {})
    return {
        "severity_db_hl": ground_truth.get("severity_db_hl"),
        "shape": profile.get("shape"),
        "shape_params": profile.get("shape_params"),
        "ohc_loss_db_mean": float(np.mean(profile["ohc_loss_db"])) if "ohc_loss_db" in profile else None,
        "ihc_loss_db_mean": float(np.mean(profile["ihc_loss_db"])) if "ihc_loss_db" in profile else None,
        "synaptopathy": profile.get("synaptopathy"),
        "central_gain": profile.get("central_gain"),
        "periphery": (ground_truth.get("periphery") or {}).get("name", "gammatone"),
    }


def _animal_entry(animal: LoopAnimal) -> dict[str, Any]:
    spec = animal.listener
    audiogram = {str(f): v for f, v in spec.audiogram.items()}
    return {"id": spec.id, "status": animal.status, "nu": spec.nu.tolist(), "pta_db_hl": spec.pta,
            "audiogram_db_hl": audiogram, "generator": _generator(animal.params)}  # fmt: skip


def _training_group(training: Sequence[LoopAnimal], status: str) -> tuple[list[LoopAnimal], np.ndarray]:
    group = [a for a in training if a.status == status]
    if not group:
        raise HearloopInputError(f"no training animal of status {status!r} to compare the fresh {status} animals with")
    return group, np.stack([a.listener.nu for a in group])


def _training_entries(training: Sequence[LoopAnimal]) -> list[dict[str, Any]]:
    """Each training animal with its nearest other training animal of the same status (for the distances' scale)."""
    out = []
    for status in dict.fromkeys(a.status for a in training):
        group, nus = _training_group(training, status)
        for k, animal in enumerate(group):
            entry = _animal_entry(animal)
            if len(group) > 1:
                others = [a for j, a in enumerate(group) if j != k]
                d = nu_distances(nus[k : k + 1], np.delete(nus, k, axis=0))
                entry["nearest_other"] = {"id": others[int(d.nearest_index[0])].listener.id,
                                          "distance": float(d.nearest[0])}  # fmt: skip
            out.append(entry)
    return out


def _fresh_entry(fit: FreshFit, training: Sequence[LoopAnimal], target: float) -> dict[str, Any]:
    group, nus = _training_group(training, fit.animal.status)
    nu = fit.animal.listener.nu
    d = nu_distances(nu[None], nus)
    k = int(d.nearest_index[0])
    lo, hi = nus.min(axis=0), nus.max(axis=0)
    return {
        **_animal_entry(fit.animal),
        "heldout_feve": fit.heldout_feve,
        "nearest_training": group[k].listener.id,
        "distance_nearest": float(d.nearest[0]),
        "distance_centre": float(d.centre[0]),
        "within_target": bool(d.nearest[0] <= target),
        "nu_minus_nearest": (nu - nus[k]).tolist(),
        "outside_training_range": (np.minimum(nu - lo, 0.0) + np.maximum(nu - hi, 0.0)).tolist(),
    }


def nu_report(
    fresh: Sequence[FreshFit], training: Sequence[LoopAnimal], target: float = NU_DISTANCE_TARGET
) -> dict[str, Any]:
    """Fitted nu of the fresh animals against the training animals' learned nu (module docstring); JSON-ready.

    Raises:
        HearloopInputError: no fresh animal, a fresh animal whose status no training animal has, or a target that is
            not a positive number.
    """
    if not fresh:
        raise HearloopInputError("no fresh animal to report")
    if not (np.isfinite(target) and target > 0):
        raise HearloopInputError(f"target_distance must be a positive number; got {target}")
    entries = [_fresh_entry(f, training, target) for f in fresh]
    statuses = dict.fromkeys(a.status for a in training)
    centres = {s: _training_group(training, s)[1].mean(axis=0).tolist() for s in statuses}
    return {
        "distance": "Euclidean, model conditioning space nu in [0, 1]^D, to the training animals of the same status",
        "target_distance": float(target),
        "fresh": entries,
        "training": _training_entries(training),
        "training_centre": centres,
        "n_within_target": sum(e["within_target"] for e in entries),
        "median_heldout_feve": {
            s: float(np.nanmedian([e["heldout_feve"] for e in entries if e["status"] == s]))
            for s in dict.fromkeys(e["status"] for e in entries)
        },
    }


def nu_report_markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown section (a table per fresh animal; the training animals' spacing below it)."""
    target = report["target_distance"]
    lines = [
        "## Fresh animals' fitted nu against the training animals",
        "",
        f"Euclidean distance in the model's conditioning space (nu in [0, 1]^D) to the training animals of the same "
        f"status; target <= {target:.2f} to the nearest. {report['n_within_target']} of {len(report['fresh'])} within.",
        "",
        "| animal | PTA dB HL | shape | central gain | held-out FEVE | nearest training | distance nearest | "
        "distance centre | largest difference to nearest (dim) | fitted nu |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in report["fresh"]:
        diff = np.abs(np.asarray(e["nu_minus_nearest"]))
        g = e["generator"]
        gain = g.get("central_gain")
        lines.append(
            f"| {e['id']} | {e['pta_db_hl']:.1f} | {g.get('shape')} | {'-' if gain is None else f'{gain:.2f}'} | "
            f"{e['heldout_feve']:.3f} | {e['nearest_training']} | {e['distance_nearest']:.3f} | "
            f"{e['distance_centre']:.3f} | {float(np.asarray(e['nu_minus_nearest'])[diff.argmax()]):+.3f} "
            f"({int(diff.argmax())}) | "
            f"{', '.join(f'{v:.2f}' for v in e['nu'])} |"
        )
    spacing = [f"{e['id']} {e['nearest_other']['distance']:.3f}" for e in report["training"] if "nearest_other" in e]
    feve = ", ".join(f"{s} {v:.3f}" for s, v in report["median_heldout_feve"].items())
    lines += ["", "Training animals' distance to their nearest other training animal: " + ", ".join(spacing), "",
              f"Median held-out FEVE of the fresh animals at their fitted nu: {feve}.", ""]  # fmt: skip
    return "\n".join(lines)


def write_nu_report(report: dict[str, Any], out_dir: str | Path) -> Path:
    """Write ``fresh_animals.json`` and ``fresh_animals.md`` into ``out_dir`` (atomically); returns the JSON's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "fresh_animals.md", nu_report_markdown(report))
    atomic_write_text(out / "fresh_animals.json", json.dumps(report, indent=2, allow_nan=True) + "\n")
    return out / "fresh_animals.json"
