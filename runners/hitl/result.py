"""Results of a human-in-the-loop fitting session, measured against the oracle optimum.

The yardstick (measured against an oracle optimum): with D the neural-fidelity distance (lower is better), D0 =
D(theta0) at the prescription and D* the oracle's optimum, a setting theta reaches the fraction

    F(theta) = (D(theta) - D0) / (D* - D0)

of the oracle improvement: 0 at the prescription, 1 at the oracle, < 0 when worse than the prescription (and > 1 if the
session found a better setting than the oracle's local search). It is undefined (NaN) when the oracle cannot improve on
the prescription.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from simulator.errors import HearloopInputError

MODES: tuple[str, ...] = ("pairwise", "rating")
"""Feedback modes of a fitting session."""


def fraction_of_oracle(objective: float, objective_start: float, oracle_objective: float, rtol: float = 1e-9) -> float:
    """F = (objective - objective_start) / (oracle_objective - objective_start); NaN if the oracle gains nothing.

    Args:
        objective: D at the setting being scored.
        objective_start: D0 at the prescription.
        oracle_objective: D* of the oracle (lower is better, so D* < D0 when there is something to gain).
        rtol: gains below ``rtol * |D0|`` count as none.
    """
    gap = float(objective_start) - float(oracle_objective)
    if not math.isfinite(gap) or gap <= rtol * max(abs(float(objective_start)), 1e-300):
        return float("nan")
    return (float(objective_start) - float(objective)) / gap


def queries_to_fraction(
    fractions: Sequence[float], level: float = 0.9, *, sustained: bool = False, queries: Sequence[int] | None = None
) -> int | None:
    """The first query count at which the incumbent reaches ``level`` of the oracle improvement.

    Args:
        fractions: fraction of the oracle improvement after each query (entry i after ``queries[i]`` queries).
        level: target fraction (0.9 for "90 % of the oracle improvement").
        sustained: require the fraction to stay >= level for every later query too.
        queries: query counts of the entries (default 0, 1, 2, ...).

    Returns:
        The query count, or None if never reached (within the session's budget).
    """
    f = np.asarray(fractions, dtype=float)
    q = np.arange(f.size) if queries is None else np.asarray(queries)
    ok = np.nan_to_num(f, nan=-np.inf) >= level
    if sustained:
        tail_ok = np.flip(np.cumprod(np.flip(ok)).astype(bool))
        idx = np.flatnonzero(tail_ok)
    else:
        idx = np.flatnonzero(ok)
    return int(q[idx[0]]) if idx.size else None


@dataclass
class HITLResult:
    """One fitting session.

    Attributes:
        theta_best: ``P`` physical theta of the final incumbent (the setting the session would deliver).
        objective_best: D at ``theta_best`` (true, noise-free neural-fidelity distance; lower is better).
        objective_start: D0 at the prescription theta0.
        queries_used: number of ratings / comparisons asked.
        trace: one dict per query count (entry 0 = before any query) with ``query``, ``objective_of_incumbent``,
            ``fraction_of_oracle``, ``quality_of_incumbent`` (fidelity restored), ``feedback`` (the rating, or 1/0 for
            "the new setting won"), ``x_query`` (normalised search point(s) of the query) and ``seconds`` (wall time of
            the optimiser's step).
        oracle_objective: D* of the oracle optimum.
        fraction_of_oracle_reached: F of the final incumbent.
        mode: ``"pairwise"`` or ``"rating"``.
        objective_unaided: D of the unaided sound (quality scale).
        param_names: names of the tuned parameters (the search coordinates).
        loudness_phon: the listener's loudness level (phon) of the loudest tuning sound through the delivered setting
            (NaN for a problem without a loudness model).
        comfort_limit_phon: the listener's comfort limit (phon; inf without a loudness model); a session never ends
            above it (``loudness_phon <= comfort_limit_phon`` up to 0.05 phon).
        output_gain_db: the broadband trim (dB, <= 0) the fit applies so that the prescription starts comfortable.
        at_edge: the tuned coordinates whose delivered value lies on the edge of the search box
            (:func:`edge_coordinates`): the session wanted to go further than the box allowed.
        info: settings of the session (seed, budget, noise, search box ...).
    """

    theta_best: np.ndarray
    objective_best: float
    objective_start: float
    queries_used: int
    trace: list[dict[str, Any]]
    oracle_objective: float
    fraction_of_oracle_reached: float
    mode: str
    objective_unaided: float = float("nan")
    param_names: tuple[str, ...] = ()
    loudness_phon: float = float("nan")
    comfort_limit_phon: float = float("inf")
    output_gain_db: float = 0.0
    at_edge: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def above_comfort_phon(self) -> float:
        """Loudness of the delivered setting minus the comfort limit (phon; <= 0 within the comfort range)."""
        return float(self.loudness_phon - self.comfort_limit_phon)

    def fractions(self) -> np.ndarray:
        """Fraction of the oracle improvement after 0, 1, ..., queries_used queries."""
        return np.array([row["fraction_of_oracle"] for row in self.trace], dtype=float)

    def queries_to(self, level: float = 0.9, sustained: bool = False) -> int | None:
        """Queries until the incumbent reaches ``level`` of the oracle improvement (None: not within the budget)."""
        return queries_to_fraction(
            self.fractions(), level, sustained=sustained, queries=[r["query"] for r in self.trace]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (arrays as lists)."""
        out = asdict(self)
        out["theta_best"] = [float(v) for v in self.theta_best]
        out["param_names"] = list(self.param_names)
        out["at_edge"] = list(self.at_edge)
        return out


EDGE_TOLERANCE: float = 0.01
"""A coordinate is on the edge of the search box within this fraction of the box's width from a bound."""


def edge_coordinates(problem: Any, x: Any, tolerance: float = EDGE_TOLERANCE) -> tuple[str, ...]:
    """Names of the search coordinates of ``x`` (``k``) that lie on the edge of ``problem``'s search box."""
    x = np.asarray(x, dtype=float).reshape(-1)
    lo, hi = np.asarray(problem.lower, dtype=float), np.asarray(problem.upper, dtype=float)
    near = (x - lo <= tolerance * (hi - lo)) | (hi - x <= tolerance * (hi - lo))
    return tuple(name for name, edge in zip(problem.names, near, strict=True) if edge)


def check_mode_and_budget(mode: str, budget: int) -> tuple[str, int]:
    """Validate a feedback mode and a query budget (raises HearloopInputError naming the problem)."""
    if mode not in MODES:
        raise HearloopInputError(f"unknown HITL feedback mode {mode!r}; choose one of {', '.join(MODES)}")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or int(budget) < 1:
        raise HearloopInputError(f"budget must be a positive integer number of queries, got {budget!r}")
    return mode, int(budget)
