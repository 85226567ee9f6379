"""hearloop.compensation: hearing-aid strategies and the neural-fidelity objective."""

from compensation.filterbank import CrossoverFilterbank
from compensation.fir import GainTableFIR, fft_convolve
from compensation.limiter import DEFAULT_MAX_OUTPUT_DB_SPL, OutputLimiter
from compensation.multiband_gain import MultibandGain
from compensation.nalr import NALR_FREQS_HZ, interpolate_audiogram, nalr_gain_curve, nalr_gains
from compensation.nalr_strategy import NALRStrategy
from compensation.registry import STRATEGIES, get_strategy
from compensation.strategy import Strategy
from compensation.unaided import Unaided
from compensation.wdrc import WDRC, attack_release_envelope, one_pole_smooth

__all__ = [
    "DEFAULT_MAX_OUTPUT_DB_SPL",
    "NALR_FREQS_HZ",
    "STRATEGIES",
    "WDRC",
    "CrossoverFilterbank",
    "GainTableFIR",
    "MultibandGain",
    "NALRStrategy",
    "OutputLimiter",
    "Strategy",
    "Unaided",
    "attack_release_envelope",
    "fft_convolve",
    "get_strategy",
    "interpolate_audiogram",
    "nalr_gain_curve",
    "nalr_gains",
    "one_pole_smooth",
]
