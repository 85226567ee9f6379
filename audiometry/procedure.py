"""The contract every audiometry procedure (GP-PTA, Hughson-Westlake) follows, and its input checks.

Protocol of one session:
    while not agent.done:
        freq_hz, level_db_hl = agent.next_stimulus()      # issues ONE pending stimulus
        agent.update(freq_hz, level_db_hl, heard)           # must echo exactly that stimulus (see below)

Rules (enforced here, identical for all procedures):
- ``next_stimulus`` called again before ``update`` returns the same pending stimulus (idempotent); after ``done`` it
  raises ``AudiometryStateError``.
- ``update`` without a pending stimulus, or with a (frequency, level) that differs from the pending one by more than
  1e-6 Hz / 1e-6 dB, raises ``AudiometryStateError``: answers must not be attributed to the wrong tone. Stimuli the
  procedure did not choose go through ``add_observation`` (GP-PTA only), which needs no pending stimulus.
- Frequencies must be finite and > 0; levels finite and inside the safe ``level_range``; ``heard`` a bool
  (``AudiometryInputError`` otherwise).
"""

from __future__ import annotations

import numpy as np

from audiometry.audiogram import Trial
from audiometry.errors import AudiometryInputError, AudiometryStateError
from audiometry.warp import check_freq


class Procedure:
    """Shared bookkeeping: the pending stimulus, validation and the trial log."""

    method = "procedure"

    def __init__(self, level_range: tuple[float, float]) -> None:
        self.level_range = level_range
        self.trials: list[Trial] = []
        self._pending: tuple[float, float, bool] | None = None  # (freq, level, clamped)

    @property
    def pending_stimulus(self) -> tuple[float, float] | None:
        return None if self._pending is None else self._pending[:2]

    def check_level(self, level_db_hl: float) -> float:
        if isinstance(level_db_hl, bool) or np.ndim(level_db_hl) != 0:
            raise AudiometryInputError(f"level_db_hl must be one level in dB HL (a number), got {level_db_hl!r}")
        level = float(level_db_hl)
        lo, hi = self.level_range
        if not np.isfinite(level):
            raise AudiometryInputError(f"level_db_hl must be finite, got {level_db_hl}")
        if not lo - 1e-9 <= level <= hi + 1e-9:
            raise AudiometryInputError(f"level_db_hl {level:g} dB HL is outside the safe range [{lo:g}, {hi:g}] dB HL")
        return level

    @staticmethod
    def check_heard(heard: object) -> bool:
        if isinstance(heard, bool | np.bool_):
            return bool(heard)
        raise AudiometryInputError(f"heard must be a bool, got {heard!r}")

    def _issue(self, freq_hz: float, level_db_hl: float, clamped: bool) -> tuple[float, float]:
        self._pending = (float(freq_hz), float(level_db_hl), bool(clamped))
        return self._pending[0], self._pending[1]

    def _accept(self, freq_hz: float, level_db_hl: float, heard: object) -> Trial:
        """Validate an answer to the pending stimulus and append it to the trial log."""
        freq = check_freq(freq_hz)
        level = self.check_level(level_db_hl)
        heard_b = self.check_heard(heard)
        if self._pending is None:
            raise AudiometryStateError("update() called without a pending stimulus: call next_stimulus() first")
        pf, pl, clamped = self._pending
        if abs(freq - pf) > 1e-6 or abs(level - pl) > 1e-6:
            raise AudiometryStateError(
                f"update() got ({freq:g} Hz, {level:g} dB HL) but the pending stimulus is ({pf:g} Hz, {pl:g} dB HL)"
            )
        self._pending = None
        return self._log(pf, pl, heard_b, clamped)

    def _log(self, freq: float, level: float, heard: bool, clamped: bool) -> Trial:
        trial = Trial(
            index=len(self.trials) + 1,
            freq_hz=freq,
            level_db_hl=level,
            heard=heard,
            clamped=clamped,
            no_response_at_max=(not heard) and level >= self.level_range[1] - 1e-9,
        )
        self.trials.append(trial)
        return trial
