"""Fleet-report sections that set every strategy against the volume knob, keep NH listeners apart and show comfort.

* Hearing-impaired listeners: fidelity restored as heard (through the comfort-aware output limit), at matched loudness,
  and over the volume-control baseline (:mod:`runners.fleet.evaluation`); NH listeners never enter these means.
* NH listeners: the benefit (D(unaided) - D(aided)) / D_0 (a scale of the sound alone), as heard and at matched
  loudness, with the check that it stays within +-:data:`NH_BENEFIT_BAND`; per NH listener, its unaided distance
  against the NH training animals' (a normal audiogram does not make a response normal) and its largest benefit.
* Comfort: the loudest output any strategy delivered against the comfort limit, and each listener's comfortable range.
* HITL honesty: tuning sounds disjoint from evaluation sounds, sessions that end above the comfort limit (none can) and
  sessions that end with a tuned coordinate on the edge of the search box.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from compensation.comparison import VOLUME_CONTROL
from runners.fleet import plots

NH_BENEFIT_BAND: float = 0.05
"""NH listeners' benefit from any strategy is expected within +-this (no hearing loss to compensate)."""


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _table(header: list[str], body: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in body]


def _by(table: Any, metric: str, step: str = "evaluation") -> dict[tuple[str, str], dict[str, Any]]:
    """``{(listener, strategy): row}`` of one per-strategy metric."""
    return {(r["listener"], r["strategy"]): r for r in plots.rows(table, step, metric)}


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _impaired(table: Any) -> list[str]:
    fr = _by(table, "fidelity_restored_mean")
    if not fr:
        return []
    matched, over = _by(table, "fidelity_restored_matched_mean"), _by(table, "fr_over_volume_control")
    loud, gain = _by(table, "loudness_phon_mean"), _by(table, "volume_gain_db")
    keys = [k for k, r in fr.items() if r["stratum"] != plots.NH_STRATUM]
    listeners = sorted({k[0] for k in keys})
    strategies = list(dict.fromkeys(k[1] for k in keys))
    strata = [s for s in plots.STRATUM_COLOURS if any(fr[k]["stratum"] == s for k in keys)]
    body = []
    for s in strategies:
        mine = [k for k in keys if k[1] == s]
        cells = [_fmt(_mean([fr[k]["value"] for k in mine if fr[k]["stratum"] == st])) for st in strata]
        body.append([s, _fmt(_mean([fr[k]["value"] for k in mine])), _fmt(_mean([matched[k]["value"] for k in mine])),
                     _fmt(_mean([over[k]["value"] for k in mine])), _fmt(_mean([loud[k]["value"] for k in mine]), 1),
                     *cells])  # fmt: skip
    vc_gain = _mean([r["value"] for k, r in gain.items() if k[0] in listeners])
    best = max((r for r in body if r[0] != VOLUME_CONTROL), key=lambda r: float(r[3]), default=None)
    verdict = (f"The best strategy over the volume control is `{best[0]}` ({best[3]}); a strategy adds something "
               "beyond turning the volume up only where this is positive." if best else "")  # fmt: skip
    header = ["strategy", "as heard", "matched loudness", "over volume control", "loudness (phon)"]
    header += [f"as heard, {s}" for s in strata]
    return [
        "", f"## Fidelity restored per strategy (hearing-impaired listeners, n = {len(listeners)})", "",
        "Fidelity restored = 1 - D(aided) / D(unaided), D the neural-fidelity distance to the NH reference's response "
        "to the clean sound; mean over the evaluation sounds, then over listeners (1 = NH response restored, 0 = no "
        "better than unaided). *As heard*: the strategy's output through the listener's comfort-aware output limit; "
        "*matched loudness*: scaled until the listener hears it as loud as normal hearing hears the clean sound; "
        f"*volume control*: the best single broadband gain within the comfort limit (mean {_fmt(vc_gain, 1)} dB); "
        "*over volume control*: as heard, minus the volume control's. `+hitl` is the aid after the HITL session. NH "
        "listeners are not in this table (their unaided distance is tiny; see below).", "",
        *_table(header, body),
        "", verdict,
    ]  # fmt: skip


def _unaided_scaled(table: Any) -> tuple[dict[str, float], dict[str, float]]:
    """Unaided distance over D_0, mean over the evaluation sounds: ``({listener: value}, {NH animal: value})``."""
    scale = {(r["listener"], r["sound"]): r["value"] for r in plots.rows(table, "evaluation", "d_scale")}
    listeners, animals = defaultdict(list), defaultdict(lambda: defaultdict(list))
    for r in plots.rows(table, "evaluation", "d_unaided"):
        listeners[r["listener"]].append(r["value"] / scale[(r["listener"], r["sound"])])
    for r in plots.rows(table, "evaluation", "d_unaided_nh_animal"):  # the same in every job: one value per sound
        animals[r["param"]][r["sound"]].append(r["value"] / scale[(r["listener"], r["sound"])])
    per_animal = {a: _mean([v[0] for v in by_sound.values()]) for a, by_sound in animals.items()}
    return {k: _mean(v) for k, v in listeners.items()}, per_animal


def _nh_listeners(benefit: dict, matched: dict, table: Any) -> tuple[list[str], list[str]]:
    """Per NH listener: its unaided distance against the NH animals' and its largest benefit; and the check lines."""
    unaided, animals = _unaided_scaled(table)
    nh_range = max(animals.values()) if animals else math.nan
    body, inside = [], []
    for listener in sorted({k[0] for k in benefit}):
        b = max(((abs(r["value"]), r["value"], k[1]) for k, r in benefit.items() if k[0] == listener))
        m = max(((abs(r["value"]), r["value"], k[1]) for k, r in matched.items() if k[0] == listener and k in benefit))
        within = not unaided.get(listener, math.nan) > nh_range  # no NH animal reference (nan) counts as within
        inside += [listener] if within else []
        body.append([listener, _fmt(unaided.get(listener, math.nan)), "yes" if within else "NO",
                     f"{_fmt(b[1])} ({b[2]})", f"{_fmt(m[1])} ({m[2]})"])  # fmt: skip
    spread = f"{_fmt(min(animals.values()))}..{_fmt(nh_range)}" if animals else "n/a"
    worst = [abs(r["value"]) for k, r in benefit.items() if k[0] in inside]
    ok = "yes" if worst and max(worst) <= NH_BENEFIT_BAND else "NO" if worst else "none"
    lines = [
        "", f"Each NH listener's unaided distance D(unaided) / D_0 against the NH training animals' ({spread}; "
        "an NH animal at its learned nu hearing the clean sound): a listener beyond that range has a normal audiogram "
        "but does not respond like normal hearing, and its response can move towards the NH reference's with gain, "
        "as an impaired listener's does.", "",
        *_table(["listener", "unaided D / D_0", "within the NH animals' range", "largest benefit as heard",
                 "largest at matched loudness"], body),
        "", f"NH listeners within the NH animals' range ({len(inside)} of {len(body)}), benefit from every strategy "
        f"within +-{NH_BENEFIT_BAND} as heard: {ok}" + (f" (largest |benefit| {_fmt(max(worst))})." if worst else "."),
    ]  # fmt: skip
    return body, lines


def _nh(table: Any) -> list[str]:
    benefit = {k: r for k, r in _by(table, "benefit_mean").items() if r["stratum"] == plots.NH_STRATUM}
    if not benefit:
        return []
    matched = _by(table, "benefit_matched_mean")
    loud = _by(table, "loudness_phon_mean")
    strategies = list(dict.fromkeys(k[1] for k in benefit))
    body, worst = [], {}
    for s in strategies:
        mine = [k for k in benefit if k[1] == s]
        b, m = [benefit[k]["value"] for k in mine], [matched[k]["value"] for k in mine]
        body.append([s, _fmt(_mean(b)), f"{_fmt(min(b))}..{_fmt(max(b))}", _fmt(_mean(m)),
                     f"{_fmt(min(m))}..{_fmt(max(m))}", _fmt(_mean([loud[k]["value"] for k in mine]), 1)])  # fmt: skip
        for label, values in (("as heard", b), ("at matched loudness", m)):
            for k, v in zip(mine, values, strict=True):
                if label not in worst or abs(v) > abs(worst[label][0]):
                    worst[label] = (v, k)
    checks = []
    for label, (v, (listener, strategy)) in worst.items():
        ok = abs(v) <= NH_BENEFIT_BAND
        checks.append(f"{label}: {'yes' if ok else 'NO'} (largest |benefit| {abs(v):.3f}, {strategy} for {listener})")
    n = len({k[0] for k in benefit})
    _, per_listener = _nh_listeners(benefit, matched, table)
    return [
        "", f"## NH listeners (benefit, reported apart; n = {n})", "",
        "Benefit = (D(unaided) - D(aided)) / D_0, D_0 the NH reference's distance to silence (the whole response the "
        "sound evokes: a scale of the sound alone, not of the listener), mean over the evaluation sounds. Fidelity "
        "restored would divide by an NH listener's tiny unaided distance and is not reported for them.", "",
        *_table(["strategy", "benefit as heard", "range", "at matched loudness", "range", "loudness (phon)"], body),
        "", f"NH benefit from every strategy within +-{NH_BENEFIT_BAND}: " + "; ".join(checks) + ".",
        *per_listener,
    ]  # fmt: skip


def _limit_text(limits_phon: list[float]) -> str:
    """The comfort limit of the headline: one value when every listener shares it, else its range over listeners."""
    low, high = min(limits_phon), max(limits_phon)
    if high - low < 0.05:
        return f"{_fmt(low, 1)} phon"
    return f"{_fmt(low, 1)}-{_fmt(high, 1)} phon over the {len(limits_phon)} listeners"


def _comfort(table: Any) -> list[str]:
    above = plots.rows(table, "evaluation", "above_comfort_phon")
    limits = {r["listener"]: r["value"] for r in plots.rows(table, "comfort", "comfort_limit_phon")}
    if not above or not limits:
        return []
    worst = max(above, key=lambda r: r["value"])
    cut = [r for r in plots.rows(table, "evaluation", "comfort_gain_db") if r["strategy"] != VOLUME_CONTROL]
    n_cut = sum(r["value"] < -0.01 for r in cut)
    levels = {m: defaultdict(list) for m in ("comfortable_lower_db", "comfortable_upper_db", "ucl_db")}
    for m, by in levels.items():
        for r in plots.rows(table, "comfort", m):
            by[r["listener"]].append(r["value"])
    strata = {r["listener"]: r["stratum"] for r in above}
    body = [[name, strata.get(name, ""), *(_fmt(_mean(levels[m][name]), 1) for m in levels)] for name in limits]
    verdict = "no output above it" if worst["value"] <= 0.05 else "an output ABOVE it"
    return [
        "", "## Comfort", "",
        f"Comfort limit (\"loud\", ISO 16832 categories on the listener's ISO 532-1 loudness with its hearing loss): "
        f"{_limit_text(list(limits.values()))}. Loudest output delivered by any strategy, as heard: "
        f"{_fmt(worst['value'], 2)} phon relative to the limit ({worst['strategy']} for {worst['listener']}): "
        f"{verdict}. The comfort limit turned down {n_cut} of {len(cut)} (listener, strategy, sound) outputs.", "",
        "Each listener's comfortable range for the evaluation sounds (mean presentation level, dB SPL):", "",
        *_table(["listener", "stratum", "soft (lower)", "loud (comfort limit)", "too loud (UCL)"], body),
    ]  # fmt: skip


def comparison_sections(table: Any) -> list[str]:
    """The impaired, NH and comfort sections of the fleet report (module docstring)."""
    return _impaired(table) + _nh(table) + _comfort(table)


def hitl_honesty(table: Any) -> list[str]:
    """Lines for the HITL section: tuning vs evaluation sounds, comfort at the end, coordinates on the box edge."""
    above = {r["listener"]: r["value"] for r in plots.rows(table, "hitl", "above_comfort_phon")}
    if not above:
        return []
    tuning = sorted({r["sound"] for r in plots.rows(table, "hitl", "tuning_sound")})
    evaluated = sorted({r["sound"] for r in plots.rows(table, "evaluation", "d_unaided")})
    shared = set(tuning) & set(evaluated)
    n_above = sum(v > 0.05 for v in above.values())
    edges = [r for r in plots.rows(table, "hitl", "at_edge") if r["value"] > 0]
    per_listener = defaultdict(list)
    for r in edges:
        per_listener[r["listener"]].append(r["param"])
    by_coordinate = defaultdict(int)
    for r in edges:
        by_coordinate[r["param"]] += 1
    coords = ", ".join(f"{c}: {n}" for c, n in sorted(by_coordinate.items())) or "none"
    return [
        "",
        f"Tuning sounds: {', '.join(tuning)}; evaluation sounds: {', '.join(evaluated)}; shared: "
        f"{', '.join(sorted(shared)) if shared else 'none'}.",
        f"Sessions ending above the comfort limit: {n_above} of {len(above)} (largest delivered loudness "
        f"{max(above.values()):+.2f} phon relative to the limit).",
        f"Sessions ending with a tuned coordinate on the edge of its search box: {len(per_listener)} of {len(above)} "
        f"(by coordinate: {coords}).",
    ]
