"""GP-PTA: Bayesian pure-tone audiometry by GP binary classification ([CoxDeVries2015]_: "A Bayesian binary
classification approach to pure tone audiometry").

The threshold curve t(z) over Bark z = 6 asinh(f/600) (eq. 3) has a GP prior (``prior``); answers follow the probit
response model with optional lapse / false-alarm rates (eq. 2, ``likelihood``); the posterior is the Laplace
approximation (App. B, ``laplace``) whose SE-kernel hyperparameters are refit by marginal likelihood (Sec. 6,
``hyperparameters``); the next stimulus maximises BALD (Sec. 4, ``bald``). Levels are clamped to a safe range.

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from audiometry.audiogram import Audiogram, Trial, make_audiogram
from audiometry.bald import select_stimulus
from audiometry.errors import AudiometryInputError, AudiometryStateError
from audiometry.hyperparameters import HyperPrior, refit
from audiometry.laplace import LaplaceState, find_mode, predict
from audiometry.likelihood import ProbitLikelihood
from audiometry.prior import LinearMean, se_kernel
from audiometry.procedure import Procedure
from audiometry.warp import (
    STANDARD_FREQS_HZ,
    bark_to_hz,
    check_freq,
    check_freq_range,
    check_freqs,
    check_level_range,
    hz_to_bark,
)

SigmaSpec = float | Callable[[np.ndarray], np.ndarray]


def _check_settings(**settings: float) -> None:
    """Integer counts and positive finite steps of :class:`GPPTA`, each error naming its argument."""
    lows = {"max_trials": 1, "n_grid": 2, "max_repeats": 1}
    for name, low in lows.items():
        value = settings[name]
        if isinstance(value, bool) or not float(value).is_integer() or value < low:
            raise AudiometryInputError(f"{name} must be an integer >= {low}, got {value!r}")
    step, offset_sd = settings["level_step"], settings["offset_sd"]
    if not (np.isfinite(step) and step > 0):
        raise AudiometryInputError(f"level_step must be a finite number of dB > 0, got {step!r}")
    if not (np.isfinite(offset_sd) and offset_sd >= 0):
        raise AudiometryInputError(f"offset_sd must be a finite number of dB >= 0, got {offset_sd!r}")


class GPPTA(Procedure):
    """GP-PTA audiometry agent.

    Args:
        freq_range: (low, high) Hz of the tested band; the candidate frequencies are ``n_grid`` points equally spaced
            in Bark over it.
        sigma: response-noise SD in dB, a float or a callable freq_hz array -> SD array (frequency-dependent sigma; the
            full BALD is then used).
        seed: seeds the generator that breaks BALD near-ties.
        lapse, false_alarm: lambda and gamma of the response model (0 and 0 reproduce the paper).
        level_range: safe presentation range, dB HL; nothing is presented outside it.
        max_trials: trial budget. target_sd: stop once the posterior SD is below this everywhere in the band (dB; None
            disables), ignoring frequencies whose threshold is confidently outside the level range; never before
            ``min_trials``.
        selection: "fast" (eq. 16: frequency = argmax v*, level = mu*), "full" (quadrature BALD over frequency x level)
            or "auto" (fast when sigma is constant and lapse == false_alarm, where the two coincide; else full).
        frequency_weight: optional callable freq_hz -> weight >= 0 multiplying the BALD score.
        refit_every: refit the hyperparameters every this many trials (0: never); from ``refit_min_trials`` on, with at
            most ``refit_maxiter`` L-BFGS-B iterations from the previous optimum.
        hyper_prior: priors/bounds on lengthscale and outputscale. lengthscale, outputscale: initial values (default
            the prior medians). offset_sd: SD of the marginalised curve offset (dB). detail: fixed (lengthscale Bark,
            SD dB) of a short-scale SE term added to the kernel (None: paper's single SE), see ``prior``.
        prior_mean: mean function of z (default: linear fit to the average Bisgaard audiogram).
        level_step: presented levels are rounded to this step (dB). tie_tolerance: relative BALD tolerance for ties.
        max_repeats: after this many consecutive trials at one grid frequency, that frequency is skipped once.

    Tie-breaking (documented and seeded): every grid frequency whose BALD score is within ``tie_tolerance`` (relative)
    of the best is a candidate and one is drawn uniformly with the agent's generator; e.g. the first trial, where the
    prior variance is flat, starts at a seeded random frequency. Posterior inference is deterministic, so the same seed
    and answers give the same session.
    """

    method = "gppta"

    def __init__(
        self,
        freq_range: tuple[float, float] = (250.0, 8000.0),
        sigma: SigmaSpec = 5.0,
        seed: int = 0,
        *,
        lapse: float = 0.02,
        false_alarm: float = 0.01,
        level_range: tuple[float, float] = (-10.0, 120.0),
        max_trials: int = 100,
        target_sd: float | None = 3.0,
        min_trials: int = 8,
        n_grid: int = 121,
        selection: str = "auto",
        frequency_weight: Callable[[np.ndarray], np.ndarray] | None = None,
        refit_every: int = 1,
        refit_min_trials: int = 4,
        refit_maxiter: int = 12,
        hyper_prior: HyperPrior | None = None,
        lengthscale: float | None = None,
        outputscale: float | None = None,
        offset_sd: float = 25.0,
        detail: tuple[float, float] | None = (1.0, 3.0),
        prior_mean: Callable[[np.ndarray], np.ndarray] | None = None,
        level_step: float = 1.0,
        tie_tolerance: float = 0.01,
        max_repeats: int = 3,
    ) -> None:
        super().__init__(check_level_range(level_range))
        self.freq_range = check_freq_range(freq_range)
        _check_settings(max_trials=max_trials, n_grid=n_grid, max_repeats=max_repeats, level_step=level_step,
                        offset_sd=offset_sd)  # fmt: skip
        if selection not in ("auto", "fast", "full"):
            raise AudiometryInputError(f"selection must be 'auto', 'fast' or 'full', got {selection!r}")
        if target_sd is not None and not target_sd > 0:
            raise AudiometryInputError(f"target_sd must be > 0 or None, got {target_sd}")
        self.likelihood = ProbitLikelihood(lapse=lapse, false_alarm=false_alarm)
        self.max_trials, self.min_trials, self.target_sd = int(max_trials), int(min_trials), target_sd
        self.refit_every, self.refit_min_trials, self.refit_maxiter = int(refit_every), refit_min_trials, refit_maxiter
        self.hyper_prior = hyper_prior or HyperPrior()
        self.offset_sd = float(offset_sd)
        self.detail = None if detail is None else (float(detail[0]), float(detail[1]))
        self.level_step, self.tie_tolerance, self.max_repeats = (
            float(level_step),
            float(tie_tolerance),
            int(max_repeats),
        )
        self.prior_mean = prior_mean or LinearMean.from_bisgaard()
        self.rng = np.random.default_rng(seed)
        self.theta = self.hyper_prior.initial.copy()
        if lengthscale is not None:
            self.theta[0] = np.log(lengthscale)
        if outputscale is not None:
            self.theta[1] = np.log(outputscale)
        self.z_grid = np.linspace(*hz_to_bark(np.array(self.freq_range)), int(n_grid))
        self.f_grid = bark_to_hz(self.z_grid)
        self._sigma_fn = sigma if callable(sigma) else None
        self._sigma_const = None if callable(sigma) else float(sigma)
        self.sigma_grid = self.sigma_at(self.f_grid)
        const = self._sigma_const is not None and lapse == false_alarm
        self.selection = ("fast" if const else "full") if selection == "auto" else selection
        self.weight_grid = None
        if frequency_weight is not None:
            self.weight_grid = np.asarray(frequency_weight(self.f_grid), dtype=float)
            if self.weight_grid.shape != self.f_grid.shape or np.any(self.weight_grid < 0):
                raise AudiometryInputError("frequency_weight must map the frequency grid to non-negative weights")
        # data: one latent value per distinct trial frequency (keyed by Bark rounded to 1e-9)
        self._latent_z: list[float] = []
        self._latent_key: dict[float, int] = {}
        self._trial_latent: list[int] = []
        self._trial_grid: list[int | None] = []
        self._issued_grid: int | None = None
        self._state: LaplaceState | None = None
        self._update_grid()

    # ----------------------------------------------------------------------------------------------- model pieces
    def sigma_at(self, freqs_hz: np.ndarray) -> np.ndarray:
        """Response-noise SD (dB) at the given frequencies."""
        freqs_hz = np.asarray(freqs_hz, dtype=float)
        if self._sigma_const is not None:
            sig = np.full(freqs_hz.shape, self._sigma_const)
        else:
            sig = np.broadcast_to(np.asarray(self._sigma_fn(freqs_hz), dtype=float), freqs_hz.shape).copy()
        if not np.all(np.isfinite(sig) & (sig > 0)):
            raise AudiometryInputError("sigma must be finite and > 0 dB at every frequency")
        return sig

    @property
    def hyperparameters(self) -> dict[str, float]:
        ell, s = np.exp(self.theta)
        return {"lengthscale_bark": float(ell), "outputscale_db": float(s), "offset_sd_db": self.offset_sd}

    def _kernel(self, za: np.ndarray, zb: np.ndarray) -> np.ndarray:
        ell, s = np.exp(self.theta)
        return se_kernel(za, zb, ell, s, self.offset_sd, self.detail)

    def _loglik(self, lik: ProbitLikelihood):
        idx = np.asarray(self._trial_latent)
        levels = np.array([t.level_db_hl for t in self.trials])
        heard = np.array([t.heard for t in self.trials])
        sigmas = self.sigma_at(np.array([t.freq_hz for t in self.trials]))
        n = len(self._latent_z)

        def loglik(f: np.ndarray):
            parts = lik.derivatives(f[idx], levels, heard, sigmas)
            return tuple(np.bincount(idx, weights=p, minlength=n) for p in parts)

        return loglik

    def _refit_posterior(self) -> None:
        z = np.asarray(self._latent_z)
        mean = self.prior_mean(z)
        loglik = self._loglik(self.likelihood)
        a0 = None
        if self._state is not None:
            a0 = np.zeros(len(z))
            a0[: len(self._state.a)] = self._state.a
        kernel = self._kernel(z, z)
        state = find_mode(kernel, mean, loglik, a0=a0)
        if self.likelihood.lapse > 0 or self.likelihood.false_alarm > 0:
            # The lapse mixture makes the posterior multimodal ("threshold moved" vs "lapses"); Newton only finds the
            # local mode. Restart also from the mode of the lapse-free (log-concave, unique-mode) model; keep the best.
            concave = find_mode(kernel, mean, self._loglik(ProbitLikelihood()), a0=a0)
            alt = find_mode(kernel, mean, loglik, a0=concave.a)
            if alt.log_joint > state.log_joint + 1e-9:
                state = alt
        self._state = state
        n = len(self.trials)
        if self.refit_every > 0 and n >= self.refit_min_trials and n % self.refit_every == 0:
            self.theta, self._state = refit(
                self.theta,
                z,
                mean,
                loglik,
                self.offset_sd,
                self.hyper_prior,
                a0=state.a,
                maxiter=self.refit_maxiter,
                detail=self.detail,
            )
        self._update_grid()

    def _posterior(self, z_star: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean_star = self.prior_mean(z_star)
        s = float(np.exp(self.theta[1]))
        prior_var = np.full(
            z_star.shape, s**2 + self.offset_sd**2 + (0.0 if self.detail is None else self.detail[1] ** 2)
        )
        if self._state is None:
            return mean_star, prior_var
        k_star = self._kernel(np.asarray(self._latent_z), z_star)
        return predict(self._state, k_star, prior_var, mean_star)

    def _update_grid(self) -> None:
        self.grid_mean, self.grid_var = self._posterior(self.z_grid)

    # ----------------------------------------------------------------------------------------------- public API
    def threshold(self, freqs_hz: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and SD of the threshold (dB HL) at the given frequencies (Hz, > 0; any value is allowed,
        outside ``freq_range`` the GP extrapolates towards the prior)."""
        mean, var = self._posterior(hz_to_bark(check_freqs(freqs_hz)))
        return mean, np.sqrt(var)

    def p_heard(self, freqs_hz: np.ndarray, levels_db_hl: np.ndarray) -> np.ndarray:
        """Predictive p(heard) (eq. 8 with the lapse mixture) on freqs x levels; shape (len(levels), len(freqs))."""
        freqs = check_freqs(freqs_hz)
        mean, var = self._posterior(hz_to_bark(freqs))
        lv = np.asarray(levels_db_hl, dtype=float)[:, None]
        return self.likelihood.predictive(lv, mean[None, :], var[None, :], self.sigma_at(freqs)[None, :])

    @property
    def max_band_sd(self) -> float:
        """Largest posterior SD over the band, ignoring thresholds confidently outside the safe level range."""
        sd = np.sqrt(self.grid_var)
        lo, hi = self.level_range
        inside = ~((self.grid_mean - 2 * sd > hi) | (self.grid_mean + 2 * sd < lo))
        return float(np.max(sd[inside])) if np.any(inside) else 0.0

    @property
    def converged(self) -> bool:
        """The stopping rule was met: at least ``min_trials`` and the band's SD below ``target_sd`` everywhere."""
        n = len(self.trials)
        return self.target_sd is not None and n >= self.min_trials and self.max_band_sd < self.target_sd

    @property
    def done(self) -> bool:
        """Converged, or ``max_trials`` trials made (the trial cap)."""
        return len(self.trials) >= self.max_trials or self.converged

    def next_stimulus(self) -> tuple[float, float]:
        """The next (frequency Hz, level dB HL) by BALD; the same pending stimulus until ``update`` answers it."""
        if self._pending is not None:
            return self.pending_stimulus
        if self.done:
            raise AudiometryStateError("the session is done (stopping rule met); read agent.audiogram()")
        last = self._trial_grid[-self.max_repeats :]
        excluded = last[0] if len(last) == self.max_repeats and last[0] is not None and len(set(last)) == 1 else None
        idx, level, _ = select_stimulus(
            self.grid_mean,
            self.grid_var,
            self.sigma_grid,
            self.level_range,
            self.likelihood,
            self.selection,
            self.weight_grid,
            self.rng,
            self.tie_tolerance,
            excluded,
        )
        lo, hi = self.level_range
        desired = float(self.grid_mean[idx]) if self.selection == "fast" else level
        clamped = bool(self.grid_mean[idx] > hi or self.grid_mean[idx] < lo)
        level = float(np.clip(np.round(desired / self.level_step) * self.level_step, lo, hi))
        self._issued_grid = idx
        return self._issue(float(self.f_grid[idx]), level, clamped)

    def update(self, freq_hz: float, level_db_hl: float, heard: bool) -> Trial:
        """Record the answer to the pending stimulus and update the posterior (and hyperparameters)."""
        trial = self._accept(freq_hz, level_db_hl, heard)
        self._add(trial, self._issued_grid)
        return trial

    def add_observation(self, freq_hz: float, level_db_hl: float, heard: bool) -> Trial:
        """Add a trial the agent did not choose (earlier data, a clinician's tone); validated, no pending needed."""
        freq = check_freq(freq_hz)
        trial = self._log(freq, self.check_level(level_db_hl), self.check_heard(heard), clamped=False)
        self._add(trial, None)
        return trial

    def _add(self, trial: Trial, grid_idx: int | None) -> None:
        z = float(hz_to_bark(trial.freq_hz))
        key = round(z, 9)
        if key not in self._latent_key:
            self._latent_key[key] = len(self._latent_z)
            self._latent_z.append(z)
        self._trial_latent.append(self._latent_key[key])
        self._trial_grid.append(grid_idx)
        self._refit_posterior()

    def audiogram(self, freqs_hz: tuple[float, ...] = STANDARD_FREQS_HZ) -> Audiogram:
        """The audiogram at ``freqs_hz`` (default the standard frequencies) with 95% bands and the trial log."""
        mean, sd = self.threshold(np.asarray(freqs_hz))
        info = {"hyperparameters": self.hyperparameters, "selection": self.selection, "lapse": self.likelihood.lapse}
        info["false_alarm"] = self.likelihood.false_alarm
        return make_audiogram(
            self.method, freqs_hz, mean, sd, self.level_range, mean > self.level_range[1], self.trials, info
        )
