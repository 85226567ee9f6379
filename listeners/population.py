"""Population sampling of virtual listeners from the learned nu of the training animals ([Pellatt2025]_, nu-ICNet).

The paper's "population of virtual listeners produced by sampling nu-ICNet conditioning parameters": a Gaussian
density is fitted to the training animals' learned nu in logit space, z = logit(nu) ~ N(m, S), with S shrunk towards
its diagonal plus a floor (a few training animals cannot pin down a full D x D covariance). Listeners are drawn with
a seed; ``strata`` asks for a number of listeners per severity class, judged by the listener's neurometric
four-frequency PTA (0.5-4 kHz, dB HL) and its audiogram (:data:`~listeners.listener.AUDIOGRAM_FREQS_HZ`) on the
shared scale of :mod:`simulator.severity` (WHO 2021 grades; NH < 20 <= mild < 35 <= moderate < 50 <= severe, with
"slight" for a PTA below 20 that hides a threshold more than 10 dB from the NH reference).

Strata are filled by drawing candidates in seeded batches (thresholds of a whole batch in one model call) and keeping
those of the wanted class; if a class is rare under the fitted density, the draw widens the density (temperature 1,
1.5, 2, 3) and says so in a warning. ``nus`` gives explicit listeners instead.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from torch import nn
from tqdm.auto import tqdm

from listeners.listener import AUDIOGRAM_FREQS_HZ, VirtualListener, prime_thresholds, validate_listener_nu
from listeners.reference import animal_nus, nh_reference
from simulator.errors import HearloopInputError
from simulator.severity import NH_LIMIT_DB_HL, STRATA, severity_stratum

__all__ = ["NH_LIMIT_DB_HL", "STRATA", "NuDensity", "listener_stratum", "sample_cohort", "severity_stratum"]

_EPS = 1e-4
_TEMPERATURES = (1.0, 1.5, 2.0, 3.0)


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
    progress: bool = False,
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
        progress: with ``strata``, a tqdm bar of the listeners found so far (each round of candidates measures their
            neurometric audiograms, minutes on a CPU for a full stratified cohort).
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
    with tqdm(total=n, desc="drawing listeners by stratum", unit="listener", disable=not progress) as bar:
        chosen = _fill_strata(model, density, rng, wanted, batch, bar, listener_kwargs)
    listeners: list[VirtualListener] = []
    for cls in STRATA:
        listeners.extend(chosen.get(cls, []))
    for i, lis in enumerate(listeners):
        lis.id = f"{prefix}{i:03d}"
    return listeners


def _fill_strata(
    model: nn.Module,
    density: NuDensity,
    rng: np.random.Generator,
    wanted: dict[str, int],
    batch: int,
    bar: tqdm,
    listener_kwargs: dict,
) -> dict[str, list[VirtualListener]]:
    """Draw candidates in batches (widening the density when a class is rare) until every class of ``wanted`` is full;
    ``bar`` counts the listeners kept."""
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
                    bar.update(1)
            bar.set_postfix(candidates=drawn, refresh=False)
        if all(len(chosen[k]) >= wanted[k] for k in wanted):
            if temperature > 1.0:
                warnings.warn(
                    f"strata {wanted} needed the nu density widened to temperature {temperature}", stacklevel=3
                )
            return chosen
    got = {k: len(v) for k, v in chosen.items()}
    raise HearloopInputError(
        f"could not fill strata {wanted} from the model's nu population after {drawn} candidates (got {got}); "
        "the training animals do not span that severity"
    )
