"""On-disk store of what the environment measures once per listener: audiograms and unaided distances.

A listener's audiogram estimate (a GP-PTA session of tens of seconds), its true neurometric audiogram (the thresholds
its loudness model and severity class come from) and its unaided neural distances on the corpus never change for a
given model, listener and setting, so :class:`ListenerStore` keeps them in small JSON files and every later episode,
process or run reads them back in milliseconds. One file per entry::

    <cache_dir>/env-listeners/<model digest[:16]>/<kind>-<sha256 of the key[:24]>.json
        {"version": 1, "kind": "gppta", "key": {...}, "value": {...}}

The key holds everything the value depends on: the model's weights digest (:func:`model_digest`, SHA-256 of its
state dict, so a retrained model never reads an old entry), the listener (id, nu, responder settings), the settings of
the measurement (audiometry kind, trials, seed; corpus, reference and distance for unaided distances) and
:data:`STORE_VERSION`, bumped whenever the way a value is computed changes. A file whose stored key differs from the one
asked for, or that cannot be parsed, is ignored and recomputed (a warning says so), never trusted. Files are written
atomically (:func:`simulator.atomic_io.atomic_write_text`) and each entry has its own file, so parallel environments
(vector envs, SB3 subprocesses, Ray workers) never write the same file half-way.

The folder is ``cache_dir`` (an env option), else ``$HEARLOOP_CACHE_DIR``, else ``~/.cache/hearloop``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simulator.atomic_io import atomic_write_text

__all__ = ["CACHE_ENV_VAR", "STORE_VERSION", "ListenerStore", "default_cache_dir", "model_digest"]

STORE_VERSION: int = 1
"""Version of the stored values; bump it when an audiogram or unaided distance is computed differently."""

CACHE_ENV_VAR: str = "HEARLOOP_CACHE_DIR"
"""Environment variable naming the cache folder when the env option ``cache_dir`` is not given."""

_DIGESTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def default_cache_dir() -> Path:
    """``$HEARLOOP_CACHE_DIR`` or ``~/.cache/hearloop``."""
    value = os.environ.get(CACHE_ENV_VAR)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "hearloop"


def model_digest(model: torch.nn.Module) -> str:
    """Hex SHA-256 of a model's state dict (names, dtypes, shapes and values, in name order); memoised per object.

    Weights changed in place after the first call are not seen: digest a model once it is trained and frozen.
    """
    cached = _DIGESTS.get(model)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    digest = h.hexdigest()
    _DIGESTS[model] = digest
    return digest


def _plain(value: Any) -> Any:
    """JSON-ready copy of a key or value (numpy arrays and scalars to lists and floats, tuples to lists)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


class ListenerStore:
    """JSON files of per-listener measurements for one model (module docstring).

    Args:
        model: the nu-ICNet the measurements were made with (its weights digest goes into every key).
        cache_dir: the cache folder (None: :func:`default_cache_dir`).
    """

    def __init__(self, model: torch.nn.Module, cache_dir: str | os.PathLike | None = None) -> None:
        self.digest = model_digest(model)
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.folder = root / "env-listeners" / self.digest[:16]

    def _path(self, kind: str, key: Mapping[str, Any]) -> tuple[Path, dict[str, Any]]:
        full = _plain({"version": STORE_VERSION, "model_sha256": self.digest, **key})
        text = json.dumps(full, sort_keys=True, separators=(",", ":"))
        name = f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:24]}.json"
        return self.folder / name, full

    def load(self, kind: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The stored value of ``kind`` under ``key``, or None (missing, unreadable or another key)."""
        path, full = self._path(kind, key)
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text())
            if doc.get("kind") != kind or doc.get("key") != full:
                raise ValueError("the stored key differs from the one asked for")
            return dict(doc["value"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            warnings.warn(f"ignoring cache file {path} ({err}); recomputing", stacklevel=2)
            return None

    def save(self, kind: str, key: Mapping[str, Any], value: Mapping[str, Any]) -> Path:
        """Write ``value`` (JSON-able, numpy allowed) of ``kind`` under ``key`` atomically; returns the file."""
        path, full = self._path(kind, key)
        doc = {"version": STORE_VERSION, "kind": kind, "key": full, "value": _plain(value)}
        return atomic_write_text(path, json.dumps(doc, sort_keys=True, indent=1))

    def fetch(self, kind: str, key: Mapping[str, Any], compute) -> dict[str, Any]:
        """:meth:`load`, or ``compute()`` (a JSON-able mapping) then :meth:`save`; returns the value."""
        value = self.load(kind, key)
        if value is None:
            value = _plain(dict(compute()))
            self.save(kind, key, value)
        return value
