"""The fleet report's NH section: each NH listener's unaided distance read against the NH training animals'."""

from __future__ import annotations

import math

import pyarrow as pa

from runners.fleet.pipeline import COLUMNS
from runners.fleet.report_comparison import comparison_sections


def _table(rows: list[dict]) -> pa.Table:
    full = [{"job": r["listener"], "step": "evaluation", "strategy": "", "param": "", "sound": "", "freq_hz": math.nan,
             "query": -1, **r} for r in rows]  # fmt: skip
    return pa.Table.from_pylist(full, schema=None).select(list(COLUMNS))


def _listener(name: str, d_unaided: float, benefit: dict[str, float]) -> list[dict]:
    """An NH listener with one sound (D_0 = 2) and the two NH animals' unaided distances (0.02 and 0.2, over D_0)."""
    base = {"listener": name, "stratum": "NH"}
    rows = [{**base, "metric": "d_scale", "sound": "s", "value": 2.0},
            {**base, "metric": "d_unaided", "sound": "s", "value": d_unaided},
            {**base, "metric": "d_unaided_nh_animal", "param": "NH01", "sound": "s", "value": 0.04},
            {**base, "metric": "d_unaided_nh_animal", "param": "NH02", "sound": "s", "value": 0.4}]  # fmt: skip
    for strategy, b in benefit.items():
        rows += [{**base, "metric": "benefit_mean", "strategy": strategy, "value": b},
                 {**base, "metric": "benefit_matched_mean", "strategy": strategy, "value": b / 10},
                 {**base, "metric": "loudness_phon_mean", "strategy": strategy, "value": 80.0}]  # fmt: skip
    return rows


def test_nh_listeners_are_read_against_the_nh_animals_unaided_distances():
    # A responds like an NH animal (0.1 of D_0, inside 0.02..0.2); B has a normal audiogram but is 0.5 of D_0 away
    rows = _listener("A", 0.2, {"nalr": 0.01, "volume control": -0.02})
    rows += _listener("B", 1.0, {"nalr": 0.03, "volume control": 0.15})
    text = "\n".join(comparison_sections(_table(rows)))
    assert "## NH listeners (benefit, reported apart; n = 2)" in text
    # the check over every NH listener is kept as it was: B fails it
    assert "as heard: NO (largest |benefit| 0.150, volume control for B)" in text
    assert "NH training animals' (0.020..0.200;" in text
    assert "| A | 0.100 | yes | -0.020 (volume control) | -0.002 (volume control) |" in text
    assert "| B | 0.500 | NO | 0.150 (volume control) | 0.015 (volume control) |" in text
    assert "NH listeners within the NH animals' range (1 of 2), benefit from every strategy within +-0.05 as heard: " \
           "yes (largest |benefit| 0.020)." in text  # fmt: skip


def test_an_nh_listener_inside_the_range_that_gains_still_fails_the_check():
    rows = _listener("A", 0.2, {"nalr": 0.01, "volume control": 0.09})
    text = "\n".join(comparison_sections(_table(rows)))
    assert "| A | 0.100 | yes | 0.090 (volume control) |" in text
    assert "NH animals' range (1 of 1), benefit from every strategy within +-0.05 as heard: NO (largest" in text


def _comfort_rows(name: str, limit_phon: float, above_phon: float) -> list[dict]:
    base = {"listener": name, "stratum": "mild"}
    return [{**base, "step": "comfort", "metric": "comfort_limit_phon", "value": limit_phon},
            {**base, "metric": "above_comfort_phon", "strategy": "nalr", "value": above_phon}]  # fmt: skip


def test_the_comfort_headline_gives_every_listeners_limit_not_the_first_ones():
    same = "\n".join(comparison_sections(_table(_comfort_rows("A", 90.0, -3.0) + _comfort_rows("B", 90.01, -1.0))))
    assert "with its hearing loss): 90.0 phon. Loudest output delivered by any strategy, as heard: -1.00 phon" in same
    assert "(nalr for B): no output above it." in same
    apart = "\n".join(comparison_sections(_table(_comfort_rows("A", 92.0, 0.5) + _comfort_rows("B", 85.5, -1.0))))
    assert "with its hearing loss): 85.5-92.0 phon over the 2 listeners. Loudest output" in apart
    assert "as heard: 0.50 phon relative to the limit (nalr for A): an output ABOVE it." in apart
