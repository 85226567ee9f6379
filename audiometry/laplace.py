"""Laplace approximation of the GP-PTA posterior ([CoxDeVries2015]_, Sec. 3.2, App. B; [RW2006]_ (R&W), Alg. 3.1/3.2).

The latent vector f holds the threshold at the n distinct trial frequencies (trials at the same frequency share one
latent value, their likelihood terms add). With prior f ~ N(m, K) and log-likelihood L(f), the mode is found by Newton
iterations in the stable form of R&W Alg. 3.1 extended with a mean function (eq. (26) of [CoxDeVries2015]_):

    W = -diag(d2 L) clipped at >= 0,  B = I + W^1/2 K W^1/2 = L L^T (Cholesky, jitter fallback)
    b = W (f - m) + dL,  a = b - W^1/2 L^-T L^-1 W^1/2 K b,  f_new = m + K a

B has eigenvalues >= 1, so no inverse of K is ever formed. With lapse / false-alarm rates the likelihood is not
log-concave; clipping W at 0 keeps B positive definite, and a backtracking line search on the Newton direction in
a-space guarantees that Psi(f) = L(f) - 1/2 (f - m)^T K^-1 (f - m) = L(f) - 1/2 a^T (f - m) never decreases.

The approximate log marginal likelihood (R&W eq. 3.32) is log q(y) = Psi(f_hat) - sum log diag L. Predictions at z* (eq.
(10) of [CoxDeVries2015]_): mu* = m* + k*^T a, v* = k** - |L^-1 W^1/2 k*|^2.

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.

.. [RW2006]
    C. E. Rasmussen, C. K. I. Williams. Gaussian Processes for Machine Learning. MIT Press, 2006.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky, solve_triangular

#: loglik(f) -> (log p, dL, d2L, d3L), each (n,) summed per latent point.
LogLikFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class LaplaceState:
    """Converged Laplace approximation (all arrays over the n latent points)."""

    f: np.ndarray  # (n,) posterior mode, dB HL
    a: np.ndarray  # (n,) K^-1 (f - m); equals dL at the mode
    sqrt_w: np.ndarray  # (n,) W^1/2 with W clipped at >= 0
    chol: np.ndarray  # (n, n) lower Cholesky factor of B
    grad: np.ndarray  # (n,) dL/df at the mode
    d3: np.ndarray  # (n,) d3L/df3 at the mode, 0 where W was clipped (W then does not depend on f)
    log_joint: float  # Psi(f_hat) = log p(y | f_hat) + log N(f_hat; m, K) + const
    log_marginal: float  # approximate log p(y | hyperparameters)
    iterations: int
    converged: bool


def stable_cholesky(matrix: np.ndarray, max_tries: int = 6) -> np.ndarray:
    """Lower Cholesky factor, adding diagonal jitter (1e-10 .. 1e-5 of the mean diagonal) only if needed."""
    try:
        return cholesky(matrix, lower=True, check_finite=False)
    except LinAlgError:
        pass
    scale = float(np.mean(np.diag(matrix)))
    eye = np.eye(matrix.shape[0])
    for k in range(max_tries):
        try:
            return cholesky(matrix + eye * scale * 10.0 ** (-10 + k), lower=True, check_finite=False)
        except LinAlgError:
            continue
    raise LinAlgError("matrix is not positive definite even with jitter")


def _factor(kernel: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sqrt_w = np.sqrt(w)
    b_mat = sqrt_w[:, None] * kernel * sqrt_w[None, :]
    b_mat[np.diag_indices_from(b_mat)] += 1.0
    return sqrt_w, stable_cholesky(b_mat)


def find_mode(
    kernel: np.ndarray,
    mean: np.ndarray,
    loglik: LogLikFn,
    a0: np.ndarray | None = None,
    max_iter: int = 60,
    tol: float = 1e-9,
) -> LaplaceState:
    """Newton iterations for the posterior mode (R&W Alg. 3.1 with a mean function, damped).

    Args:
        kernel: (n, n) prior covariance K at the latent points, dB^2.
        mean: (n,) prior mean m, dB HL.
        loglik: see ``LogLikFn``.
        a0: (n,) warm start in a-space (f0 = m + K a0); zeros (the prior mean) if None.
        max_iter: Newton iteration cap. tol: convergence tolerance on the objective increase.

    Returns:
        The ``LaplaceState`` at the mode.
    """
    n = mean.shape[0]
    a = np.zeros(n) if a0 is None else np.asarray(a0, dtype=float).copy()
    f = mean + kernel @ a
    logp, d1, d2, _ = loglik(f)
    psi = float(logp.sum() - 0.5 * a @ (f - mean))
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        w = np.maximum(-d2, 0.0)
        sqrt_w, chol = _factor(kernel, w)
        b = w * (f - mean) + d1
        tmp = solve_triangular(chol, sqrt_w * (kernel @ b), lower=True, check_finite=False)
        a_new = b - sqrt_w * solve_triangular(chol, tmp, lower=True, trans="T", check_finite=False)
        step_dir = a_new - a
        step = 1.0
        while True:  # backtracking: never accept a decrease of Psi
            a_try = a + step * step_dir
            f_try = mean + kernel @ a_try
            logp_t, d1_t, d2_t, _ = loglik(f_try)
            psi_try = float(logp_t.sum() - 0.5 * a_try @ (f_try - mean))
            if psi_try >= psi - 1e-12 or step < 1e-6:
                break
            step *= 0.5
        if psi_try < psi - 1e-12:  # no improving step along the Newton direction: at the mode to numerical precision
            converged = True
            break
        df = np.max(np.abs(f_try - f))
        gain = psi_try - psi
        a, f, psi, d1, d2 = a_try, f_try, psi_try, d1_t, d2_t
        if gain < tol and df < 1e-6:
            converged = True
            break
    logp, d1, d2, d3 = loglik(f)
    w_raw = -d2
    sqrt_w, chol = _factor(kernel, np.maximum(w_raw, 0.0))
    log_marginal = psi - float(np.sum(np.log(np.diag(chol))))
    return LaplaceState(
        f=f,
        a=a,
        sqrt_w=sqrt_w,
        chol=chol,
        grad=d1,
        d3=np.where(w_raw > 0.0, d3, 0.0),
        log_joint=psi,
        log_marginal=log_marginal,
        iterations=it,
        converged=converged,
    )


def predict(state: LaplaceState, k_star: np.ndarray, k_star_diag: np.ndarray, mean_star: np.ndarray):
    """Posterior mean and variance of the latent threshold at test points (eq. (10) of [CoxDeVries2015]_; R&W Alg. 3.2).

    Args:
        state: converged Laplace state over n latent points.
        k_star: (n, m) cross-covariance K(z, z*). k_star_diag: (m,) prior variances k(z*, z*). mean_star: (m,) m(z*).

    Returns:
        mu*, v*: each (m,), dB HL and dB^2.
    """
    mu = mean_star + k_star.T @ state.a
    v = solve_triangular(state.chol, state.sqrt_w[:, None] * k_star, lower=True, check_finite=False)
    var = np.maximum(k_star_diag - np.einsum("ij,ij->j", v, v), 1e-12)
    return mu, var


def hyper_gradient(state: LaplaceState, kernel: np.ndarray, dkernels: list[np.ndarray]) -> np.ndarray:
    """Gradient of log q(y | theta) w.r.t. kernel hyperparameters, including the implicit term through f_hat
    (R&W Alg. 5.1, which also holds with a fixed mean function; sign of the implicit term see below).

    Args:
        state: converged Laplace state. kernel: (n, n) K. dkernels: list of (n, n) dK/dtheta_j.

    Returns:
        (len(dkernels),) gradient.
    """
    sw = state.sqrt_w
    r_mat = sw[:, None] * cho_solve((state.chol, True), np.diag(sw), check_finite=False)
    c_mat = solve_triangular(state.chol, sw[:, None] * kernel, lower=True, check_finite=False)
    # d(-1/2 log|B|)/df_i = -1/2 [(K^-1 + W)^-1]_ii dW_ii/df_i with dW_ii/df_i = -d3_i: the sign is +1/2 (R&W print
    # -1/2 in eq. 5.23 / Alg. 5.1); checked against finite differences of log q in the tests.
    s2 = 0.5 * (np.diag(kernel) - np.einsum("ij,ij->j", c_mat, c_mat)) * state.d3
    out = np.empty(len(dkernels))
    for j, dk in enumerate(dkernels):
        s1 = 0.5 * state.a @ dk @ state.a - 0.5 * np.sum(r_mat * dk)
        b = dk @ state.grad
        s3 = b - kernel @ (r_mat @ b)
        out[j] = s1 + s2 @ s3
    return out
