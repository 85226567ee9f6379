"""Human-in-the-loop hearing-aid fitting: Bayesian optimisation from a virtual listener's ratings or A/B preferences.

from runners.hitl import fit_aid, oracle_optimum, HITLResult
theta0 = strategy.prescribe(gppta_audiogram.as_dict())
res = fit_aid(listener, strategy, sounds, theta0, mode="pairwise", budget=30, seed=0)
res.fraction_of_oracle_reached, res.queries_to(0.9)
"""

from runners.hitl.feedback import DEFAULT_SIGMA, PairwiseFeedback, RatingFeedback
from runners.hitl.fit_aid import DEFAULT_RADIUS, fit_aid, listener_comfort, make_problem, run_session
from runners.hitl.oracle import OracleResult, oracle_optimum
from runners.hitl.pairwise_bo import QUERY_DESIGNS, PairwiseBO
from runners.hitl.problem import (
    FittingProblem,
    StrategyFittingProblem,
    TuneSpec,
    band_groups,
    parse_tune,
    select_tuned,
)
from runners.hitl.rating_bo import RatingBO
from runners.hitl.result import MODES, HITLResult, edge_coordinates, fraction_of_oracle, queries_to_fraction
from runners.hitl.synthetic import QuadraticProblem

__all__ = [
    "DEFAULT_RADIUS",
    "DEFAULT_SIGMA",
    "MODES",
    "QUERY_DESIGNS",
    "FittingProblem",
    "HITLResult",
    "OracleResult",
    "PairwiseBO",
    "PairwiseFeedback",
    "QuadraticProblem",
    "RatingBO",
    "RatingFeedback",
    "StrategyFittingProblem",
    "TuneSpec",
    "band_groups",
    "edge_coordinates",
    "fit_aid",
    "fraction_of_oracle",
    "listener_comfort",
    "make_problem",
    "oracle_optimum",
    "parse_tune",
    "queries_to_fraction",
    "run_session",
    "select_tuned",
]
