"""Modified Hughson-Westlake procedure (Carhart & Jerger 1959; ASHA 2005 manual pure-tone audiometry guideline): the
clinical baseline GP-PTA is measured against ([CoxDeVries2015]_, Sec. 1: the "up-down" staircase).

Exact rules implemented here (same protocol and outputs as ``GPPTA``):
- Frequency order 1000, 2000, 4000, 8000, 1000 (retest), 500, 250 Hz, restricted to ``freq_range``.
- The first frequency starts at ``start_level_db_hl`` (40 dB HL). With ``start_from_previous`` (default) every later
  frequency starts ``next_start_offset_db`` (10 dB) above the threshold found at the frequency tested just before it
  (the 1 kHz retest starts 10 dB above the first 1 kHz threshold); without it, every frequency starts at 40 dB HL.
- After a response the level goes down 10 dB; after a miss it goes up 5 dB ("down 10, up 5").
- An ASCENDING presentation is one whose level was reached by the +5 dB step after a miss at that frequency (the first
  presentation at a frequency is not ascending). Each level keeps a count of its ascending presentations and of the
  responses among them; only a level's first 3 ascending presentations count ("up to 3").
- Threshold = the first level with at least 2 responses among its (up to 3) counted ascending presentations. Because the
  level drops after every response and climbs in 5 dB steps, this is the lowest level meeting the 2-of-<=3 rule.
- Safe range: levels are clamped to ``level_range``. Two misses at the maximum level end the frequency as NO RESPONSE
  (reported "> max"; threshold value = max for interpolation). Two responses at the minimum level end it with
  threshold = min ("<= min"). After ``max_per_frequency`` presentations without meeting the rule, the threshold is the
  lowest level with >= 50% responses over >= 2 ascending presentations (else the last level heard) and the frequency is
  flagged unreliable.
- The 1 kHz threshold is the lower (better) of test and retest; both are kept in ``results``.
- ``threshold(freqs)`` interpolates the finished thresholds linearly on log frequency (constant beyond the measured
  ends). SD = ``step_up_db`` (5 dB): the procedure only resolves a threshold to one ascending step; the 95% band is
  +/- 1.96 steps. Before any frequency finishes the estimate is the current tracking level with SD 20 dB.
- ``done`` once every frequency in the order has finished (or ``max_trials`` presentations were made).

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from audiometry.audiogram import Audiogram, Trial, make_audiogram
from audiometry.errors import AudiometryInputError, AudiometryStateError
from audiometry.procedure import Procedure
from audiometry.warp import STANDARD_FREQS_HZ, check_freq_range, check_freqs, check_level_range

HW_ORDER_HZ: tuple[float, ...] = (1000.0, 2000.0, 4000.0, 8000.0, 1000.0, 500.0, 250.0)


@dataclass
class FrequencyResult:
    """Outcome at one frequency of the order."""

    freq_hz: float
    threshold_db_hl: float | None = None
    no_response: bool = False
    at_minimum: bool = False
    unreliable: bool = False
    n_presentations: int = 0
    ascending: dict[float, list[int]] = field(default_factory=dict)  # level -> [n counted ascending, n heard]


class HughsonWestlake(Procedure):
    """Modified Hughson-Westlake audiometry with the GP-PTA protocol (next_stimulus / update / threshold / done)."""

    method = "hughson-westlake"

    def __init__(
        self,
        seed: int = 0,
        *,
        freq_range: tuple[float, float] = (250.0, 8000.0),
        level_range: tuple[float, float] = (-10.0, 120.0),
        start_level_db_hl: float = 40.0,
        start_from_previous: bool = True,
        next_start_offset_db: float = 10.0,
        step_down_db: float = 10.0,
        step_up_db: float = 5.0,
        max_per_frequency: int = 30,
        max_trials: int = 400,
    ) -> None:
        super().__init__(check_level_range(level_range))
        lo, hi = check_freq_range(freq_range)
        self.order = [f for f in HW_ORDER_HZ if lo <= f <= hi]
        if not self.order:
            raise AudiometryInputError(f"no Hughson-Westlake frequency lies inside freq_range {freq_range}")
        if step_down_db <= 0 or step_up_db <= 0 or max_per_frequency < 3 or max_trials < 1:
            raise AudiometryInputError("steps must be > 0, max_per_frequency >= 3, max_trials >= 1")
        self.seed = seed  # the procedure is deterministic; kept for the common constructor signature
        self.start_level, self.start_from_previous = float(start_level_db_hl), bool(start_from_previous)
        self.next_offset, self.step_down, self.step_up = (
            float(next_start_offset_db),
            float(step_down_db),
            float(step_up_db),
        )
        self.max_per_frequency, self.max_trials = int(max_per_frequency), int(max_trials)
        self.results: list[FrequencyResult] = []
        self._pos = 0
        self._start_frequency(self.check_level(self.start_level))

    # -------------------------------------------------------------------------------------------------- state machine
    def _start_frequency(self, level: float) -> None:
        self.results.append(FrequencyResult(self.order[self._pos]))
        self._level, self._ascending, self._clamped = level, False, False
        self._miss_at_max = self._hit_at_min = 0

    def _clamp(self, level: float) -> float:
        lo, hi = self.level_range
        self._clamped = not lo <= level <= hi
        return float(np.clip(level, lo, hi))

    def _finish(self, res: FrequencyResult, threshold: float) -> None:
        res.threshold_db_hl = float(threshold)
        self._pos += 1
        if self._pos < len(self.order):
            level = self.start_level
            if self.start_from_previous:
                level = threshold + self.next_offset
            self._start_frequency(self._clamp(level))

    def _fallback_threshold(self, res: FrequencyResult) -> float:
        ok = [lv for lv, (n, h) in res.ascending.items() if n >= 2 and h / n >= 0.5]
        return min(ok) if ok else self._level

    @property
    def converged(self) -> bool:
        """Every frequency of the order has its threshold (the procedure finished, not stopped by its trial cap)."""
        return self._pos >= len(self.order)

    @property
    def done(self) -> bool:
        """Converged, or ``max_trials`` presentations made (the trial cap)."""
        return self.converged or len(self.trials) >= self.max_trials

    def next_stimulus(self) -> tuple[float, float]:
        if self._pending is not None:
            return self.pending_stimulus
        if self.done:
            raise AudiometryStateError("the session is done (all frequencies finished); read agent.audiogram()")
        return self._issue(self.order[self._pos], self._level, self._clamped)

    def update(self, freq_hz: float, level_db_hl: float, heard: bool) -> Trial:
        """Record the answer to the pending stimulus and apply the down-10 / up-5 and threshold rules."""
        trial = self._accept(freq_hz, level_db_hl, heard)
        res, level, h = self.results[-1], trial.level_db_hl, trial.heard
        res.n_presentations += 1
        lo, hi = self.level_range
        if self._ascending:
            counts = res.ascending.setdefault(level, [0, 0])
            if counts[0] < 3:
                counts[0] += 1
                counts[1] += int(h)
            if h and counts[1] >= 2:
                self._finish(res, level)
                return trial
        if h:
            self._hit_at_min += int(level <= lo)
            if self._hit_at_min >= 2:
                res.at_minimum = True
                self._finish(res, lo)
                return trial
        else:
            self._miss_at_max += int(level >= hi)
            if self._miss_at_max >= 2:
                res.no_response = True
                self._finish(res, hi)
                return trial
        if res.n_presentations >= self.max_per_frequency:
            res.unreliable = True
            self._finish(res, self._fallback_threshold(res))
            return trial
        self._ascending = not h
        self._level = self._clamp(level - self.step_down if h else level + self.step_up)
        return trial

    # ---------------------------------------------------------------------------------------------------- outputs
    def measured(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Finished frequencies (sorted, 1 kHz merged as the better of test/retest): freqs, thresholds, no-response."""
        best: dict[float, FrequencyResult] = {}
        for res in self.results:
            if res.threshold_db_hl is None:
                continue
            if res.freq_hz not in best or res.threshold_db_hl < best[res.freq_hz].threshold_db_hl:
                best[res.freq_hz] = res
        freqs = np.array(sorted(best))
        thr = np.array([best[f].threshold_db_hl for f in freqs])
        return freqs, thr, np.array([best[f].no_response for f in freqs], dtype=bool)

    def threshold(self, freqs_hz: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Thresholds (dB HL) interpolated on log frequency between finished frequencies, and their SD (module doc)."""
        query = check_freqs(freqs_hz)
        freqs, thr, _ = self.measured()
        if len(freqs) == 0:
            return np.full(query.shape, self._level), np.full(query.shape, 20.0)
        mean = np.interp(np.log(query), np.log(freqs), thr)
        return mean, np.full(query.shape, self.step_up)

    def audiogram(self, freqs_hz: tuple[float, ...] = STANDARD_FREQS_HZ) -> Audiogram:
        mean, sd = self.threshold(np.asarray(freqs_hz))
        freqs, _, nr = self.measured()
        no_resp = mean >= self.level_range[1] - 1e-9
        for i, f in enumerate(freqs_hz):  # a measured no-response is authoritative at its own frequency
            hit = np.flatnonzero(np.isclose(freqs, f))
            if hit.size:
                no_resp[i] = bool(nr[hit[0]])
        info = {
            "results": [r.__dict__ | {"ascending": {str(k): v for k, v in r.ascending.items()}} for r in self.results]
        }
        return make_audiogram(self.method, freqs_hz, mean, sd, self.level_range, no_resp, self.trials, info)
