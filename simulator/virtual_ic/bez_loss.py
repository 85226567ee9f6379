"""Hearing loss on the BEZ2018 periphery: threshold shift <-> OHC/IHC function (cohc, cihc) per CF.

A table ``bez2018_loss_table_<species>_<rate>k_<power law>.json`` beside this module (built by
:func:`simulator.virtual_ic.bez_tuning.build_loss_table`; the cat, 100 kHz, approximated one ships) holds, at 33 CFs
from 125 Hz to 10 kHz (0.2 octave), the HSR tone-threshold shift the model shows for each ``cohc`` (with
``cihc = 1``) and each ``cihc`` (with ``cohc = 1``), the normal thresholds, and the driven rates that scale AN
activity for the midbrain. Between table CFs everything is interpolated linearly in log frequency; between table
values, linearly (the shift grows monotonically as ``cohc`` falls; where the IHC shift does not, the inversion uses
its running maximum).

**The split of a threshold shift** ``H(f)`` (dB; :mod:`.hearing_profile`) between the two, as in ``fitaudiogram2``
of the BEZ MATLAB release: the OHC part is the profile's OHC share ``rho`` of it, capped at what ``cohc = 0`` can
express at that CF (:meth:`LossTable.max_ohc_shift_db`: 15 dB at 125 Hz, ~30 dB at 500 Hz, ~50 dB at 2-10 kHz);
the remainder is IHC loss, which ``cihc`` must express (:meth:`LossTable.max_ihc_shift_db`). A remainder beyond that
is a :class:`~simulator.virtual_ic.bez2018.PeripheryError`. Shifts are treated as additive in dB (the combined
threshold of ``cohc < 1`` and ``cihc < 1`` is checked against simulation in the tests).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from simulator.virtual_ic.bez2018 import BezConfig, PeripheryError

TABLE_DIR: Path = Path(__file__).parent


def table_path(config: BezConfig) -> Path:
    """Where the loss table of ``config``'s species, sample rate and power law lives."""
    return TABLE_DIR / f"bez2018_loss_table_{config.species}_{config.sample_rate_hz // 1000}k_{config.power_law}.json"


@dataclass(frozen=True)
class LossTable:
    """The shift tables (see module docstring); ``*_shift_db`` are ``cf x values`` arrays."""

    cf_hz: np.ndarray
    nh_threshold_db_spl: np.ndarray
    cohc: np.ndarray
    ohc_shift_db: np.ndarray
    cihc: np.ndarray
    ihc_shift_db: np.ndarray
    driven_rate: np.ndarray  # cf x fibres, spikes/s above spontaneous
    meta: dict

    def _at_cf(self, table: np.ndarray, cf_hz: np.ndarray | float) -> np.ndarray:
        """Rows of a ``cf x k`` table interpolated at ``cf_hz`` (linear in log2 CF, clamped at the ends)."""
        lf = np.log2(np.atleast_1d(np.asarray(cf_hz, dtype=np.float64)))
        grid = np.log2(self.cf_hz)
        return np.stack([np.interp(lf, grid, table[:, j]) for j in range(table.shape[1])], axis=1)

    def nh_thresholds_db_spl(self, cf_hz: np.ndarray | float) -> np.ndarray:
        """Normal HSR tone thresholds (dB SPL at the model input, before the level mapping) at ``cf_hz``."""
        return self._at_cf(self.nh_threshold_db_spl[:, None], cf_hz)[:, 0]

    def max_ohc_shift_db(self, cf_hz: np.ndarray | float) -> np.ndarray:
        """Largest threshold shift OHC loss alone can cause (``cohc = 0``) at ``cf_hz``."""
        return self._at_cf(self.ohc_shift_db, cf_hz)[:, -1]

    def max_ihc_shift_db(self, cf_hz: np.ndarray | float) -> np.ndarray:
        """Largest threshold shift IHC loss alone can cause (smallest tabulated ``cihc`` reaching a threshold)."""
        return self._at_cf(self.ihc_shift_db, cf_hz)[:, -1]

    def driven_rates(self, cf_hz: np.ndarray | float) -> np.ndarray:
        """``len(cf) x fibres`` normal driven rates (spikes/s above spontaneous) at ``cf_hz``."""
        return self._at_cf(self.driven_rate, cf_hz)

    @staticmethod
    def _invert(shift_rows: np.ndarray, values: np.ndarray, shift_db: np.ndarray) -> np.ndarray:
        out = np.empty(shift_db.size)
        for i, (row, target) in enumerate(zip(shift_rows, shift_db, strict=True)):
            mono = np.maximum.accumulate(row)  # shift grows as the function value falls
            out[i] = np.interp(target, mono, values)
        return out

    def cohc_for_shift(self, shift_db: np.ndarray, cf_hz: np.ndarray) -> np.ndarray:
        """``cohc`` giving OHC threshold shift ``shift_db`` at each ``cf_hz`` (clamped to [0, 1])."""
        return self._invert(self._at_cf(self.ohc_shift_db, cf_hz), self.cohc, np.asarray(shift_db, dtype=float))

    def cihc_for_shift(self, shift_db: np.ndarray, cf_hz: np.ndarray) -> np.ndarray:
        """``cihc`` giving IHC threshold shift ``shift_db`` at each ``cf_hz`` (clamped to [0, 1])."""
        return self._invert(self._at_cf(self.ihc_shift_db, cf_hz), self.cihc, np.asarray(shift_db, dtype=float))

    def shift_for_cohc(self, cohc: np.ndarray, cf_hz: np.ndarray) -> np.ndarray:
        """OHC threshold shift (dB) of ``cohc`` at each ``cf_hz``."""
        rows = self._at_cf(self.ohc_shift_db, cf_hz)
        return np.array(
            [np.interp(c, self.cohc[::-1], r[::-1]) for c, r in zip(np.atleast_1d(cohc), rows, strict=True)]
        )

    def shift_for_cihc(self, cihc: np.ndarray, cf_hz: np.ndarray) -> np.ndarray:
        """IHC threshold shift (dB) of ``cihc`` at each ``cf_hz``."""
        rows = self._at_cf(self.ihc_shift_db, cf_hz)
        return np.array(
            [np.interp(c, self.cihc[::-1], r[::-1]) for c, r in zip(np.atleast_1d(cihc), rows, strict=True)]
        )

    def check_expressible(
        self, ohc_shift_db: np.ndarray, ihc_shift_db: np.ndarray, cf_hz: np.ndarray, who: str
    ) -> None:
        """Raise :class:`PeripheryError` where a loss exceeds what cohc/cihc can express (0.5 dB tolerance)."""
        over_ohc = np.asarray(ohc_shift_db) - self.max_ohc_shift_db(cf_hz)
        over_ihc = np.asarray(ihc_shift_db) - self.max_ihc_shift_db(cf_hz)
        for name, over, shift in (("OHC", over_ohc, ohc_shift_db), ("IHC", over_ihc, ihc_shift_db)):
            if np.any(over > 0.5):
                k = int(np.argmax(over))
                raise PeripheryError(
                    f"{who}: {name} threshold shift {float(np.asarray(shift)[k]):.1f} dB at {float(cf_hz[k]):.0f} Hz "
                    f"is {float(over[k]):.1f} dB beyond what the BEZ2018 model's c{name.lower()} can express"
                )


def _rows_without_none(rows: list[list[float | None]]) -> np.ndarray:
    """Shift rows with unreachable thresholds (None) replaced by the last reachable shift (the expressible maximum)."""
    out = []
    for row in rows:
        vals = [v for v in row if v is not None]
        out.append([v if v is not None else vals[-1] for v in row])
    return np.asarray(out, dtype=np.float64)


def parse_loss_table(d: dict) -> LossTable:
    """A :class:`LossTable` from the JSON written by ``python -m simulator.virtual_ic.bez_tuning``."""
    meta = {k: v for k, v in d.items() if not isinstance(v, list)}
    return LossTable(
        cf_hz=np.asarray(d["cf_hz"], dtype=np.float64),
        nh_threshold_db_spl=np.asarray(d["nh_threshold_db_spl"], dtype=np.float64),
        cohc=np.asarray(d["cohc"], dtype=np.float64),
        ohc_shift_db=_rows_without_none(d["ohc_shift_db"]),
        cihc=np.asarray(d["cihc"], dtype=np.float64),
        ihc_shift_db=_rows_without_none(d["ihc_shift_db"]),
        driven_rate=np.asarray(d["driven_rate_spikes_per_s"], dtype=np.float64),
        meta=meta,
    )


def load_loss_table(config: BezConfig | None = None) -> LossTable:
    """The loss table of ``config`` (default settings if None), or :class:`PeripheryError` if none was built."""
    config = (config or BezConfig()).validate()
    return _load(str(table_path(config)), config.species, config.sample_rate_hz, config.power_law)


@lru_cache(maxsize=4)
def _load(path: str, species: str, sample_rate_hz: int, power_law: str) -> LossTable:
    if not Path(path).is_file():
        raise PeripheryError(
            f"no BEZ2018 loss table for species {species!r} at {sample_rate_hz} Hz with the {power_law} power law; "
            f"build it with: python -m simulator.virtual_ic.bez_tuning --species {species} "
            f"--sample-rate {sample_rate_hz} --power-law {power_law}"
        )
    return parse_loss_table(json.loads(Path(path).read_text()))
