"""The default fleet spec written out: ``hearloop fleet --describe`` and ``runners/assets/fleet-default.toml``.

Both are generated from the section dataclasses of :mod:`runners.fleet.spec` (their defaults and one-line meanings),
so they cannot disagree with the defaults a spec file falls back to. After changing a default or a meaning, rewrite
the committed file with::

    python -m runners.fleet.spec_docs --write
"""

from __future__ import annotations

import argparse
import dataclasses
import textwrap
import typing
from collections.abc import Iterator
from typing import Any

from runners.fleet.spec import DEFAULT_SPEC_PATH, FleetSpec
from simulator.atomic_io import atomic_write_text
from simulator.validated_config import Interval

__all__ = ["default_spec_toml", "describe_fields", "spec_fields", "toml_value"]

_COMMENT_COLUMN, _WIDTH = 31, 118

HEADER = """\
# hearloop fleet: the default cohort (`hearloop fleet` with no arguments runs exactly this spec).
# Every key is optional; a missing key takes the default shown here. `hearloop fleet --describe` lists the same keys.
# Generated from runners/fleet/spec.py, the one source of these defaults: python -m runners.fleet.spec_docs --write
"""


def toml_value(value: Any) -> str:
    """``value`` as an inline TOML value (``5.0``, ``"cpu"``, ``["kl"]``, ``{}``, ``{ NH = 2 }``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        import tomli_w

        return tomli_w.dumps({"v": value})[len("v = ") :].strip()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"no TOML form for {type(value).__name__}")  # pragma: no cover - schema bug


def _type_text(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint)) if typing.get_origin(hint) is None else str(hint)


def _meaning(doc: str, constraint: Any, default: Any) -> str:
    """A key's one-line meaning, with the range a numeric key (or every item of a numeric array) accepts appended."""
    if not isinstance(constraint, Interval):
        return doc
    return f"{doc}; {'each ' if isinstance(default, list) else ''}{constraint}"


def spec_fields() -> Iterator[tuple[str, str, str, Any, str]]:
    """Every spec key, in file order: ``(section, key, type, default, meaning)``; a numeric key's meaning ends with the
    range it accepts (e.g. ``presentation level (dB SPL); a number in [0, 120]``), checked when a spec is parsed."""
    hints = typing.get_type_hints(FleetSpec)
    for section in dataclasses.fields(FleetSpec):
        cls = hints[section.name]
        field_hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            meaning = _meaning(f.metadata.get("doc", ""), f.metadata.get("constraint"), default)
            yield section.name, f.name, _type_text(field_hints[f.name]), default, meaning


def describe_fields() -> str:
    """Every spec key with its type, default and meaning (``hearloop fleet --describe``)."""
    lines: list[str] = []
    current = None
    for section, key, type_text, default, doc in spec_fields():
        if section != current:
            lines.append(f"[{section}]")
            current = section
        lines.append(f"  {key} ({type_text}, default {toml_value(default)}): {doc}")
    return "\n".join(lines)


def default_spec_toml() -> str:
    """The text of ``runners/assets/fleet-default.toml``: every key at its default, its meaning as a comment."""
    out = [HEADER.rstrip("\n")]
    current = None
    for section, key, _, default, doc in spec_fields():
        if section != current:
            out += ["", f"[{section}]"]
            current = section
        line = f"{key} = {toml_value(default)}"
        if len(line) < _COMMENT_COLUMN and _COMMENT_COLUMN + 2 + len(doc) <= _WIDTH:
            out.append(f"{line.ljust(_COMMENT_COLUMN)}# {doc}")
        else:  # the meaning does not fit beside the value: wrapped above it
            out += textwrap.wrap(doc, _WIDTH, initial_indent="# ", subsequent_indent="# ")
            out.append(line)
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print (or --write) the generated default fleet spec.")
    parser.add_argument("--write", action="store_true", help=f"rewrite {DEFAULT_SPEC_PATH} (default: print it)")
    args = parser.parse_args(argv)
    if args.write:
        atomic_write_text(DEFAULT_SPEC_PATH, default_spec_toml())
        print(f"wrote {DEFAULT_SPEC_PATH}")
    else:
        print(default_spec_toml(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
