"""Audiometry of a cohort of virtual listeners: GP-PTA ([CoxDeVries2015]_) on every listener, scored against its
neurometric truth.

Each listener answers the agent's tones through its probit responder around its true (neurometric) threshold curve
(:meth:`listeners.VirtualListener.respond`). After every trial the agent's posterior-mean audiogram at the standard
frequencies is compared with the listener's true neurometric thresholds there (dB HL), giving an MAE-vs-trials curve
per listener. "Trials to MAE <= 5 dB" is the first trial after which the MAE stays <= 5 dB up to the end of the session
(``audiometry.benchmark.trials_to_target``, "sustained"). All listeners' true curves are computed first in one batched
bisection (:func:`listeners.prime_thresholds`).

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from listeners.listener import AUDIOGRAM_FREQS_HZ, THRESHOLD_GRID_HZ, VirtualListener, prime_thresholds

__all__ = ["ListenerAudiometry", "run_cohort_audiometry", "summarise_audiometry"]


@dataclass
class ListenerAudiometry:
    """GP-PTA on one virtual listener.

    Attributes:
        listener_id: the listener.
        freqs_hz: ``F`` evaluation frequencies.
        truth_db_hl: ``F`` neurometric thresholds.
        estimate_db_hl, sd_db: ``F`` final posterior mean / SD.
        mae: ``n + 1`` MAE (dB) after k trials.
        trials: trials presented.
        trials_to_target: trials to sustained MAE <= target (inf: never).
    """

    listener_id: str
    freqs_hz: np.ndarray
    truth_db_hl: np.ndarray
    estimate_db_hl: np.ndarray
    sd_db: np.ndarray
    mae: np.ndarray
    trials: int
    trials_to_target: float

    @property
    def final_mae(self) -> float:
        return float(self.mae[-1])


def run_cohort_audiometry(
    listeners: Sequence[VirtualListener],
    max_trials: int = 40,
    mae_target: float = 5.0,
    seed: int = 0,
    freqs_hz: Sequence[float] = AUDIOGRAM_FREQS_HZ,
    target_sd: float | None = None,
    progress: bool = False,
) -> list[ListenerAudiometry]:
    """Run one GP-PTA session per listener.

    Args:
        listeners: the cohort (with the NH reference attached, as :func:`listeners.sample_cohort` gives them).
        max_trials: trial budget per listener.
        mae_target: MAE (dB) defining "accurate".
        seed: agent and responder seeds derive from ``(seed, listener index)``.
        freqs_hz: evaluation frequencies.
        target_sd: GP-PTA's own stopping rule (posterior SD in dB; None: always use the whole budget).
        progress: tqdm bars while the true audiograms are computed and over the sessions.
    """
    from audiometry import GPPTA
    from audiometry.benchmark import trials_to_target
    from audiometry.session import run_session

    refs = [lis.reference for lis in listeners if lis.reference is not None]
    prime_thresholds([*listeners, *refs[:1]], sorted(set(THRESHOLD_GRID_HZ) | {float(f) for f in freqs_hz}),
                     progress=progress)  # fmt: skip
    freqs = np.asarray(freqs_hz, dtype=np.float64)
    out = []
    for i, lis in enumerate(tqdm(listeners, desc="GP-PTA sessions", unit="listener", disable=not progress)):
        truth = lis.thresholds(freqs)
        agent = GPPTA(
            sigma=lis.sigma_db,
            seed=int(np.random.default_rng([seed, i]).integers(2**31)),
            lapse=lis.lapse_rate,
            false_alarm=lis.false_alarm_rate,
            max_trials=max_trials,
            target_sd=target_sd,
        )
        res = run_session(agent, lis, rng=np.random.default_rng([seed, i, 7919]), eval_freqs_hz=tuple(freqs))
        mae = np.abs(res.means - truth[None, :]).mean(axis=1)
        out.append(
            ListenerAudiometry(
                listener_id=lis.id,
                freqs_hz=freqs,
                truth_db_hl=truth,
                estimate_db_hl=res.means[-1],
                sd_db=res.sds[-1],
                mae=mae,
                trials=len(res.trials),
                trials_to_target=trials_to_target(mae, mae_target)[0],
            )
        )
    return out


def summarise_audiometry(results: Sequence[ListenerAudiometry], mae_target: float = 5.0) -> dict[str, float]:
    """Median final MAE, median trials to sustained MAE <= target, and the fraction of listeners that got there."""
    ttt = np.array([r.trials_to_target for r in results], dtype=np.float64)
    return {
        "listeners": len(results),
        "median_final_mae_db": float(np.median([r.final_mae for r in results])),
        "median_trials_to_target": float(np.median(ttt)),
        "fraction_reached": float(np.isfinite(ttt).mean()),
        "mae_target_db": mae_target,
    }
