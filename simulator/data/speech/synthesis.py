"""Formant synthesis of one vowel or one /aCa/ consonant token, from the tables of :mod:`simulator.data.speech.tables`.

Vowel token: a harmonic source on a declining f0 (x1.04 -> x0.94 of the talker's f0 over the vowel) through a cascade
of five resonators (F1-F4 from the table, F5 = F4 + 1 kHz x talker scale; bandwidths 80, 90, 150, 200, 250 Hz)
whose frequencies drift linearly by up to +-3 % over the vowel (a little vowel-inherent spectral change), gated with
20 ms raised-cosine ramps.

Consonant token /aCa/: the talker's /a/ ("hod") for 150 ms, the consonant, then /a/ for 220 ms. The formants glide
over 45 ms from the vowel to the consonant's loci (F1 to 300 Hz for stops and nasals, 400 Hz for fricatives; F2/F3
to the place's loci) before the constriction and back after the release. Five components are mixed, each scaled so
its RMS over its active span is a set level re the vowel's: voicing (source through the moving cascade), aspiration
(noise through the moving cascade, voiceless stops), frication or release burst (noise through a 4th-order
Butterworth band-pass of the place's band), nasal murmur (source through resonators at 250, 2200, 3300 Hz and an
antiresonance at the place's zero) and the voice bar of voiced stops (source through a 180 Hz resonator).

Seeded variation of every token: f0 x exp(N(0, 0.06^2)), each formant and locus x exp(N(0, 0.04^2)), segment
durations x exp(N(0, 0.1^2)) (vowels: from the table's mean), consonant levels +-2 dB. Shapes: every function returns
``(samples,)`` float64 pressure in arbitrary units (the caller sets the level) and a JSON-ready timing dict.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import signal

from simulator.constants import SAMPLE_RATE
from simulator.data.speech.klatt import BLOCK, antiresonate, cascade, harmonic_source, piecewise
from simulator.data.speech.tables import (
    CONSONANTS,
    FRICATION_DB,
    MANNER,
    PLACE,
    TALKER_GROUPS,
    TALKER_SCALE,
    VOWEL_DURATION_S,
    VOWEL_TABLE,
    VOWELS,
)
from simulator.errors import HearloopInputError

__all__ = ["synthesise_consonant", "synthesise_vowel"]

_BANDWIDTHS_HZ = np.array([80.0, 90.0, 150.0, 200.0, 250.0])[:, None]
_TRANSITION_S = 0.045
F0_JITTER = 0.05
FORMANT_JITTER = 0.03
DURATION_JITTER = 0.1
ONSET_JITTER = 0.03


def _check(group: str, name: str, known: tuple[str, ...] | dict, what: str) -> None:
    if group not in TALKER_GROUPS:
        raise HearloopInputError(f"unknown talker group {group!r}; expected one of {TALKER_GROUPS}")
    if name not in known:
        raise HearloopInputError(f"unknown {what} {name!r}; expected one of {tuple(known)}")


def _gate(n: int, start_s: float, stop_s: float, ramp_s: float) -> np.ndarray:
    """Trapezoid envelope (``n`` samples): 0 -> 1 over ``ramp_s`` from ``start_s``, 1 -> 0 ending at ``stop_s``."""
    ramp = min(ramp_s, 0.5 * (stop_s - start_s))
    return piecewise([start_s, start_s + ramp, stop_s - ramp, stop_s], [0.0, 1.0, 1.0, 0.0], n) * (
        (np.arange(n) / SAMPLE_RATE >= start_s) & (np.arange(n) / SAMPLE_RATE <= stop_s)
    )


def _at_level(x: np.ndarray, env: np.ndarray, ref_rms: float, level_db: float) -> np.ndarray:
    """``x * env`` scaled so its RMS over the span where ``env > 0.5`` is ``ref_rms`` x 10^(level_db / 20)."""
    y = x * env
    active = env > 0.5
    rms = float(np.sqrt(np.mean(y[active] ** 2))) if active.any() else 0.0
    return y * (ref_rms * 10.0 ** (level_db / 20.0) / rms) if rms > 0 else y


def _talker(rng: np.random.Generator, group: str, vowel: str) -> tuple[float, np.ndarray]:
    """(f0, F1..F5) of ``vowel`` for one talker of ``group``, with the seeded jitter."""
    row = VOWEL_TABLE[group][VOWELS.index(vowel)]
    f0 = float(row[0] * np.exp(rng.normal(0.0, F0_JITTER)))
    formants = row[1:5] * np.exp(rng.normal(0.0, FORMANT_JITTER, 4))
    return f0, np.append(formants, formants[3] + 1000.0 * TALKER_SCALE[group])


def synthesise_vowel(
    vowel: str, group: str, rng: np.random.Generator, n_samples: int, onset_s: float
) -> tuple[np.ndarray, dict[str, Any]]:
    """One vowel token.

    Args:
        vowel: one of :data:`simulator.data.speech.tables.VOWELS`.
        group: talker group (:data:`simulator.data.speech.tables.TALKER_GROUPS`).
        rng: numpy Generator (the token's variation).
        n_samples: length of the token window.
        onset_s: vowel onset within the window (s).

    Returns:
        (``n_samples`` waveform, {"onset_s", "offset_s", "f0_hz", "formants_hz"}).
    """
    _check(group, vowel, VOWELS, "vowel")
    f0, formants = _talker(rng, group, vowel)
    max_s = n_samples / SAMPLE_RATE - onset_s - 0.02
    mean_s = VOWEL_DURATION_S[VOWELS.index(vowel)]
    duration = float(np.clip(mean_s * np.exp(rng.normal(0.0, DURATION_JITTER)), 0.12, max_s))
    m = round(duration * SAMPLE_RATE)
    t = np.arange(m) / m
    source = harmonic_source(f0 * (1.04 - 0.10 * t), rng.uniform(0.0, 2.0 * np.pi))
    drift = rng.uniform(-0.03, 0.03, 5)[:, None] * np.linspace(-1.0, 1.0, -(-m // BLOCK))[None]
    voiced = cascade(source, formants[:, None] * (1.0 + drift), _BANDWIDTHS_HZ)
    start = round(onset_s * SAMPLE_RATE)
    out = np.zeros(n_samples)
    out[start : start + m] = voiced * _gate(m, 0.0, (m - 1) / SAMPLE_RATE, 0.02)
    meta = {"onset_s": onset_s, "offset_s": onset_s + duration, "f0_hz": f0, "formants_hz": formants[:4].tolist()}
    return out, meta


def _consonant_timeline(rng: np.random.Generator, manner: str, t0: float) -> dict[str, float]:
    """Segment boundaries (s): ``closure`` (constriction starts), ``release`` and ``voicing`` (the second vowel)."""
    spec = MANNER[manner]

    def draw(seconds: float, jitter: float = DURATION_JITTER) -> float:
        return float(seconds * np.exp(rng.normal(0.0, jitter)))

    closure = t0 + draw(0.150, ONSET_JITTER)
    if manner.startswith("stop"):
        release = closure + draw(spec["closure"])
        voicing = release + max(draw(spec["vot"]), spec["burst"] + 0.002)
    else:
        release = closure + draw(spec["frication"] if "frication" in spec else spec["murmur"])
        voicing = release
    return {"closure": closure, "release": release, "voicing": voicing, "end": voicing + draw(0.220)}


def _formant_tracks(
    rng: np.random.Generator, group: str, manner: str, place: str, timeline: dict[str, float], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Formant tracks ``5 x blocks`` (vowel -> loci -> vowel) and the /a/ formants of this talker."""
    _, vowel = _talker(rng, group, "a")
    scale = TALKER_SCALE[group]
    f1_locus = 400.0 if manner.startswith("fricative") else 300.0
    loci = np.array([f1_locus, PLACE[place]["f2"] * scale, PLACE[place]["f3"] * scale])
    loci = loci * np.exp(rng.normal(0.0, FORMANT_JITTER, 3))
    c, r = timeline["closure"], timeline["release"]
    times = [c - _TRANSITION_S, c, r, r + _TRANSITION_S]
    tracks = [piecewise(times, [vowel[k], loci[k], loci[k], vowel[k]], n, BLOCK) for k in range(3)]
    tracks += [np.full(-(-n // BLOCK), vowel[k]) for k in (3, 4)]
    return np.stack(tracks), vowel


def _noise_band(rng: np.random.Generator, n: int, lo_hz: float, hi_hz: float) -> np.ndarray:
    hi_hz = min(hi_hz, 0.45 * SAMPLE_RATE)
    sos = signal.butter(4, [lo_hz, hi_hz], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return signal.sosfilt(sos, rng.standard_normal(n))


def synthesise_consonant(
    consonant: str, group: str, rng: np.random.Generator, n_samples: int, onset_s: float
) -> tuple[np.ndarray, dict[str, Any]]:
    """One /aCa/ token (see the module docstring).

    Args:
        consonant: one of :data:`simulator.data.speech.tables.CONSONANTS`.
        group: talker group.
        rng: numpy Generator (the token's variation).
        n_samples: length of the token window (long enough for about 0.6 s after ``onset_s``).
        onset_s: onset of the first vowel (s).

    Returns:
        (``n_samples`` waveform, {"onset_s", "offset_s", "closure_s", "release_s", "f0_hz"}).
    """
    _check(group, consonant, CONSONANTS, "consonant")
    manner, place = CONSONANTS[consonant]
    spec, where, n = MANNER[manner], PLACE[place], n_samples
    f0 = float(VOWEL_TABLE[group][VOWELS.index("a"), 0] * np.exp(rng.normal(0.0, F0_JITTER)))
    tl = _consonant_timeline(rng, manner, onset_s)
    tl["end"] = min(tl["end"], n / SAMPLE_RATE - 0.02)
    tracks, _ = _formant_tracks(rng, group, manner, place, tl, n)
    level = rng.uniform(-2.0, 2.0)
    scale = TALKER_SCALE[group]
    t = np.arange(n) / SAMPLE_RATE
    source = harmonic_source(f0 * (1.04 - 0.10 * np.clip((t - onset_s) / (tl["end"] - onset_s), 0.0, 1.0)))

    # Voicing: vowel 1, (voiced fricative: weak voicing during the noise), vowel 2.
    vowel_env = _gate(n, onset_s, tl["closure"], 0.02) + _gate(n, tl["voicing"], tl["end"], 0.03)
    voiced = cascade(source, tracks, _BANDWIDTHS_HZ)
    ref_env = _gate(n, onset_s + 0.03, tl["closure"] - _TRANSITION_S, 0.0)
    ref_rms = float(np.sqrt(np.mean((voiced * ref_env)[ref_env > 0.5] ** 2)))
    out = voiced * vowel_env
    if "voicing_db" in spec:
        out += _at_level(voiced, _gate(n, tl["closure"], tl["release"], 0.01), ref_rms, spec["voicing_db"])
    noise_rng = np.random.default_rng(rng.integers(0, 2**63))
    if manner.startswith("stop"):
        burst_end = tl["release"] + spec["burst"]
        band = _noise_band(noise_rng, n, where["burst_lo"] * scale, where["burst_hi"] * scale)
        out += _at_level(band, _gate(n, tl["release"], burst_end, 0.001), ref_rms, spec["burst_db"] + level)
        if "asp_db" in spec:
            aspiration = cascade(noise_rng.standard_normal(n), tracks, _BANDWIDTHS_HZ)
            out += _at_level(aspiration, _gate(n, burst_end, tl["voicing"], 0.005), ref_rms, spec["asp_db"] + level)
        if "bar_db" in spec:
            bar = cascade(source, np.array([[180.0]]), np.array([[100.0]]))
            out += _at_level(bar, _gate(n, tl["closure"], tl["release"], 0.005), ref_rms, spec["bar_db"] + level)
    elif manner.startswith("fricative"):
        band = _noise_band(noise_rng, n, where["fric_lo"] * scale, where["fric_hi"] * scale)
        out += _at_level(band, _gate(n, tl["closure"], tl["release"], 0.015), ref_rms, FRICATION_DB[consonant] + level)
    else:  # nasal murmur
        resonances = np.array([[250.0], [2200.0 * scale], [3300.0 * scale]])
        nasal = cascade(source, resonances, np.array([[80.0], [300.0], [400.0]]))
        nasal = antiresonate(nasal, where["zero"] * scale, 100.0)
        out += _at_level(nasal, _gate(n, tl["closure"], tl["release"], 0.005), ref_rms, spec["murmur_db"] + level)
    meta = {"onset_s": onset_s, "offset_s": tl["end"], "closure_s": tl["closure"], "release_s": tl["release"],
            "f0_hz": f0}  # fmt: skip
    return out, meta
