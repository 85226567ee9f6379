"""BALD trial selection ([CoxDeVries2015]_, Sec. 4 and App. C).

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

import numpy as np
import pytest

from audiometry.bald import bald_probit, bald_quadrature, select_stimulus
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
