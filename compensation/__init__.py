"""hearloop.compensation: hearing-aid strategies and the neural-fidelity objective."""

from compensation.dnn import DNNCompensator, DNNConfig
from compensation.dnn_checkpoint import load_compensator, save_compensator
from compensation.filterbank import CrossoverFilterbank
from compensation.fir import GainTableFIR, fft_convolve
from compensation.limiter import DEFAULT_MAX_OUTPUT_DB_SPL, OutputLimiter
from compensation.loudness import a_weighted_level, match_loudness
from compensation.multiband_gain import MultibandGain
from compensation.nalr import NALR_FREQS_HZ, interpolate_audiogram, nalr_gain_curve, nalr_gains
from compensation.nalr_strategy import NALRStrategy
from compensation.registry import STRATEGIES, get_strategy
from compensation.strategy import Strategy
from compensation.unaided import Unaided
from compensation.wdrc import WDRC, attack_release_envelope, one_pole_smooth

NALR = NALRStrategy
"""The NAL-R strategy under its short public name (Byrne & Dillon 1986); same class as :class:`NALRStrategy`."""

__all__ = [
    "DEFAULT_MAX_OUTPUT_DB_SPL",
    "NALR",
    "NALR_FREQS_HZ",
    "STRATEGIES",
    "WDRC",
    "CrossoverFilterbank",
    "DNNCompensator",
    "DNNConfig",
    "GainTableFIR",
    "MultibandGain",
    "NALRStrategy",
    "OutputLimiter",
    "Strategy",
    "Unaided",
    "a_weighted_level",
    "attack_release_envelope",
    "fft_convolve",
    "get_strategy",
    "interpolate_audiogram",
    "load_compensator",
    "match_loudness",
    "nalr_gain_curve",
    "nalr_gains",
    "one_pole_smooth",
    "save_compensator",
]
