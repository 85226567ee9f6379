"""Labelled speech tokens: seeded sets of vowels or /aCa/ consonants, in quiet or in a masker at a given SNR.

A :class:`TokenSet` holds ``tokens x samples`` pressure waveforms of one kind (``"vowel"``: 12 classes; ``"consonant"``:
12 classes, :mod:`simulator.data.speech.tables`), every token a labelled instance with its own talker (cycling through
men, women and children) and seeded variation (:mod:`simulator.data.speech.synthesis`). All tokens of a set share one
window length (:data:`WINDOW_S`) and start at :data:`ONSET_S`, so a decoder can compare responses bin by bin.

Level: the RMS of each token over its speech span (onset to offset) is ``level_db_spl`` +- 2 dB (uniform roving, so
that level alone does not identify a token). In noise, a masker (speech-shaped noise, or babble of six speech-like
talkers, from :mod:`simulator.data.corpus`) fills the whole window with 10 ms ramps, its RMS ``snr_db`` below the
token's speech-span RMS; the speech itself is unchanged, so the quiet and noisy sets of one seed hold the same
utterances.

Token sounds can also travel as corpus :class:`simulator.data.corpus.Sound` objects (:meth:`TokenSet.to_sounds`), with
the label in ``meta["token"]``; :func:`tokens_from_sounds` turns them back into a set and raises
:class:`simulator.errors.NoSpeechTokensError` for a sound that carries no token.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator.constants import DOWNSAMPLE, SAMPLE_RATE, db_spl_to_pa_rms
from simulator.data.speech.synthesis import synthesise_consonant, synthesise_vowel
from simulator.data.speech.tables import CONSONANTS, TALKER_GROUPS, VOWELS
from simulator.errors import HearloopInputError, NoSpeechTokensError

__all__ = [
    "CONDITIONS",
    "MASKERS",
    "ONSET_S",
    "TOKEN_CLASSES",
    "TOKEN_KINDS",
    "WINDOW_S",
    "TokenSet",
    "condition_name",
    "make_tokens",
    "tokens_from_sounds",
]

TOKEN_KINDS: tuple[str, ...] = ("vowel", "consonant")
TOKEN_CLASSES: dict[str, tuple[str, ...]] = {"vowel": VOWELS, "consonant": tuple(CONSONANTS)}
"""Class names of each kind, in label order."""

CONDITIONS: tuple[float | None, ...] = (None, 5.0, 0.0)
"""The standard listening conditions: quiet (None), and a masker at 5 and 0 dB SNR."""

MASKERS: tuple[str, ...] = ("speech_shaped", "babble")
WINDOW_S: dict[str, float] = {"vowel": 0.45, "consonant": 0.65}
"""Token window (s) per kind; every token of a set has ``round(window * SAMPLE_RATE / 32) * 32`` samples."""
ONSET_S: float = 0.05
"""Speech onset within the window (s); the masker, if any, starts at 0."""

LEVEL_ROVE_DB: float = 2.0


def condition_name(snr_db: float | None) -> str:
    """``"quiet"`` for None, else ``"snr<value>"`` (e.g. ``"snr5"``, ``"snr0"``, ``"snr-2.5"``)."""
    return "quiet" if snr_db is None else f"snr{float(snr_db):g}"


@dataclasses.dataclass
class TokenSet:
    """Labelled tokens of one kind in one listening condition.

    Attributes:
        kind: ``"vowel"`` or ``"consonant"``.
        audio: ``tokens x samples`` float32 pressure (Pa) at SAMPLE_RATE (speech plus masker in noise).
        labels: ``tokens`` int64 class indices into :attr:`classes`.
        talkers: ``tokens`` talker groups.
        snr_db: the masker's SNR (dB), None in quiet.
        masker: masker name (:data:`MASKERS`), None in quiet.
        meta: one JSON-ready dict per token (timing, f0, formants, level).
    """

    kind: str
    audio: np.ndarray
    labels: np.ndarray
    talkers: tuple[str, ...]
    snr_db: float | None = None
    masker: str | None = None
    meta: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind not in TOKEN_KINDS:
            raise HearloopInputError(f"unknown token kind {self.kind!r}; expected one of {TOKEN_KINDS}")
        self.audio = np.asarray(self.audio, dtype=np.float32)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if self.audio.ndim != 2 or self.audio.shape[0] != self.labels.size or self.labels.size == 0:
            raise HearloopInputError(
                f"a token set needs tokens x samples audio and one label per token; got {self.audio.shape} audio "
                f"and {self.labels.size} labels"
            )
        if self.labels.min() < 0 or self.labels.max() >= len(self.classes):
            raise HearloopInputError(f"token labels must lie in 0..{len(self.classes) - 1}")

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names in label order."""
        return TOKEN_CLASSES[self.kind]

    @property
    def condition(self) -> str:
        """:func:`condition_name` of :attr:`snr_db`."""
        return condition_name(self.snr_db)

    def __len__(self) -> int:
        return int(self.labels.size)

    def to_sounds(self, prefix: str = "") -> list:
        """The tokens as corpus sounds (class ``speech`` in quiet, ``speech_in_noise`` in a masker), labelled in
        ``meta["token"]``, named ``{prefix}{kind}_{condition}_{i:03d}_{class}``."""
        from simulator.data.corpus import Sound

        sound_class = "speech" if self.snr_db is None else "speech_in_noise"
        sounds = []
        for i, (audio, label) in enumerate(zip(self.audio, self.labels, strict=True)):
            meta = dict(self.meta[i]) if self.meta else {}
            meta.update(token=self.classes[label], token_kind=self.kind, talker=self.talkers[i],
                        snr_db=self.snr_db, masker=self.masker)  # fmt: skip
            level = meta.get("level_db_spl")
            name = f"{prefix}{self.kind}_{self.condition}_{i:03d}_{self.classes[label]}"
            sounds.append(Sound(name, sound_class, audio.copy(), level, meta))
        return sounds


def _window_samples(kind: str) -> int:
    return round(WINDOW_S[kind] * SAMPLE_RATE / DOWNSAMPLE) * DOWNSAMPLE


def _masker(name: str, rng: np.random.Generator, n: int) -> np.ndarray:
    from simulator.data.corpus import babble, speech_shaped_noise

    noise = (babble if name == "babble" else speech_shaped_noise)(rng, n / SAMPLE_RATE, 60.0).astype(np.float64)
    ramp = round(0.01 * SAMPLE_RATE)
    env = np.ones(n)
    env[:ramp] = env[n - ramp :][::-1] = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    return noise * env


def _validate(kind: str, n_per_class: int, snr_db: float | None, masker: str, level_db_spl: float) -> None:
    if kind not in TOKEN_KINDS:
        raise HearloopInputError(f"unknown token kind {kind!r}; expected one of {TOKEN_KINDS}")
    if int(n_per_class) < 1:
        raise HearloopInputError(f"n_per_class must be >= 1, got {n_per_class}")
    if masker not in MASKERS:
        raise HearloopInputError(f"unknown masker {masker!r}; expected one of {MASKERS}")
    if snr_db is not None and not np.isfinite(snr_db):
        raise HearloopInputError(f"snr_db must be finite or None (quiet), got {snr_db!r}")
    if not (np.isfinite(level_db_spl) and 0.0 <= level_db_spl <= 110.0):
        raise HearloopInputError(f"level_db_spl must lie in [0, 110] dB SPL, got {level_db_spl!r}")


def make_tokens(
    kind: str,
    seed: int,
    n_per_class: int = 4,
    snr_db: float | None = None,
    masker: str = "speech_shaped",
    level_db_spl: float = 65.0,
) -> TokenSet:
    """A seeded set of ``n_per_class`` tokens of every class of ``kind``.

    The same ``(kind, seed, n_per_class, level_db_spl)`` gives the same speech in every condition; the masker is
    seeded by ``seed`` and the token index too, so a condition is reproducible bit for bit.

    Args:
        kind: ``"vowel"`` or ``"consonant"``.
        seed: integer seed.
        n_per_class: instances per class (talkers cycle men, women, children).
        snr_db: masker SNR in dB (None: quiet).
        masker: ``"speech_shaped"`` or ``"babble"``.
        level_db_spl: nominal speech level (dB SPL, RMS over the speech span).

    Returns:
        a :class:`TokenSet` with ``12 * n_per_class`` tokens, ordered by instance then class.
    """
    _validate(kind, n_per_class, snr_db, masker, level_db_spl)
    classes = TOKEN_CLASSES[kind]
    synth = synthesise_vowel if kind == "vowel" else synthesise_consonant
    n = _window_samples(kind)
    audio, labels, talkers, metas = [], [], [], []
    for rep in range(int(n_per_class)):
        group = TALKER_GROUPS[rep % len(TALKER_GROUPS)]
        for label, name in enumerate(classes):
            rng = np.random.default_rng([int(seed), TOKEN_KINDS.index(kind), rep, label])
            wave, meta = synth(name, group, rng, n, ONSET_S)
            span = slice(round(meta["onset_s"] * SAMPLE_RATE), round(meta["offset_s"] * SAMPLE_RATE))
            level = float(level_db_spl + rng.uniform(-LEVEL_ROVE_DB, LEVEL_ROVE_DB))
            speech_rms = float(np.sqrt(np.mean(wave[span] ** 2)))
            wave = wave * (db_spl_to_pa_rms(level) / speech_rms)
            if snr_db is not None:
                noise = _masker(masker, np.random.default_rng([int(seed), 99, TOKEN_KINDS.index(kind), rep, label]), n)
                noise_rms = float(np.sqrt(np.mean(noise[span] ** 2)))
                wave = wave + noise * (db_spl_to_pa_rms(level - float(snr_db)) / noise_rms)
            meta["level_db_spl"] = level
            audio.append(wave.astype(np.float32))
            labels.append(label)
            talkers.append(group)
            metas.append(meta)
    return TokenSet(kind, np.stack(audio), np.asarray(labels), tuple(talkers), snr_db,
                    masker if snr_db is not None else None, metas)  # fmt: skip


def tokens_from_sounds(sounds: Sequence[Any]) -> TokenSet:
    """A :class:`TokenSet` from corpus sounds labelled by :meth:`TokenSet.to_sounds`.

    Raises:
        NoSpeechTokensError: a sound carries no token label (``meta["token"]``), or the sounds mix kinds,
            conditions or lengths.
    """
    sounds = list(sounds)
    if not sounds:
        raise NoSpeechTokensError("no sounds given: a selectivity measure needs labelled speech tokens")
    for snd in sounds:
        meta = getattr(snd, "meta", None) or {}
        if "token" not in meta or "token_kind" not in meta:
            raise NoSpeechTokensError(
                f"sound {getattr(snd, 'name', snd)!r} carries no speech token (meta['token']); selectivity is defined "
                "only on labelled tokens (simulator.data.speech.make_tokens)"
            )
    kinds = {s.meta["token_kind"] for s in sounds}
    conditions = {s.meta.get("snr_db") for s in sounds}
    lengths = {np.asarray(s.audio).shape[-1] for s in sounds}
    if len(kinds) != 1 or len(conditions) != 1 or len(lengths) != 1:
        raise NoSpeechTokensError(
            f"token sounds must share one kind, condition and length; got kinds {sorted(kinds)}, "
            f"SNRs {sorted(map(str, conditions))}, lengths {sorted(lengths)}"
        )
    kind = kinds.pop()
    classes = TOKEN_CLASSES[kind]
    unknown = sorted({s.meta["token"] for s in sounds} - set(classes))
    if unknown:
        raise NoSpeechTokensError(f"unknown {kind} tokens {unknown}; expected {classes}")
    return TokenSet(
        kind, np.stack([np.asarray(s.audio, dtype=np.float32) for s in sounds]),
        np.asarray([classes.index(s.meta["token"]) for s in sounds]),
        tuple(str(s.meta.get("talker", "")) for s in sounds), sounds[0].meta.get("snr_db"),
        sounds[0].meta.get("masker"), [dict(s.meta) for s in sounds],
    )  # fmt: skip
