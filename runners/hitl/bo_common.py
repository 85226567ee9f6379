"""Pieces shared by the rating and pairwise Bayesian optimisers: the unit-cube view, model fitting, acquisition search.

botorch models and acquisition optimisers expect inputs in the unit cube (Balandat et al. 2020, "BoTorch", NeurIPS);
the search box [lower, upper] of a :class:`~runners.hitl.problem.FittingProblem` is mapped affinely onto [0, 1]^k.
Model fitting goes through ``botorch.fit.fit_gpytorch_mll``; a failed fit keeps the model's current (prior-initialised
or previous) hyperparameters rather than stopping the session. Acquisition functions are maximised by
``botorch.optim.optimize_acqf`` with seeded raw samples, so a seeded session is reproducible.
"""

from __future__ import annotations

import abc
import contextlib
import time
import warnings
from collections.abc import Iterator
from typing import Any

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.exceptions import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.optim import optimize_acqf
from torch.quasirandom import SobolEngine

from runners.hitl.problem import FittingProblem


class UnitCube:
    """Affine map between the problem's search box (``k``) and [0, 1]^k."""

    def __init__(self, problem: FittingProblem) -> None:
        self.lower, self.span = problem.lower.double(), (problem.upper - problem.lower).double()
        self.bounds = torch.stack([torch.zeros_like(self.lower), torch.ones_like(self.lower)])

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.double() - self.lower) / self.span).clamp(0.0, 1.0)

    def from_unit(self, z: torch.Tensor) -> torch.Tensor:
        return self.lower + z.double().clamp(0.0, 1.0) * self.span


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch on one intra-op thread inside the block (restored after).

    The GP linear algebra of a fitting session is tiny (tens of points): thread start-up and synchronisation cost more
    than they save, and on a shared, busy machine spinning OpenMP workers slow GP fits and acquisition searches by up
    to 8x (measured with load 7 on 2 cores). Model evaluations of the listener run outside these blocks, multi-threaded.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def fit_mll(mll: Any, maxiter: int = 100) -> bool:
    """Fit a model's hyperparameters by maximising ``mll`` (one L-BFGS-B attempt of at most ``maxiter`` iterations).

    Returns False (hyperparameters left where the attempt stopped) if the fit fails.
    """
    with warnings.catch_warnings(), single_threaded():
        warnings.simplefilter("ignore")
        try:
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": int(maxiter)}}, max_attempts=1)
        except (ModelFittingError, RuntimeError, ValueError):
            return False
    return True


CANDIDATE_RESOLUTION: float = 1e-9
"""Grid (unit-cube units) that acquisition candidates are rounded to (see :func:`maximise`)."""


def maximise(
    acqf: AcquisitionFunction, bounds: torch.Tensor, *, q: int, num_restarts: int, raw_samples: int, seed: int
):
    """argmax of ``acqf`` over ``bounds`` (``2 x d``): ``q x d`` candidates (seeded raw samples).

    Candidates are rounded to a grid of :data:`CANDIDATE_RESOLUTION` (unit-cube units, far finer than any aid setting):
    floating-point reductions may differ in the last bit between otherwise identical runs (memory alignment picks
    different SIMD paths), and without the rounding such a difference would propagate through a session, breaking
    "same seed, same trajectory".
    """
    with warnings.catch_warnings(), single_threaded():
        warnings.simplefilter("ignore")
        candidates, _ = optimize_acqf(
            acqf,
            bounds=bounds,
            q=q,
            num_restarts=num_restarts,
            raw_samples=raw_samples,
            options={"seed": int(seed), "maxiter": 100, "batch_limit": num_restarts},
        )
    grid = CANDIDATE_RESOLUTION
    return torch.minimum(torch.maximum(torch.round(candidates.detach() / grid) * grid, bounds[0]), bounds[1])


def sobol_points(k: int, n: int, seed: int) -> torch.Tensor:
    """``n x k`` scrambled Sobol points in the unit cube (float64, seeded)."""
    return SobolEngine(k, scramble=True, seed=int(seed)).draw(n).double()


class SessionOptimiser(abc.ABC):
    """One fitting session's optimiser: ask the listener one query per :meth:`step`, report the incumbent.

    Args:
        problem: the fitting problem.
        seed: seed of the initial design and of the acquisition search.
        num_restarts, raw_samples: ``optimize_acqf`` effort per query (kept low: a query must take well under a
            second).
    """

    mode: str = ""

    def __init__(self, problem: FittingProblem, *, seed: int = 0, num_restarts: int = 4, raw_samples: int = 64):
        self.problem, self.seed = problem, int(seed)
        self.cube = UnitCube(problem)
        self.num_restarts, self.raw_samples = int(num_restarts), int(raw_samples)
        self.n_queries = 0

    @abc.abstractmethod
    def _query(self) -> dict[str, Any]:
        """Choose the next query, ask the listener, update the model; returns the query's record."""

    def best_comfortable(self, points: list[torch.Tensor], score: torch.Tensor, among=None) -> int | None:
        """Index of the highest-``score`` point (unit-cube ``points``) the listener found comfortable
        (:meth:`~runners.hitl.problem.FittingProblem.comfortable`), among the indices ``among`` (default all); None if
        none is. Sessions deliver only comfortable settings, so none ends above the comfort limit."""
        idx = list(range(len(points))) if among is None else list(among)
        ok = [i for i in idx if self.problem.comfortable(self.cube.from_unit(points[i]))]
        return max(ok, key=lambda i: float(score[i])) if ok else None

    @abc.abstractmethod
    def incumbent(self) -> torch.Tensor:
        """The setting (``k`` search coordinates) the session would deliver now."""

    def step(self) -> dict[str, Any]:
        """Ask one query; the record has ``x_query``, ``feedback`` and ``seconds`` (optimiser + model wall time)."""
        start = time.perf_counter()
        record = self._query()
        self.n_queries += 1
        record["seconds"] = time.perf_counter() - start
        return record
