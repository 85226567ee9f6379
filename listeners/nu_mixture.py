"""The density listeners are drawn from: a mixture of one Gaussian over logit(nu) per hearing-status group.

Each hearing-status group g of the training animals (``model.metadata["animals"][k]["status"]``: "NH", "HI", ...)
gets its own Gaussian in logit space, fitted to that group's learned nu alone:

    z = logit(nu) | g  ~  N(m_g, S_g),   S_g = (1 - a) S_g,full + a diag(S_g,full) + f I                         (1)
    p(z) = sum_g w_g N(z; m_g, S_g)                                                                              (2)

(shrinkage a = 0.5 towards the diagonal and a variance floor f = 0.05, as a few animals cannot pin down a full D x D
covariance). One Gaussian over all animals would mix normal-hearing values on some nu dimensions with impaired values on
others: listeners no training animal resembles (a normal audiogram with an impaired response). The weights w_g default
to the groups' animal counts (3 NH + 6 HI animals: 1/3, 2/3); a group needs at least 2 animals for a covariance, so by
default a group with fewer gets weight 0 (with a warning), and asking to draw from it is an error.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from torch import nn

from simulator.errors import CheckpointError, HearloopInputError

__all__ = ["NH_GROUP", "NuDensity", "NuMixture", "PopulationError"]

NH_GROUP: str = "NH"
"""The hearing status of normal-hearing training animals (the group NH listeners are drawn from)."""

_EPS = 1e-4


class PopulationError(HearloopInputError):
    """A listener population that cannot be drawn as asked: mixture weights outside [0, 1], not summing to 1 or naming
    an unknown group; a draw from a hearing-status group of fewer than 2 training animals."""


class NuDensity:
    """Gaussian density over logit(nu) fitted to training animals' nu (eq. (1)).

    Args:
        nus: ``K x D`` nu of the training animals, in (0, 1).
        shrinkage: weight of the diagonal in S = (1 - a) S_full + a diag(S_full).
        floor: variance added to every logit dimension (keeps sampling from collapsing onto K points).
    """

    def __init__(self, nus: np.ndarray, shrinkage: float = 0.5, floor: float = 0.05) -> None:
        nus = np.clip(np.asarray(nus, dtype=np.float64), _EPS, 1 - _EPS)
        if nus.ndim != 2 or nus.shape[0] < 2:
            raise PopulationError(f"need nu of at least 2 animals as a K x D array; got shape {nus.shape}")
        z = np.log(nus / (1 - nus))
        self.mean = z.mean(axis=0)
        full = np.cov(z, rowvar=False).reshape(z.shape[1], z.shape[1])
        self.cov = (1 - shrinkage) * full + shrinkage * np.diag(np.diag(full)) + floor * np.eye(z.shape[1])

    def sample(self, n: int, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
        """``n x D`` nu values drawn from the density (covariance scaled by ``temperature**2``)."""
        z = rng.multivariate_normal(self.mean, self.cov * temperature**2, size=n, method="cholesky")
        return np.clip(1.0 / (1.0 + np.exp(-z)), 0.0, 1.0)


def _check_weights(weights: Mapping[str, float], counts: Mapping[str, int]) -> dict[str, float]:
    """Explicit weights validated against the groups (unknown group, range, sum, too few animals)."""
    unknown = set(weights) - set(counts)
    if unknown:
        raise PopulationError(f"mixture weights name unknown groups {sorted(unknown)}; the groups are {sorted(counts)}")
    out = {g: float(weights.get(g, 0.0)) for g in counts}
    bad = {g: w for g, w in out.items() if not (math.isfinite(w) and 0.0 <= w <= 1.0)}
    if bad:
        raise PopulationError(f"mixture weights must lie in [0, 1]; got {bad}")
    if abs(sum(out.values()) - 1.0) > 1e-6:
        raise PopulationError(f"mixture weights must sum to 1; got {out} (sum {sum(out.values()):.6g})")
    thin = {g: counts[g] for g, w in out.items() if w > 0 and counts[g] < 2}
    if thin:
        raise PopulationError(f"cannot draw from groups of fewer than 2 training animals {thin} (weights {out})")
    return out


class NuMixture:
    """Mixture of one :class:`NuDensity` per hearing-status group (module docstring, eq. (2)).

    Args:
        nus: ``K x D`` learned nu of the training animals.
        statuses: ``K`` hearing status of each animal ("NH", "HI", ...).
        weights: ``{group: w_g}`` in [0, 1] summing to 1 (groups left out get 0); None: the animal counts of the groups
            with at least 2 animals.
        shrinkage, floor: of every component (:class:`NuDensity`).

    Raises:
        PopulationError: bad weights (see :class:`PopulationError`), or no group of at least 2 animals.
    """

    def __init__(
        self,
        nus: np.ndarray,
        statuses: Sequence[str],
        weights: Mapping[str, float] | None = None,
        shrinkage: float = 0.5,
        floor: float = 0.05,
    ) -> None:
        nus = np.asarray(nus, dtype=np.float64)
        if nus.ndim != 2 or nus.shape[0] != len(statuses):
            raise PopulationError(f"need one status per animal: nu of shape {nus.shape}, {len(statuses)} statuses")
        self.groups: dict[str, list[int]] = {}
        for k, status in enumerate(statuses):
            self.groups.setdefault(str(status), []).append(k)
        counts = {g: len(idx) for g, idx in self.groups.items()}
        if weights is None:
            fitted = {g: n for g, n in counts.items() if n >= 2}
            if not fitted:
                raise PopulationError(f"no hearing-status group has 2 or more training animals: {counts}")
            if len(fitted) < len(counts):
                warnings.warn(f"groups of fewer than 2 training animals get mixture weight 0: {counts}", stacklevel=2)
            self.weights = {g: fitted.get(g, 0) / sum(fitted.values()) for g in counts}
        else:
            self.weights = _check_weights(weights, counts)
        self.components = {
            g: NuDensity(nus[idx], shrinkage=shrinkage, floor=floor) for g, idx in self.groups.items() if len(idx) >= 2
        }

    @classmethod
    def from_model(cls, model: nn.Module, weights: Mapping[str, float] | None = None) -> NuMixture:
        """The mixture of a model's training animals (learned nu, ``metadata["animals"][k]["status"]``).

        Raises:
            CheckpointError: the metadata does not give a status for each of the model's animals.
        """
        from simulator.model.animals import animal_nus

        animals = (getattr(model, "metadata", None) or {}).get("animals") or []
        nus = animal_nus(model)
        if len(animals) != nus.shape[0] or any("status" not in a for a in animals):
            raise CheckpointError(
                f"the model's metadata must give a hearing status for each of its {nus.shape[0]} training animals "
                "(metadata['animals'][k]['status'], written by `hearloop train`)"
            )
        return cls(nus, [a["status"] for a in animals], weights=weights)

    def require(self, groups: Sequence[str]) -> None:
        """Raise :class:`PopulationError` unless every group in ``groups`` can be drawn from (>= 2 animals)."""
        for g in groups:
            if g not in self.components:
                n = len(self.groups.get(g, []))
                raise PopulationError(f"cannot draw from hearing-status group {g!r}: {n} training animal(s), need 2")

    def impaired_groups(self) -> list[str]:
        """The groups other than :data:`NH_GROUP` with a positive weight (impaired strata are drawn from these)."""
        return [g for g, w in self.weights.items() if g != NH_GROUP and w > 0]

    def sample(
        self, n: int, rng: np.random.Generator, temperature: float = 1.0, groups: Sequence[str] | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """``n`` draws: each picks a component with probability w_g (renormalised over ``groups`` when given), then
        draws from it. Returns ``n x D`` nu and the ``n`` group labels, in draw order."""
        names = [g for g in (groups or self.weights) if self.weights.get(g, 0.0) > 0]
        if not names:
            raise PopulationError(f"no group of {list(groups or self.weights)} has a positive mixture weight")
        self.require(names)
        p = np.array([self.weights[g] for g in names])
        labels = [names[i] for i in rng.choice(len(names), size=n, p=p / p.sum())]
        d = next(iter(self.components.values())).mean.shape[0]
        out = np.empty((n, d))
        for g in names:
            rows = [i for i, lab in enumerate(labels) if lab == g]
            if rows:
                out[rows] = self.components[g].sample(len(rows), rng, temperature)
        return out, labels
