"""Strict TOML-to-dataclass fields of fleet specs: a field helper with a value check and a one-line meaning, and the
type coercion that names the key path of every error (``spec.engine.workers: expected int, got str``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from simulator.errors import SpecError

__all__ = ["at_least", "choice", "entry", "parse_section", "type_name", "unit_interval"]


def choice(*options: str):
    def check(value: Any) -> str | None:
        return None if value in options else f"expected one of {', '.join(map(repr, options))}, got {value!r}"

    return check


def at_least(low: float):
    def check(value: Any) -> str | None:
        return None if value >= low else f"must be >= {low}, got {value!r}"

    return check


def unit_interval(value: Any) -> str | None:
    return None if 0.0 <= value <= 1.0 else f"must lie in [0, 1], got {value!r}"


def entry(default: Any, check=None, doc: str = "") -> Any:
    """A spec key (dataclass field) with a default, an optional value check and a one-line meaning."""
    factory = (lambda d=default: type(d)(d)) if isinstance(default, (list, dict)) else None
    meta = {"check": check, "doc": doc}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


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
        check = fields[key].metadata.get("check")
        problem = check(value) if check is not None else None
        if problem:
            raise SpecError(f"{path}.{key}: {problem}")
        values[key] = value
    return cls(**values)
