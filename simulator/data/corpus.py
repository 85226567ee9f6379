"""Synthesised sound corpus following the stimulus classes of nu-ICNet's recordings (Drakopoulos et al. 2025).

The recordings behind nu-ICNet used speech, speech in noise, music, dynamic moving ripples, tones and silence. No audio
can be downloaded here, so every class is synthesised from a seed:

- speech-like: a harmonic glottal source (1/k partials) whose f0 glides within 100-250 Hz, shaped by three moving
  formants (STFT-domain resonances), gated by a 3-8 Hz syllabic envelope, with high-passed fricative noise bursts;
- speech in noise: speech-like target plus multi-talker babble or speech-shaped noise at an SNR in [-5, +15] dB;
- music: melody + chords of harmonic notes with instrument-specific partial roll-off, ADSR envelopes, a tempo (bpm);
- dynamic moving ripples (Escabi & Schreiner 2002): log-spaced random-phase carriers whose dB envelope is
  ``M/2 sin(2 pi (Omega(t) x + phi(t)))`` with slowly varying ripple density Omega (cycles/oct) and velocity
  dphi/dt (Hz);
- tones: pure-tone pips (5 ms cosine ramps) at 250-8000 Hz; a pip train spans its sound level down to 40 dB below it;
- silence: digital zeros (spontaneous activity only).

Levels are dB SPL re 20 uPa (1 Pa RMS = 94 dB SPL): the RMS of the whole sound equals ``level_db_spl``, except for
``tone`` (the steady-state RMS of the loudest pip; each pip is listed in ``meta``) and ``silence``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal

from simulator.constants import SAMPLE_RATE, db_spl_to_pa_rms
from simulator.data.recording_types import SOUND_CLASSES
from simulator.errors import HearloopInputError
from simulator.validation import SOUND_LEVEL_DB_SPL, check_number

TONE_FREQS_HZ: tuple[float, ...] = (250.0, 500.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0, 6000.0, 8000.0)
"""Pip frequencies of the ``tone`` class with ``tone_frequencies="audiometric"`` (Hz)."""

TONE_FREQUENCY_MODES: tuple[str, ...] = ("audiometric", "continuous")
"""How pip frequencies are drawn: from :data:`TONE_FREQS_HZ` (``"audiometric"``, the default, as earlier corpora), or
log-uniformly over :data:`TONE_RANGE_HZ` (``"continuous"``). A model trained on the audiometric set answers tones
between those frequencies weakly: the neurometric thresholds of its impaired listeners rise by 20-40 dB between 4 and
6 kHz (a bundled-model HI listener: 28 dB HL at 4 kHz, 44 at 5.5 kHz, 25 at 6 kHz), which GP-PTA, probing any
frequency, then has to chase. Continuous pips cover the whole range."""

TONE_RANGE_HZ: tuple[float, float] = (250.0, 8000.0)
"""Frequency range (Hz) of continuous pips."""

_NPERSEG = 512  # STFT window for formant shaping (21 ms at SAMPLE_RATE)


@dataclass
class Sound:
    """One corpus sound.

    Attributes:
        name: unique name (the same name always means the same audio).
        sound_class: one of :data:`simulator.data.recording_types.SOUND_CLASSES`.
        audio: ``samples`` float32 pressure in Pa at ``SAMPLE_RATE``.
        level_db_spl: presentation level (see module docstring), ``None`` for silence.
        meta: JSON-serialisable synthesis parameters (f0, SNR, tempo, ripple ranges, pip list, ...).
    """

    name: str
    sound_class: str
    audio: np.ndarray
    level_db_spl: float | None
    meta: dict[str, Any] = field(default_factory=dict)


def _n_samples(duration_s: float) -> int:
    if not (np.isfinite(duration_s) and duration_s > 0):
        raise HearloopInputError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
    return round(duration_s * SAMPLE_RATE)


def set_level(x: np.ndarray, level_db_spl: float) -> np.ndarray:
    """Scale ``x`` so that its RMS is ``level_db_spl`` dB SPL; returns float32 Pa."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    if rms <= 0:
        raise HearloopInputError("cannot set the level of an all-zero signal")
    return (x * (db_spl_to_pa_rms(level_db_spl) / rms)).astype(np.float32)


def _smooth_random(rng: np.random.Generator, n: int, n_knots: int) -> np.ndarray:
    """A smooth random trajectory in [-1, 1] of length ``n`` (cubic interpolation of ``n_knots`` uniform knots)."""
    from scipy.interpolate import CubicSpline

    knots = rng.uniform(-1.0, 1.0, max(n_knots, 4))
    return np.clip(CubicSpline(np.linspace(0, 1, knots.size), knots)(np.linspace(0, 1, n)), -1.0, 1.0)


def tone(
    freq_hz: float, level_db_spl: float, duration_s: float, ramp_ms: float = 5.0, phase: float = 0.0
) -> np.ndarray:
    """A pure tone with raised-cosine on/off ramps.

    Args:
        freq_hz: frequency in Hz (0 < f < SAMPLE_RATE / 2).
        level_db_spl: RMS level of the steady-state part in dB SPL.
        duration_s: total duration in seconds (ramps included).
        ramp_ms: duration of each raised-cosine ramp in ms.
        phase: starting phase in radians.

    Returns:
        ``samples`` float32 pressure in Pa.
    """
    if not 0 < freq_hz < SAMPLE_RATE / 2:
        raise HearloopInputError(f"tone frequency must lie in (0, {SAMPLE_RATE / 2:.0f}) Hz, got {freq_hz!r}")
    n = _n_samples(duration_s)
    t = np.arange(n) / SAMPLE_RATE
    x = np.sqrt(2.0) * db_spl_to_pa_rms(level_db_spl) * np.sin(2 * np.pi * freq_hz * t + phase)
    n_ramp = min(round(ramp_ms * 1e-3 * SAMPLE_RATE), n // 2)
    if n_ramp > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_ramp) / n_ramp)
        x[:n_ramp] *= ramp
        x[n - n_ramp :] *= ramp[::-1]
    return x.astype(np.float32)


def _syllable_envelope(rng: np.random.Generator, n: int, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Syllabic amplitude envelope (Hann-shaped syllables at ~rate_hz with pauses) and syllable boundary samples."""
    env = np.zeros(n)
    bounds = []
    pos = int(rng.uniform(0.0, 0.1) * SAMPLE_RATE)
    while pos < n:
        dur = int(SAMPLE_RATE / rate_hz * rng.uniform(0.6, 1.3))
        gap = int(SAMPLE_RATE * (rng.uniform(0.02, 0.08) + (rng.random() < 0.12) * rng.uniform(0.1, 0.3)))
        seg = np.hanning(dur) ** 0.7 * rng.uniform(0.4, 1.0)
        stop = min(pos + dur, n)
        env[pos:stop] = seg[: stop - pos]
        bounds.append((pos, stop))
        pos = stop + gap
    return env, np.asarray(bounds, dtype=np.int64).reshape(-1, 2)


def _formant_gain(freqs: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray) -> np.ndarray:
    """Magnitude of a cascade of resonances: freqs (F,), formants/bandwidths (K, frames) -> (F, frames)."""
    f = freqs[:, None, None]
    fk, bk = formants[None], bandwidths[None]
    res = fk**2 / np.sqrt((f**2 - fk**2) ** 2 + (f * bk) ** 2)  # 2nd-order resonance, unity at DC
    return np.prod(res, axis=1)


def speech_like(
    rng: np.random.Generator | int,
    duration_s: float,
    level_db_spl: float,
    f0_range_hz: tuple[float, float] = (100.0, 250.0),
    syllable_rate_hz: float | None = None,
) -> np.ndarray:
    """A speech-like sound: gliding-f0 harmonic source, moving formants, syllabic AM and fricative bursts.

    Args:
        rng: numpy Generator or integer seed.
        duration_s: duration in seconds.
        level_db_spl: RMS level of the whole sound in dB SPL.
        f0_range_hz: range of the talker's base f0 (Hz); f0 glides +-30% around it.
        syllable_rate_hz: syllabic rate (3-8 Hz); drawn if ``None``.

    Returns:
        ``samples`` float32 pressure in Pa.
    """
    rng = np.random.default_rng(rng)
    n = _n_samples(duration_s)
    rate = float(syllable_rate_hz if syllable_rate_hz is not None else rng.uniform(3.0, 8.0))
    f0_base = rng.uniform(*f0_range_hz)
    f0 = f0_base * 2.0 ** (0.35 * _smooth_random(rng, n, int(duration_s * 3) + 4))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    n_harm = int(0.45 * SAMPLE_RATE / f0.min())
    k = np.arange(1, min(n_harm, 80) + 1)[:, None]
    amp = np.where(k * f0[None] < 0.45 * SAMPLE_RATE, 1.0 / k, 0.0)  # glottal -6 dB/oct, band-limited
    source = np.einsum("kn,kn->n", amp, np.sin(k * phase[None]))

    freqs, _, z = signal.stft(source, fs=SAMPLE_RATE, nperseg=_NPERSEG)
    n_frames = z.shape[1]
    lo = np.array([300.0, 900.0, 2300.0])[:, None]
    hi = np.array([850.0, 2300.0, 3300.0])[:, None]
    traj = 0.5 + 0.5 * np.stack([_smooth_random(rng, n_frames, int(duration_s * rate) + 4) for _ in range(3)])
    formants = lo * (hi / lo) ** traj
    bandwidths = np.array([80.0, 120.0, 180.0])[:, None] * np.ones((1, n_frames))
    _, voiced = signal.istft(z * _formant_gain(freqs, formants, bandwidths), fs=SAMPLE_RATE, nperseg=_NPERSEG)
    env, bounds = _syllable_envelope(rng, n, rate)
    voiced = voiced[:n] * env / (np.sqrt(np.mean(voiced[:n] ** 2)) + 1e-12)

    # Fricatives: high-passed noise bursts (40-120 ms) at some syllable onsets.
    fric = np.zeros(n)
    sos = signal.butter(4, [3000.0, 9000.0], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal(n))
    noise /= np.sqrt(np.mean(noise**2)) + 1e-12
    for start, _ in bounds[rng.random(len(bounds)) < 0.4]:
        dur = int(rng.uniform(0.04, 0.12) * SAMPLE_RATE)
        s0 = max(start - dur // 2, 0)
        seg = slice(s0, min(s0 + dur, n))
        fric[seg] += noise[seg] * np.hanning(seg.stop - seg.start) * rng.uniform(0.3, 0.8)
    return set_level(voiced + fric, level_db_spl)


def speech_shaped_noise(rng: np.random.Generator | int, duration_s: float, level_db_spl: float) -> np.ndarray:
    """Stationary noise with a long-term average speech spectrum (flat to 500 Hz, -6 dB/oct above); float32 Pa."""
    rng = np.random.default_rng(rng)
    n = _n_samples(duration_s)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    shape = np.where(f < 500.0, 1.0, 500.0 / np.maximum(f, 1.0))  # amplitude ~ 1/f: -6 dB/oct
    shape *= np.clip(f / 100.0, 0.0, 1.0)  # remove DC / infrasound
    return set_level(np.fft.irfft(spec * shape, n), level_db_spl)


def babble(rng: np.random.Generator | int, duration_s: float, level_db_spl: float, n_talkers: int = 6) -> np.ndarray:
    """Multi-talker babble: the sum of ``n_talkers`` independent speech-like talkers; float32 Pa."""
    rng = np.random.default_rng(rng)
    talkers = [speech_like(rng, duration_s, 60.0) for _ in range(n_talkers)]
    return set_level(np.sum(talkers, axis=0, dtype=np.float64), level_db_spl)


def speech_in_noise(
    rng: np.random.Generator | int, duration_s: float, level_db_spl: float, snr_db: float | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Speech-like target in babble or speech-shaped noise at ``snr_db`` (drawn in [-5, 15] if ``None``)."""
    rng = np.random.default_rng(rng)
    snr = float(snr_db if snr_db is not None else rng.uniform(-5.0, 15.0))
    target = speech_like(rng, duration_s, 60.0)
    kind = "babble" if rng.random() < 0.5 else "speech_shaped"
    masker = (babble if kind == "babble" else speech_shaped_noise)(rng, duration_s, 60.0 - snr)
    return set_level(target.astype(np.float64) + masker, level_db_spl), {"snr_db": snr, "masker": kind}


def music(rng: np.random.Generator | int, duration_s: float, level_db_spl: float) -> tuple[np.ndarray, dict[str, Any]]:
    """Melody plus chords of harmonic notes with ADSR envelopes at a random tempo; returns (float32 Pa, meta)."""
    rng = np.random.default_rng(rng)
    n = _n_samples(duration_s)
    tempo = float(rng.uniform(70.0, 180.0))
    beat = 60.0 / tempo
    root = 110.0 * 2.0 ** rng.uniform(0.0, 1.0)
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12, 14, 16])
    out = np.zeros(n)
    voices = [("melody", 2.0, rng.uniform(0.5, 1.5), 1), ("chord", 1.0, rng.uniform(1.0, 2.5), 3)]
    for voice, octave, rolloff, n_notes in voices:
        t0 = 0.0
        while t0 < duration_s:
            dur = beat * rng.choice([0.5, 1.0, 1.0, 2.0]) * (1 if voice == "melody" else 2)
            degrees = rng.choice(scale, n_notes, replace=False) if n_notes > 1 else [rng.choice(scale)]
            for deg in degrees:
                f = root * octave * 2.0 ** (deg / 12.0)
                s0, s1 = int(t0 * SAMPLE_RATE), min(int((t0 + dur) * SAMPLE_RATE), n)
                if s1 <= s0:
                    continue
                tt = np.arange(s1 - s0) / SAMPLE_RATE
                k = np.arange(1, int(0.45 * SAMPLE_RATE / f) + 1)[:, None][:12]
                note = ((k ** (-rolloff)) * np.sin(2 * np.pi * f * k * tt[None] + rng.uniform(0, 2 * np.pi))).sum(0)
                a, d, s, r = 0.01 + 0.04 * rng.random(), 0.08, rng.uniform(0.4, 0.8), min(0.1, 0.3 * dur)
                env = np.interp(tt, [0, a, a + d, max(dur - r, a + d), dur], [0, 1, s, s, 0])
                out[s0:s1] += note * env * rng.uniform(0.5, 1.0) / (1 if voice == "melody" else 2)
            t0 += dur
    return set_level(out, level_db_spl), {"tempo_bpm": tempo, "root_hz": root}


def moving_ripple(
    rng: np.random.Generator | int,
    duration_s: float,
    level_db_spl: float,
    f_range_hz: tuple[float, float] = (250.0, 8000.0),
    max_density_cyc_per_oct: float = 4.0,
    max_velocity_hz: float = 40.0,
    depth_db: float = 40.0,
    n_carriers: int = 160,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Dynamic moving ripple (Escabi & Schreiner 2002) with time-varying density and velocity; (float32 Pa, meta)."""
    rng = np.random.default_rng(rng)
    n = _n_samples(duration_s)
    t = np.arange(n) / SAMPLE_RATE
    x = np.linspace(0.0, np.log2(f_range_hz[1] / f_range_hz[0]), n_carriers)  # octaves above the lowest carrier
    carriers = f_range_hz[0] * 2.0**x
    density = max_density_cyc_per_oct * (0.5 + 0.5 * _smooth_random(rng, n, int(duration_s * 2) + 4))
    velocity = max_velocity_hz * _smooth_random(rng, n, int(duration_s * 3) + 4)
    phi = 2 * np.pi * np.cumsum(velocity) / SAMPLE_RATE
    out = np.zeros(n)
    phases = rng.uniform(0, 2 * np.pi, n_carriers)
    for sl in np.array_split(np.arange(n_carriers), max(n_carriers // 32, 1)):  # chunked to bound memory
        env_db = 0.5 * depth_db * np.sin(2 * np.pi * density[None] * x[sl, None] + phi[None])
        out += (10.0 ** (env_db / 20.0) * np.sin(2 * np.pi * carriers[sl, None] * t[None] + phases[sl, None])).sum(0)
    meta = {"density_max": max_density_cyc_per_oct, "velocity_max_hz": max_velocity_hz, "depth_db": depth_db}
    return set_level(out, level_db_spl), meta


def _check_tone_frequencies(mode: str) -> str:
    if mode not in TONE_FREQUENCY_MODES:
        raise HearloopInputError(f"tone_frequencies must be one of {TONE_FREQUENCY_MODES}, got {mode!r}")
    return mode


def tone_pips(
    rng: np.random.Generator | int,
    duration_s: float,
    level_db_spl: float,
    level_span_db: float = 40.0,
    tone_frequencies: str = "audiometric",
) -> tuple[np.ndarray, dict[str, Any]]:
    """A train of pure-tone pips (50-150 ms, 5 ms ramps, 50-200 ms gaps) at :data:`TONE_FREQS_HZ`, or log-uniform
    over :data:`TONE_RANGE_HZ` with ``tone_frequencies="continuous"`` (:data:`TONE_FREQUENCY_MODES`).

    Pip levels are drawn in 10 dB steps from ``level_db_spl - level_span_db`` to ``level_db_spl``; the first pip is at
    ``level_db_spl``. Returns (float32 Pa, meta) with
    ``meta["pips"] = [[onset_s, duration_s, freq_hz, level_db], ...]``.
    """
    continuous = _check_tone_frequencies(tone_frequencies) == "continuous"
    log_lo, log_hi = np.log2(TONE_RANGE_HZ)
    rng = np.random.default_rng(rng)
    n = _n_samples(duration_s)
    out = np.zeros(n, dtype=np.float32)
    steps = np.arange(0.0, level_span_db + 1e-9, 10.0)
    pips, pos = [], int(rng.uniform(0.02, 0.08) * SAMPLE_RATE)
    while True:
        dur = float(rng.uniform(0.05, 0.15))
        n_pip = round(dur * SAMPLE_RATE)
        if pos + n_pip > n:
            break
        freq = float(2.0 ** rng.uniform(log_lo, log_hi)) if continuous else float(rng.choice(TONE_FREQS_HZ))
        lev = float(level_db_spl - (0.0 if not pips else rng.choice(steps)))
        out[pos : pos + n_pip] = tone(freq, lev, n_pip / SAMPLE_RATE, ramp_ms=5.0, phase=rng.uniform(0, 2 * np.pi))
        pips.append([pos / SAMPLE_RATE, n_pip / SAMPLE_RATE, freq, lev])
        pos += n_pip + int(rng.uniform(0.05, 0.2) * SAMPLE_RATE)
    return out, {"pips": pips}


def synthesise(
    sound_class: str,
    rng: np.random.Generator | int,
    duration_s: float,
    level_db_spl: float,
    tone_frequencies: str = "audiometric",
) -> Sound:
    """Synthesise one sound of ``sound_class`` (see :data:`SOUND_CLASSES`) at a level in ``SOUND_LEVEL_DB_SPL``; the
    name is left empty. ``tone_frequencies`` (:data:`TONE_FREQUENCY_MODES`) sets how ``tone`` pips choose theirs."""
    check_number(level_db_spl, SOUND_LEVEL_DB_SPL, "level_db_spl (dB SPL)")
    rng = np.random.default_rng(rng)
    meta: dict[str, Any] = {}
    if sound_class == "speech":
        audio = speech_like(rng, duration_s, level_db_spl)
    elif sound_class == "speech_in_noise":
        audio, meta = speech_in_noise(rng, duration_s, level_db_spl)
    elif sound_class == "music":
        audio, meta = music(rng, duration_s, level_db_spl)
    elif sound_class == "ripple":
        audio, meta = moving_ripple(rng, duration_s, level_db_spl)
    elif sound_class == "tone":
        audio, meta = tone_pips(rng, duration_s, level_db_spl, tone_frequencies=tone_frequencies)
    elif sound_class == "silence":
        return Sound("", "silence", np.zeros(_n_samples(duration_s), np.float32), None, {})
    else:
        raise HearloopInputError(f"unknown sound class {sound_class!r}; expected one of {SOUND_CLASSES}")
    return Sound("", sound_class, audio, float(level_db_spl), meta)


def make_corpus(
    seed: int | Sequence[int],
    n_per_class: int | dict[str, int] = 4,
    duration_s: float = 3.0,
    level_range_db_spl: tuple[float, float] = (40.0, 90.0),
    prefix: str = "",
    tone_frequencies: str = "audiometric",
) -> list[Sound]:
    """A seeded corpus with ``n_per_class`` sounds of every class, named ``{prefix}{class}_{i:03d}``.

    Levels are stratified over ``level_range_db_spl`` within each class (one draw per equal-width stratum, shuffled), so
    even a small corpus spans the whole range.

    Args:
        seed: integer seed (or a sequence of ints); the same seed gives bitwise-identical audio.
        n_per_class: sounds per class, or a ``{class: count}`` dict (missing classes get 0).
        duration_s: duration of every sound in seconds.
        level_range_db_spl: (low, high) presentation levels in dB SPL.
        prefix: prepended to each name (e.g. ``"train_"``).
        tone_frequencies: pip frequencies of ``tone`` sounds (:data:`TONE_FREQUENCY_MODES`).

    Returns:
        list of :class:`Sound`, grouped by class in :data:`SOUND_CLASSES` order.
    """
    lo, hi = (float(v) for v in level_range_db_spl)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise HearloopInputError(f"level_range_db_spl must be (low, high) with low <= high, got {level_range_db_spl!r}")
    counts = n_per_class if isinstance(n_per_class, dict) else dict.fromkeys(SOUND_CLASSES, int(n_per_class))
    unknown = set(counts) - set(SOUND_CLASSES)
    if unknown:
        raise HearloopInputError(f"unknown sound classes {sorted(unknown)}; expected {SOUND_CLASSES}")
    _n_samples(duration_s)
    _check_tone_frequencies(tone_frequencies)
    key = [int(v) for v in np.atleast_1d(seed)]
    sounds = []
    for ci, cls in enumerate(SOUND_CLASSES):
        n = int(counts.get(cls, 0))
        if n < 0:
            raise HearloopInputError(f"n_per_class for {cls!r} must be >= 0, got {n}")
        rng = np.random.default_rng([*key, ci])
        levels = lo + (hi - lo) * (np.arange(n) + rng.random(n)) / max(n, 1)
        rng.shuffle(levels)
        for i in range(n):
            snd = synthesise(cls, np.random.default_rng([*key, ci, i]), duration_s, float(levels[i]), tone_frequencies)
            snd.name = f"{prefix}{cls}_{i:03d}"
            sounds.append(snd)
    return sounds
