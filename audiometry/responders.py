"""Responders: who answers the tones. Any object with ``respond(freq_hz, level_db_hl, rng) -> bool`` will do
(``Responder`` protocol); virtual listeners of ``listeners`` implement it without importing this package.

Simulated responders follow the response model of [CoxDeVries2015]_ (eq. 2) with lapse and false-alarm rates: p(heard) =
gamma + (1 - gamma - lambda) Phi((l - T(f)) / sigma), around a true threshold curve T(f) in dB HL.

True curves:
- ``bisgaard_curve(name)``: a Bisgaard (2010) standard audiogram, linear in log frequency between its 10 points, held
  constant below 250 Hz and above 6 kHz (the 8 kHz value is the 6 kHz value, the paper gives none).
- ``random_audiogram_curve(rng)``: random realistic audiograms. Generative model, in Bark z (smooth in z):
  T(z) = base + slope * ramp(z) + notch(z) + ripple(z), clipped to [-10, 110] dB HL, with
  * shape ~ {flat 0.25, sloping 0.35, steep high-frequency 0.2, noise notch 0.1, rising (low-frequency) 0.1},
  * base ~ U(0, 60) dB HL; flat: slope ~ U(-5, 10); sloping: slope ~ U(10, 40); steep: slope ~ U(40, 70) with a
    sharper ramp; rising: slope ~ U(-30, -10); ramp(z) = logistic((z - z0) / w), z0 ~ U(9, 15) Bark (~1.3-3.5 kHz),
    w ~ U(1, 3) Bark (steep: U(0.5, 1.2)),
  * notch: Gaussian bump of depth U(15, 40) dB at z(4 kHz) +/- 1 Bark, width U(0.8, 1.8) Bark (noise-induced loss),
  * ripple: sum of 3 cosines in z, amplitudes U(0, 2.5) dB, periods U(4, 12) Bark, random phases.

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.special import ndtr

from audiometry.errors import AudiometryInputError, SessionAborted
from audiometry.prior import load_bisgaard
from audiometry.warp import check_freqs, hz_to_bark

CurveFn = Callable[[np.ndarray], np.ndarray]


@runtime_checkable
class Responder(Protocol):
    """Anything that answers a tone: True if heard."""

    def respond(self, freq_hz: float, level_db_hl: float, rng: np.random.Generator) -> bool: ...


class InterpolatedCurve:
    """Threshold curve through (freq, dB HL) points, linear in log frequency, constant beyond the end points."""

    def __init__(self, freqs_hz: np.ndarray, thresholds_db_hl: np.ndarray, name: str = "curve") -> None:
        freqs = check_freqs(freqs_hz)
        thr = np.asarray(thresholds_db_hl, dtype=float)
        if thr.shape != freqs.shape or not np.all(np.isfinite(thr)):
            raise AudiometryInputError("curve needs one finite threshold per frequency")
        order = np.argsort(freqs)
        self.freqs_hz, self.thresholds_db_hl, self.name = freqs[order], thr[order], name

    def __call__(self, freqs_hz: np.ndarray | float) -> np.ndarray:
        return np.interp(np.log(check_freqs(freqs_hz)), np.log(self.freqs_hz), self.thresholds_db_hl)

    def __repr__(self) -> str:
        return f"InterpolatedCurve({self.name})"


def bisgaard_names() -> list[str]:
    """N1..N7, S1..S3."""
    return load_bisgaard()[1]


def bisgaard_curve(name: str) -> InterpolatedCurve:
    """The Bisgaard standard audiogram ``name`` (e.g. "N3") as a curve, extended to 8 kHz with the 6 kHz value."""
    freqs, names, table = load_bisgaard()
    if name not in names:
        raise AudiometryInputError(f"unknown Bisgaard audiogram {name!r}; choose from {', '.join(names)}")
    row = table[names.index(name)]
    return InterpolatedCurve(np.append(freqs, 8000.0), np.append(row, row[-1]), name=name)


_SHAPES = ("flat", "sloping", "steep", "notch", "rising")
_SHAPE_P = (0.25, 0.35, 0.2, 0.1, 0.1)


def random_audiogram_curve(rng: np.random.Generator) -> CurveFn:
    """A random realistic threshold curve (generative model in the module docstring). Returns freq_hz -> dB HL."""
    shape = _SHAPES[rng.choice(len(_SHAPES), p=_SHAPE_P)]
    base = rng.uniform(0.0, 60.0)
    z0, width = rng.uniform(9.0, 15.0), rng.uniform(1.0, 3.0)
    slope = {"flat": (-5, 10), "sloping": (10, 40), "steep": (40, 70), "notch": (-5, 10), "rising": (-30, -10)}[shape]
    slope = rng.uniform(*slope)
    if shape == "steep":
        width = rng.uniform(0.5, 1.2)
    depth = rng.uniform(15.0, 40.0) if shape == "notch" else 0.0
    zn, wn = hz_to_bark(4000.0) + rng.uniform(-1.0, 1.0), rng.uniform(0.8, 1.8)
    amps, periods, phases = rng.uniform(0, 2.5, 3), rng.uniform(4, 12, 3), rng.uniform(0, 2 * np.pi, 3)

    def curve(freqs_hz: np.ndarray | float) -> np.ndarray:
        z = hz_to_bark(check_freqs(freqs_hz))
        ramp = 1.0 / (1.0 + np.exp(-(z - z0) / width))
        notch = depth * np.exp(-0.5 * ((z - zn) / wn) ** 2)
        ripple = np.sum(amps[:, None] * np.cos(2 * np.pi * z[None, :] / periods[:, None] + phases[:, None]), axis=0)
        return np.clip(base + slope * ramp + notch + ripple, -10.0, 110.0)

    curve.__name__ = f"random_{shape}"
    return curve


class ProbitResponder:
    """Simulated listener: probit around a true threshold curve, with lapses and false alarms.

    Args:
        curve: callable freq_hz -> dB HL, a Bisgaard name ("N3"), or a {freq_hz: dB HL} mapping (interpolated).
        sigma: response-noise SD, dB. lapse: P(miss) far above threshold. false_alarm: P(heard) far below.
    """

    def __init__(
        self,
        curve: CurveFn | str | Mapping[float, float],
        sigma: float = 5.0,
        lapse: float = 0.0,
        false_alarm: float = 0.0,
    ) -> None:
        if isinstance(curve, str):
            curve = bisgaard_curve(curve)
        elif isinstance(curve, Mapping):
            curve = InterpolatedCurve(np.array(list(curve.keys())), np.array(list(curve.values())))
        if not callable(curve):
            raise AudiometryInputError("curve must be a callable, a Bisgaard name or a {freq: dB HL} mapping")
        if not (np.isfinite(sigma) and sigma > 0):
            raise AudiometryInputError(f"sigma must be > 0 dB, got {sigma}")
        if not (0 <= lapse < 0.5 and 0 <= false_alarm < 0.5):
            raise AudiometryInputError("lapse and false_alarm must be in [0, 0.5)")
        self.curve, self.sigma, self.lapse, self.false_alarm = curve, float(sigma), float(lapse), float(false_alarm)

    def thresholds(self, freqs_hz: np.ndarray | float) -> np.ndarray:
        """True thresholds, dB HL."""
        return np.asarray(self.curve(check_freqs(freqs_hz)), dtype=float)

    def p_heard(self, freq_hz: float, level_db_hl: float) -> float:
        t = float(self.thresholds(freq_hz)[0])
        return self.false_alarm + (1 - self.lapse - self.false_alarm) * float(ndtr((level_db_hl - t) / self.sigma))

    def respond(self, freq_hz: float, level_db_hl: float, rng: np.random.Generator) -> bool:
        return bool(rng.random() < self.p_heard(freq_hz, level_db_hl))


class ScriptedResponder:
    """Answers from a fixed sequence (tests, replays); records the stimuli it was asked about."""

    def __init__(self, answers: list[bool]) -> None:
        self._answers: Iterator[bool] = iter(list(answers))
        self.asked: list[tuple[float, float]] = []

    def respond(self, freq_hz: float, level_db_hl: float, rng: np.random.Generator) -> bool:
        self.asked.append((float(freq_hz), float(level_db_hl)))
        try:
            return bool(next(self._answers))
        except StopIteration:
            raise SessionAborted("scripted responder ran out of answers") from None


class TerminalResponder:
    """A person at the terminal: prompts with frequency and level, accepts y/n (yes/no), q quits (SessionAborted)."""

    def __init__(self, input_fn: Callable[[str], str] = input, print_fn: Callable[[str], None] = print) -> None:
        self._input, self._print = input_fn, print_fn

    def respond(self, freq_hz: float, level_db_hl: float, rng: np.random.Generator) -> bool:
        prompt = f"Tone {freq_hz:7.0f} Hz at {level_db_hl:5.1f} dB HL. Heard it? [y/n, q to quit] "
        while True:
            try:
                answer = self._input(prompt).strip().lower()
            except EOFError:
                raise SessionAborted("input closed") from None
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            if answer in ("q", "quit"):
                raise SessionAborted("quit by the listener")
            self._print(f"  please answer y, n or q (got {answer!r})")
