"""Population sampling of virtual listeners from the learned nu of the training animals (Pellatt et al., nu-ICNet).

The paper's "population of virtual listeners produced by sampling nu-ICNet conditioning parameters": a Gaussian
density is fitted to the training animals' learned nu in logit space, z = logit(nu) ~ N(m, S), with S shrunk towards
its diagonal plus a floor (K = 9 animals cannot pin down a full D x D covariance). Listeners are drawn with a seed;
``strata`` asks for a number of listeners per severity class, judged by the listener's neurometric four-frequency PTA
(0.5-4 kHz, dB HL), WHO 2021 grades ("severe" here pools moderately-severe and worse):

    NH < 20 <= mild < 35 <= moderate < 50 <= severe

"NH" also asks that every threshold of the audiogram (:data:`~listeners.listener.AUDIOGRAM_FREQS_HZ`) lies within
:data:`NH_LIMIT_DB_HL` (10 dB) of the NH reference: a PTA below 20 dB HL can hide a high-frequency or notched loss of
30 dB HL or more, which is no normal-hearing listener. Such listeners (PTA < 20, some threshold further than 10 dB from
0) form the class "slight".

Strata are filled by drawing candidates in seeded batches (thresholds of a whole batch in one model call) and keeping
those of the wanted class; if a class is rare under the fitted density, the draw widens the density (temperature 1,
1.5, 2, 3) and says so in a warning. ``nus`` gives explicit listeners instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from torch import nn

from listeners.listener import AUDIOGRAM_FREQS_HZ, VirtualListener, prime_thresholds, validate_listener_nu
from listeners.reference import animal_nus, nh_reference
from simulator.errors import HearloopInputError

__all__ = ["NH_LIMIT_DB_HL", "STRATA", "NuDensity", "listener_stratum", "sample_cohort", "severity_stratum"]

STRATA: dict[str, tuple[float, float]] = {
    "NH": (-np.inf, 20.0),
    "slight": (-np.inf, 20.0),
    "mild": (20.0, 35.0),
    "moderate": (35.0, 50.0),
    "severe": (50.0, np.inf),
}
"""Severity classes by four-frequency PTA in dB HL: [lower, upper). NH and slight share the PTA range and are told
apart by :data:`NH_LIMIT_DB_HL`."""

NH_LIMIT_DB_HL: float = 10.0
"""Largest distance (dB) of any audiogram threshold from 0 dB HL (the NH reference) for a listener to count as NH."""

_EPS = 1e-4
_TEMPERATURES = (1.0, 1.5, 2.0, 3.0)


def severity_stratum(pta_db_hl: float, thresholds_db_hl: Sequence[float] | np.ndarray | None = None) -> str:
    """Severity class ("NH", "slight", "mild", "moderate", "severe") of a listener.

    Args:
        pta_db_hl: four-frequency PTA (0.5, 1, 2, 4 kHz), dB HL.
        thresholds_db_hl: the audiogram, dB HL (any frequencies; the standard ones are
            :data:`~listeners.listener.AUDIOGRAM_FREQS_HZ`). A PTA below 20 dB HL is "NH" only if every threshold is
            within :data:`NH_LIMIT_DB_HL` of 0, otherwise "slight". Without an audiogram the PTA alone decides
            ("NH" for every PTA below 20).
    """
    if not np.isfinite(pta_db_hl):
        raise HearloopInputError(f"PTA must be finite; got {pta_db_hl}")
    for name in ("mild", "moderate", "severe"):
        lo, hi = STRATA[name]
        if lo <= pta_db_hl < hi:
            return name
    if thresholds_db_hl is None:
        return "NH"
    thr = np.asarray(thresholds_db_hl, dtype=np.float64)
    if thr.size == 0 or not np.isfinite(thr).all():
        raise HearloopInputError(f"the audiogram must be non-empty and finite; got {thr.tolist()}")
    return "NH" if np.max(np.abs(thr)) <= NH_LIMIT_DB_HL else "slight"


def listener_stratum(listener: VirtualListener) -> str:
    """:func:`severity_stratum` of a listener's neurometric PTA and audiogram (:data:`AUDIOGRAM_FREQS_HZ`)."""
    return severity_stratum(listener.pta(), listener.thresholds(AUDIOGRAM_FREQS_HZ))


class NuDensity:
    """Gaussian density over logit(nu) fitted to training animals' nu.

    Args:
        nus: ``K x D`` nu of the training animals, in (0, 1).
        shrinkage: weight of the diagonal in S = (1 - a) S_full + a diag(S_full).
        floor: variance added to every logit dimension (keeps sampling from collapsing onto K points).
    """

    def __init__(self, nus: np.ndarray, shrinkage: float = 0.5, floor: float = 0.05) -> None:
        nus = np.clip(np.asarray(nus, dtype=np.float64), _EPS, 1 - _EPS)
        if nus.ndim != 2 or nus.shape[0] < 2:
            raise HearloopInputError(f"need nu of at least 2 animals as a K x D array; got shape {nus.shape}")
        z = np.log(nus / (1 - nus))
        self.mean = z.mean(axis=0)
        full = np.cov(z, rowvar=False).reshape(z.shape[1], z.shape[1])
        self.cov = (1 - shrinkage) * full + shrinkage * np.diag(np.diag(full)) + floor * np.eye(z.shape[1])

    def sample(self, n: int, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
        """``n x D`` nu values drawn from the density (covariance scaled by ``temperature**2``)."""
        z = rng.multivariate_normal(self.mean, self.cov * temperature**2, size=n, method="cholesky")
        return np.clip(1.0 / (1.0 + np.exp(-z)), 0.0, 1.0)


def _make(model: nn.Module, nus: np.ndarray, prefix: str, start: int, **kwargs) -> list[VirtualListener]:
    ref = nh_reference(model)
    return [VirtualListener(f"{prefix}{start + i:03d}", nu, model, reference=ref, **kwargs) for i, nu in enumerate(nus)]


def sample_cohort(
    n: int,
    seed: int = 0,
    model: nn.Module | None = None,
    strata: Mapping[str, int] | None = None,
    nus: Sequence[Sequence[float]] | np.ndarray | None = None,
    prefix: str = "L",
    batch: int = 16,
    **listener_kwargs,
) -> list[VirtualListener]:
    """Draw a seeded cohort of virtual listeners.

    Args:
        n: number of listeners (must equal ``sum(strata.values())`` or ``len(nus)`` when those are given).
        seed: random seed; the same seed (and model) gives the same cohort.
        model: the nu-ICNet; None loads the bundled model (``simulator.load_model()``).
        strata: listeners per severity class (:func:`severity_stratum`), e.g.
            ``{"NH": 2, "mild": 2, "moderate": 2, "severe": 2}``.
        nus: explicit ``n x D`` conditioning vectors (no sampling).
        prefix: listener ids are ``{prefix}{index:03d}``.
        batch: candidates drawn per round when filling strata.
        **listener_kwargs: passed to :class:`VirtualListener` (sigma_db, lapse_rate, ...).

    Returns:
        ``n`` listeners, each with the NH reference attached (thresholds in dB HL relative to it).
    """
    if model is None:
        import simulator

        model = simulator.load_model()
    if n < 1:
        raise HearloopInputError(f"a cohort needs n >= 1 listeners; got {n}")
    d = int(model.n_params)
    if nus is not None:
        arr = np.asarray(nus, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] != n:
            raise HearloopInputError(f"nus must be an n x D array with n = {n}; got shape {arr.shape}")
        return _make(model, np.stack([validate_listener_nu(v, d) for v in arr]), prefix, 0, **listener_kwargs)
    rng = np.random.default_rng(seed)
    density = NuDensity(animal_nus(model))
    if strata is None:
        return _make(model, density.sample(n, rng), prefix, 0, **listener_kwargs)
    unknown = set(strata) - set(STRATA)
    if unknown:
        raise HearloopInputError(f"unknown strata {sorted(unknown)}; supported: {', '.join(STRATA)}")
    if sum(strata.values()) != n or any(v < 0 for v in strata.values()):
        raise HearloopInputError(f"strata counts {dict(strata)} must be >= 0 and sum to n = {n}")
    wanted = {k: int(v) for k, v in strata.items() if v > 0}
    chosen: dict[str, list[VirtualListener]] = {k: [] for k in wanted}
    drawn = 0
    for temperature in _TEMPERATURES:
        for _ in range(8):
            if all(len(chosen[k]) >= wanted[k] for k in wanted):
                break
            candidates = _make(model, density.sample(batch, rng, temperature), "_cand", drawn, **listener_kwargs)
            drawn += batch
            prime_thresholds([*candidates, nh_reference(model)], AUDIOGRAM_FREQS_HZ)
            for cand in candidates:
                cls = listener_stratum(cand)
                if cls in chosen and len(chosen[cls]) < wanted[cls]:
                    chosen[cls].append(cand)
        if all(len(chosen[k]) >= wanted[k] for k in wanted):
            if temperature > 1.0:
                warnings.warn(
                    f"strata {wanted} needed the nu density widened to temperature {temperature}", stacklevel=2
                )
            break
    else:
        got = {k: len(v) for k, v in chosen.items()}
        raise HearloopInputError(
            f"could not fill strata {wanted} from the model's nu population after {drawn} candidates (got {got}); "
            "the training animals do not span that severity"
        )
    listeners: list[VirtualListener] = []
    for cls in STRATA:
        listeners.extend(chosen.get(cls, []))
    for i, lis in enumerate(listeners):
        lis.id = f"{prefix}{i:03d}"
    return listeners
