"""BALD trial selection ([CoxDeVries2015]_, Sec. 4 and App. C).

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from audiometry.bald import bald_probit, bald_quadrature, binary_entropy, select_stimulus
from audiometry.likelihood import ProbitLikelihood


@pytest.mark.parametrize("var", [1.0, 25.0, 400.0])
def test_full_bald_over_level_grid_peaks_at_posterior_mean(var):
    levels = np.linspace(-10.0, 120.0, 1301)
    mu = 47.3
    for lik in (ProbitLikelihood(), ProbitLikelihood(lapse=0.03, false_alarm=0.03)):
        score = bald_quadrature(levels, mu, var, 5.0, lik)
        assert abs(levels[np.argmax(score)] - mu) <= 0.1 + 1e-9
    houlsby = bald_probit(levels, mu, var, 5.0)
    assert abs(levels[np.argmax(houlsby)] - mu) <= 0.1 + 1e-9


def test_quadrature_agrees_with_houlsby_closed_form_without_lapse():
    levels = np.linspace(0.0, 100.0, 51)
    for var in (0.5, 16.0, 900.0):
        exact = bald_quadrature(levels, 50.0, var, 5.0, ProbitLikelihood())
        approx = bald_probit(levels, 50.0, var, 5.0)
        np.testing.assert_allclose(exact, approx, atol=0.02)  # Houlsby's approximation error is ~1% of a bit
        assert np.all(exact >= -1e-9) and np.all(exact <= 1.0 + 1e-9)


def test_bald_grows_with_posterior_variance_at_the_mean():
    var = np.array([1.0, 10.0, 100.0, 1000.0])
    assert np.all(np.diff(bald_probit(50.0, 50.0, var, 5.0)) > 0)


def test_selection_picks_max_variance_frequency_and_clamps_level():
    rng = np.random.default_rng(0)
    mean = np.array([30.0, 40.0, 250.0, 50.0])
    var = np.array([4.0, 90.0, 400.0, 10.0])
    sigma = np.full(4, 5.0)
    lik = ProbitLikelihood()
    idx, level, _ = select_stimulus(mean, var, sigma, (-10.0, 120.0), lik, "fast", None, rng, 0.0, None)
    # index 2 has the largest variance but its mean is far above the safe max: scored at 120 dB it is uninformative
    assert idx == 1 and level == pytest.approx(40.0)
    idx_full, level_full, _ = select_stimulus(mean, var, sigma, (-10.0, 120.0), lik, "full", None, rng, 0.0, None)
    assert idx_full == 1 and abs(level_full - 40.0) < 3.0
    idx_ex, _, _ = select_stimulus(mean, var, sigma, (-10.0, 120.0), lik, "fast", None, rng, 0.0, 1)
    assert idx_ex != 1
    weight = np.array([1.0, 0.0, 1.0, 1.0])
    idx_w, _, _ = select_stimulus(mean, var, sigma, (-10.0, 120.0), lik, "fast", weight, rng, 0.0, None)
    assert idx_w == 3


def test_frequency_dependent_sigma_changes_the_choice():
    mean = np.array([40.0, 40.0])
    var = np.array([25.0, 25.0])
    lik = ProbitLikelihood()
    rng = np.random.default_rng(0)
    idx, _, _ = select_stimulus(mean, var, np.array([2.0, 10.0]), (-10.0, 120.0), lik, "full", None, rng, 0.0, None)
    assert idx == 0  # equal uncertainty: the frequency with the sharper psychometric function is more informative


# ------------------------------------------------------------------------------------- values from the formulas
C2 = math.pi * math.log(2.0) / 2.0  # Houlsby's constant C^2 = pi ln 2 / 2 = 1.0888


def _h(p: float) -> float:
    """Binary entropy in bits."""
    return 0.0 if p <= 0.0 or p >= 1.0 else -(p * math.log2(p) + (1.0 - p) * math.log2(1.0 - p))


def _bald_by_integration(level, mean, var, sigma, lapse, false_alarm):
    """I = h(E p(t)) - E h(p(t)), t ~ N(mean, var), both expectations by adaptive quadrature (scipy.integrate.quad)."""
    sd, scale = math.sqrt(var), 1.0 - lapse - false_alarm

    def p(t):
        return false_alarm + scale * norm.cdf((level - t) / sigma)

    lo, hi = mean - 12.0 * sd, mean + 12.0 * sd
    pts = [x for x in (level - 3.0 * sigma, level, level + 3.0 * sigma) if lo < x < hi]
    kw = {"points": pts or None, "limit": 500, "epsabs": 1e-13, "epsrel": 1e-13}
    p_marg = integrate.quad(lambda t: norm.pdf(t, mean, sd) * p(t), lo, hi, **kw)[0]
    e_h = integrate.quad(lambda t: norm.pdf(t, mean, sd) * _h(p(t)), lo, hi, **kw)[0]
    return _h(p_marg) - e_h


@pytest.mark.parametrize(
    ("level", "mean", "var", "sigma"),
    [(50.0, 50.0, 25.0, 5.0), (55.0, 50.0, 75.0, 5.0), (40.0, 50.0, 0.0, 5.0), (70.0, 50.0, 900.0, 2.0)],
)
def test_houlsby_closed_form_values(level, mean, var, sigma):
    # h(Phi(d / sqrt(s^2 + v))) - sqrt(C^2 / (v / s^2 + C^2)) exp(-d^2 / (2 (v + C^2 s^2))), d = level - mean; e.g. at
    # d = 0, v = s^2: 1 - sqrt(C^2 / (1 + C^2)) = 1 - 0.72198 = 0.27802 bits
    d = level - mean
    expected = _h(norm.cdf(d / math.sqrt(sigma**2 + var))) - math.sqrt(C2 / (var / sigma**2 + C2)) * math.exp(
        -(d**2) / (2.0 * (var + C2 * sigma**2))
    )
    assert float(bald_probit(level, mean, var, sigma)) == pytest.approx(expected, abs=1e-12)
    if (level, var) == (50.0, 25.0):
        assert expected == pytest.approx(0.27802, abs=1e-5)


@pytest.mark.parametrize(
    ("level", "mean", "var", "sigma", "lapse", "false_alarm"),
    [
        (50.0, 47.0, 4.0, 5.0, 0.0, 0.0),  # sd < sigma: Gauss-Hermite
        (55.0, 47.0, 25.0, 5.0, 0.03, 0.02),  # sd == sigma: still Gauss-Hermite
        (52.0, 50.0, 36.0, 3.0, 0.05, 0.05),  # sd > sigma: trapezoid around the level
        (40.0, 47.0, 900.0, 5.0, 0.1, 0.2),  # very wide posterior, large lapse and false-alarm rates
        (60.0, 40.0, 25.0, 5.0, 0.0, 0.0),  # far from the mean
        (47.0, 47.0, 0.01, 5.0, 0.03, 0.02),  # almost known threshold: next to no information
    ],
)
def test_quadrature_bald_equals_adaptive_integration(level, mean, var, sigma, lapse, false_alarm):
    lik = ProbitLikelihood(lapse=lapse, false_alarm=false_alarm)
    expected = _bald_by_integration(level, mean, var, sigma, lapse, false_alarm)
    assert float(bald_quadrature(level, mean, var, sigma, lik)) == pytest.approx(expected, abs=1e-7)


def test_quadrature_bald_broadcasts_over_stimuli():
    lik = ProbitLikelihood(lapse=0.03, false_alarm=0.02)
    levels = np.array([[45.0], [55.0]])
    var = np.array([4.0, 36.0, 400.0])  # both quadrature branches in one call
    out = bald_quadrature(levels, 50.0, var, 5.0, lik)
    assert out.shape == (2, 3)
    for i, j in np.ndindex(2, 3):
        assert out[i, j] == pytest.approx(_bald_by_integration(levels[i, 0], 50.0, var[j], 5.0, 0.03, 0.02), abs=1e-7)


def test_full_selection_returns_the_best_level_not_the_posterior_mean():
    # with a 30 % false-alarm rate the most informative level lies above mu* = 40: of the candidates mu* and
    # mu* + k * 0.5 * sqrt(sigma^2 + var) (k = -6..6; 0.5 * sqrt(50) = 3.536 dB) the best is mu* + 3.536
    lik = ProbitLikelihood(false_alarm=0.3)
    args = (np.array([40.0]), np.array([25.0]), np.array([5.0]), (-10.0, 120.0), lik, "full", None)
    idx, level, score = select_stimulus(*args, np.random.default_rng(0), 0.0, None)
    assert idx == 0 and level == pytest.approx(40.0 + 0.5 * math.sqrt(50.0), abs=1e-9)
    assert score == pytest.approx(float(bald_quadrature(level, 40.0, 25.0, 5.0, lik)), abs=1e-12)
    assert score > float(bald_quadrature(40.0, 40.0, 25.0, 5.0, lik)) + 0.004


def test_fast_selection_scores_houlsby_bald_at_the_clamped_mean():
    mean, var, sigma = np.array([30.0, 200.0]), np.array([25.0, 400.0]), np.full(2, 5.0)
    rng = np.random.default_rng(0)
    idx, level, score = select_stimulus(
        mean, var, sigma, (-10.0, 120.0), ProbitLikelihood(), "fast", None, rng, 0.0, None
    )
    assert (idx, level) == (0, 30.0)
    assert score == pytest.approx(1.0 - math.sqrt(C2 / (1.0 + C2)), abs=1e-12)  # d = 0, v = s^2: 0.27802 bits
    # the weight multiplies the frequency's score
    half = select_stimulus(
        mean, var, sigma, (-10.0, 120.0), ProbitLikelihood(), "fast", np.array([0.5, 0.0]), rng, 0.0, None
    )
    assert half[2] == pytest.approx(0.5 * score, abs=1e-12)
    # a mean above the safe range is scored where it can be presented: at 120 dB HL, d = -80, v = 400
    far = select_stimulus(
        mean, var, sigma, (-10.0, 120.0), ProbitLikelihood(), "fast", np.array([0.0, 1.0]), rng, 0.0, None
    )
    d, v = -80.0, 400.0
    expected = _h(norm.cdf(d / math.sqrt(25.0 + v))) - math.sqrt(C2 / (v / 25.0 + C2)) * math.exp(
        -(d**2) / (2 * (v + 25.0 * C2))
    )
    assert far[:2] == (1, 120.0) and far[2] == pytest.approx(expected, abs=1e-12)


def test_near_ties_are_broken_by_the_seeded_generator():
    mean, sigma = np.full(3, 40.0), np.full(3, 5.0)
    var = np.array([25.0, 24.0, 1.0])  # scores 0.278, 0.274 (1.5 % lower), 0.02
    lik = ProbitLikelihood()

    def pick(tolerance, seed):
        return select_stimulus(
            mean, var, sigma, (-10.0, 120.0), lik, "fast", None, np.random.default_rng(seed), tolerance, None
        )[0]

    assert {pick(0.0, s) for s in range(20)} == {0}
    assert {pick(0.05, s) for s in range(20)} == {0, 1}  # within 5 % of the best: a tie
    assert pick(0.05, 3) == pick(0.05, 3)
    with pytest.raises(ValueError, match="unknown BALD method 'slow'"):
        select_stimulus(mean, var, sigma, (-10.0, 120.0), lik, "slow", None, np.random.default_rng(0), 0.0, None)


def test_excluded_frequency_is_skipped_unless_it_is_the_only_one():
    lik, rng = ProbitLikelihood(), np.random.default_rng(0)
    one = select_stimulus(
        np.array([40.0]), np.array([25.0]), np.array([5.0]), (-10.0, 120.0), lik, "fast", None, rng, 0.0, 0
    )
    assert one[0] == 0 and np.isfinite(one[2])


def test_binary_entropy_values():
    np.testing.assert_allclose(
        binary_entropy(np.array([0.0, 0.5, 1.0, 0.25])), [0.0, 1.0, 0.0, 0.811278124459], atol=1e-12
    )


# ------------------------------------------------------------------------------------- dtypes, defaults, selection
@pytest.mark.parametrize("arg", [0, 1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.longdouble, np.int64])
def test_quadrature_bald_computes_in_float64_whatever_the_input_dtype(arg, dtype):
    lik = ProbitLikelihood(lapse=0.03, false_alarm=0.02)
    values = [np.array([47.0, 52.0, 61.0]), np.array([50.0, 50.0, 49.0]), np.array([4.0, 36.0, 400.0]),
              np.array([5.0, 3.0, 7.0])]  # fmt: skip
    given = list(values)
    given[arg] = values[arg].astype(dtype)
    expected = bald_quadrature(*[v.astype(np.float64) for v in given], lik)  # the given values, in float64
    got = bald_quadrature(*given, lik)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("var", [4.0, 36.0])  # sd < sigma (Gauss-Hermite) and sd > sigma (trapezoid)
def test_quadrature_bald_default_is_32_nodes_in_both_branches(var):
    lik = ProbitLikelihood(lapse=0.03, false_alarm=0.02)
    args = (np.array([47.0, 52.0]), 50.0, var, 5.0, lik)
    np.testing.assert_array_equal(bald_quadrature(*args), bald_quadrature(*args, n_nodes=32))
    assert not np.array_equal(bald_quadrature(*args), bald_quadrature(*args, n_nodes=33))  # the nodes matter


def test_gauss_hermite_branch_up_to_sd_equal_to_sigma():
    # the documented split: Gauss-Hermite while sd <= sigma, so the value at sd == sigma continues the values just
    # below it (within 1e-11; the two quadratures differ by 1e-10 to 5e-9 here)
    lik = ProbitLikelihood(lapse=0.03, false_alarm=0.02)
    for level in (55.0, 60.0):
        at = float(bald_quadrature(level, 47.0, 25.0, 5.0, lik))
        below = float(bald_quadrature(level, 47.0, 25.0 * (1.0 - 1e-12), 5.0, lik))
        assert at == pytest.approx(below, abs=1e-11)


@pytest.mark.parametrize("var", [36.0, 400.0])
def test_symmetric_response_model_gives_bald_symmetric_about_the_mean(var):
    # lapse == false-alarm rate: p(heard) at mean + d mirrors p at mean - d, so BALD is the same on both sides (exact
    # up to rounding with the trapezoid's nodes symmetric about the level)
    lik = ProbitLikelihood(lapse=0.05, false_alarm=0.05)
    for d in (2.0, 4.0, 11.0):
        up, down = (
            float(bald_quadrature(50.0 + d, 50.0, var, 3.0, lik)),
            float(bald_quadrature(50.0 - d, 50.0, var, 3.0, lik)),
        )
        assert up == pytest.approx(down, abs=1e-13)


def test_levels_are_clamped_to_the_bottom_of_the_safe_range():
    rng = np.random.default_rng(0)
    # fast: a mean below the safe minimum is presented (and scored) at the minimum
    idx, level, score = select_stimulus(
        np.array([-30.0]), np.array([25.0]), np.array([5.0]), (-10.0, 120.0), ProbitLikelihood(), "fast", None, rng,
        0.0, None,
    )  # fmt: skip
    assert (idx, level) == (0, -10.0) and score == pytest.approx(float(bald_probit(-10.0, -30.0, 25.0, 5.0)))
    # full: with a 30 % lapse rate the best level lies below mu* (mu* - 3.536 dB unclamped); near the bottom of the
    # range it is clamped to the minimum
    lik = ProbitLikelihood(lapse=0.3)
    args = (np.array([-8.0]), np.array([25.0]), np.array([5.0]), (-10.0, 120.0), lik, "full", None, rng, 0.0, None)
    idx, level, score = select_stimulus(*args)
    assert (idx, level) == (0, -10.0) and score == pytest.approx(float(bald_quadrature(-10.0, -8.0, 25.0, 5.0, lik)))
    free = select_stimulus(np.array([40.0]), *args[1:3], (-100.0, 120.0), *args[4:])
    assert free[1] == pytest.approx(40.0 - 0.5 * math.sqrt(50.0), abs=1e-9)


def test_excluded_frequency_is_skipped_among_two():
    lik = ProbitLikelihood()
    mean, var, sigma = np.array([40.0, 40.0]), np.array([100.0, 25.0]), np.full(2, 5.0)
    best = select_stimulus(mean, var, sigma, (-10.0, 120.0), lik, "fast", None, np.random.default_rng(0), 0.0, None)
    other = select_stimulus(mean, var, sigma, (-10.0, 120.0), lik, "fast", None, np.random.default_rng(0), 0.0, 0)
    assert best[0] == 0 and other[0] == 1


def test_tie_tolerance_is_a_fraction_of_the_best_score():
    mean, sigma = np.full(3, 40.0), np.full(3, 5.0)
    var = np.array([25.0, 24.0, 1.0])  # scores 0.278, 0.274, 0.02: within 50 % of the best only the first two
    lik = ProbitLikelihood()
    picks = {
        select_stimulus(mean, var, sigma, (-10.0, 120.0), lik, "fast", None, np.random.default_rng(s), 0.5, None)[0]
        for s in range(30)
    }
    assert picks == {0, 1}


def test_a_clear_winner_leaves_the_generator_untouched():
    mean, var, sigma = np.full(3, 40.0), np.array([25.0, 24.0, 1.0]), np.full(3, 5.0)
    rng = np.random.default_rng(7)
    idx, _, _ = select_stimulus(mean, var, sigma, (-10.0, 120.0), ProbitLikelihood(), "fast", None, rng, 0.0, None)
    assert idx == 0 and rng.random() == np.random.default_rng(7).random()  # no draw without a tie
