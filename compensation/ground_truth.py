"""The ground-truth loop: every strategy of a grid scored through the model and on the generator itself.

A strategy ranking from the nu-ICNet model is only worth what it would be on the animals the model stands for. For a
virtual-IC animal both can be measured on the *same* aided sound:

* **through the model**: :class:`~compensation.objective.NeuralFidelityObjective` with the animal's nu (the learned nu
  of a training animal, the fitted nu of a fresh one) against the NH reference nu;
* **on the generator**: :class:`~compensation.generator_objective.GeneratorFidelityObjective`, the animal's own
  responses against its NH twin's.

The grid (:func:`strategy_grid`) per animal and sound:

* ``unaided`` (fidelity restored 0 by definition on both sides);
* ``flat-10`` ... ``flat+50``: the clean sound with one broadband gain putting its A-weighted level 5 dB steps from -10
  to +50 dB re NAL-R's output for that animal and sound (:data:`FLAT_GAINS_DB`), through the output limiter: a volume
  knob, the baseline every fitted aid has to beat;
* ``nalr``, ``multiband``, ``wdrc`` as prescribed from the animal's audiogram, ``dnn`` from its audiogram and nu;
* ``hitl``: a fitted setting per animal when given (e.g. a HITL session's incumbent).

Rows (:data:`COLUMNS`) hold both fidelities restored, FR = 1 - D(aided)/D(unaided), and the output level;
:mod:`compensation.ground_truth_agreement` turns them into agreement figures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from compensation.generator_objective import GeneratorFidelityObjective
from compensation.loudness import a_weighted_level, match_loudness
from compensation.objective import NeuralFidelityObjective, fidelity_restored
from compensation.population import ListenerSpec, clinical_audiogram
from compensation.strategy import Strategy
from simulator.errors import HearloopInputError

__all__ = ["COLUMNS", "FLAT_GAINS_DB", "LoopAnimal", "flat_name", "ground_truth_loop", "strategy_grid"]

FLAT_GAINS_DB: tuple[int, ...] = tuple(range(-10, 55, 5))
"""Flat-gain conditions: A-weighted output level re NAL-R's output for the same animal and sound (dB)."""

FITTED: tuple[str, ...] = ("nalr", "multiband", "wdrc", "dnn")
"""Strategies prescribed per animal (the DNN from its nu as well)."""

COLUMNS: tuple[str, ...] = (
    "cohort", "animal", "status", "pta_db_hl", "sound", "sound_class", "condition", "kind", "loudness_db",
    "level_re_nalr_db", "d_unaided_model", "d_model", "fr_model", "d_unaided_generator", "d_generator", "fr_generator",
)  # fmt: skip


def flat_name(gain_db: int) -> str:
    """Condition name of a flat gain, ``flat-10``, ``flat+00``, ``flat+50``."""
    return f"flat{int(gain_db):+03d}"


@dataclasses.dataclass
class LoopAnimal:
    """One virtual animal of the loop.

    Attributes:
        cohort: ``"training"`` or ``"fresh"`` (any label; agreement is reported per cohort).
        listener: its id, nu (learned or fitted) and audiogram (dB HL) for the prescriptions.
        params: its generator ground truth (``AnimalRecording.ground_truth`` or ``AnimalParams``).
        status: ``"NH"`` or ``"HI"``.
        hitl: optional fitted setting ``(strategy, theta)`` scored as condition ``"hitl"``.
    """

    cohort: str
    listener: ListenerSpec
    params: Any
    status: str
    hitl: tuple[Strategy, torch.Tensor] | None = None


def strategy_grid(
    clean: torch.Tensor,
    animal: LoopAnimal,
    strategies: Mapping[str, Strategy],
    flat_gains_db: Sequence[int] = FLAT_GAINS_DB,
) -> dict[str, tuple[str, torch.Tensor]]:
    """The aided versions of ``clean`` (``B x samples`` Pa) for one animal: ``{condition: (kind, aided)}``.

    ``strategies`` must hold ``"unaided"`` and ``"nalr"`` (the flat gains are set re NAL-R's output level); the other
    :data:`FITTED` strategies are scored when present. Kinds: ``"unaided"``, ``"flat"``, ``"fitted"``, ``"hitl"``.
    """
    for needed in ("unaided", "nalr"):
        if needed not in strategies:
            raise HearloopInputError(f"the strategy grid needs {needed!r}; got {sorted(strategies)}")
    audiogram = clinical_audiogram(animal.listener.audiogram)
    out: dict[str, tuple[str, torch.Tensor]] = {"unaided": ("unaided", strategies["unaided"](clean))}
    fitted = {}
    for name in FITTED:
        if name in strategies:
            strategy = strategies[name]
            fitted[name] = strategy(clean, strategy.prescribe_for(audiogram, animal.listener.nu))
    nalr_db = a_weighted_level(fitted["nalr"])
    limiter = strategies["unaided"].limiter
    for gain in flat_gains_db:
        out[flat_name(gain)] = ("flat", limiter(match_loudness(clean, nalr_db + float(gain))))
    out.update({name: ("fitted", aided) for name, aided in fitted.items()})
    if animal.hitl is not None:
        strategy, theta = animal.hitl
        out["hitl"] = ("hitl", strategy(clean, theta))
    return out


def _score(objective, clean, aided: Mapping[str, tuple[str, torch.Tensor]], nu, target) -> dict[str, float]:
    """Distance of every condition's aided version of one sound ``clean`` (``1 x samples``), in one batched call."""
    stacked = torch.cat([x for _, x in aided.values()])
    with torch.no_grad():
        d = objective(clean, stacked, nu, target=target).detach().cpu().double().numpy()
    return dict(zip(aided, d.tolist(), strict=True))


def _animal_rows(model_obj, animal: LoopAnimal, sounds, names, classes, strategies, flat_gains_db, distance):
    """Rows of one animal over all sounds (a sound at a time, every condition of it in one objective call)."""
    gen_obj = GeneratorFidelityObjective(animal.params, distance=distance)
    nu = animal.listener.nu_tensor()
    rows: list[dict[str, Any]] = []
    for s in range(sounds.shape[0]):
        clean = sounds[s : s + 1]
        with torch.no_grad():
            aided = strategy_grid(clean, animal, strategies, flat_gains_db)
            level = {name: float(a_weighted_level(x)[0]) for name, (_, x) in aided.items()}
        d_model = _score(model_obj, clean, aided, nu, model_obj.target(clean))
        d_gen = _score(gen_obj, clean, aided, None, gen_obj.target(clean))
        for name, (kind, _) in aided.items():
            rows.append({
                "cohort": animal.cohort, "animal": animal.listener.id, "status": animal.status,
                "pta_db_hl": animal.listener.pta, "sound": str(names[s]), "sound_class": str(classes[s]),
                "condition": name, "kind": kind, "loudness_db": level[name],
                "level_re_nalr_db": level[name] - level["nalr"],
                "d_unaided_model": d_model["unaided"], "d_model": d_model[name],
                "fr_model": float(fidelity_restored(d_model[name], d_model["unaided"])),
                "d_unaided_generator": d_gen["unaided"], "d_generator": d_gen[name],
                "fr_generator": float(fidelity_restored(d_gen[name], d_gen["unaided"])),
            })  # fmt: skip
    return rows


def ground_truth_loop(
    model: torch.nn.Module,
    animals: Sequence[LoopAnimal],
    sounds: torch.Tensor,
    sound_names: Sequence[str],
    sound_classes: Sequence[str],
    strategies: Mapping[str, Strategy],
    reference_nu: Sequence[float] | np.ndarray,
    *,
    distance: str = "l1",
    flat_gains_db: Sequence[int] = FLAT_GAINS_DB,
    progress: bool = True,
):
    """Score the grid for every animal and sound through the model and on the generator.

    Args:
        model: the frozen nu-ICNet.
        animals: the virtual animals (:class:`LoopAnimal`).
        sounds: ``S x samples`` clean sounds (Pa) with their names and classes (leave silence out: its D(unaided)
            is spontaneous activity alone).
        strategies: ``{name: Strategy}`` with at least ``"unaided"`` and ``"nalr"`` (:func:`strategy_grid`).
        reference_nu: ``D`` NH reference nu of the model objective.
        distance: ``"l1"``, ``"l2"`` or ``"kl"``, the same on both sides.
        flat_gains_db: flat-gain levels re NAL-R's output (dB).
        progress: tqdm bar over animals.

    Returns:
        a ``pyarrow.Table`` with :data:`COLUMNS`, one row per (animal, sound, condition).
    """
    import pyarrow as pa
    from tqdm import tqdm

    if sounds.dim() != 2 or not (len(sound_names) == len(sound_classes) == sounds.shape[0]):
        raise HearloopInputError("sounds must be S x samples with one name and one class per sound")
    if not animals:
        raise HearloopInputError("no animals to score")
    model_obj = NeuralFidelityObjective(model, reference_nu, distance=distance)
    rows: list[dict[str, Any]] = []
    for animal in tqdm(animals, desc="ground-truth loop", disable=not progress):
        rows += _animal_rows(model_obj, animal, sounds, sound_names, sound_classes, strategies, flat_gains_db, distance)
    return pa.table({c: [r[c] for r in rows] for c in COLUMNS})
