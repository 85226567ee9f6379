"""Cohort files: a list of virtual listeners as TOML that saves and loads exactly.

Format (``format = "hearloop-cohort"``, ``version = 1``)::

    format = "hearloop-cohort"
    version = 1
    n_params = 6

    [[listener]]
    id = "L000"
    nu = [0.41, 0.52, 0.33, 0.61, 0.47, 0.58]   # floats written with full precision (repr), so they round-trip
    hours = 2.5                                  # optional
    sigma_db = 5.0
    lapse_rate = 0.02
    false_alarm_rate = 0.01

The file is written atomically (temporary file, then ``os.replace``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import tomli_w
import tomllib
from torch import nn

from listeners.listener import VirtualListener
from listeners.reference import nh_reference
from simulator.atomic_io import atomic_write_bytes
from simulator.errors import MissingFileError, SpecError

__all__ = ["COHORT_FORMAT", "COHORT_VERSION", "load_cohort", "save_cohort"]

COHORT_FORMAT = "hearloop-cohort"
COHORT_VERSION = 1
_NUMBER_KEYS = ("hours", "sigma_db", "lapse_rate", "false_alarm_rate")
_LISTENER_KEYS = {"id", "nu", *_NUMBER_KEYS}


def save_cohort(path: str | os.PathLike, listeners: Sequence[VirtualListener]) -> Path:
    """Write ``listeners`` to a TOML cohort file (atomically); returns the path."""
    if not listeners:
        raise SpecError("cannot save an empty cohort")
    ids = [lis.id for lis in listeners]
    if len(set(ids)) != len(ids):
        raise SpecError(f"listener ids must be unique in a cohort; got {ids}")
    doc = {"format": COHORT_FORMAT, "version": COHORT_VERSION, "n_params": int(listeners[0].n_params), "listener": []}
    for lis in listeners:
        entry = {"id": lis.id, "nu": [float(v) for v in lis.nu], "sigma_db": lis.sigma_db}
        entry.update({"lapse_rate": lis.lapse_rate, "false_alarm_rate": lis.false_alarm_rate})
        if lis.hours is not None:
            entry["hours"] = lis.hours
        doc["listener"].append(entry)
    path = Path(path)
    atomic_write_bytes(path, tomli_w.dumps(doc).encode("utf-8"))
    return path


def load_cohort(path: str | os.PathLike, model: nn.Module | None = None) -> list[VirtualListener]:
    """Read a TOML cohort file into listeners on ``model`` (None: the bundled model).

    Raises:
        FileNotFoundError: no such file.
        SpecError: malformed file, naming the key (unknown key, wrong type, a repeated listener id, D that does not
            match the model); checked before the model is loaded.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"cohort file not found: {path}")
    try:
        doc = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SpecError(f"{path}: not valid TOML: {err}") from err
    if doc.get("format") != COHORT_FORMAT or doc.get("version") != COHORT_VERSION:
        raise SpecError(f"{path}: expected format = {COHORT_FORMAT!r}, version = {COHORT_VERSION}")
    entries = doc.get("listener")
    if not isinstance(entries, list) or not entries:
        raise SpecError(f"{path}: 'listener' must be a non-empty array of tables")
    checked = [_checked_entry(path, i, entry) for i, entry in enumerate(entries)]
    ids = [entry["id"] for entry in checked]
    for i, listener_id in enumerate(ids):
        if listener_id in ids[:i]:
            raise SpecError(f"{path}: listener[{i}].id: {listener_id!r} repeats listener[{ids.index(listener_id)}].id")
    if model is None:
        import simulator

        model = simulator.load_model()
    if doc.get("n_params") != model.n_params:
        raise SpecError(f"{path}: n_params = {doc.get('n_params')} but the model has D = {model.n_params}")
    ref = nh_reference(model)
    listeners = []
    for i, entry in enumerate(checked):
        kwargs = {k: entry[k] for k in _NUMBER_KEYS if k in entry}
        try:
            listeners.append(VirtualListener(entry["id"], entry["nu"], model, reference=ref, **kwargs))
        except ValueError as err:
            raise SpecError(f"{path}: listener[{i}] ({entry['id']}): {err}") from err
    return listeners


def _checked_entry(path: Path, i: int, entry: object) -> dict:
    """One ``[[listener]]`` table with its keys and value types checked (each error names ``listener[i].key``)."""
    if not isinstance(entry, dict):
        raise SpecError(f"{path}: listener[{i}]: expected a table, got {type(entry).__name__}")
    unknown = set(entry) - _LISTENER_KEYS
    if unknown:
        raise SpecError(f"{path}: listener[{i}]: unknown key(s) {sorted(unknown)}")
    if not isinstance(entry.get("id"), str):
        raise SpecError(f"{path}: listener[{i}].id: a string is required, got {entry.get('id')!r}")
    nu = entry.get("nu")
    if not isinstance(nu, list) or not all(_is_number(v) for v in nu):
        raise SpecError(f"{path}: listener[{i}].nu: an array of numbers is required, got {nu!r}")
    for key in _NUMBER_KEYS:
        if key in entry and not _is_number(entry[key]):
            raise SpecError(f"{path}: listener[{i}].{key}: expected a number, got {entry[key]!r}")
    return {**entry, **{k: float(entry[k]) for k in _NUMBER_KEYS if k in entry}}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
