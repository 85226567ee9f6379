"""Markdown tables of evaluation results in the layout of Table 1 of [Pellatt2025]_: one row per model (single-branch
ICNet, nu-ICNet-3, nu-ICNet-6, ABRNet), median FEVE and KL on held-out test sounds, split into NH and HI animals.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

__all__ = ["TABLE1_MODELS", "animal_table", "class_table", "table1_markdown"]

TABLE1_MODELS: tuple[str, ...] = ("ICNet", "nu-ICNet-3", "nu-ICNet-6", "ABRNet")
"""Row order of Table 1 (model labels used by the evaluator)."""


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def table1_markdown(
    groups: Mapping[tuple[str, str], Mapping[str, float]],
    models: Sequence[str] = TABLE1_MODELS,
    trained: Collection[str] | None = None,
) -> str:
    """Table 1 as Markdown.

    Args:
        groups: ``{(model, "NH"|"HI"): {"feve": median, "kl": median, ...}}`` (e.g. from
            :func:`simulator.evaluation.evaluate.aggregate` with ``by="group"``).
        models: row order; a group without results is shown with a dash.
        trained: the models the run has; any other row says "not trained" (None: every row is shown).

    Returns:
        Markdown text: a header, a separator and one row per model with NH FEVE, NH KL, HI FEVE, HI KL.
    """
    lines = [
        "| Model | NH FEVE ↑ | NH KL ↓ | HI FEVE ↑ | HI KL ↓ |",
        "|---|---:|---:|---:|---:|",
    ]
    for m in models:
        if trained is not None and m not in trained:
            lines.append(f"| {m} | not trained | | | |")
            continue
        cells = []
        for status in ("NH", "HI"):
            g = groups.get((m, status), {})
            cells += [_fmt(g.get("feve")), _fmt(g.get("kl"))]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def animal_table(
    animals: Mapping[tuple[str, str], Mapping[str, float]],
    models: Sequence[str],
    info: Sequence[Mapping[str, object]],
) -> str:
    """Per-animal median FEVE of each model, with status and true severity; ``info`` rows have id/status/severity_db
    (the ground truth ``severity_db_hl``, or None: "not available") and optionally ``nu_distance``."""
    head = ("| Animal | Status | True loss (dB HL, ground truth) | ‖ν − NH‖ | "
            + " | ".join(f"{m} FEVE" for m in models) + " |")  # fmt: skip
    lines = [head, "|---|---|---:|---:|" + "---:|" * len(models)]
    for row in info:
        a = str(row["id"])
        sev = row.get("severity_db")
        sev_text = "not available" if sev is None else _fmt(sev, 1)  # type: ignore[arg-type]
        dist = row.get("nu_distance")
        cells = [_fmt(animals.get((m, a), {}).get("feve")) for m in models]
        lines.append(
            f"| {a} | {row['status']} | {sev_text} | {_fmt(dist)} | " + " | ".join(cells) + " |"  # type: ignore[arg-type]
        )
    return "\n".join(lines) + "\n"


def class_table(classes: Mapping[tuple[str, str, str], Mapping[str, float]], model: str) -> str:
    """Median FEVE and KL of one model per sound class, NH and HI."""
    names = sorted({k[2] for k in classes if k[0] == model})
    lines = ["| Sound class | NH FEVE | NH KL | HI FEVE | HI KL |", "|---|---:|---:|---:|---:|"]
    for c in names:
        cells = []
        for status in ("NH", "HI"):
            g = classes.get((model, status, c), {})
            cells += [_fmt(g.get("feve")), _fmt(g.get("kl"))]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
