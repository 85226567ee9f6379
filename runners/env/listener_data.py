"""What the environment measures once per listener: audiogram estimate, true audiogram, loudness, unaided distances.

Every value is deterministic for a (model, listener, setting) and is kept twice: in the model's in-memory cache
(``runners.env.resources.model_cache``) and, unless ``disk_cache=False``, on disk (:mod:`runners.env.listener_store`),
so a listener met in an earlier episode, process or run costs no model pass and no GP-PTA session again.

* audiogram estimate (the observation): a GP-PTA session of ``audiometry_trials`` trials seeded by
  ``audiometry_seed`` and the listener's identity, or the true audiogram with ``audiometry="true"``;
* true audiogram (the listener's own neurometric thresholds, ``listener.audiogram()``): its loudness model
  (:class:`compensation.listener_loudness.ListenerLoudness`, for its own perception) and its severity class;
* unaided per-channel distances on the whole corpus, in fixed chunks of :data:`CHUNK` sounds (so a value never depends
  on which episode asked first).
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

import numpy as np
import torch

from runners.env.listener_store import ListenerStore
from simulator.frequencies import AUDIOGRAM_FREQS_HZ, PTA_FREQS_HZ

__all__ = ["CHUNK", "ListenerData", "listener_key", "seed_for"]

CHUNK: int = 16
"""Sounds per model call when filling the target / unaided caches."""


def listener_key(listener: Any) -> str:
    """A stable cache key: the listener's id and a hash of its nu."""
    nu = np.ascontiguousarray(np.asarray(listener.nu, dtype=np.float64))
    return f"{listener.id}|{hashlib.sha1(nu.tobytes()).hexdigest()[:12]}"


def seed_for(*parts: Any) -> int:
    """A 63-bit seed from ints and strings (crc32 of strings; order matters)."""
    ints = [zlib.crc32(p.encode()) if isinstance(p, str) else int(p) for p in parts]
    return int(np.random.SeedSequence(ints).generate_state(2, np.uint64)[0] >> np.uint64(1))


def _value(value: Any) -> Any:
    """A JSON-able stand-in for one setting: numbers, strings and sequences as they are, anything else by repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_value(v) for v in np.asarray(value, dtype=object).tolist()]
    return repr(value)  # e.g. slice(61, 236, None); never an object address for the settings used here


def _responder(listener: Any) -> dict[str, Any]:
    """The listener settings a measurement depends on besides nu (its responder and tone protocol)."""
    protocol = getattr(listener, "protocol", None)
    return {
        "sigma_db": getattr(listener, "sigma_db", None),
        "lapse_rate": getattr(listener, "lapse_rate", None),
        "false_alarm_rate": getattr(listener, "false_alarm_rate", None),
        "protocol": None if protocol is None else {k: _value(v) for k, v in sorted(vars(protocol).items())},
        "reference_nu": None if listener.reference is None else np.asarray(listener.reference.nu).tolist(),
    }


class ListenerData:
    """Per-listener measurements of a :class:`runners.env.core.FittingCore` (module docstring).

    Args:
        core: the fitting core (its model, objective, corpus, config and in-memory cache).
    """

    def __init__(self, core: Any) -> None:
        self.core = core
        cfg = core.config
        self.store = ListenerStore(core.model, cfg.cache_dir) if cfg.disk_cache else None
        self.freqs_hz = np.asarray(AUDIOGRAM_FREQS_HZ, dtype=np.float64)

    def _remember(self, kind: str, key: dict[str, Any], compute) -> dict[str, Any]:
        """Memory cache, then disk store, then ``compute()`` (a JSON-able dict)."""
        memo = (kind, repr(sorted(key.items())))
        cache = self.core.cache
        if memo not in cache:
            cache[memo] = compute() if self.store is None else self.store.fetch(kind, key, compute)
        return cache[memo]

    def _listener_fields(self, listener: Any, key: str) -> dict[str, Any]:
        return {"listener": key, "nu": np.asarray(listener.nu, dtype=np.float64).tolist(), **_responder(listener)}

    def true_audiogram(self, listener: Any, key: str) -> np.ndarray:
        """The listener's true neurometric audiogram at :data:`AUDIOGRAM_FREQS_HZ`, dB HL -> ``F``."""

        def compute() -> dict[str, Any]:
            true = listener.audiogram(tuple(int(f) for f in self.freqs_hz))
            return {"db_hl": [float(true[int(f)]) for f in self.freqs_hz]}

        value = self._remember("true-audiogram", self._listener_fields(listener, key), compute)
        return np.asarray(value["db_hl"], dtype=np.float64)

    def audiogram(self, listener: Any, key: str) -> tuple[np.ndarray, np.ndarray]:
        """The observed audiogram (mean dB HL, SD dB) at :data:`AUDIOGRAM_FREQS_HZ`."""
        cfg = self.core.config
        if cfg.audiometry == "true":
            return self.true_audiogram(listener, key), np.zeros(len(self.freqs_hz))

        def compute() -> dict[str, Any]:
            from audiometry import GPPTA, run_session

            seed = seed_for(cfg.audiometry_seed, key)
            agent = GPPTA(seed=seed, max_trials=cfg.audiometry_trials)
            run_session(agent, listener, rng=np.random.default_rng(seed + 1), max_trials=cfg.audiometry_trials)
            mean, sd = agent.threshold(self.freqs_hz)
            return {"mean_db_hl": np.asarray(mean, np.float64), "sd_db": np.asarray(sd, np.float64)}

        fields = {**self._listener_fields(listener, key), "trials": cfg.audiometry_trials, "seed": cfg.audiometry_seed}
        value = self._remember("gppta", fields, compute)
        return np.asarray(value["mean_db_hl"], np.float64), np.asarray(value["sd_db"], np.float64)

    def stratum(self, listener: Any, key: str) -> str:
        """The listener's severity class from its true audiogram and, for a normal audiogram, its response
        (:func:`listeners.hearing_stratum`: NH only if both are normal); kept in the in-memory cache."""
        from listeners import hearing_stratum
        from simulator.severity import severity_stratum

        memo = ("stratum", repr(sorted(self._listener_fields(listener, key).items())))
        if memo not in self.core.cache:
            true = self.true_audiogram(listener, key)
            pta = float(np.mean([true[list(self.freqs_hz).index(float(f))] for f in PTA_FREQS_HZ]))
            if getattr(listener, "reference", None) is None:  # thresholds not relative to an NH reference
                self.core.cache[memo] = severity_stratum(pta, true)
            else:
                self.core.cache[memo] = hearing_stratum(self.core.model, listener.nu, pta, true)
        return self.core.cache[memo]

    def hearing_loss(self, listener: Any, key: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The listener's (OHC, IHC) loss per critical band from its true audiogram: two ``1 x 20`` tensors (dB)."""
        from compensation.listener_loudness import ListenerLoudness

        memo = ("hearing-loss", key, repr(_responder(listener)))
        if memo not in self.core.cache:
            gram = dict(zip(self.freqs_hz.tolist(), self.true_audiogram(listener, key), strict=True))
            model = ListenerLoudness.from_audiogram(gram)
            self.core.cache[memo] = (model.ohc_loss_db, model.ihc_loss_db)
        return self.core.cache[memo]

    def unaided(self, listener: Any, key: str, nu: torch.Tensor) -> torch.Tensor:
        """The listener's unaided per-channel distances on every corpus sound: ``sounds x C`` (model's device), scored
        as its fits are (``core.scoring``; the disk key records the reference, or the animal for the generator)."""
        core = self.core
        scoring = core.scoring(listener, key)

        def compute() -> dict[str, Any]:
            audio = torch.as_tensor(np.array(core.corpus.audio), device=core.model.device)
            with torch.no_grad():
                rows = [
                    scoring.objective.per_channel(a, a, nu, target=t)
                    for a, t in zip(audio.split(CHUNK), scoring.targets().split(CHUNK), strict=True)
                ]
            return {"per_channel": torch.cat(rows).double().cpu().numpy()}

        fields = {
            **self._listener_fields(listener, key),
            "reference": list(scoring.key),
            "distance": core.config.distance,
            "corpus": list(core.corpus_key),
        }
        value = self._remember("unaided", fields, compute)
        return torch.as_tensor(np.asarray(value["per_channel"]), dtype=torch.float32, device=core.model.device)
