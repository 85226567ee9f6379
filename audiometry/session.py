"""Session driver: run any procedure (GP-PTA, Hughson-Westlake) against any responder and record the trajectory.

Per trial it records the stimulus and answer (the procedure's trial log), the threshold estimate (mean, SD) at the
evaluation frequencies after that trial, and the procedure's compute latency for the trial: the wall and CPU time of
``update`` (answer k) plus ``next_stimulus`` (stimulus k+1), i.e. the delay a listener would wait between answering and
the next tone. The estimate bookkeeping is not timed. BLAS is limited to one thread during the session (threadpoolctl):
for ~100x100 matrices multi-threaded BLAS only adds synchronisation, which on a loaded machine costs milliseconds.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from audiometry.audiogram import Audiogram, Trial
from audiometry.errors import AudiometryInputError
from audiometry.responders import Responder
from audiometry.warp import STANDARD_FREQS_HZ


@dataclass
class SessionResult:
    """Everything one session produced.

    Attributes:
        trials: the trial log (n trials).
        eval_freqs_hz: (F,) frequencies the estimates refer to.
        means, sds: (n + 1, F) estimate after k trials (row 0: before any trial), dB HL / dB.
        latency_s, cpu_s: (n,) wall / CPU seconds of update(k) + next_stimulus(k + 1).
        audiogram: the procedure's final audiogram.
        finished: the procedure's own stopping rule was met (``agent.converged``); False: a trial cap (the session's
            ``max_trials`` or the procedure's own) ended it first.
    """

    trials: list[Trial]
    eval_freqs_hz: np.ndarray
    means: np.ndarray
    sds: np.ndarray
    latency_s: np.ndarray
    cpu_s: np.ndarray
    audiogram: Audiogram
    finished: bool


def _blas_single_thread() -> contextlib.AbstractContextManager:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with botorch
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def run_session(
    agent: Any,
    responder: Responder,
    rng: np.random.Generator | int = 0,
    max_trials: int | None = None,
    eval_freqs_hz: tuple[float, ...] = STANDARD_FREQS_HZ,
) -> SessionResult:
    """Run one session until ``agent.done`` or ``max_trials``.

    Args:
        agent: a procedure with next_stimulus / update / threshold / done / audiogram (GPPTA, HughsonWestlake).
        responder: answers the tones (``respond(freq_hz, level_db_hl, rng) -> bool``).
        rng: generator (or seed) for the responder's randomness; the agent has its own seed.
        max_trials: extra cap on the number of trials (None: only the agent's stopping rule). When the cap ends the
            session the agent's next stimulus is still requested (timed, left pending, not presented).
        eval_freqs_hz: where the per-trial estimates are recorded.

    Returns:
        A ``SessionResult``.
    """
    if not hasattr(responder, "respond"):
        raise AudiometryInputError("responder must have respond(freq_hz, level_db_hl, rng) -> bool")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    freqs = np.asarray(eval_freqs_hz, dtype=float)
    cap = np.inf if max_trials is None else int(max_trials)
    means, sds, lat, cpu = [], [], [], []
    with _blas_single_thread():
        m, s = agent.threshold(freqs)
        means.append(m)
        sds.append(s)
        stim = None if agent.done else agent.next_stimulus()
        while stim is not None and len(agent.trials) < cap:
            heard = bool(responder.respond(stim[0], stim[1], rng))
            w0, c0 = time.perf_counter(), time.process_time()
            agent.update(stim[0], stim[1], heard)
            w1, c1 = time.perf_counter(), time.process_time()
            m, s = agent.threshold(freqs)
            means.append(m)
            sds.append(s)
            w2, c2 = time.perf_counter(), time.process_time()
            # also after the last trial under max_trials: the latency always includes next_stimulus (the stimulus
            # stays pending, never presented)
            stim = None if agent.done else agent.next_stimulus()
            w3, c3 = time.perf_counter(), time.process_time()
            lat.append((w1 - w0) + (w3 - w2))
            cpu.append((c1 - c0) + (c3 - c2))
    return SessionResult(
        trials=list(agent.trials),
        eval_freqs_hz=freqs,
        means=np.array(means),
        sds=np.array(sds),
        latency_s=np.array(lat),
        cpu_s=np.array(cpu),
        audiogram=agent.audiogram(tuple(freqs)),
        finished=bool(getattr(agent, "converged", agent.done)),
    )
