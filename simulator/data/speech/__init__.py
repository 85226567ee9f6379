"""Labelled speech tokens for selectivity measures: formant-synthesised vowels and /aCa/ consonants.

:func:`make_tokens` builds a seeded :class:`TokenSet` of one kind (12 vowels after Hillenbrand et al. 1995, or 12
consonants with documented place, manner and voicing cues) in quiet or in a masker at a given SNR
(:mod:`simulator.data.speech.tokens`); the synthesis is in :mod:`simulator.data.speech.synthesis` and the published
tables in :mod:`simulator.data.speech.tables`.
"""

from simulator.data.speech.tables import CONSONANTS, TALKER_GROUPS, VOWELS
from simulator.data.speech.tokens import (
    CONDITIONS,
    MASKERS,
    TOKEN_CLASSES,
    TOKEN_KINDS,
    TokenSet,
    condition_name,
    make_tokens,
    tokens_from_sounds,
)

__all__ = [
    "CONDITIONS",
    "CONSONANTS",
    "MASKERS",
    "TALKER_GROUPS",
    "TOKEN_CLASSES",
    "TOKEN_KINDS",
    "VOWELS",
    "TokenSet",
    "condition_name",
    "make_tokens",
    "tokens_from_sounds",
]
