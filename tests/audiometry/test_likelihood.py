"""The GP-PTA response model: probit psychometric function with lapse and false-alarm rates, its predictive
probability and the log-likelihood derivatives, at values computed by hand from the formulas."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from audiometry.errors import AudiometryInputError
from audiometry.likelihood import ProbitLikelihood

PHI_1 = 0.8413447460685429  # Phi(1)
PHI_HALF = 0.6914624612740131  # Phi(0.5)
PDF_0 = 1.0 / math.sqrt(2.0 * math.pi)  # phi(0) = 0.398942


def test_psychometric_function_values():
    lik = ProbitLikelihood(lapse=0.1, false_alarm=0.05)
    assert lik.scale == pytest.approx(0.85)  # c = 1 - gamma - lambda
    # p = gamma + c Phi((l - t) / sigma)
    np.testing.assert_allclose(
        lik.p_heard(np.array([50.0, 55.0, 45.0]), 50.0, 5.0),
        [0.05 + 0.85 * 0.5, 0.05 + 0.85 * PHI_1, 0.05 + 0.85 * (1.0 - PHI_1)],
        rtol=1e-12,
    )
    # far above threshold the lapse rate caps p at 1 - lambda, far below the false-alarm rate floors it at gamma
    np.testing.assert_allclose(lik.p_heard(np.array([200.0, -100.0]), 50.0, 5.0), [0.9, 0.05], rtol=1e-12)
    # the per-trial sigma broadcasts: (55 - 50) / 2.5 = 2 -> Phi(2) = 0.97725
    assert float(lik.p_heard(55.0, 50.0, 2.5)) == pytest.approx(0.05 + 0.85 * 0.9772498680518208, rel=1e-12)


def test_predictive_integrates_the_threshold_uncertainty_out():
    lik = ProbitLikelihood(lapse=0.1, false_alarm=0.05)
    # gamma + c Phi((l - mean) / sqrt(sigma^2 + var)): (55 - 50) / sqrt(25 + 75) = 0.5
    assert float(lik.predictive(55.0, 50.0, 75.0, 5.0)) == pytest.approx(0.05 + 0.85 * PHI_HALF, rel=1e-12)
    assert float(lik.predictive(55.0, 50.0, 0.0, 5.0)) == pytest.approx(float(lik.p_heard(55.0, 50.0, 5.0)))
    # and equals the average of p_heard over t ~ N(mean, var) (Gauss-Hermite, 80 nodes)
    x, w = np.polynomial.hermite.hermgauss(80)
    t = 50.0 + math.sqrt(2.0 * 75.0) * x
    assert float(lik.predictive(55.0, 50.0, 75.0, 5.0)) == pytest.approx(
        float(w @ lik.p_heard(55.0, t, 5.0)) / math.sqrt(math.pi), rel=1e-10
    )


def test_log_likelihood_derivatives_at_threshold_without_lapses():
    # at l = t, v = 0: p = 1/2, r = phi(0) / (1/2) = 0.797885; h' = r, h'' = -r^2, h''' = -r + 2 r^3;
    # d/dt brings -s / sigma per order (s = +1 heard, -1 missed), sigma = 5
    lik = ProbitLikelihood()
    r = PDF_0 / 0.5
    t, level, sigma = np.array([50.0, 50.0]), np.array([50.0, 50.0]), np.array([5.0, 5.0])
    logp, d1, d2, d3 = lik.derivatives(t, level, np.array([True, False]), sigma)
    np.testing.assert_allclose(logp, math.log(0.5), rtol=1e-12)
    np.testing.assert_allclose(d1, [-r / 5.0, r / 5.0], rtol=1e-12)  # -0.159577, +0.159577
    np.testing.assert_allclose(d2, -(r**2) / 25.0, rtol=1e-12)  # -0.0254648
    np.testing.assert_allclose(d3, [-(-r + 2 * r**3) / 125.0, (-r + 2 * r**3) / 125.0], rtol=1e-12)


def test_zero_rates_take_log_zero_silently():
    # gamma = lambda = 0: log a = log 0 = -inf is intended (log p = log(c Phi(v))); numpy must not warn about it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logp, *_ = ProbitLikelihood().derivatives(np.zeros(2), np.zeros(2), np.array([True, False]), np.ones(2))
    np.testing.assert_allclose(logp, math.log(0.5), rtol=1e-12)


def test_log_likelihood_derivatives_with_lapse_and_false_alarm():
    lik = ProbitLikelihood(lapse=0.1, false_alarm=0.05)
    # heard at v = 0: p = gamma + c/2 = 0.475, r = c phi(0) / p; missed at v = 0: p = lambda + c/2 = 0.525
    for heard, a, s in ((True, 0.05, 1.0), (False, 0.1, -1.0)):
        p = a + 0.85 * 0.5
        r = 0.85 * PDF_0 / p
        logp, d1, d2, d3 = lik.derivatives(np.array([50.0]), np.array([50.0]), np.array([heard]), np.array([5.0]))
        assert logp[0] == pytest.approx(math.log(p), rel=1e-12)
        assert d1[0] == pytest.approx(-s * r / 5.0, rel=1e-12)
        assert d2[0] == pytest.approx(-(r**2) / 25.0, rel=1e-12)
        assert d3[0] == pytest.approx(-s * (-r + 2 * r**3) / 125.0, rel=1e-12)
    # one sigma from threshold, heard: v = (55 - 50) / 5 = 1, p = 0.05 + 0.85 Phi(1), r = 0.85 phi(1) / p
    p = 0.05 + 0.85 * PHI_1
    r = 0.85 * math.exp(-0.5) * PDF_0 / p
    logp, d1, d2, d3 = lik.derivatives(np.array([50.0]), np.array([55.0]), np.array([True]), np.array([5.0]))
    assert (logp[0], d1[0]) == (pytest.approx(math.log(p), rel=1e-12), pytest.approx(-r / 5.0, rel=1e-12))
    assert d2[0] == pytest.approx(-r * (1.0 + r) / 25.0, rel=1e-12)
    assert d3[0] == pytest.approx(-(-r + r * (1.0 + r) * (1.0 + 2.0 * r)) / 125.0, rel=1e-12)
    # far from threshold: the floors gamma (heard far below) and lambda (missed far above), in log space
    logp, *_ = lik.derivatives(np.array([100.0, 0.0]), np.array([0.0, 100.0]), np.array([True, False]), np.full(2, 5.0))
    np.testing.assert_allclose(np.exp(logp), [0.05, 0.1], rtol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"lapse": 0.5}, "lapse"),
        ({"lapse": -0.01}, "lapse"),
        ({"lapse": float("nan")}, "lapse"),
        ({"false_alarm": 0.5}, "false_alarm"),
        ({"false_alarm": -1e-9}, "false_alarm"),
        ({"false_alarm": float("inf")}, "false_alarm"),
    ],
)
def test_rates_outside_zero_to_one_half_are_named(kwargs, name):
    with pytest.raises(AudiometryInputError, match=rf"^{name} must be in \[0, 0.5\), got"):
        ProbitLikelihood(**kwargs)


def test_rates_at_their_limits_are_accepted():
    lik = ProbitLikelihood(lapse=0.0, false_alarm=0.4999)
    assert lik.scale == pytest.approx(0.5001)
    assert ProbitLikelihood(lapse=0.4999).scale == pytest.approx(0.5001)
