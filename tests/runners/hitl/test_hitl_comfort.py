"""HITL respects the listener's comfort: penalised feedback, a constrained oracle, comfortable endings, edges."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compensation import ComfortRange, ListenerComfort, ListenerLoudness, get_strategy
from compensation.objective import NeuralFidelityObjective
from runners.hitl import QuadraticProblem, StrategyFittingProblem, edge_coordinates, oracle_optimum, run_session
from runners.hitl.problem import COMFORT_TOLERANCE_PHON
from simulator.data.corpus import synthesise


def loud_problem(seed: int = 0) -> QuadraticProblem:
    """The optimum (0.4, 0.4) is 16 phon louder than the prescription, 6 phon above the comfort limit of 90 phon."""
    return QuadraticProblem(2, seed=seed, optimum=[0.4, 0.4], loudness_slope=[20.0, 20.0], loudness_base_phon=80.0)


def test_perceived_quality_pays_for_loudness_above_the_comfort_limit():
    problem = loud_problem()
    x = torch.tensor([[0.0, 0.0], [0.2, 0.2], [0.4, 0.4]], dtype=torch.float64)
    fidelity = 1.0 - problem.distance(x) / problem.d_unaided
    q = problem.quality(x)
    torch.testing.assert_close(q[:2], fidelity[:2])  # 80 and 88 phon: within the comfort range
    assert float(q[2]) == pytest.approx(float(fidelity[2]) - 6.0 / 15.0)  # 96 phon: 6 of the 15 phon to the UCL
    assert [problem.comfortable(row) for row in x] == [True, True, False]
    assert float(q[2]) < float(q[1]) < float(fidelity[2])  # the fidelity optimum is no longer the best percept


def test_the_oracle_stays_within_the_comfort_limit():
    problem = loud_problem()
    oracle = oracle_optimum(problem, restarts=3, steps=150, lr=0.05, seed=0)
    assert problem.loudness(torch.as_tensor(oracle.x)) <= problem.comfort_limit_phon + COMFORT_TOLERANCE_PHON
    assert problem.loudness(torch.as_tensor(oracle.x)) > problem.comfort_limit_phon - 1.0  # it goes to the limit
    free = oracle_optimum(QuadraticProblem(2, seed=0, optimum=[0.4, 0.4]), restarts=3, steps=150, lr=0.05)
    assert oracle.objective > free.objective + 1e-3  # the comfortable optimum is worse than the loud one


@pytest.mark.parametrize("mode", ["pairwise", "rating"])
@pytest.mark.parametrize("seed", [0, 1])
def test_no_session_ends_above_the_comfort_limit(mode, seed):
    problem = loud_problem(seed)
    oracle = oracle_optimum(problem, restarts=2, steps=80, seed=seed)
    res = run_session(problem, mode=mode, budget=12, seed=seed, oracle=oracle)
    assert res.loudness_phon <= res.comfort_limit_phon + COMFORT_TOLERANCE_PHON
    assert res.above_comfort_phon <= COMFORT_TOLERANCE_PHON and res.comfort_limit_phon == 90.0
    visited = [np.asarray(row["x_incumbent"]) for row in res.trace]
    assert all(problem.comfortable(torch.as_tensor(x)) for x in visited)  # never delivers an uncomfortable setting
    assert res.fraction_of_oracle_reached > 0.3  # and still improves on the prescription


def test_sessions_report_coordinates_that_end_on_the_edge_of_the_box():
    problem = QuadraticProblem(3, seed=0, optimum=[0.5, 0.1, -0.5])  # first and last optimum on the box (+-0.5)
    assert edge_coordinates(problem, [0.5, 0.1, -0.497]) == ("x0", "x2")
    assert edge_coordinates(problem, [0.2, 0.1, -0.2]) == ()
    res = run_session(problem, mode="rating", budget=15, seed=0, oracle=oracle_optimum(problem, steps=60))
    assert set(res.at_edge) <= {"x0", "x2"} and res.to_dict()["at_edge"] == list(res.at_edge)


def test_a_too_loud_prescription_is_trimmed_to_the_comfort_limit(tiny_model):
    sounds = torch.tensor(np.stack([synthesise("speech", [2, i], 0.2, 80.0).audio[:4096] for i in range(2)]))
    strategy = get_strategy("multiband", n_bands=3, numtaps=129)
    theta0 = strategy.prescribe({500: 30.0, 1000: 40.0, 2000: 50.0, 4000: 60.0})
    comfort = ListenerComfort(ListenerLoudness.from_audiogram({250: 20.0, 8000: 20.0}), ComfortRange.from_phons(
        50.0, 80.0, 95.0))  # fmt: skip
    objective = NeuralFidelityObjective(tiny_model, np.full(6, 0.3))
    problem = StrategyFittingProblem(strategy, objective, np.full(6, 0.8), sounds, theta0, radius=0.2, comfort=comfort)
    assert problem.output_gain_db < -3.0  # 80 dB SPL speech plus the prescribed gain is far above 80 phon
    assert problem.loudness(problem.x0) == pytest.approx(80.0, abs=COMFORT_TOLERANCE_PHON)
    assert problem.comfortable(problem.x0)
    louder = problem.upper.clone()
    assert problem.loudness(louder) > 80.5 and not problem.comfortable(louder)
    untrimmed = StrategyFittingProblem(strategy, objective, np.full(6, 0.8), sounds, theta0, radius=0.2)
    assert untrimmed.output_gain_db == 0.0 and np.isnan(untrimmed.loudness(untrimmed.x0))
