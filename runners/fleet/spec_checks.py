"""Range constants and cross-field checks of fleet specs (:mod:`runners.fleet.spec`), each error a
:class:`~simulator.errors.SpecError` naming the key: the documented ranges the section dataclasses declare, the
audiogram frequencies a prescription needs, and the cohort (strata, file, and its size against the available memory,
checked before anything is drawn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.errors import SpecError
from simulator.severity import STRATA
from simulator.validated_config import Interval, Pattern
from simulator.validation import check_memory

SEED = Interval(int, 0, None)
"""Seeds are non-negative integers (numpy's SeedSequence entropy)."""

RUN_NAME = Pattern(
    r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}",
    "a plain name (letters, digits, '.', '_', '-'; no path separator, not starting with '.'; at most 100 characters)",
)
"""A run name is one path component inside ``run.out_dir``: it can never name a directory outside it."""

AUDIOMETRY_FREQ_HZ = Interval(float, 125.0, 12000.0)
"""Audiogram frequencies a fleet measures (Hz): the range of clinical and extended audiometers."""

RESPONSE_RATE = Interval(float, 0.0, 0.5, closed="left")
"""Lapse and false-alarm rates of tone responses (as :class:`listeners.VirtualListener` takes them)."""

SD_DB = Interval(float, 0.0, 50.0, closed="right")
"""Positive spreads in dB (the listeners' response noise)."""

TOLERANCE = Interval(float, 0.0, None)
"""Regression tolerances (absolute or relative) are finite and non-negative."""

LISTENER_BYTES = 8192
"""Driver memory per fleet listener (listener, job, manifest entry; measured about 2 KiB, budgeted x4)."""


def check_freqs(spec: Any) -> None:
    """Audiogram frequencies: at least one, none twice, and spanning NAL-R's three-frequency average whenever a
    strategy is prescribed from the audiogram (else every job would fail at its prescription)."""
    freqs = spec.audiometry.freqs_hz
    if not freqs:
        raise SpecError("spec.audiometry.freqs_hz: needs at least one frequency")
    if len(set(freqs)) != len(freqs):
        raise SpecError(f"spec.audiometry.freqs_hz: duplicate frequencies in {freqs}")
    if "prescription" not in spec.pipeline.steps:
        return
    from compensation.nalr import THREE_FA_FREQS_HZ
    from compensation.registry import STRATEGIES

    names = [*spec.strategies.names, *([spec.hitl.strategy] if spec.hitl_enabled else [])]
    if not any(STRATEGIES[name].prescribed_from == "audiogram" for name in names):
        return
    missing = [f for f in THREE_FA_FREQS_HZ if not min(freqs) <= f <= max(freqs)]
    if missing:
        raise SpecError(
            f"spec.audiometry.freqs_hz: {freqs} leave {missing} Hz outside the measured range; the prescriptions need "
            f"{list(THREE_FA_FREQS_HZ)} Hz measured or bracketed (NAL-R's three-frequency average)"
        )


def check_cohort(spec: Any, cohort_given: dict[str, Any], base_dir: Path | None) -> None:
    """Strata, the cohort file, and the cohort size against the memory it needs (before anything is drawn)."""
    strata = spec.cohort.strata
    for key, count in strata.items():
        if key not in STRATA:
            raise SpecError(f"spec.cohort.strata.{key}: unknown stratum ({', '.join(STRATA)})")
        if count < 0:
            raise SpecError(f"spec.cohort.strata.{key}: must be >= 0, got {count}")
    if spec.cohort.file:
        clash = [k for k in ("n", "strata", "seed") if k in cohort_given]
        if clash:
            raise SpecError(f"spec.cohort.{clash[0]}: cannot be combined with spec.cohort.file")
        path = Path(spec.cohort.file)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise SpecError(f"spec.cohort.file: cohort file {str(path)!r} does not exist")
        spec.cohort.file = str(path.resolve())
        return
    if strata and sum(strata.values()) != spec.cohort.n:
        if "n" in cohort_given:
            raise SpecError(
                f"spec.cohort.strata: counts sum to {sum(strata.values())} but spec.cohort.n = {spec.cohort.n}"
            )
        spec.cohort.n = sum(strata.values())
    check_memory(spec.cohort.n, LISTENER_BYTES, "spec.cohort.n", error=SpecError)
