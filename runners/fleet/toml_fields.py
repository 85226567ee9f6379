"""Strict TOML-to-dataclass fields of fleet specs: a field helper with the values a key accepts (a declarative
constraint of :mod:`simulator.validated_config`) and a one-line meaning, and the type coercion and range check that
name the key path of every error (``spec.engine.workers: expected int, got str``, ``spec.run.seed: must be an integer
in [0, inf), got -1``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from simulator.errors import SpecError
from simulator.validated_config import Constraint, Interval, Options, Pattern

__all__ = ["entry", "parse_section", "section_fields", "type_name"]


def entry(default: Any, constraint: Constraint | None = None, doc: str = "") -> Any:
    """A spec key (dataclass field) with a default, the values it accepts (a declarative constraint of
    :mod:`simulator.validated_config`; for an array, every item) and a one-line meaning."""
    factory = (lambda d=default: type(d)(d)) if isinstance(default, (list, dict)) else None
    meta = {"constraint": constraint, "doc": doc}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _check(value: Any, constraint: Constraint | None, path: str) -> None:
    if constraint is None:
        return
    if isinstance(value, list) and isinstance(constraint, (Interval, Pattern)):
        for i, item in enumerate(value):
            _check(item, constraint, f"{path}[{i}]")
        return
    if value in constraint:
        return
    if isinstance(constraint, Options):
        raise SpecError(f"{path}: expected one of {', '.join(map(repr, constraint.values))}, got {value!r}")
    raise SpecError(f"{path}: must be {constraint}, got {value!r}")


def type_name(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str", list: "array", dict: "table"}.get(
        type(value), type(value).__name__
    )


def coerce(value: Any, hint: Any, path: str) -> Any:
    """Check ``value`` against the type ``hint``; ints are accepted for floats. Raises SpecError naming ``path``."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        errors = []
        for arg in typing.get_args(hint):
            try:
                return coerce(value, arg, path)
            except SpecError as err:
                errors.append(str(err))
        raise SpecError(errors[0])
    if origin is list:
        if not isinstance(value, list):
            raise SpecError(f"{path}: expected array, got {type_name(value)}")
        (item,) = typing.get_args(hint)
        return [coerce(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SpecError(f"{path}: expected table, got {type_name(value)}")
        _, item = typing.get_args(hint)
        return {str(k): coerce(v, item, f"{path}.{k}") for k, v in value.items()}
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"{path}: expected float, got {type_name(value)}")
        return float(value)
    if hint in (int, str, bool):
        if isinstance(value, bool) != (hint is bool) or not isinstance(value, hint):
            raise SpecError(f"{path}: expected {hint.__name__}, got {type_name(value)}")
        return value
    raise TypeError(f"unsupported spec type {hint!r}")  # pragma: no cover - schema bug


def parse_section(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected table, got {type_name(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        if key not in fields:
            raise SpecError(f"{path}.{key}: unknown key (known: {', '.join(fields)})")
        value = coerce(value, hints[key], f"{path}.{key}")
        _check(value, fields[key].metadata.get("constraint"), f"{path}.{key}")
        values[key] = value
    return cls(**values)


def section_fields(cls: type) -> dict[str, dict[str, dataclasses.Field]]:
    """``{section: {key: field}}`` of a spec dataclass whose fields are section dataclasses."""
    hints = typing.get_type_hints(cls)
    return {s.name: {f.name: f for f in dataclasses.fields(hints[s.name])} for s in dataclasses.fields(cls)}
