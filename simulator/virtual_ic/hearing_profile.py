"""Hearing-loss profiles of virtual animals: NH variation, noise-induced loss shapes, severity and ABR-like thresholds.

Noise-induced hearing loss in gerbils (Sabesan et al. 2023, the animals behind nu-ICNet) is mostly outer-hair-cell
damage with a high-frequency emphasis, inner-hair-cell damage where it is severe, and cochlear synaptopathy; the
midbrain answers with central gain. A profile is therefore a few interpretable numbers:

- total threshold-shift shape over CF, ``H(f) = m * s(f)`` with ``max s = 1``: ``flat`` (rising only from 70% at
  0.5 kHz to 100% at 8 kHz), ``sloping`` (10% below a corner ``f_c``, rising linearly in log frequency to 100% over
  ``rise_oct`` octaves above it), or ``notch`` (a Gaussian dip in log frequency at 3-6 kHz, sd 0.6 oct, on a 30%
  floor: the classic noise notch);
- the OHC share ``rho``: ``H_ohc = min(rho H, G_ohc)`` (OHCs fail first, up to their full active gain), the remainder is
  IHC loss ``H_ihc = H - H_ohc``;
- synaptopathy fraction of low-SR synapses (grows with noise dose, so with severity);
- central gain ``gamma``: midbrain gain at CF is ``1 + gamma * min(H(f), 80) / 60`` (partial compensation).

NH animals get small smooth OHC-gain variation (0-4 dB), 0-5% synaptopathy and no central gain. The severity scalar is
the pure-tone average of the true threshold shift (dB HL re the nominal NH cochlea) at :data:`ABR_FREQS_HZ`.
ABR thresholds are the true cochlear thresholds plus a frequency-dependent ABR offset (ABR thresholds sit 10-20 dB
above neural/behavioural ones), Gaussian measurement noise, rounded to the 5 dB steps of an ABR series.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.errors import HearloopInputError
from simulator.frequencies import ABR_FREQS_HZ
from simulator.virtual_ic.periphery import CF_GRID_HZ, OHC_MAX_GAIN_DB, cochlear_thresholds_db_spl

LOSS_SHAPES: tuple[str, ...] = ("flat", "sloping", "notch")
ABR_OFFSET_DB: dict[int, float] = {500: 18.0, 1000: 15.0, 2000: 12.0, 4000: 12.0, 8000: 15.0}
"""ABR threshold minus true cochlear threshold (dB), before measurement noise."""
MAX_TOTAL_LOSS_DB: float = 95.0


@dataclass
class HearingProfile:
    """Ground-truth cochlear/central state of one animal.

    Attributes:
        status: ``"NH"`` or ``"HI"``.
        shape: ``"normal"`` or one of :data:`LOSS_SHAPES`.
        shape_params: the shape's parameters (magnitude_db, corner_hz, slope_db_per_oct, notch_hz, ...).
        ohc_loss_db: ``n_cf`` OHC gain loss (dB) on :data:`CF_GRID_HZ`.
        ihc_loss_db: ``n_cf`` IHC loss (dB).
        synaptopathy: fraction (0..1) of low-SR synapses lost.
        central_gain: gamma, the strength of central gain compensation (0 for NH).
    """

    status: str
    shape: str
    shape_params: dict[str, float]
    ohc_loss_db: np.ndarray
    ihc_loss_db: np.ndarray
    synaptopathy: float
    central_gain: float

    @property
    def total_loss_db(self) -> np.ndarray:
        return self.ohc_loss_db + self.ihc_loss_db

    def central_gain_per_cf(self) -> np.ndarray:
        """``n_cf`` multiplicative midbrain gain: ``1 + gamma * min(H, 80) / 60``."""
        return 1.0 + self.central_gain * np.clip(self.total_loss_db, 0.0, 80.0) / 60.0

    def thresholds_db_spl(self, extra_atten_db: float = 0.0) -> np.ndarray:
        """True cochlear tone thresholds (dB SPL) on the CF grid."""
        return cochlear_thresholds_db_spl(self.ohc_loss_db, self.ihc_loss_db, extra_atten_db)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "shape": self.shape,
            "shape_params": {k: float(v) for k, v in self.shape_params.items()},
            "ohc_loss_db": [float(v) for v in self.ohc_loss_db],
            "ihc_loss_db": [float(v) for v in self.ihc_loss_db],
            "synaptopathy": float(self.synaptopathy),
            "central_gain": float(self.central_gain),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HearingProfile:
        return cls(
            status=d["status"],
            shape=d["shape"],
            shape_params=dict(d["shape_params"]),
            ohc_loss_db=np.asarray(d["ohc_loss_db"], dtype=np.float64),
            ihc_loss_db=np.asarray(d["ihc_loss_db"], dtype=np.float64),
            synaptopathy=float(d["synaptopathy"]),
            central_gain=float(d["central_gain"]),
        )


def nominal_nh_thresholds_db_spl() -> np.ndarray:
    """Thresholds (dB SPL, on the CF grid) of the nominal NH cochlea: the 0 dB HL reference."""
    return cochlear_thresholds_db_spl(np.zeros(CF_GRID_HZ.size), np.zeros(CF_GRID_HZ.size))


def interp_cf(values: np.ndarray, freq_hz: np.ndarray | float) -> np.ndarray:
    """Interpolate a per-CF quantity at ``freq_hz`` (linear in log frequency)."""
    return np.interp(np.log2(freq_hz), np.log2(CF_GRID_HZ), values)


def loss_shape(shape: str, params: dict[str, float], cf_hz: np.ndarray = CF_GRID_HZ) -> np.ndarray:
    """Normalised loss shape ``s(f)`` in [0, 1] (max 1 within 0.5-8 kHz) for ``shape`` with ``params``."""
    octv = np.log2(cf_hz / 1000.0)
    if shape == "flat":
        s = 1.0 - 0.075 * np.clip(3.0 - octv, 0.0, 4.0)
    elif shape == "sloping":
        s = 0.1 + 0.9 * np.clip(np.log2(cf_hz / params["corner_hz"]) / params["rise_oct"], 0.0, 1.0)
    elif shape == "notch":
        z = np.log2(cf_hz / params["notch_hz"]) / params["width_oct"]
        s = 0.3 + 0.7 * np.exp(-0.5 * z**2)
    else:
        raise HearloopInputError(f"unknown loss shape {shape!r}; expected one of {LOSS_SHAPES}")
    return np.clip(s, 0.0, 1.0)


def nh_profile(rng: np.random.Generator) -> HearingProfile:
    """A normal-hearing profile with small, smooth individual variation."""
    phase, amp = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 2.0)
    ohc = np.clip(2.0 + amp * np.sin(np.log2(CF_GRID_HZ / 125.0) * 0.9 + phase), 0.0, 4.0)
    return HearingProfile(
        status="NH",
        shape="normal",
        shape_params={"magnitude_db": 0.0},
        ohc_loss_db=ohc,
        ihc_loss_db=np.zeros_like(ohc),
        synaptopathy=float(rng.uniform(0.0, 0.05)),
        central_gain=0.0,
    )


OHC_SHARE_RANGE: tuple[float, float] = (0.7, 0.95)
"""Range of the OHC share ``rho`` of a noise-induced threshold shift (OHC-dominant, as in most noise damage)."""
IHC_DOMINANT_OHC_SHARE_RANGE: tuple[float, float] = (0.1, 0.3)
"""Range of ``rho`` of IHC-dominant animals (optional in cohorts): most of the shift is IHC loss."""


def hi_profile(
    rng: np.random.Generator,
    target_pta_db: float,
    shape: str,
    ohc_cap_db: np.ndarray | None = None,
    ohc_share_range: tuple[float, float] = OHC_SHARE_RANGE,
) -> HearingProfile:
    """A noise-induced loss of ``shape`` scaled so that its total loss has PTA ~ ``target_pta_db`` at ABR freqs.

    The magnitude is capped at :data:`MAX_TOTAL_LOSS_DB`, so a notch cannot reach severe PTAs (as in real noise damage).

    Args:
        rng: the animal's generator (same draws whatever the optional arguments).
        target_pta_db: target PTA of the total threshold shift (dB HL).
        shape: one of :data:`LOSS_SHAPES`.
        ohc_cap_db: ``n_cf`` largest OHC share the periphery can express (default: the gammatone periphery's
            ``OHC_MAX_GAIN_DB - 1``); the rest of the shift is IHC loss.
        ohc_share_range: range of the uniform OHC share ``rho`` (:data:`IHC_DOMINANT_OHC_SHARE_RANGE` for
            IHC-dominant animals).
    """
    if shape == "sloping":
        params = {"corner_hz": float(rng.uniform(500.0, 1500.0)), "rise_oct": float(rng.uniform(1.5, 3.5))}
    elif shape == "notch":
        params = {"notch_hz": float(2.0 ** rng.uniform(np.log2(3000.0), np.log2(6000.0))), "width_oct": 0.6}
    else:
        params = {}
    s = loss_shape(shape, params)
    pta_shape = float(np.mean(interp_cf(s, np.asarray(ABR_FREQS_HZ, dtype=float))))
    magnitude = float(min(target_pta_db / pta_shape, MAX_TOTAL_LOSS_DB))
    params["magnitude_db"] = magnitude
    if shape == "sloping":
        params["slope_db_per_oct"] = 0.9 * magnitude / params["rise_oct"]
    total = magnitude * s
    rho = rng.uniform(*ohc_share_range)
    ohc = np.minimum(rho * total, OHC_MAX_GAIN_DB - 1.0 if ohc_cap_db is None else ohc_cap_db)
    severity = float(np.clip(target_pta_db / 60.0, 0.0, 1.5))
    return HearingProfile(
        status="HI",
        shape=shape,
        shape_params=params | {"ohc_share": float(rho)},
        ohc_loss_db=ohc,
        ihc_loss_db=total - ohc,
        synaptopathy=float(np.clip(0.15 + 0.45 * severity + rng.normal(0.0, 0.05), 0.0, 0.9)),
        central_gain=float(rng.uniform(0.5, 1.0)),
    )


def true_threshold_shift_db(profile: HearingProfile, freq_hz: np.ndarray | float) -> np.ndarray:
    """True threshold shift (dB HL re the nominal NH cochlea) at ``freq_hz``."""
    return interp_cf(profile.thresholds_db_spl() - nominal_nh_thresholds_db_spl(), freq_hz)


def severity_db(profile: HearingProfile) -> float:
    """Severity scalar: pure-tone average (dB HL) of the true threshold shift at :data:`ABR_FREQS_HZ`."""
    return float(np.mean(true_threshold_shift_db(profile, np.asarray(ABR_FREQS_HZ, dtype=float))))


def abr_thresholds_db(
    profile: HearingProfile,
    rng: np.random.Generator,
    noise_sd_db: float = 3.0,
    step_db: float = 5.0,
    thresholds_db_spl: np.ndarray | None = None,
) -> dict[int, float]:
    """ABR-like thresholds (dB SPL) at :data:`ABR_FREQS_HZ`: true threshold + ABR offset + noise, in ``step_db`` steps.

    Args:
        profile: the animal's hearing profile.
        rng: measurement-noise generator.
        noise_sd_db: SD of the Gaussian measurement noise (dB).
        step_db: level step of the ABR series (0 for no rounding).
        thresholds_db_spl: ``n_cf`` true thresholds on the CF grid (default: the gammatone periphery's for
            ``profile``; the animal's periphery gives its own).
    """
    freqs = np.asarray(ABR_FREQS_HZ, dtype=float)
    thr = interp_cf(profile.thresholds_db_spl() if thresholds_db_spl is None else thresholds_db_spl, freqs)
    out = {}
    for f, t in zip(ABR_FREQS_HZ, thr, strict=True):
        v = t + ABR_OFFSET_DB[f] + rng.normal(0.0, noise_sd_db)
        out[int(f)] = float(np.round(v / step_db) * step_db) if step_db > 0 else float(v)
    return out
