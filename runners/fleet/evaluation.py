"""The fleet's evaluation step: every strategy as the listener hears it, at matched loudness, against the volume knob.

For one listener, its evaluation sounds (never the HITL tuning sounds) and every strategy's aided output, the scores
come from :func:`compensation.compare_with_volume_control` -- one definition for every comparison in hearloop:

* as prescribed: the output through the comfort-aware output limit (what the listener hears; never above the comfort
  limit of its loudness model, built from its true audiogram);
* at matched loudness: scaled until the listener hears it as loud as normal hearing hears the clean sound;
* the volume control: the best single broadband gain under the same comfort limit, scored as strategy
  ``"volume control"``, and each strategy's gain over it.

Rows (step ``evaluation``; per ``sound`` unless marked *per strategy*; main distance unsuffixed):

* ``d_unaided``, ``d_scale`` (D_0, the NH reference's distance to silence), ``nh_loudness_phon``,
  ``unaided_loudness_phon``;
* per strategy and sound: ``d_aided``, ``fidelity_restored``, ``d_matched``, ``fidelity_restored_matched``,
  ``benefit``, ``benefit_matched``, ``loudness_phon``, ``comfort_gain_db``;
* per strategy: ``fidelity_restored_mean``, ``fidelity_restored_matched_mean``, ``benefit_mean``,
  ``benefit_matched_mean``, ``loudness_phon_mean``, ``above_comfort_phon`` (largest loudness minus the comfort limit),
  ``fr_over_volume_control``, ``benefit_over_volume_control``; ``volume_gain_db`` for the volume control;
* every extra distance: ``d_unaided_<d>``, ``d_aided_<d>``, ``fidelity_restored_<d>``, ``fidelity_restored_mean_<d>``
  of the outputs as heard;
* ``d_unaided_nh_animal`` per NH training animal (``param`` = its id) and sound: the animal's response to the clean
  sound (at its learned nu) against the NH reference's (:func:`nh_animal_distances`), the same in every job. It is the
  spread of normal hearing in the model, against which an NH listener's own ``d_unaided`` is read: a listener with a
  normal audiogram whose unaided distance lies beyond it does not respond like any NH animal.

Step ``comfort`` (strategy ""): ``comfort_limit_phon``, ``ucl_phon``, and per sound the listener's comfortable range
as presentation levels, ``comfortable_lower_db``, ``comfortable_upper_db``, ``ucl_db``
(:func:`compensation.comfortable_levels`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

PER_SOUND = ("d", "fr", "d_matched", "fr_matched", "benefit", "benefit_matched", "loudness_phon", "comfort_gain_db")
_ROW_NAMES = {"d": "d_aided", "fr": "fidelity_restored", "fr_matched": "fidelity_restored_matched"}


def record_comfort(comfort: Any, clean: torch.Tensor, sound_names: Sequence[str], rows: Any) -> None:
    """The listener's comfort limit, UCL and comfortable levels per sound (step ``comfort``)."""
    from compensation import comfortable_levels

    phons = comfort.comfort.phons()
    rows.add("comfort", "comfort_limit_phon", phons["upper"])
    rows.add("comfort", "ucl_phon", phons["ucl"])
    levels = comfortable_levels(clean, comfort.loudness, comfort.comfort)
    for key, metric in (("lower_db", "comfortable_lower_db"), ("upper_db", "comfortable_upper_db"),
                        ("ucl_db", "ucl_db")):  # fmt: skip
        for sound, value in zip(sound_names, levels[key].tolist(), strict=True):
            rows.add("comfort", metric, value, sound=sound)


def record_comparison(comparison: Any, sound_names: Sequence[str], rows: Any) -> None:
    """The rows of a :class:`compensation.Comparison` (module docstring)."""
    from compensation import VOLUME_CONTROL

    for metric, values in (("d_unaided", comparison.d_unaided), ("d_scale", comparison.d_scale),
                           ("nh_loudness_phon", comparison.nh_phon),
                           ("unaided_loudness_phon", comparison.unaided_phon)):  # fmt: skip
        for sound, v in zip(sound_names, values.tolist(), strict=True):
            rows.add("evaluation", metric, v, sound=sound)
    summary = comparison.summary()
    for name, scores in comparison.strategies.items():
        for key in PER_SOUND:
            for sound, v in zip(sound_names, getattr(scores, key).tolist(), strict=True):
                rows.add("evaluation", _ROW_NAMES.get(key, key), v, strategy=name, sound=sound)
        row = summary[name]
        for metric, value in (
            ("fidelity_restored_mean", row["fr"]), ("fidelity_restored_matched_mean", row["fr_matched"]),
            ("benefit_mean", row["benefit"]), ("benefit_matched_mean", row["benefit_matched"]),
            ("loudness_phon_mean", row["loudness_phon"]), ("above_comfort_phon", row["above_comfort"]),
            ("fr_over_volume_control", row["fr_over_vc"]), ("benefit_over_volume_control", row["benefit_over_vc"]),
        ):  # fmt: skip
            rows.add("evaluation", metric, value, strategy=name)
    rows.add("evaluation", "volume_gain_db", comparison.volume.gain_db, strategy=VOLUME_CONTROL)


@torch.no_grad()
def nh_animal_distances(
    objective: Any, model: Any, clean: torch.Tensor, target: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Each NH training animal's unaided distance: ``{animal id: S}`` (CPU), D(NH reference's response to ``clean``,
    the animal's response to ``clean`` at its learned mean nu at the start of recording).

    Args:
        objective: the :class:`compensation.objective.NeuralFidelityObjective` (its NH reference).
        model: the nu-ICNet whose metadata lists the training animals and their status.
        clean: ``S x samples`` clean sounds (Pa); target: the NH reference's cached response to them.
    """
    from listeners import animal_nus, nh_animal_indices

    nus = animal_nus(model)
    animals = model.metadata["animals"]
    out = {}
    for k in nh_animal_indices(model):
        nu = torch.as_tensor(nus[k], dtype=torch.float32, device=clean.device).unsqueeze(0)
        out[str(animals[k].get("id", f"animal{k}"))] = objective(clean, clean, nu, target=target).cpu()
    return out


@torch.no_grad()
def evaluate_listener(
    worker: Any, nu: torch.Tensor, aided: Mapping[str, torch.Tensor], comfort: Any, rows: Any
) -> None:
    """Score every strategy's ``aided`` output (``{name: S x samples}``) for one listener (module docstring).

    Args:
        worker: the :class:`runners.fleet.pipeline.FleetWorker` (objectives, NH targets, evaluation sounds, the NH
            animals' unaided distances).
        nu: ``1 x D`` the listener's conditioning.
        aided: each strategy's output before the comfort limit (its own peak limiter applied).
        comfort: the listener's :class:`compensation.ListenerComfort` (its own perception).
        rows: the job's result rows.
    """
    from compensation import compare_with_volume_control
    from compensation.objective import fidelity_restored

    clean = worker.sounds
    comparison = compare_with_volume_control(
        worker.objective, clean, nu, aided, comfort.loudness, comfort.comfort, target=worker.target
    )
    record_comparison(comparison, worker.sound_names, rows)
    for animal, distances in worker.nh_animal_d_unaided.items():
        for sound, d in zip(worker.sound_names, distances.tolist(), strict=True):
            rows.add("evaluation", "d_unaided_nh_animal", d, param=animal, sound=sound)
    heard = {name: comfort.limit(out) for name, out in aided.items()}
    for suffix, (objective, target) in worker.metrics.items():
        if not suffix:
            continue  # the main distance is recorded from the comparison above
        d_unaided = objective(clean, clean, nu, target=target).cpu()
        for sound, d in zip(worker.sound_names, d_unaided.tolist(), strict=True):
            rows.add("evaluation", f"d_unaided{suffix}", d, sound=sound)
        for name, audio in heard.items():
            d_aided = objective(clean, audio, nu, target=target).cpu()
            fr = fidelity_restored(d_aided, d_unaided)
            for sound, d, f in zip(worker.sound_names, d_aided.tolist(), fr.tolist(), strict=True):
                rows.add("evaluation", f"d_aided{suffix}", d, strategy=name, sound=sound)
                rows.add("evaluation", f"fidelity_restored{suffix}", f, strategy=name, sound=sound)
            rows.add("evaluation", f"fidelity_restored_mean{suffix}", float(np.mean(fr.numpy())), strategy=name)
