"""Population sampling of virtual listeners from the learned nu of the training animals ([Pellatt2025]_, nu-ICNet).

The paper's "population of virtual listeners produced by sampling nu-ICNet conditioning parameters": listeners are
drawn with a seed from :class:`~listeners.nu_mixture.NuMixture`, one Gaussian over logit(nu) per hearing-status group
of the training animals (NH, HI), mixed by the groups' animal counts unless ``weights`` says otherwise. ``strata`` asks
for a number of listeners per severity class, judged by :func:`listener_stratum`: the listener's neurometric
four-frequency PTA (0.5-4 kHz, dB HL) and audiogram (:data:`~listeners.listener.AUDIOGRAM_FREQS_HZ`) on the shared
scale of :mod:`simulator.severity` (WHO 2021 grades; NH < 20 <= mild < 35 <= moderate < 50 <= severe, with "slight"
for a PTA below 20 that hides a threshold more than 10 dB from the NH reference), and, for a normal audiogram, its
unaided response against the NH training animals' (:mod:`listeners.hearing_status`: a normal audiogram with a response
beyond theirs is "slight", a hidden loss).

Strata are filled by drawing candidates in seeded batches (thresholds of a whole batch in one model call) and keeping
those of the wanted class: the NH stratum from the NH group's component, every other stratum from the impaired groups'
components. If a class is rare, the draw widens the components (temperature 1, 1.5, 2, 3) and says so in a warning.
``nus`` gives explicit listeners instead.

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

from listeners.hearing_status import hearing_stratum
from listeners.listener import AUDIOGRAM_FREQS_HZ, VirtualListener, prime_thresholds, validate_listener_nu
from listeners.nu_mixture import NH_GROUP, NuDensity, NuMixture, PopulationError
from listeners.reference import nh_reference
from simulator.errors import HearloopInputError
from simulator.severity import NH_LIMIT_DB_HL, STRATA, severity_stratum

__all__ = [
    "NH_LIMIT_DB_HL",
    "STRATA",
    "NuDensity",
    "NuMixture",
    "PopulationError",
    "listener_stratum",
    "sample_cohort",
    "severity_stratum",
]

_TEMPERATURES = (1.0, 1.5, 2.0, 3.0)


def listener_stratum(listener: VirtualListener) -> str:
    """Severity class of a listener: :func:`listeners.hearing_status.hearing_stratum` of its neurometric PTA, audiogram
    (:data:`AUDIOGRAM_FREQS_HZ`) and response. A listener without the NH reference attached (thresholds not in dB HL)
    is classed by its audiogram alone."""
    pta, thresholds = listener.pta(), listener.thresholds(AUDIOGRAM_FREQS_HZ)
    if listener.reference is None:
        return severity_stratum(pta, thresholds)
    return hearing_stratum(listener.model, listener.nu, pta, thresholds)


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
    weights: Mapping[str, float] | None = None,
    **listener_kwargs,
) -> list[VirtualListener]:
    """Draw a seeded cohort of virtual listeners.

    Args:
        n: number of listeners (must equal ``sum(strata.values())`` or ``len(nus)`` when those are given).
        seed: random seed; the same seed (and model) gives the same cohort.
        model: the nu-ICNet; None loads the bundled model (``simulator.load_model()``).
        strata: listeners per severity class (:func:`listener_stratum`), e.g.
            ``{"NH": 2, "mild": 2, "moderate": 2, "severe": 2}``; the NH class is drawn from the NH group's component,
            the others from the impaired groups'.
        nus: explicit ``n x D`` conditioning vectors (no sampling).
        prefix: listener ids are ``{prefix}{index:03d}``.
        batch: candidates drawn per round (and per component) when filling strata.
        progress: with ``strata``, a tqdm bar of the listeners found so far (each round of candidates measures their
            neurometric audiograms, minutes on a CPU for a full stratified cohort).
        weights: mixture weights per hearing-status group (:class:`NuMixture`); None: the groups' animal counts.
            Without ``strata`` each listener's group is drawn with these probabilities.
        **listener_kwargs: passed to :class:`VirtualListener` (sigma_db, lapse_rate, ...).

    Returns:
        ``n`` listeners, each with the NH reference attached (thresholds in dB HL relative to it).

    Raises:
        HearloopInputError: bad ``n``, ``nus`` or ``strata``; :class:`PopulationError` (one) for bad ``weights`` or a
            draw from a group of fewer than 2 training animals; all before any listener is drawn.
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
    mixture = NuMixture.from_model(model, weights=weights)
    rng = np.random.default_rng(seed)
    if strata is None:
        return _make(model, mixture.sample(n, rng)[0], prefix, 0, **listener_kwargs)
    unknown = set(strata) - set(STRATA)
    if unknown:
        raise HearloopInputError(f"unknown strata {sorted(unknown)}; supported: {', '.join(STRATA)}")
    if sum(strata.values()) != n or any(v < 0 for v in strata.values()):
        raise HearloopInputError(f"strata counts {dict(strata)} must be >= 0 and sum to n = {n}")
    wanted = {k: int(v) for k, v in strata.items() if v > 0}
    _check_strata_groups(mixture, wanted)
    with tqdm(total=n, desc="drawing listeners by stratum", unit="listener", disable=not progress) as bar:
        chosen = _fill_strata(model, mixture, rng, wanted, batch, bar, listener_kwargs)
    listeners: list[VirtualListener] = []
    for cls in STRATA:
        listeners.extend(chosen.get(cls, []))
    for i, lis in enumerate(listeners):
        lis.id = f"{prefix}{i:03d}"
    return listeners


def _check_strata_groups(mixture: NuMixture, wanted: Mapping[str, int]) -> None:
    """Every wanted class can be drawn: NH from the NH group, the others from some impaired group."""
    if NH_GROUP in wanted:
        mixture.require([NH_GROUP])
    if set(wanted) - {NH_GROUP}:
        if not mixture.impaired_groups():
            raise PopulationError(f"strata {dict(wanted)} need an impaired group of positive weight: {mixture.weights}")
        mixture.require(mixture.impaired_groups())


def _candidates(mixture: NuMixture, rng: np.random.Generator, need: Mapping[str, int], batch: int, t: float):
    """One round of candidate nu: ``batch`` from the NH component while NH listeners are missing, ``batch`` from the
    impaired components while other classes are missing."""
    parts = []
    if need.get(NH_GROUP, 0) > 0:
        parts.append(mixture.sample(batch, rng, t, groups=[NH_GROUP])[0])
    if any(v > 0 for k, v in need.items() if k != NH_GROUP):
        parts.append(mixture.sample(batch, rng, t, groups=mixture.impaired_groups())[0])
    return np.concatenate(parts)


def _fill_strata(
    model: nn.Module,
    mixture: NuMixture,
    rng: np.random.Generator,
    wanted: dict[str, int],
    batch: int,
    bar: tqdm,
    listener_kwargs: dict,
) -> dict[str, list[VirtualListener]]:
    """Draw candidates in batches (widening the components when a class is rare) until every class of ``wanted`` is
    full; the NH class takes only candidates of the NH component. ``bar`` counts the listeners kept."""
    chosen: dict[str, list[VirtualListener]] = {k: [] for k in wanted}
    drawn = 0
    for temperature in _TEMPERATURES:
        for _ in range(8):
            need = {k: wanted[k] - len(chosen[k]) for k in wanted}
            if all(v <= 0 for v in need.values()):
                break
            nus = _candidates(mixture, rng, need, batch, temperature)
            from_nh = need.get(NH_GROUP, 0) > 0
            candidates = _make(model, nus, "_cand", drawn, **listener_kwargs)
            drawn += len(candidates)
            prime_thresholds([*candidates, nh_reference(model)], AUDIOGRAM_FREQS_HZ)
            for i, cand in enumerate(candidates):
                cls = listener_stratum(cand)
                if (cls == NH_GROUP) != (from_nh and i < batch):
                    continue  # the NH class from the NH component only, the others from the impaired ones only
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
