"""The two auditory peripheries of the virtual IC behind one interface: BEZ2018 (default) and the gammatone one.

An animal's periphery turns a sound into ``n_cf x bins`` auditory-nerve activity on :data:`CF_GRID_HZ` for the
midbrain (:mod:`.midbrain`), and knows the animal's true tone thresholds. A sound is prepared once per sound
(:meth:`prepare`, shared by every animal of a cohort) and turned into each animal's activity by :meth:`an_activity`.

- :class:`GammatonePeriphery` (``"gammatone"``): :mod:`.periphery`, the fast phenomenological cochlea (hearing loss
  as OHC gain loss, IHC attenuation and synaptopathy on a shared linear filterbank). Ground truths written before
  the periphery was recorded read as this one.
- :class:`BezPeriphery` (``"bez2018"``): :mod:`.bez2018` with the animal's ``cohc``/``cihc`` per CF (from its
  profile through :mod:`.bez_loss`). Its AN activity for the midbrain is, per CF,

  ``a = g (w_H (r_H - sp_H) + w_L (1 - syn) (r_L - sp_L)) / (w_H d_H(CF) + w_L d_L(CF))``

  with ``r`` the expected HSR/LSR rates, ``sp`` their spontaneous rates, ``d`` the normal sustained driven rates at
  CF (80 dB SPL CF tone; the model's low-CF fibres drive far less than its high-CF ones, which the midbrain's input
  normalisation undoes), weights ``w = (0.6, 0.4)`` and gain ``g`` (:data:`BEZ_AN_GAIN`, chosen so that the
  midbrain's spike statistics match the gammatone periphery's). Synaptopathy removes LSR activity as before. The
  model's own synapse adapts, so the gammatone periphery's subtractive adaptation is not applied on top. Recording
  drift attenuates the sound before the model (thresholds rise by exactly the drift).

  Only the CFs the animal's channels integrate are simulated, every :data:`BEZ_CF_STEP`-th point of the CF grid
  (0.2 octave; the midbrain integrates over +-0.1 octave), and interpolated linearly in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.constants import DOWNSAMPLE
from simulator.virtual_ic.bez2018 import MODEL_NAME, PACKAGE_VERSION, BezConfig, PeripheryError, an_rates
from simulator.virtual_ic.bez2018 import spontaneous_rates as bez_spontaneous_rates
from simulator.virtual_ic.bez2018 import to_model_rate as bez_to_model_rate
from simulator.virtual_ic.bez_loss import load_loss_table
from simulator.virtual_ic.midbrain import cf_weights
from simulator.virtual_ic.periphery import (
    CF_GRID_HZ,
    N_CF,
    OHC_MAX_GAIN_DB,
    PeripheralFeatures,
    auditory_nerve,
    cochlear_thresholds_db_spl,
    filterbank_features,
)

PERIPHERY_NAMES: tuple[str, ...] = ("gammatone", MODEL_NAME)
DEFAULT_PERIPHERY: str = MODEL_NAME
LEGACY_PERIPHERY: str = "gammatone"
"""The periphery of ground truths that record none (cohorts generated before the choice existed)."""
BEZ_PERIPHERY_VERSION: str = "1"
BEZ_CF_STEP: int = 2
BEZ_FIBRE_WEIGHTS: tuple[float, float] = (0.6, 0.4)
BEZ_AN_GAIN: float = 0.375
ROW_WEIGHT_TOL: float = 1e-3
"""CF rows whose largest integration weight over the animal's channels is below this are not simulated."""


def simulated_rows(cf_pos: np.ndarray, step: int = BEZ_CF_STEP) -> tuple[np.ndarray, np.ndarray]:
    """Which CF-grid rows the channels at ``cf_pos`` integrate, and which grid points must be simulated for them.

    Returns:
        ``(needed, simulated)``: sorted grid indices with an integration weight >= :data:`ROW_WEIGHT_TOL`, and the
        points of the ``step`` grid (plus the last CF) that bracket them.
    """
    needed = np.flatnonzero(cf_weights(np.asarray(cf_pos)).max(axis=0) >= ROW_WEIGHT_TOL)
    coarse = np.union1d(np.arange(0, N_CF, step), [N_CF - 1])
    lo = coarse[np.searchsorted(coarse, needed, side="right") - 1]
    hi = coarse[np.minimum(np.searchsorted(coarse, needed, side="left"), coarse.size - 1)]
    return needed, np.union1d(lo, hi)


@dataclass
class GammatonePeriphery:
    """The fast gammatone periphery (:mod:`.periphery`); hearing loss comes from the profile's dB parameters."""

    name: str = field(default="gammatone", init=False)

    def prepare(self, audio: np.ndarray) -> PeripheralFeatures:
        return filterbank_features(audio)

    def an_activity(self, prepared: PeripheralFeatures, profile: Any, drift_db: float, cf_pos: np.ndarray):
        """``n_cf x bins`` adapted AN activity (``cf_pos`` unused: every CF comes from the shared filterbank)."""
        return auditory_nerve(prepared, profile.ohc_loss_db, profile.ihc_loss_db, profile.synaptopathy, drift_db)

    def thresholds_db_spl(self, profile: Any, drift_db: float = 0.0) -> np.ndarray:
        return cochlear_thresholds_db_spl(profile.ohc_loss_db, profile.ihc_loss_db, drift_db)

    def nominal_thresholds_db_spl(self) -> np.ndarray:
        return cochlear_thresholds_db_spl(np.zeros(N_CF), np.zeros(N_CF))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": "1"}


@dataclass
class BezSound:
    """A sound prepared for the BEZ2018 periphery: resampled to the model rate (shared by all animals)."""

    x_model: np.ndarray
    n_bins: int


@dataclass
class BezPeriphery:
    """One animal's BEZ2018 periphery: shared settings and its ``cohc``/``cihc`` on :data:`CF_GRID_HZ`."""

    config: BezConfig
    cohc: np.ndarray
    cihc: np.ndarray
    cf_step: int = BEZ_CF_STEP
    fibre_weights: tuple[float, float] = BEZ_FIBRE_WEIGHTS
    an_gain: float = BEZ_AN_GAIN
    name: str = field(default=MODEL_NAME, init=False)

    def prepare(self, audio: np.ndarray) -> BezSound:
        audio = np.asarray(audio, dtype=np.float64)
        return BezSound(bez_to_model_rate(audio, self.config), audio.size // DOWNSAMPLE)

    def an_activity(self, prepared: BezSound, profile: Any, drift_db: float, cf_pos: np.ndarray) -> np.ndarray:
        """``n_cf x bins`` AN activity (module docstring); rows no channel integrates are zero."""
        needed, sim = simulated_rows(cf_pos, self.cf_step)
        x = prepared.x_model * 10.0 ** (-float(drift_db) / 20.0)
        rates = an_rates(None, CF_GRID_HZ[sim], self.cohc[sim], self.cihc[sim], self.config, x, prepared.n_bins)
        sp = bez_spontaneous_rates(self.config)
        w_h, w_l = self.fibre_weights
        driven = load_loss_table(self.config).driven_rates(CF_GRID_HZ[sim])
        norm = w_h * driven[:, 0] + w_l * driven[:, 1]
        act = w_h * (rates[0] - sp[0]) + w_l * (1.0 - profile.synaptopathy) * (rates[1] - sp[1])
        act = self.an_gain * act / norm[:, None]
        out = np.zeros((N_CF, prepared.n_bins))
        for j in range(act.shape[1]):
            out[needed, j] = np.interp(needed, sim, act[:, j])
        return out.astype(np.float32)

    def shift_db(self) -> np.ndarray:
        """``n_cf`` threshold shift (dB) of this animal's cohc and cihc (additive in dB)."""
        table = load_loss_table(self.config)
        return table.shift_for_cohc(self.cohc, CF_GRID_HZ) + table.shift_for_cihc(self.cihc, CF_GRID_HZ)

    def nominal_thresholds_db_spl(self) -> np.ndarray:
        """Normal HSR tone thresholds (dB SPL of hearloop audio, through the level mapping) on the CF grid."""
        table = load_loss_table(self.config)
        return table.nh_thresholds_db_spl(CF_GRID_HZ) - self.config.input_gain_db(CF_GRID_HZ)

    def thresholds_db_spl(self, profile: Any = None, drift_db: float = 0.0) -> np.ndarray:
        """``n_cf`` true tone thresholds (dB SPL): normal + shift of cohc/cihc + drift (``profile`` unused)."""
        return self.nominal_thresholds_db_spl() + self.shift_db() + drift_db

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": BEZ_PERIPHERY_VERSION,
            "package": f"brucezilany {PACKAGE_VERSION}",
            "config": self.config.to_dict(),
            "cf_step": self.cf_step,
            "fibre_weights": {"hsr": self.fibre_weights[0], "lsr": self.fibre_weights[1]},
            "an_gain": self.an_gain,
            "cohc": [float(v) for v in self.cohc],
            "cihc": [float(v) for v in self.cihc],
        }


Periphery = GammatonePeriphery | BezPeriphery


def check_periphery_name(name: str) -> str:
    if name not in PERIPHERY_NAMES:
        raise PeripheryError(f"unknown periphery {name!r}; expected one of {PERIPHERY_NAMES}")
    return name


def ohc_cap_db(name: str, config: BezConfig | None = None) -> np.ndarray:
    """``n_cf`` largest OHC share of a threshold shift the periphery can express (the rest becomes IHC loss)."""
    if check_periphery_name(name) == "gammatone":
        return np.full(N_CF, OHC_MAX_GAIN_DB - 1.0)
    return load_loss_table(config).max_ohc_shift_db(CF_GRID_HZ)


def make_periphery(name: str, profile: Any, who: str = "animal", config: BezConfig | None = None) -> Periphery:
    """The periphery ``name`` of an animal with hearing ``profile`` (BEZ: cohc/cihc from its dB split).

    Raises:
        PeripheryError: unknown name, or a profile beyond what cohc/cihc can express.
    """
    if check_periphery_name(name) == "gammatone":
        return GammatonePeriphery()
    config = (config or BezConfig()).validate()
    table = load_loss_table(config)
    table.check_expressible(profile.ohc_loss_db, profile.ihc_loss_db, CF_GRID_HZ, who)
    cohc = table.cohc_for_shift(profile.ohc_loss_db, CF_GRID_HZ)
    cihc = table.cihc_for_shift(profile.ihc_loss_db, CF_GRID_HZ)
    return BezPeriphery(config, cohc, cihc)


def periphery_from_dict(d: dict[str, Any] | None) -> Periphery:
    """Inverse of ``to_dict`` (None: the legacy gammatone periphery)."""
    if d is None or d.get("name", LEGACY_PERIPHERY) == "gammatone":
        return GammatonePeriphery()
    if d["name"] != MODEL_NAME:
        raise PeripheryError(f"unknown periphery {d['name']!r} in ground truth; expected one of {PERIPHERY_NAMES}")
    return BezPeriphery(
        config=BezConfig.from_dict(d["config"]),
        cohc=np.asarray(d["cohc"], dtype=np.float64),
        cihc=np.asarray(d["cihc"], dtype=np.float64),
        cf_step=int(d["cf_step"]),
        fibre_weights=(float(d["fibre_weights"]["hsr"]), float(d["fibre_weights"]["lsr"])),
        an_gain=float(d["an_gain"]),
    )
