"""The documented ranges of the ``hearloop`` command-line options, each a :mod:`simulator.validated_config` constraint
that :func:`runners.cli_support.ranged` checks while the command line is parsed (so a bad value is an error naming the
option before anything runs or is written) and whose :func:`runners.cli_support.range_text` the option's help states.

Physical quantities take the ranges the rest of hearloop documents (sound levels 0-120 dB SPL as fleet specs and
:data:`simulator.validation.SOUND_LEVEL_DB_SPL`; hearing levels -10 to 120 dB HL as the audiometry procedures'
``level_range``; lapse rates and response noise as :class:`listeners.VirtualListener` takes them); counts are at
least 1 with a cap far above any run this machine could finish, so that a typo (an extra zero or three) is caught
before hours of work or a memory error. Imports nothing heavy: the parser is built for every command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.validated_config import Interval, Options, Pair

SEED = Interval(int, 0, 2**32 - 1)
"""Seeds: non-negative, and below 2**32 so that every generator takes them (numpy's legacy seeding caps there)."""

THREADS = Interval(int, 1, 256)
"""torch CPU threads (as ``[model] threads`` of a fleet spec)."""

PROCESSES = Interval(int, 1, 256)
"""Worker processes of one command."""

SOUND_LEVEL_DB_SPL = Interval(float, 0.0, 120.0)
"""Presentation levels (dB SPL): from the threshold of hearing to the threshold of discomfort."""

LEVEL_PAIR_DB_SPL = Pair(SOUND_LEVEL_DB_SPL)
"""A ``LOW HIGH`` range of presentation levels (dB SPL)."""

HEARING_LEVEL_DB_HL = Interval(float, -10.0, 120.0)
"""Hearing levels (dB HL) a clinical audiometer presents (IEC 60645-1 / ANSI S3.6 Type 1): no tone above 120."""

MAX_LEVEL_DB_HL = Interval(float, -10.0, 120.0, closed="right")
"""The highest level an audiometry session presents (dB HL): above the audiometer's -10 dB HL floor."""

HEARING_LEVEL_PAIR_DB_HL = Pair(HEARING_LEVEL_DB_HL)
"""A ``LOW HIGH`` range of hearing levels (dB HL)."""

FULL_SCALE_DB_SPL = Interval(float, 0.0, 191.0)
"""Calibration of an audio file (dB SPL of a full-scale sine): above 191 dB SPL the sine's peak would pass one
atmosphere, the largest pressure hearloop takes."""

SD_DB = Interval(float, 0.0, 50.0, closed="right")
"""Positive spreads in dB (psychometric response noise, a posterior SD target)."""

AUDIOGRAM_SD_DB = Interval(float, 0.0, 50.0)
"""Measurement error drawn into an audiogram, dB SD (0: the true audiogram)."""

RESPONSE_RATE = Interval(float, 0.0, 0.5, closed="left")
"""Lapse rates of tone responses (as :class:`listeners.VirtualListener` takes them)."""

TRIALS = Interval(int, 1, 1000)
"""Trial budgets of an audiometry session and comparisons of a fitting session (as ``[audiometry] max_trials`` and
``[hitl] budget``)."""

OPTIONAL_TRIALS = Interval(int, 0, 1000)
"""A trial budget where 0 means "not run"."""

SOUND_COUNT = Interval(int, 1, 1000)
"""Sounds (per class or in all), audiometry seeds per audiogram."""

LISTENER_COUNT = Interval(int, 1, 10000)
"""Listeners drawn from a model's nu population."""

ANIMAL_COUNT = Interval(int, 0, 1000)
"""Virtual animals of one kind (a cohort needs at least one animal in all, checked with the others)."""

FRESH_ANIMALS = Interval(int, 1, 100)
"""Fresh animals generated and fitted in one call (each takes minutes)."""

FRESH_COUNT = Interval(int, 0, 100)
"""Fresh animals of one kind generated and fitted in one call (0: none of that kind)."""

CHANNELS = Interval(int, 1, 1024)
"""Recording channels per animal."""

SOUND_SECONDS = Interval(float, 0.05, 60.0)
"""Duration of one sound, s (as ``[sounds] duration_s``)."""

AUDIO_SECONDS = Interval(float, 0.0, 86400.0, closed="right")
"""Audio per animal or per fitted sound, s: positive, at most a day."""

CHUNK_SECONDS = Interval(float, 0.0, 600.0, closed="right")
"""Length of the chunks a long sound streams through the model in, s."""

CHECKPOINT_SECONDS = Interval(float, 0.0, 86400.0)
"""Seconds between writes of finished work to disk: 0 (after every item) to a day."""

HOURS = Interval(float, 0.0, 1000.0, closed="right")
"""Recording-session hours."""

STEPS = Interval(int, 1, 1_000_000)
"""Optimisation steps."""

EPOCHS = Interval(int, 1, 10000)
"""Training epochs and epoch caps."""

PATIENCE = Interval(int, 0, 10000)
"""Epochs of patience (0: act at the first epoch without improvement)."""

BATCH = Interval(int, 1, 4096)
"""Batch sizes."""

LEARNING_RATE = Interval(float, 0.0, 1.0, closed="right")
"""Adam learning rates."""

WEIGHT = Interval(float, 0.0, None)
"""Loss weights: finite and non-negative."""

EVALUATIONS = Interval(int, 1, 1000)
"""Loss evaluations of a Bayesian-optimisation fit."""

GRID_POINTS = Interval(int, 0, 100)
"""Loss-surface grid points per axis (0: no surface)."""

SOBOL_STARTS = Options((4, 8, 16))
"""Sobol start points of the nu fit's Bayesian optimisation."""

SEARCH_RADIUS = Interval(float, 0.0, 2.0, closed="right")
"""Search half-width of a fitting session around the prescription (normalised units; as ``[hitl] radius``)."""

FEEDBACK_SD = Interval(float, 0.0, 1.0, closed="right")
"""A listener's internal noise per comparison or rating, in fidelity units (fidelity lies in [0, 1])."""

POSITIVE = Interval(float, 0.0, None, closed="neither")
"""Any positive finite number."""

BEZ_SAMPLE_RATES_HZ = Options((100000, 200000, 500000))
"""Sampling rates of the BEZ2018 auditory-nerve model (its ``SUPPORTED_SAMPLE_RATES_HZ``, without importing it)."""


@dataclass(frozen=True)
class Multiples:
    """Integers that are multiples of ``step`` in ``[left, right]`` (a constraint like those of
    :mod:`simulator.validated_config`)."""

    step: int
    left: int
    right: int

    def __contains__(self, value: Any) -> bool:
        return value in Interval(int, self.left, self.right) and value % self.step == 0

    def __str__(self) -> str:
        return f"a multiple of {self.step} in [{self.left}, {self.right}]"


HOP_SAMPLES = Multiples(32, 32, 8192)
"""Frame hops in samples: multiples of the model's 32-sample output step, at most one 8192-sample frame."""
