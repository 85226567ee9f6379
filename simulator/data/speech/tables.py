"""Published acoustic tables behind the synthesised speech tokens: vowel formants and consonant cues.

Vowels: the average f0, F1-F4 (Hz) and durations of the 12 American-English vowels in /hVd/ words of 45 men, 48
women and 46 children [Hillenbrand1995]_ (Table V: formants at the steadiest point; durations averaged over talkers).

Consonants, /aCa/ with C one of 12 (/p t k b d g f s S z m n/, ``"S"`` for the postalveolar fricative), each set by a
place, a manner and voicing, with cues from the classic studies:

* place: the onset ("locus") of F2 and F3 that the formants of the flanking vowel glide from or to (labial F2 low,
  alveolar near 1.8 kHz, velar F2 and F3 close together, the "velar pinch") [Delattre1955]_; the spectrum of the
  release burst (labial diffuse-falling: low; alveolar diffuse-rising: high; velar compact: mid, near F2/F3)
  [Stevens1978]_; the frication band of the fricatives (/s z/ 4-9 kHz, /S/ 2-5.5 kHz, /f/ weak and flat)
  [Jongman2000]_; the antiresonance of the nasal murmur (/m/ near 1 kHz, /n/ near 1.8 kHz) [Fujimura1962]_;
* manner and voicing: closure, burst, voice-onset time (VOT) and frication durations and levels: voiceless stops
  with about 60 ms VOT of aspiration, voiced stops with about 10 ms and a voice bar in the closure [Lisker1964]_;
  fricatives 90-120 ms of noise, the voiced one with voicing underneath; nasals a low-frequency murmur of 70 ms.

Frequencies are for men's voices and scale with the talker group (:data:`TALKER_SCALE`, the ratio of the group's mean
F2 over the 12 vowels to men's); levels are dB relative to the vowel; durations are seconds.

.. [Hillenbrand1995] J. Hillenbrand, L. A. Getty, M. J. Clark, K. Wheeler, "Acoustic characteristics of American
   English vowels", Journal of the Acoustical Society of America 97(5):3099-3111, 1995.
.. [Delattre1955] P. C. Delattre, A. M. Liberman, F. S. Cooper, "Acoustic loci and transitional cues for
   consonants", Journal of the Acoustical Society of America 27(4):769-773, 1955.
.. [Stevens1978] K. N. Stevens, S. E. Blumstein, "Invariant cues for place of articulation in stop consonants",
   Journal of the Acoustical Society of America 64(5):1358-1368, 1978.
.. [Jongman2000] A. Jongman, R. Wayland, S. Wong, "Acoustic characteristics of English fricatives", Journal of the
   Acoustical Society of America 108(3):1252-1263, 2000.
.. [Fujimura1962] O. Fujimura, "Analysis of nasal consonants", Journal of the Acoustical Society of America
   34(12):1865-1875, 1962.
.. [Lisker1964] L. Lisker, A. S. Abramson, "A cross-language study of voicing in initial stops: acoustical
   measurements", Word 20(3):384-422, 1964.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CONSONANTS",
    "FRICATION_DB",
    "MANNER",
    "PLACE",
    "TALKER_GROUPS",
    "TALKER_SCALE",
    "VOWELS",
    "VOWEL_DURATION_S",
    "VOWEL_TABLE",
]

TALKER_GROUPS: tuple[str, ...] = ("men", "women", "children")
"""Talker groups of [Hillenbrand1995]_; token instances cycle through them."""

VOWELS: tuple[str, ...] = ("i", "I", "e", "E", "ae", "a", "O", "o", "U", "u", "V", "er")
"""ASCII names of the 12 vowels (heed, hid, hayed, head, had, hod, hawed, hoed, hood, who'd, hud, heard)."""

# fmt: off
VOWEL_TABLE: dict[str, np.ndarray] = {
    # columns: f0, F1, F2, F3, F4 (Hz), rows in VOWELS order [Hillenbrand1995] Table V
    "men": np.array([
        [138, 342, 2322, 3000, 3657], [135, 427, 2034, 2684, 3618], [129, 476, 2089, 2691, 3649],
        [127, 580, 1799, 2605, 3677], [123, 588, 1952, 2601, 3624], [123, 768, 1333, 2522, 3687],
        [121, 652, 997, 2538, 3486], [129, 497, 910, 2459, 3384], [133, 469, 1122, 2434, 3400],
        [143, 378, 997, 2343, 3357], [133, 623, 1200, 2550, 3557], [130, 474, 1379, 1710, 3334],
    ], dtype=float),
    "women": np.array([
        [227, 437, 2761, 3372, 4352], [224, 483, 2365, 3053, 4334], [219, 536, 2530, 3047, 4319],
        [214, 731, 2058, 2979, 4294], [215, 669, 2349, 2972, 4290], [215, 936, 1551, 2815, 4299],
        [210, 781, 1136, 2824, 3923], [217, 555, 1035, 2828, 3927], [230, 519, 1225, 2827, 4052],
        [235, 459, 1105, 2735, 4115], [218, 753, 1426, 2933, 4092], [217, 523, 1588, 1929, 3914],
    ], dtype=float),
    "children": np.array([
        [246, 452, 3081, 3702, 4572], [241, 511, 2552, 3403, 4575], [237, 564, 2656, 3323, 4422],
        [230, 749, 2267, 3310, 4671], [228, 717, 2501, 3289, 4409], [229, 1002, 1688, 2950, 4307],
        [225, 803, 1210, 2982, 3919], [236, 597, 1137, 2987, 4167], [243, 568, 1490, 3072, 4328],
        [249, 494, 1345, 2988, 4276], [236, 749, 1546, 3145, 4320], [237, 586, 1719, 2143, 3788],
    ], dtype=float),
}
# fmt: on

VOWEL_DURATION_S: np.ndarray = np.array([243, 192, 267, 189, 278, 267, 283, 265, 192, 237, 188, 263]) / 1000.0
"""Average vowel durations (s) in VOWELS order [Hillenbrand1995]_: tense vowels longer than lax ones."""

TALKER_SCALE: dict[str, float] = {g: float(VOWEL_TABLE[g][:, 2].mean() / VOWEL_TABLE["men"][:, 2].mean())
                                  for g in TALKER_GROUPS}  # fmt: skip
"""Formant scale of each talker group re men (mean F2 ratio: 1, 1.16, 1.27)."""

PLACE: dict[str, dict[str, float]] = {
    # F2/F3 loci (Hz, men) [Delattre1955]; burst band (Hz) and burst level (dB re vowel) [Stevens1978];
    # frication band (Hz) [Jongman2000]; nasal antiresonance (Hz) [Fujimura1962].
    "labial": {"f2": 900.0, "f3": 2300.0, "burst_lo": 250.0, "burst_hi": 1500.0, "zero": 1000.0,
               "fric_lo": 1000.0, "fric_hi": 10000.0},
    "alveolar": {"f2": 1700.0, "f3": 2700.0, "burst_lo": 3000.0, "burst_hi": 8000.0, "zero": 1800.0,
                 "fric_lo": 4000.0, "fric_hi": 9000.0},
    "postalveolar": {"f2": 2100.0, "f3": 2500.0, "burst_lo": 2000.0, "burst_hi": 5500.0, "zero": 1800.0,
                     "fric_lo": 2000.0, "fric_hi": 5500.0},
    "velar": {"f2": 1900.0, "f3": 2100.0, "burst_lo": 1400.0, "burst_hi": 2600.0, "zero": 1800.0,
              "fric_lo": 1400.0, "fric_hi": 2600.0},
}  # fmt: skip
"""Place-of-articulation cues (see the module docstring)."""

MANNER: dict[str, dict[str, float]] = {
    # durations (s) and levels (dB re the vowel's RMS) per manner and voicing [Lisker1964], [Jongman2000]
    "stop_voiceless": {"closure": 0.075, "burst": 0.010, "burst_db": -8.0, "vot": 0.060, "asp_db": -16.0},
    "stop_voiced": {"closure": 0.060, "burst": 0.006, "burst_db": -14.0, "vot": 0.012, "bar_db": -24.0},
    "fricative_voiceless": {"frication": 0.115},
    "fricative_voiced": {"frication": 0.090, "voicing_db": -10.0},
    "nasal": {"murmur": 0.070, "murmur_db": -6.0},
}  # fmt: skip
"""Manner and voicing cues (see the module docstring)."""

FRICATION_DB: dict[str, float] = {"f": -26.0, "s": -10.0, "S": -7.0, "z": -15.0}
"""Frication level (dB re the vowel) by fricative: sibilants strong, /f/ weak [Jongman2000]_."""

CONSONANTS: dict[str, tuple[str, str]] = {
    "p": ("stop_voiceless", "labial"), "t": ("stop_voiceless", "alveolar"), "k": ("stop_voiceless", "velar"),
    "b": ("stop_voiced", "labial"), "d": ("stop_voiced", "alveolar"), "g": ("stop_voiced", "velar"),
    "f": ("fricative_voiceless", "labial"), "s": ("fricative_voiceless", "alveolar"),
    "S": ("fricative_voiceless", "postalveolar"), "z": ("fricative_voiced", "alveolar"),
    "m": ("nasal", "labial"), "n": ("nasal", "alveolar"),
}  # fmt: skip
"""The 12 consonants: (manner, place)."""
