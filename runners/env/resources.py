"""Resources the fitting environments share: the loaded model, the synthesised corpus and per-model caches.

Many environments in one process (the sub-environments of a ``SyncVectorEnv``, RLlib workers' local copies) must not
each load the checkpoint, synthesise the corpus or re-simulate the same NH targets. Everything here is deterministic
(seeded), so sharing it changes no result: only the time to build the environments.

* :func:`get_model`: one model per (checkpoint path, device).
* :func:`get_corpus`: one synthesised corpus per corpus configuration, as a read-only ``sounds x samples`` array.
* :func:`model_cache`: a dict attached (weakly) to a model object, for values that depend on that model (cohorts,
  channel bands, NH targets, unaided distances, audiogram estimates); it disappears with the model.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

_MODELS: dict[tuple[str | None, str], Any] = {}
_MODEL_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def get_model(path: str | None, device: str = "cpu") -> Any:
    """The nu-ICNet at ``path`` (None: the bundled model ``simulator.load_model()``), loaded once per process."""
    key = (None if path is None else str(path), str(device))
    with _LOCK:
        if key not in _MODELS:
            from simulator.model.checkpoint import load_model

            _MODELS[key] = load_model(path, device=device).eval()
        return _MODELS[key]


def model_cache(model: Any) -> dict[str, Any]:
    """A per-model dict of cached values (weakly keyed by the model object)."""
    with _LOCK:
        cache = _MODEL_CACHES.get(model)
        if cache is None:
            cache = {}
            _MODEL_CACHES[model] = cache
        return cache


@dataclass(frozen=True)
class Corpus:
    """A synthesised sound corpus.

    Attributes:
        audio: ``sounds x samples`` float32 Pa (read-only).
        names: ``sounds`` names (``{class}_{i:03d}``).
        classes: ``sounds`` sound classes.
        levels_db_spl: ``sounds`` presentation levels (dB SPL).
    """

    audio: np.ndarray
    names: tuple[str, ...]
    classes: tuple[str, ...]
    levels_db_spl: tuple[float, ...]

    def __len__(self) -> int:
        return int(self.audio.shape[0])


@lru_cache(maxsize=8)
def get_corpus(
    seed: int,
    sound_classes: tuple[str, ...],
    n_per_class: int,
    duration_s: float,
    level_range_db_spl: tuple[float, float],
) -> Corpus:
    """``simulator.data.corpus.make_corpus`` restricted to ``sound_classes``, cached per configuration."""
    from simulator.data.corpus import make_corpus

    sounds = make_corpus(
        seed,
        n_per_class=dict.fromkeys(sound_classes, int(n_per_class)),
        duration_s=float(duration_s),
        level_range_db_spl=level_range_db_spl,
    )
    audio = np.stack([s.audio for s in sounds]).astype(np.float32)
    audio.setflags(write=False)
    levels = tuple(float("nan") if s.level_db_spl is None else float(s.level_db_spl) for s in sounds)
    return Corpus(audio, tuple(s.name for s in sounds), tuple(s.sound_class for s in sounds), levels)
