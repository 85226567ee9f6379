"""Laplace approximation, likelihood derivatives, kernel and hyperparameter gradient of GP-PTA ([CoxDeVries2015]_, App.
B).

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.linalg import LinAlgError, cholesky
from scipy.optimize import minimize

from audiometry.hyperparameters import HyperPrior, laplace_objective
from audiometry.laplace import find_mode, predict, stable_cholesky
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

    def total(f):  # (N, 2) latent pairs -> (N,) log-likelihood of all trials, vectorised over the pairs
        return lik.derivatives(f[:, idx], levels, heard, sigma)[0].sum(1)

    loglik.total = total
    return z, kernel, mean, loglik


def _log_post(f1, f2, kernel, mean, loglik):
    """Unnormalised log posterior on a grid of (f1, f2)."""
    f = np.stack([f1.ravel(), f2.ravel()], axis=1)
    d = f - mean
    kinv = np.linalg.inv(kernel)
    prior = -0.5 * np.einsum("ni,ij,nj->n", d, kinv, d)
    return (prior + loglik.total(f)).reshape(f1.shape)


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


# ------------------------------------------------------------------------------ a mode that is not log-concave
def _convex_problem(far_level: float = 60.0):
    """Two latent points; the second has one miss at ``far_level`` dB, well above its prior mean, under 30 % lapses
    and 25 % false alarms: there the likelihood is flat and convex (d2 L > 0) at the mode."""
    z = np.array([6.0, 9.0])
    kernel = se_kernel(z, z, lengthscale=3.0, outputscale=10.0, offset_sd=15.0)
    mean = np.array([40.0, 48.0])
    idx = np.array([0, 0, 0, 0, 1])
    levels = np.array([40.0, 30.0, 35.0, 33.0, far_level])
    heard = np.array([True, False, True, False, False])
    lik = ProbitLikelihood(lapse=0.3, false_alarm=0.25)
    calls: list[np.ndarray] = []

    def loglik(f):
        calls.append(np.array(f, dtype=float))
        parts = lik.derivatives(f[idx], levels, heard, np.full(idx.shape, 5.0))
        return tuple(np.bincount(idx, weights=p, minlength=2) for p in parts)

    def psi(f):  # Psi(f) = L(f) - 1/2 (f - m)^T K^-1 (f - m), directly
        d = f - mean
        return float(loglik(f)[0].sum() - 0.5 * d @ np.linalg.solve(kernel, d))

    return z, kernel, mean, loglik, psi, calls


def test_laplace_mode_where_the_likelihood_is_not_log_concave():
    z, kernel, mean, loglik, psi, _ = _convex_problem()
    state = find_mode(kernel, mean, loglik)
    assert state.converged
    exact = minimize(lambda f: -psi(f), mean, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12})
    np.testing.assert_allclose(state.f, exact.x, atol=1e-4)
    _, d1, d2, d3 = loglik(state.f)
    assert d2[0] < -0.01 and d2[1] > 1e-4  # log-concave at the first point, convex at the second
    # W = -d2 clipped at 0, so the second point carries no curvature; d3 is masked where W was clipped
    np.testing.assert_allclose(state.sqrt_w, [np.sqrt(-d2[0]), 0.0], rtol=1e-12)
    assert d3[1] > 0 and state.d3[1] == 0.0 and state.d3[0] == pytest.approx(d3[0], rel=1e-12)
    np.testing.assert_allclose(state.grad, d1, rtol=1e-12)
    np.testing.assert_allclose(state.a, np.linalg.solve(kernel, state.f - mean), rtol=1e-6)
    np.testing.assert_allclose(state.a, d1, atol=1e-6)  # at the mode K^-1 (f - m) = dL
    b_mat = np.eye(2) + state.sqrt_w[:, None] * kernel * state.sqrt_w[None, :]
    np.testing.assert_allclose(state.chol @ state.chol.T, b_mat, rtol=1e-12)
    assert np.allclose(state.chol, np.tril(state.chol))
    assert state.log_joint == pytest.approx(psi(state.f), abs=1e-10)
    assert state.log_marginal == pytest.approx(psi(state.f) - 0.5 * np.linalg.slogdet(b_mat)[1], abs=1e-10)
    # predictions: mu* = m* + k*^T K^-1 (f - m), v* = k** - k*^T (K + W^-1)^-1 k* = [(K^-1 + W)^-1] at the latent points
    w = state.sqrt_w**2
    np.testing.assert_allclose(
        predict(state, kernel, np.diag(kernel), mean)[1],
        np.diag(np.linalg.inv(np.linalg.inv(kernel) + np.diag(w))),
        rtol=1e-8,
    )
    z_star = np.array([7.5, 12.0])
    k_star = se_kernel(z, z_star, lengthscale=3.0, outputscale=10.0, offset_sd=15.0)
    k_ss = np.diag(se_kernel(z_star, z_star, lengthscale=3.0, outputscale=10.0, offset_sd=15.0))
    mu, var = predict(state, k_star, k_ss, np.array([44.0, 50.0]))
    np.testing.assert_allclose(
        mu, np.array([44.0, 50.0]) + k_star.T @ np.linalg.solve(kernel, state.f - mean), rtol=1e-8
    )
    # k*^T (K + W^-1)^-1 k* with W = 0 at the second point: only the first point's (K_00 + 1/W_0) enters
    k0 = k_star[0]
    expected_var = k_ss - k0 * k0 / (kernel[0, 0] + 1.0 / w[0])
    np.testing.assert_allclose(var, expected_var, rtol=1e-8)


def test_psi_never_decreases_along_the_newton_iterations():
    _, kernel, mean, loglik, psi, calls = _convex_problem()
    a0 = np.array([2.0, 2.0])  # far from the mode: the full Newton step overshoots
    path = [find_mode(kernel, mean, loglik, a0=a0, max_iter=k) for k in range(1, 9)]
    values = [s.log_joint for s in path]
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(values)), values
    assert values[0] > psi(mean + kernel @ a0)  # the first step improves on the start
    for s in path:
        assert s.log_joint == pytest.approx(psi(s.f), abs=1e-9)
    # the run did reject a trial step (psi -4.23 after -3.72): the backtracking was exercised
    calls.clear()
    find_mode(kernel, mean, loglik, a0=a0)
    tried = [psi(f) for f in list(calls)]
    assert any(b < a - 0.1 for a, b in itertools.pairwise(tried))
    assert path[-1].converged and path[-1].log_joint == pytest.approx(find_mode(kernel, mean, loglik).log_joint)


def test_hyperparameter_gradient_with_a_clipped_curvature():
    z, _, _, loglik, _, _ = _convex_problem()
    mean = LinearMean(30.0, 2.0)(z)
    prior = HyperPrior()
    theta = np.log([3.5, 9.0])
    _value, grad, state = laplace_objective(theta, z, mean, loglik, 15.0, prior, None)
    assert state.sqrt_w[1] == 0.0 and state.d3[1] == 0.0
    eps = 1e-5
    for j in range(2):
        e = np.zeros(2)
        e[j] = eps
        up, _, _ = laplace_objective(theta + e, z, mean, loglik, 15.0, prior, None)
        dn, _, _ = laplace_objective(theta - e, z, mean, loglik, 15.0, prior, None)
        # finite differences agree to ~6e-5; leaving d3 unmasked at the clipped point moves the gradient by 2.4e-3
        # and 1.3e-3
        assert grad[j] == pytest.approx((up - dn) / (2 * eps), rel=0, abs=3e-4)


# ------------------------------------------------------------------------------------------- Cholesky with jitter
def test_stable_cholesky_needs_no_jitter_for_a_positive_definite_matrix():
    m = np.array([[4.0, 2.0], [2.0, 3.0]])
    chol = stable_cholesky(m)
    np.testing.assert_allclose(chol, [[2.0, 0.0], [1.0, np.sqrt(2.0)]], rtol=1e-14)


@pytest.mark.parametrize(
    ("matrix", "jitter"),
    [
        (np.ones((3, 3)), 1e-10),  # singular (rank 1): the smallest jitter, 1e-10 of the mean diagonal, suffices
        (np.diag([1.0, -4e-6]), (1.0 - 4e-6) / 2 * 1e-5),  # needs 8e-6: only the last try, 1e-5 of the mean diagonal
        (np.diag([1.0, -4e-7]), (1.0 - 4e-7) / 2 * 1e-6),  # needs 8e-7: the fifth try
    ],
)
def test_stable_cholesky_falls_back_to_the_smallest_sufficient_jitter(matrix, jitter):
    with pytest.raises(LinAlgError):
        cholesky(matrix, lower=True)  # the plain factorisation fails
    chol = stable_cholesky(matrix)
    np.testing.assert_allclose(chol @ chol.T, matrix + jitter * np.eye(len(matrix)), rtol=0, atol=1e-15)
    assert np.allclose(chol, np.tril(chol))


def test_stable_cholesky_gives_up_beyond_its_largest_jitter():
    with pytest.raises(LinAlgError, match=r"^matrix is not positive definite even with jitter$"):
        stable_cholesky(np.diag([1.0, -2e-5]))  # needs 4e-5 of the mean diagonal, more than 1e-5
    with pytest.raises(LinAlgError, match="even with jitter"):
        stable_cholesky(np.diag([1.0, -4e-6]), max_tries=5)  # the 1e-5 try is the sixth


# ------------------------------------------------------------------------------------ iterations and convergence
def _geometric(k: float, alpha: float):
    """One latent point with prior N(0, k) and a convex log-likelihood L(f) = alpha f^2 / 2 (k alpha < 1): W is clipped
    to 0, so each Newton step is the fixed-point step a = dL(f), f_new = k alpha f, and Psi = (alpha - 1/k) f^2 / 2
    rises at every step."""
    kernel, mean = np.array([[k]]), np.zeros(1)

    def loglik(f):
        return 0.5 * alpha * f**2, alpha * f, np.full_like(f, alpha), np.zeros_like(f)

    return kernel, mean, loglik


def test_iteration_cap_and_convergence_tolerance():
    kernel, mean, loglik = _geometric(1.0, 0.9)
    state = find_mode(kernel, mean, loglik, a0=np.array([100.0]))  # f0 = 100, then 100 * 0.9^n
    assert state.iterations == 60 and state.converged is False  # the default cap: far from converged
    assert state.f[0] == pytest.approx(100.0 * 0.9**60, rel=1e-10)
    assert state.log_joint == pytest.approx(-0.05 * state.f[0] ** 2, rel=1e-10)
    # scaled so that Psi still rises by ~1e-6 per step when f moves by < 1e-6: the run goes on until the rise is below
    # tol = 1e-9 too, i.e. 9500 f^2 < 1e-9 (f < 3.2e-7), not merely until the step is below 1e-6 (f < 1e-5)
    kernel, mean, loglik = _geometric(1e-6, 0.9e6)
    state = find_mode(kernel, mean, loglik, a0=np.array([1e3]), max_iter=500)  # f0 = 1e-3
    assert state.converged and abs(state.f[0]) < 3e-7 and state.iterations < 500


def test_no_iterations_return_the_warm_start():
    _, kernel, mean, loglik, psi, _ = _convex_problem()
    a0 = np.array([0.3, -0.2])
    state = find_mode(kernel, mean, loglik, a0=a0, max_iter=0)
    assert state.iterations == 0 and state.converged is False
    np.testing.assert_allclose(state.f, mean + kernel @ a0, rtol=1e-12)
    assert state.log_joint == pytest.approx(psi(mean + kernel @ a0), abs=1e-10)
    np.testing.assert_array_equal(state.a, a0)


def test_predictive_variance_below_one_db_squared_is_not_floored():
    # a prior of 0.5 dB^2 (outputscale 0.5, offset 0.5 dB): posterior variances well below 1 dB^2, floored only at 1e-12
    z = np.array([6.0, 9.0])
    kernel = se_kernel(z, z, lengthscale=3.0, outputscale=0.5, offset_sd=0.5)
    _, _, mean, loglik, _, _ = _convex_problem()
    state = find_mode(kernel, mean, loglik)
    w = state.sqrt_w**2
    _, var = predict(state, kernel, np.diag(kernel), mean)
    np.testing.assert_allclose(var, np.diag(np.linalg.inv(np.linalg.inv(kernel) + np.diag(w))), rtol=1e-8)
    assert np.all(var < 0.5)


def test_a_flat_objective_runs_until_the_mode_stops_moving():
    # k = 1e6, alpha = 0.9e-6: Psi = -0.05e-6 f^2 is so flat that it rises by < 1e-9 per step long before the iterates
    # settle; convergence needs both a small rise and a step below 1e-6 (f < 1e-5 here)
    kernel, mean, loglik = _geometric(1e6, 0.9e-6)
    state = find_mode(kernel, mean, loglik, a0=np.array([1e-6]), max_iter=400)  # f0 = 1
    assert state.converged and abs(state.f[0]) < 1e-5 and state.iterations > 100


def test_no_ascent_direction_stops_at_the_start():
    # a log-likelihood whose reported gradient has the wrong sign: every step along the Newton direction lowers Psi,
    # the backtracking fails down to steps below 1e-6, and the start is returned as the mode
    kernel, mean = np.array([[4.0]]), np.zeros(1)

    def wrong(f):
        return -0.5 * f**2, +f, -np.ones_like(f), np.zeros_like(f)

    state = find_mode(kernel, mean, wrong, a0=np.array([0.5]))  # f0 = 2
    assert state.converged is True and state.iterations == 1
    np.testing.assert_array_equal(state.f, [2.0])
    assert state.log_joint == -0.5 * 4.0 - 0.5 * 0.5 * 2.0  # L(2) - 1/2 a (f - m)
