"""Human-in-the-loop fitting of a hearing aid for a virtual listener: ``fit_aid``.

The session starts from theta0, the strategy's prescription from the listener's GP-PTA audiogram (computed by the
caller), and fine-tunes (part of) theta by Bayesian optimisation from the virtual listener's feedback:

* ``mode="pairwise"``: A/B preferences (probit on the quality difference), PairwiseGP + EUBO
  (:mod:`runners.hitl.pairwise_bo`);
* ``mode="rating"``: noisy ratings, SingleTaskGP + noisy log-EI (:mod:`runners.hitl.rating_bo`).

After every query the session's incumbent is scored with the true (noise-free) neural-fidelity distance and expressed as
the fraction of the oracle improvement (:mod:`runners.hitl.result`, :mod:`runners.hitl.oracle`). The whole session runs
under a forked, seeded torch RNG and seeded feedback, so the same seed gives the same trajectory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from runners.hitl.feedback import DEFAULT_SIGMA, PairwiseFeedback, RatingFeedback
from runners.hitl.oracle import OracleResult, oracle_optimum
from runners.hitl.pairwise_bo import PairwiseBO
from runners.hitl.problem import FittingProblem, StrategyFittingProblem, TuneSpec
from runners.hitl.rating_bo import RatingBO
from runners.hitl.result import HITLResult, check_mode_and_budget, edge_coordinates, fraction_of_oracle
from simulator.errors import HearloopInputError

DEFAULT_RADIUS: float = 0.5
"""Default half-width of the search box around the prescription, normalised units (a quarter of each parameter's
range either side: +-17.5 dB for MultibandGain's -10..60 dB gains)."""


def run_session(
    problem: FittingProblem,
    *,
    mode: str = "pairwise",
    budget: int = 30,
    seed: int = 0,
    oracle: OracleResult | None = None,
    sigma: float = DEFAULT_SIGMA,
    rating_sigma: float | None = None,
    lapse: float = 0.0,
    query: str = "incumbent",
    n_init: int = 2,
    num_restarts: int = 4,
    raw_samples: int = 64,
) -> HITLResult:
    """Run one feedback session on any :class:`FittingProblem` (the neural one, or a synthetic one in tests).

    Args:
        problem: the fitting problem.
        mode: ``"pairwise"`` or ``"rating"``.
        budget: number of comparisons / ratings.
        seed: seeds the feedback noise, the initial design and the acquisition search.
        oracle: a precomputed :func:`oracle_optimum` of this problem (computed with ``seed`` if None).
        sigma: the listener's internal noise SD for comparisons (fidelity-restored units).
        rating_sigma: rating noise SD (None: 2 x the default sigma).
        lapse: random-answer rate of comparisons.
        query: pairwise query design, ``"incumbent"`` or ``"pair"``.
        n_init: Sobol settings rated after the prescription (rating mode).
        num_restarts, raw_samples: acquisition-optimiser effort per query.

    Returns:
        :class:`HITLResult` (trace entry 0 is the prescription, before any query).
    """
    mode, budget = check_mode_and_budget(mode, budget)
    if oracle is None:
        oracle = oracle_optimum(problem, seed=seed)
    elif oracle.signature and oracle.signature != problem.signature():
        raise HearloopInputError(
            "the oracle was computed on a different search space (tuned parameters or box) than this session's"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        d0 = problem.evaluate(problem.x0)
        effort = {"num_restarts": num_restarts, "raw_samples": raw_samples}
        if mode == "pairwise":
            feedback = PairwiseFeedback(problem, sigma=sigma, lapse=lapse, seed=seed)
            opt = PairwiseBO(problem, feedback, seed=seed, query=query, **effort)
        else:
            opt = RatingBO(problem, RatingFeedback(problem, rating_sigma=rating_sigma, seed=seed), seed=seed,
                           n_init=n_init, **effort)  # fmt: skip
        trace = [_row(problem, 0, problem.x0, d0, oracle.objective, {"x_query": [], "feedback": None, "seconds": 0.0})]
        for i in range(1, budget + 1):
            record = opt.step()
            x_inc = opt.incumbent()
            trace.append(_row(problem, i, x_inc, d0, oracle.objective, record))
        x_best = opt.incumbent()
    settings = {"seed": int(seed), "budget": budget, "sigma": float(sigma), "lapse": float(lapse),
                "rating_sigma": None if rating_sigma is None else float(rating_sigma),
                "query": query if mode == "pairwise" else None}  # fmt: skip
    return _result(problem, x_best, d0, oracle, trace, mode, settings)


def _result(
    problem: FittingProblem,
    x_best: torch.Tensor,
    d0: float,
    oracle: OracleResult,
    trace: list[dict[str, Any]],
    mode: str,
    settings: dict[str, Any],
) -> HITLResult:
    """The session's :class:`HITLResult`: the delivered setting scored, its loudness and box edges recorded."""
    d_best = problem.evaluate(x_best)
    info = {**settings, "search_box": problem.signature(), "oracle_theta": [float(v) for v in oracle.theta]}
    info["loudness_phon_start"] = problem.loudness(problem.x0)
    return HITLResult(
        theta_best=problem.theta(x_best),
        objective_best=d_best,
        objective_start=d0,
        queries_used=int(settings["budget"]),
        trace=trace,
        oracle_objective=oracle.objective,
        fraction_of_oracle_reached=fraction_of_oracle(d_best, d0, oracle.objective),
        mode=mode,
        objective_unaided=problem.d_unaided,
        param_names=tuple(problem.names),
        loudness_phon=problem.loudness(x_best),
        comfort_limit_phon=problem.comfort_limit_phon,
        output_gain_db=float(getattr(problem, "output_gain_db", 0.0)),
        at_edge=edge_coordinates(problem, x_best),
        info=info,
    )


def _row(
    problem: FittingProblem, query: int, x_inc: torch.Tensor, d0: float, d_oracle: float, record: dict[str, Any]
) -> dict[str, Any]:
    from compensation.objective import fidelity_restored

    d = problem.evaluate(x_inc)
    return {
        "query": query,
        "objective_of_incumbent": d,
        "fraction_of_oracle": fraction_of_oracle(d, d0, d_oracle),
        "quality_of_incumbent": fidelity_restored(d, problem.d_unaided),
        "x_incumbent": [float(v) for v in x_inc],
        **record,
    }


def _listener_nu(listener: Any) -> torch.Tensor:
    if hasattr(listener, "nu_tensor"):
        return listener.nu_tensor()
    if hasattr(listener, "nu"):
        return torch.as_tensor(np.asarray(listener.nu, dtype=np.float32)).reshape(1, -1)
    raise HearloopInputError("listener must have nu (a VirtualListener)")


def fit_aid(
    listener: Any,
    strategy: Any,
    sounds: torch.Tensor,
    theta0: torch.Tensor | np.ndarray | Sequence[float],
    *,
    mode: str = "pairwise",
    budget: int = 30,
    objective: Any | None = None,
    seed: int = 0,
    oracle: OracleResult | None = None,
    tune: TuneSpec = None,
    radius: float | None = DEFAULT_RADIUS,
    comfort: Any = "listener",
    **session_kwargs: Any,
) -> HITLResult:
    """Fine-tune ``strategy`` for ``listener`` from its feedback, starting at the prescription ``theta0``.

    Args:
        listener: a :class:`listeners.VirtualListener` (its ``nu`` and ``model``).
        strategy: a :class:`compensation.Strategy`.
        sounds: ``B x samples`` clean sounds (Pa at SAMPLE_RATE) the listener judges (keep it short: every query
            processes them).
        theta0: ``P`` prescription (physical units), e.g. ``strategy.prescribe(gppta_audiogram.as_dict())``.
        mode: ``"pairwise"`` or ``"rating"``.
        budget: number of comparisons / ratings.
        objective: the neural-fidelity objective (None: ``NeuralFidelityObjective(listener.model,
            nh_reference(listener.model).nu)``), or any callable ``objective(clean, aided, nu, target=None) -> B``.
        seed: seeds everything random in the session.
        oracle: a precomputed :func:`oracle_optimum` for the same listener, strategy, sounds, theta0, tune and radius.
        tune: tuned parameters (None: all; a prefix such as ``"gain_db"``; or a list of names).
        radius: search box half-width around the prescription (normalised units; None: the whole range).
        comfort: the listener's :class:`compensation.ListenerComfort`; ``"listener"`` (default) builds it from the
            listener's true audiogram (``listener.audiogram()``; none for a listener without one); None: no comfort.
        session_kwargs: passed to :func:`run_session` (sigma, rating_sigma, lapse, query, n_init, ...).

    Returns:
        :class:`HITLResult`.
    """
    check_mode_and_budget(mode, budget)
    problem = make_problem(
        listener, strategy, sounds, theta0, objective=objective, tune=tune, radius=radius, comfort=comfort
    )
    return run_session(problem, mode=mode, budget=budget, seed=seed, oracle=oracle, **session_kwargs)


def make_problem(
    listener: Any,
    strategy: Any,
    sounds: torch.Tensor,
    theta0: torch.Tensor | np.ndarray | Sequence[float],
    *,
    objective: Any | None = None,
    tune: TuneSpec = None,
    radius: float | None = DEFAULT_RADIUS,
    comfort: Any = "listener",
) -> StrategyFittingProblem:
    """The :class:`StrategyFittingProblem` ``fit_aid`` solves (build it once to share with :func:`oracle_optimum`).

    ``comfort``: as in :func:`fit_aid` (``"listener"``: from the listener's true audiogram, its own perception).
    """
    if objective is None:
        from compensation.objective import NeuralFidelityObjective
        from listeners import nh_reference

        objective = NeuralFidelityObjective(listener.model, nh_reference(listener.model).nu)
    if isinstance(comfort, str):
        if comfort != "listener":
            raise HearloopInputError(f"comfort must be 'listener', a ListenerComfort or None; got {comfort!r}")
        comfort = listener_comfort(listener)
    return StrategyFittingProblem(
        strategy, objective, _listener_nu(listener), sounds, theta0, tune=tune, radius=radius, comfort=comfort
    )


def listener_comfort(listener: Any) -> Any:
    """The :class:`compensation.ListenerComfort` of a listener's own perception: its loudness model from its true
    audiogram (``listener.audiogram()``, neurometric thresholds) and the default comfort range; None for a listener
    without an audiogram."""
    if not callable(getattr(listener, "audiogram", None)):
        return None
    from compensation import ListenerComfort

    return ListenerComfort.from_audiogram(listener.audiogram())
