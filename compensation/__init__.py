"""hearloop.compensation: hearing-aid strategies and the neural-fidelity objective."""

from compensation.benefit import benefit, response_scale
from compensation.comfort import ComfortRange, ComfortRangeError, ListenerComfort, comfortable_levels, limit_to_comfort
from compensation.comparison import VOLUME_CONTROL, Comparison, StrategyScores, compare_with_volume_control
from compensation.dnn import DNNCompensator, DNNConfig, DNNNuOracle
from compensation.dnn_checkpoint import load_compensator, save_compensator
from compensation.filterbank import CrossoverFilterbank
from compensation.fir import GainTableFIR, fft_convolve
from compensation.limiter import DEFAULT_MAX_OUTPUT_DB_SPL, OutputLimiter
from compensation.listener_loudness import ListenerLoudness
from compensation.listener_statistics import GroupMean, bootstrap_mean, paired_difference
from compensation.loudness import a_weighted_level, match_loudness
from compensation.loudness_scaling import loudness_gain_db, match_nh_loudness, scale_to_loudness
from compensation.multiband_gain import MultibandGain
from compensation.nalr import NALR_FREQS_HZ, interpolate_audiogram, nalr_gain_curve, nalr_gains
from compensation.nalr_strategy import NALRStrategy
from compensation.registry import STRATEGIES, get_strategy
from compensation.strategy import Strategy
from compensation.third_octave import LoudnessSampleRateError
from compensation.unaided import Unaided
from compensation.volume_control import VolumeControl, volume_control
from compensation.wdrc import WDRC, attack_release_envelope, one_pole_smooth

NALR = NALRStrategy
"""The NAL-R strategy under its short public name (Byrne & Dillon 1986); same class as :class:`NALRStrategy`."""

__all__ = [
    "DEFAULT_MAX_OUTPUT_DB_SPL",
    "NALR",
    "NALR_FREQS_HZ",
    "STRATEGIES",
    "VOLUME_CONTROL",
    "WDRC",
    "ComfortRange",
    "ComfortRangeError",
    "Comparison",
    "CrossoverFilterbank",
    "DNNCompensator",
    "DNNConfig",
    "DNNNuOracle",
    "GainTableFIR",
    "GroupMean",
    "ListenerComfort",
    "ListenerLoudness",
    "LoudnessSampleRateError",
    "MultibandGain",
    "NALRStrategy",
    "OutputLimiter",
    "Strategy",
    "StrategyScores",
    "Unaided",
    "VolumeControl",
    "a_weighted_level",
    "attack_release_envelope",
    "benefit",
    "bootstrap_mean",
    "comfortable_levels",
    "compare_with_volume_control",
    "fft_convolve",
    "get_strategy",
    "interpolate_audiogram",
    "limit_to_comfort",
    "load_compensator",
    "loudness_gain_db",
    "match_loudness",
    "match_nh_loudness",
    "nalr_gain_curve",
    "nalr_gains",
    "one_pole_smooth",
    "paired_difference",
    "response_scale",
    "save_compensator",
    "scale_to_loudness",
    "volume_control",
]
