"""Tests of human-in-the-loop fitting (runners.hitl): feedback models, sessions, oracle, fractions, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from compensation import MultibandGain, get_strategy
from compensation.objective import NeuralFidelityObjective
from runners.hitl import (
    HITLResult,
    PairwiseFeedback,
    QuadraticProblem,
    RatingFeedback,
    StrategyFittingProblem,
    band_groups,
    fit_aid,
    fraction_of_oracle,
    make_problem,
    oracle_optimum,
    queries_to_fraction,
    run_session,
    select_tuned,
)
from simulator.constants import SAMPLE_RATE
from simulator.errors import HearloopInputError

# ------------------------------------------------------------------------------------------------------ fixtures


WANTED_DB = (10.0, -6.0, 14.0)  # inside the default search box (+-17.5 dB around the 0 dB prescription)


class BandLevelObjective:
    """Smooth synthetic objective: squared error (in 20 dB units) of three band levels against target levels.

    D = 0.05 + mean_b ((L_b(aided) - L_b(clean) - gain_b*) / 20)^2. The levels are measured inside the interiors of
    the 3-band strategy's bands (crossovers at 448 and 2008 Hz), away from the crossover transitions, so the optimum
    is the band gains gain_b* themselves.
    """

    EDGES_HZ = ((100.0, 300.0), (700.0, 1400.0), (3000.0, 9000.0))

    def __init__(self, wanted_gain_db=WANTED_DB):
        self.wanted = torch.tensor(wanted_gain_db, dtype=torch.float32)

    def _levels(self, audio: torch.Tensor) -> torch.Tensor:
        spec = torch.fft.rfft(audio).abs() ** 2
        f = torch.fft.rfftfreq(audio.shape[-1], 1.0 / SAMPLE_RATE)
        power = [spec[:, (f >= lo) & (f < hi)].sum(-1) for lo, hi in self.EDGES_HZ]
        return 10.0 * torch.log10(torch.stack(power, dim=-1) + 1e-20)

    def __call__(self, clean, aided, nu, target=None):
        excess = self._levels(aided) - self._levels(clean).expand(aided.shape[0], -1) - self.wanted
        return 0.05 + ((excess / 20.0) ** 2).mean(-1)


class FakeListener:
    nu = np.full(3, 0.5)


@pytest.fixture(scope="module")
def band_setup():
    strategy = MultibandGain(n_bands=3, f_low=100.0, f_high=9000.0, numtaps=257)
    rng = np.random.default_rng(0)
    sounds = torch.tensor(0.05 * rng.standard_normal((2, 4096)), dtype=torch.float32)
    return strategy, sounds, torch.zeros(3)


@pytest.fixture(scope="module")
def band_oracle(band_setup):
    """The oracle of the band-gain problem with fit_aid's default search box (computed once for the module)."""
    strategy, sounds, theta0 = band_setup
    problem = make_problem(FakeListener(), strategy, sounds, theta0, objective=BandLevelObjective())
    return oracle_optimum(problem, restarts=2, steps=60, lr=0.05)


# ------------------------------------------------------------------------------------------------------ feedback


def test_pairwise_feedback_follows_the_probit():
    problem = QuadraticProblem(2, seed=1, d_min=0.5, d_unaided=1.0, optimum=[0.0, 0.0])
    x_a, x_b = torch.tensor([0.05, 0.0]), torch.tensor([0.15, 0.0])
    q = problem.quality(torch.stack([x_a, x_b]))
    sigma = 0.02
    fb = PairwiseFeedback(problem, sigma=sigma, seed=3)
    n = 4000
    wins = sum(fb(x_a, x_b) for _ in range(n))
    p = norm.cdf(float(q[0] - q[1]) / (math.sqrt(2) * sigma))
    assert 0.6 < p < 0.95  # the test point is informative (not saturated)
    assert abs(wins / n - p) < 4 * math.sqrt(p * (1 - p) / n)
    # the reverse order gives the complementary probability; equal settings are a coin flip
    assert abs(float(fb.probability(q[1], q[0])) - (1 - p)) < 1e-12
    ties = sum(fb(x_a, x_a) for _ in range(n)) / n
    assert abs(ties - 0.5) < 4 * math.sqrt(0.25 / n)
    # a lapse rate pulls every probability towards 1/2
    assert abs(float(PairwiseFeedback(problem, sigma, lapse=0.1).probability(1.0, 0.0)) - 0.9) < 1e-9


def test_rating_feedback_is_noisy_quality_on_a_0_100_scale():
    problem = QuadraticProblem(2, seed=1, d_min=0.5, optimum=[0.0, 0.0])
    x = torch.tensor([0.1, -0.1])
    q = float(problem.quality(x.reshape(1, -1))[0])
    fb = RatingFeedback(problem, rating_sigma=0.03, seed=0)
    ratings = np.array([fb(x) for _ in range(3000)])
    assert abs(ratings.mean() - 100 * q) < 4 * 3.0 / math.sqrt(3000)
    assert abs(ratings.std() - 3.0) < 0.2
    again = RatingFeedback(problem, rating_sigma=0.03, seed=0)
    assert again(x) == ratings[0]


# ------------------------------------------------------------------------------------------------------ sessions


@pytest.mark.parametrize("mode", ["pairwise", "rating"])
def test_same_seed_same_trace_and_different_seed_differs(mode):
    problem = QuadraticProblem(3, seed=2)
    oracle = oracle_optimum(problem, steps=20)
    runs = [run_session(problem, mode=mode, budget=6, seed=s, oracle=oracle) for s in (5, 5, 6)]
    key = [[(r["x_query"], r["feedback"], r["objective_of_incumbent"]) for r in res.trace] for res in runs]
    assert key[0] == key[1]
    assert key[0] != key[2]
    assert runs[0].queries_used == 6 and len(runs[0].trace) == 7 and runs[0].mode == mode
    assert runs[0].trace[0]["fraction_of_oracle"] == 0.0


def test_pairwise_session_converges_on_a_quadratic():
    problem = QuadraticProblem(2, seed=0, d_min=0.8)
    res = run_session(problem, mode="pairwise", budget=14, seed=0)
    assert res.objective_best < res.objective_start
    assert res.fraction_of_oracle_reached > 0.7
    # the reported numbers agree with the problem
    assert res.objective_best == pytest.approx(float(problem.distance(torch.as_tensor(res.theta_best))[0]))
    assert res.fractions()[-1] == pytest.approx(res.fraction_of_oracle_reached)


class ScriptedAnswers:
    """Pairwise feedback that answers from a script (True: the challenger A wins)."""

    def __init__(self, answers):
        self.answers = list(answers)

    def __call__(self, x_a, x_b):
        return self.answers.pop(0)


@pytest.mark.parametrize(
    ("tolerances", "answers", "expected_sides"),
    [
        # default: shrink by 1.5 after 2 consecutive losses, grow by 1.5 after every win
        ((2, 1), [False, False, False, True, False, False], [0.4, 0.4 / 1.5, 0.4 / 1.5, 0.4, 0.4, 0.4 / 1.5]),
        # TuRBO tolerances of 1: every answer moves the region
        ((1, 1), [False, False, True], [0.4 / 1.5, 0.4 / 1.5**2, 0.4 / 1.5]),
    ],
)
def test_trust_region_follows_its_failure_and_success_tolerances(tolerances, answers, expected_sides):
    from runners.hitl.pairwise_bo import PairwiseBO

    problem = QuadraticProblem(2, seed=1)
    bo = PairwiseBO(problem, ScriptedAnswers(answers), seed=0, failure_tolerance=tolerances[0],
                    success_tolerance=tolerances[1])  # fmt: skip
    sides = []
    for _ in answers:
        bo.step()
        sides.append(bo.side)
    assert sides == pytest.approx(expected_sides)
    with pytest.raises(HearloopInputError, match="incumbent rule"):
        PairwiseBO(problem, ScriptedAnswers([]), incumbent_rule="best")
    with pytest.raises(HearloopInputError, match="tolerances"):
        PairwiseBO(problem, ScriptedAnswers([]), failure_tolerance=0)


def test_pairwise_incumbent_is_the_compared_setting_with_the_highest_posterior_mean():
    from runners.hitl.pairwise_bo import PairwiseBO

    problem = QuadraticProblem(2, seed=3)
    bo = PairwiseBO(problem, PairwiseFeedback(problem, sigma=0.01, seed=0), seed=0)
    for _ in range(6):
        bo.step()
    with torch.no_grad():
        mean = bo.model.posterior(torch.stack(bo.points)).mean.reshape(-1)
    assert bo._incumbent == int(torch.argmax(mean))
    assert torch.allclose(bo.incumbent(), bo.cube.from_unit(bo.points[int(torch.argmax(mean))]))


@pytest.mark.parametrize("mode", ["pairwise", "rating"])
def test_fit_aid_improves_a_smooth_synthetic_objective(band_setup, band_oracle, mode):
    strategy, sounds, theta0 = band_setup
    res = fit_aid(
        FakeListener(),
        strategy,
        sounds,
        theta0,
        mode=mode,
        budget=10,
        objective=BandLevelObjective(),
        oracle=band_oracle,
    )
    assert isinstance(res, HITLResult)
    # theta0 (0 dB) misses every wanted gain: D = 0.05 + ((10/20)^2 + (6/20)^2 + (14/20)^2) / 3 = 0.05 + 0.83 / 3
    assert res.objective_start == pytest.approx(0.05 + 0.83 / 3, abs=2e-3)
    assert res.objective_unaided == pytest.approx(res.objective_start, rel=1e-6)  # 0 dB gains leave the sound as it is
    assert res.oracle_objective <= res.objective_best + 1e-9 or res.fraction_of_oracle_reached > 1.0
    # 10 queries on this smooth 3-D problem close more than 90 % of the gap to the oracle (0.96 pairwise, 0.99 rating)
    assert res.fraction_of_oracle_reached > 0.9
    assert res.fraction_of_oracle_reached == pytest.approx(
        (res.objective_start - res.objective_best) / (res.objective_start - res.oracle_objective), rel=1e-9
    )
    for row in res.trace:  # every incumbent is scored by the fraction of the oracle gap and the fidelity restored
        d = row["objective_of_incumbent"]
        assert row["fraction_of_oracle"] == pytest.approx(
            (res.objective_start - d) / (res.objective_start - res.oracle_objective), rel=1e-9
        )
        assert row["quality_of_incumbent"] == pytest.approx(1.0 - d / res.objective_unaided, rel=1e-9)
    assert res.theta_best.shape == (3,)
    # the delivered gains moved towards the wanted ones from 0 dB
    assert np.sum(np.abs(res.theta_best - WANTED_DB)) < np.sum(np.abs(WANTED_DB))


# ------------------------------------------------------------------------------------------------------ oracle


def test_oracle_finds_the_optimum_and_never_loses_to_theta0(band_oracle):
    problem = QuadraticProblem(3, seed=4)
    oracle = oracle_optimum(problem, restarts=3, steps=150, lr=0.05, seed=0)
    assert oracle.objective <= oracle.objective_start
    assert oracle.objective == pytest.approx(problem.d_min, abs=1e-4)
    np.testing.assert_allclose(oracle.x, problem.optimum.numpy(), atol=0.02)
    zero_steps = oracle_optimum(problem, restarts=1, steps=0)
    assert zero_steps.objective == pytest.approx(zero_steps.objective_start)
    # through a real strategy: the gains go to the wanted ones
    assert band_oracle.objective < band_oracle.objective_start - 0.05
    assert band_oracle.objective == pytest.approx(0.05, abs=1e-3)
    np.testing.assert_allclose(band_oracle.theta, WANTED_DB, atol=1.0)


def test_strategy_problem_on_a_tiny_nu_icnet_is_batched_and_differentiable():
    import simulator

    model = simulator.build_model("tiny", n_params=3, n_animals=2)
    objective = NeuralFidelityObjective(model, np.full(3, 0.2))
    strategy = get_strategy("wdrc", n_bands=4, numtaps=129)
    rng = np.random.default_rng(1)
    sounds = torch.tensor(0.02 * rng.standard_normal((2, 2048)), dtype=torch.float32)
    theta0 = strategy.prescribe({500: 30.0, 1000: 40.0, 2000: 50.0, 4000: 60.0})
    problem = StrategyFittingProblem(
        strategy, objective, np.full(3, 0.8), sounds, theta0, tune=band_groups(strategy.param_names, 2), radius=0.3
    )
    assert problem.names == ("group0", "group1") and problem.dim == 2
    x = torch.tensor([[0.0, 0.0], [0.2, -0.1], [-0.3, 0.3]], dtype=torch.float64)
    batched = problem.distance(x)
    single = torch.cat([problem.distance(row.reshape(1, -1)) for row in x])
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-9)
    # x = 0 is the prescription bit for bit, and D is the plain objective of the strategy's output at theta(x), computed
    # in the same batch layout (the tiny untrained model's D is ~1e-5, at the float32 resolution of its probabilities,
    # so a different batch size alone would move it by ~1e-5 relative)
    assert np.array_equal(problem.theta(x[0]).astype(np.float32), theta0.numpy())
    thetas = torch.tensor(np.stack([problem.theta(row) for row in x]), dtype=torch.float32)
    clean = sounds.repeat(3, 1)
    target = objective.target(sounds).repeat(3, 1, 1, 1)
    direct = objective(clean, strategy(clean, thetas.repeat_interleave(2, dim=0)), np.full(3, 0.8), target=target)
    torch.testing.assert_close(batched, direct.double().reshape(3, 2).mean(1), rtol=1e-6, atol=0.0)
    u0 = strategy.to_normalized(theta0)
    u = strategy.to_normalized(torch.tensor(problem.theta(x[1]), dtype=torch.float32))
    gains = [i for i, n in enumerate(strategy.param_names) if n.startswith("gain_db")]
    expected = u0.clone()
    expected[gains[:2]] += 0.2
    expected[gains[2:]] -= 0.1
    torch.testing.assert_close(u, expected.clamp(-1, 1), atol=1e-5, rtol=0)
    xg = x[1:2].clone().requires_grad_(True)
    problem.distance(xg, grad=True).sum().backward()
    assert xg.grad is not None and bool(torch.isfinite(xg.grad).all()) and float(xg.grad.abs().sum()) > 0


# ------------------------------------------------------------------------------------------------------ fractions


def test_fraction_of_oracle_and_queries_to_fraction():
    assert fraction_of_oracle(0.8, 1.0, 0.6) == pytest.approx(0.5)
    assert fraction_of_oracle(1.0, 1.0, 0.6) == 0.0
    assert fraction_of_oracle(0.6, 1.0, 0.6) == pytest.approx(1.0)
    assert fraction_of_oracle(1.1, 1.0, 0.6) == pytest.approx(-0.25)  # worse than the prescription
    assert math.isnan(fraction_of_oracle(0.9, 1.0, 1.0))  # nothing to gain
    f = [0.0, 0.5, 0.95, 0.85, 0.92, 0.97]
    assert queries_to_fraction(f, 0.9) == 2
    assert queries_to_fraction(f, 0.9, sustained=True) == 4
    assert queries_to_fraction(f, 0.99) is None
    assert queries_to_fraction([float("nan"), 1.0], 0.9) == 1


# ------------------------------------------------------------------------------------------------------ errors


def test_clear_errors_for_bad_mode_budget_and_tuning(band_setup):
    strategy, sounds, theta0 = band_setup
    problem = QuadraticProblem(2)
    with pytest.raises(HearloopInputError, match="unknown HITL feedback mode 'ranking'"):
        run_session(problem, mode="ranking", budget=5)
    for bad in (0, -3, 2.5, True, "10"):
        with pytest.raises(HearloopInputError, match="budget must be a positive integer"):
            fit_aid(FakeListener(), strategy, sounds, theta0, budget=bad, objective=BandLevelObjective())
    with pytest.raises(HearloopInputError, match="matches no parameter"):
        select_tuned(strategy.param_names, "ratio")
    with pytest.raises(HearloopInputError, match="unknown or no parameters"):
        select_tuned(strategy.param_names, {"bass": ["nope"]})
    other = QuadraticProblem(2, radius=0.3)
    with pytest.raises(HearloopInputError, match="different search space"):
        run_session(problem, budget=2, oracle=oracle_optimum(other, steps=1))
    with pytest.raises(HearloopInputError, match="radius"):
        make_problem(FakeListener(), strategy, sounds, theta0, objective=BandLevelObjective(), radius=-1.0)
