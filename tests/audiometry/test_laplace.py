"""Laplace approximation, likelihood derivatives, kernel and hyperparameter gradient of GP-PTA ([CoxDeVries2015]_, App.
B).

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from audiometry.hyperparameters import HyperPrior, laplace_objective
from audiometry.laplace import find_mode, predict
from audiometry.likelihood import ProbitLikelihood
from audiometry.prior import LinearMean, se_kernel, se_kernel_grads


def _problem(lapse: float, false_alarm: float):
    """Two latent thresholds (z = 6 and 9 Bark) with a handful of answered trials each."""
    z = np.array([6.0, 9.0])
    kernel = se_kernel(z, z, lengthscale=3.0, outputscale=10.0, offset_sd=15.0)
    mean = np.array([40.0, 48.0])
    idx = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    levels = np.array([40.0, 30.0, 35.0, 33.0, 50.0, 60.0, 55.0, 52.0, 57.0])
    heard = np.array([True, False, True, False, False, True, True, False, True])
    sigma = np.full(idx.shape, 5.0)
    lik = ProbitLikelihood(lapse=lapse, false_alarm=false_alarm)

    def loglik(f):
        parts = lik.derivatives(f[idx], levels, heard, sigma)
        return tuple(np.bincount(idx, weights=p, minlength=2) for p in parts)

    return z, kernel, mean, loglik


def _log_post(f1, f2, kernel, mean, loglik):
    """Unnormalised log posterior on a grid of (f1, f2)."""
    f = np.stack([f1.ravel(), f2.ravel()], axis=1)
    d = f - mean
    kinv = np.linalg.inv(kernel)
    prior = -0.5 * np.einsum("ni,ij,nj->n", d, kinv, d)
    ll = np.array([loglik(row)[0].sum() for row in f])
    return (prior + ll).reshape(f1.shape)


@pytest.mark.parametrize(("lapse", "false_alarm"), [(0.0, 0.0), (0.03, 0.02)])
def test_laplace_matches_brute_force_grid_posterior(lapse, false_alarm):
    _, kernel, mean, loglik = _problem(lapse, false_alarm)
    state = find_mode(kernel, mean, loglik)
    assert state.converged
    # mode: equals the exact MAP (continuous optimiser) and the grid MAP to the grid resolution
    exact = minimize(lambda f: -_log_post(f[:1], f[1:], kernel, mean, loglik).item(), mean, method="Nelder-Mead",
                     options={"xatol": 1e-6, "fatol": 1e-10, "maxiter": 4000})  # fmt: skip
    np.testing.assert_allclose(state.f, exact.x, atol=1e-3)
    g1 = np.linspace(state.f[0] - 25, state.f[0] + 25, 301)
    g2 = np.linspace(state.f[1] - 25, state.f[1] + 25, 301)
    f1, f2 = np.meshgrid(g1, g2, indexing="ij")
    lp = _log_post(f1, f2, kernel, mean, loglik)
    i, j = np.unravel_index(np.argmax(lp), lp.shape)
    step = g1[1] - g1[0]
    assert abs(g1[i] - state.f[0]) <= step and abs(g2[j] - state.f[1]) <= step
    # moments: posterior mean and variance by numerical integration vs the Laplace Gaussian
    w = np.exp(lp - lp.max())
    w /= w.sum()
    grid_mean = np.array([(w * f1).sum(), (w * f2).sum()])
    grid_var = np.array([(w * (f1 - grid_mean[0]) ** 2).sum(), (w * (f2 - grid_mean[1]) ** 2).sum()])
    mu, var = predict(state, kernel, np.diag(kernel), mean)
    np.testing.assert_allclose(mu, state.f, atol=1e-6)  # predicting at the latent points returns the mode
    np.testing.assert_allclose(var, grid_var, rtol=0.25)
    assert np.all(np.abs(mu - grid_mean) < 0.5 * np.sqrt(grid_var))


def test_likelihood_derivatives_match_finite_differences():
    lik = ProbitLikelihood(lapse=0.03, false_alarm=0.02)
    t = np.linspace(0.0, 80.0, 41)
    levels = np.full_like(t, 40.0)
    for heard in (True, False):
        h = np.full(t.shape, heard)
        lp, d1, d2, d3 = lik.derivatives(t, levels, h, 5.0)
        eps = 1e-4
        lp_p, d1_p, d2_p, _ = lik.derivatives(t + eps, levels, h, 5.0)
        lp_m, d1_m, d2_m, _ = lik.derivatives(t - eps, levels, h, 5.0)
        np.testing.assert_allclose(d1, (lp_p - lp_m) / (2 * eps), atol=1e-6)
        np.testing.assert_allclose(d2, (d1_p - d1_m) / (2 * eps), atol=1e-6)
        np.testing.assert_allclose(d3, (d2_p - d2_m) / (2 * eps), atol=1e-6)
        p = lik.p_heard(levels, t, 5.0)
        np.testing.assert_allclose(np.exp(lp), p if heard else 1 - p, rtol=1e-10)
    # far from threshold the log-likelihood stays finite (log space), and the lapse floor holds
    lp, *_ = lik.derivatives(np.array([0.0]), np.array([120.0]), np.array([False]), 5.0)
    assert np.isfinite(lp[0]) and np.isclose(np.exp(lp[0]), 0.03, rtol=1e-6)


def test_kernel_matches_gpytorch():
    gpytorch = pytest.importorskip("gpytorch")
    import torch

    z = np.linspace(2.0, 20.0, 7)
    base = gpytorch.kernels.RBFKernel()
    base.lengthscale = 2.5
    k = gpytorch.kernels.ScaleKernel(base)
    k.outputscale = 12.0**2
    with torch.no_grad():
        ref = k(torch.tensor(z)[:, None]).to_dense().numpy() + 20.0**2
    np.testing.assert_allclose(se_kernel(z, z, 2.5, 12.0, 20.0), ref, rtol=1e-6)


def test_hyperparameter_gradient_matches_finite_differences():
    z, _, _, loglik = _problem(0.0, 0.0)
    mean = LinearMean(30.0, 2.0)(z)
    prior = HyperPrior()
    theta = np.log([3.5, 9.0])
    _, grad, _ = laplace_objective(theta, z, mean, loglik, 15.0, prior, None)
    eps = 1e-5
    for j in range(2):
        e = np.zeros(2)
        e[j] = eps
        up, _, _ = laplace_objective(theta + e, z, mean, loglik, 15.0, prior, None)
        dn, _, _ = laplace_objective(theta - e, z, mean, loglik, 15.0, prior, None)
        assert grad[j] == pytest.approx((up - dn) / (2 * eps), rel=1e-4, abs=1e-6)
    dl, ds = se_kernel_grads(z, 3.5, 9.0)
    assert dl.shape == ds.shape == (2, 2)


def test_linear_mean_fits_average_bisgaard_audiogram():
    m = LinearMean.from_bisgaard()
    assert m.slope > 0  # average hearing loss grows with frequency
    assert 35 < float(m(6 * np.arcsinh(1000 / 600))) < 55
