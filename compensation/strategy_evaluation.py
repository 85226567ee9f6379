"""Cohort x strategies x sounds evaluation of fidelity restored, raw and at matched output loudness.

For every listener (nu + audiogram), sound and strategy the aided sound is scored with the neural-fidelity objective
(:mod:`compensation.objective`): D = distance between the NH reference's response to the clean sound and the listener's
response to the aided sound, and fidelity restored FR = 1 - D(aided) / D(unaided). Fitting-formula strategies are
prescribed from the listener's audiogram (NAL-R, Byrne & Dillon 1986; WDRC and multiband gain from the same insertion
gains), the DNN compensator from the audiogram too (its nu-conditioned upper bound ``dnn_nu_oracle`` from the
listener's nu).

Matched output loudness. A strategy can raise FR by raising overall level (audibility), so the comparison that counts is
at equal loudness: each aided output is rescaled by one broadband gain so that its A-weighted level L_Aeq
(:mod:`compensation.loudness`) equals that of the NAL-R output for the same listener and sound (``match_to``), then
passed through the strategy's output limiter again. Both numbers are reported: ``fr`` (as prescribed) and
``fr_matched``, with the raw output loudness ``loudness_db`` beside them. Silence is excluded by default (D(unaided)
there reflects only spontaneous activity).

Where it is scored (``objective``): through the nu-ICNet model (default; any listener), or on the virtual-IC generator
itself for listeners that are virtual animals with a ground truth
(:class:`~compensation.generator_objective.GeneratorFidelityObjective`: the animal's own responses against its NH
twin's), so that a ranking from the model can be checked on the animals it stands for.

Result: a pyarrow table with one row per (listener, sound, strategy); :func:`summarise` gives medians per severity
stratum x strategy (x sound class), :func:`write_results` writes Parquet + Markdown (+ plots).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from compensation.generator_objective import OBJECTIVES, generator_objective_for, require_ground_truth
from compensation.loudness import a_weighted_level, match_loudness
from compensation.objective import NeuralFidelityObjective, fidelity_restored
from compensation.population import ListenerSpec, clinical_audiogram
from compensation.strategy import Strategy
from simulator.atomic_io import atomic_write_table, atomic_write_text
from simulator.errors import HearloopInputError

__all__ = [
    "DEFAULT_STRATEGIES",
    "evaluate_strategies",
    "headline",
    "summarise",
    "summary_markdown",
    "write_results",
]

DEFAULT_STRATEGIES: tuple[str, ...] = ("unaided", "nalr", "wdrc", "dnn")

COLUMNS: tuple[str, ...] = (
    "listener", "stratum", "pta_db_hl", "sound", "sound_class", "strategy", "clean_loudness_db", "loudness_db",
    "matched_loudness_db", "d_unaided", "d_aided", "fr", "d_matched", "fr_matched",
)  # fmt: skip


def _theta(strategy: Strategy, listener: ListenerSpec) -> torch.Tensor | None:
    if strategy.n_params == 0:
        return None
    return strategy.prescribe_for(clinical_audiogram(listener.audiogram), listener.nu)


def _check_inputs(listeners, sounds, sound_names, sound_classes, objective: str) -> None:
    """Named errors for :func:`evaluate_strategies`' inputs, raised before any work."""
    if sounds.dim() != 2 or len(sound_names) != sounds.shape[0] or len(sound_classes) != sounds.shape[0]:
        raise HearloopInputError("sounds must be S x samples with one name and one class per sound")
    if not listeners:
        raise HearloopInputError("no listeners to evaluate")
    if objective not in OBJECTIVES:
        raise HearloopInputError(f"unknown objective {objective!r}; supported: {', '.join(OBJECTIVES)}")
    if objective == "generator":
        require_ground_truth(listeners)


def evaluate_strategies(
    model: torch.nn.Module,
    listeners: Sequence[ListenerSpec],
    sounds: torch.Tensor,
    sound_names: Sequence[str],
    sound_classes: Sequence[str],
    strategies: Mapping[str, Strategy],
    reference_nu: Sequence[float] | np.ndarray,
    *,
    distance: str = "l1",
    match_to: str = "nalr",
    batch_size: int = 8,
    progress: bool = True,
    objective: str = "model",
):
    """Score every (listener, sound, strategy); returns a ``pyarrow.Table`` with :data:`COLUMNS`.

    Args:
        model: the frozen nu-ICNet.
        listeners: listeners to evaluate (nu + audiogram each).
        sounds: ``S x samples`` clean sounds (Pa); ``sound_names`` / ``sound_classes`` label them.
        strategies: ``{name: Strategy}``; "unaided" is added when missing (it defines FR), and ``match_to`` is used
            for the loudness reference even if not listed.
        reference_nu: ``D`` NH reference nu.
        distance: objective distance ("l1", "l2", "kl").
        match_to: strategy whose output loudness the matched comparison uses.
        batch_size: sounds per model call.
        progress: tqdm bar over listeners.
        objective: one of :data:`~compensation.generator_objective.OBJECTIVES`: ``"model"`` (the nu-ICNet at the
            listener's nu against the NH reference nu) or ``"generator"`` (each listener's virtual-IC animal
            against its NH twin, :class:`~compensation.generator_objective.GeneratorFidelityObjective`; every listener
            must carry a ``ground_truth``). Prescriptions and loudness are the same on both.

    Raises:
        MissingGroundTruthError: ``objective="generator"`` and a listener without ground truth (before any work).
    """
    import pyarrow as pa
    from tqdm import tqdm

    from compensation.registry import get_strategy

    _check_inputs(listeners, sounds, sound_names, sound_classes, objective)
    strategies = dict(strategies)
    strategies.setdefault("unaided", get_strategy("unaided"))
    reference = strategies.get(match_to) or get_strategy(match_to)
    chunks = [slice(i, min(i + batch_size, sounds.shape[0])) for i in range(0, sounds.shape[0], batch_size)]
    shared = None
    if objective == "model":
        model_objective = NeuralFidelityObjective(model, reference_nu, distance=distance)
        with torch.no_grad():
            shared = (model_objective, [model_objective.target(sounds[c]) for c in chunks])
    clean_db = a_weighted_level(sounds).tolist()
    rows: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for lis in tqdm(listeners, desc="evaluate strategies", disable=not progress):
        if shared is None:
            scorer = generator_objective_for(lis, distance=distance)
            with torch.no_grad():
                scored_by = (scorer, [scorer.target(sounds[c]) for c in chunks])
        else:
            scored_by = shared
        thetas = {name: _theta(s, lis) for name, s in strategies.items()}
        ref_theta = thetas[match_to] if match_to in strategies else _theta(reference, lis)
        for chunk, target in zip(chunks, scored_by[1], strict=True):
            values = _score_chunk(scored_by[0], sounds[chunk], target, lis, strategies, thetas, (reference, ref_theta))
            for name, per_strategy in values.items():
                for j, s in enumerate(range(chunk.start, chunk.stop)):
                    rows["listener"].append(lis.id)
                    rows["stratum"].append(lis.stratum)
                    rows["pta_db_hl"].append(lis.pta)
                    rows["sound"].append(str(sound_names[s]))
                    rows["sound_class"].append(str(sound_classes[s]))
                    rows["strategy"].append(name)
                    rows["clean_loudness_db"].append(clean_db[s])
                    for key, v in per_strategy.items():
                        rows[key].append(float(v[j]))
    return pa.table(rows)


def _score_chunk(objective, clean, target, lis, strategies, thetas, match) -> dict[str, dict[str, torch.Tensor]]:
    """``{strategy: {column: B values}}`` for one listener and one chunk of sounds (``B x samples``)."""
    reference, ref_theta = match
    nu = lis.nu_tensor()
    out = {}
    with torch.no_grad():
        d_unaided = objective(clean, strategies["unaided"](clean), nu, target=target)
        ref_db = a_weighted_level(reference(clean, ref_theta))
        for name, strategy in strategies.items():
            aided = strategy(clean, thetas[name])
            matched = strategy.limiter(match_loudness(aided, ref_db))
            d_aided = objective(clean, aided, nu, target=target)
            d_matched = objective(clean, matched, nu, target=target)
            out[name] = {
                "loudness_db": a_weighted_level(aided),
                "matched_loudness_db": a_weighted_level(matched),
                "d_unaided": d_unaided,
                "d_aided": d_aided,
                "fr": fidelity_restored(d_aided, d_unaided),
                "d_matched": d_matched,
                "fr_matched": fidelity_restored(d_matched, d_unaided),
            }
    return out


def summarise(table, by: Sequence[str] = ("stratum", "strategy")) -> list[dict[str, Any]]:
    """Median (and quartiles) of ``fr`` and ``fr_matched`` and median loudness, grouped by the ``by`` columns."""
    data = table.to_pydict()
    keys = list(zip(*(data[c] for c in by), strict=True))
    out = []
    for key in sorted(set(keys), key=lambda k: tuple(str(v) for v in k)):
        idx = [i for i, k in enumerate(keys) if k == key]
        fr = np.array([data["fr"][i] for i in idx])
        frm = np.array([data["fr_matched"][i] for i in idx])
        loud = np.array([data["loudness_db"][i] for i in idx])
        row = dict(zip(by, key, strict=True))
        row.update(
            n=len(idx),
            median_fr=float(np.median(fr)),
            median_fr_matched=float(np.median(frm)),
            q25_fr_matched=float(np.percentile(frm, 25)),
            q75_fr_matched=float(np.percentile(frm, 75)),
            median_loudness_db=float(np.median(loud)),
        )
        out.append(row)
    return out


def summary_markdown(table, title: str = "Fidelity restored") -> str:
    """Markdown: medians per stratum x strategy, then per stratum x sound class x strategy (matched loudness)."""
    lines = [f"# {title}", "", "FR = 1 - D(aided)/D(unaided); *matched*: every output at the L_Aeq of NAL-R's.", ""]
    lines += ["| stratum | strategy | n | median FR | median FR (matched) | IQR (matched) | median L_Aeq dB(A) |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for r in summarise(table):
        lines.append(
            f"| {r['stratum']} | {r['strategy']} | {r['n']} | {r['median_fr']:.3f} | {r['median_fr_matched']:.3f} | "
            f"{r['q25_fr_matched']:.3f}..{r['q75_fr_matched']:.3f} | {r['median_loudness_db']:.1f} |"
        )
    lines += ["", "## Headline", ""] + [f"- {line}" for line in headline(table)]
    lines += ["", "## By sound class (median FR at matched loudness)", ""]
    by_class = summarise(table, ("stratum", "sound_class", "strategy"))
    strategies = sorted({r["strategy"] for r in by_class})
    lines += ["| stratum | sound class | " + " | ".join(strategies) + " |"]
    lines += ["|---|---|" + "---|" * len(strategies)]
    cells: dict[tuple[str, str], dict[str, float]] = {}
    for r in by_class:
        cells.setdefault((r["stratum"], r["sound_class"]), {})[r["strategy"]] = r["median_fr_matched"]
    for (stratum, cls), vals in sorted(cells.items()):
        lines.append(f"| {stratum} | {cls} | " + " | ".join(f"{vals.get(s, float('nan')):.3f}" for s in strategies))
    return "\n".join(lines) + "\n"


def _group_median(data: dict[str, list], column: str, strata: set[str], strategy: str) -> float:
    """Median of ``column`` over the rows of ``strategy`` whose stratum is in ``strata``."""
    vals = [v for v, st, g in zip(data[column], data["stratum"], data["strategy"], strict=True)
            if st in strata and g == strategy]  # fmt: skip
    return float(np.median(vals))


def headline(table, challenger: str = "dnn", baselines: Sequence[str] = ("nalr", "wdrc")) -> list[str]:
    """The comparisons that matter, one line each: per stratum (and over all hearing-impaired listeners) the median FR
    of every strategy at matched loudness, whether NAL-R as prescribed beats unaided (its median FR at its own output
    level is above 0, the FR of unaided by definition), whether NAL-R's frequency shaping beats a flat gain to the same
    level (the "unaided" row at matched loudness), and whether ``challenger`` beats each baseline at matched loudness.

    Medians are over (listener, sound) pairs of that group; ``n`` counts listeners.
    """
    data = table.to_pydict()
    present = list(dict.fromkeys(data["strategy"]))
    strata = list(dict.fromkeys(data["stratum"]))
    groups = [(s, {s}) for s in strata]
    hi = {s for s in strata if s != "NH"}
    if len(hi) > 1:
        groups.append(("all HI", hi))
    lines = []
    for label, members in groups:
        med = {name: _group_median(data, "fr_matched", members, name) for name in present}
        prescribed = {name: _group_median(data, "fr", members, name) for name in present}
        n = len({lis for lis, st in zip(data["listener"], data["stratum"], strict=True) if st in members})
        cells = ", ".join(f"{k} {v:+.3f}" for k, v in med.items())
        checks = []
        if "nalr" in med and "unaided" in med:
            checks.append(
                f"NAL-R as prescribed > unaided: {'yes' if prescribed['nalr'] > prescribed['unaided'] else 'NO'} "
                f"({prescribed['nalr']:+.3f} vs {prescribed['unaided']:+.3f})"
            )
            checks.append(f"NAL-R > flat gain at its level: {'yes' if med['nalr'] > med['unaided'] else 'NO'}")
        if challenger in med:
            for base in baselines:
                if base in med:
                    checks.append(f"{challenger} > {base}: {'yes' if med[challenger] > med[base] else 'NO'}")
        lines.append(f"{label} (n={n}): median FR at matched loudness: {cells}" + (f" | {'; '.join(checks)}"
                     if checks else ""))  # fmt: skip
    return lines


def write_results(table, out_dir: str | os.PathLike, *, plots: bool = True, title: str = "Fidelity restored") -> Path:
    """Write ``results.parquet``, ``summary.md`` (and ``fidelity_by_strategy.png``) into ``out_dir``; returns it."""
    out = Path(out_dir)
    atomic_write_table(out / "results.parquet", table)
    atomic_write_text(out / "summary.md", summary_markdown(table, title))
    if plots:
        from compensation.strategy_plots import plot_fidelity

        plot_fidelity(table, out / "fidelity_by_strategy.png")
    return out
