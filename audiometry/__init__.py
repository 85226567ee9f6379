"""hearloop.audiometry: GP-PTA (Bayesian pure-tone audiometry) and the modified Hughson-Westlake baseline.

Imports nothing else of hearloop: it talks to any listener through the small responder protocol
(``respond(freq_hz, level_db_hl, rng) -> bool``).

    agent = audiometry.GPPTA(freq_range=(250, 8000), sigma=5.0, seed=0)     # or audiometry.HughsonWestlake(seed=0)
    while not agent.done:
        freq_hz, level_db_hl = agent.next_stimulus()
        agent.update(freq_hz, level_db_hl, responder.respond(freq_hz, level_db_hl, rng))
    mean, sd = agent.threshold(freqs_hz)                                       # dB HL
    agent.audiogram().to_json("audiogram.json")
"""

from audiometry.audiogram import Audiogram, Trial
from audiometry.bald import bald_probit, bald_quadrature, binary_entropy
from audiometry.errors import AudiometryInputError, AudiometryStateError, SessionAborted
from audiometry.gppta import GPPTA
from audiometry.hughson_westlake import HW_ORDER_HZ, HughsonWestlake
from audiometry.hyperparameters import HyperPrior
from audiometry.laplace import LaplaceState, find_mode
from audiometry.likelihood import ProbitLikelihood
from audiometry.plotting import plot_posterior
from audiometry.prior import LinearMean, load_bisgaard, se_kernel
from audiometry.responders import (
    InterpolatedCurve,
    ProbitResponder,
    Responder,
    ScriptedResponder,
    TerminalResponder,
    bisgaard_curve,
    bisgaard_names,
    random_audiogram_curve,
)
from audiometry.session import SessionResult, run_session
from audiometry.warp import STANDARD_FREQS_HZ, bark_to_hz, hz_to_bark

__all__ = [
    "GPPTA",
    "HW_ORDER_HZ",
    "STANDARD_FREQS_HZ",
    "Audiogram",
    "AudiometryInputError",
    "AudiometryStateError",
    "HughsonWestlake",
    "HyperPrior",
    "InterpolatedCurve",
    "LaplaceState",
    "LinearMean",
    "ProbitLikelihood",
    "ProbitResponder",
    "Responder",
    "ScriptedResponder",
    "SessionAborted",
    "SessionResult",
    "TerminalResponder",
    "Trial",
    "bald_probit",
    "bald_quadrature",
    "bark_to_hz",
    "binary_entropy",
    "bisgaard_curve",
    "bisgaard_names",
    "find_mode",
    "hz_to_bark",
    "load_bisgaard",
    "plot_posterior",
    "random_audiogram_curve",
    "run_session",
    "se_kernel",
]
