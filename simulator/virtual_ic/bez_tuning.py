"""Tone thresholds, tuning curves and Q10 of BEZ2018 fibres, and the table that maps threshold shift to cohc/cihc.

Thresholds are those of a high-spontaneous-rate (HSR) fibre: the lowest level of a 50 ms tone (2.5 ms raised-cosine
ramps) at which the fibre's mean rate over the tone (shifted by the model's IHC delay) reaches its spontaneous rate,
measured the same way on silence, + 15 spikes/s (:data:`RATE_CRITERION`). Levels are found by bisection to
:data:`LEVEL_TOL_DB`; the 10-dB band edges of a tuning curve by bisection in log frequency at ``threshold(CF) + 10``
(the threshold at CF stands for the tip; a cohc = 0 fibre's best frequency sits up to 0.1 octave below CF, where its
threshold is < 1 dB lower).

:func:`build_loss_table` simulates, at every CF of :data:`TABLE_CF_HZ`, the threshold shift that each ``cohc`` of
:data:`TABLE_COHC` causes with ``cihc = 1`` and that each ``cihc`` of :data:`TABLE_CIHC` causes with ``cohc = 1``
(the shape of ``fitaudiogram2`` of the BEZ MATLAB release). The table for the default settings ships beside this
module (:func:`simulator.virtual_ic.bez_loss.table_path`); regenerate it, or build one for other settings, with
``python -m simulator.virtual_ic.bez_tuning [--species S --sample-rate FS --power-law P]`` (~3 min on 2 cores).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from simulator.constants import BIN_RATE, SAMPLE_RATE
from simulator.data.corpus import tone
from simulator.virtual_ic.bez2018 import (
    HSR,
    MODEL_NAME,
    PACKAGE_VERSION,
    BezConfig,
    Fibre,
    an_rates,
    ihc_delay_s,
    spontaneous_rates,
)
from simulator.virtual_ic.periphery import CF_GRID_HZ

PROBE_TONE_S: float = 0.05
PROBE_RAMP_MS: float = 2.5
PROBE_TAIL_S: float = 0.02
RATE_CRITERION: float = 15.0
"""Spikes/s above the spontaneous rate that define a fibre's rate threshold."""
LEVEL_RANGE_DB: tuple[float, float] = (-30.0, 140.0)
LEVEL_TOL_DB: float = 0.2
TABLE_CF_HZ: np.ndarray = CF_GRID_HZ[np.union1d(np.arange(0, CF_GRID_HZ.size, 2), [CF_GRID_HZ.size - 1])]
"""Every other CF of the grid (0.2 octave, the CFs the BEZ2018 periphery simulates) and the last (10 kHz)."""
TABLE_COHC: tuple[float, ...] = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.05, 0.02, 0.0)
TABLE_CIHC: tuple[float, ...] = (
    1.0, 0.8, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05, 0.03, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0,
)  # fmt: skip


def probe_rate(
    freq_hz: float,
    level_db_spl: float | None,
    cf_hz: float,
    cohc: float,
    cihc: float,
    config: BezConfig,
    fibre: Fibre = HSR,
) -> float:
    """Mean rate (spikes/s) of one fibre at ``cf_hz`` over a 50 ms tone (None: over the same window of silence)."""
    n_tone = round(PROBE_TONE_S * SAMPLE_RATE)
    x = np.zeros(n_tone + round(PROBE_TAIL_S * SAMPLE_RATE))
    if level_db_spl is not None:
        x[:n_tone] = tone(freq_hz, level_db_spl, PROBE_TONE_S, ramp_ms=PROBE_RAMP_MS)
    cfg = replace(config, fibres=(fibre,))
    rate = an_rates(x, np.array([cf_hz]), np.array([cohc]), np.array([cihc]), cfg)[0, 0]
    first = int(np.ceil(float(ihc_delay_s(cf_hz)) * BIN_RATE))
    return float(rate[first : first + int(PROBE_TONE_S * BIN_RATE)].mean())


def level_threshold(respond: Callable[[float], float], criterion: float, tol_db: float = LEVEL_TOL_DB) -> float:
    """Lowest level (dB SPL, to ``tol_db``) in :data:`LEVEL_RANGE_DB` where ``respond(level) >= criterion``, by
    bisection (``respond`` grows with level); inf if not even at the top of the range."""
    lo, hi = LEVEL_RANGE_DB
    if respond(hi) < criterion:
        return float("inf")
    while hi - lo > tol_db:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if respond(mid) >= criterion else (mid, hi)
    return 0.5 * (lo + hi)


def band_edge(inside: Callable[[float], bool], f_in: float, f_out: float, steps: int = 9) -> float:
    """Bisection in log frequency for the edge between a frequency ``inside`` a band and one outside it."""
    a, b = np.log2(f_in), np.log2(f_out)
    for _ in range(steps):
        mid = 0.5 * (a + b)
        a, b = (mid, b) if inside(2.0**mid) else (a, mid)
    return float(2.0 ** (0.5 * (a + b)))


def q10_of(respond: Callable[[float, float], float], cf_hz: float, criterion: float) -> dict[str, float]:
    """Threshold at CF and Q10 of any unit: ``respond(freq, level)`` is its response, ``criterion`` its threshold.

    Returns:
        ``{"threshold_db_spl", "f_low_hz", "f_high_hz", "q10"}``; the 10-dB band's edges are searched within
        3 octaves below and 2 above CF.
    """
    thr = level_threshold(lambda level: respond(cf_hz, level), criterion)
    level = thr + 10.0

    def inside(f: float) -> bool:
        return respond(f, level) >= criterion

    f_lo = band_edge(inside, cf_hz, cf_hz / 8.0)
    f_hi = band_edge(inside, cf_hz, min(cf_hz * 4.0, 0.45 * SAMPLE_RATE))
    return {"threshold_db_spl": thr, "f_low_hz": f_lo, "f_high_hz": f_hi, "q10": cf_hz / (f_hi - f_lo)}


def tone_threshold_db_spl(
    freq_hz: float, cf_hz: float, cohc: float, cihc: float, config: BezConfig, fibre: Fibre = HSR
) -> float:
    """Rate threshold (dB SPL re hearloop pressure) of a fibre for a tone at ``freq_hz``; inf if above the range."""
    crit = probe_rate(freq_hz, None, cf_hz, cohc, cihc, config, fibre) + RATE_CRITERION
    return level_threshold(lambda level: probe_rate(freq_hz, level, cf_hz, cohc, cihc, config, fibre), crit)


def q10(cf_hz: float, cohc: float, cihc: float, config: BezConfig, fibre: Fibre = HSR) -> dict[str, float]:
    """Tip threshold (at CF) and Q10 = CF / (10-dB bandwidth) of a fibre's tuning curve (see :func:`q10_of`)."""
    crit = probe_rate(cf_hz, None, cf_hz, cohc, cihc, config, fibre) + RATE_CRITERION
    return q10_of(lambda f, level: probe_rate(f, level, cf_hz, cohc, cihc, config, fibre), cf_hz, crit)


DRIVEN_LEVEL_DB: float = 80.0
DRIVEN_TONE_S: float = 0.3


def driven_rates(cf_hz: float, config: BezConfig, level_db_spl: float = DRIVEN_LEVEL_DB) -> np.ndarray:
    """``fibres`` sustained rate above spontaneous (spikes/s, last 100 ms of a 300 ms CF tone) of normal fibres."""
    x = tone(cf_hz, level_db_spl, DRIVEN_TONE_S, ramp_ms=PROBE_RAMP_MS)
    rate = an_rates(x, np.array([cf_hz]), np.ones(1), np.ones(1), config)[:, 0]
    return rate[:, -int(0.1 * BIN_RATE) :].mean(axis=1) - spontaneous_rates(config)


def _column(args: tuple[float, str, tuple[float, ...], dict[str, Any]]) -> list[float]:
    cf, kind, values, cfg = args
    config = BezConfig.from_dict(cfg)
    if kind == "ohc":
        return [tone_threshold_db_spl(cf, cf, c, 1.0, config) for c in values]
    if kind == "ihc":
        return [tone_threshold_db_spl(cf, cf, 1.0, c, config) for c in values]
    return driven_rates(cf, config).tolist()


def build_loss_table(config: BezConfig | None = None, workers: int = 1) -> dict[str, Any]:
    """Simulate the shift tables (module docstring) for ``config``, without its level mapping (thresholds in dB SPL at
    the model's input; shifts do not depend on it)."""
    config = replace(config or BezConfig(), level_offset_db=0.0, notch_fill=None).validate()
    kinds = (("ohc", TABLE_COHC), ("ihc", TABLE_CIHC), ("driven", ()))
    jobs = [(float(cf), k, v, config.to_dict()) for cf in TABLE_CF_HZ for k, v in kinds]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            cols = list(pool.map(_column, jobs))
    else:
        cols = [_column(j) for j in jobs]
    ohc, ihc, driven = (np.array(cols[i :: len(kinds)]) for i in range(len(kinds)))
    nh = ohc[:, 0]
    return {
        "model": MODEL_NAME,
        "package": f"brucezilany {PACKAGE_VERSION}",
        "species": config.species,
        "sample_rate_hz": config.sample_rate_hz,
        "power_law": config.power_law,
        "criterion": f"HSR mean rate over a 50 ms CF tone >= spontaneous + {RATE_CRITERION:g} spikes/s",
        "levels": "dB SPL at the model's input (no level mapping)",
        "cf_hz": [round(float(f), 3) for f in TABLE_CF_HZ],
        "nh_threshold_db_spl": [round(float(v), 2) for v in nh],
        "cohc": list(TABLE_COHC),
        "ohc_shift_db": [[round(float(v), 2) for v in row - row[0]] for row in ohc],
        "cihc": list(TABLE_CIHC),
        "ihc_shift_db": [[round(float(v), 2) if np.isfinite(v) else None for v in row - row[0]] for row in ihc],
        "fibres": [f.name for f in config.fibres],
        "driven_rate": f"sustained rate above spontaneous, last 100 ms of a 300 ms {DRIVEN_LEVEL_DB:g} dB SPL CF tone",
        "driven_rate_spikes_per_s": [[round(float(v), 2) for v in row] for row in driven],
        "regenerate": "python -m simulator.virtual_ic.bez_tuning",
    }


def main(argv: list[str] | None = None) -> int:
    from simulator.virtual_ic.bez_loss import table_path

    parser = argparse.ArgumentParser(description="Build the BEZ2018 threshold-shift -> cohc/cihc table.")
    parser.add_argument("--species", default="cat", help="model species (default cat)")
    parser.add_argument("--sample-rate", type=int, default=100_000, help="model sample rate, Hz (default 100000)")
    parser.add_argument("--power-law", default="approximated", help="approximated (default) or actual")
    parser.add_argument("--out", default=None, help="output JSON (default: the table's place in the package)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    args = parser.parse_args(argv)
    config = BezConfig(args.species, args.sample_rate, args.power_law).validate()
    table = build_loss_table(config, workers=args.workers)
    out = Path(args.out) if args.out else table_path(config)
    out.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
